"""Fit the proxy's model of mozjpeg (dead zone of its trellis quantisation, rate constants) to real files.

Cuts crops from the training images (``--data-dir``, downscaled by ``--downscale`` with area
averaging to remove earlier JPEG coding), then (1) finds per quality the dead-zone slope
that makes the proxy's decoded pixels closest to real mozjpeg's and (2) fits the rate
estimate's constants to the real file sizes of mozjpeg and of OpenCV. Writes
``encoder_model.json`` and ``encoder_model.md`` to ``--out``. The constants this prints are
the ones :mod:`tfjpegnet.jpeg.proxy` and :mod:`tfjpegnet.jpeg.rate` carry.
"""

import os

from tfjpegnet.cli import argtypes

DEFAULT_QUALITIES = "5,15,30,50,75,90"


def add_arguments(parser):
    """Register the command's flags on an argparse parser."""
    parser.add_argument("--data-dir", required=True, help="folder of training images (recursive)")
    parser.add_argument("--out", default=os.path.join("results", "encoder_model"), help="output folder")
    parser.add_argument("--qualities", default=DEFAULT_QUALITIES, help="comma-separated qualities")
    parser.add_argument("--images", type=argtypes.positive_int, default=24, help="images to take (evenly spaced)")
    parser.add_argument("--crop", type=argtypes.positive_int, default=144, help="crop side (multiple of 16)")
    parser.add_argument("--downscale", type=argtypes.positive_int, default=2,
                        help="area-average each image down by this factor first (1: none)")


def _crops(args):
    import cv2
    import numpy as np

    from tfjpegnet import datasets
    from tfjpegnet.errors import UserError
    from tfjpegnet.jpeg import codec

    if args.crop % 16:
        raise UserError(f"--crop must be a multiple of 16, got {args.crop}")
    paths = datasets.find_images(args.data_dir)
    paths = paths[::max(1, len(paths) // args.images)][:args.images]
    crops = []
    for path in paths:
        rgb = codec.read_image(path)
        if args.downscale > 1:
            rgb = cv2.resize(rgb, (rgb.shape[1] // args.downscale, rgb.shape[0] // args.downscale),
                             interpolation=cv2.INTER_AREA)
        if min(rgb.shape[:2]) >= args.crop:
            top, left = (rgb.shape[0] - args.crop) // 2, (rgb.shape[1] - args.crop) // 2
            crops.append(rgb[top:top + args.crop, left:left + args.crop])
    if not crops:
        raise UserError(f"no image in {args.data_dir!r} gives a {args.crop}x{args.crop} crop")
    return np.stack(crops)


def to_markdown(result):
    """The fit as Markdown: the dead-zone table and the rate constants with their correlations."""
    lines = [f"# Proxy model of mozjpeg, fitted on {result['crops']} crops of {result['data_dir']}", "",
             "Dead zone of trellis quantisation (slope at the last zigzag index), decoded PSNR of the proxy "
             "against real mozjpeg:", "",
             "| Q | best slope | PSNR at best slope | PSNR, nearest levels | PSNR, proxy as shipped |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['quality']} | {r['slope']:.1f} | {r['psnr']:.2f} dB | {r['psnr_nearest']:.2f} dB | "
              f"{r['psnr_model']:.2f} dB |" for r in result["dead_zone"]]
    for name, fit in result["rate"].items():
        c = fit["constants"]
        lines += ["", f"Rate constants for {name}: LOG_BITS {c[0]:.3f}, NONZERO_BITS {c[1]:.3f}, "
                      f"BLOCK_BITS {c[2]:.3f}", "", "| Q | rank correlation | mean estimate / real |", "|---|---|---|"]
        lines += [f"| {r['quality']} | {r['spearman']:.3f} | {r['mean_ratio']:.3f} |" for r in fit["rows"]]
    return "\n".join(lines) + "\n"


def run(args):
    """Fit and write the report; returns the exit code."""
    from tfjpegnet.evaluation.evaluate import parse_qualities
    from tfjpegnet.files import write_json, write_text
    from tfjpegnet.evaluation import encoder_model

    qualities = parse_qualities(args.qualities)
    crops = _crops(args)
    result = {"data_dir": os.path.relpath(args.data_dir), "crops": len(crops), "crop": args.crop,
              "downscale": args.downscale, "qualities": qualities,
              "dead_zone": encoder_model.fit_dead_zone(crops, qualities),
              "rate": {"mozjpeg": encoder_model.fit_rate(crops, qualities, "mozjpeg", "mozjpeg"),
                       "opencv": encoder_model.fit_rate(crops, qualities, "opencv", "opencv")}}
    write_json(os.path.join(args.out, "encoder_model.json"), result)
    text = to_markdown(result)
    write_text(os.path.join(args.out, "encoder_model.md"), text)
    print(text)
    return 0
