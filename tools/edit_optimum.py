"""The best edit a training objective asks for, without a network: ``tfjpegnet edit-optimum``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["edit-optimum", *sys.argv[1:]]))
