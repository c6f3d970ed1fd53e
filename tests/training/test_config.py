"""Run configuration: presets as differences, resume keys derived from the keys, old run configs."""

import argparse
import json
import os
from pathlib import Path

import pytest

from tfjpegnet import runs
from tfjpegnet.cli import train
from tfjpegnet.errors import UserError
from tfjpegnet.training import config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("mcu_q15_long", "mcu_q5_long")  # paper-size chains whose configs predate removed options


def train_parser():
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return parser


def test_presets_state_only_what_differs_from_the_defaults():
    assert config.PRESETS["paper"] == {}
    for name, preset in config.PRESETS.items():
        assert set(preset) <= set(config.DEFAULTS), name
        assert all(value != config.DEFAULTS[key] for key, value in preset.items()), name
    assert config.DEFAULT_PRESET in config.PRESETS


def test_every_key_is_checked_on_resume_or_exempt_by_name():
    """A setting added to DEFAULTS (and its flag) is compared on resume without touching a list."""
    assert config.NOT_RESUME <= config.keys()
    assert set(config.resume_keys()) | config.NOT_RESUME == config.keys()
    assert not set(config.resume_keys()) & config.NOT_RESUME
    assert {"seed", "lr_modify", "precision", "train_images"} <= set(config.resume_keys())


def test_every_train_flag_is_a_configuration_key():
    dests = {action.dest for action in train_parser()._actions if action.dest != "help"}
    assert dests <= config.keys()
    resolved = config.resolve_config(vars(train_parser().parse_args([])))
    assert set(resolved) == config.keys()


def test_a_new_setting_is_resume_relevant_automatically(monkeypatch):
    monkeypatch.setitem(config.DEFAULTS, "new_knob", 1)
    assert "new_knob" in config.resume_keys()
    new = config.resolve_config({"preset": "smoke", "new_knob": 2})
    assert config.resume_conflicts(dict(new, new_knob=1), new) == ["new_knob"]


def test_unknown_flag_is_a_programming_error():
    with pytest.raises(ValueError, match="DEFAULTS"):
        config.resolve_config({"rounding": "ste"})


def test_preset_then_flags_override_defaults():
    smoke = config.resolve_config({"preset": "smoke", "depth": 5, "stages": None})
    assert (smoke["depth"], smoke["filters"], smoke["stages"], smoke["optimizer"]) == (5, 8, 2, "adam")
    assert smoke["out"] == "runs/q15" and smoke["preset"] == "smoke"
    paper = config.resolve_config({"preset": "paper", "proxy": "analytic", "distortion": "proximity"})
    assert (paper["stages"], paper["epochs_modify"], paper["lr_decay_epochs"]) == (1, 50, 10)


@pytest.mark.parametrize("distortion, message", [
    ("contrast", "removed"), ("proximity+jpeg-ssim", "removed"), ("decoded-ssim", "removed"),
    ("proximity+blur", "unknown"),
])
def test_removed_and_unknown_distortion_terms_are_refused(distortion, message):
    with pytest.raises(UserError, match=message):
        config.resolve_config({"proxy": "analytic", "distortion": distortion})


@pytest.mark.parametrize("flags, message", [
    ({"distortion": "proximity+teacher", "teacher": "t.keras", "teacher_images": "optima"}, "give one"),
    ({"distortion": "proximity", "teacher_images": "optima"}, "go together"),
    ({"distortion": "proximity+teacher"}, "go together"),
    ({"distortion": "proximity+teacher", "teacher_images": "optima", "qualities": "5-95", "arch": "light"},
     "leave out --qualities"),
])
def test_teacher_images_are_checked_against_the_teacher_term(flags, message):
    with pytest.raises(UserError, match=message):
        config.resolve_config({"proxy": "analytic", **flags})
    assert config.resolve_config({"proxy": "analytic", "distortion": "proximity+teacher",
                                  "teacher_images": "optima"})["teacher_images"] == "optima"


