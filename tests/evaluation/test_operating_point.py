"""Operating points on real Kodak crops: an identity model sits on plain JPEG; the table has one line per row.

The command (``tfjpegnet operating-point``) is tested in tests/cli/test_operating_point_command.py.
"""

import cv2
import numpy as np
import pytest

from tfjpegnet import models
from tfjpegnet.evaluation import evaluate, operating_point


@pytest.fixture(scope="module")
def images(kodak_dir):
    return {f"crop{i}": evaluate.load_images([kodak_dir / f"kodim{i}.png"])[f"kodim{i}"][200:296, 300:428]
            for i in (22, 23)}


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "identity.keras"
    models.build_modify_net(depth=3, filters=8).save(path)  # last layer zero-initialised
    return str(path)


def test_identity_model_sits_on_plain_jpeg(images, identity_model):
    result = operating_point.measure([identity_model], images, 15)
    row, plain = result["models"][0], result["plain"]
    assert row["d_psnr"] == 0.0 and row["d_bpp"] == 0.0 and row["ssim"] == plain["ssim"]
    assert abs(row["saving_psnr"]) < 1e-6 and abs(row["saving_ssim"]) < 1e-6
    expected = np.mean([cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                     [cv2.IMWRITE_JPEG_QUALITY, 15])[1].size * 8 / rgb[..., 0].size
                        for rgb in images.values()])
    assert plain["bpp"] == pytest.approx(expected)


def row(label, psnr):
    return {"model": label, "psnr": psnr, "d_psnr": psnr - 30.0, "ssim": 0.9, "bpp": 1.0, "d_bpp": -2.0,
            "saving_psnr": 1.5, "saving_ssim": float("nan")}


def test_markdown_has_one_table_line_per_row():
    result = {"quality": 80, "plain": {"psnr": 30.0, "ssim": 0.9, "bpp": 1.02},
              "models": [row("a.keras", 30.5), row("b.keras", 29.5), row("c.keras", 29.0)]}
    lines = operating_point.to_markdown(result).splitlines()
    body = [line for line in lines if line.startswith("| `")]
    assert body == [operating_point.table_row(r) for r in result["models"]]
    assert lines.count(operating_point.TABLE_HEADER[0]) == 1 and lines[0] == "# Operating points at Q80 " \
        "(OpenCV JPEG, default settings)"
    assert "| `c.keras` | 29.000 | -1.000 | 0.9000 | 1.0000 | -2.0 % | +1.50 % | +nan % |" in lines
    titled = operating_point.to_markdown(result, title="T", notes=["a note"]).splitlines()
    assert titled[0] == "# T" and "a note" in titled and [x for x in titled if x.startswith("| `")] == body
