"""`tfjpegnet edit-optimum` on real Kodak crops: JSON and Markdown agree row for row; flags that are gone."""

import json

import pytest

from tfjpegnet import cli


def table_lines(markdown):
    return [line for line in markdown.splitlines() if line.startswith("| `")]


def test_three_rate_weights_at_q80_give_three_rows_in_json_and_markdown(tmp_path, tiny_data_dir, capsys):
    out = tmp_path / "out"
    assert cli.main(["edit-optimum", "--quality", "80", "--steps", "3", "--data-dir", str(tiny_data_dir),
                     "--rate-weight", "0", "0.02", "0.05", "--out", str(out)]) == 0
    result = json.loads((out / "edit_optimum.json").read_text())
    assert result["images"] == ["img3", "img4", "img5"] and result["steps"] == 3 and result["quality"] == 80
    rows = result["models"]
    assert [row["objective"]["rate_weight"] for row in rows] == [0.0, 0.02, 0.05]
    assert all(row["objective"] == {"proxy": "analytic", "quality": 80, "distortion": "proximity+proximity-ssim",
                                    "rate_weight": row["objective"]["rate_weight"], "ssim_weight": 0.02,
                                    "encoder": "opencv"}
               for row in rows)
    assert all(row["model"].startswith("optimum of") for row in rows)
    assert rows[2]["bpp"] < rows[0]["bpp"]
    markdown = (out / "edit_optimum.md").read_text()
    lines = table_lines(markdown)
    assert len(lines) == len(rows) == 3  # each row written once
    assert [line.split("`")[1] for line in lines] == [row["model"] for row in rows]
    assert markdown in capsys.readouterr().out


def test_models_are_judged_in_the_same_table_after_the_optima(tmp_path, tiny_data_dir):
    from conftest import tiny_modify_net

    model = tmp_path / "net.keras"
    tiny_modify_net().save(model)
    out = tmp_path / "out"
    assert cli.main(["edit-optimum", "--quality", "30", "--steps", "1", "--data-dir", str(tiny_data_dir),
                     "--ssim-weight", "0", "0.02", "--models", str(model), "--out", str(out)]) == 0
    rows = json.loads((out / "edit_optimum.json").read_text())["models"]
    assert [row["model"] for row in rows][2:] == [str(model)] and len(rows) == 3
    assert [row["objective"]["ssim_weight"] for row in rows[:2]] == [0.0, 0.02]
    assert [line.split("`")[1] for line in table_lines((out / "edit_optimum.md").read_text())] == \
        [row["model"] for row in rows]


@pytest.mark.parametrize("argv, message", [
    (["--grid-shift", "16"], "grid-shift"),
    (["--models", "{tmp}/nope.keras"], "not found"),
    (["--distortion", "proximity+contrast"], "distortion"),
    (["--distortion", "jpeg-ssim"], "distortion"),
])
def test_user_errors_exit_2_and_write_nothing(tmp_path, tiny_data_dir, capsys, argv, message):
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert cli.main(["edit-optimum", "--quality", "15", "--data-dir", str(tiny_data_dir), "--out", str(out),
                     *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("flag", [["--rounding", "ste"], ["--rate-gradient", "smooth"], ["--contrast-weight", "0"],
                                  ["--rate-model", "decisions"]])
def test_removed_flags_are_unknown(flag, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["edit-optimum", "--quality", "15", *flag])
    assert err.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_images_and_every_choose_the_folder_and_losses_place_each_row(tmp_path, tiny_data_dir, capsys):
    from tfjpegnet import models

    identity = tmp_path / "identity.keras"
    models.build_modify_net(depth=3, filters=8).save(identity)  # last layer zero-initialised: edits nothing
    out = tmp_path / "out"
    assert cli.main(["edit-optimum", "--quality", "30", "--steps", "20", "--images", str(tiny_data_dir),
                     "--every", "2", "--models", str(identity), "--out", str(out)]) == 0
    result = json.loads((out / "edit_optimum.json").read_text())
    assert result["images"] == ["img1", "img3", "img5"]  # every 2nd of the sorted folder, not kodim22..24
    losses = result["losses"]
    optimum, model = losses["rows"]
    assert optimum["share"] == 1.0 and optimum["loss"] < losses["plain"]  # 20 Adam steps lower the loss
    assert model["model"] == str(identity) and abs(model["share"]) < 0.05  # the identity sits at the original
    assert "share of the first optimum's gain" in (out / "edit_optimum.md").read_text()
    assert cli.main(["edit-optimum", "--quality", "30", "--every", "2", "--data-dir", str(tiny_data_dir)]) == 2
    assert "--every needs --images" in capsys.readouterr().err


def test_save_images_writes_each_optimum_as_the_png_that_was_judged(tmp_path, tiny_data_dir):
    """--save-images: one lossless PNG per test image, the same size, whose real JPEG at Q has the row's bpp."""
    import numpy as np

    from tfjpegnet.jpeg import codec

    out, saved = tmp_path / "out", tmp_path / "optima"
    assert cli.main(["edit-optimum", "--quality", "30", "--steps", "5", "--data-dir", str(tiny_data_dir),
                     "--rate-weight", "0.5", "--out", str(out), "--save-images", str(saved)]) == 0
    assert sorted(p.name for p in saved.iterdir()) == ["img3.png", "img4.png", "img5.png"]
    row = json.loads((out / "edit_optimum.json").read_text())["models"][0]
    bits = []
    for path in sorted(saved.iterdir()):
        edited, original = codec.read_image(str(path)), codec.read_image(str(tiny_data_dir / path.name))
        assert edited.shape == original.shape and not np.array_equal(edited, original)
        bits.append(8 * codec.jpeg_roundtrip(edited, 30)[1] / (edited.shape[0] * edited.shape[1]))
    assert row["bpp"] == pytest.approx(np.mean(bits), rel=1e-6)


def test_save_images_needs_one_objective(tmp_path, tiny_data_dir, capsys):
    saved = tmp_path / "optima"
    assert cli.main(["edit-optimum", "--quality", "30", "--data-dir", str(tiny_data_dir),
                     "--rate-weight", "0", "0.02", "--save-images", str(saved)]) == 2
    assert "one --rate-weight and one --ssim-weight" in capsys.readouterr().err
    assert not saved.exists()
