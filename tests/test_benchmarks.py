"""The benchmark scripts run end to end (--quick, in a subprocess) and write complete JSON results."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script, *flags):
    return subprocess.run([sys.executable, os.fspath(ROOT / "benchmarks" / script), *flags],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_bench_train_quick_writes_every_row(tmp_path, tiny_data_dir):
    out = tmp_path / "results" / "train.json"
    result = run_benchmark("bench_train.py", "--quick", "--data-dir", os.fspath(tiny_data_dir), "--out", os.fspath(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(b)/(a)" in result.stdout and "mixed_bfloat16" in result.stdout
    results = json.loads(out.read_text())
    assert results["quick"] is True and results["machine"]["cpu_count"] >= 1
    assert [row["precision"] for row in results["rows"]] == ["float32", "mixed_bfloat16"]
    for row in results["rows"]:
        for key in ("bare_step", "trainer_pipeline", "pipeline_only", "ratio_b_a"):
            assert positive(row[key]), (row["precision"], key, row[key])
        assert row["ratio_b_a"] == pytest.approx(row["trainer_pipeline"] / row["bare_step"])
        assert all(len(values) == results["settings"]["rounds"] for values in row["rounds"].values())
        assert row["modify_inputs"] == 4 * row["train_patches"]  # the inversion extension
    assert sorted(os.listdir(out.parent)) == ["train.json", "train.md"]  # atomic: no temporary file left
    assert "| mixed_bfloat16 |" in (out.parent / "train.md").read_text()


@pytest.mark.slow
def test_bench_encode_quick_writes_every_row(tmp_path, tiny_data_dir):
    out = tmp_path / "results" / "encode.json"
    result = run_benchmark("bench_encode.py", "--quick", "--data-dir", os.fspath(tiny_data_dir),
                           "--out", os.fspath(out))
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    methods = ["opencv", "keras+opencv", "savedmodel", "tflite-float32", "tflite-fp16", "tflite-int8"]
    rows = results["rows"]
    assert [(row["size"], row["method"]) for row in rows] == [(size, m) for size in ("kodak", "2mp") for m in methods]
    for row in rows:
        for key in ("p50_ms", "p90_ms", "p50_ms_per_mp", "p90_ms_per_mp", "ratio_p50_vs_opencv", "bpp"):
            assert positive(row[key]), (row["size"], row["method"], key, row[key])
        assert row["p90_ms"] >= row["p50_ms"]
        assert row["samples"] == 3 * results["settings"]["repeats"]  # 3 test images x repeats
    assert all(row["ratio_p50_vs_opencv"] == 1.0 for row in rows if row["method"] == "opencv")
    assert sorted(results["model_bytes"]) == sorted(["keras", "savedmodel", *methods[3:]])
    assert all(positive(size) for size in results["model_bytes"].values())
    assert sorted(os.listdir(out.parent)) == ["encode.json", "encode.md"]
    assert "| 2mp 216x144 | tflite-int8 |" in (out.parent / "encode.md").read_text()


def test_bench_encode_needs_a_model_unless_quick(tmp_path):
    result = run_benchmark("bench_encode.py", "--out", os.fspath(tmp_path / "x.json"))
    assert result.returncode == 2 and "--model" in result.stderr
    assert not (tmp_path / "x.json").exists()
