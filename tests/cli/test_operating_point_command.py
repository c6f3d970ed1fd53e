"""`tfjpegnet operating-point` on crops of the Kodak test images: table and JSON, and a missing model file."""

import json

import pytest

from tfjpegnet import cli, models


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "identity.keras"
    models.build_modify_net(depth=3, filters=8).save(path)  # last layer zero-initialised
    return str(path)


def test_cli_writes_table_and_json_and_rejects_missing_model(tmp_path, kodak_dir, identity_model, capsys):
    import cv2

    crops = tmp_path / "kodak"
    crops.mkdir()
    for i in (1, 22, 23, 24):  # --data-dir's default test images are kodim22..24
        cv2.imwrite(str(crops / f"kodim{i:02d}.png"), cv2.imread(str(kodak_dir / f"kodim{i:02d}.png"))[:128, :192])
    assert cli.main(["operating-point", "--quality", "5", "--data-dir", str(crops),
                     "--out", str(tmp_path / "out"), identity_model]) == 0
    result = json.loads((tmp_path / "out" / "operating_points.json").read_text())
    assert result["images"] == ["kodim22", "kodim23", "kodim24"] and result["quality"] == 5
    assert [row["model"] for row in result["models"]] == [identity_model]
    assert abs(result["models"][0]["saving_psnr"]) < 1e-6
    assert result["seen_in_training"][identity_model]["untraced"] == [identity_model]  # not in a run directory
    markdown = (tmp_path / "out" / "operating_points.md").read_text()
    assert "1 origin(s) outside any run" in markdown
    assert markdown.count("| `" + identity_model) == 1
    assert markdown in capsys.readouterr().out
    assert cli.main(["operating-point", "--quality", "5", str(tmp_path / "nope.keras")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_bad_quality_is_a_usage_error(identity_model, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["operating-point", "--quality", "0", identity_model])
    assert err.value.code == 2 and "1..100" in capsys.readouterr().err


def test_operating_point_on_mozjpeg_is_against_its_own_curve_and_opencvs(tmp_path, kodak_dir):
    """A model judged on mozjpeg: savings along mozjpeg's curve, and the combination against OpenCV's default."""
    import json

    import cv2

    from conftest import tiny_modify_net
    from tfjpegnet.cli import main

    images = tmp_path / "images"
    images.mkdir()
    for i in (1, 22, 23, 24):  # kodim22..24 are the test images; one more is the "training" side
        cv2.imwrite(str(images / f"kodim{i:02d}.png"), cv2.imread(str(kodak_dir / f"kodim{i:02d}.png"))[:96, :128])
    model = tmp_path / "m.keras"
    tiny_modify_net().save(model)
    out = tmp_path / "out"
    assert main(["operating-point", str(model), "--quality", "15", "--data-dir", str(images), "--encoder", "mozjpeg",
                 "--out", str(out)]) == 0
    result = json.loads((out / "operating_points.json").read_text())
    assert result["encoder"] == "mozjpeg"
    # mozjpeg alone already saves bits against OpenCV's default; the row carries both savings
    assert result["plain_vs_opencv"]["saving_psnr"] > 10
    row = result["models"][0]
    assert {"saving_psnr", "saving_ssim", "saving_psnr_vs_opencv", "saving_ssim_vs_opencv"} <= set(row)
    assert row["saving_psnr_vs_opencv"] > row["saving_psnr"]
    assert "saving vs OpenCV @PSNR" in (out / "operating_points.md").read_text()


def test_images_judges_every_image_of_a_folder(tmp_path, kodak_dir, identity_model):
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    for i in (1, 2):  # not Kodak's test names: every image counts
        cv2.imwrite(str(images / f"kodim{i:02d}.png"), cv2.imread(str(kodak_dir / f"kodim{i:02d}.png"))[:64, :96])
    assert cli.main(["operating-point", "--quality", "30", "--images", str(images), "--out", str(tmp_path / "out"),
                     identity_model]) == 0
    result = json.loads((tmp_path / "out" / "operating_points.json").read_text())
    assert result["images"] == ["kodim01", "kodim02"]
    assert cli.main(["operating-point", "--quality", "30", "--images", str(images), "--every", "2", "--out",
                     str(tmp_path / "every"), identity_model]) == 0
    assert json.loads((tmp_path / "every" / "operating_points.json").read_text())["images"] == ["kodim01"]
    assert cli.main(["operating-point", "--quality", "30", "--every", "2", identity_model]) == 2
    with pytest.raises(SystemExit):
        cli.main(["operating-point", "--quality", "30", "--images", str(images), "--data-dir", str(images),
                  identity_model])


def test_several_qualities_give_a_row_per_quality_and_bd_rates(tmp_path, kodak_dir, identity_model):
    """An identity edit at Q 10, 30, 60 on mozjpeg: no saving on mozjpeg, mozjpeg's own saving vs OpenCV."""
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "kodim23.png"), cv2.imread(str(kodak_dir / "kodim23.png"))[:96, :128])
    out = tmp_path / "out"
    assert cli.main(["operating-point", "--quality", "60,10,30", "--images", str(images), "--encoder",
                     "mozjpeg", "--out", str(out), identity_model]) == 0
    result = json.loads((out / "operating_points.json").read_text())
    assert result["qualities"] == [10, 30, 60] and [b["quality"] for b in result["by_quality"]] == [10, 30, 60]
    for by in result["by_quality"]:
        assert abs(by["models"][0]["saving_psnr"]) < 1e-6
    assert abs(result["bd_rate"][identity_model]["psnr"]) < 1e-6
    assert result["bd_rate_vs_opencv"][identity_model]["psnr"] < -5  # mozjpeg alone needs fewer bits
    markdown = (out / "operating_points.md").read_text()
    assert "BD-rate over Q 10..60" in markdown and markdown.count("## Operating points at Q") == 3
    for figure in ("rd.png", "savings.png"):  # real PNGs of two panels each
        image = cv2.imread(str(out / figure))
        assert image is not None and image.shape[1] > 2 * image.shape[0]
        (out / figure).unlink()
    assert cli.main(["operating-point", "--redraw", "--out", str(out)]) == 0  # from the JSON, measuring nothing
    assert all(cv2.imread(str(out / figure)) is not None for figure in ("rd.png", "savings.png"))
    assert cli.main(["operating-point", "--redraw", "--out", str(tmp_path / "none")]) == 2
    assert cli.main(["operating-point", "--images", str(images), identity_model]) == 2  # no --quality
