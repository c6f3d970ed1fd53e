"""A differentiable model of baseline JPEG as OpenCV's libjpeg-turbo codes and decodes it.

The model follows libjpeg-turbo 3.x step by step with OpenCV's default settings
(``jpeg_set_quality(q, force_baseline=TRUE)``, 4:2:0 chroma, ISLOW DCT, fancy upsampling):

1. RGB is rounded to 8 bits (a real encoder only takes uint8 samples).
2. RGB -> YCbCr with jccolor.c's 16-bit fixed-point constants and rounding.
3. Edge replication to whole 16x16 MCUs (jcprepct.c / jcsample.c ``expand_*_edge``) and
   h2v2 chroma downsampling: 2x2 sum plus a bias alternating 1, 2 along each row, >> 2.
4. Level shift by 128, jfdctint.c's integer ISLOW DCT, division by 8 x the IJG tables
   scaled as ``jpeg_quality_scaling`` does (baseline: clamped to 1..255), rounding half
   away from zero (jcdctmgr.c). This is the only rounding whose mode is selectable.
5. Dequantisation, jidctint.c's integer ISLOW inverse DCT, + 128, clamping to 0..255.
6. "Fancy" h2v2 upsampling (jdsample.c ``h2v2_fancy_upsample``): a 3/4, 1/4 triangle
   filter vertically, then horizontally, with rounding biases 8 and 7, edges replicated;
   plain 2x2 replication when the chroma plane is at most 2 samples wide, as libjpeg does.
7. YCbCr -> RGB with jdcolor.c's fixed-point tables, clamped to 0..255.

Every integer step is reproduced exactly in the forward pass: the fixed-point sums are
carried out in float32 (colour, resampling) or float64 (DCTs) where they are exact, and
each shift is a floor with a straight-through gradient, so gradients see the plain
linear transforms. With "exact" rounding the output equals OpenCV's decoded JPEG
pixel for pixel up to libjpeg's IDCT range-limit wrap-around for samples more than
384 levels out of range (clamped here), which natural images do not reach.

Rounding modes of the quantiser (step 4):
  "exact": the real rounding; zero gradient.
  "ste":   straight-through: real rounding forward, identity gradient.
  "none":  no rounding (coefficients only, for a smooth rate estimate).

All tensors are float32, NHWC; RGB in [0, 1]; DCT coefficients in units of quant steps.
"""

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet.jpeg import zigzag
from tfjpegnet.jpeg.quality_range import check_quality

ROUNDINGS = ("exact", "ste", "none")

# ITU-T T.81 Annex K tables (libjpeg's std_luminance/chrominance_quant_tbl), natural order.
_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.int64)
_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, np.int64)


# mozjpeg's quant table set 3 (jcparam.c; N. Robidoux's tables as used by ImageMagick), natural order.
_MOZJPEG_SET3 = np.array([
    16, 16, 16, 18, 25, 37, 56, 85, 16, 17, 20, 27, 34, 40, 53, 75, 16, 20, 24, 31, 43, 62, 91, 135,
    18, 27, 31, 40, 53, 74, 106, 156, 25, 34, 43, 53, 69, 94, 131, 189, 37, 40, 62, 74, 94, 124, 169, 238,
    56, 53, 91, 106, 131, 169, 226, 311, 85, 75, 135, 156, 189, 238, 311, 418], dtype=np.int64)
TABLES = {"opencv": (_LUMA, _CHROMA), "mozjpeg": (_MOZJPEG_SET3, _MOZJPEG_SET3)}
ENCODERS = tuple(TABLES)
# mozjpeg's dead zone at the last zigzag index, (quality, slope) as fitted by
# ``tfjpegnet fit-encoder-model`` (results/encoder_model/encoder_model.md); linear in between.
TRELLIS_SLOPES = ((5, 1.8), (15, 1.4), (30, 0.9), (50, 0.6), (75, 0.4), (90, 0.2), (100, 0.0))
ZIGZAG_INDEX = np.argsort(zigzag.ORDER).reshape(8, 8)  # natural position -> zigzag index


