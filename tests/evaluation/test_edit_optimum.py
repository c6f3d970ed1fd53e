"""The per-image optimum of the training objective on real Kodak crops and real OpenCV JPEG.

The command (``tfjpegnet edit-optimum``) is tested in tests/cli/test_edit_optimum_command.py.
"""

import cv2
import numpy as np
import pytest

from tfjpegnet.errors import UserError
from tfjpegnet.evaluation import edit_optimum, operating_point
from tfjpegnet.training.objectives import ModifyObjective


def adam(quality, rate_weight, distortion="proximity", lr=2e-3):
    """A :class:`edit_optimum.PixelAdam` of the objective at ``quality`` (SSIM weight 0.02)."""
    return edit_optimum.PixelAdam(ModifyObjective(edit_optimum.objective_config(quality, distortion, rate_weight,
                                                                                0.02)), lr)


@pytest.fixture(scope="module")
def crop(kodak_dir):
    """kodim23, 72x88 (not whole MCUs, so the padding is exercised), RGB uint8."""
    return cv2.cvtColor(cv2.imread(str(kodak_dir / "kodim23.png")), cv2.COLOR_BGR2RGB)[150:222, 300:388]


def jpeg_bytes(rgb, quality):
    """Real OpenCV JPEG size of ``rgb`` minus that of a flat grey image of its size (the headers)."""
    def size(image):
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].size
    return size(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)) - size(np.full_like(rgb, 128))


def test_proximity_alone_keeps_the_image(crop):
    edited, losses = edit_optimum.optimise_image(crop, adam(15, 0.0), steps=5)
    assert edited.shape == (1, *crop.shape) and edited.dtype == np.uint8
    assert np.abs(edited[0].astype(int) - crop).max() <= 1 and max(losses) < 1e-5


def test_subsampled_term_alone_pre_compensates_chroma_and_real_mozjpeg_decodes_closer(kodak_dir):
    """The optimum of MSE after JPEG's 4:2:0 colour path: real mozjpeg at Q90 then decodes nearer to the original
    (on kodim23's red and yellow feathers, where chroma subsampling loses most)."""
    from tfjpegnet.evaluation import metrics
    from tfjpegnet.jpeg import codec, encoders
    crop = codec.read_image(kodak_dir / "kodim23.png")[144:216, 456:544]
    edited, losses = edit_optimum.optimise_image(crop, adam(90, 0.0, "subsampled", 3e-3), steps=80)
    assert losses[-1] < 0.5 * losses[0]

    def psnr(rgb):
        return metrics.psnr(crop, codec.decode_jpeg(encoders.encode("mozjpeg", rgb, 90)))
    assert psnr(edited[0]) > psnr(crop) + 0.3


def test_chroma_quantised_term_alone_answers_mozjpegs_quantised_chroma_in_luma(kodak_dir):
    """The optimum of MSE after the colour path with mozjpeg's chroma quantisation at Q50 (its gradient moves Y
    only): the loss falls, and real mozjpeg decodes the optimum nearer to the original than the original."""
    from tfjpegnet.evaluation import metrics
    from tfjpegnet.jpeg import codec, encoders
    crop = codec.read_image(kodak_dir / "kodim23.png")[144:216, 456:544]
    config = edit_optimum.objective_config(50, "chroma-quantised", 0.0, 0.02, encoder="mozjpeg")
    edited, losses = edit_optimum.optimise_image(crop, edit_optimum.PixelAdam(ModifyObjective(config), 3e-3),
                                                 steps=80)
    assert losses[-1] < 0.9 * losses[0]

    def psnr(rgb):
        return metrics.psnr(crop, codec.decode_jpeg(encoders.encode("mozjpeg", rgb, 50)))
    assert psnr(edited[0]) > psnr(crop) + 0.1


