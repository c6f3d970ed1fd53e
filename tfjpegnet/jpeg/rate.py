"""A differentiable estimate of the size of a baseline JPEG file, from the proxy's coefficients.

Baseline JPEG spends its bits on non-zero quantised coefficients: a Huffman code for
(zero run, magnitude category) plus as many raw bits as the category (about
log2(1 + |level|)); zeros are nearly free, and each block ends with an end-of-block code.
DC levels are coded as the difference to the previous block of the same component, in
coding order (MCU by MCU; the four Y blocks of an MCU row-major). The estimate follows that,
over the AC levels and DC differences ``r`` (rounded to integers here):

    bits = LOG_BITS * sum log2(1 + |r|) + NONZERO_BITS * count(r != 0) + BLOCK_BITS * blocks

LOG_BITS = 1.67, NONZERO_BITS = 2.28 and BLOCK_BITS = 5.45 are a least-squares fit to the
entropy-coded segment sizes of OpenCV's JPEG (default Huffman tables) of every 8th 64x64
patch of Kodak kodim01..21 at qualities 5, 10, 15, 25, 50, 75 and 90; on the 288 test
patches (kodim22..24) the mean estimate is then 0-6 % above the real size and the rank
correlation with it is 0.98 (Q5) to 0.999 (Q90). File headers (about 620 bytes with
OpenCV's defaults) are not included.

Rounding and counting have no useful gradient, so the gradient comes from a smooth
surrogate: LOG_BITS * sum log2(1 + |c|) on the unrounded coefficients (and DC
differences) ``c``. Every coefficient is pulled towards zero, most strongly near zero.
The value returned is always the estimate above.

For mozjpeg (``encoder="mozjpeg"``) the levels are those of the proxy's model of its
trellis quantisation (:func:`tfjpegnet.jpeg.proxy.dead_zone`): a level inside the dead zone
is coded as zero, and the surrogate shrinks each AC magnitude by the dead zone before the
logarithm, so coefficients mozjpeg drops anyway cost nothing and pull with no gradient. Its
constants are a least-squares fit to mozjpeg's real file sizes (progressive, optimised
Huffman tables, headers excluded) by ``tfjpegnet fit-encoder-model``.
"""

import tensorflow as tf

from tfjpegnet.jpeg import proxy

# (LOG_BITS, NONZERO_BITS, BLOCK_BITS) per encoder; "mozjpeg" is fitted by
# ``tfjpegnet fit-encoder-model`` (results/encoder_model/) on levels of its proxy model.
CONSTANTS = {"opencv": (1.67, 2.28, 5.45), "mozjpeg": (0.911, 3.646, 2.947)}
LOG_BITS, NONZERO_BITS, BLOCK_BITS = CONSTANTS["opencv"]


def _log2_1p(x):
    """log2(1 + |x|), elementwise, float32."""
    return tf.math.log1p(tf.abs(x)) / tf.math.log(2.0)


