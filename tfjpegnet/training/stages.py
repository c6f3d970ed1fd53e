"""The staged trainer: custom GradientTape loops under a tf.distribute strategy.

One :class:`StageTrainer` owns a run directory. Its state (both networks, one
optimizer per stage and network, and the position stage/phase/epoch/step) lives in a
``tf.train.CheckpointManager`` checkpoint written every epoch and every
``checkpoint_every`` steps, so a killed run resumes exactly where it stopped and, with
the same seed, ends with the same weights as an uninterrupted one.
"""

import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, models
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec
from tfjpegnet.training import patches
from tfjpegnet.files import atomic_path, write_json
from tfjpegnet.training.objectives import ModifyObjective
from tfjpegnet.errors import TrainingDiverged

JPEG_PHASE, MODIFY_PHASE = 0, 1
PHASE_NAMES = {JPEG_PHASE: "jpeg_net", MODIFY_PHASE: "modify_net"}


def make_strategy(name):
    """Return the tf.distribute strategy called ``name`` (default|mirrored|multiworker)."""
    if name == "mirrored":
        # All GPUs; on a CPU-only machine, every logical CPU device (1 unless configured).
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def seed_for(seed, *parts):
    """A deterministic 32-bit seed from the run seed and position parts (ints)."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


class StageTrainer:
    """Trains one run described by a resolved config dict (see ``presets.resolve_config``)."""

    def __init__(self, config):
        self.config = config
        self.out = config["out"]
        keras.mixed_precision.set_global_policy(config["precision"])
        keras.utils.set_random_seed(config["seed"])
        self.strategy = make_strategy(config["strategy"])
        size = config["patch_size"]
        train = datasets.load_patches(config["train_images"], size)
        if config["max_patches"]:
            keep = np.random.default_rng(config["seed"]).permutation(len(train))[:config["max_patches"]]
            train = train[np.sort(keep)]
        self.train_patches = train
        self.modify_inputs = patches.inversion_extension(train)
        self.test_patches = datasets.load_patches(config["test_images"], size)
        self.test_plain = patches.jpeg_targets(self.test_patches, config["quality"])
        self.jpeg_pairs = None
        with self.strategy.scope():
            self.modify_net = self._build_modify_net()
            self.jpeg_net = models.build_jpeg_net() if config["proxy"] == "jpegnet" else None
            self.objective = ModifyObjective(config, self.jpeg_net)
            self.optimizers = {}
            for stage in range(1, config["stages"] + 1):
                for phase in self._phases():
                    self.optimizers[stage, phase] = self._make_optimizer(phase)
            self.position = tf.Variable([1, self._phases()[0], 0, 0], dtype=tf.int64, trainable=False)
        trackables = {f"opt_s{s}_{PHASE_NAMES[p]}": o for (s, p), o in self.optimizers.items()}
        if self.jpeg_net is not None:
            trackables["jpeg_net"] = self.jpeg_net
        self.checkpoint = tf.train.Checkpoint(modify_net=self.modify_net, position=self.position,
                                              **trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, os.path.join(self.out, "checkpoints"),
                                                  max_to_keep=2)
        self.writer = tf.summary.create_file_writer(os.path.join(self.out, "logs"))
        self.history = self._load_history()
        self._steps = {}

    # ----- construction helpers -------------------------------------------------------
    def _phases(self):
        return (JPEG_PHASE, MODIFY_PHASE) if self.config["proxy"] == "jpegnet" else (MODIFY_PHASE,)

    def _phase_data_size(self, phase):
        if phase == MODIFY_PHASE:
            return len(self.modify_inputs), self.config["batch_modify"]
        blocks_per_patch = (self.config["patch_size"] // 8) ** 2
        return len(self.train_patches) * blocks_per_patch, self.config["batch_jpeg"]

    def _make_optimizer(self, phase):
        cfg = self.config
        net = "jpeg" if phase == JPEG_PHASE else "modify"
        lr = cfg[f"lr_{net}"]
        if cfg["lr_decay_epochs"]:
            n, batch = self._phase_data_size(phase)
            # Stage >= 2 JPEG-Net data is twice as large; decay by epochs of stage-1 size.
            every = cfg["lr_decay_epochs"] * patches.steps_per_epoch(n, batch)
            epochs = cfg[f"epochs_{net}"]
            bounds = [every * k for k in range(1, max(1, epochs // cfg["lr_decay_epochs"]) + 1)]
            lr = keras.optimizers.schedules.PiecewiseConstantDecay(
                bounds, [cfg[f"lr_{net}"] / 10 ** k for k in range(len(bounds) + 1)])
        clip = {"clipvalue": cfg["clipvalue"]} if cfg["clipvalue"] else {}
        if cfg["optimizer"] == "sgd":
            optimizer = keras.optimizers.SGD(lr, momentum=0.9, **clip)
        else:
            optimizer = keras.optimizers.Adam(lr, **clip)
        model = self.jpeg_net if phase == JPEG_PHASE else self.modify_net
        optimizer.build(model.trainable_variables)
        return optimizer

    def _load_history(self):
        path = os.path.join(self.out, "history.json")
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return json.load(handle)

    # ----- steps ------------------------------------------------------------------------
    def jpeg_step_fn(self, optimizer):
        """A distributed tf.function: one JPEG-Net update on (x, y) YCrCb 8x8 blocks.

        x, y: float32 [batch, 8, 8, 3] in [0, 1], blocks of patches and of their real
        OpenCV JPEG. Loss = MSE(JPEG-Net(x), y), averaged over the global batch.
        Returns the mean loss (float32 scalar).
        """
        global_batch = self.config["batch_jpeg"]

        def step(x, y):
            with tf.GradientTape() as tape:
                pred = tf.cast(self.jpeg_net(x, training=True), tf.float32)
                per_example = tf.reduce_mean(tf.square(pred - y), axis=[1, 2, 3])
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            grads = tape.gradient(loss, self.jpeg_net.trainable_variables)
            optimizer.apply_gradients(zip(grads, self.jpeg_net.trainable_variables))
            return loss

        return self._distributed(step)

    def modify_step_fn(self, optimizer):
        """A distributed tf.function: one Modify-Net update on a YCrCb batch x.

        Loss per example = the run's objective (paper: MSE between JPEG-Net(blocks(
        Modify-Net(x))) reassembled and x). Gradients are taken and applied for
        Modify-Net's variables only; JPEG-Net runs with training=False and never changes.
        Returns the mean loss (float32 scalar).
        """
        global_batch = self.config["batch_modify"]

        def step(x):
            with tf.GradientTape() as tape:
                edited = tf.cast(self.modify_net(x, training=True), tf.float32)
                per_example = self.objective(x, edited)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            variables = self.modify_net.trainable_variables
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return loss

        return self._distributed(step)

    def _distributed(self, step):
        strategy = self.strategy

        @tf.function
        def run(*batch):
            per_replica = strategy.run(step, args=batch)
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        return run

    # ----- data of each phase ---------------------------------------------------------------
    def jpeg_phase_arrays(self, stage):
        """(inputs, targets) uint8 [M, 8, 8, 3] blocks for JPEG-Net in ``stage``.

        Stage 1: blocks of the original training patches and of their real JPEG.
        Stage >= 2: those plus blocks of the current Modify-Net's outputs (rounded to
        8 bits) and of their real JPEG. Targets of the originals are computed once.
        """
        if self.jpeg_pairs is None:
            self.jpeg_pairs = (self.train_patches, patches.jpeg_targets(self.train_patches, self.config["quality"]))
        inputs, targets = self.jpeg_pairs
        if stage >= 2:
            edited = self.edit_uint8(self.train_patches)
            inputs = np.concatenate([inputs, edited])
            targets = np.concatenate([targets, patches.jpeg_targets(edited, self.config["quality"])])
        return inputs, targets

    def edit_uint8(self, patches, batch_size=64):
        """Run the current Modify-Net on uint8 RGB patches [N, h, w, 3]; uint8 RGB out."""
        out = []
        for start in range(0, len(patches), batch_size):
            rgb = tf.constant(patches[start:start + batch_size], tf.float32) / 255.0
            edited = models.edit_rgb(self.modify_net, rgb)
            out.append(tf.cast(tf.round(edited * 255.0), tf.uint8).numpy())
        return np.concatenate(out)

    # ----- validation -------------------------------------------------------------------------
    def validate_modify(self):
        """Real-JPEG quality of the current Modify-Net on the test patches.

        Returns dict: test PSNR (dB, RGB, all patches pooled) of plain JPEG and of the
        proposed path (Modify-Net -> 8-bit -> OpenCV JPEG -> decode), and bpp of both.
        """
        q = self.config["quality"]
        edited = self.edit_uint8(self.test_patches)
        decoded, sizes = zip(*(codec.jpeg_roundtrip(p, q) for p in edited))
        plain_sizes = [len(codec.encode_jpeg(p, q)) for p in self.test_patches]
        pixels = self.test_patches.shape[1] * self.test_patches.shape[2]
        return {"test_psnr": metrics.psnr(self.test_patches, np.stack(decoded)),
                "test_psnr_plain": metrics.psnr(self.test_patches, self.test_plain),
                "test_bpp": 8 * float(np.mean(sizes)) / pixels,
                "test_bpp_plain": 8 * float(np.mean(plain_sizes)) / pixels}

    def validate_jpeg(self):
        """JPEG-Net fidelity: PSNR (dB) of JPEG-Net vs real JPEG on the test patches' blocks."""
        x = patches.to_ycrcb(self.test_patches)
        pred = tf.cast(self.jpeg_net(models.to_blocks(x), training=False), tf.float32)
        target = models.to_blocks(patches.to_ycrcb(self.test_plain))
        mse = float(tf.reduce_mean(tf.square(pred - target)))
        return {"test_jpegnet_psnr": 10 * math.log10(1.0 / mse)}

    # ----- the loop ---------------------------------------------------------------------------
    def _build_modify_net(self):
        """A new Modify-Net of the configured depth, filters and MCU branch (current dtype policy).

        With ``train_only_branch`` every layer outside the MCU branch is frozen (not trainable).
        """
        net = models.build_modify_net(self.config["depth"], self.config["filters"],
                                      mcu_branch=self.config["mcu_branch"])
        if self.config["train_only_branch"]:
            for layer in net.layers:
                layer.trainable = layer.name.startswith("mcu")
        return net

    def fit(self):
        """Run or resume all stages; returns a one-line summary string."""
        start = time.time()
        if self.config["init_model"] and not self.manager.checkpoints:
            # Fine-tune: start Modify-Net from a saved model (same depth and filters; one
            # without the MCU branch starts a net with it that computes the same edit).
            models.transfer_weights(keras.models.load_model(self.config["init_model"]), self.modify_net)
        if self._restore():
            stage, phase, epoch, step = (int(v) for v in self.position.numpy())
            print(f"Resuming {self.out} at stage {stage}, {PHASE_NAMES[phase]}, epoch {epoch + 1}, "
                  f"step {step}")
        stages = self.config["stages"]
        last = {}
        while True:
            stage, phase, epoch, step = (int(v) for v in self.position.numpy())
            if stage > stages:
                break
            last[phase] = self._run_phase(stage, phase, epoch, step)
            self._advance(stage, phase)
        minutes = (time.time() - start) / 60
        parts = [f"{PHASE_NAMES[p]} loss {v['loss']:.6f}" for p, v in sorted(last.items())]
        final = [r for r in self.history if r["network"] == "modify_net"]
        if final:
            r = final[-1]
            parts.append(f"test PSNR {r['test_psnr']:.2f} dB vs plain JPEG {r['test_psnr_plain']:.2f} dB, "
                         f"{r['test_bpp']:.3f} vs {r['test_bpp_plain']:.3f} bpp")
        return (f"Done: {stages} stage(s) at Q{self.config['quality']} in {minutes:.1f} min this session"
                f" ({'; '.join(parts)}). Models in {self.out}/stage*/")

    def _restore(self):
        """Restore the newest readable checkpoint (newest first); returns its path or None."""
        for path in reversed(self.manager.checkpoints):
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
                return path
            except (tf.errors.OpError, ValueError, AssertionError, IndexError) as err:
                print(f"warning: checkpoint {path} is unreadable ({type(err).__name__}); trying an older one")
        return None

    def _advance(self, stage, phase):
        phases = self._phases()
        i = phases.index(phase)
        if i + 1 < len(phases):
            self.position.assign([stage, phases[i + 1], 0, 0])
        else:
            self._save_models(stage)
            self.position.assign([stage + 1, phases[0], 0, 0])
        self.manager.save()

    def _run_phase(self, stage, phase, epoch, step):
        cfg = self.config
        optimizer = self.optimizers[stage, phase]
        if phase == JPEG_PHASE:
            arrays = tuple(patches.blocks_of(a) for a in self.jpeg_phase_arrays(stage))
            batch, epochs, fn = cfg["batch_jpeg"], cfg["epochs_jpeg"], self.jpeg_step_fn(optimizer)
        else:
            arrays = (self.modify_inputs,)
            batch, epochs, fn = cfg["batch_modify"], cfg["epochs_modify"], self.modify_step_fn(optimizer)
        record = {"loss": float("nan")}
        total = patches.steps_per_epoch(len(arrays[0]), batch)
        for e in range(epoch, epochs):
            print(f"Stage {stage}/{cfg['stages']} {PHASE_NAMES[phase]} epoch {e + 1}/{epochs}")
            progbar = keras.utils.Progbar(total, stateful_metrics=["loss"])
            ds = self.strategy.experimental_distribute_dataset(
                patches.batches(arrays, batch, seed_for(cfg["seed"], stage, phase, e), skip=step))
            losses = []
            t0 = time.time()
            for i, batch_data in enumerate(ds, start=step):
                loss = float(fn(*batch_data))
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"loss became {loss} at stage {stage}, {PHASE_NAMES[phase]}, epoch {e + 1}, "
                        f"step {i + 1}; stopped. The last good checkpoint is in {self.manager.directory} "
                        "(lower the learning rate or enable --clipvalue, then rerun to resume).")
                losses.append(loss)
                progbar.update(i + 1, [("loss", loss)])
                if (i + 1) % cfg["checkpoint_every"] == 0 and i + 1 < total:
                    self.position.assign([stage, phase, e, i + 1])
                    self.manager.save()
            step = 0
            record = {"stage": stage, "network": PHASE_NAMES[phase], "epoch": e + 1,
                      "loss": float(np.mean(losses)) if losses else float("nan"),
                      "seconds": time.time() - t0}
            record.update(self.validate_jpeg() if phase == JPEG_PHASE else self.validate_modify())
            self._log(record)
            self.position.assign([stage, phase, e + 1, 0])
            self.manager.save()
        return record

    def _log(self, record):
        print("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in record.items()))
        key = (record["stage"], record["network"], record["epoch"])
        self.history = [r for r in self.history if (r["stage"], r["network"], r["epoch"]) != key]
        self.history.append(record)
        write_json(os.path.join(self.out, "history.json"), self.history)
        index = sum(1 for r in self.history if r["network"] == record["network"])
        with self.writer.as_default(step=index):
            for k, v in record.items():
                if isinstance(v, float) and k not in ("seconds",):
                    tf.summary.scalar(f"{record['network']}/{k}", v)
        self.writer.flush()

    def _save_models(self, stage):
        """Write stageK/modify_net.keras (and jpeg_net.keras) as float32 models, atomically."""
        folder = os.path.join(self.out, f"stage{stage}")
        policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")
        try:
            net = self._build_modify_net()
            net.set_weights(self.modify_net.get_weights())
            saved = {"modify_net": net}
            if self.jpeg_net is not None:
                jnet = models.build_jpeg_net()
                jnet.set_weights(self.jpeg_net.get_weights())
                saved["jpeg_net"] = jnet
        finally:
            keras.mixed_precision.set_global_policy(policy)
        for name, model in saved.items():
            with atomic_path(os.path.join(folder, f"{name}.keras")) as tmp:
                model.save(tmp)
