"""The benchmark scripts run end to end (--quick, in a subprocess) and write complete JSON results."""

import json
import math
import os
import re
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


BASELINES = ["opencv", "mozjpeg"]
MODEL_METHODS = ["keras+opencv", "savedmodel", "tflite-float32", "tflite-fp16", "tflite-int8"]
# An absolute path on some machine (as tests/test_repository.py defines it).
ABSOLUTE = re.compile(r"(?<![\w.])/(work|root|home|tmp|Users)/")


def bench_encode_module():
    """benchmarks/bench_encode.py imported as a module (it imports bench_train from its own folder)."""
    sys.path.insert(0, os.fspath(ROOT / "benchmarks"))
    try:
        import bench_encode
    finally:
        sys.path.remove(os.fspath(ROOT / "benchmarks"))
    return bench_encode


def check_rows(results, sizes, model_methods):
    """Every row present in order, positive numbers, ratios against that size's opencv p50, edit columns."""
    rows = results["rows"]
    names = [model["name"] for model in results["models"]]
    expected = [key for size in sizes for key in [(size, None, m) for m in BASELINES]
                + [(size, name, m) for name in names for m in model_methods]]
    assert [(row["size"], row["model"], row["method"]) for row in rows] == expected
    for row in rows:
        for key in ("p50_ms", "p90_ms", "p50_ms_per_mp", "p90_ms_per_mp", "ratio_p50_vs_opencv", "bpp"):
            assert positive(row[key]), (row["size"], row["model"], row["method"], key, row[key])
        assert row["p90_ms"] >= row["p50_ms"]
        base = next(r for r in rows if r["size"] == row["size"] and r["method"] == "opencv")
        assert row["ratio_p50_vs_opencv"] == pytest.approx(row["p50_ms_per_mp"] / base["p50_ms_per_mp"])
        if row["model"] is None or row["method"] == "savedmodel":  # no separate edit to time
            assert row["edit_p50_ms_per_mp"] is None and row["edit_ratio_p50_vs_opencv"] is None
        else:
            assert positive(row["edit_p50_ms_per_mp"]) and row["edit_p50_ms"] <= row["p50_ms"]
            assert row["edit_ratio_p50_vs_opencv"] == pytest.approx(row["edit_p50_ms_per_mp"] / base["p50_ms_per_mp"])
    assert all(row["ratio_p50_vs_opencv"] == 1.0 for row in rows if row["method"] == "opencv")
    for model in results["models"]:
        assert positive(model["parameters"]) and positive(model["gflops_per_megapixel"])
        assert model["gflops_per_megapixel"] == pytest.approx(2 * model["macs_per_megapixel"] / 1e9)
        assert sorted(model["bytes"]) == sorted(["keras", "savedmodel", *MODEL_METHODS[2:]])
        assert all(positive(size) for size in model["bytes"].values())
    for key in ("cpu", "cpu_count", "cpu_affinity", "tensorflow", "litert", "libvips", "load_average_1min",
                "load_average_1min_end"):
        assert results["machine"][key] is not None, key


@pytest.mark.slow
def test_bench_encode_quick_writes_every_row(tmp_path, tiny_data_dir):
    out = tmp_path / "results" / "encode.json"
    result = run_benchmark("bench_encode.py", "--quick", "--data-dir", os.fspath(tiny_data_dir),
                           "--out", os.fspath(out))
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True
    assert [model["name"] for model in results["models"]] == ["tiny-paper", "tiny-light"]
    assert results["models"][0]["architecture"].startswith("paper: 3x8")
    assert results["models"][1]["architecture"].startswith("light: unshuffle 4, 8 filters, 1 block")
    check_rows(results, ["kodak", "2mp"], MODEL_METHODS)
    for row in results["rows"]:
        assert row["samples"] == 3 * results["settings"]["repeats"]  # 3 test images x repeats
    assert sorted(os.listdir(out.parent)) == ["encode.json", "encode.md"]
    markdown = (out.parent / "encode.md").read_text()
    for line in ("| 2mp 216x144 | - | mozjpeg |", "| 2mp 216x144 | tiny-paper | tflite-int8 |",
                 "| 2mp 216x144 | tiny-light | tflite-int8 |", "`tiny_paper.keras (built by --quick)`",
                 "`tiny_light.keras (built by --quick)`"):
        assert line in markdown, line
    for text in (out.read_text(), markdown):
        assert not ABSOLUTE.search(text) and os.fspath(tmp_path) not in text and os.fspath(ROOT) not in text
    assert results["settings"]["images"] == ["DIR/img3.png", "DIR/img4.png", "DIR/img5.png"]


