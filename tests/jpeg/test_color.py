import cv2
import numpy as np
import tensorflow as tf

from tfjpegnet.jpeg import codec, color


def test_rgb_to_ycrcb_matches_opencv(kodak_dir):
    rgb = codec.read_image(kodak_dir / "kodim23.png").astype(np.float32) / 255.0
    ours = color.rgb_to_ycrcb(tf.constant(rgb)).numpy()
    theirs = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    assert np.abs(ours - theirs).max() <= 1 / 255


def test_ycrcb_to_rgb_matches_opencv_and_inverts(kodak_dir):
    x = codec.read_image(kodak_dir / "kodim03.png").astype(np.float32) / 255.0
    ycrcb = cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)
    ours = color.ycrcb_to_rgb(tf.constant(ycrcb)).numpy()
    theirs = cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)
    assert np.abs(ours - theirs).max() <= 1 / 255
    back = color.ycrcb_to_rgb(color.rgb_to_ycrcb(tf.constant(x))).numpy()
    assert np.abs(back - x).max() < 1e-3
