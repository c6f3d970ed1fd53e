"""What Modify-Net minimises: the per-example loss of an edited batch.

``proxy="jpegnet"`` (the paper): MSE between the frozen JPEG-Net's output on the 8x8
blocks of the edited image, reassembled, and the original.
"""

import tensorflow as tf

from tfjpegnet import models


class ModifyObjective:
    """Callable (x, edited) -> per-example loss, float32 [batch].

    x, edited: float32 YCrCb [batch, h, w, 3] in [0, 1] (edited is not clipped);
    h and w are multiples of 16.
    """

    def __init__(self, config, jpeg_net=None):
        self.jpeg_net = jpeg_net

    def __call__(self, x, edited):
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        decoded = models.from_blocks(
            tf.cast(self.jpeg_net(models.to_blocks(edited), training=False), tf.float32), height, width)
        return tf.reduce_mean(tf.square(decoded - x), axis=[1, 2, 3])
