"""Send images to a TF Serving instance running an exported model (REST or gRPC): ``tfjpegnet serve-client``."""

import sys

from tfjpegnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve-client", *sys.argv[1:]]))
