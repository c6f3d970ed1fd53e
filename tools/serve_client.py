"""Send images to a TF Serving instance running an exported model (REST or gRPC)."""

import sys

from tfjpegnet.deploy.serving_client import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
