"""Pre-compensation of JPEG's 4:2:0 colour path: a fixed, untrained last step of Modify-Net.

Every encoder here averages Cb and Cr over 2x2 pixels and every decoder interpolates them
back (libjpeg's "fancy" triangle filter), so decoded colours differ from the original even
without quantisation. :class:`ColourCompensation` changes an edit so that this round trip
lands nearer the original, in two closed-form steps (no learned weights):

1. Chroma: the 2x2 means a plane should have so that the decoder's upsampling of them is
   nearest the original plane (least squares with a Tikhonov penalty ``tikhonov`` on the
   change of the means, separable, :func:`chroma_taps`), put back into the full-resolution
   plane by adding the change of each mean to its 4 pixels. Strength ``chroma(q)``.
2. Luma: the chroma error the decoder will still leave (predicted from step 1's planes) is
   partly cancelled in RGB by moving Y against it: the Y change that minimises the RGB
   error of a Cr, Cb error (:func:`luma_weights`). Strength ``luma(q)``.

Both strengths are piecewise-linear functions of the JPEG quality (:func:`strength`); the
shipped knots were chosen on training images (docs/experiments.md): at low qualities mozjpeg
quantises chroma so coarsely that the sharper chroma only costs bits. The step costs about
1.2 GFLOP per megapixel, two convolutions on 2x2 cells (not counted by
:func:`tfjpegnet.models.cost`, which counts Keras convolutions).
"""

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import graph_ops
from tfjpegnet.jpeg import color

REACH = 4  # chroma taps span full-resolution offsets -REACH .. REACH + 1 around a 2x2 cell (even)
RADIUS = REACH + 3  # pixels of the edit one output pixel depends on (see ColourCompensation)
TIKHONOV = 1.0
TAP_GRID = 2.0 ** 11  # taps are multiples of 1 / TAP_GRID: exact in float16 (|tap| < 1)
# The convolution on the image itself must be exact in float16 (a TFLite file's weights), or a
# flat plane would leak into the change: its weights are multiples of 1 / KERNEL_GRID (|w| < 1/2)
# that sum to exactly 0, and the luma weights in it multiples of 1 / LUMA_GRID (so that their
# products with the upsampling's sixty-fourths stay within float16's 11 bits).
KERNEL_GRID = 2.0 ** 12
LUMA_GRID = 64.0
CHROMA_KNOTS = ((80, 0.0), (85, 1.0))
LUMA_KNOTS = ((20, 0.0), (30, 1.0))


def _fancy_weight(phase, offset):
    """Weight of the low-resolution sample at ``offset`` (-1, 0, 1) in libjpeg's fancy upsampling
    of the output pixel of ``phase`` (0: even, 1: odd) of a cell, along one axis."""
    return {(0, 0): 0.75, (0, -1): 0.25, (1, 0): 0.75, (1, 1): 0.25}.get((phase, offset), 0.0)


def _fancy_matrix(n):
    """libjpeg's fancy 2x upsampling of n samples as a [2 n, n] float64 matrix (edges replicated)."""
    up = np.zeros((2 * n, n))
    for i, phase, offset in np.ndindex(n, 2, 3):
        up[2 * i + phase, min(max(i + offset - 1, 0), n - 1)] += _fancy_weight(phase, offset - 1)
    return up


def chroma_taps(tikhonov=TIKHONOV, reach=REACH):
    """1-D filter from a full-resolution chroma line to the 2-sample means it should have.

    The means m of a line f (m_i for pixels 2i, 2i + 1) that minimise
    ||U m - f||^2 + tikhonov ||m - D f||^2, U the decoder's fancy upsampling, D the
    encoder's pair mean: m = D f + (U'U + tikhonov I)^-1 U' (f - U D f), a linear filter
    m_i = sum_j taps[j] f[2 i + j - reach]. tikhonov 0 is plain least squares. The taps
    decay geometrically (by 1/3 per 2 pixels at tikhonov 0, faster with the penalty); they are
    cut at ``reach``, rounded to multiples of 1 / ``TAP_GRID`` and the nearest pair set so that they
    sum to exactly 1: a flat plane stays flat, also in a TFLite file whose weights are float16
    (every tap is a float16 number).

    Returns:
      float32 numpy [2 reach + 2], the taps for offsets -reach .. reach + 1 (sum 1).
    """
    n = 4 * reach + 8
    up = _fancy_matrix(n)
    down = np.zeros((n, 2 * n))
    for i in range(n):
        down[i, 2 * i] = down[i, 2 * i + 1] = 0.5
    means = down + np.linalg.solve(up.T @ up + tikhonov * np.eye(n), up.T @ (np.eye(2 * n) - up @ down))
    centre = n // 2
    half = means[centre, 2 * centre + 1: 2 * centre + reach + 2]  # offsets 1 .. reach + 1; the taps are
    half = np.round(half * TAP_GRID) / TAP_GRID                      # symmetric about offset 1/2
    half[0] = 0.5 - half[1:].sum()  # the pair nearest the cell carries the rest: the sum is exactly 1
    return np.concatenate([half[::-1], half]).astype(np.float32)


