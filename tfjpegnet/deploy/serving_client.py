"""Client side of TensorFlow Serving for exported tfjpegnet models (REST and gRPC).

The signatures (written by :mod:`tfjpegnet.export`):

- ``serving_default``: ``images`` uint8 [batch, height, width, 3] RGB -> ``modified``
  uint8, same shape (the Modify-Net edit, ready for any JPEG encoder);
- ``encode``: ``image_bytes`` string [batch] (PNG/JPEG file bytes) -> ``jpeg_bytes``
  string [batch] (JPEG files at the model's quality);
- ``metadata``: no input -> ``quality`` int32 scalar, ``halo`` int32 scalar.

REST (port 8501): ``POST /v1/models/<name>[/versions/<n>]:predict`` with a JSON body in
the columnar ``inputs`` format; bytes travel base64-encoded as ``{"b64": ...}``.
gRPC (port 8500): ``PredictionService/Predict`` with a ``PredictRequest``. Requests are
built without any network; a channel or connection is opened only in the ``send_*``
functions. ``python tools/serve_client.py --help`` shows the command line.
"""

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request

import cv2
import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tfjpegnet import files
from tfjpegnet.jpeg import codec
from tfjpegnet.errors import UserError

INPUTS = {"serving_default": "images", "encode": "image_bytes"}
OUTPUTS = {"serving_default": "modified", "encode": "jpeg_bytes"}
REST_PORT = 8501
GRPC_PORT = 8500


def _check_signature(signature):
    """Raise UserError unless ``signature`` is one that takes images."""
    if signature not in INPUTS:
        raise UserError(f"unknown signature {signature!r}; choose from {sorted(INPUTS)}")


def rest_url(host, model, port=REST_PORT, version=None):
    """Return the REST ``:predict`` URL (str) for ``model`` (and ``version``, an int or None)."""
    path = f"/v1/models/{model}" + (f"/versions/{int(version)}" if version is not None else "")
    return f"http://{host}:{int(port)}{path}:predict"


def rest_body(signature, values):
    """Build the JSON body (a dict) of a REST ``:predict`` request.

    Args:
      signature: ``"serving_default"`` or ``"encode"``.
      values: for ``serving_default`` a uint8 array [batch, H, W, 3]; for ``encode`` a
        list of bytes objects (image files).

    Returns:
      dict ``{"signature_name": ..., "inputs": {name: value}}``, bytes as ``{"b64": str}``.
    """
    _check_signature(signature)
    if signature == "encode":
        value = [{"b64": base64.b64encode(data).decode("ascii")} for data in values]
    else:
        value = np.asarray(values, dtype=np.uint8).tolist()
    return {"signature_name": signature, "inputs": {INPUTS[signature]: value}}


def parse_rest_response(signature, response):
    """Decode a REST ``:predict`` response (the parsed JSON dict).

    Returns:
      for ``serving_default`` a uint8 array [batch, H, W, 3]; for ``encode`` a list of
      bytes (JPEG files).
    """
    _check_signature(signature)
    outputs = response["outputs"]
    if isinstance(outputs, dict):
        outputs = outputs[OUTPUTS[signature]]
    if signature == "encode":
        return [base64.b64decode(item["b64"]) for item in outputs]
    return np.asarray(outputs, dtype=np.uint8)


def predict_request(model, signature, values, version=None):
    """Build a gRPC ``PredictRequest`` (tensorflow_serving.apis.predict_pb2).

    Args:
      model: served model name, e.g. ``"tfjpegnet_q15"``.
      signature: ``"serving_default"`` or ``"encode"``.
      values: as in :func:`rest_body`.
      version: int model version, or None for the latest.

    Returns:
      predict_pb2.PredictRequest.
    """
    _check_signature(signature)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    if signature == "encode":
        tensor = tf.make_tensor_proto(list(values), dtype=tf.string, shape=[len(values)])
    else:
        tensor = tf.make_tensor_proto(np.asarray(values, dtype=np.uint8), dtype=tf.uint8)
    request.inputs[INPUTS[signature]].CopyFrom(tensor)
    return request


