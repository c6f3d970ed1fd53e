"""A net for every quality, exported and used: SavedModel signatures with a quality, encode --quality."""

import json

import cv2
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tfjpegnet import cli
from tfjpegnet.deploy import encode, savedmodel
from tfjpegnet.errors import UserError
from tfjpegnet.jpeg import codec, encoders
from conftest import tiny_conditioned_net, tiny_modify_net


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(keras.Model, .keras path, out dir, version dir) of a tiny net for qualities 5..95, exported."""
    root = tmp_path_factory.mktemp("anyq")
    net = tiny_conditioned_net()
    path = root / "anyq.keras"
    net.save(path)
    out = root / "saved_models"
    assert cli.main(["export", "--model", str(path), "--qualities", "5-95", "--out", str(out)]) == 0
    return net, path, out, out / "tfjpegnet" / "1"


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported[3]))


@pytest.fixture(scope="module")
def crops(kodak_dir):
    """Two real 40x56 crops of kodim23 (not multiples of 16), RGB uint8 [2, 40, 56, 3]."""
    image = codec.read_image(kodak_dir / "kodim23.png")
    return np.stack([image[100:140, 200:256], image[300:340, 400:456]])


def test_metadata_info_and_warmup_carry_the_trained_range(exported, loaded):
    _, _, out, version_dir = exported
    meta = {k: int(v) for k, v in loaded.signatures["metadata"]().items()}
    assert meta == {"quality_min": 5, "quality_max": 95, "halo": savedmodel.tiling.halo(exported[0])}
    info = json.loads((version_dir / savedmodel.INFO_FILE).read_text())
    assert info["qualities"] == [5, 95] and "quality" not in info and info["name"] == "tfjpegnet"
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(str(version_dir / savedmodel.WARMUP_FILE))]
    for log in logs:  # every warm-up request runs on the exported model as TF Serving would run it
        request = log.predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        assert set(inputs) == {savedmodel.serving_client.INPUTS[request.model_spec.signature_name], "quality"}
        loaded.signatures[request.model_spec.signature_name](**inputs)
    assert '"tfjpegnet"' in (out / savedmodel.CONFIG_FILE).read_text()


def test_serving_default_edits_each_image_for_its_own_quality(exported, loaded, crops):
    net = exported[0]
    serve = loaded.signatures["serving_default"]
    both = serve(images=tf.constant(crops), quality=tf.constant([10, 80]))["modified"].numpy()
    for i, q in enumerate((10, 80)):  # as Keras edits, up to float rounding (one level)
        diff = np.abs(both[i].astype(int) - savedmodel.edit_uint8(net, crops[i:i + 1], q).numpy()[0])
        assert diff.max() <= 1 and diff.mean() < 0.01
    at_10 = serve(images=tf.constant(crops[:1]), quality=tf.constant([10]))["modified"].numpy()
    at_80 = serve(images=tf.constant(crops[:1]), quality=tf.constant([80]))["modified"].numpy()
    assert np.abs(at_10.astype(int) - at_80).max() > 0  # the quality changes the edit
    assert np.abs(at_10.astype(int) - crops[:1]).max() > 0  # and it is an edit


@pytest.mark.parametrize("outside, nearest", [(1, 5), (100, 95)])
def test_a_quality_outside_the_range_is_edited_as_the_nearest_trained_one(loaded, crops, outside, nearest):
    serve = loaded.signatures["serving_default"]
    edit = lambda q: serve(images=tf.constant(crops[:1]), quality=tf.constant([q]))["modified"].numpy()  # noqa: E731
    assert np.array_equal(edit(outside), edit(nearest))


@pytest.mark.parametrize("quality", [[0], [101], [15, 15]])
def test_a_quality_outside_1_100_or_not_one_per_image_fails_the_request(loaded, crops, quality):
    with pytest.raises(tf.errors.InvalidArgumentError, match="quality"):
        loaded.signatures["serving_default"](images=tf.constant(crops[:1]), quality=tf.constant(quality))


def test_encode_signature_writes_each_jpeg_at_its_quality(loaded, crops):
    files = [cv2.imencode(".png", np.ascontiguousarray(c[:, :, ::-1]))[1].tobytes() for c in crops]
    jpegs = loaded.signatures["encode"](image_bytes=tf.constant(files), quality=tf.constant([20, 90]))
    for data, crop, q in zip(jpegs["jpeg_bytes"].numpy(), crops, (20, 90)):
        edited = loaded.signatures["serving_default"](images=tf.constant(crop[None]),
                                                      quality=tf.constant([q]))["modified"][0]
        expected = tf.io.encode_jpeg(edited, quality=q, optimize_size=True, chroma_downsampling=True).numpy()
        assert data == expected


def test_export_needs_the_range_for_a_net_for_every_quality_and_only_for_it(exported, tmp_path, capsys):
    _, path, _, _ = exported
    fixed = tmp_path / "fixed.keras"
    tiny_modify_net().save(fixed)
    out = str(tmp_path / "out")
    assert cli.main(["export", "--model", str(path), "--quality", "15", "--out", out]) == 2
    assert "--qualities" in capsys.readouterr().err
    assert cli.main(["export", "--model", str(fixed), "--qualities", "5-95", "--out", out]) == 2
    assert "--quality" in capsys.readouterr().err
    assert cli.main(["export", "--model", str(path), "--out", out]) == 2
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_encode_writes_the_encoders_jpeg_of_the_edit_at_the_asked_quality(exported, crops, tmp_path):
    net, _, out, _ = exported
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), crops[0][:, :, ::-1])
    assert cli.main(["encode", str(src), "-o", str(tmp_path / "o"), "--model", str(out / "tfjpegnet"),
                     "--quality", "40"]) == 0
    edited = encode.load_editor(out / "tfjpegnet").at(40)(crops[0])
    assert np.abs(edited.astype(int) - savedmodel.edit_uint8(net, crops[:1], 40).numpy()[0]).max() <= 1
    assert (tmp_path / "o" / "in.jpg").read_bytes() == encoders.encode("mozjpeg", edited, 40)


def test_encode_defaults_to_75_and_says_when_a_quality_is_outside_the_range(exported, crops, tmp_path, capsys):
    _, _, out, _ = exported
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), crops[0][:, :, ::-1])
    model = str(out / "tfjpegnet")
    assert cli.main(["encode", str(src), "-o", str(tmp_path / "a"), "--model", model]) == 0
    assert "(quality 75," in capsys.readouterr().out
    assert cli.main(["encode", str(src), "-o", str(tmp_path / "b"), "--model", model, "--quality", "98"]) == 0
    err = capsys.readouterr().err
    assert "outside the qualities 5..95" in err and "learned for 95" in err
    editor = encode.load_editor(model)
    assert editor.qualities == (5, 95) and editor.quality is None
    written = codec.decode_jpeg((tmp_path / "b" / "in.jpg").read_bytes())
    assert written.shape == crops[0].shape
    assert (tmp_path / "b" / "in.jpg").read_bytes() == encoders.encode("mozjpeg", editor.at(95)(crops[0]), 98)


def test_a_keras_net_for_every_quality_is_sent_to_export(exported):
    with pytest.raises(UserError, match="export it with tfjpegnet export --qualities"):
        encode.load_editor(exported[1])


def test_export_checks_the_tflite_files_at_the_qualities_asked_for(exported, tmp_path, kodak_dir, capsys):
    _, path, _, _ = exported
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), cv2.imread(str(kodak_dir / "kodim23.png"))[100:164, 200:296])
    code = cli.main(["export", "--model", str(path), "--qualities", "5-95", "--out", str(tmp_path / "out"), "--tflite",
                     "--calibration-dir", str(tmp_path), "--calibration-patches", "4", "--verify-images", str(crop),
                     "--verify-qualities", "60,30"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "quality 30:" in printed and "quality 60:" in printed and "quality 5:" not in printed
