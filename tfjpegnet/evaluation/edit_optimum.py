"""The best edit a training objective asks for: ``tfjpegnet edit-optimum``.

No network: the pixels of each test image (kodim22..24) are optimised directly, with
Adam, for the same loss Modify-Net is trained on (analytic proxy: distortion terms +
rate; :class:`tfjpegnet.objectives.ModifyObjective`). The optimised images are then
encoded with real OpenCV JPEG at ``--quality`` and judged like the models of
``tfjpegnet operating-point`` (bit saving at equal PSNR and SSIM along plain JPEG's
curve), in the same table as any ``--models`` given.

This tells apart the two ways a trained model can fall short: if the optimum of its
loss misses a target too, the loss is the limit; if only the network misses it, the
network is. ``--grid-shift N`` shows the loss JPEG's 8x8 grid N pixels off, as a
network that cannot see the grid would: what is lost then is what only a grid-aware
edit can win.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, models
from tfjpegnet.evaluation import evaluate, operating_point
from tfjpegnet.jpeg import color, rate
from tfjpegnet.cli.argtypes import nonneg_float, nonneg_int, positive_float, positive_int, quality_arg
from tfjpegnet.errors import UserError
from tfjpegnet.files import write_json, write_text
from tfjpegnet.training.objectives import ModifyObjective

def add_arguments(parser):
    """Register the command's options on an argparse parser."""
    parser.add_argument("--quality", type=quality_arg, required=True, help="JPEG quality of the objective and the judging")
    parser.add_argument("--distortion", default="proximity+proximity-ssim",
                        help="distortion terms, '+'-joined, as for training")
    parser.add_argument("--rate-weight", type=nonneg_float, nargs="+", default=[0.02],
                        help="weight(s) of the rate term; one optimum per (rate, SSIM) weight pair")
    parser.add_argument("--ssim-weight", type=nonneg_float, nargs="+", default=[0.02],
                        help="weight(s) of the (1 - SSIM) terms")
    parser.add_argument("--contrast-weight", type=nonneg_float, default=0.02, help="weight of the 'contrast' term")
    parser.add_argument("--rounding", choices=("ste", "soft"), default="ste", help="rounding in the proxy")
    parser.add_argument("--rate-gradient", choices=rate.GRADIENTS, default="smooth", help="gradient of the rate term")
    parser.add_argument("--steps", type=positive_int, default=300, help="Adam steps per image")
    parser.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate (YCrCb in [0, 1])")
    parser.add_argument("--grid-shift", type=nonneg_int, default=0,
                        help="show the loss JPEG's grid this many pixels off (0..15); the images are then "
                             "encoded on the true grid")
    parser.add_argument("--models", nargs="*", default=[], help="Modify-Net .keras files to judge in the same table")
    parser.add_argument("--data-dir", help="directory with the Kodak PNGs (default: download them)")
    parser.add_argument("--out", help="also write edit_optimum.json and .md to this directory")


def _padding(height, width, shift):
    """tf.pad paddings [[0, 0], [top, bottom], [left, right], [0, 0]]: ``shift`` before, whole MCUs after."""
    return [[0, 0], [shift, -(height + shift) % models.MCU], [shift, -(width + shift) % models.MCU], [0, 0]]


