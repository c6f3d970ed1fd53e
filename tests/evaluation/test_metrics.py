"""Metrics against known values and independent computations (numpy, closed forms)."""

import math

import numpy as np
import pytest

from tfjpegnet.evaluation import metrics


def _numpy_ssim(a, b, peak=255.0, size=11, sigma=1.5):
    """Independent SSIM (Wang et al. 2004): Gaussian window, 'valid' positions, mean over channels."""
    coords = np.arange(size) - (size - 1) / 2
    g = np.exp(-coords ** 2 / (2 * sigma ** 2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    values = []
    for ch in range(a.shape[-1]):
        x = np.lib.stride_tricks.sliding_window_view(a[..., ch].astype(np.float64), (size, size))
        y = np.lib.stride_tricks.sliding_window_view(b[..., ch].astype(np.float64), (size, size))
        mx, my = (x * window).sum((-1, -2)), (y * window).sum((-1, -2))
        vx = (x * x * window).sum((-1, -2)) - mx * mx
        vy = (y * y * window).sum((-1, -2)) - my * my
        cov = (x * y * window).sum((-1, -2)) - mx * my
        ssim_map = (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        values.append(ssim_map.mean())
    return float(np.mean(values))


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 48, 3)).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_psnr_known_values():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert metrics.psnr(a, a + 1) == pytest.approx(20 * math.log10(255))  # MSE 1
    assert metrics.psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 255.0)) == pytest.approx(0.0)
    assert metrics.psnr(a, a) == math.inf
    assert metrics.psnr(a, a + 2, peak=1.0) == pytest.approx(10 * math.log10(1 / 4))


def test_psnr_y_uses_bt601_luma(pair):
    a, b = pair
    assert metrics.psnr_y(np.full((4, 4, 3), 10.0), np.full((4, 4, 3), 11.0)) == pytest.approx(20 * math.log10(255))
    ya = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    yb = 0.299 * b[..., 0] + 0.587 * b[..., 1] + 0.114 * b[..., 2]
    expected = 10 * math.log10(255 ** 2 / np.mean((ya - yb) ** 2))
    assert metrics.psnr_y(a, b) == pytest.approx(expected, abs=1e-9)


def test_ssim_matches_independent_numpy(pair):
    a, b = pair
    assert metrics.ssim(a, b) == pytest.approx(_numpy_ssim(a, b), abs=2e-4)
    assert metrics.ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    batch = metrics.ssim(np.stack([a, a]), np.stack([b, a]))
    assert batch.shape == (2,) and batch[1] == pytest.approx(1.0, abs=1e-6)


def test_ms_ssim_needs_161_pixels_else_nan():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (161, 170, 3)).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 10, a.shape), 0, 255).astype(np.uint8)
    assert metrics.ms_ssim_min_side() == 161
    assert metrics.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < metrics.ms_ssim(a, b) < 1.0
    assert math.isnan(metrics.ms_ssim(a[:160], b[:160]))


def test_bpp():
    assert metrics.bpp(1000, 100 * 80) == 1.0


CURVE_RATES = [0.21, 0.37, 0.66, 1.3, 2.2]
CURVE_PSNR = [26.0, 28.5, 31.0, 34.2, 37.0]


@pytest.mark.parametrize("factor", [0.9, 1.25])
def test_bd_rate_of_a_rate_scaled_curve_is_the_factor(factor):
    rates = [r * factor for r in CURVE_RATES]
    assert metrics.bd_rate(CURVE_RATES, CURVE_PSNR, rates, CURVE_PSNR) == pytest.approx((factor - 1) * 100, abs=1e-9)
    order = [3, 0, 4, 2, 1]  # points in any order
    shuffled = metrics.bd_rate([CURVE_RATES[i] for i in order], [CURVE_PSNR[i] for i in order], rates, CURVE_PSNR)
    assert shuffled == pytest.approx((factor - 1) * 100, abs=1e-9)


def test_bd_rate_uses_only_the_overlapping_quality_range():
    # Closed form: log rate linear in quality with the same slope, offset log(0.8), different ranges.
    ref_q = np.array([20.0, 25.0, 30.0, 35.0])
    test_q = np.array([27.0, 31.0, 36.0, 40.0])
    ref_rates = np.exp(0.2 * ref_q - 5)
    test_rates = 0.8 * np.exp(0.2 * test_q - 5)
    assert metrics.bd_rate(ref_rates, ref_q, test_rates, test_q) == pytest.approx(-20.0, abs=1e-9)
    assert math.isnan(metrics.bd_rate(ref_rates, ref_q, test_rates, ref_q + 100))
    assert math.isnan(metrics.bd_rate(ref_rates[:1], ref_q[:1], test_rates, test_q))


def test_bit_saving_at_equal_quality():
    q = np.arange(1, 101)
    plain_psnr = 20 + 0.15 * q  # any increasing curve
    plain_bpp = np.exp(0.04 * q - 3)  # log bpp linear in Q => exact under log interpolation
    quality = 20 + 0.15 * 37.5  # between Q37 and Q38
    expected_plain = math.exp(0.04 * 37.5 - 3)
    assert metrics.plain_rate_at(quality, plain_bpp, plain_psnr) == pytest.approx(expected_plain, rel=1e-12)
    assert metrics.bit_saving(0.9 * expected_plain, quality, plain_bpp, plain_psnr) == pytest.approx(10.0, abs=1e-9)
    assert metrics.bit_saving(1.2 * expected_plain, quality, plain_bpp, plain_psnr) == pytest.approx(-20.0, abs=1e-9)
    assert math.isnan(metrics.bit_saving(1.0, 40.0, plain_bpp, plain_psnr))  # above Q100's quality


def test_plain_rate_takes_the_cheapest_point_reaching_a_quality():
    # Plain JPEG's lowest settings can wiggle: Q2 reaches a higher quality than Q3 for fewer bits.
    rates = [0.10, 0.12, 0.15, 0.30]
    quality = [20.0, 21.5, 21.0, 25.0]
    assert metrics.plain_rate_at(21.0, rates, quality) == pytest.approx(0.12)  # not Q3's 0.15
    assert metrics.plain_rate_at(20.5, rates, quality) == pytest.approx(math.sqrt(0.10 * 0.12))  # log interpolation
    assert metrics.plain_rate_at(25.0, rates, quality) == pytest.approx(0.30)


def test_mse_and_psnr_of_a_known_difference():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 12  # one element of 48 off by 12: MSE 3
    assert metrics.mse(a, b) == 3.0
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 3.0))
    assert metrics.psnr(a, a) == float("inf") and metrics.mse(a, a) == 0.0


def test_json_ready_writes_nan_and_infinities_as_null():
    value = {"a": [1.0, float("nan"), (float("inf"), -float("inf"))], "b": np.float64("nan"), "c": "x", "d": 2}
    assert metrics.json_ready(value) == {"a": [1.0, None, [None, None]], "b": None, "c": "x", "d": 2}
