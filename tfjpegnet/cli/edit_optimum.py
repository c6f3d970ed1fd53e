"""The best edit a training objective asks for: ``tfjpegnet edit-optimum``.

No network: the pixels of each test image (kodim22..24, or every image of ``--images``)
are optimised directly, with Adam, for the same loss Modify-Net is trained on (analytic
proxy with straight-through rounding: distortion terms + rate;
tfjpegnet.training.objectives.ModifyObjective). The optimised images are then encoded with
the real encoder (``--encoder``; OpenCV's default unless named; with mozjpeg the objective
uses the mozjpeg proxy) at ``--quality`` and judged like the models of ``tfjpegnet
operating-point`` (bit saving at equal PSNR and SSIM along plain JPEG's curve), in the same
table as any ``--models`` given.

This tells apart the two ways a trained model can fall short: if the optimum of its loss
misses a target too, the loss is the limit; if only the network misses it, the network is.
The table's notes put it in numbers: each row's loss under the first objective and its
share of that optimum's gain over the original. ``--grid-shift N`` shows the loss JPEG's
8x8 grid N pixels off, as a network that cannot see the grid would: what is lost then is
what only a grid-aware edit can win.
"""

import os

from tfjpegnet.cli import image_sets
from tfjpegnet.cli.argtypes import nonneg_float, nonneg_int, positive_float, positive_int, quality_arg
from tfjpegnet.errors import UserError


def add_arguments(parser):
    """Register the command's options on an argparse parser."""
    parser.add_argument("--quality", type=quality_arg, required=True,
                        help="JPEG quality of the objective and the judging")
    parser.add_argument("--distortion", default="proximity+proximity-ssim",
                        help="distortion terms, '+'-joined, as for training: decoded, proximity, proximity-ssim, "
                             "subsampled, subsampled-ssim, chroma-quantised, chroma-quantised-ssim")
    parser.add_argument("--rate-weight", type=nonneg_float, nargs="+", default=[0.02],
                        help="weight(s) of the rate term; one optimum per (rate, SSIM) weight pair")
    parser.add_argument("--ssim-weight", type=nonneg_float, nargs="+", default=[0.02],
                        help="weight(s) of the (1 - SSIM) term")
    parser.add_argument("--steps", type=positive_int, default=300, help="Adam steps per image")
    parser.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate (YCrCb in [0, 1])")
    parser.add_argument("--grid-shift", type=nonneg_int, default=0,
                        help="show the loss JPEG's grid this many pixels off (0..15); the images are then "
                             "encoded on the true grid")
    parser.add_argument("--models", nargs="*", default=[], help="Modify-Net .keras files to judge in the same table")
    image_sets.add_arguments(parser, "optimised and judged")
    parser.add_argument("--encoder", default="opencv",
                        help="real encoder judged on (opencv, opencv-optimize, mozjpeg, mozjpeg-baseline, jpegli, "
                             "...); savings are against its own curve, and for another than opencv also "
                             "against OpenCV's default; the objective uses mozjpeg's proxy for mozjpeg*, "
                             "else OpenCV's")
    parser.add_argument("--out", help="also write edit_optimum.json and .md to this directory")
    parser.add_argument("--save-images", metavar="DIR",
                        help="also write each optimised image as DIR/<name>.png (one rate and one SSIM weight "
                             "only), e.g. as the targets of train --teacher-images")


def run(args):
    """Run the command: optimise, judge, print the table; with ``--out`` also write it and the JSON."""
    import keras

    from tfjpegnet.evaluation import edit_optimum, metrics, operating_point
    from tfjpegnet.files import write_json, write_text

    edit_optimum.check_shift(args.grid_shift)
    missing = [path for path in args.models if not os.path.isfile(path)]
    if missing:
        raise UserError(f"model file(s) not found: {', '.join(missing)}")
    from tfjpegnet.jpeg import encoders

    encoders.parse_names(args.encoder)
    proxy_encoder = "mozjpeg" if args.encoder.startswith("mozjpeg") else "opencv"
    configs = [edit_optimum.objective_config(args.quality, args.distortion, rate_weight, ssim_weight, proxy_encoder)
               for rate_weight in args.rate_weight for ssim_weight in args.ssim_weight]
    if args.save_images and len(configs) != 1:
        raise UserError("--save-images writes one optimum per image: give one --rate-weight and one --ssim-weight")
    images = image_sets.load(args)

    bar = keras.utils.Progbar(args.steps * len(images) * len(configs), unit_name="step", stateful_metrics=["loss"])
    optima = edit_optimum.optimise_all(images, configs, args.steps, args.lr, args.grid_shift,
                                       progress=lambda loss: bar.add(1, [("loss", loss)]))
    if args.save_images:
        edit_optimum.save_images(optima[0][1], args.save_images)
    print("Plain JPEG's reference curve (Q = 1..100):")
    curve_bar = keras.utils.Progbar(100, unit_name="quality")
    curve = operating_point.reference_curve(images, progress=lambda: curve_bar.add(1), encoder=args.encoder)
    opencv_curve = (None if args.encoder == operating_point.ENCODER
                    else operating_point.reference_curve(images, encoder=operating_point.ENCODER))
    rows = edit_optimum.judge_all(images, optima, args.quality, curve, args.grid_shift, args.models,
                                  encoder=args.encoder, opencv_curve=opencv_curve)
    result = {"quality": args.quality, "encoder": args.encoder, "plain": curve[args.quality - 1],
              "models": rows, "images": sorted(images), "steps": args.steps, "lr": args.lr,
              "grid_shift": args.grid_shift,
              "losses": edit_optimum.loss_shares(images, optima, args.models, args.quality)}
    markdown = edit_optimum.to_markdown(result)
    if args.out:
        write_json(os.path.join(args.out, "edit_optimum.json"), metrics.json_ready(result))
        write_text(os.path.join(args.out, "edit_optimum.md"), markdown)
    print(markdown)
    return 0
