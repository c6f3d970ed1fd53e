"""The rate term with real mozjpeg's own luma decisions (edit-optimum --rate-model decisions), on a real Kodak crop."""

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import cli
from tfjpegnet.evaluation import edit_optimum, trellis_decisions
from tfjpegnet.jpeg import codec, proxy


@pytest.fixture(scope="module")
def crop(kodak_dir):
    return codec.read_image(kodak_dir / "kodim23.png")[64:192, 96:256]


def test_real_levels_show_trellis_dropping_what_nearest_rounding_keeps(crop):
    levels = trellis_decisions.real_luma_levels(crop, 15)
    nearest = proxy.encode(tf.constant(crop[None], tf.float32) / 255.0, 15, "none", "mozjpeg")[0].numpy().round()
    assert levels.shape == nearest.shape == (1, 16, 20, 8, 8)
    assert np.count_nonzero(levels) < 0.95 * np.count_nonzero(nearest)  # trellis drops > 5 % of the levels
    assert np.mean(levels == nearest) > 0.9  # and keeps most of the others as they are


def rate_and_gradient(objective, rgb, zone):
    with tf.GradientTape() as tape:
        tape.watch(rgb)
        bits = objective.bits_per_pixel(rgb, zone)
    return float(bits[0]), np.abs(tape.gradient(bits, rgb).numpy()).sum()


def test_the_decisions_zone_lowers_the_rate_and_stops_the_pull_of_dropped_coefficients(crop):
    config = edit_optimum.objective_config(15, "subsampled+proximity-ssim", 0.02, 0.05, "mozjpeg")
    objective = trellis_decisions.DecisionObjective(config)
    zone = tf.constant(trellis_decisions.luma_zone(trellis_decisions.real_luma_levels(crop, 15)))
    rgb = tf.constant(crop[None], tf.float32) / 255.0
    decided, decided_pull = rate_and_gradient(objective, rgb, zone)
    nearest, nearest_pull = rate_and_gradient(objective, rgb, tf.zeros_like(zone))
    dropped, dropped_pull = rate_and_gradient(objective, rgb, tf.fill(tf.shape(zone), trellis_decisions.DROPPED))
    assert dropped < decided < nearest  # fewer luma levels, fewer bits
    assert 0 < dropped_pull < decided_pull < nearest_pull  # chroma alone still pulls; each dropped level stops


def test_decisions_need_mozjpeg(tmp_path, tiny_data_dir, capsys):
    assert cli.main(["edit-optimum", "--quality", "15", "--rate-model", "decisions", "--data-dir",
                     str(tiny_data_dir), "--out", str(tmp_path / "out")]) == 2
    assert "--encoder mozjpeg" in capsys.readouterr().err and not (tmp_path / "out").exists()
