"""`tfjpegnet export --tflite` without --calibration-dir: the Kodak default, and one clear message offline."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfjpegnet import cli, datasets
from tfjpegnet.cli import export, tflogs
from tfjpegnet.deploy import tflite
from conftest import tiny_modify_net

ROOT = Path(__file__).resolve().parents[2]
TFLITE_FILES = ["tfjpegnet_q15.tflite", "tfjpegnet_q15_fp16.tflite", "tfjpegnet_q15_int8.tflite"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "net.keras"
    tiny_modify_net().save(path)
    return path


def listing(folder):
    """Every path under ``folder``, relative, sorted (empty if it does not exist)."""
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, dirs, names in os.walk(folder) for name in dirs + names)


def test_unreachable_kodak_stops_with_one_message_naming_calibration_dir_and_writes_nothing(model_path, tmp_path):
    out = tmp_path / "saved_models"
    (out / "other_q5" / "1").mkdir(parents=True)
    (out / "models.config").write_text("kept as it is\n")
    before = listing(out)
    env = {k: v for k, v in os.environ.items() if k != tflogs.LEVEL_VARIABLE}
    result = subprocess.run(
        [sys.executable, os.fspath(ROOT / "tools" / "export.py"), "--model", os.fspath(model_path), "--quality", "15",
         "--out", os.fspath(out), "--tflite", "--kodak-url", "file:///nonexistent/",
         "--kodak-cache-dir", os.fspath(tmp_path / "cache")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("tfjpegnet export: error:")]
    assert len(errors) == 1, result.stderr
    assert "--calibration-dir" in errors[0] and "file:///nonexistent/" in errors[0]
    assert "Traceback" not in result.stderr and "URL fetch failure" not in result.stderr.replace(errors[0], "")
    assert listing(out) == before and (out / "models.config").read_text() == "kept as it is\n"


def test_default_calibration_is_the_kodak_training_split_from_kodak_url(model_path, tmp_path, kodak_dir, capsys):
    out = tmp_path / "saved_models"
    cache = tmp_path / "cache"
    code = cli.main(["export", "--model", os.fspath(model_path), "--quality", "15", "--out", os.fspath(out),
                     "--tflite", "--calibration-patches", "8", "--kodak-url", kodak_dir.as_uri(),
                     "--kodak-cache-dir", os.fspath(cache)])
    assert code == 0, capsys.readouterr().err
    for name in TFLITE_FILES:
        assert (out / name).stat().st_size > 0
    assert (out / "tfjpegnet_q15" / "1" / "saved_model.pb").exists() and (out / "models.config").exists()
    assert sorted(os.listdir(cache / "datasets" / "kodak")) == sorted(datasets.KODAK_SHA256)


def test_calibration_paths_leave_out_the_kodak_test_images(kodak_dir, tmp_path):
    args = type("Args", (), {"calibration_dir": None, "kodak_url": kodak_dir.as_uri(),
                             "kodak_cache_dir": os.fspath(tmp_path / "cache")})()
    names = [os.path.basename(p) for p in export.calibration_paths(args)]
    assert names == [f"kodim{i:02d}.png" for i in range(1, 22)]


def test_a_failed_conversion_writes_nothing(model_path, tmp_path, tiny_data_dir, monkeypatch, capsys):
    convert = tflite.convert

    def failing(net, variant, calibration=None, qualities=None):
        if variant == "int8":
            raise RuntimeError("int8 conversion failed")
        return convert(net, variant, calibration, qualities)

    monkeypatch.setattr(tflite, "convert", failing)
    out = tmp_path / "saved_models"
    with pytest.raises(RuntimeError, match="int8"):
        cli.main(["export", "--model", os.fspath(model_path), "--quality", "15", "--out", os.fspath(out),
                  "--tflite", "--calibration-dir", os.fspath(tiny_data_dir), "--calibration-patches", "4"])
    assert listing(out) == []


def test_kodak_url_default_is_the_datasets_one():
    # The command keeps its own copy so that --help loads no TensorFlow.
    assert export.KODAK_URL == datasets.KODAK_URL


def test_tflite_variants_choose_the_files_and_refuse_a_set_without_float32(model_path, tmp_path, tiny_data_dir,
                                                                          capsys):
    out = tmp_path / "saved_models"
    common = ["export", "--model", os.fspath(model_path), "--quality", "15", "--out", os.fspath(out), "--tflite",
              "--calibration-dir", os.fspath(tiny_data_dir), "--calibration-patches", "4"]
    for bad, message in (("int8", "must include float32"), ("float32,fp8", "unknown TFLite variant(s) fp8")):
        assert cli.main(common + ["--tflite-variants", bad]) == 2
        assert message in capsys.readouterr().err
        assert listing(out) == []
    assert cli.main(common + ["--tflite-variants", "int8, float32"]) == 0
    assert sorted(n for n in os.listdir(out) if n.endswith(".tflite")) == ["tfjpegnet_q15.tflite",
                                                                          "tfjpegnet_q15_int8.tflite"]
