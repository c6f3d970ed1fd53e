import numpy as np
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
