"""Export a trained Modify-Net for TF Serving and TFLite: ``tfjpegnet export``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