@pytest.mark.parametrize("flags, message", [
    ({"distortion_above": "80:teacher", "teacher": "t.keras"}, "needs --qualities"),
    ({"qualities": "5-95", "arch": "light", "distortion_above": "80"}, "Q:TERMS"),
    ({"qualities": "5-95", "arch": "light", "distortion_above": "100:proximity"}, "Q:TERMS"),
    ({"qualities": "5-95", "arch": "light", "distortion_above": "80:blur"}, "unknown"),
    ({"qualities": "5-95", "arch": "light", "distortion_above": "80:teacher"}, "--teacher"),
])
def test_bad_distortion_above_is_refused(flags, message):
    with pytest.raises(UserError, match=message):
        config.resolve_config({"proxy": "analytic", "distortion": "proximity", **flags})


def test_distortion_above_parses_into_a_quality_and_terms():
    assert config.parse_distortion_above("80:chroma-quantised+teacher") == (80, ("chroma-quantised", "teacher"))
    assert config.parse_distortion_above(None) is None
    resolved = config.resolve_config({"proxy": "analytic", "qualities": "5-95", "arch": "light",
                                      "distortion": "proximity", "distortion_above": "80:teacher",
                                      "teacher": "t.keras"})
    assert resolved["distortion_above"] == "80:teacher"


@pytest.mark.parametrize("key, value", [("rounding", "soft"), ("rate_gradient", "boundary"),
                                        ("rate_gradient", "ste"), ("train_only_branch", True),
                                        ("quality_balance", "plain-mse"), ("rate_weight_form", "slope")])
def test_saved_config_with_a_removed_option_in_use_cannot_be_read_as_current(key, value):
    with pytest.raises(UserError, match="--" + key.replace("_", "-")):
        config.without_removed({"quality": 15, key: value})


def test_every_shipped_run_config_is_readable_and_the_shipped_models_resume():
    for folder in sorted((ROOT / "runs").iterdir()):
        saved = runs.read_config(folder)
        try:
            current = config.without_removed(saved)
        except UserError as err:  # a rejected experiment (e.g. --rate-gradient boundary)
            assert folder.name not in SHIPPED and "removed" in str(err)
            continue
        assert set(current) <= config.keys(), folder.name
    for name in SHIPPED:
        saved = runs.read_config(ROOT / "runs" / name)
        assert {"contrast_weight", "rounding", "rate_gradient"} <= set(saved)
        # The same command again resolves to a config that matches what the run saved.
        flags = {k: v for k, v in config.without_removed(saved).items()
                 if k in config.keys() and k not in ("train_images", "test_images")}
        resolved = dict(config.resolve_config(flags), train_images=saved["train_images"],
                        test_images=saved["test_images"])
        assert config.resume_conflicts(saved, resolved) == []
        assert config.resume_conflicts(saved, dict(resolved, lr_modify=1e-3, strategy="mirrored")) == ["lr_modify"]


def fake_run_dir(tmp_path, saved):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (out / "config.json").write_text(json.dumps(saved))
    return out


def test_cli_resume_check_of_a_shipped_model_config(tmp_path):
    saved = runs.read_config(ROOT / "runs" / "mcu_q15_long")
    out = fake_run_dir(tmp_path, dict(saved, out=os.fspath(tmp_path / "run")))
    current = dict(config.resolve_config({k: v for k, v in config.without_removed(saved).items()
                                          if k not in ("train_images", "test_images")}),
                   train_images=saved["train_images"], test_images=saved["test_images"],
                   out=os.fspath(out), checkpoint_every=7, init_model=None)
    train.check_resume(out, current)  # removed keys at their one value, exempt keys changed: fine
    with pytest.raises(UserError, match="different seed"):
        train.check_resume(out, dict(current, seed=1))
    (out / "config.json").write_text(json.dumps(dict(saved, rate_gradient="boundary")))
    with pytest.raises(UserError, match="cannot be resumed.*--rate-gradient boundary"):
        train.check_resume(out, current)
