"""The edit-optimum command on real Kodak crops and real OpenCV JPEG."""

import json

import cv2
import numpy as np
import pytest

from tfjpegnet import cli
from tfjpegnet.evaluation import edit_optimum
from tfjpegnet.training.objectives import ModifyObjective


def objective(quality, rate_weight, distortion="proximity"):
    return ModifyObjective({"proxy": "analytic", "quality": quality, "distortion": distortion,
                            "rate_weight": rate_weight, "ssim_weight": 0.02, "contrast_weight": 0.0,
                            "rounding": "ste", "rate_gradient": "smooth"})


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
    edited, losses = edit_optimum.optimise_image(crop, objective(15, 0.0), steps=5, lr=2e-3)
    assert edited.shape == (1, *crop.shape) and edited.dtype == np.uint8
    assert np.abs(edited[0].astype(int) - crop).max() <= 1 and max(losses) < 1e-5


def test_rate_term_cuts_real_jpeg_bits_and_the_loss_falls(crop):
    edited, losses = edit_optimum.optimise_image(crop, objective(15, 0.05), steps=60, lr=2e-3)
    assert losses[-1] < 0.9 * losses[0]
    assert jpeg_bytes(edited[0], 15) < 0.9 * jpeg_bytes(crop, 15)
    shifted, _ = edit_optimum.optimise_image(crop, objective(15, 0.05), steps=60, lr=2e-3, shift=4)
    assert np.abs(shifted.astype(int) - edited).mean() > 0.1  # the grid the loss sees matters


def test_cli_table_json_and_bad_input(tmp_path, tiny_data_dir, capsys):
    out = tmp_path / "out"
    assert cli.main(["edit-optimum", "--quality", "15", "--steps", "3", "--data-dir", str(tiny_data_dir),
                     "--rate-weight", "0", "0.05", "--out", str(out)]) == 0
    result = json.loads((out / "edit_optimum.json").read_text())
    assert result["images"] == ["img3", "img4", "img5"] and result["steps"] == 3
    rows = result["models"]
    assert [row["objective"]["rate_weight"] for row in rows] == [0.0, 0.05]
    assert all(row["model"].startswith("optimum of") and row["objective"]["ssim_weight"] == 0.02 for row in rows)
    assert rows[1]["bpp"] < rows[0]["bpp"]
    assert "optimum of" in (out / "edit_optimum.md").read_text()
    assert cli.main(["edit-optimum", "--quality", "15", "--grid-shift", "16", "--data-dir", str(tiny_data_dir)]) == 2
    assert "grid-shift" in capsys.readouterr().err
    assert cli.main(["edit-optimum", "--quality", "15", "--data-dir", str(tiny_data_dir),
                     "--models", str(tmp_path / "nope.keras")]) == 2
    assert not (tmp_path / "nope").exists()
