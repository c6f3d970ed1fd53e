"""Client side of TensorFlow Serving for exported tfjpegnet models (REST and gRPC).

The signatures (written by :mod:`tfjpegnet.deploy.savedmodel`):

- ``serving_default``: ``images`` uint8 [batch, height, width, 3] RGB -> ``modified``
  uint8, same shape (the Modify-Net edit, ready for any JPEG encoder);
- ``encode``: ``image_bytes`` string [batch] (PNG/JPEG file bytes) -> ``jpeg_bytes``
  string [batch] (JPEG files at the model's quality);
- ``metadata``: no input -> ``quality`` int32 scalar, ``halo`` int32 scalar.

A model for every quality takes a second input, ``quality`` int32 [batch] (one JPEG quality
1..100 per image), in both image signatures; its metadata gives ``quality_min`` and
``quality_max`` (the trained range) instead of ``quality``.

REST (port 8501): ``POST /v1/models/<name>[/versions/<n>]:predict`` with a JSON body in
the columnar ``inputs`` format; bytes travel base64-encoded as ``{"b64": ...}``.
gRPC (port 8500): ``PredictionService/Predict`` with a ``PredictRequest``. Requests are
built without any network; a channel or connection is opened only in the ``send_*``
functions. The gRPC stack (``grpc``, ``tensorflow_serving``) is imported only by the
functions that build or send gRPC messages. The command line is ``tfjpegnet serve-client``
(:mod:`tfjpegnet.cli.serve_client`).
"""

import base64
import json
import urllib.request

import numpy as np
import tensorflow as tf

from tfjpegnet.errors import UserError

INPUTS = {"serving_default": "images", "encode": "image_bytes"}
OUTPUTS = {"serving_default": "modified", "encode": "jpeg_bytes"}
QUALITY_INPUT = "quality"
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


def rest_body(signature, values, quality=None):
    """Build the JSON body (a dict) of a REST ``:predict`` request.

    Args:
      signature: ``"serving_default"`` or ``"encode"``.
      values: for ``serving_default`` a uint8 array [batch, H, W, 3]; for ``encode`` a
        list of bytes objects (image files).
      quality: None (a model for one quality), or for a model for every quality the JPEG
        quality (int 1..100) of every image of the batch.

    Returns:
      dict ``{"signature_name": ..., "inputs": {name: value}}``, bytes as ``{"b64": str}``.
    """
    _check_signature(signature)
    if signature == "encode":
        value = [{"b64": base64.b64encode(data).decode("ascii")} for data in values]
    else:
        value = np.asarray(values, dtype=np.uint8).tolist()
    inputs = {INPUTS[signature]: value}
    if quality is not None:
        inputs[QUALITY_INPUT] = [int(quality)] * len(value)
    return {"signature_name": signature, "inputs": inputs}


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


def predict_request(model, signature, values, version=None, quality=None):
    """Build a gRPC ``PredictRequest`` (tensorflow_serving.apis.predict_pb2).

    Args:
      model: served model name, e.g. ``"tfjpegnet_q15"``.
      signature: ``"serving_default"`` or ``"encode"``.
      values, quality: as in :func:`rest_body`.
      version: int model version, or None for the latest.

    Returns:
      predict_pb2.PredictRequest.
    """
    from tensorflow_serving.apis import predict_pb2

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
    if quality is not None:
        request.inputs[QUALITY_INPUT].CopyFrom(tf.make_tensor_proto([int(quality)] * len(values), dtype=tf.int32))
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
      predict_pb2.PredictResponse. Raises ``grpc.RpcError`` if the call fails.
    """
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, timeout=timeout)
