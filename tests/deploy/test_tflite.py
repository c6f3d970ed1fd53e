import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import cli, models
from tfjpegnet.deploy import tflite
from tfjpegnet.jpeg import codec
from conftest import tiny_conditioned_net, tiny_modify_net


@pytest.fixture(scope="module")
def converted(tmp_path_factory, kodak_dir):
    """(keras.Model, {variant: path}) for the tiny net, int8 calibrated on kodim01 patches."""
    out = tmp_path_factory.mktemp("tflite")
    net = tiny_modify_net()
    calibration = tflite.calibration_patches([kodak_dir / "kodim01.png"], count=32)
    return net, tflite.write_tflite(net, str(out), "tiny_q15", calibration)


@pytest.fixture(scope="module")
def test_images(kodak_dir):
    """Two small crops of the Kodak test images, sizes not multiples of 8."""
    return [codec.read_image(kodak_dir / "kodim23.png")[100:197, 200:331],
            codec.read_image(kodak_dir / "kodim22.png")[300:371, 100:189]]


def test_file_names_and_float_interface_resizable(converted):
    _, paths = converted
    assert [os.path.basename(p) for p in paths.values()] == [
        "tiny_q15.tflite", "tiny_q15_fp16.tflite", "tiny_q15_int8.tflite"]
    for path in paths.values():
        runner = tflite.Runner(path)
        [inp] = runner.interpreter.get_input_details()
        [out] = runner.interpreter.get_output_details()
        assert inp["dtype"] == np.float32 and out["dtype"] == np.float32
        assert list(inp["shape_signature"]) == [1, -1, -1, 3]
        for shape in [(13, 29, 3), (40, 24, 3)]:
            edited = runner(np.full(shape, 0.5, np.float32))
            assert edited.shape == shape and edited.min() >= 0.0 and edited.max() <= 1.0


def test_litert_variants_match_keras_within_tolerances(converted, test_images):
    net, paths = converted
    rows = {row["variant"]: row for row in tflite.verify(net, paths, test_images, quality=15)}
    assert set(rows) == {"keras", "float32", "fp16", "int8"}
    assert rows["float32"]["max_abs"] <= 1e-4
    assert rows["fp16"]["delta"] <= 0.05
    assert rows["int8"]["delta"] <= 0.3
    assert all(row["ok"] for row in rows.values())
    assert rows["float32"]["bytes"] == os.path.getsize(paths["float32"])
    report = tflite.format_report(list(rows.values()))
    assert "int8" in report and "NO" not in report


def test_float32_equals_keras_on_saturated_colours(converted):
    net, paths = converted
    cube = tflite.rgb_cube_patch(32).astype(np.float32) / 255.0
    reference = models.edit_rgb(net, cube[None]).numpy()[0]
    assert np.abs(tflite.Runner(paths["float32"])(cube) - reference).max() <= 1e-4


def test_rgb_cube_patch_covers_every_corner_and_a_ramp():
    patch = tflite.rgb_cube_patch(64)
    assert patch.shape == (64, 64, 3) and patch.dtype == np.uint8
    corners = {tuple(c) for c in patch[:32].reshape(-1, 3)}
    assert corners == {(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 255)}
    assert patch[63, 0].tolist() == [0, 0, 0] and patch[63, 63].tolist() == [255, 255, 255]


def test_calibration_patches_spread_and_limited(kodak_dir):
    patches = tflite.calibration_patches([kodak_dir / "kodim01.png", kodak_dir / "kodim02.png"], 10)
    assert patches.shape == (10, 64, 64, 3) and patches.dtype == np.uint8
    assert len({p.tobytes() for p in patches}) == 10


def test_int8_needs_calibration_and_unknown_variant_rejected():
    net = tiny_modify_net()
    with pytest.raises(ValueError, match="calibration"):
        tflite.convert(net, "int8")
    with pytest.raises(ValueError, match="variant"):
        tflite.convert(net, "int4")


