"""Modify-Net's loss terms on a real Kodak patch (analytic proxy)."""

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet.jpeg import codec, color
from tfjpegnet.training.objectives import ModifyObjective
from tfjpegnet.training.config import PRESETS


@pytest.fixture(scope="module")
def x(kodak_dir):
    rgb = tf.constant(codec.read_image(f"{kodak_dir}/kodim23.png")[None, 200:264, 200:264], tf.float32) / 255.0
    return color.rgb_to_ycrcb(rgb)


def objective(distortion, **overrides):
    config = dict(PRESETS["cpu"], proxy="analytic", quality=5, distortion=distortion, ssim_weight=1.0,
                  contrast_weight=1.0, rate_weight=0.0)
    config.update(overrides)
    return ModifyObjective(config)


@pytest.mark.parametrize("distortion", ["proximity", "proximity-ssim", "jpeg-ssim", "contrast"])
def test_unedited_patch_costs_nothing_and_a_flattened_one_does(x, distortion):
    """Terms that compare with the original, or with plain JPEG of it, are 0 for no edit."""
    loss = objective(distortion)
    assert float(loss(x, x)[0]) == pytest.approx(0.0, abs=1e-6)
    flat = tf.reduce_mean(x, axis=[1, 2], keepdims=True) * tf.ones_like(x)
    assert float(loss(x, flat)[0]) > 0.01


def test_jpeg_ssim_gradient_reaches_the_edit(x):
    edited = tf.Variable(x * 0.9 + 0.05)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(objective("jpeg-ssim")(x, edited))
    grad = tape.gradient(value, edited).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0.0
