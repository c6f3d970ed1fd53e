"""The differentiable JPEG rate estimate against OpenCV's real file sizes."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import spearmanr

from tfjpegnet import datasets
from tfjpegnet.evaluation import fidelity
from tfjpegnet.jpeg import codec, proxy, rate


@pytest.fixture(scope="module")
def patches(kodak_dir):
    """16 real 64x64 patches of kodim22 and kodim24, uint8 [16, 64, 64, 3]."""
    return np.concatenate([datasets.image_patches(codec.read_image(kodak_dir / f"kodim{i}.png"))[::12][:8]
                           for i in (22, 24)])


def estimate(patches, quality):
    """rate.estimate_bpp of uint8 patches, as a numpy float32 array [N]."""
    return rate.estimate_bpp(tf.constant(patches, tf.float32) / 255.0, quality).numpy()


def test_estimate_grows_with_quality(patches):
    bpp = np.stack([estimate(patches, q) for q in (5, 15, 50, 90)])
    assert bpp.shape == (4, len(patches)) and bpp.dtype == np.float32
    assert np.all(np.diff(bpp, axis=0) > 0)


@pytest.mark.parametrize("quality", [15, 50])
def test_estimate_ranks_like_real_file_sizes(patches, quality):
    files = [codec.encode_jpeg(p, quality) for p in patches]
    est = estimate(patches, quality)
    assert spearmanr(est, [len(f) for f in files])[0] > 0.9
    scan_bpp = 8 * np.mean([fidelity.scan_size(f) for f in files]) / (64 * 64)
    assert abs(est.mean() / scan_bpp - 1) < 0.15


def test_flat_image_costs_only_block_overhead():
    coefficients = proxy.encode(tf.fill([1, 32, 48, 3], 128 / 255), 50, "none")
    blocks = 4 * 6 + 2 * 2 * 3
    np.testing.assert_allclose(rate.estimate_bits(coefficients).numpy(), [rate.BLOCK_BITS * blocks], rtol=1e-6)


def test_dc_differences_follow_mcu_order():
    dc = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4])  # row-major block indices
    coef = tf.pad(dc[..., None, None], [[0, 0], [0, 0], [0, 0], [0, 7], [0, 7]])
    order = np.cumsum(rate._dc_differences(coef, mcu_order=True).numpy()[0])
    np.testing.assert_array_equal(order, [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    np.testing.assert_array_equal(np.cumsum(rate._dc_differences(coef, mcu_order=False).numpy()[0]),
                                  np.arange(16))


def test_estimate_is_differentiable(patches):
    x = tf.constant(patches[:2], tf.float32) / 255.0
    with tf.GradientTape() as tape:
        tape.watch(x)
        bpp = rate.estimate_bpp(x, 15)
        total = tf.reduce_sum(bpp)
    grad = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    np.testing.assert_allclose(bpp.numpy(), estimate(patches[:2], 15), rtol=1e-6)  # same value


def test_value_does_not_depend_on_the_rounding_mode(patches):
    x = tf.constant(patches[:4], tf.float32) / 255.0
    values = [rate.estimate_bits(proxy.encode(x, 50, mode)).numpy() for mode in proxy.ROUNDINGS]
    for value in values[1:]:
        np.testing.assert_allclose(value, values[0], rtol=1e-6)


def _pull(level):
    """d bits / d c for one luma AC coefficient c = ``level`` (in quant steps), all else 0."""
    c = tf.Variable(level)
    with tf.GradientTape() as tape:
        y = tf.scatter_nd([[0, 0, 0, 0, 3]], [c], [1, 2, 2, 8, 8])
        bits = rate.estimate_bits((y, tf.zeros([1, 1, 1, 8, 8]), tf.zeros([1, 1, 1, 8, 8])))
    return float(tape.gradient(bits, c))


@pytest.mark.parametrize("level", [0.1, 0.6, 3.0, -2.0])
def test_smooth_gradient_pulls_every_coefficient_towards_zero(level):
    """The surrogate's gradient, LOG_BITS * d log2(1 + |c|) / dc, also on levels that round to 0."""
    expected = np.sign(level) * rate.LOG_BITS / ((1.0 + abs(level)) * np.log(2.0))
    assert _pull(level) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("encoder", ["opencv", "mozjpeg"])
def test_a_quality_per_example_gives_each_examples_own_estimate(patches, encoder):
    qualities = np.array([5, 15, 30, 50, 75, 90, 95, 10] * 2, np.int32)
    x = tf.constant(patches, tf.float32) / 255.0
    together = rate.estimate_bpp(x, tf.constant(qualities), encoder).numpy()
    alone = [rate.estimate_bpp(x[i:i + 1], int(q), encoder).numpy()[0] for i, q in enumerate(qualities)]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
