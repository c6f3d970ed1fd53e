"""Encode images as standard JPEG after the Modify-Net edit: ``tfjpegnet encode``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["encode", *sys.argv[1:]]))
