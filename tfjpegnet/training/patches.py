"""Training patches as tf.data: the paper's flips, real-JPEG targets, epoch batches, 8x8 blocks.

The paper (Sec. IV) cuts the 21 Kodak training images into non-overlapping 64x64 patches
(:func:`tfjpegnet.datasets.load_patches`), applies the "inversion extension" (horizontal and
vertical flips, x4) for Modify-Net training only, and trains JPEG-Net on 8x8 blocks of those
patches and of their OpenCV JPEG. With Kodak this gives 8064 training and 288 test patches.
Arrays are RGB uint8 [..., 3] in [0, 255] unless a docstring says otherwise.
"""

import numpy as np
import tensorflow as tf

from tfjpegnet.jpeg import codec, color


def inversion_extension(patches):
    """The paper's "inversion extension": originals plus horizontal, vertical and both flips.

    Args:
      patches: uint8 [N, h, w, 3].

    Returns:
      uint8 [4 N, h, w, 3]: originals, then left-right flips, up-down flips, both.
    """
    return np.concatenate([patches, patches[:, :, ::-1], patches[:, ::-1], patches[:, ::-1, ::-1]])


def jpeg_targets(patches, quality, batch_size=256):
    """Real OpenCV JPEG (encode + decode) of each patch, in a parallel tf.data map.

    Args:
      patches: uint8 [N, h, w, 3], RGB.
      quality: JPEG quality 1..100.

    Returns:
      uint8 [N, h, w, 3], the decoded JPEG of each patch encoded on its own.
    """
    def roundtrip(patch):
        return codec.jpeg_roundtrip(patch.numpy(), quality)[0]

    def tf_roundtrip(patch):
        out = tf.py_function(roundtrip, [patch], tf.uint8)
        out.set_shape(patch.shape)
        return out

    ds = (tf.data.Dataset.from_tensor_slices(patches)
          .map(tf_roundtrip, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .batch(batch_size))
    return np.concatenate([b.numpy() for b in ds]) if len(patches) else patches.copy()


def to_ycrcb(rgb_uint8):
    """uint8 RGB tensor [..., 3] in [0, 255] -> float32 YCrCb [..., 3] in [0, 1]."""
    return color.rgb_to_ycrcb(tf.cast(rgb_uint8, tf.float32) / 255.0)


def batches(arrays, batch_size, seed, skip=0, qualities=None):
    """A tf.data pipeline over in-memory uint8 arrays for one epoch.

    Args:
      arrays: tuple of uint8 numpy arrays [N, h, w, 3] (same N).
      batch_size: global batch size; the last partial batch is dropped.
      seed: shuffling seed for this epoch (the order is a pure function of it).
      skip: number of leading batches to skip (resuming mid-epoch).
      qualities: None, or (lo, hi): each batch also carries a JPEG quality per example, int32
        [batch_size], drawn uniformly from the integers lo..hi as a pure function of ``seed``
        and the batch's index in the epoch (so a resumed epoch draws the same).

    Returns:
      tf.data.Dataset of tuples of float32 YCrCb batches [batch_size, h, w, 3] (then the
      qualities, with ``qualities``).
    """
    n = len(arrays[0])
    count = n // batch_size
    order = np.random.default_rng(seed).permutation(n)[:count * batch_size]
    order = order.reshape(count, batch_size)[skip:]
    tensors = tuple(tf.constant(a) for a in arrays)

    def gather(idx, index):
        out = tuple(to_ycrcb(tf.gather(t, idx)) for t in tensors)
        if qualities:
            lo, hi = qualities
            draw = tf.random.stateless_uniform([batch_size], seed=tf.stack([tf.cast(seed % 2**31, tf.int64), index]),
                                               minval=lo, maxval=hi + 1, dtype=tf.int32)
            out += (draw,)
        return out

    indices = np.arange(skip, count, dtype=np.int64)
    return (tf.data.Dataset.from_tensor_slices((order, indices))
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def steps_per_epoch(n, batch_size):
    """Number of full batches of ``batch_size`` in ``n`` examples."""
    return n // batch_size


def blocks_of(patches):
    """uint8 patches [N, h, w, 3] -> uint8 8x8 blocks [N * h/8 * w/8, 8, 8, 3] (numpy)."""
    n, h, w, c = patches.shape
    x = patches.reshape(n, h // 8, 8, w // 8, 8, c).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(x.reshape(-1, 8, 8, c))
