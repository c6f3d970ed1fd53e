"""End a net for every quality with the fixed 4:2:0 colour pre-compensation: ``tfjpegnet colour-compensation``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["colour-compensation", *sys.argv[1:]]))