def test_export_command_writes_and_verifies_tflite(tmp_path, tiny_data_dir, kodak_dir, capsys):
    model_path = tmp_path / "net.keras"
    tiny_modify_net().save(model_path)
    crop = tmp_path / "crop.png"
    tf.io.write_file(str(crop), tf.io.encode_png(codec.read_image(kodak_dir / "kodim23.png")[100:180, 200:320]))
    out = tmp_path / "saved_models"
    code = cli.main(["export", "--model", str(model_path), "--quality", "15", "--out", str(out),
                     "--tflite", "--calibration-dir", str(tiny_data_dir), "--calibration-patches", "8",
                     "--verify-images", str(crop)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for name in ["tfjpegnet_q15.tflite", "tfjpegnet_q15_fp16.tflite", "tfjpegnet_q15_int8.tflite"]:
        assert (out / name).stat().st_size > 0
        assert name in printed
    assert "int8" in printed and "NO" not in printed
    assert (out / "tfjpegnet_q15" / "1" / "saved_model.pb").exists()


def test_residual_branch_found_in_a_loaded_model(tmp_path):
    net = tiny_modify_net()
    net.save(tmp_path / "net.keras")
    loaded = keras.models.load_model(tmp_path / "net.keras")
    branch = tflite.residual_branch(loaded)
    x = tf.random.uniform([1, 12, 17, 3])
    np.testing.assert_allclose(branch(x) + x, loaded(x), atol=1e-6)


def test_mcu_branch_net_converts_and_matches_keras_in_litert(test_images, tmp_path):
    net = tiny_modify_net(mcu_branch=8)
    path = tmp_path / "branch.tflite"
    path.write_bytes(tflite.convert(net, "float32"))
    runner = tflite.Runner(path)
    for image in test_images:
        rgb = image.astype(np.float32) / 255.0
        reference = models.edit_rgb(net, rgb[None]).numpy()[0]
        assert np.abs(runner(rgb) - reference).max() <= 1e-4


def test_to_uint8_is_pixels_rounding_as_numpy():
    rng = np.random.default_rng(5)
    rgb = np.concatenate([rng.uniform(-0.1, 1.1, 300), (np.arange(256) + 0.5) / 255.0]).astype(np.float32)
    rgb = rgb[:555].reshape(5, 37, 3)
    before = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)  # the copy this replaced
    got = tflite.to_uint8(rgb)
    assert isinstance(got, np.ndarray) and got.dtype == np.uint8
    assert np.array_equal(got, before)


QUALITIES = (5, 95)


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory, kodak_dir):
    """(keras.Model, {variant: path}) for the tiny conditioned net, trained range QUALITIES."""
    out = tmp_path_factory.mktemp("tflite_conditioned")
    net = tiny_conditioned_net()
    calibration = tflite.calibration_patches([kodak_dir / "kodim01.png"], count=16)
    return net, tflite.write_tflite(net, str(out), "tiny_any", calibration, qualities=QUALITIES)


@pytest.fixture(scope="module")
def crop_48x80(kodak_dir):
    """A non-square crop whose sides are multiples of 16, as float32 RGB in [0, 1]."""
    return codec.read_image(kodak_dir / "kodim23.png")[100:148, 200:280].astype(np.float32) / 255.0


def test_residual_branch_of_a_loaded_conditioned_net_skips_the_image_of_its_input(tmp_path):
    tiny_conditioned_net().save(tmp_path / "net.keras")
    net = keras.models.load_model(tmp_path / "net.keras")
    branch = tflite.residual_branch(net)
    x = tf.random.uniform([1, 16, 32, 3])
    residual = branch(x, tf.constant([[0.4]]))  # the quality enters as q / 100, not as a plane
    assert residual.shape == (1, 16, 32, 3)
    np.testing.assert_allclose(residual + x, net(models.with_quality(x, 40)), atol=1e-6)


def test_conditioned_float32_matches_keras_at_each_quality(conditioned, crop_48x80):
    net, paths = conditioned
    runner = tflite.Runner(paths["float32"])
    assert runner.conditioned
    names = sorted(d["name"] for d in runner.interpreter.get_input_details())
    assert names == ["serving_default_quality:0", "serving_default_rgb:0"]
    edits = {}
    for quality in (10, 80):
        reference = models.edit_rgb(net, crop_48x80[None], quality).numpy()[0]
        edits[quality] = runner(crop_48x80, quality)
        assert edits[quality].shape == crop_48x80.shape
        assert np.abs(edits[quality] - reference).max() <= 1e-4
        assert np.abs(reference - crop_48x80).max() > 5e-3  # the edit is not the identity
    assert np.abs(edits[10] - edits[80]).max() > 5e-3  # and it depends on the quality


