"""Run a fully convolutional image edit on overlapping tiles, so memory stays bounded.

A stack of stride-1 convolutions with zero padding makes each output pixel depend only
on the input pixels within its receptive radius (Modify-Net 20 x 3x3: 20 px). Each
tile is therefore cut out with a halo of at least that radius on every side that is
not an image border, edited, and only its core is pasted back: the result equals the
untiled edit up to float rounding (at most 1/255 after rounding to 8 bits).
"""

import numpy as np

from tfjpegnet import models


def halo(model):
    """Context to cut out around each tile of ``model``'s edit, in pixels.

    The receptive radius of the convolutions (:func:`tfjpegnet.models.receptive_radius`),
    rounded up to a multiple of the model's grid period (:func:`tfjpegnet.models.grid_period`:
    16 with an MCU branch, the unshuffle factor of a light net, else 1), so that every cut-out starts on JPEG's MCU grid when tiles do; the
    MCU branch then sees the same whole MCUs as on the untiled image. Returns int >= 0.
    """
    period = models.grid_period(model)
    return -(-models.receptive_radius(model) // period) * period


def tile_boxes(height, width, tile):
    """Split an image into non-overlapping core tiles.

    Args:
      height, width: image size in pixels (>= 1).
      tile: core tile side in pixels (>= 1).

    Returns:
      list of (top, bottom, left, right) int boxes, row-major, covering the image
      exactly once; edge tiles are smaller.
    """
    return [(top, min(top + tile, height), left, min(left + tile, width))
            for top in range(0, height, tile) for left in range(0, width, tile)]


def edit_tiled(edit, rgb, halo, tile=1024):
    """Apply ``edit`` to an image tile by tile, each tile with a ``halo`` of context.

    Args:
      edit: callable mapping uint8 [h, w, 3] to uint8 [h, w, 3] (a fully convolutional
        edit whose receptive radius is at most ``halo``).
      rgb: uint8 array [H, W, 3].
      halo: context in pixels added on each inner side of a tile (>= receptive radius).
      tile: core tile side in pixels; peak memory grows with (tile + 2 * halo)^2. For a
        model with an MCU branch, ``tile`` and ``halo`` must be multiples of its period
        (:func:`halo` gives such a halo).

    Returns:
      uint8 array [H, W, 3], equal to ``edit(rgb)`` up to float rounding.
    """
    height, width = rgb.shape[:2]
    if height <= tile and width <= tile:
        return np.asarray(edit(rgb))
    out = np.empty_like(rgb)
    for top, bottom, left, right in tile_boxes(height, width, tile):
        y0, y1 = max(top - halo, 0), min(bottom + halo, height)
        x0, x1 = max(left - halo, 0), min(right + halo, width)
        edited = np.asarray(edit(rgb[y0:y1, x0:x1]))
        out[top:bottom, left:right] = edited[top - y0:bottom - y0, left - x0:right - x0]
    return out
