"""The paper's stage schedule (Nagasaki et al., Sec. 3.2) on top of the training loop.

Each stage trains, in this order:

1. JPEG-Net (phase :data:`JPEG_PHASE`) to imitate real OpenCV JPEG on 8x8 blocks: in
   stage 1 of the training patches, in each later stage of those AND of the current
   Modify-Net's outputs (rounded to 8 bits), each with its real JPEG as the target;
2. Modify-Net (phase :data:`MODIFY_PHASE`) through the frozen JPEG-Net (or, with the
   analytic proxy, which has no JPEG-Net and so no phase 1, through an exact model of JPEG).

At the end of stage K both networks are saved as float32 models in ``stageK/``.

One :class:`StageTrainer` owns a run directory (see :mod:`tfjpegnet.runs`). Its state
lives in checkpoints (:mod:`~tfjpegnet.training.checkpoints`) written every epoch and every
``checkpoint_every`` steps, so a killed run resumes exactly where it stopped and, with the
same seed, ends with the same weights as an uninterrupted one. The pieces:
:mod:`~tfjpegnet.training.steps` (distribution, optimizers, one update),
:mod:`~tfjpegnet.training.loop` (a network's epochs, history and logs) and
:mod:`~tfjpegnet.training.validation` (real-JPEG test metrics).
"""

import functools
import os
import time

import keras
import numpy as np

from tfjpegnet import datasets, models
from tfjpegnet.errors import UserError
from tfjpegnet.files import atomic_path, write_json
from tfjpegnet.training import config as run_config
from tfjpegnet.training import loop, patches, rate_weights, steps, validation
from tfjpegnet.training.checkpoints import RunCheckpoint
from tfjpegnet.training.loop import seed_for  # noqa: F401  (part of this module's interface)
from tfjpegnet.training.objectives import ModifyObjective

JPEG_PHASE, MODIFY_PHASE = 0, 1
PHASE_NAMES = {JPEG_PHASE: "jpeg_net", MODIFY_PHASE: "modify_net"}