def luma_weights():
    """(w_cr, w_cb): the Y change -(w_cr dCr + w_cb dCb) that minimises the RGB squared error
    left by a chroma error (dCr, dCb), for :mod:`tfjpegnet.jpeg.color`'s conversion.

    An error d in one chroma channel moves R, G, B by d (a_r, a_g, a_b); adding y to all three
    leaves sum (y + d a_c)^2, least at y = -d mean(a). Returns two Python floats.
    """
    offset = color.rgb_to_ycrcb(tf.zeros([3]))
    rgb = color.ycrcb_to_rgb(offset + tf.constant([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])) - color.ycrcb_to_rgb(offset)
    return tuple(float(v) for v in tf.reduce_mean(rgb, axis=-1).numpy())


def strength(quality, knots):
    """Piecewise-linear strength at ``quality``: float32 tensor of ``quality``'s shape.

    ``knots``: ((q0, s0), (q1, s1), ...) with increasing q; constant s0 below q0 and the last
    s above the last q. ``quality``: JPEG quality 1..100 (any float tensor).
    """
    quality = tf.cast(quality, tf.float32)
    qs = [float(q) for q, _ in knots]
    ss = [float(s) for _, s in knots]
    out = tf.zeros_like(quality) + ss[0]  # keeps the static shape (TFLite delegates products by it)
    for (q0, s0), (q1, s1) in zip(zip(qs, ss), zip(qs[1:], ss[1:])):
        t = tf.clip_by_value((quality - q0) / (q1 - q0), 0.0, 1.0)
        out = out + t * (s1 - s0)
    return out


def _replicated(x, before, after, axis):
    """``x`` with its first / last row (axis 1) or column (axis 2) repeated ``before`` / ``after`` times.

    Edge replication, as libjpeg extends an image to whole blocks; built from concatenations,
    which TFLite's XNNPACK delegate runs (its mirror padding it does not).
    """
    first = x[:, :1] if axis == 1 else x[:, :, :1]
    last = x[:, -1:] if axis == 1 else x[:, :, -1:]
    parts = []
    for edge, count in ((first, before), (None, 0), (last, after)):
        if edge is None:
            parts.append(x)
        elif count:  # no empty parts: TFLite's concatenation of dynamic shapes mixes up an empty input
            shape = [1, 1, 1, 1]
            shape[axis] = count
            parts.append(edge * tf.ones(shape))  # a broadcasting product: one op, where tf.tile is not delegated
    return tf.concat(parts, axis=axis)


def _padded(x, height, width):
    """[B, H, W, C] with REACH edge pixels repeated on each side, and one more at the bottom /
    right where H / W is odd -> [B, H + H % 2 + 2 REACH, W + W % 2 + 2 REACH, C]."""
    x = _replicated(_replicated(x, REACH, REACH + 1, axis=1), REACH, REACH + 1, axis=2)
    return graph_ops.top_left(x, height + height % 2 + 2 * REACH, width + width % 2 + 2 * REACH)


def kernel_luma_weights():
    """:func:`luma_weights` rounded to multiples of 1 / LUMA_GRID, as the layer uses them (0.23, 0.47)."""
    return tuple(round(w * LUMA_GRID) / LUMA_GRID for w in luma_weights())


