"""tfjpegnet model-info: parameters and FLOPs per megapixel of saved and built nets."""

from tfjpegnet import models
from tfjpegnet.cli import main


def test_model_info_reports_saved_and_built_nets(tmp_path, capsys):
    path = tmp_path / "light.keras"
    models.build_light_modify_net(factor=2, filters=4, blocks=1).save(path)
    assert main(["model-info", str(path), "--paper", "3,8"]) == 0
    out = capsys.readouterr().out
    # the same numbers models.cost gives (counted by hand in tests/test_models.py)
    light = models.cost(models.build_light_modify_net(factor=2, filters=4, blocks=1))
    assert f"{light['parameters']:,}" in out and f"{light['gflops_per_megapixel']:.2f}" in out
    paper = models.cost(models.build_modify_net(3, 8))
    assert f"| paper 3x8 | {paper['parameters']:,} |" in out and "| 3 px | 1 px |" in out


def test_model_info_errors(tmp_path, capsys):
    assert main(["model-info"]) == 2
    assert main(["model-info", str(tmp_path / "missing.keras")]) == 2
    assert main(["model-info", "--light", "4,8"]) == 2
    assert "--light expects 3" in capsys.readouterr().err
