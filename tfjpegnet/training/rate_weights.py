"""The rate weight as a function of quality, for one Modify-Net trained for every quality.

At one quality the loss is distortion + ``rate_weight`` x estimated bits per pixel. Plain
JPEG's own curve trades squared error for bits at a rate that falls steeply with quality
(its slope -dMSE/dbpp), so one weight for all qualities would ask for far too little
saving at low qualities and a large PSNR loss at high ones. The weight therefore follows
that slope: ``rate_weight(q) = rate_weight x (q / reference) ** exponent``, where
``reference`` is the run's ``--quality`` (the weight given is the weight there) and
``exponent`` is the least-squares slope of log(-dMSE/dbpp) against log(q) of the real
encoder's plain JPEG on training patches, at qualities 5..95 (dMSE/dbpp by central
differences, q +- 2, MSE of RGB in [0, 1] as in the proximity term, each patch coded on its
own and the means taken over patches).

The power law is one straight line through ten measured slopes and misses them by up to a
factor of 2 (on the corpus, for mozjpeg, it puts the weight at 1.3 x the slope at Q55 and
2.6 x at the reference Q15). The ``"slope"`` form (:class:`SlopeRateWeight`) follows the measured
slopes themselves instead: ``rate_weight x slope(q) / slope(reference)``, ``slope`` interpolated
linearly in log(q), log(slope) between the measured qualities and constant outside them, so
the weight is the same multiple of plain JPEG's own slope at every quality.
"""

import numpy as np
import tensorflow as tf

from tfjpegnet.jpeg import codec, encoders

FIT_QUALITIES = tuple(range(5, 96, 10))
DELTA = 2


def _mean_point(patches, quality, encoder):
    """(mean MSE in [0, 1] units, mean bpp) of ``encoder``'s plain JPEG of uint8 patches [N, h, w, 3]."""
    files = [encoders.encode(encoder, p, quality) for p in patches]
    decoded = np.stack([codec.decode_jpeg(f) for f in files]).astype(np.float64) / 255.0
    mse = float(np.mean((decoded - patches.astype(np.float64) / 255.0) ** 2))
    return mse, 8.0 * float(np.mean([len(f) for f in files])) / (patches.shape[1] * patches.shape[2])


def plain_slopes(patches, encoder, qualities=FIT_QUALITIES):
    """-dMSE/dbpp of plain JPEG at each quality: list of dicts {"quality", "slope", "bpp", "mse"}."""
    rows = []
    for q in qualities:
        (mse_lo, bpp_lo), (mse, bpp), (mse_hi, bpp_hi) = (_mean_point(patches, v, encoder)
                                                          for v in (q - DELTA, q, q + DELTA))
        rows.append({"quality": q, "slope": (mse_lo - mse_hi) / (bpp_hi - bpp_lo), "bpp": bpp, "mse": mse})
    return rows


class RateWeight:
    """``weight x (q / reference) ** exponent``: callable on an int32 tensor [B] of qualities -> float32 [B].

    Args:
      weight: the rate weight at ``reference`` (>= 0).
      reference: the quality ``weight`` is for (1..100).
      exponent: the power (negative: lower qualities weigh bits more), see :func:`fit`.
    """

    def __init__(self, weight, reference, exponent):
        self.weight, self.reference, self.exponent = float(weight), int(reference), float(exponent)

    def __call__(self, quality):
        q = tf.cast(quality, tf.float32)
        return self.weight * tf.pow(q / float(self.reference), self.exponent)

    def describe(self):
        """The function as text, e.g. "0.02 x (q / 15)^-1.72"."""
        return f"{self.weight:g} x (q / {self.reference})^{self.exponent:.2f}"


class SlopeRateWeight:
    """``weight x slope(q) / slope(reference)``: callable on an int32 tensor [B] of qualities -> float32 [B].

    ``slope`` is piecewise linear in (log q, log slope) through the measured points and
    constant outside the first and last of them.

    Args:
      weight: the rate weight at ``reference`` (>= 0).
      reference: the quality ``weight`` is for (1..100).
      qualities: the measured qualities, ascending (at least 2).
      slopes: plain JPEG's -dMSE/dbpp at each of them (all > 0), see :func:`plain_slopes`.
    """

    def __init__(self, weight, reference, qualities, slopes):
        self.weight, self.reference = float(weight), int(reference)
        self.qualities, self.slopes = [int(q) for q in qualities], [float(v) for v in slopes]
        if len(self.qualities) < 2 or np.any(np.diff(self.qualities) <= 0) or min(self.slopes) <= 0:
            raise ValueError(f"slopes need >= 2 ascending qualities and positive values: {qualities}, {slopes}")
        self._log_q = np.log(self.qualities)
        self._log_slope = np.log(self.slopes)
        self._log_ref = float(np.interp(np.log(self.reference), self._log_q, self._log_slope))

    def __call__(self, quality):
        log_q = tf.math.log(tf.cast(quality, tf.float32))
        log_slope = tf.fill(tf.shape(log_q), float(self._log_slope[0]))
        for (x0, x1), (y0, y1) in zip(zip(self._log_q[:-1], self._log_q[1:]),
                                      zip(self._log_slope[:-1], self._log_slope[1:])):
            log_slope += float(y1 - y0) * tf.clip_by_value((log_q - float(x0)) / float(x1 - x0), 0.0, 1.0)
        return self.weight * tf.exp(log_slope - self._log_ref)

    def describe(self):
        """The function as text, e.g. "0.02 x slope(q) / slope(15) (plain JPEG's, q 5..95)"."""
        return (f"{self.weight:g} x slope(q) / slope({self.reference}) "
                f"(plain JPEG's, q {self.qualities[0]}..{self.qualities[-1]})")


def fit(patches, encoder, weight, reference, form="power"):
    """Fit the rate weight per quality on uint8 training patches [N, h, w, 3] with ``encoder``'s plain JPEG.

    ``form``: "power" (:class:`RateWeight`, the exponent fitted to the slopes) or "slope"
    (:class:`SlopeRateWeight`, the slopes themselves).

    Returns:
      (RateWeight or SlopeRateWeight, rows of :func:`plain_slopes`).
    """
    rows = plain_slopes(patches, encoder)
    qualities, slopes = [r["quality"] for r in rows], [r["slope"] for r in rows]
    if form == "slope":
        return SlopeRateWeight(weight, reference, qualities, slopes), rows
    exponent = np.polyfit(np.log(qualities), np.log(slopes), 1)[0]
    return RateWeight(weight, reference, exponent), rows
