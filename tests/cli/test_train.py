"""`tfjpegnet train` end to end in subprocesses: smoke run, errors, NaN, kill and resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import datasets, models
from tfjpegnet.jpeg import codec, color
from tfjpegnet.cli import main

ROOT = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, os.fspath(ROOT / "tools" / "train_stages.py")]


def run_train(*flags, timeout=600):
    return subprocess.run([*TRAIN, *flags], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def smoke_flags(data_dir, out, *extra):
    return ["--quality", "15", "--data-dir", os.fspath(data_dir), "--preset", "smoke",
            "--test-images", "1", "--out", os.fspath(out), *extra]


def test_smoke_run_of_two_stages_produces_models(tmp_path, tiny_data_dir):
    out = tmp_path / "run"
    result = run_train(*smoke_flags(tiny_data_dir, out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done: 2 stage(s) at Q15" in result.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["quality"] == 15 and config["stages"] == 2 and len(config["test_images"]) == 1
    history = json.loads((out / "history.json").read_text())
    assert [(r["stage"], r["network"]) for r in history] == [
        (1, "jpeg_net"), (1, "modify_net"), (2, "jpeg_net"), (2, "modify_net")]
    for stage in (1, 2):
        for name in ("jpeg_net", "modify_net"):
            model = keras.models.load_model(out / f"stage{stage}" / f"{name}.keras")
            assert model.dtype_policy.name == "float32"
    assert list((out / "logs").iterdir()), "TensorBoard logs missing"
    # Nothing half-written stays behind.
    assert not [p for p in out.rglob("*.tmp*")]


def test_light_net_trained_for_mozjpeg(tmp_path, tiny_data_dir):
    """--arch light --encoder mozjpeg: the light net learns through mozjpeg's proxy, validated on real mozjpeg."""
    out = tmp_path / "light"
    result = run_train(*smoke_flags(tiny_data_dir, out), "--proxy", "analytic", "--distortion",
                       "proximity+proximity-ssim", "--rate-weight", "0.05", "--arch", "light", "--factor", "4",
                       "--filters", "8", "--blocks", "1", "--mcu-branch", "8", "--encoder", "mozjpeg",
                       "--lr-modify", "1e-3")
    assert result.returncode == 0, result.stderr[-3000:]
    model = keras.models.load_model(out / "stage1" / "modify_net.keras")
    assert any(isinstance(layer, models.SpaceToDepth) for layer in model.layers)
    record = json.loads((out / "history.json").read_text())[-1]
    # validated with real mozjpeg: trellis makes its plain files smaller than OpenCV's would be
    patches = datasets.load_patches(json.loads((out / "config.json").read_text())["test_images"])
    opencv_bpp = 8 * np.mean([len(codec.encode_jpeg(p, 15)) for p in patches]) / (64 * 64)
    assert record["test_bpp_plain"] < opencv_bpp
    bad = run_train(*smoke_flags(tiny_data_dir, tmp_path / "bad"), "--encoder", "mozjpeg")
    assert bad.returncode == 2 and "--proxy analytic" in bad.stderr


