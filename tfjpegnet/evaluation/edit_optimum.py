"""The best edit a training objective asks for, without a network.

The pixels of each image are optimised directly, with Adam, for the loss Modify-Net is
trained on with the analytic proxy (distortion terms + rate;
:class:`tfjpegnet.training.objectives.ModifyObjective`, straight-through rounding). The
optimised images are then encoded with real OpenCV JPEG and judged like the models of
:mod:`.operating_point` (bit saving at equal PSNR and SSIM along plain JPEG's curve), in
the same table as any Modify-Net files given.

This tells apart the two ways a trained model can fall short: if the optimum of its
loss misses a target too, the loss is the limit; if only the network misses it, the
network is. A grid shift shows the loss JPEG's 8x8 grid some pixels off, as a network
that cannot see the grid would: what is lost then is what only a grid-aware edit can win.
The command around it is :mod:`tfjpegnet.cli.edit_optimum`.
"""

import os

import cv2
import numpy as np
import tensorflow as tf

from tfjpegnet import models, pixels
from tfjpegnet.errors import UserError
from tfjpegnet.files import write_bytes
from tfjpegnet.evaluation import operating_point
from tfjpegnet.jpeg import color
from tfjpegnet.training.config import DISTORTIONS as TRAINING_DISTORTIONS
from tfjpegnet.training.objectives import ModifyObjective

DISTORTIONS = tuple(t for t in TRAINING_DISTORTIONS if t != "teacher")  # the terms offered, '+'-joined
OBJECTIVE_KEYS = ("proxy", "quality", "distortion", "rate_weight", "ssim_weight", "encoder")  # ModifyObjective's


def objective_config(quality, distortion, rate_weight, ssim_weight, encoder="opencv"):
    """The :class:`ModifyObjective` config of one optimum: exactly :data:`OBJECTIVE_KEYS`, analytic proxy.

    ``distortion`` is '+'-joined terms of :data:`DISTORTIONS`; UserError for another term.
    """
    terms = [term.strip() for term in str(distortion).split("+")]
    unknown = [term for term in terms if term not in DISTORTIONS]
    if unknown:
        raise UserError(f"unknown distortion term(s) {', '.join(repr(t) for t in unknown)} in {distortion!r}; "
                        f"choose '+'-joined from {', '.join(DISTORTIONS)}")
    return {"proxy": "analytic", "quality": quality, "distortion": "+".join(terms), "rate_weight": rate_weight,
            "ssim_weight": ssim_weight, "encoder": encoder}


def check_shift(shift):
    """UserError unless ``shift`` (pixels) is 0..15: within one 16x16 MCU."""
    if not 0 <= shift < models.MCU:
        raise UserError(f"--grid-shift must be 0..{models.MCU - 1}, got {shift}")


def _padding(height, width, shift):
    """tf.pad paddings [[0, 0], [top, bottom], [left, right], [0, 0]]: ``shift`` before, whole MCUs after."""
    return [[0, 0], [shift, -(height + shift) % models.MCU], [shift, -(width + shift) % models.MCU], [0, 0]]


