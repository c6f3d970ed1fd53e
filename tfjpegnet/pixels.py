"""8-bit pixels from an edited float image: the one place that rounds Modify-Net's output.

A real JPEG encoder takes 8-bit samples, so every path that hands an edited image to an
encoder (training validation, evaluation, the per-image optimum, SavedModel signatures,
TFLite checks, ``encode``) rounds it here, in TensorFlow ops, so that the same function
runs eagerly on numpy arrays and inside exported graphs.
"""

import tensorflow as tf


def to_uint8(rgb):
    """Round a float image to 8 bits.

    Args:
      rgb: float array or tensor [..., 3] (any float dtype), values nominally in [0, 1];
        values outside are clipped first.

    Returns:
      uint8 tf.Tensor of the same shape, round(255 x clip(rgb, 0, 1)) with ties to even
      (``np.asarray(...)`` gives a numpy array).
    """
    rgb = tf.cast(rgb, tf.float32)
    return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 1.0) * 255.0), tf.uint8)
