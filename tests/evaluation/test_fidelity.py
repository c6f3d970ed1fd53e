"""Proxy fidelity on real Kodak patches: one PSNR (inf when identical), null in JSON, "identical" in Markdown."""

import json

import cv2
import numpy as np
import pytest

from tfjpegnet import datasets
from tfjpegnet.errors import UserError
from tfjpegnet.evaluation import fidelity, metrics
from tfjpegnet.jpeg import codec


@pytest.fixture(scope="module")
def patches(kodak_dir):
    """The four 64x64 patches of a real 64x128 crop of kodim23, RGB uint8."""
    rgb = cv2.cvtColor(cv2.imread(str(kodak_dir / "kodim23.png")), cv2.COLOR_BGR2RGB)[200:264, 300:428]
    return datasets.image_patches(np.ascontiguousarray(rgb), 64)


@pytest.fixture(scope="module")
def result(patches):
    out = fidelity.measure(patches, [15], batch_size=3)
    out.update(images=["kodim23.png"], run=None)
    return out


def test_exact_proxy_is_identical_to_opencv_and_psnr_is_metrics_psnr(patches, result):
    (row,) = result["rows"]
    assert row["proxy_exact"] == float("inf") and row["proxy_exact_mse"] == 0.0
    assert row["proxy_identical_patches"] == 1.0
    real = np.stack([codec.decode_jpeg(codec.encode_jpeg(p, 15)) for p in patches])
    assert row["identity"] == metrics.psnr(real, patches) and 20 < row["identity"] < 40
    assert not hasattr(fidelity, "psnr")  # one PSNR: tfjpegnet.evaluation.metrics.psnr


def test_mozjpeg_row_compares_the_trellis_model_with_real_mozjpeg(patches):
    """Against real mozjpeg the model is close (dead zone) but not exact, and the rate still ranks sizes."""
    from tfjpegnet.jpeg import encoders
    result = fidelity.measure(patches, [15], batch_size=3, encoder="mozjpeg")
    (row,) = result["rows"]
    real = np.stack([codec.decode_jpeg(encoders.encode("mozjpeg", p, 15)) for p in patches])
    assert result["encoder"] == "mozjpeg" and row["identity"] == metrics.psnr(real, patches)
    nearest = fidelity.proxy_decode(patches, 15, "exact", 3)  # OpenCV's proxy: other tables, no dead zone
    assert 25 < row["proxy_exact"] < float("inf") and row["proxy_exact"] > metrics.psnr(real, nearest)
    assert row["bpp_file"] == pytest.approx(np.mean([8 * len(encoders.encode("mozjpeg", p, 15)) / 64 ** 2
                                                     for p in patches]))
    result.update(images=["kodim23.png"], run=None)
    assert "# Fidelity of the JPEG models to mozjpeg's JPEG" in fidelity.to_markdown(result)
    with pytest.raises(UserError, match="--encoder opencv"):
        fidelity.measure(patches, [15], jpeg_nets={"stage1": None}, run_quality=15, encoder="mozjpeg")


def test_no_soft_rounding_column(result):
    assert "proxy_soft" not in result["rows"][0]
    assert "soft" not in fidelity.to_markdown(result)


def test_identical_is_null_in_json_and_identical_in_markdown(result):
    def refuse(constant):
        raise AssertionError(f"non-JSON constant {constant}")

    text = json.dumps(fidelity.to_json(result))
    loaded = json.loads(text, parse_constant=refuse)
    assert loaded["rows"][0]["proxy_exact"] is None
    assert result["rows"][0]["proxy_exact"] == float("inf")  # to_json copies
    def table_rows(res):
        return [line for line in fidelity.to_markdown(res).splitlines() if line.startswith("| 15 |")]

    assert len(table_rows(result)) == 1 and table_rows(result)[0].startswith("| 15 | identical | ")
    assert table_rows(loaded) == table_rows(result)  # the same table from the JSON read back


def test_run_jpeg_nets_needs_a_run_with_jpeg_nets(tmp_path):
    with pytest.raises(UserError, match="config.json not found"):
        fidelity.run_jpeg_nets(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"quality": 15}))
    (tmp_path / "stage1").mkdir()
    (tmp_path / "stage1" / "modify_net.keras").write_bytes(b"")
    with pytest.raises(UserError, match="no stage\\*/jpeg_net.keras"):
        fidelity.run_jpeg_nets(tmp_path)
    (tmp_path / "stage1" / "jpeg_net.keras").write_bytes(b"")
    assert fidelity.run_jpeg_nets(tmp_path) == (15, {"stage1": str(tmp_path / "stage1" / "jpeg_net.keras")})


@pytest.mark.parametrize("text, expected", [("50,15,15", [15, 50]), (" 5 ", [5])])
def test_parse_qualities(text, expected):
    assert fidelity.parse_qualities(text) == expected


@pytest.mark.parametrize("text", ["", "0", "5,abc"])
def test_parse_qualities_rejects(text):
    with pytest.raises(UserError):
        fidelity.parse_qualities(text)
