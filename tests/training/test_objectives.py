"""Modify-Net's loss terms on a real Kodak patch (analytic proxy), and the config they read."""

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet.errors import UserError
from tfjpegnet.jpeg import codec, color
from tfjpegnet.training.config import DEFAULTS
from tfjpegnet.training.objectives import ModifyObjective

READ = {"proxy": "analytic", "quality": 5, "distortion": "proximity", "rate_weight": 0.0, "ssim_weight": 1.0}


@pytest.fixture(scope="module")
def x(kodak_dir):
    rgb = tf.constant(codec.read_image(f"{kodak_dir}/kodim23.png")[None, 200:264, 200:264], tf.float32) / 255.0
    return color.rgb_to_ycrcb(rgb)


def objective(distortion, **overrides):
    return ModifyObjective(dict(READ, distortion=distortion, **overrides))


@pytest.mark.parametrize("distortion", ["proximity", "proximity-ssim"])
def test_unedited_patch_costs_nothing_and_a_flattened_one_does(x, distortion):
    """Terms that compare with the original are 0 for no edit."""
    loss = objective(distortion)
    assert float(loss(x, x)[0]) == pytest.approx(0.0, abs=1e-6)
    flat = tf.reduce_mean(x, axis=[1, 2], keepdims=True) * tf.ones_like(x)
    assert float(loss(x, flat)[0]) > 0.01


def test_subsampled_terms_judge_the_edit_after_the_chroma_round_trip(x):
    """subsampled / subsampled-ssim: the proximity terms of proxy.subsampled(edited), so no edit costs the
    round trip's own loss, which proximity does not see."""
    from tfjpegnet.jpeg import proxy
    rgb = color.ycrcb_to_rgb(x)
    resampled = proxy.subsampled(rgb)
    expected = float(tf.reduce_mean(tf.square(resampled - rgb)))
    assert expected > 1e-6
    assert float(objective("subsampled")(x, x)[0]) == pytest.approx(expected, rel=1e-5)
    ssim = float(tf.image.ssim(resampled, tf.clip_by_value(rgb, 0.0, 1.0), max_val=1.0)[0])
    assert float(objective("subsampled-ssim")(x, x)[0]) == pytest.approx(1.0 - ssim, rel=1e-4)
    assert float(objective("proximity")(x, x)[0]) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("term", ["chroma-quantised", "chroma-quantised-ssim"])
def test_chroma_quantised_terms_take_their_value_from_the_coded_chroma_and_anchor_the_chroma(x, term):
    """chroma-quantised(-ssim): the value is the measure after proxy.chroma_quantised, whose gradient moves Y; the
    chroma's gradient is the same measure's after the colour path alone (anchored to the original, not pushed to
    pre-compensate its own quantisation)."""
    from tfjpegnet.jpeg import proxy
    rgb = color.ycrcb_to_rgb(x)
    edited = x + 0.02 * tf.sin(tf.range(64, dtype=tf.float32))[None, :, None, None]
    plain = "subsampled" + term[len("chroma-quantised"):]

    def measure(shown, ssim):
        return (1.0 - tf.image.ssim(tf.clip_by_value(shown, 0.0, 1.0), tf.clip_by_value(rgb, 0.0, 1.0), max_val=1.0)
                if ssim else tf.reduce_mean(tf.square(shown - rgb), axis=[1, 2, 3]))

    ssim = term.endswith("-ssim")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(edited)
        loss = objective(term, quality=30, encoder="mozjpeg")(x, edited)
        coded = measure(proxy.chroma_quantised(color.ycrcb_to_rgb(edited), 30, "mozjpeg"), ssim)
        resampled = objective(plain)(x, edited)
    assert float(loss[0]) == pytest.approx(float(coded[0]), rel=1e-5)
    gradient, luma_part, chroma_part = (tape.gradient(t, edited).numpy() for t in (loss, coded, resampled))
    expected = luma_part.copy()  # the coded value's gradient: Y's, and the chroma's only where RGB clips
    expected[..., 1:] += chroma_part[..., 1:]
    np.testing.assert_allclose(gradient, expected, atol=1e-3 * np.abs(expected).max())
    assert np.abs(chroma_part[..., 1:]).mean() > 10 * np.abs(luma_part[..., 1:]).mean()


