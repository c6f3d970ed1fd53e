import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import coefficient_branch, models
from tfjpegnet.jpeg import color, proxy
from tfjpegnet.training import config as run_config
from tfjpegnet.errors import UserError


@pytest.mark.parametrize("encoder,quality", [("mozjpeg", 15), ("mozjpeg", 75), ("opencv", 30)])
def test_branch_sees_the_coefficients_the_encoder_quantises_in_its_steps(encoder, quality):
    """ToCoefficients' c / step is the proxy's luma DCT coefficient in quant steps (before rounding)
    for the AC terms (the proxy's libjpeg fixed-point colour and DCT differ by a fraction of a level)."""
    rgb = tf.random.stateless_uniform((1, 48, 64, 3), seed=(1, 2))
    rgb = tf.round(rgb * 255.0) / 255.0
    y, _, _ = proxy.encode(rgb, quality, rounding="none", encoder=encoder)  # [1, 6, 8, 8, 8]
    q = tf.constant([[quality / 100.0]])
    steps = coefficient_branch.LumaSteps(encoder)(q)
    np.testing.assert_array_equal(steps.numpy().reshape(8, 8), proxy.quant_tables(quality, encoder)[0])
    features = coefficient_branch.ToCoefficients()([color.rgb_to_ycrcb(rgb), steps, q]).numpy()
    assert features.shape == (1, 6, 8, 2 * coefficient_branch.COEFFICIENTS + 1)
    ours = features[..., 64:128]  # sign(c) log(1 + |c|)
    ours = np.sign(ours) * np.expm1(np.abs(ours))
    theirs = y.numpy().reshape(1, 6, 8, 64)
    ac = np.arange(64) > 0
    table = proxy.quant_tables(quality, encoder)[0].reshape(64)
    # in 0..255 units: within 2 levels (libjpeg rounds Y to 8 bits and the DCT to integers)
    np.testing.assert_allclose((ours * table)[..., ac], (theirs * table)[..., ac], atol=2.0)
    assert np.abs(ours - theirs)[..., ac].mean() < 0.05
    np.testing.assert_allclose(features[..., :64], np.clip(ours, -8, 8), atol=1e-4)
    np.testing.assert_allclose(features[..., -1], quality / 100.0, atol=1e-6)


def test_changes_in_steps_come_back_as_luma_pixels_of_the_block():
    """FromCoefficients inverts the transform (orthonormal basis) and touches only Y."""
    basis = coefficient_branch.BASIS
    np.testing.assert_allclose(basis @ basis.T, np.eye(64), atol=1e-5)
    q = tf.constant([[0.3], [0.9]])
    steps = coefficient_branch.LumaSteps("mozjpeg")(q)
    like = tf.zeros((2, 20, 28, 3))
    changes = np.zeros((2, 3, 4, 64), np.float32)
    changes[0, 1, 2, 1] = 1.0  # one step of the first horizontal AC frequency in block (1, 2) of image 0
    pixels = coefficient_branch.FromCoefficients()([tf.constant(changes), steps, like]).numpy()
    assert pixels.shape == (2, 20, 28, 3)
    assert np.all(pixels[..., 1:] == 0) and np.all(pixels[1] == 0)
    block = pixels[0, 8:16, 16:24, 0] * 255.0
    step = proxy.quant_tables(30, "mozjpeg")[0, 0, 1]
    np.testing.assert_allclose(block, step * np.outer(np.full(8, np.sqrt(1 / 8)), basis.reshape(64, 8, 8)[1, 0] * np.sqrt(8)),
                               atol=1e-4)
    outside = np.ones((20, 28), bool)
    outside[8:16, 16:24] = False
    assert np.all(pixels[0, ..., 0][outside] == 0)


def test_a_new_branch_adds_nothing_until_trained_and_round_trips_through_keras(tmp_path):
    plain = models.build_light_modify_net(factor=2, filters=8, blocks=1, mcu_branch=8, conditioned=True)
    rng = np.random.default_rng(0)
    plain.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in plain.get_weights()])
    net = models.build_light_modify_net(factor=2, filters=8, blocks=1, mcu_branch=8, conditioned=True,
                                        coefficient_units=16, encoder="mozjpeg")
    models.transfer_weights(plain, net)
    x = models.with_quality(tf.random.uniform((2, 40, 56, 3)), tf.constant([10, 80]))
    np.testing.assert_allclose(net(x).numpy(), plain(x).numpy(), atol=1e-6)
    assert models.grid_period(net) == 16
    out = net.get_layer("coef_out")
    out.kernel.assign(tf.random.normal(out.kernel.shape, stddev=0.1))
    edited = net(x).numpy()
    change = edited - plain(x).numpy()
    assert np.abs(change[..., 0]).max() > 1e-3 and np.abs(change[..., 1:]).max() < 1e-6
    net.save(tmp_path / "coef.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "coef.keras")(x).numpy(), edited, atol=1e-6)
    # the edit of image 0 does not depend on image 1's quality
    again = net(models.with_quality(x[..., :3], tf.constant([10, 30]))).numpy()
    np.testing.assert_allclose(again[0], edited[0], atol=1e-6)
    assert np.abs(again[1] - edited[1]).max() > 1e-4


def test_the_branch_needs_a_net_for_every_quality():
    with pytest.raises(ValueError, match="quality-conditioned"):
        models.build_light_modify_net(factor=2, filters=8, blocks=1, coefficient_units=16)
    with pytest.raises(UserError, match="--coefficient-branch needs --qualities"):
        run_config.resolve_config({"coefficient_branch": 16, "arch": "light", "proxy": "analytic"})
