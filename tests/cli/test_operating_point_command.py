"""`tfjpegnet operating-point` on the Kodak test images: table and JSON, and a missing model file."""

import json

import pytest

from tfjpegnet import cli, models


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "identity.keras"
    models.build_modify_net(depth=3, filters=8).save(path)  # last layer zero-initialised
    return str(path)


def test_cli_writes_table_and_json_and_rejects_missing_model(tmp_path, kodak_dir, identity_model, capsys):
    assert cli.main(["operating-point", "--quality", "5", "--data-dir", str(kodak_dir),
                     "--out", str(tmp_path / "out"), identity_model]) == 0
    result = json.loads((tmp_path / "out" / "operating_points.json").read_text())
    assert result["images"] == ["kodim22", "kodim23", "kodim24"] and result["quality"] == 5
    assert [row["model"] for row in result["models"]] == [identity_model]
    assert abs(result["models"][0]["saving_psnr"]) < 1e-6
    markdown = (tmp_path / "out" / "operating_points.md").read_text()
    assert markdown.count("| `" + identity_model) == 1
    assert markdown in capsys.readouterr().out
    assert cli.main(["operating-point", "--quality", "5", str(tmp_path / "nope.keras")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_bad_quality_is_a_usage_error(identity_model, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["operating-point", "--quality", "0", identity_model])
    assert err.value.code == 2 and "1..100" in capsys.readouterr().err