def test_rate_term_cuts_real_jpeg_bits_and_the_loss_falls(crop):
    optimiser = adam(15, 0.05)
    edited, losses = edit_optimum.optimise_image(crop, optimiser, steps=60)
    assert losses[-1] < 0.9 * losses[0]
    assert jpeg_bytes(edited[0], 15) < 0.9 * jpeg_bytes(crop, 15)
    shifted, _ = edit_optimum.optimise_image(crop, optimiser, steps=60, shift=4)
    assert np.abs(shifted.astype(int) - edited).mean() > 0.1  # the grid the loss sees matters
    again, _ = edit_optimum.optimise_image(crop[:, ::-1].copy(), optimiser, steps=2)
    assert optimiser.step.experimental_get_tracing_count() == 2  # one trace per shift; a same-size image reuses it


def test_pixel_adam_takes_the_steps_of_keras_adam():
    """Three steps on a quadratic: the pixels PixelAdam reaches are those keras.optimizers.Adam reaches."""
    import keras
    import tensorflow as tf

    target = tf.constant(np.random.default_rng(0).uniform(size=(1, 16, 16, 3)), tf.float32)
    optimiser = edit_optimum.PixelAdam(lambda x, edited: tf.reduce_sum(tf.square(edited - 2.0 * x), [1, 2, 3]), 0.05)
    value, m, v = target, tf.zeros_like(target), tf.zeros_like(target)
    variable, reference = tf.Variable(target), keras.optimizers.Adam(0.05)
    for t in range(1, 4):
        value, m, v, _ = optimiser.step(target, value, m, v, tf.constant(t, tf.float32), [[0, 0]] * 4)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(variable - 2.0 * target))
        reference.apply_gradients([(tape.gradient(loss, variable), variable)])
    np.testing.assert_allclose(value.numpy(), variable.numpy(), rtol=1e-6, atol=1e-7)
    assert np.abs(value.numpy() - target.numpy()).mean() > 0.1  # it moved


def test_objective_config_holds_exactly_what_the_objective_reads():
    config = edit_optimum.objective_config(80, "proximity+proximity-ssim", 0.01, 0.02)
    assert config == {"proxy": "analytic", "quality": 80, "distortion": "proximity+proximity-ssim",
                      "rate_weight": 0.01, "ssim_weight": 0.02, "encoder": "opencv"}
    assert tuple(config) == edit_optimum.OBJECTIVE_KEYS
    assert edit_optimum.objective_label(config, 0) == \
        "optimum of (distortion proximity+proximity-ssim, rate_weight 0.01, ssim_weight 0.02)"
    assert edit_optimum.objective_label(config, 4).endswith(", grid shifted 4 px")


@pytest.mark.parametrize("distortion", ["contrast", "proximity+jpeg-ssim", "decoded-ssim", "mse", ""])
def test_objective_config_rejects_terms_it_does_not_offer(distortion):
    with pytest.raises(UserError, match="distortion"):
        edit_optimum.objective_config(15, distortion, 0.02, 0.02)


@pytest.mark.parametrize("shift, ok", [(0, True), (15, True), (16, False), (-1, False)])
def test_check_shift(shift, ok):
    if ok:
        edit_optimum.check_shift(shift)
    else:
        with pytest.raises(UserError, match="--grid-shift must be 0..15"):
            edit_optimum.check_shift(shift)


def test_judge_all_gives_each_optimum_one_row_and_the_table_one_line_each(crop):
    images = {"crop": crop}
    curve = operating_point.reference_curve(images)
    configs = [edit_optimum.objective_config(80, "proximity", w, 0.02) for w in (0.0, 0.01, 0.02)]
    optima = [(config, {"crop": crop[None]}, {"crop": [0.0, 0.0]}) for config in configs]  # unedited stand-ins
    rows = edit_optimum.judge_all(images, optima, 80, curve)
    assert [row["objective"] for row in rows] == configs and len(rows) == 3
    result = {"quality": 80, "plain": curve[79], "models": rows, "steps": 1, "lr": 0.002, "grid_shift": 0}
    body = [line for line in edit_optimum.to_markdown(result).splitlines() if line.startswith("| `")]
    assert body == [operating_point.table_row(row) for row in rows]
