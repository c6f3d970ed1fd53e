"""RGB <-> YCrCb in TensorFlow ops, OpenCV's convention.

OpenCV's ``COLOR_RGB2YCrCb`` for float images: BT.601 luma weights, full range,
channel order (Y, Cr, Cb), chroma offset 0.5 for values in [0, 1]. The functions here
run inside exported graphs (SavedModel, TFLite), so they use plain TF ops only.
"""

import tensorflow as tf

_KR, _KG, _KB = 0.299, 0.587, 0.114
_CR_SCALE = 0.713  # (R - Y) * 0.713 + 0.5
_CB_SCALE = 0.564  # (B - Y) * 0.564 + 0.5
_DELTA = 0.5


def rgb_to_ycrcb(rgb):
    """Convert RGB to YCrCb (OpenCV order and constants).

    Args:
      rgb: float tensor [..., 3], RGB in [0, 1].

    Returns:
      float tensor [..., 3] (Y, Cr, Cb), each in [0, 1] for inputs in [0, 1];
      same dtype as the input.
    """
    r, g, b = tf.unstack(rgb, axis=-1)
    y = _KR * r + _KG * g + _KB * b
    cr = (r - y) * _CR_SCALE + _DELTA
    cb = (b - y) * _CB_SCALE + _DELTA
    return tf.stack([y, cr, cb], axis=-1)


def ycrcb_to_rgb(ycrcb):
    """Convert YCrCb (OpenCV order and constants) back to RGB.

    Args:
      ycrcb: float tensor [..., 3] (Y, Cr, Cb) in [0, 1].

    Returns:
      float tensor [..., 3], RGB, nominally in [0, 1] (not clipped); same dtype.
    """
    y, cr, cb = tf.unstack(ycrcb, axis=-1)
    cr = cr - _DELTA
    cb = cb - _DELTA
    r = y + 1.403 * cr
    g = y - 0.714 * cr - 0.344 * cb
    b = y + 1.773 * cb
    return tf.stack([r, g, b], axis=-1)
