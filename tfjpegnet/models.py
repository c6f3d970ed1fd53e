"""Modify-Net and JPEG-Net (Nagasaki et al., Sec. 3.1) as Keras 3 functional models.

Both networks work on YCrCb images (OpenCV channel order Y, Cr, Cb), float32 in
[0, 1], NHWC. Under a ``mixed_bfloat16`` policy the convolutions compute in bfloat16
and each model's output is cast back to float32.
"""

import keras
import tensorflow as tf

from tfjpegnet import color


def build_modify_net(depth=20, filters=64, channels=3, name="modify_net"):
    """VDSR-style Modify-Net: ``depth`` 3x3 conv layers, output = input + residual.

    The first ``depth - 1`` layers have ``filters`` filters and ReLU; the last has
    ``channels`` filters and no activation, zero-initialised so that a new model is
    the identity. Zero padding keeps the size; any height and width are accepted.

    Args:
      depth: number of convolution layers (paper: 20), >= 2.
      filters: filters per hidden layer (paper: 64).
      channels: image channels in and out (paper: 3, Y Cr Cb).

    Returns:
      keras.Model mapping float [batch, H, W, channels] in [0, 1] to float32
      [batch, H, W, channels] (not clipped).
    """
    if depth < 2:
        raise ValueError(f"Modify-Net needs depth >= 2, got {depth}")
    inputs = keras.Input(shape=(None, None, channels), name="ycrcb")
    x = inputs
    for i in range(depth - 1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                kernel_initializer="he_normal", name=f"conv{i + 1}")(x)
    residual = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                                   dtype="float32", name=f"conv{depth}")(x)
    outputs = keras.layers.Add(dtype="float32", name="edited")([inputs, residual])
    return keras.Model(inputs, outputs, name=name)


def build_jpeg_net(filters=64, channels=3, residual=True, name="jpeg_net"):
    """JPEG-Net: 3 convolutions then 3 transposed convolutions on one 8x8 block.

    Convolutions: 3x3 stride 1 (8x8), 3x3 stride 2 (4x4), 3x3 stride 2 (2x2) with
    ``filters``, ``filters``, ``2 * filters`` filters and ReLU; transposed
    convolutions mirror them back to 8x8, the last with ``channels`` filters and no
    activation. With ``residual`` the input block is added to the output (JPEG's
    output is close to its input), which speeds up training.

    Returns:
      keras.Model mapping float [batch, 8, 8, channels] in [0, 1] to float32
      [batch, 8, 8, channels].
    """
    inputs = keras.Input(shape=(8, 8, channels), name="block")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu",
                                     name="deconv1")(x)
    x = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu",
                                     name="deconv2")(x)
    outputs = keras.layers.Conv2DTranspose(channels, 3, padding="same", dtype="float32",
                                           name="deconv3")(x)
    if residual:
        outputs = keras.layers.Add(dtype="float32", name="jpeg_like")([inputs, outputs])
    return keras.Model(inputs, outputs, name=name)


def to_blocks(images, block=8):
    """Cut images into non-overlapping blocks.

    Args:
      images: tensor [batch, H, W, C] with H and W multiples of ``block``.

    Returns:
      tensor [batch * (H / block) * (W / block), block, block, C], blocks of image 0
      first, row-major within each image.
    """
    shape = tf.shape(images)
    b, h, w, c = shape[0], shape[1], shape[2], images.shape[-1]
    x = tf.reshape(images, [b, h // block, block, w // block, block, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, block, block, c])


def from_blocks(blocks, height, width):
    """Inverse of :func:`to_blocks`: [N, b, b, C] blocks -> [batch, height, width, C]."""
    block = blocks.shape[1]
    c = blocks.shape[-1]
    x = tf.reshape(blocks, [-1, height // block, width // block, block, block, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, height, width, c])


def edit_rgb(modify_net, rgb):
    """Apply a Modify-Net to RGB images: RGB -> YCrCb -> Modify-Net -> RGB, clipped.

    Args:
      modify_net: a model from :func:`build_modify_net` (or loaded from ``.keras``).
      rgb: float32 tensor [batch, H, W, 3], RGB in [0, 1].

    Returns:
      float32 tensor [batch, H, W, 3], the edited RGB image clipped to [0, 1]
      (round it to 8 bits before a real JPEG encoder).
    """
    edited = modify_net(color.rgb_to_ycrcb(tf.cast(rgb, tf.float32)), training=False)
    return tf.clip_by_value(color.ycrcb_to_rgb(tf.cast(edited, tf.float32)), 0.0, 1.0)
