"""The rate term with real mozjpeg's own decisions for luma, for :mod:`.edit_optimum` (``--rate-model decisions``).

The mozjpeg proxy models trellis quantisation by a dead zone (:func:`tfjpegnet.jpeg.proxy.dead_zone`):
where mozjpeg drops coefficients on average. Here instead, every ``refresh`` Adam steps the
current edit is encoded by real mozjpeg and decoded, and its luma levels are re-derived (the
DCT of the decoded Y plane over the quantisation steps, rounded: 97.5 % of the levels agree
exactly with the coded ones on an OpenCV file at Q15, where the exact levels are known). A luma
coefficient that mozjpeg coded as zero then costs nothing and pulls with no gradient; every
other luma coefficient is pulled by the rate surrogate with no dead zone; chroma keeps the dead
zone. This asks whether a rate term that knows mozjpeg's real per-block choices raises the
ceiling of the loss on top of mozjpeg.
"""

import numpy as np
import tensorflow as tf

from tfjpegnet import pixels
from tfjpegnet.jpeg import codec, color, encoders, proxy, rate
from tfjpegnet.training.objectives import ModifyObjective

DROPPED = 1e4  # the luma zone of a coefficient real mozjpeg coded as zero: no level, no pull


def real_luma_levels(rgb, quality):
    """Luma levels of real mozjpeg's JPEG of ``rgb`` (uint8 [H, W, 3]) at ``quality``.

    Returns:
      float32 numpy [1, 2 Mr, 2 Mc, 8, 8] of integers (natural order), as
      :func:`tfjpegnet.jpeg.proxy.encode` lays out Y (Mr x Mc MCUs).
    """
    decoded = codec.decode_jpeg(encoders.encode("mozjpeg", rgb, quality))
    y = proxy.encode(tf.constant(decoded[None], tf.float32) / 255.0, quality, rounding="none", encoder="mozjpeg")[0]
    return np.round(y.numpy())


def luma_zone(levels):
    """The per-coefficient luma zone of :func:`real_luma_levels`: DROPPED where 0, else 0; float32, same shape."""
    return np.where(levels == 0, DROPPED, 0.0).astype(np.float32)


class DecisionObjective:
    """Callable (x, edited, zone) -> per-example loss [B]: ``config``'s objective, its rate term with
    ``zone`` (float32 [1, 2 Mr, 2 Mc, 8, 8], :func:`luma_zone`) for luma instead of the dead zone.

    x, edited: YCrCb float32 [1, h, w, 3] in [0, 1], h and w multiples of 16. ``config``: an
    :func:`tfjpegnet.evaluation.edit_optimum.objective_config` with encoder "mozjpeg".
    """

    def __init__(self, config):
        if config["encoder"] != "mozjpeg":
            raise ValueError("the decisions rate model is mozjpeg's")
        self.distortion = ModifyObjective({**config, "rate_weight": 0.0})
        self.quality, self.rate_weight = config["quality"], config["rate_weight"]
        self.chroma_zone = proxy.coefficient_zone(self.quality, "mozjpeg")

    def bits_per_pixel(self, rgb, zone):
        """The rate estimate (:func:`tfjpegnet.jpeg.rate.estimate_bits`'s form) with ``zone`` for luma; [B]."""
        log_bits, nonzero_bits, block_bits = rate.CONSTANTS["mozjpeg"]
        value, surrogate = 0.0, 0.0
        for index, coef in enumerate(proxy.encode(rgb, self.quality, rounding="none", encoder="mozjpeg")):
            ac_zone = rate._ac_zone(1.0) * zone if index == 0 else rate._ac_zone(self.chroma_zone)
            levels = rate._symbols(proxy.quantise(coef, "exact", ac_zone), index == 0)
            blocks = tf.cast(tf.shape(coef)[1] * tf.shape(coef)[2], tf.float32)
            value += (log_bits * tf.reduce_sum(rate._log2_1p(levels), 1)
                      + nonzero_bits * tf.reduce_sum(tf.cast(levels != 0, tf.float32), 1) + block_bits * blocks)
            shrunk = tf.sign(coef) * tf.nn.relu(tf.abs(coef) - ac_zone)
            surrogate += log_bits * tf.reduce_sum(rate._log2_1p(rate._symbols(shrunk, index == 0)), 1)
        bits = tf.stop_gradient(value - surrogate) + surrogate
        return bits / tf.cast(tf.shape(rgb)[1] * tf.shape(rgb)[2], tf.float32)

    def __call__(self, x, edited, zone):
        loss = self.distortion(x, edited)
        if self.rate_weight:
            loss += self.rate_weight * self.bits_per_pixel(color.ycrcb_to_rgb(edited), zone)
        return loss


def optimise_image(rgb, config, lr, steps, refresh, progress=None):
    """Pixels of one image optimised with Adam for :class:`DecisionObjective`, its zone refreshed from
    real mozjpeg every ``refresh`` steps (from the first).

    The objective sees the image mirrored out to whole MCUs (as in :mod:`.edit_optimum`); real
    mozjpeg encodes that padded image, so its levels lie on the proxy's grid.

    Args:
      rgb: uint8 [H, W, 3]. config, lr, steps: the objective config, Adam's learning rate and steps.
      progress: optional callable(loss) after each step.

    Returns:
      (uint8 [1, H, W, 3] the optimised image, list of float losses).
    """
    from tfjpegnet.evaluation.edit_optimum import PixelAdam, _padding

    objective = DecisionObjective(config)
    paddings = _padding(rgb.shape[0], rgb.shape[1], 0)
    x = tf.constant(color.rgb_to_ycrcb(rgb[None].astype(np.float32) / 255.0))

    def levels_zone(value):
        padded = np.asarray(pixels.to_uint8(color.ycrcb_to_rgb(tf.pad(value, paddings, "SYMMETRIC"))))[0]
        return luma_zone(real_luma_levels(padded, config["quality"]))

    zone = tf.Variable(levels_zone(x), trainable=False)
    adam = PixelAdam(lambda original, edited: objective(original, edited, zone), lr)
    value, m, v, losses = x, tf.zeros_like(x), tf.zeros_like(x), []
    for t in range(1, steps + 1):
        if t > 1 and (t - 1) % refresh == 0:
            zone.assign(levels_zone(value))
        value, m, v, loss = adam.step(x, value, m, v, tf.constant(t, tf.float32), paddings)
        losses.append(float(loss))
        if progress:
            progress(losses[-1])
    return np.asarray(pixels.to_uint8(color.ycrcb_to_rgb(value))), losses