def _kernels(taps, weights):
    """The convolutions of :class:`ColourCompensation`, as float32 numpy kernels.

    The YCrCb image is worked on in 2x2 cells (``tf.nn.space_to_depth``: channel 3 p + c holds
    pixel p = 2 py + px of the cell in channel c = 0 (Y), 1 (Cr), 2 (Cb)); ``weights`` = (w_cr, w_cb).

    Returns:
      cells [2 m + 1, 2 m + 1, 12, 6] (m = REACH / 2 cells of context): channels 0, 1 the change of
      each cell's Cr, Cb means (step 1's target means, by :func:`chroma_taps`'s ``taps``, minus the
      2x2 means); channels 2 + p, per output pixel p, the luma-weighted sum over Cr, Cb of
      fancy(2x2 means) - plane (what the round trip alone changes);
      up [3, 3, 6, 12]: the 6 channels above (the changes scaled by the chroma strength), 1-cell
      context -> per pixel p: channel 3 p the luma-weighted fancy upsampling of the changes plus
      the round trip's own term, channels 3 p + 1, 3 p + 2 the cell's own Cr, Cb changes;
      luma [1, 1, 3, 3]: a residual -> the luma-weighted sum of its Cr, Cb in channel 0.
    """
    reach = (len(taps) - 2) // 2
    size = reach // 2 * 2 + 1
    middle = size // 2
    cells = np.zeros((size, size, 12, 6))
    up = np.zeros((3, 3, 6, 12))
    for py, px, c in np.ndindex(2, 2, 2):
        k = 3 * (2 * py + px) + 1 + c
        for dy, dx in np.ndindex(size, size):
            jy, jx = 2 * (dy - middle) + py, 2 * (dx - middle) + px
            cells[dy, dx, k, c] = taps[jy + reach] * taps[jx + reach] - (0.25 if dy == dx == middle else 0.0)
        for qy, qx, ey, ex in np.ndindex(2, 2, 3, 3):
            value = _fancy_weight(qy, ey - 1) * _fancy_weight(qx, ex - 1) / 4.0
            value -= 1.0 if (ey, ex, py, px) == (1, 1, qy, qx) else 0.0
            cells[middle - 1 + ey, middle - 1 + ex, k, 2 + 2 * qy + qx] = weights[c] * value
    for c in range(2):  # the change of the means: on the float16 grid and summing to exactly 0
        part = np.round(cells[..., c] * KERNEL_GRID) / KERNEL_GRID
        part[middle, middle, 3 * 3 + 1 + c] -= part.sum()  # the cell's own last pixel takes the rest
        cells[..., c] = part
    for q in range(4):
        up[1, 1, 2 + q, 3 * q] = 1.0
    for c, qy, qx in np.ndindex(2, 2, 2):
        q = 2 * qy + qx
        up[1, 1, c, 3 * q + 1 + c] = 1.0
        for ey, ex in np.ndindex(3, 3):
            up[ey, ex, c, 3 * q] = weights[c] * _fancy_weight(qy, ey - 1) * _fancy_weight(qx, ex - 1)
    luma = np.zeros((1, 1, 3, 3))
    luma[0, 0, 1:, 0] = weights
    return tuple(k.astype(np.float32) for k in (cells, up, luma))


@keras.saving.register_keras_serializable(package="tfjpegnet")
class ColourCompensation(keras.layers.Layer):
    """[image, residual, q / 100] -> the residual changed to pre-compensate 4:2:0 (see the module).

    Inputs: ``image`` float [B, H, W, 3] YCrCb in [0, 1] (the original, what the decode should
    match), ``residual`` float [B, H, W, 3] (Modify-Net's edit is image + residual), the quality
    float [B, 1] as q / 100. Output: float32 [B, H, W, 3], a new residual; a strength of 0 at both
    steps leaves it unchanged. Any H, W (the edges are extended by replication, odd sizes to even,
    and the output cropped). The 2x2 cells start at the image's top-left pixel, as JPEG's do;
    an output pixel depends on the
    edit within ``RADIUS`` pixels (the taps reach REACH + 1, the luma step's neighbour cells 2 more).
    """

    def __init__(self, tikhonov=TIKHONOV, chroma_knots=CHROMA_KNOTS, luma_knots=LUMA_KNOTS, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.tikhonov = float(tikhonov)
        self.chroma_knots = tuple(tuple(float(v) for v in k) for k in chroma_knots)
        self.luma_knots = tuple(tuple(float(v) for v in k) for k in luma_knots)
        taps = chroma_taps(self.tikhonov)
        self._cells, self._up, self._luma = (tf.constant(k) for k in _kernels(taps, kernel_luma_weights()))

    def call(self, inputs):
        with tf.name_scope(graph_ops.FLOAT_SCOPE):  # int8 would break the kernels' exact zero sums
            return self._compensated(*(tf.cast(t, tf.float32) for t in inputs))

    def _compensated(self, image, residual, quality):
        """:meth:`call` on float32 tensors: image, residual [B, H, W, 3], quality [B, 1] (q / 100)."""
        q = 100.0 * quality[:, :, None, None]  # [B, 1, 1, 1]
        alpha, beta = strength(q, self.chroma_knots), strength(q, self.luma_knots)
        height, width = tf.shape(image)[1], tf.shape(image)[2]
        cells = tf.nn.space_to_depth(_padded(image + residual, height, width), 2)
        ones = tf.ones_like(alpha)
        # step 1: the change of each cell's Cr, Cb means (times the chroma strength), and the
        # luma-weighted change the round trip alone makes at each pixel of the cell
        low = tf.nn.conv2d(cells, self._cells, 1, "VALID") * tf.concat([alpha, alpha] + [ones] * 4, axis=-1)
        up = tf.nn.conv2d(_replicated(_replicated(low, 1, 1, axis=1), 1, 1, axis=2), self._up, 1, "VALID")
        # step 2: Y moves by -beta x the luma-weighted chroma error left: fancy(means + change)
        # - original = fancy(change) + (fancy(means) - plane) + the residual's own chroma
        luma_scale = tf.concat([-beta, ones, ones], axis=-1)  # [B, 1, 1, 3]
        change = graph_ops.top_left(tf.nn.depth_to_space(up * tf.concat([luma_scale] * 4, axis=-1), 2), height, width)
        return residual + change - beta * tf.nn.conv2d(residual, self._luma, 1, "VALID")

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "tikhonov": self.tikhonov, "chroma_knots": self.chroma_knots,
                "luma_knots": self.luma_knots}
