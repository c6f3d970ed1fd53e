"""What Modify-Net minimises: the per-example loss of an edited batch.

``proxy="jpegnet"`` (the paper): MSE between the frozen JPEG-Net's output on the 8x8
blocks of the edited image, reassembled, and the original.

``proxy="analytic"``: the edited image goes through an exact differentiable model of
OpenCV's JPEG (:mod:`tfjpegnet.jpeg_proxy`); the loss is a sum of the chosen
distortion terms plus ``rate_weight`` x the estimated bits per pixel
(:mod:`tfjpegnet.rate`, with the gradient surrogate ``rate_gradient``), in the spirit
of Talebi et al. 2021 ("Better Compression with Deep Pre-Editing"):

- ``decoded``: MSE(JPEG(edited), original), RGB in [0, 1];
- ``proximity``: MSE(edited, original), RGB in [0, 1];
- ``decoded-ssim``: ``ssim_weight`` x (1 - SSIM(JPEG(edited), original));
- ``proximity-ssim``: ``ssim_weight`` x (1 - SSIM(edited, original));
- ``jpeg-ssim``: ``ssim_weight`` x (1 - SSIM(JPEG(edited), JPEG(original))): keep the
  structure plain JPEG keeps; JPEG(original) is exact and has no gradient, so the edit is
  never asked to beat plain JPEG's own decode (no pre-compensation target);
- ``contrast``: ``contrast_weight`` x the share of the block contrast JPEG keeps of the
  original that the edit gives up (:mod:`tfjpegnet.contrast`; no gradient through rounding).

Terms through the proxy's rounding (``decoded``, ``decoded-ssim``) see a straight-through
or smoothed gradient of quantisation; at a fixed quality they push the edit to
"pre-compensate" quantisation error, which real JPEG does not reward (DESIGN.md). The
proximity terms need no gradient through rounding; the rate term supplies the pressure
towards cheaper coefficients.
"""

import tensorflow as tf

from tfjpegnet import models
from tfjpegnet.jpeg import color, proxy, rate
from tfjpegnet.training import contrast


class ModifyObjective:
    """Callable (x, edited) -> per-example loss, float32 [batch].

    x, edited: float32 YCrCb [batch, h, w, 3] in [0, 1] (edited is not clipped);
    h and w are multiples of 16. ``config`` supplies proxy, quality, distortion,
    rate_weight, ssim_weight, contrast_weight, rounding and rate_gradient; ``jpeg_net``
    is needed for the paper's proxy.
    """

    def __init__(self, config, jpeg_net=None):
        self.jpeg_net = jpeg_net
        self.quality = config["quality"]
        self.terms = config["distortion"].split("+")
        self.rate_weight = config["rate_weight"]
        self.ssim_weight = config["ssim_weight"]
        self.contrast_weight = config["contrast_weight"]
        self.rounding = config["rounding"]
        self.rate_gradient = config["rate_gradient"]
        self.analytic = config["proxy"] == "analytic"

    def __call__(self, x, edited):
        if not self.analytic:
            return self.jpegnet_loss(x, edited)
        original = color.ycrcb_to_rgb(x)
        edited_rgb = color.ycrcb_to_rgb(edited)
        loss = tf.zeros(tf.shape(x)[:1])
        if {"decoded", "decoded-ssim", "jpeg-ssim"} & set(self.terms):
            decoded = proxy.jpeg(edited_rgb, self.quality, self.rounding)
        if "decoded" in self.terms:
            loss += tf.reduce_mean(tf.square(decoded - original), axis=[1, 2, 3])
        if "proximity" in self.terms:
            loss += tf.reduce_mean(tf.square(edited_rgb - original), axis=[1, 2, 3])
        reference = tf.clip_by_value(original, 0.0, 1.0)
        if "decoded-ssim" in self.terms:
            loss += self.ssim_weight * (1.0 - tf.image.ssim(decoded, reference, max_val=1.0))
        if "proximity-ssim" in self.terms:
            edited_clipped = tf.clip_by_value(edited_rgb, 0.0, 1.0)
            loss += self.ssim_weight * (1.0 - tf.image.ssim(edited_clipped, reference, max_val=1.0))
        if "jpeg-ssim" in self.terms:
            plain = tf.stop_gradient(proxy.jpeg(original, self.quality, "exact"))
            loss += self.ssim_weight * (1.0 - tf.image.ssim(decoded, plain, max_val=1.0))
        if "contrast" in self.terms or self.rate_weight:
            coefficients = proxy.encode(edited_rgb, self.quality, rounding="none")
        if "contrast" in self.terms:
            original_y = proxy.encode(original, self.quality, rounding="none")[0]
            loss += self.contrast_weight * contrast.lost_share(original_y, coefficients[0], self.quality)
        if self.rate_weight:
            height, width = tf.shape(x)[1], tf.shape(x)[2]
            loss += self.rate_weight * rate.bits_per_pixel(coefficients, height, width, self.rate_gradient)
        return loss

    def jpegnet_loss(self, x, edited):
        """The paper's loss: MSE(JPEG-Net(blocks(edited)) reassembled, x), YCrCb."""
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        decoded = models.from_blocks(
            tf.cast(self.jpeg_net(models.to_blocks(edited), training=False), tf.float32), height, width)
        return tf.reduce_mean(tf.square(decoded - x), axis=[1, 2, 3])
