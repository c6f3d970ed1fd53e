"""The coefficient branch: an edit of each 8x8 luma block made in units of its quantisation steps.

A pixel-domain net sees neither JPEG's blocks nor how coarsely each DCT coefficient will be
quantised at the requested quality. This branch works where the encoder does: it takes the
orthonormal DCT of every 8x8 block of the (already edited) luma plane, on JPEG's grid,
divides each coefficient by its step in the encoder's luma table at the example's quality,
lets a small convolutional net over the grid of blocks propose a change of each coefficient
in those units, and transforms the change back to pixels (Y only: Cr and Cb get zero).

Layers (all float32; the net between them runs under the model's dtype policy):
  :class:`LumaSteps`          quality q / 100 [B, 1] -> luma quant steps [B, 1, 1, 64] (0..255 units)
  :class:`ToCoefficients`     [YCrCb [B, H, W, 3] in 0..1, steps, quality] -> features [B, h, w, 129]
  :class:`FromCoefficients`   [changes [B, h, w, 64] in steps, steps, like [B, H, W, C]] -> [B, H, W, C]
with h = ceil(H / 8), w = ceil(W / 8) (the image mirrored out to whole blocks).
"""

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import graph_ops
from tfjpegnet.jpeg import proxy

BLOCK = 8
COEFFICIENTS = BLOCK * BLOCK
NEAR = 8.0  # the linear feature c / step is clipped to +-NEAR: rounding decisions happen near zero


def _dct_matrix():
    """The orthonormal 8-point DCT-II matrix [8 frequencies, 8 samples], float64."""
    n = np.arange(BLOCK)
    matrix = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * BLOCK)) * np.sqrt(2.0 / BLOCK)
    matrix[0] /= np.sqrt(2.0)
    return matrix


# vec(coefficients) = BASIS @ vec(block), both row-major 8x8: the 2-D DCT as one 64x64 matrix.
BASIS = np.kron(_dct_matrix(), _dct_matrix()).astype(np.float32)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class LumaSteps(keras.layers.Layer):
    """q / 100 [B, 1] -> the luma quantisation steps of ``encoder`` at q, float32 [B, 1, 1, 64] (1..255)."""

    def __init__(self, encoder="mozjpeg", **kwargs):
        super().__init__(**kwargs)
        if encoder not in proxy.ENCODERS:
            raise ValueError(f"encoder must be one of {proxy.ENCODERS}, got {encoder!r}")
        self.encoder = encoder

    def call(self, quality):
        tables = proxy.quant_tables(tf.reshape(tf.cast(quality, tf.float32) * 100.0, [-1]), self.encoder)
        return tf.reshape(tables[:, 0], [-1, 1, 1, COEFFICIENTS])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, COEFFICIENTS)

    def get_config(self):
        return {**super().get_config(), "encoder": self.encoder}


@keras.saving.register_keras_serializable(package="tfjpegnet")
class ToCoefficients(keras.layers.Layer):
    """[YCrCb [B, H, W, 3] in 0..1, steps [B, 1, 1, 64], quality [B, 1]] -> features [B, h, w, 129].

    Per block: c / step clipped to +-``NEAR`` (64), sign(c / step) log(1 + |c / step|) (64),
    and q / 100 (1), c being the orthonormal DCT of the block in 0..255 units.
    """

    def call(self, inputs):
        ycrcb, steps, quality = inputs
        luma = ycrcb[..., :1]
        shape = tf.shape(luma)
        padded = tf.pad(luma, [[0, 0], [0, -shape[1] % BLOCK], [0, -shape[2] % BLOCK], [0, 0]], mode="SYMMETRIC")
        blocks = graph_ops.with_channels(tf.nn.space_to_depth(padded * 255.0, BLOCK), COEFFICIENTS)
        scaled = tf.einsum("bhwp,cp->bhwc", blocks, tf.constant(BASIS)) / steps
        plane = tf.ones_like(scaled[..., :1]) * tf.cast(quality, tf.float32)[:, None, None, :]
        return tf.concat([tf.clip_by_value(scaled, -NEAR, NEAR), tf.sign(scaled) * tf.math.log1p(tf.abs(scaled)),
                          plane], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], None, None, 2 * COEFFICIENTS + 1)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class FromCoefficients(keras.layers.Layer):
    """[changes [B, h, w, 64] in quant steps, steps [B, 1, 1, 64], like [B, H, W, C]] -> float32
    [B, H, W, C]: the changes as luma pixels (0..1 units) in channel 0, zeros in the others."""

    def call(self, inputs):
        changes, steps, like = inputs
        shape = tf.shape(like)
        coefficients = tf.cast(changes, tf.float32) * steps / 255.0
        blocks = tf.einsum("bhwc,cp->bhwp", coefficients, tf.constant(BASIS))
        luma = graph_ops.top_left(tf.nn.depth_to_space(blocks, BLOCK), shape[1], shape[2])
        return tf.concat([luma, tf.zeros_like(like[..., 1:])], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[2]


def residual(edited, quality, units, encoder, like):
    """The branch's residual: ``edited`` (float32 YCrCb [B, H, W, 3], the edit so far), ``quality``
    (q / 100, [B, 1]) -> float32 [B, H, W, 3] (Y changed, Cr and Cb zero).

    Between the transforms: a 3x3 convolution over the grid of blocks (``units``, ReLU), a 1x1
    convolution (``units``, ReLU) and a zero-initialised 1x1 convolution to 64 changes, so a new
    branch adds nothing. Its layers are named ``coef*``.
    """
    steps = LumaSteps(encoder, name="coef_steps")(quality)
    x = ToCoefficients(dtype="float32", name="coef_in")([edited, steps, quality])
    x = keras.layers.Conv2D(units, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                            name="coef_conv1")(x)
    x = keras.layers.Conv2D(units, 1, activation="relu", kernel_initializer="he_normal", name="coef_conv2")(x)
    changes = keras.layers.Conv2D(COEFFICIENTS, 1, kernel_initializer="zeros", dtype="float32", name="coef_out")(x)
    return FromCoefficients(dtype="float32", name="coef_pixels")([changes, steps, like])