@pytest.mark.parametrize("flags, message", [
    (["--quality", "0"], "1..100"),
    (["--quality", "101"], "1..100"),
    (["--quality", "abc"], "1..100"),
    (["--epochs-modify", "-1"], "integer >= 0"),
    # Rejected experiments, removed (git history keeps them).
    (["--rounding", "soft"], "unrecognized arguments"),
    (["--rate-gradient", "boundary"], "unrecognized arguments"),
    (["--contrast-weight", "0.02"], "unrecognized arguments"),
    (["--train-only-branch"], "unrecognized arguments"),
])
def test_bad_arguments_exit_2(flags, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_removed_distortion_term_exits_2(tmp_path, tiny_data_dir, capsys):
    code = main(["train", *smoke_flags(tiny_data_dir, tmp_path / "run", "--proxy", "analytic",
                                       "--distortion", "proximity+contrast")])
    assert code == 2 and "removed" in capsys.readouterr().err


def test_bad_data_dirs_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    small = tmp_path / "small"
    small.mkdir()
    import cv2
    for i in range(3):
        cv2.imwrite(os.fspath(small / f"s{i}.png"), np.zeros((32, 500, 3), np.uint8))
    notdir = tmp_path / "file.txt"
    notdir.write_text("x")
    cases = [(tmp_path / "missing", "does not exist"), (empty, "holds no image"),
             (small, "at least 64x64")]
    for folder, message in cases:
        code = main(["train", "--data-dir", os.fspath(folder), "--out", os.fspath(tmp_path / "r"),
                     "--preset", "smoke", "--test-images", "1"])
        assert code == 2
        assert message in capsys.readouterr().err
    code = main(["train", "--data-dir", os.fspath(small), "--out", os.fspath(notdir / "run")])
    assert code == 2 and "not writable" in capsys.readouterr().err


def test_nan_loss_stops_with_message_and_keeps_checkpoint(tmp_path, tiny_data_dir):
    out = tmp_path / "run"
    result = run_train(*smoke_flags(tiny_data_dir, out, "--optimizer", "sgd", "--lr-modify", "1e12"))
    assert result.returncode == 3, result.stderr[-3000:]
    assert "loss became" in result.stdout and "modify_net" in result.stdout
    latest = tf.train.latest_checkpoint(out / "checkpoints")
    assert latest is not None
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        if "modify_net" in name and name.endswith("VARIABLE_VALUE"):
            value = reader.get_tensor(name)
            assert np.all(np.isfinite(value)), name


def final_weights(out, stage=2):
    return keras.models.load_model(out / f"stage{stage}" / "modify_net.keras").get_weights()


@pytest.mark.slow
def test_killed_run_resumes_and_ends_equal_to_uninterrupted(tmp_path, tiny_data_dir):
    extra = ["--epochs-modify", "2", "--epochs-jpeg", "2", "--max-patches", "64"]
    straight = tmp_path / "straight"  # trained alongside the run that is killed (one core each)
    uninterrupted = subprocess.Popen([*TRAIN, *smoke_flags(tiny_data_dir, straight, *extra)], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([*TRAIN, *smoke_flags(tiny_data_dir, killed, *extra)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # Kill it in the middle of stage 1's Modify-Net phase, after some checkpoints.
    for line in proc.stdout:
        if "Stage 1/2 modify_net epoch 2/2" in line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "stage2").exists()
    resumed = run_train(*smoke_flags(tiny_data_dir, killed, *extra))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stdout
    assert uninterrupted.wait(timeout=600) == 0
    for a, b in zip(final_weights(straight), final_weights(killed)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_truncated_newest_checkpoint_is_not_picked_up(tmp_path, tiny_data_dir):
    out = tmp_path / "run"
    assert run_train(*smoke_flags(tiny_data_dir, out, "--stages", "1")).returncode == 0
    newest = tf.train.get_checkpoint_state(out / "checkpoints").model_checkpoint_path
    data_file = Path(tf.io.gfile.glob(newest + ".data-*")[0])
    data_file.write_bytes(data_file.read_bytes()[:100])
    rerun = run_train(*smoke_flags(tiny_data_dir, out, "--stages", "1"))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"checkpoint {newest} is unreadable" in rerun.stdout
    assert "Resuming" in rerun.stdout
    keras.models.load_model(out / "stage1" / "modify_net.keras")
    # A setting that changes the result (every one not exempt in training.config) must match.
    refused = run_train(*smoke_flags(tiny_data_dir, out, "--stages", "1", "--lr-modify", "1e-2"))
    assert refused.returncode == 2 and "different lr_modify" in refused.stderr


def test_init_model_starts_modify_net_from_a_saved_model(tmp_path, tiny_data_dir):
    first = tmp_path / "first"
    assert run_train(*smoke_flags(tiny_data_dir, first, "--stages", "1", "--lr-modify", "1e-2")).returncode == 0
    start = first / "stage1" / "modify_net.keras"
    second = tmp_path / "second"
    result = run_train(*smoke_flags(tiny_data_dir, second, "--stages", "1", "--epochs-modify", "0",
                                    "--epochs-jpeg", "0", "--init-model", os.fspath(start)))
    assert result.returncode == 0, result.stderr[-3000:]
    for a, b in zip(keras.models.load_model(start).get_weights(), final_weights(second, stage=1)):
        np.testing.assert_array_equal(a, b)


def test_light_net_distilled_from_a_teacher_moves_towards_its_edit(tmp_path, tiny_data_dir):
    """--distortion teacher --teacher T: the student learns the teacher's edit (the light nets' first step)."""
    teacher_run = tmp_path / "teacher"
    assert run_train(*smoke_flags(tiny_data_dir, teacher_run, "--stages", "1", "--proxy", "analytic",
                                  "--distortion", "proximity", "--rate-weight", "0.2",
                                  "--lr-modify", "1e-2")).returncode == 0
    teacher_path = teacher_run / "stage1" / "modify_net.keras"
    student_run = tmp_path / "student"
    result = run_train(*smoke_flags(tiny_data_dir, student_run, "--proxy", "analytic", "--distortion", "teacher",
                                    "--teacher", os.fspath(teacher_path), "--arch", "light", "--factor", "2",
                                    "--filters", "8", "--blocks", "1", "--lr-modify", "1e-2",
                                    "--epochs-modify", "3"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((student_run / "config.json").read_text())["teacher"] == os.fspath(teacher_path)
    x = tf.constant(datasets.load_patches(sorted(map(os.fspath, tiny_data_dir.glob("*.png")))[:1], 64)[:4],
                    tf.float32) / 255.0
    x = color.rgb_to_ycrcb(x)
    taught = keras.models.load_model(teacher_path)(x).numpy()
    learned = keras.models.load_model(student_run / "stage1" / "modify_net.keras")(x).numpy()
    assert np.mean((taught - x.numpy()) ** 2) > 1e-6  # the teacher edits
    assert np.mean((learned - taught) ** 2) < 0.5 * np.mean((x.numpy() - taught) ** 2)


@pytest.mark.parametrize("flags", [["--distortion", "teacher"], ["--distortion", "proximity", "--teacher", "T"]])
def test_teacher_term_and_teacher_model_go_together(tmp_path, tiny_data_dir, flags):
    teacher = tmp_path / "T"
    teacher.write_bytes(b"")
    flags = [os.fspath(teacher) if f == "T" else f for f in flags]
    result = run_train(*smoke_flags(tiny_data_dir, tmp_path / "run", "--proxy", "analytic", *flags))
    assert result.returncode == 2 and "go together" in result.stderr


def test_several_data_dirs_a_test_dir_and_downscaled_training_images(tmp_path, tiny_data_dir, kodak_dir):
    """--data-dir A B --test-dir T --downscale 2: every A and B image trains (halved), every T image tests."""
    second = tmp_path / "more"
    second.mkdir()
    image = cv2.imread(os.fspath(kodak_dir / "kodim07.png"))[:256, :256]
    cv2.imwrite(os.fspath(second / "big.png"), image)
    test = tmp_path / "test"
    test.mkdir()
    cv2.imwrite(os.fspath(test / "t.png"), cv2.imread(os.fspath(kodak_dir / "kodim08.png"))[:128, :128])
    out = tmp_path / "run"
    flags = ["--quality", "15", "--preset", "smoke", "--stages", "1", "--max-patches", "0",
             "--data-dir", os.fspath(tiny_data_dir), os.fspath(second), "--test-dir", os.fspath(test),
             "--downscale", "2"]
    result = run_train(*flags, "--out", os.fspath(out))
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert len(config["train_images"]) == 6 and config["test_images"] == [os.fspath(test / "t.png")]
    assert config["downscale"] == "2"
    # 5 crops of 128 halve to 64 (1 patch each), 256 halves to 128 (4): 9 patches, x4 flips.
    assert "Data: 9 training patches of 64x64 from 6 images (36 Modify-Net inputs with flips), 4 test patches " \
           "from 1 images" in result.stdout
    (test / "copy.png").write_bytes((tiny_data_dir / "img1.png").read_bytes())
    overlap = run_train(*flags, "--out", os.fspath(tmp_path / "run2"))
    assert overlap.returncode == 2 and "also training images" in overlap.stderr
    assert not (tmp_path / "run2").exists()
    both = run_train(*flags, "--out", os.fspath(tmp_path / "run3"), "--test-images", "1")
    assert both.returncode == 2 and "leave out --test-images" in both.stderr


def test_one_light_net_for_every_quality(tmp_path, tiny_data_dir):
    """--qualities 5-95: a FiLM-conditioned light net, a rate weight that follows plain JPEG's slope
    (fitted and written), validation at several qualities, and an edit that depends on the quality."""
    out = tmp_path / "any_q"
    result = run_train(*smoke_flags(tiny_data_dir, out), "--stages", "1", "--proxy", "analytic", "--arch", "light",
                       "--factor", "2", "--filters", "8", "--blocks", "1", "--distortion", "proximity",
                       "--rate-weight", "0.05", "--qualities", "5-95", "--lr-modify", "1e-2", "--epochs-modify", "2",
                       "--max-patches", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    fitted = json.loads((out / "rate_weight.json").read_text())
    assert fitted["reference"] == 15 and fitted["weight"] == 0.05 and fitted["exponent"] < -0.5
    assert "Rate weight per quality: 0.05 x (q / 15)^" in result.stdout
    record = json.loads((out / "history.json").read_text())[-1]
    assert {"test_bpp", "q5_test_bpp", "q50_test_bpp", "q95_test_bpp"} <= set(record)
    net = keras.models.load_model(out / "stage1" / "modify_net.keras")
    assert models.is_conditioned(net)
    x = tf.random.uniform((1, 32, 32, 3))
    assert np.abs(net(models.with_quality(x, 5)).numpy() - net(models.with_quality(x, 95)).numpy()).max() > 1e-4
    bad = run_train(*smoke_flags(tiny_data_dir, tmp_path / "bad"), "--proxy", "analytic", "--distortion",
                    "proximity", "--qualities", "5-95")
    assert bad.returncode == 2 and "--arch light" in bad.stderr
    bad_range = run_train(*smoke_flags(tiny_data_dir, tmp_path / "bad2"), "--qualities", "50-20")
    assert bad_range.returncode == 2 and "LO-HI" in bad_range.stderr


def test_a_stopped_run_is_cut_short_or_extended_by_its_epoch_count(tmp_path, tiny_data_dir):
    """Stopped in its 3rd of 4 epochs: rerun with --epochs-modify 2 it ends there and writes the model;
    a copy of the stopped run rerun with 5 epochs trains on to 5."""
    flags = ["--stages", "1", "--proxy", "analytic", "--distortion", "proximity", "--rate-weight", "0.05",
             "--lr-modify", "1e-2", "--max-patches", "64", "--checkpoint-every", "1"]
    stopped = tmp_path / "short"
    proc = subprocess.Popen([*TRAIN, *smoke_flags(tiny_data_dir, stopped, *flags, "--epochs-modify", "4")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if "modify_net epoch 3/4" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (stopped / "stage1").exists()
    shutil.copytree(stopped, tmp_path / "long")  # the same stopped run, twice
    for out, rerun_epochs in ((stopped, 2), (tmp_path / "long", 5)):
        rerun = run_train(*smoke_flags(tiny_data_dir, out, *flags, "--epochs-modify", str(rerun_epochs)))
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        keras.models.load_model(out / "stage1" / "modify_net.keras")
        epochs = [r["epoch"] for r in json.loads((out / "history.json").read_text()) if r["network"] == "modify_net"]
        assert epochs == list(range(1, 3)) if rerun_epochs == 2 else epochs[-1] == 5


def test_mcu_branch_net_fine_tunes_from_a_net_without_one(tmp_path, tiny_data_dir):
    first = tmp_path / "first"
    assert run_train(*smoke_flags(tiny_data_dir, first, "--stages", "1", "--epochs-modify", "0",
                                  "--epochs-jpeg", "0", "--lr-modify", "1e-2")).returncode == 0
    start = keras.models.load_model(first / "stage1" / "modify_net.keras")
    grid = tmp_path / "grid"
    result = run_train(*smoke_flags(tiny_data_dir, grid, "--proxy", "analytic", "--distortion", "proximity",
                                    "--rate-weight", "0.05", "--lr-modify", "1e-2", "--mcu-branch", "8",
                                    "--init-model", os.fspath(first / "stage1" / "modify_net.keras")))
    assert result.returncode == 0, result.stderr[-3000:]
    net = keras.models.load_model(grid / "stage1" / "modify_net.keras")
    assert models.grid_period(net) == 16
    # Training moved the branch's output layer (it started at zero); the rest came from the start model.
    assert np.abs(net.get_layer("mcu_out").kernel.numpy()).max() > 0
    assert net.get_layer("conv1").kernel.shape == start.get_layer("conv1").kernel.shape
