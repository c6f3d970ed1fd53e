"""The rate weight per quality of a net for every quality: the fitted power law and plain JPEG's slope itself."""

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet.jpeg import codec
from tfjpegnet.training import rate_weights
from tfjpegnet.training.rate_weights import RateWeight, SlopeRateWeight

QUALITIES = [5, 15, 50, 95]
SLOPES = [0.06, 0.008, 0.0015, 0.0001]


def _at(weight, quality):
    return float(weight(tf.constant([quality]))[0])


def test_the_slope_form_is_the_same_multiple_of_plain_slope_at_every_measured_quality():
    weight = SlopeRateWeight(0.02, 15, QUALITIES, SLOPES)
    for q, slope in zip(QUALITIES, SLOPES):
        assert _at(weight, q) == pytest.approx(0.02 * slope / 0.008, rel=1e-5)
    assert weight.describe() == "0.02 x slope(q) / slope(15) (plain JPEG's, q 5..95)"


def test_the_slope_form_is_log_log_linear_between_measured_qualities_and_flat_outside():
    weight = SlopeRateWeight(0.02, 15, QUALITIES, SLOPES)
    between = np.exp(np.interp(np.log(30), np.log(QUALITIES), np.log(SLOPES)))
    assert _at(weight, 30) == pytest.approx(0.02 * between / 0.008, rel=1e-5)
    assert 0.02 * 0.0015 / 0.008 < _at(weight, 30) < 0.02
    assert _at(weight, 1) == pytest.approx(_at(weight, 5)) and _at(weight, 100) == pytest.approx(_at(weight, 95))
    # a reference between measured qualities: the weight there is still the weight given
    assert _at(SlopeRateWeight(0.01, 30, QUALITIES, SLOPES), 30) == pytest.approx(0.01, rel=1e-5)


@pytest.mark.parametrize("qualities, slopes", [([15], [0.01]), ([50, 15], [0.001, 0.01]), ([5, 15], [0.01, 0.0])])
def test_the_slope_form_refuses_points_it_cannot_interpolate(qualities, slopes):
    with pytest.raises(ValueError, match="ascending"):
        SlopeRateWeight(0.02, 15, qualities, slopes)


def test_both_forms_are_fitted_to_real_mozjpeg_slopes(kodak_dir):
    """On real patches and real mozjpeg: the power law's exponent is negative, and the slope form
    passes through the measured slopes, scaled to the weight given at the reference."""
    image = codec.read_image(f"{kodak_dir}/kodim23.png")
    patches = np.stack([image[y:y + 32, x:x + 32] for y in (100, 200) for x in (100, 300)])
    power, rows = rate_weights.fit(patches, "mozjpeg", 0.02, 15)
    assert isinstance(power, RateWeight) and power.exponent < -0.5
    slope, same_rows = rate_weights.fit(patches, "mozjpeg", 0.02, 15, "slope")
    assert isinstance(slope, SlopeRateWeight) and same_rows == rows
    reference = next(r["slope"] for r in rows if r["quality"] == 15)
    for row in rows:
        assert _at(slope, row["quality"]) == pytest.approx(0.02 * row["slope"] / reference, rel=1e-4)