def _fdct_1d(d):
    """jfdctint.c's 1-D butterfly on 8 inputs ``d[0..7]``, before its DESCALE.

    Outputs 0 and 4, which libjpeg only shifts, are scaled by 2**13 like the others so
    that every output of a pass is DESCALE(sum, n) with one shift n per pass.
    """
    tmp0, tmp7 = d[0] + d[7], d[0] - d[7]
    tmp1, tmp6 = d[1] + d[6], d[1] - d[6]
    tmp2, tmp5 = d[2] + d[5], d[2] - d[5]
    tmp3, tmp4 = d[3] + d[4], d[3] - d[4]
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    z1 = (tmp12 + tmp13) * 4433
    even = [(tmp10 + tmp11) * 8192, z1 + tmp13 * 6270, (tmp10 - tmp11) * 8192, z1 - tmp12 * 15137]
    z5 = (tmp4 + tmp6 + tmp5 + tmp7) * 9633
    z1, z2 = (tmp4 + tmp7) * -7373, (tmp5 + tmp6) * -20995
    z3, z4 = (tmp4 + tmp6) * -16069 + z5, (tmp5 + tmp7) * -3196 + z5
    odd = [tmp7 * 12299 + z1 + z4, tmp6 * 25172 + z2 + z3, tmp5 * 16819 + z2 + z4, tmp4 * 2446 + z1 + z3]
    return np.stack([even[0], odd[0], even[1], odd[1], even[2], odd[2], even[3], odd[3]])


def _idct_1d(c):
    """jidctint.c's 1-D butterfly on 8 dequantised inputs ``c[0..7]``, before its DESCALE."""
    z1 = (c[2] + c[6]) * 4433
    tmp2, tmp3 = z1 - c[6] * 15137, z1 + c[2] * 6270
    tmp0, tmp1 = (c[0] + c[4]) * 8192, (c[0] - c[4]) * 8192
    tmp10, tmp13, tmp11, tmp12 = tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2
    z5 = (c[7] + c[3] + c[5] + c[1]) * 9633
    z1, z2 = (c[7] + c[1]) * -7373, (c[5] + c[3]) * -20995
    z3, z4 = (c[7] + c[3]) * -16069 + z5, (c[5] + c[1]) * -3196 + z5
    tmp0, tmp1 = c[7] * 2446 + z1 + z3, c[5] * 16819 + z2 + z4
    tmp2, tmp3 = c[3] * 25172 + z2 + z3, c[1] * 12299 + z1 + z4
    return np.stack([tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0,
                     tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3])


# libjpeg-turbo's ISLOW transforms as integer matrices [8 outputs, 8 inputs]: each pass is
# exactly DESCALE(matrix @ inputs, shift) (13-bit constants, PASS1_BITS = 2); about
# sqrt(8) * 2**13 times the orthonormal DCT-II matrix (resp. its transpose).
_FDCT = _fdct_1d(np.eye(8, dtype=np.int64)).astype(np.float64)
_IDCT = _idct_1d(np.eye(8, dtype=np.int64)).astype(np.float64)