def optimise_image(rgb, objective, steps, lr, shift=0, progress=None):
    """Pixels of one image optimised for ``objective``.

    Args:
      rgb: uint8 [H, W, 3], the original.
      objective: callable (x, edited) -> per-example loss [1], YCrCb float32 [1, h, w, 3] in
        [0, 1] with h, w multiples of 16 (a :class:`ModifyObjective`).
      steps, lr: Adam steps and learning rate. shift: 0..15, pixels of mirrored border the
        objective sees before the image (moves JPEG's grid); the far sides are mirrored out
        to whole MCUs. progress: optional callable(loss) after each step.

    Returns:
      (uint8 [1, H, W, 3] the optimised image, rounded and clipped; list of float losses).
    """
    x = tf.constant(color.rgb_to_ycrcb(rgb[None].astype(np.float32) / 255.0))
    paddings = _padding(rgb.shape[0], rgb.shape[1], shift)
    pixels = tf.Variable(x)
    optimizer = keras.optimizers.Adam(lr)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(objective(tf.pad(x, paddings, "SYMMETRIC"), tf.pad(pixels, paddings, "SYMMETRIC")))
        optimizer.apply_gradients([(tape.gradient(loss, pixels), pixels)])
        return loss

    losses = []
    for _ in range(steps):
        losses.append(float(step()))
        if progress:
            progress(losses[-1])
    edited = color.ycrcb_to_rgb(pixels).numpy()
    return np.clip(np.round(edited * 255.0), 0, 255).astype(np.uint8), losses


def objective_label(config, shift):
    """One-line description of the objective of a ModifyObjective ``config``."""
    text = ", ".join(f"{key} {config[key]}" for key in ("distortion", "rate_weight", "ssim_weight", "contrast_weight",
                                                           "rounding", "rate_gradient"))
    return f"optimum of ({text})" + (f", grid shifted {shift} px" if shift else "")


def run(args):
    """Run the command: optimise, judge, print the table; with ``--out`` also write it and the JSON."""
    if args.grid_shift >= models.MCU:
        raise UserError(f"--grid-shift must be 0..{models.MCU - 1}, got {args.grid_shift}")
    missing = [path for path in args.models if not os.path.isfile(path)]
    if missing:
        raise UserError(f"model file(s) not found: {', '.join(missing)}")
    configs = [{"proxy": "analytic", "quality": args.quality, "distortion": args.distortion, "rate_weight": rate_weight,
                "ssim_weight": ssim_weight, "contrast_weight": args.contrast_weight, "rounding": args.rounding,
                "rate_gradient": args.rate_gradient}
               for rate_weight in args.rate_weight for ssim_weight in args.ssim_weight]
    paths = datasets.find_images(args.data_dir) if args.data_dir else datasets.kodak_paths()
    images = evaluate.load_images(datasets.split_images(paths)[1])

    bar = keras.utils.Progbar(args.steps * len(images) * len(configs), unit_name="step", stateful_metrics=["loss"])
    optima = []
    for config in configs:
        objective = ModifyObjective(config)
        edited, losses = {}, {}
        for name, rgb in images.items():
            edited[name], losses[name] = optimise_image(rgb, objective, args.steps, args.lr, args.grid_shift,
                                                        lambda loss: bar.add(1, [("loss", loss)]))
        optima.append((config, edited, {name: [trace[0], trace[-1]] for name, trace in losses.items()}))
    print("Plain JPEG's reference curve (Q = 1..100):")
    curve_bar = keras.utils.Progbar(100, unit_name="quality")
    curve = operating_point.reference_curve(images, progress=lambda: curve_bar.add(1))
    rows = []
    for config, edited, losses in optima:
        row = operating_point.judge(images, edited, args.quality, curve, objective_label(config, args.grid_shift))
        rows.append({**row, "objective": config, "losses": losses})
    for path in args.models:
        net = evaluate.load_model(path)
        rows.append(operating_point.judge(images, {name: evaluate.edit_units(net, "full", rgb)
                                                   for name, rgb in images.items()}, args.quality, curve, path))
    result = {"quality": args.quality, "encoder": operating_point.ENCODER, "plain": curve[args.quality - 1],
              "models": rows, "images": sorted(images), "steps": args.steps, "lr": args.lr,
              "grid_shift": args.grid_shift}
    markdown = operating_point.to_markdown(result)
    if args.out:
        write_json(os.path.join(args.out, "edit_optimum.json"), result)
        write_text(os.path.join(args.out, "edit_optimum.md"), markdown)
    print(markdown)
    return 0
