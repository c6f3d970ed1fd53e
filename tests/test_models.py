import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import models


def conv_params(k, cin, cout):
    return k * k * cin * cout + cout


def test_modify_net_paper_size_and_any_input_size():
    net = models.build_modify_net()
    convs = [l for l in net.layers if "conv" in l.name]
    assert len(convs) == 20
    expected = conv_params(3, 3, 64) + 18 * conv_params(3, 64, 64) + conv_params(3, 64, 3)
    assert net.count_params() == expected == 668227
    for shape in [(1, 64, 64, 3), (2, 37, 53, 3)]:
        x = tf.random.uniform(shape)
        y = net(x)
        assert y.shape == shape
        # A new Modify-Net is the identity (zero-initialised residual).
        np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_modify_net_sizes_are_parameters():
    net = models.build_modify_net(depth=5, filters=16)
    assert net.count_params() == conv_params(3, 3, 16) + 3 * conv_params(3, 16, 16) + conv_params(3, 16, 3)


def test_mcu_layers_cut_jpeg_mcus_and_put_them_back():
    x = tf.random.uniform((2, 37, 21, 3))
    mcus = models.ToMCUs()(x).numpy()
    assert mcus.shape == (2, 3, 2, 16 * 16 * 3)
    # MCU (1, 0) holds rows 16..31, columns 0..15, pixel by pixel, channels innermost.
    np.testing.assert_array_equal(mcus[1, 1, 0].reshape(16, 16, 3), x.numpy()[1, 16:32, 0:16])
    # Past the image the MCUs are mirrored, and FromMCUs crops them away again.
    np.testing.assert_array_equal(mcus[0, 2, 1].reshape(16, 16, 3)[:5, :5], x.numpy()[0, 32:37, 16:21])
    np.testing.assert_array_equal(mcus[0, 2, 1].reshape(16, 16, 3)[5, :5], x.numpy()[0, 36, 16:21])
    np.testing.assert_array_equal(models.FromMCUs()([mcus, x]).numpy(), x.numpy())


def test_mcu_branch_starts_as_the_identity_and_marks_the_grid():
    net = models.build_modify_net(depth=3, filters=8, mcu_branch=16)
    x = tf.random.uniform((1, 40, 24, 3))
    np.testing.assert_array_equal(net(x).numpy(), x.numpy())
    plain = models.build_modify_net(depth=3, filters=8)
    assert net.count_params() == plain.count_params() + (6 * 256 * 16 + 16) + (16 * 16 + 16) + (16 * 768 + 768)
    assert models.grid_period(net) == 16 and models.grid_period(plain) == 1
    assert net.layers[-1].name == "edited" and net.layers[-1].input[0] is net.inputs[0]


def test_transfer_weights_into_an_mcu_branch_net_keeps_the_edit(tmp_path):
    plain = models.build_modify_net(depth=3, filters=8)
    for weight in plain.weights:
        weight.assign(tf.random.normal(weight.shape, stddev=0.05))
    branch = models.build_modify_net(depth=3, filters=8, mcu_branch=16)
    models.transfer_weights(plain, branch)
    x = tf.random.uniform((1, 40, 56, 3))
    np.testing.assert_allclose(branch(x).numpy(), plain(x).numpy(), atol=1e-6)
    # A trained branch changes the edit, MCU by MCU; a saved net reloads with it.
    out = branch.get_layer("mcu_out")
    out.kernel.assign(tf.random.normal(out.kernel.shape, stddev=0.05))
    assert np.abs(branch(x).numpy() - plain(x).numpy()).max() > 1e-3
    branch.save(tmp_path / "branch.keras")
    loaded = keras.models.load_model(tmp_path / "branch.keras")
    np.testing.assert_allclose(loaded(x).numpy(), branch(x).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="cannot copy"):
        models.transfer_weights(plain, models.build_modify_net(depth=3, filters=4))
    with pytest.raises(ValueError, match="no layer"):
        models.transfer_weights(plain, keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")]))


def test_jpeg_net_three_convs_three_deconvs_8x8():
    net = models.build_jpeg_net()
    kinds = [type(l).__name__ for l in net.layers]
    assert kinds.count("Conv2D") == 3 and kinds.count("Conv2DTranspose") == 3
    assert net(tf.zeros([4, 8, 8, 3])).shape == (4, 8, 8, 3)


def test_blocks_round_trip_in_row_major_order():
    images = tf.reshape(tf.range(2 * 16 * 24 * 3, dtype=tf.float32), [2, 16, 24, 3])
    blocks = models.to_blocks(images)
    assert blocks.shape == (2 * 2 * 3, 8, 8, 3)
    np.testing.assert_array_equal(blocks[1].numpy(), images[0, 0:8, 8:16].numpy())
    np.testing.assert_array_equal(blocks[6].numpy(), images[1, 0:8, 0:8].numpy())
    np.testing.assert_array_equal(models.from_blocks(blocks, 16, 24).numpy(), images.numpy())


def test_light_net_cost_matches_a_count_by_hand():
    # factor 2, 4 filters, 1 block, on 3 channels: every convolution at 1/4 of the pixels.
    net = models.build_light_modify_net(factor=2, filters=4, blocks=1)
    conv_in = 3 * 3 * 12 * 4          # 3x3, 12 = 2*2*3 unshuffled channels -> 4
    depthwise = 3 * 3 * 4             # 3x3 depthwise on 4 channels
    pointwise = 4 * 4                 # 1x1, 4 -> 4
    conv_out = 3 * 3 * 4 * 12         # 3x3, 4 -> 12 -> shuffled back to 3 channels
    macs = (conv_in + depthwise + pointwise + conv_out) * 1e6 / 4
    biases = 4 + 4 + 4 + 12
    cost = models.cost(net)
    assert cost["parameters"] == conv_in + depthwise + pointwise + conv_out + biases
    assert cost["macs_per_megapixel"] == macs
    assert cost["gflops_per_megapixel"] == 2 * macs / 1e9
    # The paper's 20x64 net: 18 hidden 3x3 64->64 layers dominate, 1.33 TFLOP per megapixel.
    paper = models.cost(models.build_modify_net())
    assert paper["macs_per_megapixel"] == 1e6 * (27 * 64 + 18 * 576 * 64 + 576 * 3)


@pytest.mark.parametrize("mcu_branch", [0, 16])
def test_light_net_is_the_identity_at_init_and_round_trips_through_keras(tmp_path, mcu_branch):
    net = models.build_light_modify_net(factor=4, filters=8, blocks=2, mcu_branch=mcu_branch)
    x = tf.random.uniform((2, 37, 53, 3))
    np.testing.assert_array_equal(net(x).numpy(), x.numpy())
    rng = np.random.default_rng(0)
    net.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in net.get_weights()])
    path = tmp_path / "light.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), atol=1e-6)
    assert not np.allclose(net(x).numpy(), x.numpy())
    assert models.grid_period(net) == (16 if mcu_branch else 4)


