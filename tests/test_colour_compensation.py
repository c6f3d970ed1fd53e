"""The fixed pre-compensation of JPEG's 4:2:0 colour path, alone, in a net, and in a TFLite file."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import colour_compensation as cc
from tfjpegnet import models, pixels
from tfjpegnet.deploy import tflite, tiling
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, color, encoders, proxy


@pytest.fixture(scope="module")
def feathers(kodak_dir):
    """kodim23's parrot feathers (saturated colour edges), RGB uint8 [96, 128, 3]."""
    return codec.read_image(kodak_dir / "kodim23.png")[120:216, 420:548]


def _compensate(rgb, quality, **kwargs):
    """The layer applied to an unedited image (residual 0): RGB uint8 [H, W, 3] -> uint8."""
    ycrcb = color.rgb_to_ycrcb(tf.constant(rgb[None], tf.float32) / 255.0)
    layer = cc.ColourCompensation(**kwargs)
    residual = layer([ycrcb, tf.zeros_like(ycrcb), tf.constant([[quality / 100.0]])])
    return np.asarray(pixels.to_uint8(color.ycrcb_to_rgb(ycrcb + residual)))[0]


def test_taps_are_the_least_squares_means_for_the_decoders_upsampling():
    n = 40
    rng = np.random.default_rng(0)
    line = rng.uniform(0, 1, 2 * n)
    up = cc._fancy_matrix(n)
    best = np.linalg.lstsq(up, line, rcond=None)[0]
    taps = cc.chroma_taps(0.0, reach=10)  # long enough to be least squares away from the edges
    assert taps.astype(np.float64).sum() == 1.0  # exactly: a flat plane stays flat
    np.testing.assert_array_equal(taps.astype(np.float16).astype(np.float32), taps)  # and so in a float16 file
    padded = np.pad(line, 10, mode="symmetric")
    means = np.array([taps @ padded[2 * i: 2 * i + 22] for i in range(n)])
    inner = slice(10, n - 10)  # away from the edges, where padding and lstsq differ
    np.testing.assert_allclose(means[inner], best[inner], atol=1e-2)
    pair_means = line.reshape(n, 2).mean(axis=1)
    assert np.sum((up @ means - line) ** 2) < 0.95 * np.sum((up @ pair_means - line) ** 2)
    shrunk = cc.chroma_taps(1.0)  # the penalty pulls the means towards the pair means; the shipped reach
    assert np.abs(shrunk).max() < np.abs(taps).max() and shrunk.astype(np.float64).sum() == 1.0


def test_kernels_are_exact_in_float16_and_keep_a_flat_plane_flat():
    kernels = cc._kernels(cc.chroma_taps(), cc.kernel_luma_weights())
    for kernel in kernels:
        np.testing.assert_array_equal(kernel.astype(np.float16).astype(np.float32), kernel)
    on_image = kernels[0].astype(np.float64)  # the only one applied to full-range values
    assert all(on_image[..., o].sum() == 0.0 for o in range(on_image.shape[-1]))


def test_luma_weights_minimise_the_rgb_error_of_a_chroma_error():
    w_cr, w_cb = cc.luma_weights()
    offset = color.rgb_to_ycrcb(tf.constant([0.5, 0.5, 0.5]))
    error = tf.constant([0.0, 0.0, 0.04])  # a Cb error moves B most

    def rgb_error(y):
        return float(tf.reduce_sum((color.ycrcb_to_rgb(offset + error + [y, 0, 0]) - color.ycrcb_to_rgb(offset)) ** 2))

    best = -(w_cr * 0.0 + w_cb * 0.04)
    assert all(rgb_error(best) <= rgb_error(best + step) for step in (-0.004, -0.001, 0.001, 0.004))
    assert rgb_error(best) < 0.85 * rgb_error(0.0)


def test_strength_is_piecewise_linear_in_the_quality():
    knots = ((80, 0.0), (85, 1.0))
    values = cc.strength(tf.constant([10.0, 80.0, 82.0, 85.0, 99.0]), knots).numpy()
    np.testing.assert_allclose(values, [0.0, 0.0, 0.4, 1.0, 1.0], atol=1e-6)


