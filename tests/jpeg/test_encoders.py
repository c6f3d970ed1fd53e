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


@pytest.mark.parametrize("quality", [5, 15, 50, 90])
def test_mozjpeg_really_runs_trellis_quantisation(crop, kodak_dir, quality):
    """Same quality and tables as mozjpeg without trellis: a smaller file with other pixels."""
    encoders.check_mozjpeg()
    rgb = codec.read_image(kodak_dir / "kodim23.png")[:256, :256]
    options = {k: v for k, v in encoders.MOZJPEG_OPTIONS.items() if k != "trellis_quant"}
    without = encoders._vips_jpeg(rgb, quality, interlace=True, **options)
    with_trellis = encoders.encode("mozjpeg", rgb, quality)
    assert len(with_trellis) < len(without)
    assert not np.array_equal(codec.decode_jpeg(with_trellis), codec.decode_jpeg(without))
    # and mozjpeg is a different encoder from OpenCV's libjpeg-turbo, not a re-coding of it
    assert len(with_trellis) < len(encoders.encode("opencv-optimize", rgb, quality))


def test_mozjpeg_progressive_and_baseline(crop):
    progressive = encoders.encode("mozjpeg", crop, 30)
    baseline = encoders.encode("mozjpeg-baseline", crop, 30)
    assert b"\xff\xc2" in progressive and b"\xff\xc2" not in baseline and b"\xff\xc0" in baseline
    # trellis decisions depend on the scans, so the pixels differ a little, not the image
    difference = codec.decode_jpeg(progressive).astype(float) - codec.decode_jpeg(baseline)
    assert np.mean(np.abs(difference)) < 2


def test_missing_encoder_library_names_the_package(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyjpegli", None)  # makes "import pyjpegli" fail
    with pytest.raises(UserError, match="pip install pyjpegli"):
        encoders.encode("jpegli", np.zeros((8, 8, 3), np.uint8), 50)


def test_quant_tables_of_reads_opencv_files(crop):
    tables = encoders.quant_tables_of(codec.encode_jpeg(crop, 50))
    assert sorted(tables) == [0, 1] and tables[0][0, 0] == 16 and tables[1][7, 7] == 99
