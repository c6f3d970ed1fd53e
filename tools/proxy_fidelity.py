"""Fidelity of the JPEG proxy and JPEG-Net to OpenCV's JPEG: ``tfjpegnet fidelity``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["fidelity", *sys.argv[1:]]))
