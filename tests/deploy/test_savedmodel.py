import json
import os
import subprocess
import sys
import textwrap

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from tfjpegnet import cli, models
from tfjpegnet.deploy import savedmodel
from tfjpegnet.jpeg import codec
from conftest import tiny_modify_net

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def keras_edit(net, images):
    """Reference: Keras Modify-Net edit of uint8 [b, H, W, 3], rounded -> uint8."""
    return savedmodel.edit_uint8(net, tf.constant(images)).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(keras.Model, .keras path, out dir, version dir) of one exported tiny model."""
    root = tmp_path_factory.mktemp("export")
    net = tiny_modify_net()
    model_path = root / "modify_net.keras"
    net.save(model_path)
    out = root / "saved_models"
    assert cli.main(["export", "--model", str(model_path), "--quality", "15", "--out", str(out)]) == 0
    return net, model_path, out, out / "tfjpegnet_q15" / "1"


@pytest.fixture(scope="module")
def kodak_crop(kodak_dir):
    """A 29x45 crop of kodim23 (not a multiple of 8 or 16), RGB uint8."""
    return codec.read_image(kodak_dir / "kodim23.png")[200:229, 300:345]


def test_layout_metadata_and_config(exported):
    net, _, out, version_dir = exported
    for name in ["saved_model.pb", "variables", savedmodel.WARMUP_FILE, savedmodel.INFO_FILE]:
        assert (version_dir / name).exists(), name
    assert oct(version_dir.stat().st_mode & 0o777) == "0o755"
    info = json.loads((version_dir / savedmodel.INFO_FILE).read_text())
    assert info["quality"] == 15 and info["halo"] == 3 and info["name"] == "tfjpegnet_q15"
    loaded = tf.saved_model.load(str(version_dir))
    assert int(loaded.quality.numpy()) == 15 and int(loaded.halo.numpy()) == 3
    meta = loaded.signatures["metadata"]()
    assert int(meta["quality"]) == 15 and int(meta["halo"]) == 3
    # Each weight is saved once (Keras 3 wrappers not duplicated), plus quality and halo.
    saved = [tuple(shape) for name, shape in tf.train.list_variables(str(version_dir / "variables" / "variables"))
             if "VARIABLE_VALUE" in name]
    assert sorted(saved) == sorted([(), ()] + [tuple(w.shape) for w in net.weights])
    config = text_format.Parse((out / "models.config").read_text(),
                               model_server_config_pb2.ModelServerConfig())
    [entry] = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == (
        "tfjpegnet_q15", "/models/tfjpegnet_q15", "tensorflow")
    assert not [n for n in os.listdir(out / "tfjpegnet_q15") if n.startswith(".")]


def test_serving_default_matches_keras_any_size(exported, kodak_crop):
    net, _, _, version_dir = exported
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    for images in [kodak_crop[None], np.stack([kodak_crop[:8, :11], kodak_crop[8:16, 20:31]])]:
        got = serve(images=tf.constant(images))["modified"].numpy()
        assert got.dtype == np.uint8 and got.shape == images.shape
        diff = np.abs(got.astype(int) - keras_edit(net, images).astype(int))
        assert diff.max() <= 1 and np.mean(diff) < 0.01
        assert np.any(got != images)  # the edit is real, not the identity


def test_encode_signature_decodes_edits_and_encodes_at_model_quality(exported, kodak_crop):
    net, _, _, version_dir = exported
    encode = tf.saved_model.load(str(version_dir)).signatures["encode"]
    gray = cv2.cvtColor(kodak_crop[:, :, ::-1], cv2.COLOR_BGR2GRAY)
    rgba = np.dstack([kodak_crop[:, :, ::-1], np.full(kodak_crop.shape[:2], 128, np.uint8)])
    inputs = [cv2.imencode(".png", kodak_crop[:, :, ::-1])[1].tobytes(),
              codec.encode_jpeg(kodak_crop, 95),
              cv2.imencode(".png", gray)[1].tobytes(),
              cv2.imencode(".png", rgba)[1].tobytes()]
    outputs = encode(image_bytes=tf.constant(inputs))["jpeg_bytes"].numpy()
    assert len(outputs) == 4
    expected = codec.decode_jpeg(codec.encode_jpeg(keras_edit(net, kodak_crop[None])[0], 15, True))
    first = codec.decode_jpeg(outputs[0])
    assert first.shape == kodak_crop.shape
    # tf.io.encode_jpeg and OpenCV are both libjpeg(-turbo) at the same quality tables.
    assert np.abs(first.astype(int) - expected.astype(int)).max() <= 2
    for data in outputs[1:]:
        decoded = codec.decode_jpeg(data)
        assert decoded.shape == kodak_crop.shape
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).ndim == 3


def test_warmup_requests_run_against_the_model(exported):
    _, _, _, version_dir = exported
    loaded = tf.saved_model.load(str(version_dir))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(str(version_dir / savedmodel.WARMUP_FILE))]
    assert sorted(log.predict_log.request.model_spec.signature_name for log in logs) == [
        "encode", "serving_default"]
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "tfjpegnet_q15"
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**inputs)
        assert all(v.shape[0] == 1 for v in outputs.values())


def test_versions_increment_explicit_version_and_config_lists_all(exported, tmp_path):
    _, model_path, _, _ = exported
    out = tmp_path / "models"
    base = ["export", "--model", str(model_path), "--out", str(out)]
    assert cli.main(base + ["--quality", "15", "--version", "3"]) == 0
    assert cli.main(base + ["--quality", "15"]) == 0
    assert sorted(os.listdir(out / "tfjpegnet_q15")) == ["3", "4"]
    assert cli.main(base + ["--quality", "15", "--version", "4"]) == 2  # never overwrites
    assert sorted(os.listdir(out / "tfjpegnet_q15")) == ["3", "4"]
    assert cli.main(base + ["--quality", "5", "--name", "mine_q5"]) == 0
    config = text_format.Parse((out / "models.config").read_text(),
                               model_server_config_pb2.ModelServerConfig())
    assert [c.name for c in config.model_config_list.config] == ["mine_q5", "tfjpegnet_q15"]
    info = json.loads((out / "mine_q5" / "1" / savedmodel.INFO_FILE).read_text())
    assert info["quality"] == 5


@pytest.mark.parametrize("args, message", [
    (["--model", "missing.keras", "--quality", "15"], "no such model file"),
    (["--model", "{model}", "--quality", "0"], "quality"),
    (["--model", "{model}", "--quality", "abc"], "quality"),
    (["--model", "{text}", "--quality", "15"], "expected a .keras"),
    (["--model", "{model}", "--quality", "15", "--name", "../x"], "--name"),
])
def test_bad_arguments_exit_2_with_one_message(exported, tmp_path, capsys, args, message):
    _, model_path, _, _ = exported
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    args = [a.format(model=model_path, text=text) for a in args]
    assert cli.main(["export", *args, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "tfjpegnet_q15").exists()


FRESH_PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    images = np.load(sys.argv[2])
    modified = loaded.signatures["serving_default"](images=tf.constant(images))["modified"]
    png = tf.io.encode_png(tf.constant(images[0])).numpy()
    jpeg = loaded.signatures["encode"](image_bytes=tf.constant([png, png]))["jpeg_bytes"]
    quality = int(loaded.signatures["metadata"]()["quality"])
    decoded = tf.io.decode_jpeg(jpeg[1]).numpy()
    assert not [m for m in sys.modules if m.startswith("tfjpegnet")], "tfjpegnet was imported"
    np.savez(sys.argv[3], modified=modified.numpy(), decoded=decoded, quality=quality)
""")