class StageTrainer:
    """Trains one run described by a resolved config dict (see :func:`tfjpegnet.training.config.resolve_config`).

    Construction sets the precision policy and the seeds, builds the strategy, loads the
    data (training patches uint8 RGB [N, s, s, 3], their inversion extension [4 N, s, s, 3]
    for Modify-Net, and the test patches), both networks, the objective and one optimizer
    per stage and network; :meth:`fit` then runs or resumes the schedule.
    """

    def __init__(self, config):
        self.config = config
        self.out = config["out"]
        keras.mixed_precision.set_global_policy(config["precision"])
        keras.utils.set_random_seed(config["seed"])
        self.strategy = steps.make_strategy(config["strategy"])
        self.train_patches, targets = _training_patches(config)
        self.modify_inputs = patches.inversion_extension(self.train_patches)
        # With teacher images: the teacher term's target of each input, flipped alike.
        self.modify_targets = None if targets is None else patches.inversion_extension(targets)
        self.qualities = run_config.parse_quality_range(config["qualities"]) if config["qualities"] else None
        self.rate_weight_of = self._fit_rate_weight() if self.qualities else None
        test_patches = datasets.load_patches(config["test_images"], config["patch_size"])
        self.validation = validation.Validation(test_patches, config["quality"], encoder=config["encoder"])
        # A net for every quality is also validated at the ends and the middle (50) of its range.
        lo, hi = self.qualities or (config["quality"], config["quality"])
        extra = {lo, hi, min(max(50, lo), hi)} - {config["quality"]}
        self.extra_validations = [validation.Validation(test_patches, q, encoder=config["encoder"])
                                  for q in sorted(extra)]
        self.phases = (JPEG_PHASE, MODIFY_PHASE) if config["proxy"] == "jpegnet" else (MODIFY_PHASE,)
        self._jpeg_pairs = None
        with self.strategy.scope():
            self.modify_net = self._build_modify_net()
            self.jpeg_net = models.build_jpeg_net() if config["proxy"] == "jpegnet" else None
            self.objective = ModifyObjective(config, self.jpeg_net, self.rate_weight_of)
            self.optimizers = {(stage, phase): self._make_optimizer(phase)
                               for stage in range(1, config["stages"] + 1) for phase in self.phases}
        # The checkpoint's names are its layout: keep them stable so old checkpoints resume.
        trackables = {f"opt_s{s}_{PHASE_NAMES[p]}": o for (s, p), o in self.optimizers.items()}
        if self.jpeg_net is not None:
            trackables["jpeg_net"] = self.jpeg_net
        self.checkpoints = RunCheckpoint(os.path.join(self.out, "checkpoints"), self.strategy,
                                         start=(1, self.phases[0], 0, 0), modify_net=self.modify_net,
                                         **trackables)
        self.history = loop.History(self.out)

    # ----- construction ----------------------------------------------------------------------
    def _build_modify_net(self):
        """A new Modify-Net of the configured architecture and sizes (current dtype policy)."""
        cfg = self.config
        if cfg["arch"] == "light":
            return models.build_light_modify_net(cfg["factor"], cfg["filters"], cfg["blocks"],
                                                 mcu_branch=cfg["mcu_branch"], conditioned=bool(self.qualities),
                                                 colour_compensation=cfg["colour_compensation"])
        return models.build_modify_net(cfg["depth"], cfg["filters"], mcu_branch=cfg["mcu_branch"])

    def _fit_rate_weight(self):
        """The rate weight per quality (:mod:`.rate_weights`), fitted on up to 256 training patches
        chosen by the seed; written to the run's rate_weight.json."""
        cfg = self.config
        pick = np.random.default_rng(cfg["seed"]).permutation(len(self.train_patches))[:256]
        weight, rows = rate_weights.fit(self.train_patches[np.sort(pick)], cfg["encoder"], cfg["rate_weight"],
                                        cfg["quality"])
        write_json(os.path.join(self.out, "rate_weight.json"),
                   {"function": weight.describe(), "weight": weight.weight, "reference": weight.reference,
                    "exponent": weight.exponent, "encoder": cfg["encoder"], "patches": int(len(pick)),
                    "plain_slopes": rows})
        print(f"Rate weight per quality: {weight.describe()} (plain {cfg['encoder']}'s slope on "
              f"{len(pick)} training patches; {self.out}/rate_weight.json)")
        return weight

    def _make_optimizer(self, phase):
        if phase == JPEG_PHASE:
            # Stage >= 2 JPEG-Net data is twice as large; decay by epochs of stage-1 size.
            n = len(self.train_patches) * (self.config["patch_size"] // 8) ** 2
            net, model, batch = "jpeg", self.jpeg_net, self.config["batch_jpeg"]
        else:
            n = len(self.modify_inputs)
            net, model, batch = "modify", self.modify_net, self.config["batch_modify"]
        return steps.make_optimizer(self.config, net, model, patches.steps_per_epoch(n, batch))

    # ----- steps -------------------------------------------------------------------------------
    def jpeg_step_fn(self, optimizer):
        """The distributed JPEG-Net step with ``optimizer`` (see :func:`steps.jpeg_step_fn`)."""
        return steps.jpeg_step_fn(self.strategy, self.jpeg_net, optimizer, self.config["batch_jpeg"])

    def modify_step_fn(self, optimizer):
        """The distributed Modify-Net step with ``optimizer`` (see :func:`steps.modify_step_fn`)."""
        return steps.modify_step_fn(self.strategy, self.modify_net, self.objective, optimizer,
                                    self.config["batch_modify"], with_targets=self.modify_targets is not None)

    # ----- data of each phase ------------------------------------------------------------------
    def jpeg_phase_arrays(self, stage):
        """(inputs, targets) uint8 RGB [M, s, s, 3] patches for JPEG-Net in ``stage`` (cut into blocks later).

        Stage 1: the original training patches and their real JPEG (M = N). Stage >= 2:
        those plus the current Modify-Net's outputs (rounded to 8 bits) and their real
        JPEG (M = 2 N). Targets of the originals are computed once.
        """
        if self._jpeg_pairs is None:
            self._jpeg_pairs = (self.train_patches,
                                patches.jpeg_targets(self.train_patches, self.config["quality"]))
        inputs, targets = self._jpeg_pairs
        if stage >= 2:
            edited = self.edit_uint8(self.train_patches)
            inputs = np.concatenate([inputs, edited])
            targets = np.concatenate([targets, patches.jpeg_targets(edited, self.config["quality"])])
        return inputs, targets

    def edit_uint8(self, rgb, batch_size=64):
        """The current Modify-Net's edit of uint8 RGB patches [N, h, w, 3], as uint8 RGB (numpy)."""
        return validation.edit_uint8(self.modify_net, rgb, batch_size)

    def _phase(self, stage, phase):
        """The :class:`loop.Phase` of ``phase`` in ``stage`` (computes its data)."""
        cfg = self.config
        if phase == JPEG_PHASE:
            arrays = tuple(patches.blocks_of(a) for a in self.jpeg_phase_arrays(stage))
            batch, epochs = cfg["batch_jpeg"], cfg["epochs_jpeg"]
            step = self.jpeg_step_fn(self.optimizers[stage, phase])
            validate = functools.partial(self.validation.jpeg_net, self.jpeg_net)
        else:
            arrays = (self.modify_inputs,) if self.modify_targets is None else (self.modify_inputs,
                                                                                 self.modify_targets)
            batch, epochs = cfg["batch_modify"], cfg["epochs_modify"]
            step = self.modify_step_fn(self.optimizers[stage, phase])
            validate = self._validate_modify_net
        return loop.Phase(stage=stage, stages=cfg["stages"], phase=phase, network=PHASE_NAMES[phase],
                          arrays=arrays, batch_size=batch, epochs=epochs, step=step, validate=validate,
                          seed=cfg["seed"], qualities=self.qualities if phase == MODIFY_PHASE else None)

    def _validate_modify_net(self):
        """The epoch's validation of Modify-Net: at the run's quality, and for a net for every
        quality also at the others of :attr:`extra_validations` (keys prefixed ``q{Q}_``)."""
        record = self.validation.modify_net(self.modify_net)
        for extra in self.extra_validations:
            record.update({f"q{extra.quality}_{k}": v for k, v in extra.modify_net(self.modify_net).items()})
        return record

    # ----- the schedule ------------------------------------------------------------------------
    def fit(self):
        """Run or resume all stages; returns a one-line summary string."""
        start = time.time()
        print(f"Data: {len(self.train_patches)} training patches of {self.config['patch_size']}x"
              f"{self.config['patch_size']} from {len(self.config['train_images'])} images "
              f"({len(self.modify_inputs)} Modify-Net inputs with flips), {len(self.validation.patches)} test "
              f"patches from {len(self.config['test_images'])} images")
        if self.config["init_model"] and not self.checkpoints.exists:
            # Fine-tune: start Modify-Net from a saved model (same depth and filters; one
            # without the MCU branch starts a net with it that computes the same edit).
            models.transfer_weights(keras.models.load_model(self.config["init_model"]), self.modify_net)
        if self.checkpoints.restore():
            stage, phase, epoch, step = self.checkpoints.where()
            print(f"Resuming {self.out} at stage {stage}, {PHASE_NAMES[phase]}, epoch {epoch + 1}, "
                  f"step {step}")
        stages = self.config["stages"]
        last = {}
        while True:
            stage, phase, epoch, step = self.checkpoints.where()
            if stage > stages:
                break
            last[phase] = loop.train_phase(self._phase(stage, phase), self.strategy, self.checkpoints,
                                           self.history, self.config["checkpoint_every"], epoch, step)
            self._advance(stage, phase)
        minutes = (time.time() - start) / 60
        parts = [f"{PHASE_NAMES[p]} loss {v['loss']:.6f}" for p, v in sorted(last.items())]
        r = self.history.last("modify_net")
        if r:
            parts.append(f"test PSNR {r['test_psnr']:.2f} dB vs plain JPEG {r['test_psnr_plain']:.2f} dB, "
                         f"{r['test_bpp']:.3f} vs {r['test_bpp_plain']:.3f} bpp")
        return (f"Done: {stages} stage(s) at Q{self.config['quality']} in {minutes:.1f} min this session"
                f" ({'; '.join(parts)}). Models in {self.out}/stage*/")

    def _advance(self, stage, phase):
        """Move the position past ``phase`` of ``stage``; after a stage's last phase save its models."""
        i = self.phases.index(phase)
        if i + 1 < len(self.phases):
            self.checkpoints.save((stage, self.phases[i + 1], 0, 0))
        else:
            self._save_models(stage)
            self.checkpoints.save((stage + 1, self.phases[0], 0, 0))

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

    def close(self):
        """Release the TensorBoard writer (the trainer is not used afterwards)."""
        self.history.close()


def _training_patches(config):
    """The run's training patches of its training images after ``downscale``: all, or ``max_patches``
    of them chosen by the seed.

    Returns (patches, targets): uint8 RGB [N, s, s, 3], and with ``teacher_images`` the same cut of
    each training image's namesake there (the teacher term's targets, same shape), else None.
    """
    size, spec = config["patch_size"], datasets.parse_downscale(config.get("downscale"))
    train = datasets.load_patches(config["train_images"], size, spec)
    targets = None
    if config.get("teacher_images"):
        targets = datasets.load_patches(datasets.matching_images(config["teacher_images"], config["train_images"]),
                                        size, spec)
        if targets.shape != train.shape:
            raise UserError(f"the images in {config['teacher_images']!r} must have the sizes of the training "
                            f"images ({len(targets)} patches against {len(train)})")
    if config["max_patches"]:
        keep = np.sort(np.random.default_rng(config["seed"]).permutation(len(train))[:config["max_patches"]])
        train = train[keep]
        targets = None if targets is None else targets[keep]
    return train, targets
