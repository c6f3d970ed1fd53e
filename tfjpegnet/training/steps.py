"""One update of each network, distributed: the tf.distribute strategy, optimizers and step functions.

A step function takes one *global* batch (as ``strategy.experimental_distribute_dataset``
hands it out: each replica receives its share) and returns the mean loss over the global
batch as a float32 scalar. Each replica's loss is divided by the global batch size
(``tf.nn.compute_average_loss``) and the replicas' gradients are summed, so the update
equals the one a single device makes on the whole batch, for any number of replicas or
workers.
"""

import keras
import tensorflow as tf

from tfjpegnet import models

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name):
    """The tf.distribute strategy called ``name``, one of STRATEGIES.

    ``default``: this process's default device. ``mirrored``: all GPUs, or on a CPU-only
    machine every logical CPU device (1 unless configured). ``multiworker``: one replica per
    worker process of the cluster described by the ``TF_CONFIG`` environment variable
    (TensorFlow asks for it to be created early, before other TensorFlow work).
    """
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def make_optimizer(config, net, model, steps_per_epoch):
    """The optimizer of one network for one stage, built for ``model``'s trainable variables.

    Args:
      config: the run configuration (optimizer, lr_{net}, lr_decay_epochs, epochs_{net},
        clipvalue).
      net: "jpeg" or "modify".
      model: the keras.Model it updates (create the optimizer in the strategy's scope).
      steps_per_epoch: steps of one epoch of stage 1, the unit of ``lr_decay_epochs``.

    With ``lr_decay_epochs`` N > 0 the learning rate is divided by 10 every N epochs
    (piecewise constant in the optimizer's step count).
    """
    lr = config[f"lr_{net}"]
    if config["lr_decay_epochs"]:
        every = config["lr_decay_epochs"] * steps_per_epoch
        epochs = config[f"epochs_{net}"]
        bounds = [every * k for k in range(1, max(1, epochs // config["lr_decay_epochs"]) + 1)]
        lr = keras.optimizers.schedules.PiecewiseConstantDecay(
            bounds, [config[f"lr_{net}"] / 10 ** k for k in range(len(bounds) + 1)])
    clip = {"clipvalue": config["clipvalue"]} if config["clipvalue"] else {}
    if config["optimizer"] == "sgd":
        optimizer = keras.optimizers.SGD(lr, momentum=0.9, **clip)
    else:
        optimizer = keras.optimizers.Adam(lr, **clip)
    optimizer.build(model.trainable_variables)
    return optimizer


def distributed(strategy, step):
    """``step`` (per-replica: batch tensors -> loss) as one tf.function over all replicas.

    Returns a function of the distributed batch returning the sum of the replicas' losses
    (a float32 scalar: the global mean when each replica's loss is scaled by the global batch).
    """
    @tf.function
    def run(*batch):
        per_replica = strategy.run(step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return run


def jpeg_step_fn(strategy, jpeg_net, optimizer, global_batch):
    """A distributed tf.function: one JPEG-Net update on (x, y) YCrCb 8x8 blocks.

    x, y: float32 [batch, 8, 8, 3] in [0, 1], blocks of patches and of their real OpenCV
    JPEG. Loss = MSE(JPEG-Net(x), y), averaged over the global batch ``global_batch``.
    Returns the mean loss (float32 scalar).
    """
    def step(x, y):
        with tf.GradientTape() as tape:
            pred = tf.cast(jpeg_net(x, training=True), tf.float32)
            per_example = tf.reduce_mean(tf.square(pred - y), axis=[1, 2, 3])
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, jpeg_net.trainable_variables)
        optimizer.apply_gradients(zip(grads, jpeg_net.trainable_variables))
        return loss

    return distributed(strategy, step)


def modify_step_fn(strategy, modify_net, objective, optimizer, global_batch, with_targets=False):
    """A distributed tf.function: one Modify-Net update on a YCrCb batch x (and its targets, qualities).

    x: float32 [batch, h, w, 3] in [0, 1]; with ``with_targets`` then target, the same shape and
    range: the teacher term's target edit of each example (``objective(x, edited, target=target)``);
    for a quality-conditioned Modify-Net (:func:`tfjpegnet.models.is_conditioned`) last quality,
    int32 [batch]: the net sees x with the quality plane and the loss is ``objective(x, edited,
    quality)``. Loss per example = ``objective(x, edited)`` (paper: MSE between
    JPEG-Net(blocks(Modify-Net(x))) reassembled and x), averaged over the global batch
    ``global_batch``. Gradients are taken and applied for Modify-Net's variables only: JPEG-Net
    (inside the objective) runs with training=False and never changes. Returns the mean loss
    (float32 scalar).
    """
    conditioned = models.is_conditioned(modify_net)

    def step(x, *rest):
        target = rest[0] if with_targets else None
        quality = rest[-1] if conditioned else None
        with tf.GradientTape() as tape:
            inputs = models.with_quality(x, quality) if conditioned else x
            edited = tf.cast(modify_net(inputs, training=True), tf.float32)
            per_example = objective(x, edited, quality, target=target)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        variables = modify_net.trainable_variables
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    return distributed(strategy, step)
