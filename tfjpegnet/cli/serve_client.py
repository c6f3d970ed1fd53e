"""Send images to a TF Serving instance running an exported model (REST or gRPC).

Each image is one request. With the ``encode`` signature the file's bytes are sent and
the answer is written as OUTDIR/<name>.jpg; with ``serving_default`` the decoded pixels
are sent and the edited pixels come back as OUTDIR/<name>.png (lossless), or, with
``--encoder E --quality Q``, are encoded here by that encoder (mozjpeg: the smallest files;
the ``encode`` signature can only use TensorFlow's libjpeg-turbo) as OUTDIR/<name>.jpg. A model
for every quality (``tfjpegnet``) takes the quality with each image: ``--request-quality Q``
(then ``--encoder`` encodes at Q too unless ``--quality`` says otherwise). Exit code 0
on success, 1 if the server cannot be reached or answers with an error, 2 for bad
arguments or unreadable inputs.
"""

import json
import os
import sys
import urllib.error

from tfjpegnet.cli import DESCRIBED_DEFAULT, argtypes
from tfjpegnet.errors import UserError

# Kept in step with tfjpegnet.deploy.serving_client (not imported here: --help loads no TensorFlow).
SIGNATURES = ("encode", "serving_default")
REST_PORT = 8501
GRPC_PORT = 8500


def add_arguments(parser):
    """Register the ``serve-client`` command's options on ``parser``."""
    parser.add_argument("images", nargs="+", help="image files to send, one request each")
    parser.add_argument("-o", "--out", default="served", help="output folder")
    parser.add_argument("--model", default="tfjpegnet_q15", help="served model name")
    parser.add_argument("--version", type=int, default=None, help="model version (default: latest)" + DESCRIBED_DEFAULT)
    parser.add_argument("--host", default="localhost", help="TF Serving host")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default: {REST_PORT} for rest, {GRPC_PORT} for grpc)" + DESCRIBED_DEFAULT)
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest", help="API to use")
    parser.add_argument("--signature", choices=SIGNATURES, default="encode",
                        help="encode: files -> .jpg; serving_default: pixels -> edited .png")
    parser.add_argument("--encoder", choices=("mozjpeg", "mozjpeg-baseline", "jpegli", "opencv-optimize"),
                        help="with serving_default: encode the edited pixels with this encoder (needs --quality, "
                             "the model's)" + DESCRIBED_DEFAULT)
    parser.add_argument("--quality", type=argtypes.quality_arg,
                        help="JPEG quality for --encoder (default: --request-quality)" + DESCRIBED_DEFAULT)
    parser.add_argument("--request-quality", type=argtypes.quality_arg,
                        help="JPEG quality sent with each image, for a model for every quality such as tfjpegnet "
                             "(a model for one quality takes none)" + DESCRIBED_DEFAULT)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--dry-run", action="store_true",
                        help="print each request instead of sending it")


def request_values(signature, path):
    """Read ``path`` as the batch-of-one input of ``signature`` (bytes list or uint8 array)."""
    from tfjpegnet.jpeg import codec

    if signature == "encode":
        with open(path, "rb") as handle:
            return [handle.read()]
    return codec.read_image(path)[None]


def save_result(signature, result, path, out_dir, encoder=None, quality=None):
    """Write one response item as ``out_dir/<stem>.jpg`` (encode, or edited pixels through
    ``encoder`` at ``quality``) or ``.png`` (edited pixels); returns the path."""
    from tfjpegnet import files

    stem = os.path.splitext(os.path.basename(path))[0]
    as_jpeg = signature == "encode" or encoder is not None
    target = os.path.join(out_dir, stem + (".jpg" if as_jpeg else ".png"))
    if os.path.realpath(target) == os.path.realpath(path):
        raise UserError(f"output {target} would overwrite the input; choose another -o")
    if signature == "encode":
        data = result[0]
    elif encoder is not None:
        from tfjpegnet.jpeg import encoders
        data = encoders.encode(encoder, result[0], quality)
    else:
        data = _png(result[0])
    files.write_bytes(target, data)
    return target


def _png(rgb):
    """Encode RGB uint8 [H, W, 3] as PNG bytes (lossless)."""
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise RuntimeError("OpenCV failed to encode PNG")
    return buf.tobytes()


def exchange(args, port, values):
    """Send one request as ``args`` say; returns the parsed result, or None for --dry-run."""
    from tfjpegnet.deploy import serving_client

    if args.protocol == "rest":
        url = serving_client.rest_url(args.host, args.model, port, args.version)
        body = serving_client.rest_body(args.signature, values, args.request_quality)
        if args.dry_run:
            print(url, json.dumps(body)[:300])
            return None
        return serving_client.parse_rest_response(args.signature,
                                                  serving_client.send_rest(url, body, args.timeout))
    request = serving_client.predict_request(args.model, args.signature, values, args.version, args.request_quality)
    if args.dry_run:
        print(f"grpc {args.host}:{port} model {args.model} signature {args.signature} "
              f"({request.ByteSize()} bytes)")
        return None
    response = serving_client.send_grpc(f"{args.host}:{port}", request, args.timeout)
    return serving_client.parse_predict_response(args.signature, response)


def run(args):
    """Send each image to TF Serving and save the answers; returns the exit code (0 or 1).

    Bad arguments and unreadable inputs raise UserError / OSError (exit code 2 from
    :func:`tfjpegnet.cli.main`).
    """
    if args.quality is None:
        args.quality = args.request_quality
    if args.encoder is not None and (args.signature != "serving_default" or args.quality is None):
        raise UserError("--encoder needs --signature serving_default and --quality (the model's quality)")
    port = args.port or (REST_PORT if args.protocol == "rest" else GRPC_PORT)
    if args.protocol == "grpc":
        import grpc
        rpc_error = grpc.RpcError
    else:
        rpc_error = ()  # catches nothing: REST never loads the gRPC stack
    try:
        for path in args.images:
            result = exchange(args, port, request_values(args.signature, path))
            if result is not None:
                print(save_result(args.signature, result, path, args.out, args.encoder, args.quality))
    except urllib.error.HTTPError as err:
        print(f"tfjpegnet serve-client: TF Serving answered {err.code}: "
              f"{err.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as err:  # an OSError, so it is caught before main sees it
        print(f"tfjpegnet serve-client: cannot reach TF Serving: {err.reason}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"tfjpegnet serve-client: cannot reach TF Serving: no answer within {args.timeout} s",
              file=sys.stderr)
        return 1
    except rpc_error as err:
        print(f"tfjpegnet serve-client: gRPC request failed: {err.code()}: {err.details()}", file=sys.stderr)
        return 1
    return 0
