"""The staged trainer on real (small) Kodak crops: frozen JPEG-Net, stage-2 data, distribution."""

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet.cli import train
from tfjpegnet.jpeg import codec
from tfjpegnet.training.stages import MODIFY_PHASE, StageTrainer
from tfjpegnet.training.patches import batches

ROOT = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, os.fspath(ROOT / "tools" / "train_stages.py")]


def smoke_config(tmp_path, data_dir, *flags):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--data-dir", os.fspath(data_dir), "--out", os.fspath(tmp_path / "run"),
                              "--preset", "smoke", "--test-images", "1", *flags])
    return train.prepare_config(args)


def perturb(model, seed=1, scale=0.02):
    rng = np.random.default_rng(seed)
    model.set_weights([w + scale * rng.standard_normal(w.shape).astype(w.dtype) for w in model.get_weights()])


def test_modify_steps_leave_jpeg_net_bit_identical(tmp_path, tiny_data_dir):
    trainer = StageTrainer(smoke_config(tmp_path, tiny_data_dir))
    perturb(trainer.jpeg_net)
    jpeg_before = [w.copy() for w in trainer.jpeg_net.get_weights()]
    modify_before = [w.copy() for w in trainer.modify_net.get_weights()]
    step = trainer.modify_step_fn(trainer.optimizers[1, MODIFY_PHASE])
    for (x,) in batches((trainer.modify_inputs,), 8, seed=0).take(3):
        loss = float(step(x))
        assert np.isfinite(loss) and loss > 0
    for before, after in zip(jpeg_before, trainer.jpeg_net.get_weights()):
        np.testing.assert_array_equal(before, after)
    changed = [not np.array_equal(b, a) for b, a in zip(modify_before, trainer.modify_net.get_weights())]
    assert all(changed)


def test_stage2_jpeg_data_holds_originals_and_modified_outputs(tmp_path, tiny_data_dir):
    trainer = StageTrainer(smoke_config(tmp_path, tiny_data_dir))
    perturb(trainer.modify_net, scale=0.05)
    inputs1, targets1 = trainer.jpeg_phase_arrays(1)
    inputs2, targets2 = trainer.jpeg_phase_arrays(2)
    n = len(trainer.train_patches)
    assert len(inputs1) == n and len(inputs2) == 2 * n
    np.testing.assert_array_equal(inputs2[:n], trainer.train_patches)
    np.testing.assert_array_equal(targets2[:n], targets1)
    edited = inputs2[n:]
    assert not np.array_equal(edited, trainer.train_patches)
    np.testing.assert_array_equal(edited, trainer.edit_uint8(trainer.train_patches))
    for x, y in zip(edited[:5], targets2[n:n + 5]):
        np.testing.assert_array_equal(y, codec.jpeg_roundtrip(x, 15)[0])


MIRRORED_SCRIPT = textwrap.dedent("""
    import argparse, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfjpegnet.cli import train
    from tfjpegnet.training.stages import MODIFY_PHASE, StageTrainer
    from tfjpegnet.training.patches import batches
    parser = argparse.ArgumentParser(); train.add_arguments(parser)
    results = []
    for strategy in ("default", "mirrored"):
        args = parser.parse_args(["--data-dir", sys.argv[1], "--out", sys.argv[2] + strategy,
                                  "--preset", "smoke", "--test-images", "1", "--strategy", strategy])
        trainer = StageTrainer(train.prepare_config(args))
        rng = np.random.default_rng(3)
        trainer.jpeg_net.set_weights([w + 0.02 * rng.standard_normal(w.shape).astype(w.dtype)
                                      for w in trainer.jpeg_net.get_weights()])
        ds = trainer.strategy.experimental_distribute_dataset(batches((trainer.modify_inputs,), 8, seed=5))
        step = trainer.modify_step_fn(trainer.optimizers[1, MODIFY_PHASE])
        loss = float(step(*next(iter(ds))))
        results.append((trainer.strategy.num_replicas_in_sync, loss, trainer.modify_net.get_weights()))
    (r1, l1, w1), (r2, l2, w2) = results
    assert (r1, r2) == (1, 2), (r1, r2)
    assert abs(l1 - l2) <= 1e-6 * max(1.0, abs(l1)), (l1, l2)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    print("same loss", l1, l2)
""")


