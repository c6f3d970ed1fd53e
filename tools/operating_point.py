"""Where trained models sit against plain JPEG at one quality: ``tfjpegnet operating-point``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["operating-point", *sys.argv[1:]]))
