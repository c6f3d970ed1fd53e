"""Fitting the proxy's model of an encoder to what the real encoder writes.

Two fits, both on crops of the user's training images (never on test images):

- :func:`fit_dead_zone`: the slope of mozjpeg's dead zone (:func:`tfjpegnet.jpeg.proxy.dead_zone`)
  at each quality, the one that makes the proxy's decoded pixels closest (PSNR) to real
  mozjpeg's; the proxy carries them as ``TRELLIS_SLOPES``.
- :func:`fit_rate`: the rate estimate's three constants (:mod:`tfjpegnet.jpeg.rate`) by least
  squares against the real encoder's file sizes minus headers, and the rank correlation the
  fitted estimate then reaches.

Crops are RGB uint8 [N, h, w, 3] with h, w multiples of 16.
"""

import numpy as np
import tensorflow as tf

from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, encoders, proxy, rate


def _decode_with_slope(crops, quality, slope):
    """The mozjpeg proxy's decoded crops (uint8-valued float64) with dead-zone ``slope``."""
    x = tf.constant(crops, tf.float32) / 255.0
    zone = slope * proxy.ZIGZAG_INDEX / 63.0
    levels = [proxy.quantise(c, "exact", zone) for c in proxy.encode(x, quality, "none", encoder="mozjpeg")]
    decoded = proxy.decode(levels, quality, crops.shape[1], crops.shape[2], encoder="mozjpeg")
    return np.round(decoded.numpy() * 255.0)


def fit_dead_zone(crops, qualities, slopes=np.arange(0.0, 1.81, 0.1)):
    """Best dead-zone slope per quality.

    Returns:
      list of dicts {"quality", "slope", "psnr" (proxy vs real mozjpeg at that slope, dB),
      "psnr_nearest" (slope 0: mozjpeg's tables with nearest levels), "psnr_model" (the
      proxy's interpolated slopes)}, one per quality.
    """
    rows = []
    for quality in qualities:
        real = np.stack([codec.decode_jpeg(encoders.encode("mozjpeg", c, quality)) for c in crops])
        scores = {float(s): metrics.psnr(_decode_with_slope(crops, quality, s), real) for s in slopes}
        best = max(scores, key=scores.get)
        model = np.asarray(proxy.jpeg(tf.constant(crops, tf.float32) / 255.0, quality, "exact", "mozjpeg"))
        rows.append({"quality": int(quality), "slope": round(best, 3), "psnr": scores[best],
                     "psnr_nearest": scores[0.0], "psnr_model": metrics.psnr(np.round(model * 255.0), real)})
    return rows


def rate_features(crops, quality, encoder):
    """Per crop, the rate estimate's three features for ``encoder``'s proxy: float64 [N, 3]."""
    x = tf.constant(crops, tf.float32) / 255.0
    return rate.features(proxy.encode(x, quality, "exact", encoder=encoder)).numpy().astype(np.float64)


def coded_bits(crops, quality, encoder):
    """Per crop, the bits of ``encoder``'s file after its headers: float64 [N]."""
    files = [encoders.encode(encoder, c, quality) for c in crops]
    return np.array([8.0 * (len(f) - encoders.header_bytes(f)) for f in files])


def fit_rate(crops, qualities, encoder, proxy_encoder):
    """Least-squares (LOG_BITS, NONZERO_BITS, BLOCK_BITS) for ``encoder``'s real sizes.

    Args:
      crops: RGB uint8 [N, h, w, 3].
      qualities: qualities pooled in the fit.
      encoder: a name of :data:`tfjpegnet.jpeg.encoders.ENCODERS` (the real sizes).
      proxy_encoder: the proxy's model of it, "opencv" or "mozjpeg" (the features).

    Returns:
      dict {"constants": [3 floats], "rows": [{"quality", "spearman", "mean_ratio"}]}: the
      estimate's rank correlation with the real sizes and mean estimate / real per quality.
    """
    features, targets, groups = [], [], []
    for quality in qualities:
        features.append(rate_features(crops, quality, proxy_encoder))
        targets.append(coded_bits(crops, quality, encoder))
        groups.append(quality)
    constants = np.linalg.lstsq(np.concatenate(features), np.concatenate(targets), rcond=None)[0]
    rows = []
    for quality, f, t in zip(groups, features, targets):
        estimate = f @ constants
        rows.append({"quality": int(quality), "spearman": metrics.spearman(estimate, t),
                     "mean_ratio": float(np.mean(estimate) / np.mean(t))})
    return {"constants": [float(c) for c in constants], "rows": rows}