def _dc_differences(coef, mcu_order):
    """DC coefficients of ``coef`` [B, R, C, 8, 8] as differences in coding order, [B, R * C].

    With ``mcu_order`` (Y in 4:2:0) blocks are visited MCU by MCU, 2x2 blocks per MCU;
    otherwise row-major. The first block's prediction is 0, as at the start of a scan.
    """
    dc = coef[..., 0, 0]
    shape = tf.shape(dc)
    if mcu_order:
        dc = tf.reshape(dc, [shape[0], shape[1] // 2, 2, shape[2] // 2, 2])
        dc = tf.transpose(dc, [0, 1, 3, 2, 4])
    dc = tf.reshape(dc, [shape[0], -1])
    return tf.concat([dc[:, :1], dc[:, 1:] - dc[:, :-1]], axis=1)


def _symbols(coef, mcu_order):
    """AC coefficients and DC differences of ``coef`` [B, R, C, 8, 8] as one [B, N] tensor."""
    shape = tf.shape(coef)
    ac = tf.reshape(coef, [shape[0], -1, 64])[:, :, 1:]
    return tf.concat([tf.reshape(ac, [shape[0], -1]), _dc_differences(coef, mcu_order)], axis=1)


def _ac_zone(zone):
    """The dead zone ([8, 8], or [B, 1, 1, 8, 8] per example) with DC set to 0 (DC differences are
    not dead-zoned), float32."""
    mask = tf.constant([[0.0] + [1.0] * 7] + [[1.0] * 8] * 7)
    return tf.cast(zone, tf.float32) * mask


def features(coefficients, zone=0.0):
    """The three terms the estimate weighs, per image: float32 [B, 3].

    Args:
      coefficients: (y, cb, cr) as :func:`estimate_bits` takes them.
      zone: dead zone [8, 8] (or 0) of the encoder's quantiser (:func:`tfjpegnet.jpeg.proxy.dead_zone`).

    Returns:
      [sum log2(1 + |r|), count(r != 0), blocks] over the levels ``r`` (AC levels and DC
      differences of all three components).
    """
    rows = []
    for index, coef in enumerate(coefficients):
        coef = tf.cast(coef, tf.float32)
        levels = _symbols(proxy.quantise(coef, "exact", _ac_zone(zone)), index == 0)
        blocks = tf.cast(tf.shape(coef)[1] * tf.shape(coef)[2], tf.float32)
        rows.append(tf.stack([tf.reduce_sum(_log2_1p(levels), axis=1),
                              tf.reduce_sum(tf.cast(levels != 0, tf.float32), axis=1),
                              tf.fill(tf.shape(levels)[:1], blocks)], axis=1))
    return tf.add_n(rows)


def estimate_bits(coefficients, encoder="opencv", zone=0.0):
    """Estimated entropy-coded bits of each image for ``encoder``.

    Args:
      coefficients: (y, cb, cr) from :func:`tfjpegnet.jpeg.proxy.encode` with any
        rounding: float32 y [B, 2 Mr, 2 Mc, 8, 8], cb and cr [B, Mr, Mc, 8, 8], in quant steps.
      encoder: whose constants (:data:`CONSTANTS`), "opencv" or "mozjpeg".
      zone: the encoder's dead zone at this quality (:func:`tfjpegnet.jpeg.proxy.coefficient_zone`:
        [8, 8], or [B, 1, 1, 8, 8] per example; 0 for OpenCV); levels inside it
        are coded as 0, and the surrogate shrinks every AC magnitude by it, so coefficients
        the encoder drops anyway pull with no gradient.

    Returns:
      float32 tensor [B], bits (> 0); its gradient is the smooth surrogate's (see the
      module docstring).
    """
    log_bits, nonzero_bits, block_bits = CONSTANTS[encoder]
    value = tf.linalg.matvec(features(coefficients, zone), tf.constant([log_bits, nonzero_bits, block_bits]))
    ac_zone = _ac_zone(zone)
    surrogate = 0.0
    for index, coef in enumerate(coefficients):
        coef = tf.cast(coef, tf.float32)
        shrunk = tf.sign(coef) * tf.nn.relu(tf.abs(coef) - ac_zone)
        surrogate += log_bits * tf.reduce_sum(_log2_1p(_symbols(shrunk, index == 0)), axis=1)
    return tf.stop_gradient(value - surrogate) + surrogate


def bits_per_pixel(coefficients, height, width, encoder="opencv", zone=0.0):
    """:func:`estimate_bits` divided by the image area ``height * width``; float32 [B]."""
    area = tf.cast(height, tf.float32) * tf.cast(width, tf.float32)
    return estimate_bits(coefficients, encoder, zone) / area


def estimate_bpp(rgb, quality, encoder="opencv"):
    """Estimated bits per pixel of ``encoder``'s JPEG of ``rgb`` at ``quality``.

    Args:
      rgb: float tensor [B, H, W, 3], RGB in [0, 1].
      quality: JPEG quality 1..100, or an integer tensor [B] (a quality per example).
      encoder: "opencv" or "mozjpeg" (tables, dead zone and constants).

    Returns:
      float32 tensor [B], differentiable in ``rgb``.
    """
    rgb = tf.convert_to_tensor(rgb)
    shape = tf.shape(rgb)
    coefficients = proxy.encode(rgb, quality, rounding="none", encoder=encoder)
    return bits_per_pixel(coefficients, shape[1], shape[2], encoder, proxy.coefficient_zone(quality, encoder))
