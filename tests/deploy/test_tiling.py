"""Tiled edits of the light Modify-Net equal the untiled edit (its halo and grid from models)."""

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import models, pixels
from tfjpegnet.deploy import tiling


@pytest.mark.parametrize("mcu_branch", [0, 8])
def test_light_net_tiled_edit_equals_whole_image_edit(kodak_dir, mcu_branch):
    import cv2
    net = models.build_light_modify_net(factor=4, filters=8, blocks=2, mcu_branch=mcu_branch)
    rng = np.random.default_rng(3)
    net.set_weights([w + rng.normal(0, 0.02, w.shape).astype(w.dtype) for w in net.get_weights()])
    rgb = cv2.imread(str(kodak_dir / "kodim05.png"))[:150, :203, ::-1].copy()

    def edit(image):
        return np.asarray(pixels.to_uint8(models.edit_rgb(net, tf.constant(image[None], tf.float32) / 255.0)[0]))

    halo = tiling.halo(net)
    assert halo % models.grid_period(net) == 0 and halo >= models.receptive_radius(net)
    whole = edit(rgb)
    tiled = tiling.edit_tiled(edit, rgb, halo, tile=64)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1
    assert not np.array_equal(whole, rgb)
