"""tfjpegnet fit-encoder-model on real crops and real mozjpeg/OpenCV files (small: seconds)."""

import json

import cv2

from tfjpegnet.cli import main
from tfjpegnet.jpeg import proxy


def test_fit_writes_dead_zone_and_rate_constants(tmp_path, kodak_dir):
    images = tmp_path / "train"
    images.mkdir()
    for i in (1, 5, 8, 13):
        cv2.imwrite(str(images / f"k{i}.png"), cv2.imread(str(kodak_dir / f"kodim{i:02d}.png")))
    out = tmp_path / "fit"
    assert main(["fit-encoder-model", "--data-dir", str(images), "--images", "4", "--crop", "64",
                 "--qualities", "15,75", "--out", str(out)]) == 0
    result = json.loads((out / "encoder_model.json").read_text())
    assert result["crops"] == 4 and [row["quality"] for row in result["dead_zone"]] == [15, 75]
    for row in result["dead_zone"]:
        # the dead zone beats nearest levels, and the fitted slope falls with quality
        assert row["psnr"] > row["psnr_nearest"] and row["psnr"] >= row["psnr_model"] - 1e-9
    assert result["dead_zone"][0]["slope"] > result["dead_zone"][1]["slope"]
    assert [q for q, _ in proxy.TRELLIS_SLOPES][:2] == [5, 15]
    for name in ("mozjpeg", "opencv"):
        fit = result["rate"][name]
        assert len(fit["constants"]) == 3 and all(c > 0 for c in fit["constants"])
        assert all(row["spearman"] > 0.5 for row in fit["rows"])
    assert "Rate constants for mozjpeg" in (out / "encoder_model.md").read_text()


def test_fit_rejects_a_crop_off_the_mcu_grid(tmp_path, kodak_dir):
    assert main(["fit-encoder-model", "--data-dir", str(kodak_dir), "--crop", "40", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
