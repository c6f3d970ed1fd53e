"""`tfjpegnet fidelity` on real Kodak crops: strict JSON (identical = null), the Markdown table, bad input."""

import json
import os

import pytest

from tfjpegnet.cli import main


def refuse(constant):
    raise AssertionError(f"fidelity.json holds the non-JSON constant {constant}")


def test_writes_strict_json_and_the_table(tiny_kodak, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["fidelity", "--data-dir", os.fspath(tiny_kodak), "--qualities", "15",
                 "--out", os.fspath(out), "--batch-size", "3"]) == 0
    result = json.loads((out / "fidelity.json").read_text(), parse_constant=refuse)
    (row,) = result["rows"]
    assert result["patches"] == 4 and row["quality"] == 15
    assert row["proxy_exact"] is None and row["proxy_exact_mse"] == 0.0  # identical: null, not Infinity
    assert 20 < row["identity"] < 40 and "proxy_soft" not in row
    assert [os.path.basename(p) for p in result["images"]] == ["kodim22.png", "kodim23.png"] and result["run"] is None
    markdown = (out / "fidelity.md").read_text()
    assert "| Q | proxy exact | input | rate Spearman |" in markdown and "soft" not in markdown
    assert "| 15 | identical |" in markdown and markdown.strip() in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--qualities", "0"], "1..100"),
    (["--qualities", ","], "at least one quality"),
    (["--batch-size", "0"], "--batch-size"),
    (["--run", "{tmp}"], "config.json not found"),
    (["--run", "{tmp}", "--encoder", "mozjpeg"], "--encoder opencv"),
])
def test_user_errors_exit_2_and_write_nothing(tiny_kodak, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["fidelity", "--data-dir", os.fspath(tiny_kodak), "--out", os.fspath(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