def test_light_net_receptive_radius_bounds_its_reach():
    net = models.build_light_modify_net(factor=4, filters=8, blocks=1)
    rng = np.random.default_rng(1)
    net.set_weights([w + rng.normal(0, 0.2, w.shape).astype(w.dtype) for w in net.get_weights()])
    radius = models.receptive_radius(net)
    assert radius == 3 + 4 * 3  # unshuffle cell + three 3x3 convolutions at 4 px per position
    base = np.full((1, 96, 96, 3), 0.5, np.float32)
    poked = base.copy()
    poked[0, 48, 48] = 1.0  # on a cell corner: the farthest reach is radius px away on one side
    change = np.abs(net(poked).numpy() - net(base).numpy()).max(axis=(0, 3))
    rows, cols = np.nonzero(change > 1e-6)
    assert rows.min() >= 48 - radius and rows.max() <= 48 + radius
    assert cols.min() >= 48 - radius and cols.max() <= 48 + radius


def test_conditioned_light_net_starts_as_the_unconditioned_one_and_learns_a_per_quality_edit(tmp_path):
    """FiLM: from an unconditioned net's weights the edit is the same at every quality; trained
    FiLM layers make it depend on the quality plane; the model round-trips through .keras."""
    plain = models.build_light_modify_net(factor=2, filters=8, blocks=2, mcu_branch=8)
    rng = np.random.default_rng(0)
    plain.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in plain.get_weights()])
    net = models.build_light_modify_net(factor=2, filters=8, blocks=2, mcu_branch=8, conditioned=True)
    assert models.is_conditioned(net) and not models.is_conditioned(plain)
    models.transfer_weights(plain, net)
    x = tf.random.uniform((2, 36, 52, 3))
    for quality in (5, 50, 95):
        np.testing.assert_allclose(net(models.with_quality(x, quality)).numpy(), plain(x).numpy(), atol=1e-6)
    film = net.get_layer("film1")
    film.kernel.assign(tf.random.normal(film.kernel.shape, stddev=0.5))
    low, high = (net(models.with_quality(x, q)).numpy() for q in (5, 95))
    assert np.abs(low - high).max() > 1e-3
    per_example = net(models.with_quality(x, tf.constant([5, 95]))).numpy()
    np.testing.assert_allclose(per_example[0], low[0], atol=1e-6)
    np.testing.assert_allclose(per_example[1], high[1], atol=1e-6)
    net.save(tmp_path / "conditioned.keras")
    loaded = keras.models.load_model(tmp_path / "conditioned.keras")
    np.testing.assert_allclose(loaded(models.with_quality(x, 95)).numpy(), high, atol=1e-6)
    assert models.cost(net)["gflops_per_megapixel"] == models.cost(plain)["gflops_per_megapixel"]
