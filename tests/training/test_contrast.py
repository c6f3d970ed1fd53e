"""The block-contrast term: what it counts and where its gradient goes (real Kodak patches)."""

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet.jpeg import codec, proxy
from tfjpegnet.training import contrast


@pytest.fixture(scope="module")
def patch(kodak_dir):
    return tf.constant(codec.read_image(f"{kodak_dir}/kodim23.png")[None, 200:328, 200:328], tf.float32) / 255.0


def contrast_loss(original, edited, quality):
    """contrast.lost_share of RGB images [B, H, W, 3] in [0, 1], as the objective computes it."""
    def luma(rgb):
        return proxy.encode(rgb, quality, rounding="none")[0]

    return contrast.lost_share(luma(original), luma(edited), quality)


def _blur(x):
    kernel = tf.ones([5, 5, 1, 1]) / 25.0
    channels = [tf.nn.conv2d(x[..., i:i + 1], kernel, 1, "SAME") for i in range(3)]
    return tf.concat(channels, axis=-1)


@pytest.mark.parametrize("quality", [5, 15])
def test_unedited_image_loses_nothing_and_blur_loses_contrast(patch, quality):
    assert float(contrast_loss(patch, patch, quality)[0]) == 0.0
    blurred = float(contrast_loss(patch, _blur(patch), quality)[0])
    flat = float(contrast_loss(patch, tf.fill(tf.shape(patch), 0.5), quality)[0])
    assert 0.0 < blurred < flat < 1.0


def test_more_contrast_is_not_rewarded(patch):
    sharpened = tf.clip_by_value(patch + 0.5 * (patch - _blur(patch)), 0.0, 1.0)
    def energy(rgb, quality):
        return contrast.kept_energy(proxy.encode(rgb, quality, rounding="none")[0], quality)

    assert float(tf.reduce_sum(energy(sharpened, 15))) > float(tf.reduce_sum(energy(patch, 15)))
    assert float(contrast_loss(patch, sharpened, 15)[0]) < 0.01


def test_gradient_flows_to_the_edit_only(patch):
    edited = tf.Variable(_blur(patch))
    original = tf.Variable(patch)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(contrast_loss(original, edited, 5))
    grad_edit, grad_original = tape.gradient(loss, [edited, original])
    assert np.abs(grad_edit.numpy()).max() > 0.0 and np.all(np.isfinite(grad_edit.numpy()))
    assert grad_original is None
