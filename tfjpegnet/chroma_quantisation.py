"""A luma step that cancels the colour error mozjpeg's chroma quantisation will leave.

The luma step of :mod:`tfjpegnet.colour_compensation` moves Y against the chroma error of the
4:2:0 round trip alone (resampling, no quantiser). At the qualities people use most of the
decoded chroma error is quantisation: mozjpeg codes the 2x2-averaged Cb and Cr planes with
coarse steps. :class:`QuantisedChromaLuma` predicts that decoded chroma in closed form, as
mozjpeg's decoder will show it (2x2 means, 8x8 DCT of each plane, the encoder's steps at the
request's quality with the dead-zone model of trellis quantisation of
:func:`tfjpegnet.jpeg.proxy.dead_zone`, inverse DCT, libjpeg's fancy upsampling), and moves Y
by ``-s(q) (w_cr dCr + w_cb dCb)``: the Y change that minimises the RGB error of the chroma
error (dCr, dCb) against the original (:func:`tfjpegnet.colour_compensation.luma_weights`).
Its strength ``s(q)`` is a piecewise-linear function of the quality
(:func:`tfjpegnet.colour_compensation.strength`). The prediction uses mozjpeg's table set 3
(also for other encoders: the step is made for the encoder the nets are trained for). No
learned weights; about 0.7 GFLOP per megapixel (two 64x64 transforms per 8x8 block of each
quarter-size chroma plane and a 3x3 upsampling), float32 also in an int8 TFLite file. The
rounding to levels passes gradients straight through (:func:`tfjpegnet.jpeg.proxy.quantise`), so
a net trained with the step in place (``train --colour-compensation``) learns how its chroma
moves the step's Y.
"""

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import graph_ops
from tfjpegnet.colour_compensation import _fancy_weight, _replicated, luma_weights, strength
from tfjpegnet.jpeg import proxy

ENCODER = "mozjpeg"  # whose chroma steps and dead zone the prediction uses
# An output pixel depends on the edit's chroma in its own 16x16 MCU and, through the fancy
# upsampling of the neighbouring 2x2 means, in the next MCU on each side: at most this far.
RADIUS = 32
KNOTS = ((1.0, 1.0),)  # the strength by quality: constant 1 (a least-squares luma answer to the predicted error)


def _dct_matrix():
    """The orthonormal 8-point DCT-II matrix [u, x], float64 (JPEG's DCT: F = D f D')."""
    u, x = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    d = np.cos((2 * x + 1) * u * np.pi / 16) * np.sqrt(2.0 / 8.0)
    d[0] /= np.sqrt(2.0)
    return d


def _kernels():
    """(dct [1, 1, 64, 64], idct [1, 1, 64, 64], fancy [3, 3, 1, 4]) float32 numpy kernels.

    dct maps the 64 pixels of a block in ``tf.nn.space_to_depth(8)`` order (8 i + j) to its 64
    coefficients (8 u + v, natural order); idct is its transpose. fancy gives, per output
    phase 2 py + px of a 2x2 cell (``tf.nn.depth_to_space(2)`` order), libjpeg's triangle
    interpolation of the 3x3 low-resolution neighbourhood.
    """
    d = _dct_matrix()
    dct = np.einsum("ui,vj->ijuv", d, d).reshape(64, 64)
    fancy = np.zeros((3, 3, 1, 4))
    for py, px, ey, ex in np.ndindex(2, 2, 3, 3):
        fancy[ey, ex, 0, 2 * py + px] = _fancy_weight(py, ey - 1) * _fancy_weight(px, ex - 1)
    return dct[None, None].astype(np.float32), dct.T[None, None].astype(np.float32), fancy.astype(np.float32)


def _by_quality():
    """(steps, zones): float32 numpy [100, 64], the chroma quantisation steps and dead zones at Q = 1..100."""
    steps = np.stack([proxy.quant_tables(q, ENCODER)[1].reshape(64) for q in range(1, 101)])
    zones = np.stack([proxy.dead_zone(q, ENCODER).reshape(64) for q in range(1, 101)])
    zones[:, 0] = 0.0  # DC is not dead-zoned (rate model and proxy alike)
    return steps.astype(np.float32), zones.astype(np.float32)