def _reference(image, residual, alpha, beta):
    """The two steps written out directly in numpy: YCrCb [H, W, 3] (H, W even) -> the new residual.

    The image is extended by edge replication (``reach`` pixels, so ``reach / 2`` cells, a side);
    the chroma changes of the cells outside are taken as those of the nearest cell inside.
    """
    taps, weights, reach = cc.chroma_taps(), cc.kernel_luma_weights(), cc.REACH
    height, width = image.shape[:2]
    inner = (slice(reach, reach + height), slice(reach, reach + width))
    cells = (slice(reach // 2, (reach + height) // 2), slice(reach // 2, (reach + width) // 2))

    def pair_means(x):
        return x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))

    def target_means(plane):  # step 1's means of the inner cells, from the padded plane
        rows = sum(t * plane[j: j + height: 2] for j, t in enumerate(taps))
        return sum(t * rows[:, j: j + width: 2] for j, t in enumerate(taps))

    def fancy(c):  # of cells with a 1-cell margin -> the inner pixels
        for axis in (0, 1):
            c = np.moveaxis(c, axis, 0)
            out = np.empty((2 * c.shape[0] - 4,) + c.shape[1:])
            out[0::2], out[1::2] = 0.75 * c[1:-1] + 0.25 * c[:-2], 0.75 * c[1:-1] + 0.25 * c[2:]
            c = np.moveaxis(out, 0, axis)
        return c

    edited = np.pad(image + residual, [(reach, reach), (reach, reach), (0, 0)], mode="edge")
    out = (image + residual).copy()
    left = []
    for ch in (1, 2):
        means = pair_means(edited[..., ch])
        shift = alpha * (target_means(edited[..., ch]) - means[cells])
        out[..., ch] += np.repeat(np.repeat(shift, 2, 0), 2, 1)
        around = means[reach // 2 - 1: (reach + height) // 2 + 1, reach // 2 - 1: (reach + width) // 2 + 1].copy()
        around[1:-1, 1:-1] += shift
        around[0, 1:-1] += shift[0]; around[-1, 1:-1] += shift[-1]  # noqa: E702  the outside cells
        around[:, 0] += np.r_[shift[0, 0], shift[:, 0], shift[-1, 0]]
        around[:, -1] += np.r_[shift[0, -1], shift[:, -1], shift[-1, -1]]
        left.append(fancy(around) - image[..., ch])
    out[..., 0] -= beta * (weights[0] * left[0] + weights[1] * left[1])
    return out - image


def test_the_layer_computes_the_two_steps_as_written_out(feathers):
    image = color.rgb_to_ycrcb(tf.constant(feathers[:64, :96], tf.float32) / 255.0).numpy().astype(np.float64)
    residual = np.random.default_rng(0).normal(0, 0.01, image.shape)
    layer = cc.ColourCompensation(chroma_knots=((50, 0.0), (100, 1.0)), luma_knots=((50, 0.0), (100, 1.2)))
    out = layer([tf.constant(image[None], tf.float32), tf.constant(residual[None], tf.float32), tf.constant([[0.85]])])
    difference = np.abs(out.numpy()[0] - _reference(image, residual, 0.7, 0.84))
    # the layer's 2-D kernel is the product of the taps rounded to float16 numbers (1 / 4096)
    assert difference.max() < 1e-3 and difference.mean() < 5e-5, (difference.max(), difference.mean())


def test_zero_strength_and_flat_colour_leave_the_image_alone(feathers):
    off = ((0, 0.0), (100, 0.0))
    np.testing.assert_array_equal(_compensate(feathers, 95, chroma_knots=off, luma_knots=off), feathers)
    flat = np.full((33, 47, 3), (200, 40, 90), np.uint8)  # odd sizes: padded and cropped
    np.testing.assert_array_equal(_compensate(flat, 95), flat)


def test_real_mozjpeg_at_high_quality_decodes_closer_to_the_original(feathers):
    """The compensated image's real mozjpeg Q95 decode is nearer the original than plain's,
    and so is its 4:2:0 round trip alone (the proxy's colour path)."""
    compensated = _compensate(feathers, 95)
    assert not np.array_equal(compensated, feathers)
    plain = codec.decode_jpeg(encoders.encode("mozjpeg", feathers, 95))
    edited = codec.decode_jpeg(encoders.encode("mozjpeg", compensated, 95))
    assert metrics.psnr(feathers, edited) > metrics.psnr(feathers, plain) + 0.3

    def round_trip(rgb):
        return 255.0 * proxy.subsampled(tf.constant(rgb[None], tf.float32) / 255.0).numpy()[0]

    assert metrics.mse(feathers, round_trip(compensated)) < 0.8 * metrics.mse(feathers, round_trip(feathers))


def _net():
    """A tiny net for every quality ending in the compensation, with a non-identity edit."""
    keras.utils.set_random_seed(0)
    net = models.build_light_modify_net(factor=4, filters=8, blocks=1, mcu_branch=8, conditioned=True,
                                        colour_compensation=True)
    rng = np.random.default_rng(0)
    for weight in net.get_layer("conv_out").weights:
        weight.assign(rng.normal(0, 0.005, weight.shape).astype(np.float32))
    return net


def test_a_net_with_it_has_its_reach_and_grid_and_round_trips_through_keras(tmp_path, feathers):
    net = _net()
    with pytest.raises(ValueError, match="conditioned"):
        models.build_light_modify_net(factor=4, filters=8, blocks=1, colour_compensation=True)
    assert models.grid_period(net) == 16
    rgb = feathers[:80, :100]

    def edit(image, quality=95):
        return np.asarray(pixels.to_uint8(models.edit_rgb(net, tf.constant(image[None], tf.float32) / 255.0,
                                                          quality)[0]))

    halo = tiling.halo(net)
    assert halo >= models.receptive_radius(net) == 3 + 4 * 3 + cc.RADIUS
    whole = edit(rgb)
    assert np.abs(whole.astype(int) - tiling.edit_tiled(edit, rgb, halo, tile=48).astype(int)).max() <= 1
    assert not np.array_equal(edit(rgb, 95), edit(rgb, 50))  # its strength follows the quality
    net.save(tmp_path / "cc.keras")
    loaded = keras.models.load_model(tmp_path / "cc.keras")
    x = models.with_quality(color.rgb_to_ycrcb(tf.constant(rgb[None], tf.float32) / 255.0), 90)
    np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), atol=1e-6)