def parse_predict_response(signature, response):
    """Decode a gRPC ``PredictResponse``; returns the same types as :func:`parse_rest_response`."""
    _check_signature(signature)
    array = tf.make_ndarray(response.outputs[OUTPUTS[signature]])
    return [bytes(item) for item in array] if signature == "encode" else array


def send_rest(url, body, timeout=60.0):
    """POST ``body`` (a dict) as JSON to ``url``; returns the parsed JSON response (dict)."""
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read().decode("utf-8"))


def send_grpc(target, request, timeout=60.0):
    """Send ``request`` to ``target`` (``"host:port"``) over an insecure gRPC channel.

    Returns:
      predict_pb2.PredictResponse.
    """
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, timeout=timeout)


def build_parser():
    """Return the argparse parser of ``tools/serve_client.py``."""
    parser = argparse.ArgumentParser(
        prog="serve_client.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files to send, one request each")
    parser.add_argument("-o", "--out", default="served", help="output folder")
    parser.add_argument("--model", default="tfjpegnet_q15", help="served model name")
    parser.add_argument("--version", type=int, default=None, help="model version (default: latest)")
    parser.add_argument("--host", default="localhost", help="TF Serving host")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default: {REST_PORT} for rest, {GRPC_PORT} for grpc)")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest", help="API to use")
    parser.add_argument("--signature", choices=sorted(INPUTS), default="encode",
                        help="encode: files -> .jpg; serving_default: pixels -> edited .png")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--dry-run", action="store_true",
                        help="print each request instead of sending it")
    return parser


def _request_values(signature, path):
    """Read ``path`` as the batch-of-one input of ``signature`` (bytes list or uint8 array)."""
    if signature == "encode":
        with open(path, "rb") as handle:
            return [handle.read()]
    return codec.read_image(path)[None]


def _save_result(signature, result, path, out_dir):
    """Write one response item as ``out_dir/<stem>.jpg`` (encode) or ``.png``; returns the path."""
    stem = os.path.splitext(os.path.basename(path))[0]
    target = os.path.join(out_dir, stem + (".jpg" if signature == "encode" else ".png"))
    if os.path.realpath(target) == os.path.realpath(path):
        raise UserError(f"output {target} would overwrite the input; choose another -o")
    files.write_bytes(target, result[0] if signature == "encode" else _png(result[0]))
    return target


def _png(rgb):
    """Encode RGB uint8 [H, W, 3] as PNG bytes (lossless)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise RuntimeError("OpenCV failed to encode PNG")
    return buf.tobytes()


def _exchange(args, port, values):
    """Send one request as ``args`` say; returns the parsed result, or None for --dry-run."""
    if args.protocol == "rest":
        url = rest_url(args.host, args.model, port, args.version)
        body = rest_body(args.signature, values)
        if args.dry_run:
            print(url, json.dumps(body)[:300])
            return None
        return parse_rest_response(args.signature, send_rest(url, body, args.timeout))
    request = predict_request(args.model, args.signature, values, args.version)
    if args.dry_run:
        print(f"grpc {args.host}:{port} model {args.model} signature {args.signature} "
              f"({request.ByteSize()} bytes)")
        return None
    return parse_predict_response(args.signature, send_grpc(f"{args.host}:{port}", request, args.timeout))


def main(argv=None):
    """Send each image to TF Serving and save the answers; returns the exit code.

    0 on success, 1 if the server cannot be reached or answers with an error, 2 for
    bad arguments or unreadable inputs.
    """
    args = build_parser().parse_args(argv)
    port = args.port or (REST_PORT if args.protocol == "rest" else GRPC_PORT)
    try:
        for path in args.images:
            result = _exchange(args, port, _request_values(args.signature, path))
            if result is not None:
                print(_save_result(args.signature, result, path, args.out))
    except urllib.error.HTTPError as err:
        print(f"serve_client: TF Serving answered {err.code}: {err.read().decode(errors='replace')}",
              file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print(f"serve_client: cannot reach TF Serving: {err.reason}", file=sys.stderr)
        return 1
    except grpc.RpcError as err:
        print(f"serve_client: gRPC request failed: {err.code()}: {err.details()}", file=sys.stderr)
        return 1
    except (UserError, OSError) as err:
        print(f"serve_client: error: {err}", file=sys.stderr)
        return 2
    return 0
