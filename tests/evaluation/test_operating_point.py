"""The operating-point command on real Kodak crops: identity model, a blurring edit, the CLI."""

import json

import cv2
import numpy as np
import pytest

from tfjpegnet import cli, models
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


def test_cli_writes_table_and_json_and_rejects_missing_model(tmp_path, kodak_dir, identity_model, capsys):
    assert cli.main(["operating-point", "--quality", "5", "--data-dir", str(kodak_dir),
                     "--out", str(tmp_path / "out"), identity_model]) == 0
    result = json.loads((tmp_path / "out" / "operating_points.json").read_text())
    assert result["images"] == ["kodim22", "kodim23", "kodim24"] and result["quality"] == 5
    assert "| `" + identity_model in (tmp_path / "out" / "operating_points.md").read_text()
    assert cli.main(["operating-point", "--quality", "5", str(tmp_path / "nope.keras")]) == 2
    assert "not found" in capsys.readouterr().err