def test_mirrored_strategy_over_two_cpus_matches_single_device(tmp_path, tiny_data_dir):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    result = subprocess.run([sys.executable, os.fspath(script), os.fspath(tiny_data_dir),
                             os.fspath(tmp_path / "run-")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "same loss" in result.stdout


def test_analytic_proxy_with_rate_weight_lowers_estimated_bits(tmp_path, tiny_data_dir):
    from tfjpegnet.jpeg import color, rate
    config = smoke_config(tmp_path, tiny_data_dir, "--proxy", "analytic", "--rate-weight", "0.5",
                          "--distortion", "proximity+proximity-ssim+decoded", "--lr-modify", "1e-3")
    assert config["stages"] == 1
    trainer = StageTrainer(config)
    assert trainer.jpeg_net is None
    x = tf.constant(trainer.modify_inputs[:16], tf.float32) / 255.0
    before = float(tf.reduce_mean(rate.estimate_bpp(x, 15)))
    step = trainer.modify_step_fn(trainer.optimizers[1, MODIFY_PHASE])
    for (batch,) in batches((trainer.modify_inputs,), 8, seed=0).repeat(3).take(10):
        assert np.isfinite(float(step(batch)))
    edited = color.ycrcb_to_rgb(trainer.modify_net(color.rgb_to_ycrcb(x)))
    after = float(tf.reduce_mean(rate.estimate_bpp(tf.clip_by_value(edited, 0.0, 1.0), 15)))
    assert after < before


def free_ports(count):
    """``count`` TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def run_together(commands, envs, timeout):
    """Run the commands as concurrent processes; kill them all if any outlives ``timeout`` s.

    Returns [(returncode, stdout, stderr)], in order.
    """
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd, env in zip(commands, envs)]
    deadline = time.monotonic() + timeout
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        pytest.fail(f"training processes still running after {timeout} s (a worker waiting for its peer?)")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


@pytest.mark.slow
def test_two_worker_processes_train_like_one_process_with_the_same_global_batch(tmp_path, tiny_data_dir):
    """Two real workers (MultiWorkerMirroredStrategy over gRPC on 127.0.0.1, one replica and half
    of each global batch each) end a stage with the weights and history of one default-strategy
    process. One stage: from stage 2 on, JPEG-Net also trains on Modify-Net's edits rounded to
    8 bits, where a float-level difference can flip a pixel and the runs part by more."""
    flags = ["--quality", "15", "--data-dir", os.fspath(tiny_data_dir), "--preset", "smoke",
             "--test-images", "1", "--max-patches", "8", "--stages", "1"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    commands, envs = [], []
    for index in range(2):
        commands.append([*TRAIN, *flags, "--out", os.fspath(tmp_path / f"worker{index}"), "--strategy", "multiworker"])
        envs.append(dict(env, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                     "task": {"type": "worker", "index": index}})))
    commands.append([*TRAIN, *flags, "--out", os.fspath(tmp_path / "single")])  # the reference, alongside
    results = run_together(commands, [*envs, env], timeout=420)
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert "Done: 1 stage(s)" in out

    def weights(run, name):
        return keras.models.load_model(tmp_path / run / "stage1" / f"{name}.keras").get_weights()

    for name in ("modify_net", "jpeg_net"):
        single, first, second = (weights(run, name) for run in ("single", "worker0", "worker1"))
        for a, b, c in zip(single, first, second):
            np.testing.assert_array_equal(b, c)  # the workers hold one model
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
        # Every bias starts at zero: training moved the weights 100x beyond that tolerance.
        biases = [w for w in single if w.ndim == 1]
        assert biases and max(np.abs(b).max() for b in biases) > 1e-4, name
    history = [json.loads((tmp_path / run / "history.json").read_text()) for run in ("single", "worker0", "worker1")]
    assert [(r["stage"], r["network"]) for r in history[0]] == [(1, "jpeg_net"), (1, "modify_net")]
    for other in history[1:]:
        assert [(r["stage"], r["network"]) for r in other] == [(r["stage"], r["network"]) for r in history[0]]
        np.testing.assert_allclose([r["loss"] for r in other], [r["loss"] for r in history[0]], rtol=1e-5)


def brightened_copies(data_dir, folder, skip=()):
    """Each image of ``data_dir`` (but ``skip``) 20 levels brighter, as the same-named PNG in ``folder``."""
    folder.mkdir()
    for path in sorted(data_dir.iterdir()):
        if path.name not in skip:
            bgr = cv2.imread(os.fspath(path)).astype(np.int16) + 20
            cv2.imwrite(os.fspath(folder / path.name), np.clip(bgr, 0, 255).astype(np.uint8))
    return folder


def test_teacher_images_give_each_input_its_namesakes_patch_and_training_pulls_the_edit_there(
        tmp_path, tiny_data_dir):
    """--teacher-images: the targets are cut and flipped with the inputs, and teacher-only steps move the edit
    towards them."""
    teachers = brightened_copies(tiny_data_dir, tmp_path / "teachers")
    trainer = StageTrainer(smoke_config(tmp_path, tiny_data_dir, "--proxy", "analytic", "--distortion", "teacher",
                                        "--teacher-images", os.fspath(teachers), "--lr-modify", "1e-3"))
    inputs, targets = trainer.modify_inputs, trainer.modify_targets
    np.testing.assert_array_equal(targets, np.clip(inputs.astype(np.int16) + 20, 0, 255))
    x = tf.constant(inputs[:16], tf.float32) / 255.0
    goal = tf.constant(targets[:16], tf.float32) / 255.0

    def distance():
        from tfjpegnet.jpeg import color
        edited = color.ycrcb_to_rgb(trainer.modify_net(color.rgb_to_ycrcb(x)))
        return float(tf.reduce_mean(tf.square(edited - goal)))

    before = distance()
    step = trainer.modify_step_fn(trainer.optimizers[1, MODIFY_PHASE])
    for batch in batches((inputs, targets), 8, seed=0).repeat(3).take(10):
        assert np.isfinite(float(step(*batch)))
    assert distance() < 0.8 * before


def test_teacher_images_missing_one_training_image_are_refused(tmp_path, tiny_data_dir):
    from tfjpegnet.errors import UserError
    teachers = brightened_copies(tiny_data_dir, tmp_path / "teachers", skip=("img2.png",))
    with pytest.raises(UserError, match="img2"):
        StageTrainer(smoke_config(tmp_path, tiny_data_dir, "--proxy", "analytic", "--distortion", "teacher",
                                  "--teacher-images", os.fspath(teachers)))
