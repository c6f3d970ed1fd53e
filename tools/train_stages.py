"""Train Modify-Net and JPEG-Net in stages (Nagasaki et al.): ``tfjpegnet train``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