@pytest.mark.slow
def test_bench_encode_named_models_one_size_mozjpeg_after_the_edit(tmp_path, tiny_data_dir):
    from conftest import tiny_conditioned_net, tiny_modify_net

    paper = tmp_path / "runs" / "paper_run" / "stage2" / "modify_net.keras"
    anyq = tmp_path / "elsewhere" / "anyq.keras"
    paper.parent.mkdir(parents=True)
    anyq.parent.mkdir()
    tiny_modify_net(mcu_branch=4).save(paper)
    tiny_conditioned_net().save(anyq)  # a light net for every quality
    out = tmp_path / "encode.json"
    common = ["--quick", "--sizes", "2mp", "--repeats", "1", "--model-encoder", "mozjpeg",
              "--data-dir", os.fspath(tiny_data_dir), "--out", os.fspath(out)]
    # A net for every quality is exported for the benchmark only with its trained range.
    refused = run_benchmark("bench_encode.py", *common, "--model", f"lite={anyq}")
    assert refused.returncode != 0 and "--qualities" in refused.stderr
    result = run_benchmark("bench_encode.py", *common, "--model", os.fspath(paper), f"lite={anyq}",
                           "--qualities", "5-95", "--quality", "40")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    (paper_name, paper_path), (light_name, light_path) = [(m["name"], m["path"]) for m in results["models"]]
    assert (paper_name, paper_path) == ("paper_run", ".../paper_run/stage2/modify_net.keras")  # outside the repository
    assert light_name == "lite" and light_path.startswith(".../") and light_path.endswith("/elsewhere/anyq.keras")
    assert results["models"][0]["architecture"] == "paper: 3x8 convolutions, MCU branch 4"
    assert results["models"][1]["architecture"].startswith("light: ")
    assert results["settings"]["model_encoder"] == "mozjpeg" and list(results["settings"]["sizes"]) == ["2mp"]
    check_rows(results, ["2mp"], ["keras+mozjpeg", *MODEL_METHODS[1:]])
    markdown = (tmp_path / "encode.md").read_text()
    assert "then mozjpeg" in markdown and "`.../paper_run/stage2/modify_net.keras`" in markdown
    assert "--data-dir DIR" in results["command"] and "lite=.../" in results["command"]
    for text in (out.read_text(), markdown):
        assert not ABSOLUTE.search(text) and os.fspath(tmp_path) not in text


@pytest.mark.slow
def test_bench_encode_times_the_shipped_files_and_refuses_another_models(tmp_path, tiny_data_dir):
    """--shipped DIR: the exported SavedModel and TFLite files themselves are timed, named in the
    results, and must edit as their --model does."""
    from conftest import tiny_modify_net
    from tfjpegnet import datasets
    from tfjpegnet.deploy import savedmodel, tflite

    shipped = tmp_path / "saved_models"
    model, other = tmp_path / "m.keras", tmp_path / "other.keras"
    net = tiny_modify_net(seed=0)
    net.save(model)
    tiny_modify_net(seed=5).save(other)
    savedmodel.write_saved_model(net, 15, os.fspath(shipped / "tiny"), version=3)
    calibration = tflite.calibration_patches(datasets.find_images(os.fspath(tiny_data_dir)), 4)
    tflite.write_tflite(net, os.fspath(shipped), "tiny", calibration)
    out = tmp_path / "encode.json"
    common = ["--quick", "--sizes", "kodak", "--repeats", "1", "--shipped", os.fspath(shipped),
              "--data-dir", os.fspath(tiny_data_dir), "--out", os.fspath(out)]
    result = run_benchmark("bench_encode.py", *common, "--model", f"tiny={model}")
    assert result.returncode == 0, result.stderr[-3000:]
    (info,) = json.loads(out.read_text())["models"]
    assert info["files"]["savedmodel"].endswith(os.path.join("saved_models", "tiny", "3"))
    assert info["files"]["tflite-int8"].endswith("tiny_int8.tflite")
    assert info["bytes"]["tflite-int8"] == (shipped / "tiny_int8.tflite").stat().st_size
    assert "Timed as shipped" in (tmp_path / "encode.md").read_text()
    (shipped / "tiny_fp16.tflite").unlink()  # exported without it (export --tflite-variants float32,int8)
    assert run_benchmark("bench_encode.py", *common, "--model", f"tiny={model}").returncode == 0
    written = json.loads(out.read_text())
    assert "tflite-fp16" not in written["models"][0]["files"]
    assert {row["method"] for row in written["rows"] if row["model"] == "tiny"} == {
        "keras+opencv", "savedmodel", "tflite-float32", "tflite-int8"}
    wrong = run_benchmark("bench_encode.py", *common, "--model", f"tiny={other}")
    assert wrong.returncode != 0 and "edits differently" in wrong.stderr
    missing = run_benchmark("bench_encode.py", *common, "--model", f"absent={model}")
    assert missing.returncode != 0 and "lacks" in missing.stderr


def test_bench_encode_model_names_paths_and_sizes(tmp_path):
    bench = bench_encode_module()
    assert bench.default_name("runs/mcu_q15_long/stage1/modify_net.keras") == "mcu_q15_long"
    assert bench.default_name("models/light/net.keras") == "light"
    assert bench.parse_model("fast=runs/a/stage1/modify_net.keras") == ("fast", "runs/a/stage1/modify_net.keras")
    assert bench.parse_model("runs/a=b/stage1/modify_net.keras") == ("a=b", "runs/a=b/stage1/modify_net.keras")
    assert bench.shown_path(ROOT / "runs" / "q15" / "stage3" / "modify_net.keras") == "runs/q15/stage3/modify_net.keras"
    assert bench.shown_path(tmp_path / "data" / "kodim23.png", tmp_path / "data") == "DIR/kodim23.png"
    assert bench.shown_path(tmp_path / "x" / "y" / "z.keras") == ".../x/y/z.keras"  # outside the repository
    args = bench.parse_args(["--model", "a=x.keras", "--model", "b=y.keras", "--sizes", "2mp"])
    assert args.models == [("a", "x.keras"), ("b", "y.keras")] and list(args.sizes) == ["2mp"]
    assert list(bench.parse_args(["--quick"]).sizes) == ["kodak", "2mp"]
    for argv in (["--model", "runs/a/stage1/m.keras", "runs/a/stage2/m.keras"], ["--quick", "--sizes", "4k"]):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)


def test_bench_encode_needs_a_model_unless_quick(tmp_path):
    result = run_benchmark("bench_encode.py", "--out", os.fspath(tmp_path / "x.json"))
    assert result.returncode == 2 and "--model" in result.stderr
    assert not (tmp_path / "x.json").exists()
