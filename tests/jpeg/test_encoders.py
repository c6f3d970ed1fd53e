"""Every encoder writes a JPEG that OpenCV decodes; the entropy-coding variants keep OpenCV's pixels."""

import numpy as np
import pytest

from tfjpegnet.jpeg import codec, encoders
from tfjpegnet.errors import UserError


@pytest.fixture(scope="module")
def crop(kodak_dir):
    """A real 45x70 crop (not a multiple of the 8x8 / 16x16 block sizes)."""
    return codec.read_image(kodak_dir / "kodim23.png")[200:245, 300:370]


@pytest.mark.parametrize("name", list(encoders.ENCODERS))
@pytest.mark.parametrize("quality", [5, 50, 95])
def test_each_encoder_decodes_to_the_right_size(name, quality, crop):
    data = encoders.encode(name, crop, quality)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    decoded = codec.decode_jpeg(data)
    assert decoded.shape == crop.shape and decoded.dtype == np.uint8
    assert np.mean(np.abs(decoded.astype(float) - crop)) < 30  # an image of the crop, not noise


@pytest.mark.parametrize("name", ["opencv-optimize", "mozjpeg-lossless"])
@pytest.mark.parametrize("quality", [5, 15, 75])
def test_entropy_coding_variants_keep_pixels_and_save_bytes(name, quality, crop):
    plain = encoders.encode("opencv", crop, quality)
    other = encoders.encode(name, crop, quality)
    assert np.array_equal(codec.decode_jpeg(other), codec.decode_jpeg(plain))
    assert len(other) <= len(plain)


def test_default_is_opencv_and_matches_codec(crop):
    assert encoders.DEFAULT == "opencv"
    assert encoders.encode("opencv", crop, 15) == codec.encode_jpeg(crop, 15)


def test_parse_names():
    assert encoders.parse_names("jpegli, opencv,jpegli") == ["jpegli", "opencv"]
    with pytest.raises(UserError, match="unknown encoder.*libjpeg"):
        encoders.parse_names("opencv,libjpeg")
    with pytest.raises(UserError):
        encoders.parse_names(" , ")
