"""The analytic JPEG proxy against real OpenCV JPEG, its gradients and its Keras layer."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import datasets
from tfjpegnet.jpeg import codec, encoders, proxy

QUALITIES = (5, 15, 50, 90)


@pytest.fixture(scope="module")
def patches(kodak_dir):
    """8 real 64x64 Kodak test patches (kodim23, spread over the image), uint8 [8, 64, 64, 3]."""
    return datasets.image_patches(codec.read_image(kodak_dir / "kodim23.png"))[::9][:8]


def proxy_uint8(rgb_uint8, quality, rounding="exact"):
    """Run the proxy on uint8 images [N, H, W, 3]; returns uint8 [N, H, W, 3]."""
    out = proxy.jpeg(tf.constant(rgb_uint8, tf.float32) / 255.0, quality, rounding)
    return np.round(out.numpy() * 255.0).astype(np.uint8)


def opencv(rgb_uint8, quality):
    """OpenCV JPEG round trip of each image in [N, H, W, 3]."""
    return np.stack([codec.jpeg_roundtrip(x, quality)[0] for x in rgb_uint8])


@pytest.mark.parametrize("quality", QUALITIES)
def test_exact_proxy_matches_opencv_on_kodak_patches(patches, quality):
    real = opencv(patches, quality)
    proxy = proxy_uint8(patches, quality)
    mse = np.mean((real.astype(np.float64) - proxy) ** 2)
    assert mse == 0 or 10 * math.log10(255 ** 2 / mse) >= 42.0
    np.testing.assert_array_equal(proxy, real)  # in fact bit-exact with libjpeg-turbo


@pytest.mark.parametrize("shape", [(37, 53), (17, 8), (3, 5), (1, 1)])
def test_odd_sizes_match_opencv(shape):
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, (1, *shape, 3), dtype=np.uint8)
    for quality in (5, 75):
        proxy = proxy_uint8(image, quality)
        assert proxy.shape == image.shape
        np.testing.assert_array_equal(proxy, opencv(image, quality))


def test_quant_tables_follow_libjpeg_scaling():
    assert proxy.quant_tables(50)[0, 0, 0] == 16 and proxy.quant_tables(50)[1, 7, 7] == 99
    assert np.all(proxy.quant_tables(100) == 1)
    assert proxy.quant_tables(1).max() == 255  # baseline clamp
    assert proxy.quant_tables(15)[0, 0, 0] == (16 * (5000 // 15) + 50) // 100


def test_islow_matrices_approximate_the_dct():
    k = np.arange(8)
    dct = np.where(k[:, None] == 0, math.sqrt(1 / 8), 0.5) * np.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16)
    scale = math.sqrt(8) * 2 ** 13
    np.testing.assert_allclose(proxy._FDCT / scale, dct, atol=1e-4)
    np.testing.assert_allclose(proxy._IDCT / scale, dct.T, atol=1e-4)


def test_coefficients_have_mcu_shapes():
    y, cb, cr = proxy.encode(tf.fill([2, 37, 53, 3], 0.5), 50, "exact")
    assert y.shape == (2, 6, 8, 8, 8) and cb.shape == cr.shape == (2, 3, 4, 8, 8)
    assert y.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(y))) == 0.0  # mid grey: every coefficient is zero


@pytest.mark.parametrize("rounding", ["ste"])
def test_gradients_flow(patches, rounding):
    x = tf.constant(patches[:2], tf.float32) / 255.0
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(tf.square(proxy.jpeg(x, 15, rounding) - 0.5))
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_unknown_rounding_is_rejected():
    with pytest.raises(ValueError, match="rounding"):
        proxy.JpegProxy(15, rounding="nearest")


def test_layer_in_functional_model_round_trips(patches, tmp_path):
    inputs = keras.Input(shape=(None, None, 3))
    model = keras.Model(inputs, proxy.JpegProxy(15, rounding="exact", name="jpeg")(inputs))
    x = patches[:2].astype(np.float32) / 255.0
    expected = proxy.jpeg(x, 15, "exact").numpy()
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-6)

    layer = model.get_layer("jpeg")
    clone = proxy.JpegProxy.from_config(layer.get_config())
    assert (clone.quality, clone.rounding) == (15, "exact")
    path = tmp_path / "proxy.keras"
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(x).numpy(), expected, atol=1e-6)


def test_layer_computes_float32_under_mixed_precision(patches):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = proxy.JpegProxy(50, rounding="exact")
        out = layer(tf.constant(patches[:1], tf.bfloat16) / 255.0)
    finally:
        keras.config.set_dtype_policy(previous)
    assert out.dtype == tf.float32
    assert layer.compute_dtype == "float32"



@pytest.mark.parametrize("quality", [5, 15, 30, 50, 75, 95])
def test_mozjpeg_tables_equal_the_dqt_of_real_mozjpeg_files(tiny_kodak, quality):
    rgb = codec.read_image(sorted(tiny_kodak.iterdir())[0])
    data = encoders.encode("mozjpeg", rgb, quality)
    written = encoders.quant_tables_of(data)
    expected = proxy.quant_tables(quality, "mozjpeg")
    np.testing.assert_array_equal(written[0], expected[0])
    np.testing.assert_array_equal(written[1], expected[1])
    # OpenCV's files carry libjpeg's tables, which the default proxy uses.
    written = encoders.quant_tables_of(codec.encode_jpeg(rgb, quality))
    np.testing.assert_array_equal(np.stack([written[0], written[1]]), proxy.quant_tables(quality))


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)


@pytest.mark.parametrize("quality", [15, 50])
def test_mozjpeg_proxy_models_trellis_quantisation(kodak_dir, quality):
    rgb = codec.read_image(kodak_dir / "kodim05.png")[:128, :192]
    x = tf.constant(rgb[None], tf.float32) / 255.0
    real = codec.decode_jpeg(encoders.encode("mozjpeg", rgb, quality))
    no_trellis = codec.decode_jpeg(encoders._vips_jpeg(
        rgb, quality, interlace=True, **{k: v for k, v in encoders.MOZJPEG_OPTIONS.items() if k != "trellis_quant"}))
    coefficients = proxy.encode(x, quality, "none", encoder="mozjpeg")
    nearest = [proxy.quantise(c, "exact") for c in coefficients]
    plain = np.asarray(proxy.decode(nearest, quality, 128, 192, encoder="mozjpeg")[0] * 255).round()
    modelled = np.asarray(proxy.jpeg(x, quality, "exact", encoder="mozjpeg")[0] * 255).round()
    # With nearest levels the proxy is mozjpeg without trellis quantisation ...
    assert _psnr(plain, no_trellis) > 50
    # ... and its dead zone brings it much closer to what mozjpeg really writes.
    assert _psnr(modelled, real) > _psnr(plain, real) + 2.0
    assert np.all(proxy.dead_zone(quality, "opencv") == 0) and proxy.dead_zone(quality, "mozjpeg")[0, 0] == 0


@pytest.mark.parametrize("encoder", ["opencv", "mozjpeg"])
def test_a_quality_per_example_is_each_example_at_its_own_quality(patches, encoder):
    """A batch with qualities [5, 15, 50, 90, ...] decodes each patch as its own quality does alone."""
    qualities = np.array([5, 15, 50, 90, 30, 75, 10, 95], np.int32)
    x = tf.constant(patches, tf.float32) / 255.0
    together = proxy.jpeg(x, tf.constant(qualities), "exact", encoder).numpy()
    for i, quality in enumerate(qualities):
        alone = proxy.jpeg(x[i:i + 1], int(quality), "exact", encoder).numpy()[0]
        np.testing.assert_array_equal(together[i], alone)
    tables = proxy.quant_tables(tf.constant(qualities), encoder).numpy()
    assert tables.shape == (8, 2, 8, 8) and np.array_equal(tables[3], proxy.quant_tables(90, encoder))
    assert proxy.coefficient_zone(tf.constant(qualities), encoder).shape == (8, 1, 1, 8, 8)


def test_chroma_quantised_keeps_luma_and_shows_mozjpegs_decoded_chroma(patches):
    """proxy.chroma_quantised: luma as the colour path alone leaves it, chroma much nearer real mozjpeg's
    decode at the same quality than the colour path alone is; gradients pass to the image through Y alone
    (each pixel's RGB gradient along the luma weights)."""
    x = tf.constant(patches[:4], tf.float32) / 255.0
    luma = np.array([0.299, 0.587, 0.114])
    for quality in (10, 50):
        coded, resampled = (p.numpy() * 255.0 for p in (proxy.chroma_quantised(x, quality, "mozjpeg"),
                                                         proxy.subsampled(x)))
        assert np.abs((coded - resampled) @ luma).mean() < 0.5
        errors = []
        for rgb, out, near in zip(patches[:4], coded, resampled):
            decoded = codec.decode_jpeg(encoders.encode("mozjpeg", rgb, quality)).astype(np.float64)
            chroma = [np.mean(((a - decoded) - ((a - decoded) @ luma)[..., None]) ** 2) for a in (out, near)]
            errors.append(chroma)
        coded_error, resampled_error = np.mean(errors, axis=0)
        assert coded_error < 0.6 * resampled_error, (quality, coded_error, resampled_error)
    with tf.GradientTape() as tape:
        tape.watch(x)
        coded = proxy.chroma_quantised(x, tf.constant([10, 30, 50, 90]), "mozjpeg")
        loss = tf.reduce_mean(tf.square(coded - tf.stop_gradient(x)))
    gradient = tape.gradient(loss, x).numpy().reshape(-1, 3)
    assert np.abs(gradient).sum() > 0
    weights = np.array([19595.0, 38470.0, 7471.0]) / 65536.0  # libjpeg's fixed-point Y of R, G, B
    along_luma = gradient @ weights / (weights @ weights)
    np.testing.assert_allclose(gradient, along_luma[:, None] * weights, atol=1e-6 * np.abs(gradient).max())


def test_subsampled_is_the_decode_of_a_lossless_quantiser_and_near_opencvs_best(patches):
    """proxy.subsampled is JPEG's colour path alone: the proxy at Q100 without rounding, and OpenCV's Q100 decode
    up to its coefficient rounding (much nearer to it than the original is)."""
    x = tf.constant(patches[:4], tf.float32) / 255.0
    resampled = proxy.subsampled(x)
    np.testing.assert_array_equal(resampled.numpy(), proxy.jpeg(x, 100, "none").numpy())
    for rgb, out in zip(patches[:4], resampled.numpy() * 255.0):
        decoded = codec.decode_jpeg(encoders.encode("opencv", rgb, 100)).astype(np.float64)
        mse_resampled = np.mean((out - decoded) ** 2)
        assert mse_resampled < 0.5 * np.mean((rgb.astype(np.float64) - decoded) ** 2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(tf.square(proxy.subsampled(x) - x))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(loss, x)))) > 0
