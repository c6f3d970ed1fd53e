"""README results generation from a real (tiny) evaluation."""

import json
import os

import pytest

from tfjpegnet.cli import main
from tfjpegnet.errors import UserError
from tfjpegnet.evaluation.summary import END, PERF_END, PERF_START, START, update_readme

from test_evaluate import fake_run, image_dir  # noqa: F401  (fixtures)


def test_update_readme_fills_the_results_section_from_metrics(fake_run, tmp_path):  # noqa: F811
    results = tmp_path / "results"
    assert main(["evaluate", "--run", os.fspath(fake_run), "--qualities", "10,40", "--encoders", "opencv",
                 "--plain-step", "50", "--out", os.fspath(results / "q15")]) == 0
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nold text\n{END}\ntail\n")
    update_readme(os.fspath(readme), os.fspath(results), [5, 15])
    text = readme.read_text()
    assert "old text" not in text and text.endswith(f"{END}\ntail\n")
    saving = json.loads((results / "q15" / "metrics.json").read_text())["bit_saving"]["full"]["opencv"]["stage1"]
    assert f"| plain JPEG Q15 | {saving['plain_psnr']:.2f} |" in text
    assert f"{saving['at_equal_psnr']:+.1f} %" in text and f"{saving['bpp']:.4f}" in text
    assert "Quality 5" not in text  # no results/q5: that quality is left out
    with pytest.raises(UserError):
        update_readme(os.fspath(readme), os.fspath(tmp_path / "nothing"), [15])
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_train.md").write_text("| precision | (b)/(a) |\n|---|---|\n| float32 | 0.95 |\n")
    readme.write_text(f"{START}\n{END}\n{PERF_START}\nold\n{PERF_END}\n")
    update_readme(os.fspath(readme), os.fspath(results), [15], os.fspath(bench))
    text = readme.read_text()
    assert "| float32 | 0.95 |" in text and "old" not in text and "benchmarks/bench_train.py" in text
