"""Small TF ops written so that TFLite's converter and its XNNPACK delegate handle them well.

Exported graphs take images of any size, so shapes are only known when they run. Two things
then go wrong with the obvious ops: a crop by ``x[:, :h, :w]`` with computed bounds becomes a
strided slice that XNNPACK does not run (about 30 ms per megapixel on this machine, against
3 for ``tf.slice``), and a padding of computed size loses the channel count, which the
converter needs for the convolutions after it.

Ops built under ``tf.name_scope(FLOAT_SCOPE)`` stay float32 in an int8 TFLite file
(:func:`tfjpegnet.deploy.tflite.convert`): arithmetic that int8 cannot do, such as filters whose
weights must sum to exactly 0 applied to a full-range image.
"""

import tensorflow as tf

FLOAT_SCOPE = "keep_float"


def with_channels(x, channels):
    """``x`` [B, H, W, ?] with its channel count made static (a reshape TFLite can run)."""
    shape = tf.shape(x)
    return tf.reshape(x, tf.stack([shape[0], shape[1], shape[2], channels]))


def top_left(x, height, width):
    """The top-left ``height`` x ``width`` pixels of ``x`` [B, H, W, C] (C static) -> [B, height, width, C]."""
    size = tf.stack([-1, height, width, -1])
    return with_channels(tf.slice(x, [0, 0, 0, 0], size), x.shape[-1])
