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


def fit(patches, encoder, weight, reference):
    """Fit the exponent on uint8 training patches [N, h, w, 3] with ``encoder``'s plain JPEG.

    Returns:
      (RateWeight, rows of :func:`plain_slopes`).
    """
    rows = plain_slopes(patches, encoder)
    exponent = np.polyfit(np.log([r["quality"] for r in rows]), np.log([r["slope"] for r in rows]), 1)[0]
    return RateWeight(weight, reference, exponent), rows
