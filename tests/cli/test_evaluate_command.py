"""`tfjpegnet evaluate` on tiny real inputs: a whole run, one model file, every user error (exit 2, no output)."""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import tiny_modify_net
from tfjpegnet import models
from tfjpegnet.cli import evaluate as command
from tfjpegnet.cli import main


@pytest.fixture
def fake_run(tmp_path, image_dir):
    """A training run directory: config.json and stage1/{modify_net,jpeg_net}.keras of tiny nets."""
    run = tmp_path / "runs" / "q15"
    (run / "stage1").mkdir(parents=True)
    tiny_modify_net(seed=3).save(run / "stage1" / "modify_net.keras")
    models.build_jpeg_net(filters=8).save(run / "stage1" / "jpeg_net.keras")
    config = {"quality": 15, "proxy": "jpegnet", "stages": 1,
              "test_images": sorted(os.fspath(p) for p in image_dir.iterdir())}
    (run / "config.json").write_text(json.dumps(config))
    return run


def _no_nan(text):
    raise AssertionError(f"metrics.json holds non-JSON constant {text}")


def test_parsing_the_flags_loads_neither_tensorflow_nor_the_optional_encoders():
    script = ("import argparse, sys\n"
              "from tfjpegnet.cli import edit_optimum, evaluate, fidelity, operating_point\n"
              "for module in (edit_optimum, evaluate, fidelity, operating_point):\n"
              "    module.add_arguments(argparse.ArgumentParser())\n"
              "print(sorted(m for m in ('tensorflow', 'keras', 'pyvips', 'pyjpegli', 'mozjpeg_lossless_optimization')"
              " if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_default_flags():
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--run", "r"])
    assert args.qualities == "5,10,15,20,30,40,50,60,75,90" and args.sweep == "all" and args.plain_step == 1
    assert args.encoders.split(",")[0] == "opencv" and "jpegli" in args.encoders.split(",")


def test_evaluate_run_writes_metrics_report_and_figures(fake_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["evaluate", "--run", os.fspath(fake_run), "--qualities", "10,40",
                 "--encoders", "opencv,mozjpeg-lossless", "--plain-step", "50"])
    assert code == 0
    out = tmp_path / "results" / "q15"  # default: results/<run name>
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=_no_nan)
    assert metrics["quality"] == 15 and metrics["models"] == ["stage1"]
    assert metrics["plain_curve_qualities"] == [1, 10, 15, 40, 51, 100]
    assert set(metrics["points"]["full"]) == {"opencv", "mozjpeg-lossless"}
    assert metrics["points"]["full"]["opencv"]["jpeg"]["15"]["images"]["crop23"]["ms_ssim"] is None  # < 161 px
    table1 = metrics["table1"]["paper"]["stage1"]["mean"]
    assert table1["diff"]["psnr"] < 0 and table1["psnr"] > 20
    assert 10 < metrics["table2"]["stage1"]["original"] < 60 and 10 < metrics["table2"]["stage1"]["edited"] < 60
    assert np.isfinite(metrics["bd_rate"]["full"]["mozjpeg-lossless"]["stage1"]["ssim"])
    assert metrics["encoder_bd_rate"]["full"]["mozjpeg-lossless"]["psnr"] < 0  # same pixels, fewer bytes
    assert metrics["source"]["kind"] == "run" and set(metrics["source"]["image_paths"]) == {"crop22", "crop23"}
    report = (out / "report.md").read_text()
    assert "## Table 1 analogue" in report and "## Table 2 analogue" in report
    assert "-6.32" in report  # the paper's stage-1 PSNR difference at Q15
    assert "DESIGN" not in report and "nearest reconstruction level" in report
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["encoders_full.png", "encoders_paper.png", "rd_full.png", "rd_paper.png"]
    for name in pngs:
        assert f"({name})" in report
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    jpegs = sorted(p.name for p in out.glob("*.jpg"))
    assert jpegs == ["visual_crop22.jpg", "visual_crop23.jpg"]
    for name in jpegs:
        assert f"({name})" in report
        assert (out / name).read_bytes()[:2] == b"\xff\xd8"
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporary files left
    assert "[full] stage1 vs JPEG Q15" in capsys.readouterr().out


def test_evaluate_one_model_file(fake_run, image_dir, tmp_path):
    out = tmp_path / "one"
    code = main(["evaluate", "--model", os.fspath(fake_run / "stage1" / "modify_net.keras"), "--quality", "5",
                 "--images", os.fspath(image_dir), "--out", os.fspath(out), "--qualities", "20,30",
                 "--encoders", "opencv", "--plain-step", "99"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quality"] == 5 and metrics["models"] == ["stage1"]  # named after its stage folder
    assert "stage1" in metrics["table2"]  # the jpeg_net.keras beside it is measured too
    assert metrics["source"]["kind"] == "model"
    paths = [metrics["source"]["path"], *metrics["source"]["models"].values(), *metrics["source"]["image_paths"].values()]
    assert not any(os.path.isabs(p) for p in paths), paths  # relative: a report can be committed


@pytest.mark.parametrize("argv, message", [
    (["--run", "{tmp}/nope"], "does not exist"),
    (["--run", "{tmp}"], "config.json not found"),
    (["--run", "{run}", "--quality", "0"], "quality must be in 1..100"),
    (["--run", "{run}", "--qualities", "15"], "at least 2"),
    (["--run", "{run}", "--encoders", "opencv,gif"], "unknown encoder"),
    (["--run", "{run}", "--images", "{tmp}/empty"], "holds no image"),
    (["--run", "{run}", "--plain-step", "0"], "--plain-step"),
    (["--run", "{moved}"], "not found from"),
    (["--model", "{run}/stage1/modify_net.keras"], "needs --quality"),
    (["--model", "{tmp}/missing.keras", "--quality", "15"], "does not exist"),
])
def test_user_errors_exit_2_and_write_nothing(fake_run, tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    moved = tmp_path / "moved"  # a run whose config.json names test images that are gone
    shutil.copytree(fake_run, moved)
    config = json.loads((moved / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps({**config, "test_images": ["gone/kodim22.png"]}))
    argv = [a.format(tmp=tmp_path, run=fake_run, moved=moved) for a in argv]
    out = tmp_path / "out"
    assert main(["evaluate", *argv, "--out", os.fspath(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_run_without_models_is_a_user_error(fake_run, tmp_path, capsys):
    os.remove(fake_run / "stage1" / "modify_net.keras")
    assert main(["evaluate", "--run", os.fspath(fake_run), "--out", os.fspath(tmp_path / "out")]) == 2
    assert "no stageK/modify_net.keras" in capsys.readouterr().err
