"""Block contrast that JPEG keeps, and how much of it an edit gives up.

At low qualities JPEG keeps only a few AC levels in each 8x8 luma block. SSIM's
contrast and structure terms collapse when a block's last surviving levels go (the
decoded block turns flat), while removing one level out of many barely matters; pixel
MSE sees neither, and a rate term pulls hardest on exactly the levels that survive.
This term measures, per luma block, the share of the original's surviving AC energy
that the edited image no longer keeps, without a gradient through rounding:

    kept(c) = (c * step)^2 * sigmoid((|c| - 0.5) / SURVIVAL_WIDTH)
    loss    = mean over blocks of relu(E_original - E_edited) / (E_original + K)

with E = the sum of kept(c) over a block's 63 AC coefficients c (in quant steps;
``c * step`` is the orthonormal DCT coefficient in 0..255 units, so E is 64 x the
block's kept variance) and K = 64 x SSIM's C2 = 64 x (0.03 x 255)^2: blocks whose kept
energy is small against SSIM's constant weigh little. Gaining contrast is not
rewarded, so the term cannot buy quality with extra bits.
"""

import tensorflow as tf

from tfjpegnet.jpeg import proxy

SURVIVAL_WIDTH = 0.1
K = 64.0 * (0.03 * 255.0) ** 2


def kept_energy(y, quality):
    """Soft surviving AC energy of each luma block.

    Args:
      y: float32 luma coefficients [B, R, C, 8, 8] in quant steps, unrounded
        (``proxy.encode(rgb, quality, rounding="none")[0]``).
      quality: the JPEG quality ``y`` was computed at.

    Returns:
      float32 [B, R, C], in squared 0..255 units; differentiable in ``y``.
    """
    step = tf.constant(proxy.quant_tables(quality)[0])
    ac_mask = tf.constant([[0.0] + [1.0] * 7] + [[1.0] * 8] * 7)
    survival = tf.sigmoid((tf.abs(y) - 0.5) / SURVIVAL_WIDTH)
    return tf.reduce_sum(tf.square(y * step) * survival * ac_mask, axis=[-2, -1])


def lost_share(original_y, edited_y, quality):
    """Mean share of the original's kept block contrast that the edit loses; float32 [B] in [0, 1).

    ``original_y``, ``edited_y``: unrounded luma coefficients as for :func:`kept_energy`;
    no gradient flows to ``original_y``.
    """
    reference = tf.stop_gradient(kept_energy(original_y, quality))
    lost = tf.nn.relu(reference - kept_energy(edited_y, quality))
    return tf.reduce_mean(lost / (reference + K), axis=[1, 2])