def _ceil_to(n, multiple):
    """``n`` (int32 scalar tensor) rounded up to a multiple of ``multiple``."""
    return (n + multiple - 1) // multiple * multiple


@keras.saving.register_keras_serializable(package="tfjpegnet")
class QuantisedChromaLuma(keras.layers.Layer):
    """[image, residual, q / 100] -> the residual with Y moved against the predicted decoded chroma error.

    Inputs: ``image`` float [B, H, W, 3] YCrCb in [0, 1] (the original), ``residual`` float
    [B, H, W, 3] (the edit is image + residual), the quality float [B, 1] as q / 100. Output:
    float32 [B, H, W, 3], the residual with only its Y channel changed; a strength of 0 leaves it
    unchanged. Any H, W (edges extended by replication to whole 16x16 MCUs, output cropped).
    """

    def __init__(self, knots=KNOTS, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.knots = tuple(tuple(float(v) for v in k) for k in knots)
        self._dct, self._idct, self._fancy = (tf.constant(k) for k in _kernels())
        steps, zones = _by_quality()
        self._steps, self._zones = tf.constant(steps), tf.constant(zones)
        self._weights = tf.constant(luma_weights(), shape=[1, 1, 1, 2])

    def call(self, inputs):
        with tf.name_scope(graph_ops.FLOAT_SCOPE):  # rounding to levels: no int8 arithmetic
            return self._changed(*(tf.cast(t, tf.float32) for t in inputs))

    def decoded_chroma(self, chroma, quality):
        """The Cr, Cb planes mozjpeg's decoder shows for ``chroma`` [B, H, W, 2] (0..1); float32, same shape.

        ``quality``: float [B, 1], q / 100.
        """
        height, width = tf.shape(chroma)[1], tf.shape(chroma)[2]
        padded = graph_ops.top_left(_replicated(_replicated(chroma, 0, 15, axis=1), 0, 15, axis=2),
                                    _ceil_to(height, 16), _ceil_to(width, 16))
        low = tf.nn.avg_pool2d(padded * 255.0 - 128.0, 2, 2, "VALID")  # the encoder's 2x2 means
        index = tf.clip_by_value(tf.cast(tf.round(100.0 * quality[:, 0]), tf.int32), 1, 100) - 1
        steps = tf.gather(self._steps, index)[:, None, None]  # [B, 1, 1, 64]
        zones = tf.gather(self._zones, index)[:, None, None]
        planes = []
        for c in range(2):
            blocks = tf.nn.space_to_depth(low[..., c:c + 1], 8)
            levels = proxy.quantise(tf.nn.conv2d(blocks, self._dct, 1, "VALID") / steps, "ste", zones)
            plane = tf.nn.depth_to_space(tf.nn.conv2d(levels * steps, self._idct, 1, "VALID"), 8)
            plane = tf.clip_by_value(plane, -128.0, 127.0)
            edged = tf.concat([plane[:, :1], plane, plane[:, -1:]], axis=1)
            edged = tf.concat([edged[:, :, :1], edged, edged[:, :, -1:]], axis=2)
            planes.append(tf.nn.depth_to_space(tf.nn.conv2d(edged, self._fancy, 1, "VALID"), 2))
        decoded = (tf.concat(planes, axis=-1) + 128.0) / 255.0
        return graph_ops.top_left(decoded, height, width)

    def _changed(self, image, residual, quality):
        """:meth:`call` on float32 tensors."""
        s = strength(100.0 * quality[:, :, None, None], self.knots)  # [B, 1, 1, 1]
        edit = image + residual
        error = self.decoded_chroma(edit[..., 1:], quality) - image[..., 1:]
        dy = -s * tf.reduce_sum(error * self._weights, axis=-1, keepdims=True)
        return residual + tf.concat([dy, tf.zeros_like(residual[..., 1:])], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "knots": self.knots}
