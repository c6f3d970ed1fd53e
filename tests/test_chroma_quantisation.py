"""The luma step against mozjpeg's quantised chroma: its prediction, in a net, tiled, and in TFLite files."""

import argparse

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import chroma_quantisation as cq
from tfjpegnet import cli, models, pixels
from tfjpegnet.deploy import tflite, tiling
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, color, encoders


@pytest.fixture(scope="module")
def feathers(kodak_dir):
    """kodim23's parrot feathers (saturated colour edges), RGB uint8 [96, 128, 3]."""
    return codec.read_image(kodak_dir / "kodim23.png")[120:216, 420:548]


def _chroma(rgb):
    return color.rgb_to_ycrcb(tf.constant(rgb[None], tf.float32) / 255.0)[..., 1:]


def _rms(a, b):
    return float(tf.sqrt(tf.reduce_mean(tf.square(a - b)))) * 255.0


@pytest.mark.parametrize("quality", [10, 50, 90])
def test_its_prediction_is_nearer_real_mozjpegs_decoded_chroma_than_the_image_is(feathers, quality):
    rgb = feathers[:90, :124]  # not whole MCUs: the edges are extended as the encoder does
    real = _chroma(codec.decode_jpeg(encoders.encode("mozjpeg", rgb, quality)))
    predicted = cq.QuantisedChromaLuma().decoded_chroma(_chroma(rgb), tf.constant([[quality / 100.0]]))
    assert predicted.shape == real.shape
    assert _rms(predicted, real) < 0.8 * _rms(_chroma(rgb), real)


def test_it_moves_only_y_by_the_strength_and_nothing_at_strength_zero(feathers):
    ycrcb = color.rgb_to_ycrcb(tf.constant(feathers[None], tf.float32) / 255.0)
    residual = tf.random.stateless_normal(ycrcb.shape, [0, 1], stddev=0.01)
    quality = tf.constant([[0.3]])
    full = cq.QuantisedChromaLuma()([ycrcb, residual, quality]) - residual
    half = cq.QuantisedChromaLuma(knots=((1, 0.5),))([ycrcb, residual, quality]) - residual
    off = cq.QuantisedChromaLuma(knots=((1, 0.0),))([ycrcb, residual, quality]) - residual
    assert float(tf.reduce_max(tf.abs(full[..., 1:]))) == 0.0 and float(tf.reduce_max(tf.abs(off))) == 0.0
    assert float(tf.reduce_mean(tf.abs(full[..., 0]))) > 1e-3
    np.testing.assert_allclose(half.numpy(), 0.5 * full.numpy(), atol=1e-6)


@pytest.mark.parametrize("quality", [30, 50])
def test_on_a_photograph_real_mozjpeg_then_gives_a_higher_psnr_in_fewer_bits(kodak_dir, quality):
    """kodim05's motorbikes (a crop); the measured gain over many images is in docs/experiments.md."""
    rgb = codec.read_image(kodak_dir / "kodim05.png")[100:356, 100:484]
    ycrcb = color.rgb_to_ycrcb(tf.constant(rgb[None], tf.float32) / 255.0)
    residual = cq.QuantisedChromaLuma()([ycrcb, tf.zeros_like(ycrcb), tf.constant([[quality / 100.0]])])
    edited = np.asarray(pixels.to_uint8(color.ycrcb_to_rgb(ycrcb + residual)))[0]
    plain, moved = (encoders.encode("mozjpeg", image, quality) for image in (rgb, edited))
    assert metrics.psnr(rgb, codec.decode_jpeg(moved)) > metrics.psnr(rgb, codec.decode_jpeg(plain)) + 0.02
    assert len(moved) < len(plain)


def _net():
    """A tiny net for every quality ending in the colour step with this luma step."""
    from conftest import tiny_conditioned_net

    return models.with_colour_compensation(tiny_conditioned_net(), luma_knots=cq.KNOTS, luma_model="quantisation")


def test_a_net_ending_in_it_tiles_and_round_trips_through_keras(tmp_path, feathers):
    net = _net()
    assert net.get_layer("colour_compensation").luma_knots == ((1.0, 0.0),)  # the resampling luma step is off
    rgb = feathers[:80, :100]

    def edit(image, quality=30):
        return np.asarray(pixels.to_uint8(models.edit_rgb(net, tf.constant(image[None], tf.float32) / 255.0,
                                                          quality)[0]))

    halo = tiling.halo(net)
    assert halo >= models.receptive_radius(net) >= cq.RADIUS
    assert np.abs(edit(rgb).astype(int) - tiling.edit_tiled(edit, rgb, halo, tile=48).astype(int)).max() <= 1
    net.save(tmp_path / "cq.keras")
    loaded = keras.models.load_model(tmp_path / "cq.keras")
    x = models.with_quality(color.rgb_to_ycrcb(tf.constant(rgb[None], tf.float32) / 255.0), 30)
    np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_its_tflite_files_keep_it_in_float_and_code_like_keras(tmp_path, feathers, precision):
    net = _net()
    calibration = np.stack([feathers[:64, :64], feathers[32:96, 64:128]])
    path = tmp_path / f"cq_{precision}.tflite"
    path.write_bytes(tflite.convert(net, precision, calibration if precision == "int8" else None, qualities=(5, 95)))
    runner = tflite.Runner(path)
    step = [d for d in runner.interpreter.get_tensor_details() if "quantised_chroma_luma" in d["name"]]
    assert step and all(d["dtype"] in (np.float32, np.int32) for d in step)
    rgb = feathers.astype(np.float32) / 255.0
    for quality in (30, 75):
        reference = np.asarray(pixels.to_uint8(models.edit_rgb(net, rgb[None], quality)[0]))
        edited = np.asarray(pixels.to_uint8(runner(rgb, quality)))
        psnr = [metrics.psnr(feathers, codec.jpeg_roundtrip(e, quality)[0]) for e in (edited, reference)]
        assert abs(psnr[0] - psnr[1]) <= 0.1, (quality, psnr)


