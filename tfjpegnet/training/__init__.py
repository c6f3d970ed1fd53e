"""Training, one concern per module.

- :mod:`.config`: every setting's default, the presets, what a resume must match;
- :mod:`.patches`: training patches, real-JPEG targets, epoch batches, 8x8 blocks;
- :mod:`.objectives`: the loss Modify-Net minimises;
- :mod:`.steps`: the tf.distribute strategy, optimizers and one update of each network;
- :mod:`.checkpoints`: the run's resumable state and its position;
- :mod:`.loop`: one network's epochs, ``history.json`` and TensorBoard logs;
- :mod:`.validation`: test metrics through real OpenCV JPEG;
- :mod:`.stages`: the paper's stage schedule on top (:class:`~.stages.StageTrainer`).
"""
