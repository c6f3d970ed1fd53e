"""Evaluate trained Modify-Nets with real JPEG (tables, RD curves, BD-rate, figures): ``tfjpegnet evaluate``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