def test_a_net_with_it_converts_to_tflite_and_matches_keras_in_litert(tmp_path, feathers):
    net = _net()
    path = tmp_path / "cc.tflite"
    path.write_bytes(tflite.convert(net, "float32", qualities=(5, 95)))
    runner = tflite.Runner(path)
    rgb = feathers[:48, :80].astype(np.float32) / 255.0
    for quality in (30, 90):
        reference = models.edit_rgb(net, rgb[None], quality).numpy()[0]
        assert np.abs(runner(rgb, quality) - reference).max() <= 1e-4


def test_its_int8_file_quantises_the_net_but_keeps_the_step_in_float(tmp_path, feathers):
    """int8 weights would break the step's exact zero sums: the image would leak into the edit."""
    net = _net()
    calibration = np.stack([feathers[:64, :64], feathers[32:96, 64:128]])
    path = tmp_path / "cc_int8.tflite"
    path.write_bytes(tflite.convert(net, "int8", calibration, qualities=(5, 95)))
    runner = tflite.Runner(path)
    details = runner.interpreter.get_tensor_details()
    assert any(d["dtype"] == np.int8 for d in details if "conv_out" in d["name"])
    step = [d for d in details if "colour_compensation" in d["name"]]
    assert step and all(d["dtype"] in (np.float32, np.int32) for d in step)
    rgb = feathers.astype(np.float32) / 255.0
    for quality in (50, 90):
        reference = np.asarray(pixels.to_uint8(models.edit_rgb(net, rgb[None], quality)[0]))
        edited = np.asarray(pixels.to_uint8(runner(rgb, quality)))
        psnr = [metrics.psnr(feathers, codec.jpeg_roundtrip(e, quality)[0]) for e in (edited, reference)]
        assert abs(psnr[0] - psnr[1]) <= 0.1, (quality, psnr)


def test_command_ends_a_trained_net_with_it_and_refuses_what_it_cannot_take(tmp_path, capsys):
    from conftest import tiny_conditioned_net
    from tfjpegnet import cli

    source = tiny_conditioned_net()
    source.save(tmp_path / "net.keras")
    out = tmp_path / "cc.keras"
    assert cli.main(["colour-compensation", str(tmp_path / "net.keras"), "--out", str(out),
                     "--chroma", "1:1", "--luma", "1:0"]) == 0
    net = keras.models.load_model(out)
    layer = net.get_layer("colour_compensation")
    assert layer.chroma_knots == ((1.0, 1.0),) and layer.luma_knots == ((1.0, 0.0),)
    x = models.with_quality(tf.random.uniform([1, 32, 48, 3]), 50)
    assert np.abs(np.asarray(net(x)) - np.asarray(source(x))).max() > 1e-4  # chroma step at full strength
    for bad in (["--chroma", "85:1,80:0"], ["--luma", "20:-1"], ["--chroma", "x"], ["--chroma", "0:1"]):
        with pytest.raises(SystemExit):
            cli.main(["colour-compensation", str(tmp_path / "net.keras"), "--out", str(tmp_path / "x.keras"), *bad])
    assert cli.main(["colour-compensation", str(out), "--out", str(tmp_path / "twice.keras")]) == 2
    assert "already" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists() and not (tmp_path / "twice.keras").exists()
