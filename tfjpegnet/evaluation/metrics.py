"""Quality and rate metrics: MSE, PSNR, SSIM, MS-SSIM, bits per pixel, BD-rate, bit saving.

Images are RGB arrays [..., H, W, 3] with values in [0, 255] (uint8 or float) unless a
function says otherwise. Quality metrics are computed on the decoded image against the
original, never through a model of JPEG.

BD-rate and bit saving answer "how many bits for the same quality?":

- ``bd_rate``: Bjontegaard delta rate (VCEG-M33) with piecewise cubic Hermite
  interpolation (PCHIP, as in later VCEG/JVET practice) of log rate as a function of
  quality, averaged over the quality range both curves cover.
- ``bit_saving``: 1 - bpp_model / bpp_plain(quality_model), where bpp_plain()
  interpolates plain JPEG's curve (normally Q = 1..100) linearly in log bpp.

A metric may be NaN (undefined, e.g. MS-SSIM of a small image) or infinite (PSNR of an
exact copy); :func:`json_ready` writes both as JSON ``null``.
"""

import math

import numpy as np
import scipy.interpolate
import tensorflow as tf

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # BT.601, as OpenCV's RGB -> YCrCb
SSIM_FILTER = 11  # tf.image.ssim's Gaussian window (sigma 1.5)
MS_SSIM_SCALES = 5  # tf.image.ssim_multiscale's default power factors


def mse(reference, test):
    """Mean squared error over every element, in float64 (arrays of the same shape, any numeric dtype)."""
    diff = np.asarray(reference, np.float64) - np.asarray(test, np.float64)
    return float(np.mean(diff * diff))


def psnr(reference, test, peak=255.0):
    """Peak signal-to-noise ratio in dB.

    Args:
      reference, test: arrays of the same shape (any numeric dtype), values in [0, peak].
      peak: the largest possible value (255 for 8-bit images).

    Returns:
      float: 10 log10(peak^2 / MSE), :func:`mse` over every element; ``inf`` if equal.
    """
    error = mse(reference, test)
    return float("inf") if error == 0 else float(10.0 * np.log10(peak * peak / error))


def luma(rgb):
    """BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B: [..., 3] -> float64 [...], same range as rgb."""
    return np.asarray(rgb, np.float64) @ np.asarray(LUMA_WEIGHTS)


def psnr_y(reference, test):
    """PSNR in dB of the luma (BT.601, unrounded) of two RGB images in [0, 255], shape [..., 3]."""
    return psnr(luma(reference), luma(test))


def _tensor(image):
    """An image array as a float32 tensor, values unchanged."""
    return tf.constant(np.asarray(image, np.float32))


# Traced once per shape family: eager mode spends most of the time of a small image in op dispatch.
_ssim = tf.function(lambda a, b: tf.image.ssim(a, b, max_val=255.0), reduce_retracing=True)
_ms_ssim = tf.function(lambda a, b: tf.image.ssim_multiscale(a, b, max_val=255.0), reduce_retracing=True)


def ssim(reference, test):
    """SSIM of RGB images, ``tf.image.ssim`` with max_val 255 (mean over the 3 channels).

    Args:
      reference, test: arrays [N, H, W, 3] or [H, W, 3] in [0, 255], H and W >= 11.

    Returns:
      float64 array [N] (or a float for a single image), values in [-1, 1].
    """
    value = _ssim(_tensor(reference), _tensor(test))
    value = value.numpy().astype(np.float64)
    return float(value) if value.ndim == 0 else value


def ms_ssim_min_side():
    """Smallest height/width ``ms_ssim`` accepts: the 5th scale (4 halvings, rounded up) must be >= 11."""
    return (SSIM_FILTER - 1) * 2 ** (MS_SSIM_SCALES - 1) + 1


def ms_ssim(reference, test):
    """MS-SSIM of one RGB image pair, ``tf.image.ssim_multiscale`` (5 scales, max_val 255).

    Args:
      reference, test: arrays [H, W, 3] in [0, 255].

    Returns:
      float in [0, 1]; NaN if min(H, W) < :func:`ms_ssim_min_side` (161), because the
      coarsest scale would then be smaller than the 11x11 SSIM window. No fewer-scale
      substitute is reported under the same name.
    """
    if min(np.shape(reference)[:2]) < ms_ssim_min_side():
        return float("nan")
    value = _ms_ssim(_tensor(reference)[None], _tensor(test)[None])
    return float(value.numpy()[0])