def test_conditioned_file_clamps_quality_into_trained_range(conditioned, crop_48x80):
    _, paths = conditioned
    runner = tflite.Runner(paths["float32"])
    lo, hi = QUALITIES
    np.testing.assert_array_equal(runner(crop_48x80, 1), runner(crop_48x80, lo))
    np.testing.assert_array_equal(runner(crop_48x80, 100), runner(crop_48x80, hi))
    assert np.abs(runner(crop_48x80, lo) - runner(crop_48x80, hi)).max() > 1e-2


def test_conditioned_quantised_variants_verify(conditioned, test_images):
    net, paths = conditioned
    for quality in (10, 100):  # 100: outside the trained range, the reference is clamped as the files are
        rows = {row["variant"]: row for row in tflite.verify(net, paths, test_images, quality, QUALITIES)}
        assert set(rows) == {"keras", "float32", "fp16", "int8"}
        assert all(row["ok"] for row in rows.values()), tflite.format_report(list(rows.values()))


def test_int8_calibration_spreads_qualities_over_the_trained_range():
    calibration = np.zeros((4, 16, 16, 3), np.uint8)
    samples = list(tflite.representative_dataset(calibration, QUALITIES)())
    assert [sorted(s) for s in samples] == [["quality", "rgb"]] * 5
    assert [s["rgb"].shape for s in samples] == [(1, 16, 16, 3)] * 5
    np.testing.assert_array_equal(np.concatenate([s["quality"] for s in samples]), [5, 27.5, 50, 72.5, 95])
    assert [sorted(s) for s in tflite.representative_dataset(calibration)()] == [["rgb"]] * 5


def test_runner_quality_required_exactly_for_a_conditioned_file(conditioned, converted, crop_48x80):
    with pytest.raises(ValueError, match="quality"):
        tflite.Runner(conditioned[1]["float32"])(crop_48x80)
    plain = tflite.Runner(converted[1]["float32"])
    assert not plain.conditioned
    with pytest.raises(ValueError, match="quality"):
        plain(crop_48x80, 15)


def test_edit_module_needs_qualities_exactly_for_a_conditioned_net():
    with pytest.raises(ValueError, match="qualities"):
        tflite.EditModule(tiny_conditioned_net())
    with pytest.raises(ValueError, match="qualities"):
        tflite.EditModule(tiny_modify_net(), qualities=QUALITIES)


def test_an_int8_file_of_a_net_whose_mcu_branch_is_dead_runs_in_xnnpack_and_keeps_its_constant(
        kodak_dir, test_images, tmp_path):
    """The MCU branch's second layer 0 on every input (as training left the net for every
    quality): the branch adds mcu_out's bias, a constant of a few levels, which int8 must keep."""
    net = tiny_conditioned_net()
    mcu2, mcu_out = net.get_layer("mcu2"), net.get_layer("mcu_out")
    kernel, bias = mcu2.get_weights()
    mcu2.set_weights([kernel, np.full_like(bias, -100.0)])  # every pre-activation below 0
    kernel, bias = mcu_out.get_weights()
    constant = np.random.default_rng(3).uniform(-0.8, 0.8, bias.shape).astype(np.float32)  # x MCU_GAIN: +-8 / 1000
    mcu_out.set_weights([kernel, constant])
    calibration = tflite.calibration_patches([kodak_dir / "kodim01.png"], count=16)
    revived = tflite.with_dead_branch_revived(net, calibration, QUALITIES)
    assert revived is not net
    rgb = test_images[0].astype(np.float32) / 255.0
    reference = models.edit_rgb(net, rgb[None], 30).numpy()[0]
    np.testing.assert_allclose(models.edit_rgb(revived, rgb[None], 30).numpy()[0], reference, atol=1e-6)
    path = tmp_path / "dead_int8.tflite"
    path.write_bytes(tflite.convert(net, "int8", calibration, QUALITIES))
    edited = tflite.Runner(path)(rgb, 30.0)  # XNNPACK refuses to prepare the file without the revival
    assert np.abs(edited - reference).mean() < 1 / 255  # the constant kept (without: about 2 levels off)
    live = tiny_conditioned_net()
    assert tflite.with_dead_branch_revived(live, calibration, QUALITIES) is live  # a working branch is left alone
