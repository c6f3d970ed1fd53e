"""Generated README/docs sections from a real (tiny) evaluation, and the committed README's own sections."""

import json
import os
from pathlib import Path

import pytest

from tfjpegnet.cli import main
from tfjpegnet.errors import UserError
from tfjpegnet.evaluation import summary
from tfjpegnet.evaluation.summary import (DETAILS_END, DETAILS_START, END, PERF_END, PERF_START, START,
                                          update_readme)

from test_evaluate import fake_run  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def test_update_readme_fills_the_generated_sections_from_metrics(fake_run, tmp_path):  # noqa: F811
    results = tmp_path / "results"
    assert main(["evaluate", "--run", os.fspath(fake_run), "--qualities", "10,40", "--encoders", "opencv",
                 "--plain-step", "50", "--out", os.fspath(results / "q15")]) == 0
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nold text\n{END}\ntail\n")
    details = tmp_path / "docs" / "evaluation.md"
    details.parent.mkdir()
    details.write_text(f"# d\n{DETAILS_START}\nold\n{DETAILS_END}\n")
    update_readme(os.fspath(readme), os.fspath(results), [5, 15], os.fspath(details))
    text = readme.read_text()
    assert "old text" not in text and text.endswith(f"{END}\ntail\n")
    saving = json.loads((results / "q15" / "metrics.json").read_text())["bit_saving"]["full"]["opencv"]["stage1"]
    assert f"| plain JPEG Q15 | {saving['plain_psnr']:.2f} |" in text
    assert f"{saving['at_equal_psnr']:+.1f} %" in text and f"{saving['bpp']:.4f}" in text
    assert "](results/q15/report.md)" in text and "](results/q15/rd_full.png)" in text  # relative to README
    assert "Quality 5" not in text  # no results/q5: that quality is left out
    text = details.read_text()
    assert "old" not in text and "JPEG-Net fidelity at Q15" in text and "[report](../results/q15/report.md)" in text
    with pytest.raises(UserError):
        update_readme(os.fspath(readme), os.fspath(tmp_path / "nothing"), [15])
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_train.md").write_text("| precision | (b)/(a) |\n|---|---|\n| float32 | 0.95 |\n")
    perf = tmp_path / "PERF.md"
    perf.write_text(f"{PERF_START}\nold\n{PERF_END}\n")
    before = readme.read_text()
    with pytest.raises(UserError):  # README has its markers, the performance file not: nothing is written
        update_readme(os.fspath(readme), os.fspath(results), [15], None, os.fspath(bench), os.fspath(readme))
    assert readme.read_text() == before
    update_readme(os.fspath(readme), os.fspath(results), [15], None, os.fspath(bench), os.fspath(perf))
    text = perf.read_text()
    assert "| float32 | 0.95 |" in text and "old" not in text and "benchmarks/bench_train.py" in text
    assert "](bench/bench_train.md)" in text


def test_committed_generated_sections_match_the_committed_results(monkeypatch):
    """README.md, docs/evaluation.md and benchmarks/README.md hold what update_readme makes of results/ now."""
    monkeypatch.chdir(ROOT)
    for doc, start, end, body in (
            ("README.md", START, END, summary.results_section("results", [5, 15], ".")),
            ("docs/evaluation.md", DETAILS_START, DETAILS_END, summary.details_section("results", [5, 15], "docs")),
            ("benchmarks/README.md", PERF_START, PERF_END,
             summary.performance_section("benchmarks/results", "benchmarks"))):
        text = (ROOT / doc).read_text()
        assert start in text and end in text, doc
        committed = start + text.split(start, 1)[1].split(end, 1)[0] + end
        assert committed == body, f"{doc} is out of date: run python tools/update_readme.py"
