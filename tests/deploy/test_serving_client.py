"""Request building for TF Serving, and full round trips of ``tfjpegnet serve-client`` through in-process stand-in servers.

No TF Serving binary can be installed here. The stand-in servers below speak the same
protocols (gRPC PredictionService with the real protos; REST ``:predict`` JSON) and
answer by running the exported SavedModel, so the client code is exercised for real.
"""

import base64
import http.server
import json
import socket
import threading
from concurrent import futures

import cv2
import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tfjpegnet import cli
from tfjpegnet.cli import serve_client
from tfjpegnet.deploy import serving_client
from tfjpegnet.errors import UserError
from tfjpegnet.jpeg import codec
from conftest import tiny_modify_net


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The tiny model exported at quality 15 and loaded with tf.saved_model.load."""
    root = tmp_path_factory.mktemp("serving")
    tiny_modify_net().save(root / "net.keras")
    out = root / "saved_models"
    assert cli.main(["export", "--model", str(root / "net.keras"), "--quality", "15",
                     "--out", str(out)]) == 0
    return tf.saved_model.load(str(out / "tfjpegnet_q15" / "1"))


@pytest.fixture
def image_file(tmp_path, kodak_dir):
    """A 27x38 PNG crop of kodim23 (path)."""
    path = tmp_path / "crop.png"
    cv2.imwrite(str(path), cv2.imread(str(kodak_dir / "kodim23.png"))[50:77, 60:98])
    return path


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_rest_url():
    assert serving_client.rest_url("h", "m") == "http://h:8501/v1/models/m:predict"
    assert serving_client.rest_url("h", "m", 9000, 3) == "http://h:9000/v1/models/m/versions/3:predict"


def test_rest_body_base64_bytes_and_pixel_lists():
    body = serving_client.rest_body("encode", [b"\x89PNG\x00\xff", b"abc"])
    assert body["signature_name"] == "encode"
    assert [base64.b64decode(v["b64"]) for v in body["inputs"]["image_bytes"]] == [b"\x89PNG\x00\xff", b"abc"]
    json.dumps(body)
    pixels = np.arange(2 * 3 * 4 * 3).reshape(2, 3, 4, 3).astype(np.uint8)
    body = serving_client.rest_body("serving_default", pixels)
    assert np.array_equal(np.array(body["inputs"]["images"]), pixels)
    with pytest.raises(UserError):
        serving_client.rest_body("metadata", [])


def test_parse_rest_response_both_output_forms():
    jpeg = codec.encode_jpeg(np.zeros((8, 8, 3), np.uint8), 50)
    item = {"b64": base64.b64encode(jpeg).decode()}
    assert serving_client.parse_rest_response("encode", {"outputs": [item]}) == [jpeg]
    assert serving_client.parse_rest_response("encode", {"outputs": {"jpeg_bytes": [item]}}) == [jpeg]
    got = serving_client.parse_rest_response("serving_default", {"outputs": [[[[1, 2, 3]]]]})
    assert got.dtype == np.uint8 and got.shape == (1, 1, 1, 3)


def test_predict_request_fields_and_tensors():
    pixels = np.full((1, 9, 10, 3), 7, np.uint8)
    request = serving_client.predict_request("tfjpegnet_q5", "serving_default", pixels, version=2)
    assert isinstance(request, predict_pb2.PredictRequest)
    assert (request.model_spec.name, request.model_spec.signature_name,
            request.model_spec.version.value) == ("tfjpegnet_q5", "serving_default", 2)
    tensor = request.inputs["images"]
    assert tensor.dtype == tf.uint8.as_datatype_enum
    assert np.array_equal(tf.make_ndarray(tensor), pixels)
    request = serving_client.predict_request("m", "encode", [b"one", b"\x00two"])
    assert not request.model_spec.HasField("version")
    assert list(tf.make_ndarray(request.inputs["image_bytes"])) == [b"one", b"\x00two"]


def test_parse_predict_response_from_the_real_model(loaded, image_file):
    outputs = loaded.signatures["encode"](image_bytes=tf.constant([image_file.read_bytes()]))
    response = predict_pb2.PredictResponse()
    response.outputs["jpeg_bytes"].CopyFrom(tf.make_tensor_proto(outputs["jpeg_bytes"].numpy()))
    [jpeg] = serving_client.parse_predict_response("encode", response)
    assert codec.decode_jpeg(jpeg).shape == (27, 38, 3)


def serve(*args):
    """Run ``tfjpegnet serve-client`` in this process with ``args`` (paths and numbers as str)."""
    return cli.main(["serve-client", *map(str, args)])


def run_signature(model, signature, inputs):
    """Answer a request the way TF Serving does: run the named signature on the inputs."""
    return model.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})


class PredictServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model):
        self.model = model

    def Predict(self, request, context):
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = run_signature(self.model, request.model_spec.signature_name, inputs)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


@pytest.mark.parametrize("signature, suffix", [("encode", ".jpg"), ("serving_default", ".png")])
def test_grpc_round_trip(loaded, image_file, tmp_path, signature, suffix):
    port = free_port()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictServicer(loaded), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        code = serve(image_file, "-o", tmp_path / "out", "--protocol", "grpc",
                     "--host", "127.0.0.1", "--port", port, "--signature", signature)
    finally:
        server.stop(0)
    assert code == 0
    assert cv2.imread(str(tmp_path / "out" / f"crop{suffix}")).shape == (27, 38, 3)


class RestHandler(http.server.BaseHTTPRequestHandler):
    model = None
    paths = []

    def do_POST(self):
        self.paths.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        [(name, value)] = body["inputs"].items()
        if body["signature_name"] == "encode":
            value = [base64.b64decode(v["b64"]) for v in value]
        else:
            value = np.array(value, np.uint8)
        [(_, out)] = run_signature(self.model, body["signature_name"], {name: value}).items()
        out = out.numpy()
        out = [{"b64": base64.b64encode(v).decode()} for v in out] if out.dtype == object else out.tolist()
        reply = json.dumps({"outputs": out}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("signature, suffix", [("encode", ".jpg"), ("serving_default", ".png")])
def test_rest_round_trip(loaded, image_file, tmp_path, signature, suffix):
    RestHandler.model, RestHandler.paths = loaded, []
    server = http.server.HTTPServer(("127.0.0.1", 0), RestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = serve(image_file, "-o", tmp_path / "out", "--host", "127.0.0.1",
                     "--port", server.server_port, "--signature", signature, "--version", 1)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0
    assert RestHandler.paths == ["/v1/models/tfjpegnet_q15/versions/1:predict"]
    assert cv2.imread(str(tmp_path / "out" / f"crop{suffix}")).shape == (27, 38, 3)


def test_dry_run_sends_nothing_and_unreachable_server_exits_1(image_file, tmp_path, capsys):
    out = tmp_path / "o"
    assert serve(image_file, "-o", out, "--dry-run") == 0
    assert "/v1/models/tfjpegnet_q15:predict" in capsys.readouterr().out
    assert serve(image_file, "-o", out, "--dry-run", "--protocol", "grpc") == 0
    assert not out.exists()
    port = free_port()
    assert serve(image_file, "-o", out, "--host", "127.0.0.1", "--port", port) == 1
    assert "tfjpegnet serve-client: cannot reach TF Serving" in capsys.readouterr().err
    assert serve(image_file, "-o", out, "--host", "127.0.0.1", "--port", port, "--protocol", "grpc",
                 "--timeout", "2") == 1
    assert "tfjpegnet serve-client: gRPC request failed: StatusCode.UNAVAILABLE" in capsys.readouterr().err
    assert serve(tmp_path / "missing.png", "-o", out, "--dry-run") == 2
    assert "tfjpegnet serve-client: error:" in capsys.readouterr().err


def test_command_constants_match_the_library():
    # The command module keeps its own copies so that --help loads no TensorFlow.
    assert serve_client.SIGNATURES == tuple(sorted(serving_client.INPUTS))
    assert (serve_client.REST_PORT, serve_client.GRPC_PORT) == (serving_client.REST_PORT, serving_client.GRPC_PORT)