def quant_tables(quality, encoder="opencv"):
    """The quantisation tables an encoder writes at ``quality`` (``jpeg_set_quality(q, TRUE)``).

    ``encoder`` "opencv": libjpeg's Annex K tables; "mozjpeg": mozjpeg's table set 3
    (``quant_table=3``, cjpeg's default), the same table for luma and chroma. Both scale
    as libjpeg does: factor 5000 / q below 50, else 200 - 2 q; entry = (base * scale + 50)
    // 100 clamped to 1..255 (baseline).

    Args:
      quality: an int 1..100, or an integer tensor [B] of qualities, one per example.

    Returns:
      float32 numpy array [2, 8, 8] (luma table, chroma table, natural row-major order)
      for an int; float32 tensor [B, 2, 8, 8] for a tensor of qualities.
    """
    if _per_example(quality):
        return tf.gather(_TABLES_BY_QUALITY[encoder], _quality_index(quality))
    q = check_quality(quality)
    if encoder not in TABLES:
        raise ValueError(f"encoder must be one of {sorted(TABLES)}, got {encoder!r}")
    scale = 5000 // q if q < 50 else 200 - 2 * q
    tables = np.clip((np.stack(TABLES[encoder]) * scale + 50) // 100, 1, 255)
    return tables.reshape(2, 8, 8).astype(np.float32)


def _per_example(quality):
    """True if ``quality`` is a tensor or array of qualities (one per example), not one quality."""
    return isinstance(quality, (tf.Tensor, tf.Variable)) or (isinstance(quality, np.ndarray) and quality.ndim > 0)


def _quality_index(quality):
    """Qualities (tensor [B], 1..100; clipped) as int32 indices 0..99 into the per-quality tables."""
    return tf.clip_by_value(tf.cast(tf.round(tf.cast(quality, tf.float32)), tf.int32), 1, 100) - 1


def _per_plane(tables):
    """The Y, Cb, Cr quantisation tables, shaped to broadcast against coefficients [B, R, C, 8, 8].

    ``tables``: [2, 8, 8] (one quality) or [B, 2, 8, 8] (a quality per example).
    """
    if len(tables.shape) == 4:
        luma, chroma = tables[:, 0, None, None], tables[:, 1, None, None]
    else:
        luma, chroma = tables[0], tables[1]
    return luma, chroma, chroma


_floor = tf.grad_pass_through(tf.math.floor)


def _fixed(numerator, shift=65536.0):
    """libjpeg's ``RIGHT_SHIFT``: floor(numerator / shift), straight-through gradient."""
    return _floor(numerator / shift)


def _round_half_away(x):
    """Round to the nearest integer, halves away from zero (libjpeg's quantiser)."""
    return tf.sign(x) * tf.math.floor(tf.abs(x) + 0.5)


def dead_zone(quality, encoder="opencv"):
    """How far below 1/2 step each coefficient must reach to round away from zero.

    "opencv": 0 everywhere (libjpeg rounds to the nearest level). "mozjpeg": a model of
    its trellis quantisation, which trades small levels for bits: a level is kept only when
    ``|x| >= 1/2 + d``, with ``d = TRELLIS_SLOPE(Q) * k / 63`` growing with the zigzag index
    ``k`` of the coefficient (DC: 0) and ``TRELLIS_SLOPE(Q)`` interpolated linearly in
    :data:`TRELLIS_SLOPES` (constant below Q5), the slopes that make the proxy's decoded
    pixels closest to real mozjpeg's on crops of training photographs
    (``tfjpegnet fit-encoder-model``).

    Args:
      quality: an int 1..100, or an integer tensor [B] of qualities (see :func:`quant_tables`).

    Returns:
      float32 numpy array [8, 8] (natural order, in quant steps, each in [0, 1.8]) for an
      int; float32 tensor [B, 8, 8] for a tensor of qualities.
    """
    if encoder not in TABLES:
        raise ValueError(f"encoder must be one of {sorted(TABLES)}, got {encoder!r}")
    if _per_example(quality):
        return tf.gather(_ZONES_BY_QUALITY[encoder], _quality_index(quality))
    if encoder == "opencv":
        return np.zeros((8, 8), np.float32)
    qualities, slopes = zip(*TRELLIS_SLOPES)
    slope = float(np.interp(check_quality(quality), qualities, slopes))
    return (slope * ZIGZAG_INDEX / 63.0).astype(np.float32)


def coefficient_zone(quality, encoder="opencv"):
    """:func:`dead_zone` shaped to broadcast against coefficients [B, R, C, 8, 8]:
    [8, 8] for one quality, [B, 1, 1, 8, 8] for a tensor [B] of qualities (float32)."""
    zone = dead_zone(quality, encoder)
    return zone[:, None, None] if _per_example(quality) else zone


# Every quality's tables and dead zone, for a batch with a quality per example: [100, ...]
# (numpy: no TensorFlow context may exist at import, e.g. before a multi-worker strategy).
_TABLES_BY_QUALITY = {e: np.stack([quant_tables(q, e) for q in range(1, 101)]) for e in TABLES}
_ZONES_BY_QUALITY = {e: np.stack([dead_zone(q, e) for q in range(1, 101)]) for e in TABLES}


def quantise(x, rounding, zone=0.0):
    """Round coefficients ``x`` (float32, any shape, in quant steps) by mode ``rounding``.

    ``zone`` (float or array broadcastable to ``x``, >= 0, see :func:`dead_zone`) widens
    the interval that rounds to zero: a level is sign(x) max(0, floor(|x| + 1/2 - zone)).
    """
    def rounded(v):
        return tf.sign(v) * tf.maximum(tf.math.floor(tf.abs(v) + 0.5 - zone), 0.0)

    if rounding == "exact":
        return rounded(x)
    if rounding == "ste":
        return tf.grad_pass_through(rounded)(x)
    if rounding == "none":
        return x
    raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")


def _pad_edge(x, height, width):
    """Replicate the last row and column of ``x`` [B, h, w] to [B, height, width]."""
    rows = tf.minimum(tf.range(height), tf.shape(x)[1] - 1)
    cols = tf.minimum(tf.range(width), tf.shape(x)[2] - 1)
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


def _mcus(height, width):
    """Number of 16x16 MCU rows and columns for an image of ``height`` x ``width``."""
    return (height + 15) // 16, (width + 15) // 16


def _rgb_to_ycc(rgb255):
    """jccolor.c ``rgb_ycc_convert``: integer RGB [..., 3] -> integer Y, Cb, Cr (0..255)."""
    r, g, b = tf.unstack(rgb255, axis=-1)
    y = _fixed(19595.0 * r + 38470.0 * g + 7471.0 * b + 32768.0)
    cb = _fixed(-11059.0 * r - 21709.0 * g + 32768.0 * b + 8421375.0)
    cr = _fixed(32768.0 * r - 27439.0 * g - 5329.0 * b + 8421375.0)
    return y, cb, cr


def _ycc_of(rgb):
    """Steps 1-2: float RGB [B, H, W, 3] in [0, 1] clipped, rounded to 8 bits (straight-through)
    and converted by :func:`_rgb_to_ycc`; returns Y, Cb, Cr [B, H, W] in 0..255."""
    return _rgb_to_ycc(_floor(tf.clip_by_value(tf.cast(rgb, tf.float32), 0.0, 1.0) * 255.0 + 0.5))


def _ycc_to_rgb(y, cb, cr):
    """jdcolor.c ``ycc_rgb_convert``: integer Y, Cb, Cr [B, H, W] -> RGB [B, H, W, 3] in 0..255."""
    cb = cb - 128.0
    cr = cr - 128.0
    r = y + _fixed(91881.0 * cr + 32768.0)
    g = y + _fixed(-22554.0 * cb - 46802.0 * cr + 32768.0)
    b = y + _fixed(116130.0 * cb + 32768.0)
    return tf.clip_by_value(tf.stack([r, g, b], axis=-1), 0.0, 255.0)


def _downsample(chroma, mcu_rows, mcu_cols):
    """jcsample.c ``h2v2_downsample`` with libjpeg's edge padding.

    The full-size plane [B, H, W] is padded to an even height and to the MCU width,
    each 2x2 sum gets a bias 1, 2, 1, 2, ... along the row and is shifted right by 2;
    the result is padded to the MCU height. Returns [B, 8 mcu_rows, 8 mcu_cols].
    """
    height = tf.shape(chroma)[1]
    x = _pad_edge(chroma, height + height % 2, 16 * mcu_cols)
    total = x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2] + x[:, 1::2, 1::2]
    bias = tf.cast(1 + tf.range(8 * mcu_cols) % 2, tf.float32)
    return _pad_edge(_fixed(total + bias, 4.0), 8 * mcu_rows, 8 * mcu_cols)


