"""Parameters and FLOPs per megapixel of a Modify-Net: ``tfjpegnet model-info``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["model-info", *sys.argv[1:]]))
