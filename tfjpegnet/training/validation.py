"""Validation during training, against real JPEG: the test patches through the real encoder trained for.

After each epoch the trainer measures the network it just trained on the test patches
(uint8 RGB [N, h, w, 3]): Modify-Net by the real pipeline it is meant for (edit, round
to 8 bits, OpenCV JPEG, decode), JPEG-Net by how closely it imitates OpenCV's JPEG.
"""

import math

import numpy as np
import tensorflow as tf

from tfjpegnet import models
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, encoders
from tfjpegnet.pixels import to_uint8
from tfjpegnet.training import patches


def edit_uint8(modify_net, rgb, batch_size=64, quality=None):
    """Run ``modify_net`` on uint8 RGB patches [N, h, w, 3]; returns uint8 RGB [N, h, w, 3] (numpy).

    The edit is clipped to [0, 1] and rounded to 8 bits (:func:`tfjpegnet.pixels.to_uint8`);
    ``quality`` is what a quality-conditioned net edits for (:func:`tfjpegnet.models.edit_rgb`).
    """
    out = []
    for start in range(0, len(rgb), batch_size):
        batch = tf.constant(rgb[start:start + batch_size], tf.float32) / 255.0
        out.append(to_uint8(models.edit_rgb(modify_net, batch, quality)).numpy())
    return np.concatenate(out)


class Validation:
    """Real-JPEG validation on fixed test patches at one quality.

    Args:
      test_patches: uint8 RGB [N, h, w, 3].
      quality: JPEG quality 1..100.
      encoder: the real encoder of the proposed path and of plain JPEG (a name of
        :data:`tfjpegnet.jpeg.encoders.ENCODERS`). Plain JPEG of the patches (OpenCV's, for
        JPEG-Net, when first asked for, and ``encoder``'s, here) is computed once.
    """

    def __init__(self, test_patches, quality, encoder="opencv"):
        self.patches = test_patches
        self.quality = quality
        self.encoder = encoder
        self._opencv_jpeg = None  # OpenCV's JPEG of the patches, for JPEG-Net: made when first needed
        decoded, self.plain_sizes = self._encode(test_patches)
        self.plain_psnr = metrics.psnr(test_patches, decoded)

    def _encode(self, rgb):
        """``encoder``'s JPEG of each uint8 patch [N, h, w, 3]: (decoded uint8 [N, h, w, 3], file sizes)."""
        files = [encoders.encode(self.encoder, p, self.quality) for p in rgb]
        return np.stack([codec.decode_jpeg(f) for f in files]), [len(f) for f in files]

    def modify_net(self, modify_net):
        """Real-JPEG quality of ``modify_net``'s edit of the test patches.

        Returns dict of floats: ``test_psnr`` and ``test_psnr_plain``, the PSNR (dB, RGB,
        all patches pooled) of the proposed path (Modify-Net -> 8 bits -> the real encoder ->
        OpenCV decode) and of plain JPEG; ``test_bpp`` and ``test_bpp_plain``, their mean bits
        per pixel (each patch encoded on its own).
        """
        decoded, sizes = self._encode(edit_uint8(modify_net, self.patches, quality=self.quality))
        pixels = self.patches.shape[1] * self.patches.shape[2]
        return {"test_psnr": metrics.psnr(self.patches, decoded),
                "test_psnr_plain": self.plain_psnr,
                "test_bpp": 8 * float(np.mean(sizes)) / pixels,
                "test_bpp_plain": 8 * float(np.mean(self.plain_sizes)) / pixels}

    def jpeg_net(self, jpeg_net):
        """JPEG-Net's fidelity: {"test_jpegnet_psnr": PSNR (dB) of its output vs real JPEG}.

        Measured on the 8x8 blocks of the test patches, YCrCb in [0, 1].
        """
        x = patches.to_ycrcb(self.patches)
        pred = tf.cast(jpeg_net(models.to_blocks(x), training=False), tf.float32)
        if self._opencv_jpeg is None:
            self._opencv_jpeg = patches.jpeg_targets(self.patches, self.quality)
        target = models.to_blocks(patches.to_ycrcb(self._opencv_jpeg))
        mse = float(tf.reduce_mean(tf.square(pred - target)))
        return {"test_jpegnet_psnr": 10 * math.log10(1.0 / mse)}