def test_teacher_term_is_the_distance_to_the_teachers_edit(x, tmp_path):
    """Distillation: 0 when the edit is the teacher's, the RGB MSE to the teacher's edit otherwise, times
    teacher_weight."""
    from tfjpegnet import models
    teacher = models.build_modify_net(2, 4)
    last = teacher.get_layer("conv2")  # zero-initialised: give the teacher an edit to imitate
    last.set_weights([np.full(w.shape, 0.01, np.float32) for w in last.get_weights()])
    path = tmp_path / "teacher.keras"
    teacher.save(path)
    loss = objective("teacher", teacher=str(path))
    taught = teacher(x)
    assert float(loss(x, taught)[0]) == pytest.approx(0.0, abs=1e-9)
    expected = np.mean((color.ycrcb_to_rgb(x).numpy() - color.ycrcb_to_rgb(taught).numpy()) ** 2)
    assert expected > 1e-4
    assert float(loss(x, x)[0]) == pytest.approx(expected, rel=1e-4)
    weighted = objective("teacher", teacher=str(path), teacher_weight=30.0)
    assert float(weighted(x, x)[0]) == pytest.approx(30 * expected, rel=1e-4)


def test_teacher_term_with_teacher_images_is_the_distance_to_each_examples_given_target(x):
    """teacher_images: the term pulls each example to the target it comes with; no target is a clear error."""
    loss = objective("teacher", teacher_images="optima", teacher_weight=4.0)
    target = color.rgb_to_ycrcb(tf.clip_by_value(color.ycrcb_to_rgb(x) + 0.05, 0.0, 1.0))
    assert float(loss(x, target, target=target)[0]) == pytest.approx(0.0, abs=1e-9)
    expected = np.mean((color.ycrcb_to_rgb(x).numpy() - color.ycrcb_to_rgb(target).numpy()) ** 2)
    assert expected > 1e-3
    assert float(loss(x, x, target=target)[0]) == pytest.approx(4 * expected, rel=1e-4)
    with pytest.raises(ValueError, match="target"):
        loss(x, x)


def test_a_quality_per_example_is_each_examples_loss_at_its_quality_and_weight(kodak_dir):
    """A net for every quality: each example's loss is the one-quality loss at its quality, with its rate weight."""
    from tfjpegnet.training.rate_weights import RateWeight
    rgb = tf.constant(codec.read_image(f"{kodak_dir}/kodim23.png")[None, 200:264, 200:328], tf.float32) / 255.0
    x = color.rgb_to_ycrcb(tf.concat([rgb[:, :, :64], rgb[:, :, 64:]], axis=0))
    edited = x * 0.97 + 0.01
    weight = RateWeight(0.02, 15, -1.7)
    qualities = tf.constant([5, 50])
    config = dict(READ, distortion="proximity+proximity-ssim", rate_weight=0.02, ssim_weight=0.02, encoder="mozjpeg")
    together = ModifyObjective(config, rate_weight_of=weight)(x, edited, qualities).numpy()
    for i, q in enumerate((5, 50)):
        alone = ModifyObjective(dict(config, quality=q, rate_weight=float(weight(tf.constant([q]))[0])))
        assert together[i] == pytest.approx(float(alone(x[i:i + 1], edited[i:i + 1])[0]), rel=1e-5)
    assert float(weight(tf.constant([5]))[0]) == pytest.approx(0.02 * 3 ** 1.7, rel=1e-5)