def bpp(nbytes, pixels):
    """Bits per pixel: 8 * nbytes / pixels (pixels = height * width, not counting channels)."""
    return 8.0 * nbytes / pixels


def _log_rate_by_quality(rates, qualities):
    """Sort an RD curve by quality; return (unique finite qualities, mean log rate at each)."""
    q = np.asarray(qualities, np.float64)
    r = np.asarray(rates, np.float64)
    keep = np.isfinite(q) & np.isfinite(r) & (r > 0)
    q_unique, inverse = np.unique(q[keep], return_inverse=True)
    log_rate = np.bincount(inverse, np.log(r[keep])) / np.bincount(inverse)
    return q_unique, log_rate


def bd_rate(ref_rates, ref_qualities, test_rates, test_qualities):
    """Bjontegaard delta rate of a test RD curve against a reference curve, in percent.

    Log rate is interpolated as a function of quality (PSNR, SSIM, ...) with a
    piecewise cubic Hermite interpolant (``scipy.interpolate.PchipInterpolator``) through
    each curve's points, integrated over the quality interval both curves cover, and the
    mean difference turned back into a rate ratio. Negative = the test curve needs fewer
    bits for the same quality (e.g. test rates = 0.9 x reference rates -> -10.0).

    Args:
      ref_rates, test_rates: positive rates (bpp or bytes), one per point.
      ref_qualities, test_qualities: quality of each point (larger is better); points
        are sorted by quality, equal qualities averaged in log rate, non-finite dropped.

    Returns:
      float percent; NaN if a curve has fewer than 2 points or the ranges do not overlap.
    """
    q_ref, lr_ref = _log_rate_by_quality(ref_rates, ref_qualities)
    q_test, lr_test = _log_rate_by_quality(test_rates, test_qualities)
    if min(len(q_ref), len(q_test)) < 2:
        return float("nan")
    low, high = max(q_ref[0], q_test[0]), min(q_ref[-1], q_test[-1])
    if not low < high:
        return float("nan")
    area_ref = scipy.interpolate.PchipInterpolator(q_ref, lr_ref).integrate(low, high)
    area_test = scipy.interpolate.PchipInterpolator(q_test, lr_test).integrate(low, high)
    return float((np.exp((area_test - area_ref) / (high - low)) - 1.0) * 100.0)


def plain_rate_at(quality, plain_rates, plain_qualities):
    """Rate plain JPEG needs to reach ``quality``, interpolated linearly in log rate.

    The curve is sorted by quality and made non-decreasing in rate (the cheapest plain
    point reaching at least a quality counts, which only matters where JPEG's curve
    wiggles at the lowest settings).

    Args:
      quality: the quality to reach (same metric as ``plain_qualities``).
      plain_rates, plain_qualities: plain JPEG's curve, e.g. Q = 1..100.

    Returns:
      float rate; NaN if ``quality`` is outside the curve's quality range.
    """
    q, log_rate = _log_rate_by_quality(plain_rates, plain_qualities)
    log_rate = np.minimum.accumulate(log_rate[::-1])[::-1]
    if len(q) == 0 or not q[0] <= quality <= q[-1]:
        return float("nan")
    return float(np.exp(np.interp(quality, q, log_rate)))


def bit_saving(model_rate, model_quality, plain_rates, plain_qualities):
    """Bit saving at equal quality, in percent: 100 * (1 - rate_model / rate_plain(quality_model)).

    ``rate_plain`` is :func:`plain_rate_at` on plain JPEG's curve with the same encoder
    settings on the same images. Positive = the model needs fewer bits than plain JPEG
    for its quality; NaN if its quality is outside plain JPEG's range.
    """
    return float((1.0 - model_rate / plain_rate_at(model_quality, plain_rates, plain_qualities)) * 100.0)


def json_ready(value):
    """A copy of nested dicts/lists/tuples with NaN and infinities replaced by None (strict JSON ``null``)."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def spearman(x, y):
    """Spearman rank correlation of two equal-length 1-D arrays: float in [-1, 1], or None if undefined."""
    from scipy.stats import spearmanr  # evaluation-only dependency

    if len(x) < 2:
        return None
    value = spearmanr(x, y)[0]
    return None if np.isnan(value) else float(value)