def _interleave(even, odd, axis):
    """Interleave two equal-shape tensors along ``axis`` (1 or 2 of [B, h, w])."""
    x = tf.stack([even, odd], axis=axis + 1)
    shape = tf.shape(even)
    new_shape = [shape[0], shape[1] * 2, shape[2]] if axis == 1 else [shape[0], shape[1], shape[2] * 2]
    return tf.reshape(x, new_shape)


def _neighbours(x, axis):
    """Previous and next samples of ``x`` [B, h, w] along ``axis``, edges replicated."""
    n = tf.shape(x)[axis]
    index = tf.range(n)
    before = tf.gather(x, tf.maximum(index - 1, 0), axis=axis)
    after = tf.gather(x, tf.minimum(index + 1, n - 1), axis=axis)
    return before, after


def _upsample(chroma, height, width):
    """jdsample.c 2x2 chroma upsampling of a decoded plane to [B, height, width].

    Only the ceil(height / 2) x ceil(width / 2) real samples are used; the fancy
    triangle filter applies when that plane is more than 2 samples wide (libjpeg's rule),
    plain replication otherwise.
    """
    x = chroma[:, :(height + 1) // 2, :(width + 1) // 2]

    def fancy():
        above, below = _neighbours(x, 1)
        colsum = _interleave(3.0 * x + above, 3.0 * x + below, axis=1)
        left, right = _neighbours(colsum, 2)
        return _interleave(_fixed(3.0 * colsum + left + 8.0, 16.0),
                           _fixed(3.0 * colsum + right + 7.0, 16.0), axis=2)

    def replicate():
        return _interleave(*(2 * [_interleave(x, x, axis=1)]), axis=2)

    up = tf.cond(tf.shape(x)[2] > 2, fancy, replicate)
    return up[:, :height, :width]


def _blocks(plane):
    """[B, 8 R, 8 C] -> [B, R, C, 8, 8] blocks."""
    shape = tf.shape(plane)
    x = tf.reshape(plane, [shape[0], shape[1] // 8, 8, shape[2] // 8, 8])
    return tf.transpose(x, [0, 1, 3, 2, 4])


def _unblocks(blocks):
    """[B, R, C, 8, 8] -> [B, 8 R, 8 C] plane."""
    shape = tf.shape(blocks)
    x = tf.transpose(blocks, [0, 1, 3, 2, 4])
    return tf.reshape(x, [shape[0], shape[1] * 8, shape[2] * 8])


def _descale(x, shift):
    """libjpeg's ``DESCALE(x, shift)``: floor((x + 2**(shift - 1)) / 2**shift), straight-through."""
    return _floor((x + 2.0 ** (shift - 1)) / 2.0 ** shift)


def _fdct(blocks):
    """jpeg_fdct_islow on float64 blocks [..., 8, 8] of integer samples - 128.

    Pass 1 transforms rows, pass 2 columns; returns 8 x the DCT coefficients, rounded
    to integers exactly as libjpeg-turbo does (float64 holds every sum exactly).
    """
    rows = _descale(tf.einsum("vy,...xy->...xv", _FDCT, blocks), 11)
    return _descale(tf.einsum("ux,...xv->...uv", _FDCT, rows), 15)


def _idct(blocks):
    """jpeg_idct_islow on float64 dequantised coefficients [..., 8, 8].

    Pass 1 transforms columns, pass 2 rows; returns integer samples before the + 128
    level shift and clamping.
    """
    columns = _descale(tf.einsum("xu,...uv->...xv", _IDCT, blocks), 11)
    return _descale(tf.einsum("yv,...xv->...xy", _IDCT, columns), 18)


def encode(rgb, quality, rounding="ste", encoder="opencv"):
    """The encoder half: RGB -> quantised DCT coefficients of Y, Cb, Cr.

    Args:
      rgb: float tensor [B, H, W, 3], RGB in [0, 1] (clipped, then rounded to 8 bits).
      quality: JPEG quality 1..100, or an integer tensor [B] (a quality per example).
      rounding: "exact", "ste" or "none" (see the module docstring).
      encoder: "opencv" (libjpeg's tables, nearest levels: exact) or "mozjpeg" (its table
        set 3 and the dead-zone model of its trellis quantisation, :func:`dead_zone`).

    Returns:
      (y, cb, cr): float32 tensors of DCT coefficients divided by their quant step
      (rounded per ``rounding``), natural order, y [B, 2 Mr, 2 Mc, 8, 8] and cb, cr
      [B, Mr, Mc, 8, 8] for Mr x Mc = ceil(H / 16) x ceil(W / 16) MCUs. Blocks that lie
      wholly in the padding are computed from replicated edges (libjpeg codes such Y
      blocks as DC-only dummies; decoded pixels do not depend on them).
    """
    tables, zone = _per_plane(quant_tables(quality, encoder)), coefficient_zone(quality, encoder)
    rgb = tf.convert_to_tensor(rgb)
    mcu_rows, mcu_cols = _mcus(tf.shape(rgb)[1], tf.shape(rgb)[2])
    y, cb, cr = _ycc_of(rgb)
    planes = [_pad_edge(y, 16 * mcu_rows, 16 * mcu_cols),
              _downsample(cb, mcu_rows, mcu_cols), _downsample(cr, mcu_rows, mcu_cols)]
    out = []
    for plane, table in zip(planes, tables):
        coef = tf.cast(_fdct(tf.cast(_blocks(plane - 128.0), tf.float64)), tf.float32)
        out.append(quantise(coef / (8.0 * table), rounding, zone))
    return tuple(out)


def decode(coefficients, quality, height, width, encoder="opencv"):
    """The decoder half: quantised coefficients -> RGB, as libjpeg-turbo decodes them.

    Args:
      coefficients: (y, cb, cr) as returned by :func:`encode`.
      quality: the quality they were quantised at (1..100, or an integer tensor [B]).
      height, width: the image size (int or scalar int32 tensor).
      encoder: whose quantisation tables (see :func:`quant_tables`).

    Returns:
      float32 tensor [B, height, width, 3], RGB in [0, 1] on the 8-bit grid (k / 255).
    """
    tables = _per_plane(quant_tables(quality, encoder))
    planes = []
    for coef, table in zip(coefficients, tables):
        pixels = tf.cast(_idct(tf.cast(coef * table, tf.float64)), tf.float32) + 128.0
        planes.append(tf.clip_by_value(_unblocks(pixels), 0.0, 255.0))
    y = planes[0][:, :height, :width]
    cb, cr = (_upsample(p, height, width) for p in planes[1:])
    return _ycc_to_rgb(y, cb, cr) / 255.0


def subsampled(rgb):
    """What JPEG's 4:2:0 colour path alone makes of ``rgb``: steps 1-3 and 6-7, no DCT or quantiser.

    RGB is rounded to 8 bits, converted to YCbCr, the chroma planes downsampled 2x2 and
    upsampled again as libjpeg-turbo does, and converted back: the decode of a JPEG at a
    quantiser so fine that only the chroma resampling is lost. Every encoder here
    subsamples chroma at every quality, so an edit that pre-compensates this loss (as
    libwebp's "sharp YUV" does for WebP) wins back decoded quality at any quality.

    Args:
      rgb: float tensor [B, H, W, 3], RGB in [0, 1] (clipped before rounding).

    Returns:
      float32 [B, H, W, 3], RGB in [0, 1] on the 8-bit grid; gradients straight through
      every rounding.
    """
    rgb = tf.convert_to_tensor(rgb)
    height, width = tf.shape(rgb)[1], tf.shape(rgb)[2]
    mcu_rows, mcu_cols = _mcus(height, width)
    y, cb, cr = _ycc_of(rgb)
    cb, cr = (_upsample(_downsample(c, mcu_rows, mcu_cols), height, width) for c in (cb, cr))
    return _ycc_to_rgb(y, cb, cr) / 255.0


def chroma_quantised(rgb, quality, encoder="opencv"):
    """What ``encoder``'s JPEG at ``quality`` makes of ``rgb``'s colour alone: luma kept, chroma coded.

    The chroma planes go the whole way (downsampled, DCT, quantised with ``encoder``'s chroma
    steps and, for mozjpeg, the dead-zone model of trellis quantisation, decoded and
    upsampled); Y goes through the same transforms unquantised. The decode of a JPEG whose
    luma were lossless: it shows the colour error a pre-edit can still cancel in luma, which
    :func:`subsampled` leaves out.

    Gradients reach the image through Y alone: the chroma path is held constant (exact
    rounding, no gradient). A gradient through the chroma's rounding, straight-through or
    not, would move the chroma to "pre-compensate" its own quantisation error, which a real
    encoder does not reward (the next level rounds to another error); Y is not quantised
    here, so moving it against the chroma's error is what the term can ask of an edit.

    Args:
      rgb: float tensor [B, H, W, 3], RGB in [0, 1] (clipped before rounding).
      quality: JPEG quality 1..100, or an integer tensor [B] (a quality per example).
      encoder: "opencv" or "mozjpeg" (see :func:`encode`).

    Returns:
      float32 [B, H, W, 3], RGB in [0, 1] on the 8-bit grid; gradients through Y only (straight
      through its 8-bit rounding).
    """
    rgb = tf.convert_to_tensor(rgb)
    shape = tf.shape(rgb)
    luma = encode(rgb, quality, "none", encoder)[0]
    _, cb, cr = encode(tf.stop_gradient(rgb), quality, "exact", encoder)
    return decode((luma, cb, cr), quality, shape[1], shape[2], encoder)


def jpeg(rgb, quality, rounding="ste", encoder="opencv"):
    """Encode and decode ``rgb`` (float [B, H, W, 3] in [0, 1]) like ``encoder``'s JPEG at ``quality``.

    ``encoder`` "opencv" is exact (OpenCV's own tables and rounding); "mozjpeg" uses
    mozjpeg's tables and a model of its trellis quantisation (:func:`dead_zone`).

    Returns float32 [B, H, W, 3], RGB in [0, 1] on the 8-bit grid.
    """
    rgb = tf.convert_to_tensor(rgb)
    shape = tf.shape(rgb)
    return decode(encode(rgb, quality, rounding, encoder), quality, shape[1], shape[2], encoder)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class JpegProxy(keras.layers.Layer):
    """Keras layer: differentiable OpenCV JPEG (encode + decode) at a fixed quality.

    Input RGB float [B, H, W, 3] in [0, 1], any H and W; output decoded RGB float32
    [B, H, W, 3] in [0, 1]. Computes in float32 whatever the dtype policy (inputs are
    cast, not autocast). Not trainable: it has no weights.

    Args:
      quality: JPEG quality 1..100.
      rounding: quantiser rounding, "exact" or "ste" (default).
    """

    def __init__(self, quality, rounding="ste", **kwargs):
        if rounding not in ("exact", "ste"):
            raise ValueError(f"rounding must be 'exact' or 'ste', got {rounding!r}")
        kwargs["dtype"] = "float32"
        super().__init__(autocast=False, **kwargs)
        self.quality = check_quality(quality)
        self.rounding = rounding

    def call(self, inputs):
        """RGB [B, H, W, 3] in [0, 1] (any float dtype) -> decoded RGB float32, same shape."""
        return jpeg(tf.cast(inputs, tf.float32), self.quality, self.rounding)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "quality": self.quality, "rounding": self.rounding}
