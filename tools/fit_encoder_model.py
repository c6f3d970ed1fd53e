"""Fit the proxy's model of mozjpeg to real mozjpeg files: ``tfjpegnet fit-encoder-model``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["fit-encoder-model", *sys.argv[1:]]))
