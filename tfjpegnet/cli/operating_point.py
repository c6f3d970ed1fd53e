"""Where trained models sit against plain JPEG at one quality: ``tfjpegnet operating-point``.

For each Modify-Net (.keras) it edits the whole test images (kodim22..24, or every image of
``--images``), encodes them
with a real encoder (``--encoder``, OpenCV's default settings unless named) at ``--quality``, and reports the mean PSNR, SSIM
and bpp, their change against plain JPEG of the originals at that quality, and the bit
saving at equal PSNR and at equal SSIM along plain JPEG's curve at Q = 1..100 (as in the
evaluation report). A quick way to compare fine-tuning runs without a full report.
"""

import os

from tfjpegnet.cli import image_sets
from tfjpegnet.cli.argtypes import qualities_arg
from tfjpegnet.errors import UserError


def add_arguments(parser):
    """Register the command's options on an argparse parser."""
    parser.add_argument("models", nargs="*", help="Modify-Net .keras files (e.g. runs/NAME/stage1/modify_net.keras)")
    parser.add_argument("--quality", type=qualities_arg,
                        help="JPEG quality the models are judged at, or several, comma-separated (e.g. "
                             "10,20,30,50,75,90): a row per model and quality and BD-rates over them")
    image_sets.add_arguments(parser)
    parser.add_argument("--encoder", default="opencv",
                        help="real encoder judged on (opencv, opencv-optimize, mozjpeg, mozjpeg-baseline, jpegli, "
                             "...); savings are against its own curve, and for another than opencv also "
                             "against OpenCV's default")
    parser.add_argument("--out", help="also write operating_points.json and .md to this directory, and with "
                        "several qualities rd.png (RD curves) and savings.png (bits saved against quality)")
    parser.add_argument("--redraw", action="store_true",
                        help="measure nothing: draw rd.png and savings.png again from --out's operating_points.json "
                             "(of several qualities)")


def redraw(out):
    """Draw the figures of ``out/operating_points.json`` (a several-quality result) again; returns 0."""
    import json

    from tfjpegnet.evaluation import operating_point

    path = os.path.join(out, "operating_points.json")
    if not os.path.isfile(path):
        raise UserError(f"--redraw: no {path}; measure first (without --redraw)")
    with open(path) as handle:
        result = json.load(handle)
    if "by_quality" not in result:
        raise UserError(f"--redraw: {path} is a one-quality result; figures need several qualities")
    for figure in operating_point.write_figures(result, out):
        print(figure)
    return 0


def run(args):
    """Run the command: print the table; with ``--out`` also write it and the JSON."""
    if args.redraw:
        if not args.out or args.models:
            raise UserError("--redraw takes --out DIR and no models")
        return redraw(args.out)
    if not args.models or not args.quality:
        raise UserError("give the models to judge and --quality")
    missing = [path for path in args.models if not os.path.isfile(path)]
    if missing:
        raise UserError(f"model file(s) not found: {', '.join(missing)}")
    import keras

    from tfjpegnet import provenance
    from tfjpegnet.evaluation import evaluate, metrics, operating_point
    from tfjpegnet.files import write_json, write_text

    from tfjpegnet.jpeg import encoders

    encoders.parse_names(args.encoder)
    image_paths = image_sets.paths(args)
    images = evaluate.load_images(image_paths)
    seen = {path: provenance.seen_in_training(path, image_paths) for path in args.models}
    curves = 1 if args.encoder == operating_point.ENCODER else 2
    qualities = sorted(set(args.quality))
    bar = keras.utils.Progbar(100 * curves + len(args.models) * len(qualities), unit_name="encoding")
    if len(qualities) == 1:
        result = operating_point.measure(args.models, images, qualities[0], progress=lambda: bar.add(1),
                                         encoder=args.encoder)
    else:
        result = operating_point.measure_qualities(args.models, images, qualities, progress=lambda: bar.add(1),
                                                   encoder=args.encoder)
    result["images"] = sorted(images)
    result["seen_in_training"] = seen
    markdown = (operating_point.to_markdown if len(qualities) == 1 else operating_point.qualities_to_markdown)(result)
    if args.out:
        write_json(os.path.join(args.out, "operating_points.json"), metrics.json_ready(result))
        write_text(os.path.join(args.out, "operating_points.md"), markdown)
        if len(qualities) > 1:
            operating_point.write_figures(result, args.out)
    print(markdown)
    return 0