class PixelAdam:
    """Adam (Keras's update, its defaults) on one image's pixels for one objective.

    The step is a tf.function of plain tensors, traced once per image shape and grid
    shift, so every image of a folder with the same size reuses it.

    Args:
      objective: callable (x, edited) -> per-example loss [1], YCrCb float32 [1, h, w, 3] in
        [0, 1] with h, w multiples of 16 (a :class:`ModifyObjective`).
      lr: learning rate; beta_1, beta_2, epsilon: Adam's constants (Keras's defaults).
    """

    def __init__(self, objective, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.objective, self.lr = objective, float(lr)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.step = tf.function(self._step)

    def _step(self, x, value, m, v, t, paddings):
        """One update at step ``t`` (float32 scalar, 1-based): (value, m, v, loss) after it.

        x, value, m, v: float32 [1, H, W, 3] (original, current pixels, Adam's moments);
        paddings: the :func:`_padding` of the image (a Python list: part of the trace key).
        """
        with tf.GradientTape() as tape:
            tape.watch(value)
            loss = tf.reduce_mean(self.objective(tf.pad(x, paddings, "SYMMETRIC"),
                                                 tf.pad(value, paddings, "SYMMETRIC")))
        gradient = tape.gradient(loss, value)
        alpha = self.lr * tf.sqrt(1.0 - tf.pow(self.beta_2, t)) / (1.0 - tf.pow(self.beta_1, t))
        m = m + (gradient - m) * (1.0 - self.beta_1)
        v = v + (tf.square(gradient) - v) * (1.0 - self.beta_2)
        return value - (m * alpha) / (tf.sqrt(v) + self.epsilon), m, v, loss


def optimise_image(rgb, adam, steps, shift=0, progress=None):
    """Pixels of one image optimised for ``adam``'s objective.

    Args:
      rgb: uint8 [H, W, 3], the original.
      adam: a :class:`PixelAdam` (the objective and learning rate; reusable across images).
      steps: Adam steps. shift: 0..15, pixels of mirrored border the objective sees before
        the image (moves JPEG's grid); the far sides are mirrored out to whole MCUs.
      progress: optional callable(loss) after each step.

    Returns:
      (uint8 [1, H, W, 3] the optimised image, rounded and clipped; list of float losses).
    """
    x = tf.constant(color.rgb_to_ycrcb(rgb[None].astype(np.float32) / 255.0))
    paddings = _padding(rgb.shape[0], rgb.shape[1], shift)
    value, m, v = x, tf.zeros_like(x), tf.zeros_like(x)
    losses = []
    for t in range(1, steps + 1):
        value, m, v, loss = adam.step(x, value, m, v, tf.constant(t, tf.float32), paddings)
        losses.append(float(loss))
        if progress:
            progress(losses[-1])
    return np.asarray(pixels.to_uint8(color.ycrcb_to_rgb(value))), losses


def objective_label(config, shift):
    """One-line description of the objective of an :func:`objective_config` ``config``."""
    text = ", ".join(f"{key} {config[key]}" for key in ("distortion", "rate_weight", "ssim_weight"))
    return f"optimum of ({text})" + (f", grid shifted {shift} px" if shift else "")


def optimise_all(images, configs, steps, lr, shift=0, progress=None):
    """:func:`optimise_image` of every image for every objective config.

    Args:
      images: dict name -> RGB uint8 [H, W, 3]; configs: list of :func:`objective_config` dicts.
      lr: Adam's learning rate (:class:`PixelAdam`, one per config, shared by the images).
      steps, shift, progress: as for :func:`optimise_image` (progress after each step).

    Returns:
      list, one per config, of (config, edited: name -> uint8 [1, H, W, 3],
      losses: name -> [first loss, last loss]).
    """
    optima = []
    for config in configs:
        adam = PixelAdam(ModifyObjective(config), lr)
        edited, losses = {}, {}
        for name, rgb in images.items():
            edited[name], trace = optimise_image(rgb, adam, steps, shift, progress)
            losses[name] = [trace[0], trace[-1]]
        optima.append((config, edited, losses))
    return optima


def save_images(edited, folder):
    """Write each optimised image of one optimum as ``folder/<name>.png`` (lossless, atomically).

    Args:
      edited: dict name -> uint8 [1, H, W, 3] RGB (an :func:`optimise_all` entry's images); a
        name's extension is replaced by .png.
      folder: output directory (created).
    """
    for name, rgb in edited.items():
        ok, png = cv2.imencode(".png", cv2.cvtColor(rgb[0], cv2.COLOR_RGB2BGR))
        if not ok:
            raise UserError(f"could not encode the optimum of {name} as PNG")
        write_bytes(os.path.join(folder, os.path.splitext(name)[0] + ".png"), png.tobytes())


def judge_all(images, optima, quality, curve, shift=0, model_paths=(), progress=None, encoder="opencv",
              opencv_curve=None):
    """The table rows: one per optimum (with its "objective" config and "losses"), then one per Modify-Net file.

    Args:
      images: the originals; optima: from :func:`optimise_all`; quality: of the judging;
      curve: :func:`operating_point.reference_curve` of ``images``; shift: the grid shift
      the optima saw (labels); model_paths: Modify-Net .keras files to judge beside them.
      progress: optional callable() after each model. encoder: the real encoder judged on
      (``curve`` is its own); opencv_curve: OpenCV's default curve, for savings against it.

    Returns:
      list of :func:`operating_point.judge` rows, each optimum and each model once, in order.
    """
    rows = [{**operating_point.judge(images, edited, quality, curve, objective_label(config, shift), encoder,
                                     opencv_curve),
             "objective": dict(config), "losses": losses}
            for config, edited, losses in optima]
    return rows + operating_point.judge_models(list(model_paths), images, quality, curve, progress, encoder,
                                               opencv_curve)


def _image_loss(objective, rgb, edited):
    """``objective`` of one uint8 edit [1, H, W, 3] of ``rgb`` [H, W, 3], both mirrored out to whole MCUs; float."""
    paddings = _padding(rgb.shape[0], rgb.shape[1], 0)
    x, e = (tf.pad(tf.constant(color.rgb_to_ycrcb(image.astype(np.float32) / 255.0)), paddings, "SYMMETRIC")
            for image in (rgb[None], edited))
    return float(tf.reduce_mean(objective(x, e)))


def loss_shares(images, optima, model_paths, quality):
    """Where each row sits under the first optimum's objective: the net-or-loss question in numbers.

    Every edit (the optima's and each model's, rounded to 8 bits as encoded) and plain JPEG's
    input (the original) are scored by the first config's objective, per image, then averaged.

    Args:
      images: dict name -> RGB uint8 [H, W, 3]; optima: from :func:`optimise_all`;
      model_paths: Modify-Net .keras files; quality: what a quality-conditioned net edits for.

    Returns:
      dict: "objective" (its label), "plain" (mean loss of the originals), "rows": list of
      {"model", "loss", "share"} in table order, share = (plain - loss) / (plain - first
      optimum's loss), 1 for the first optimum (NaN if that optimum gains nothing).
    """
    from tfjpegnet.evaluation import evaluate

    config = optima[0][0]
    objective = ModifyObjective(config)

    def mean_loss(edited):
        return float(np.mean([_image_loss(objective, rgb, edited[name]) for name, rgb in images.items()]))

    plain = mean_loss({name: rgb[None] for name, rgb in images.items()})
    rows = [(objective_label(c, 0), mean_loss(edited)) for c, edited, _ in optima]
    for path in model_paths:
        net = evaluate.load_model(path)
        rows.append((path, mean_loss({name: evaluate.edit_units(net, "full", rgb, quality)
                                      for name, rgb in images.items()})))
    gain = plain - rows[0][1]
    return {"objective": objective_label(config, 0), "plain": plain,
            "rows": [{"model": label, "loss": loss, "share": (plain - loss) / gain if gain > 0 else float("nan")}
                     for label, loss in rows]}


def to_markdown(result):
    """The result (quality, plain, models, steps, lr, grid_shift) as Markdown: one table line per row."""
    shift = f", JPEG's grid shown {result['grid_shift']} px off" if result["grid_shift"] else ""
    note = (f"Each optimum: the test images' pixels optimised with Adam ({result['steps']} steps, learning rate "
            f"{result['lr']}) for the training objective (analytic proxy, straight-through rounding) at "
            f"Q{result['quality']}{shift} (proxy of {result.get('encoder', 'opencv')}), then encoded with the real "
            f"encoder.")
    title = f"Edit optimum at Q{result['quality']}: the training objective's per-image optimum vs plain JPEG"
    notes = [note]
    if result.get("losses"):
        losses = result["losses"]
        shares = "; ".join(f"`{row['model']}` {row['loss']:.6f} ({100.0 * row['share']:.0f} %)"
                           for row in losses["rows"])
        notes.append(f"Mean loss per image under the first objective as trained ({losses['objective']}, the "
                     "proxy's dead zone), every edit rounded to 8 bits, and its share of the first optimum's gain "
                     f"over the original: original {losses['plain']:.6f}; {shares}.")
    return operating_point.to_markdown(result, title=title, notes=notes)