def test_distortion_above_judges_the_examples_above_its_quality_by_its_own_terms(kodak_dir, tmp_path):
    """--distortion-above Q:TERMS: an example of quality > Q gets TERMS' loss (here a conditioned teacher, which sees
    the example's quality), the others --distortion's; the rate term is every example's."""
    from tfjpegnet import models
    from tfjpegnet.training.rate_weights import RateWeight
    rgb = tf.constant(codec.read_image(f"{kodak_dir}/kodim23.png")[None, 200:264, 200:328], tf.float32) / 255.0
    x = color.rgb_to_ycrcb(tf.concat([rgb[:, :, :64], rgb[:, :, 64:]], axis=0))
    teacher = models.build_light_modify_net(factor=2, filters=8, blocks=1, conditioned=True)
    last = teacher.get_layer("conv_out")  # zero-initialised: give the teacher an edit that follows the quality
    last.set_weights([np.full(w.shape, 0.01, np.float32) for w in last.get_weights()])
    teacher.get_layer("film1").set_weights([np.full(w.shape, 0.5, np.float32) for w in
                                            teacher.get_layer("film1").get_weights()])
    path = tmp_path / "teacher.keras"
    teacher.save(path)
    qualities = tf.constant([30, 90])
    edited = x * 0.97 + 0.01
    config = dict(READ, distortion="proximity", rate_weight=0.02, encoder="mozjpeg")
    weight = RateWeight(0.02, 15, -1.7)
    both = ModifyObjective(dict(config, distortion_above="80:teacher", teacher=str(path)), rate_weight_of=weight)
    together = both(x, edited, qualities).numpy()
    low = ModifyObjective(config, rate_weight_of=weight)(x, edited, qualities).numpy()
    high = ModifyObjective(dict(config, distortion="teacher", teacher=str(path)), rate_weight_of=weight)(
        x, edited, qualities).numpy()
    assert together[0] == pytest.approx(low[0], rel=1e-6) and together[1] == pytest.approx(high[1], rel=1e-6)
    assert abs(high[1] - low[1]) > 1e-4
    taught = teacher(models.with_quality(x, qualities))
    at_30 = teacher(models.with_quality(x, tf.constant([30, 30])))
    assert float(tf.reduce_max(tf.abs(taught[1] - at_30[1]))) > 1e-4  # the teacher was asked at the example's Q
    rate_only = ModifyObjective(dict(config, rate_weight=0.0, distortion="teacher", teacher=str(path)),
                                rate_weight_of=lambda q: 0.0 * tf.cast(q, tf.float32))(x, taught, qualities)
    assert float(rate_only[1]) == pytest.approx(0.0, abs=1e-9)


def test_decoded_term_is_plain_jpeg_error_for_no_edit_and_passes_a_gradient(x):
    loss = float(objective("decoded")(x, x)[0])
    rgb = np.clip(np.round(color.ycrcb_to_rgb(x).numpy()[0] * 255), 0, 255).astype(np.uint8)
    decoded = codec.jpeg_roundtrip(rgb, 5)[0].astype(np.float32) / 255.0
    assert loss == pytest.approx(float(np.mean((decoded - color.ycrcb_to_rgb(x).numpy()[0]) ** 2)), rel=0.05)
    edited = tf.Variable(x * 0.9 + 0.05)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(objective("decoded+proximity", rate_weight=0.1)(x, edited))
    grad = tape.gradient(value, edited).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0.0


def test_reads_a_config_without_the_removed_keys_and_ignores_them_at_their_one_value(x):
    plain = objective("proximity+proximity-ssim", rate_weight=0.05)
    legacy = objective("proximity+proximity-ssim", rate_weight=0.05, contrast_weight=0.02, rounding="ste",
                       rate_gradient="smooth")
    edited = x * 0.9 + 0.05
    np.testing.assert_array_equal(plain(x, edited).numpy(), legacy(x, edited).numpy())
    ModifyObjective(dict(DEFAULTS, **READ))  # a whole run configuration works too


@pytest.mark.parametrize("overrides", [{"rounding": "soft"}, {"rate_gradient": "boundary"},
                                       {"distortion": "proximity+contrast"}, {"distortion": "jpeg-ssim"}])
def test_removed_options_are_refused_not_ignored(overrides):
    with pytest.raises(UserError):
        ModifyObjective(dict(READ, **overrides))