def test_command_builds_it_with_the_luma_knots(tmp_path):
    from conftest import tiny_conditioned_net

    tiny_conditioned_net().save(tmp_path / "net.keras")
    out = tmp_path / "cq.keras"
    assert cli.main(["colour-compensation", str(tmp_path / "net.keras"), "--out", str(out), "--luma", "10:0,30:1",
                     "--luma-model", "quantisation"]) == 0
    net = keras.models.load_model(out)
    assert net.get_layer("quantised_chroma_luma").knots == ((10.0, 0.0), (30.0, 1.0))
    with pytest.raises(SystemExit):
        cli.main(["colour-compensation", str(tmp_path / "net.keras"), "--out", str(tmp_path / "x.keras"),
                  "--luma-model", "decoded"])
    assert not (tmp_path / "x.keras").exists()


def test_a_net_trained_with_it_in_place_gets_the_gradient_of_its_chroma_through_the_step(feathers):
    """The rounding passes gradients straight through: Y's change answers the residual's chroma."""
    ycrcb = color.rgb_to_ycrcb(tf.constant(feathers[None], tf.float32) / 255.0)
    residual = tf.zeros_like(ycrcb)
    with tf.GradientTape() as tape:
        tape.watch(residual)
        y = tf.reduce_sum(cq.QuantisedChromaLuma()([ycrcb, residual, tf.constant([[0.3]])])[..., 0])
    gradient = tape.gradient(y, residual).numpy()
    assert np.abs(gradient[..., 1:]).mean() > 0.01
    net = models.build_light_modify_net(factor=4, filters=8, blocks=1, conditioned=True,
                                        colour_compensation="quantisation")
    assert net.get_layer("colour_compensation").luma_knots == ((1.0, 0.0),)
    assert isinstance(net.get_layer("quantised_chroma_luma"), cq.QuantisedChromaLuma)
    first = models.build_light_modify_net(factor=4, filters=8, blocks=1, conditioned=True, colour_compensation=True)
    assert not any(isinstance(layer, cq.QuantisedChromaLuma) for layer in first.layers)


def test_train_takes_the_luma_model_of_the_step_it_trains_with():
    from tfjpegnet.cli import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    assert parser.parse_args(["--colour-compensation"]).colour_compensation == "quantisation"
    assert parser.parse_args(["--colour-compensation", "resampling"]).colour_compensation == "resampling"
    with pytest.raises(SystemExit):
        parser.parse_args(["--colour-compensation", "decoded"])


def test_a_net_for_one_quality_gets_the_step_at_its_fixed_quality(tmp_path, feathers):
    """The paper-size nets take no quality: the step's quality is fixed in the net, and export checks it."""
    keras.utils.set_random_seed(0)
    plain = models.build_modify_net(3, 8)
    with pytest.raises(ValueError, match="one quality"):
        models.with_colour_compensation(plain, luma_model="quantisation")
    from conftest import tiny_conditioned_net

    with pytest.raises(ValueError, match="every quality"):
        models.with_colour_compensation(tiny_conditioned_net(), luma_model="quantisation", quality=15)
    net = models.with_colour_compensation(plain, luma_model="quantisation", quality=15)
    assert models.fixed_quality(net) == 15 and models.fixed_quality(plain) is None
    ycrcb = color.rgb_to_ycrcb(tf.constant(feathers[None], tf.float32) / 255.0)
    expected = ycrcb + cq.QuantisedChromaLuma()([ycrcb, tf.zeros_like(ycrcb), tf.constant([[0.15]])])
    np.testing.assert_allclose(net(ycrcb).numpy(), expected.numpy(), atol=1e-6)  # a new net is the identity
    last = plain.get_layer("conv3")
    last.kernel.assign(np.random.default_rng(0).normal(0, 0.01, last.kernel.shape).astype(np.float32))
    path = tmp_path / "q15.tflite"  # its edge extension once broke TFLite's concatenation of dynamic shapes
    path.write_bytes(tflite.convert(net, "float32"))
    rgb = feathers[:64, :96].astype(np.float32) / 255.0
    reference = models.edit_rgb(net, rgb[None]).numpy()[0]
    assert np.abs(tflite.Runner(path)(rgb) - reference).max() <= 1e-4
    net.save(tmp_path / "q15.keras")
    loaded = keras.models.load_model(tmp_path / "q15.keras")
    assert models.fixed_quality(loaded) == 15
    np.testing.assert_allclose(loaded(ycrcb).numpy(), net(ycrcb).numpy(), atol=1e-6)
    assert cli.main(["export", "--model", str(tmp_path / "q15.keras"), "--quality", "5",
                     "--out", str(tmp_path / "export")]) == 2
    assert not (tmp_path / "export").exists()