def test_saved_model_answers_in_fresh_process_importing_only_tensorflow(exported, kodak_crop, tmp_path):
    net, _, _, version_dir = exported
    np.save(tmp_path / "images.npy", kodak_crop[None])
    script = tmp_path / "serve.py"
    script.write_text(FRESH_PROCESS)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH="")
    subprocess.run([sys.executable, str(script), str(version_dir), str(tmp_path / "images.npy"),
                    str(tmp_path / "result.npz")], check=True, env=env, cwd=tmp_path)
    result = np.load(tmp_path / "result.npz")
    assert int(result["quality"]) == 15
    diff = np.abs(result["modified"].astype(int) - keras_edit(net, kodak_crop[None]).astype(int))
    assert diff.max() <= 1
    assert result["decoded"].shape == kodak_crop.shape


def test_saved_model_cli_runs_both_signatures(exported, kodak_crop, tmp_path):
    net, _, _, version_dir = exported
    np.save(tmp_path / "images.npy", kodak_crop[None])
    png = cv2.imencode(".png", kodak_crop[:, :, ::-1])[1].tobytes()
    np.save(tmp_path / "bytes.npy", np.array([png], dtype=object), allow_pickle=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for signature, inputs in [("serving_default", f"images={tmp_path / 'images.npy'}"),
                              ("encode", f"image_bytes={tmp_path / 'bytes.npy'}")]:
        subprocess.run([SAVED_MODEL_CLI, "run", "--dir", str(version_dir), "--tag_set", "serve",
                        "--signature_def", signature, "--inputs", inputs,
                        "--outdir", str(tmp_path), "--overwrite"],
                       check=True, env=env, capture_output=True)
    modified = np.load(tmp_path / "modified.npy")
    assert np.abs(modified.astype(int) - keras_edit(net, kodak_crop[None]).astype(int)).max() <= 1
    [jpeg] = np.load(tmp_path / "jpeg_bytes.npy", allow_pickle=True)
    assert codec.decode_jpeg(jpeg).shape == kodak_crop.shape


def test_mixed_precision_model_is_exported_in_float32(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = models.build_modify_net(depth=3, filters=8)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed.set_weights(tiny_modify_net().get_weights())
    mixed.save(tmp_path / "mixed.keras")
    net = savedmodel.load_keras_model(tmp_path / "mixed.keras")
    assert {layer.dtype_policy.name for layer in net.layers} == {"float32"}
    assert all(w.dtype == "float32" for w in net.weights)
    x = np.random.default_rng(0).integers(0, 256, (1, 19, 23, 3), dtype=np.uint8)
    assert np.abs(keras_edit(net, x).astype(int) - keras_edit(tiny_modify_net(), x).astype(int)).max() <= 1


def test_edit_uint8_rounds_exactly_as_the_exported_graphs_always_did():
    # The rounding is tfjpegnet.pixels.to_uint8 now; the signatures' numbers must not move.
    net = tiny_modify_net()
    images = np.random.default_rng(4).integers(0, 256, (2, 21, 30, 3), dtype=np.uint8)
    edited = models.edit_rgb(net, tf.cast(images, tf.float32) / 255.0)
    before = tf.cast(tf.round(edited * 255.0), tf.uint8).numpy()
    assert np.array_equal(savedmodel.edit_uint8(net, images).numpy(), before)
