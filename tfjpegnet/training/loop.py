"""One network's epochs within a stage: batches, progress bar, divergence check, checkpoints, logs.

:func:`train_phase` runs the epochs of one :class:`Phase` from a position inside it. Each
epoch draws its batch order from :func:`seed_for` (run seed, stage, phase, epoch) and shows
a ``keras.utils.Progbar``; a NaN or Inf loss stops the run with
:class:`~tfjpegnet.errors.TrainingDiverged` (no checkpoint is written after it, so the
newest one is the last good state). The loop checkpoints every ``checkpoint_every`` steps
and at the end of each epoch, and logs one record per epoch to the :class:`History`.
"""

import dataclasses
import math
import os
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import runs
from tfjpegnet.errors import TrainingDiverged
from tfjpegnet.files import write_json
from tfjpegnet.training import patches


def seed_for(seed, *parts):
    """A deterministic 32-bit seed (int) from the run seed and position parts (ints)."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


@dataclasses.dataclass(frozen=True)
class Phase:
    """The training of one network in one stage.

    Attributes:
      stage: the stage, from 1; stages: how many the run has (for the progress line).
      phase: the network's number in the checkpoint position; network: its name in logs
        ("jpeg_net" or "modify_net").
      arrays: uint8 numpy arrays [N, h, w, 3] of equal N, RGB in [0, 255]: the step's
        inputs (and targets), batched together.
      batch_size: the global batch; the last partial batch of an epoch is dropped.
      epochs: the number of epochs of this phase.
      step: distributed step function (float32 YCrCb batches [batch, h, w, 3] in [0, 1],
        one per array) -> float32 scalar mean loss; see :mod:`tfjpegnet.training.steps`.
      validate: () -> dict of float metrics, added to each epoch's record.
      seed: the run seed.
      qualities: None, or (lo, hi): each batch also carries a quality per example drawn from
        lo..hi (:func:`tfjpegnet.training.patches.batches`), the step's last argument.
    """

    stage: int
    stages: int
    phase: int
    network: str
    arrays: tuple
    batch_size: int
    epochs: int
    step: Callable
    validate: Callable
    seed: int
    qualities: tuple = None


class History:
    """A run's per-epoch records: ``history.json`` and TensorBoard scalars under ``logs/``.

    A record is a dict with ``stage`` (int), ``network`` (str), ``epoch`` (int, from 1),
    ``loss`` (float, mean training loss of the epoch), ``seconds`` (float) and the
    validation metrics (floats). ``history.json`` holds them oldest first, one per
    (stage, network, epoch): logging an epoch again (after a resume) replaces its record.
    """

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.records = runs.read_history(run_dir)
        self.writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))

    def log(self, record):
        """Print ``record``, store it in ``history.json`` and write its floats to TensorBoard."""
        print("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in record.items()))
        key = (record["stage"], record["network"], record["epoch"])
        self.records = [r for r in self.records if (r["stage"], r["network"], r["epoch"]) != key]
        self.records.append(record)
        write_json(os.path.join(self.run_dir, runs.HISTORY), self.records)
        index = sum(1 for r in self.records if r["network"] == record["network"])
        with self.writer.as_default(step=index):
            for k, v in record.items():
                if isinstance(v, float) and k not in ("seconds",):
                    tf.summary.scalar(f"{record['network']}/{k}", v)
        self.writer.flush()

    def last(self, network):
        """The newest record of ``network``, or None."""
        found = [r for r in self.records if r["network"] == network]
        return found[-1] if found else None

    def close(self):
        """Close the TensorBoard writer."""
        self.writer.close()


def train_phase(phase, strategy, checkpoints, history, checkpoint_every, epoch=0, step=0):
    """Train ``phase`` from its epoch ``epoch`` (0-based), skipping ``step`` batches of that epoch.

    Args:
      phase: the :class:`Phase`.
      strategy: the tf.distribute strategy the step function runs under.
      checkpoints: the run's :class:`~tfjpegnet.training.checkpoints.RunCheckpoint`; saved
        at (stage, phase, epoch, steps done) every ``checkpoint_every`` steps inside an
        epoch and at (stage, phase, epochs done, 0) after each epoch.
      history: the run's :class:`History`.

    Returns:
      The last epoch's record (dict), or {"loss": nan} if no epoch was left to run.

    Raises TrainingDiverged if a step's loss is NaN or Inf.
    """
    record = {"loss": float("nan")}
    total = patches.steps_per_epoch(len(phase.arrays[0]), phase.batch_size)
    for e in range(epoch, phase.epochs):
        print(f"Stage {phase.stage}/{phase.stages} {phase.network} epoch {e + 1}/{phase.epochs}")
        progbar = keras.utils.Progbar(total, stateful_metrics=["loss"])
        order_seed = seed_for(phase.seed, phase.stage, phase.phase, e)
        ds = strategy.experimental_distribute_dataset(
            patches.batches(phase.arrays, phase.batch_size, order_seed, skip=step, qualities=phase.qualities))
        losses = []
        t0 = time.time()
        for i, batch in enumerate(ds, start=step):
            loss = float(phase.step(*batch))
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    f"loss became {loss} at stage {phase.stage}, {phase.network}, epoch {e + 1}, "
                    f"step {i + 1}; stopped. The last good checkpoint is in {checkpoints.directory} "
                    "(lower the learning rate or enable --clipvalue, then rerun to resume).")
            losses.append(loss)
            progbar.update(i + 1, [("loss", loss)])
            if (i + 1) % checkpoint_every == 0 and i + 1 < total:
                checkpoints.save((phase.stage, phase.phase, e, i + 1))
        step = 0
        record = {"stage": phase.stage, "network": phase.network, "epoch": e + 1,
                  "loss": float(np.mean(losses)) if losses else float("nan"),
                  "seconds": time.time() - t0}
        record.update(phase.validate())
        history.log(record)
        checkpoints.save((phase.stage, phase.phase, e + 1, 0))
    return record
