"""A run's resumable state: its networks, optimizers and position, in ``checkpoints/``.

The position is an int64 variable [stage, phase, epoch, step] saved with the weights:
``stage`` counts from 1, ``phase`` is the network being trained (see
:mod:`tfjpegnet.training.stages`), ``epoch`` the number of that network's finished epochs
in this stage and ``step`` the number of finished steps of the current epoch. Restoring
a checkpoint and continuing from its position repeats exactly what the run would have
done next (the data order of each epoch is a function of the run seed and the position).

``tf.train.CheckpointManager`` keeps the 2 newest checkpoints, so one that a kill
truncated while it was being written leaves an older, complete one to fall back to.
"""

import tensorflow as tf

MAX_TO_KEEP = 2


class RunCheckpoint:
    """The checkpoints of one run directory.

    Args:
      directory: the ``checkpoints/`` folder (created on the first save).
      strategy: the tf.distribute strategy the trackables were created under.
      start: the position (stage, phase, epoch, step) of a run that has not trained yet.
      **trackables: what else is saved, by name (networks, optimizers); the names are the
        checkpoint's layout and must not change between versions.
    """

    def __init__(self, directory, strategy, start, **trackables):
        with strategy.scope():
            self.position = tf.Variable(list(start), dtype=tf.int64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(position=self.position, **trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=MAX_TO_KEEP)

    @property
    def directory(self):
        """The checkpoints folder (str)."""
        return self.manager.directory

    @property
    def exists(self):
        """True once the run has saved a checkpoint."""
        return bool(self.manager.checkpoints)

    def where(self):
        """The current position as a tuple of 4 ints (stage, phase, epoch, step)."""
        return tuple(int(v) for v in self.position.numpy())

    def save(self, position):
        """Set the position to ``position`` (stage, phase, epoch, step) and write a checkpoint."""
        self.position.assign(list(position))
        self.manager.save()

    def restore(self):
        """Restore the newest readable checkpoint, falling back to older ones.

        Returns its path, or None if there is none (or none is readable): the state is then
        as constructed. A checkpoint that fails to load is reported on stdout and skipped.
        """
        for path in reversed(self.manager.checkpoints):
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
                return path
            except (tf.errors.OpError, ValueError, AssertionError, IndexError) as err:
                print(f"warning: checkpoint {path} is unreadable ({type(err).__name__}); trying an older one")
        return None
