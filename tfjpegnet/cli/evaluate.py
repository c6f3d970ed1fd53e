"""Evaluate Modify-Net pre-editing with real JPEG: the paper's Tables 1-2, RD curves, BD-rate, bit saving.

The proposed path is x -> Modify-Net -> round to 8 bits -> real JPEG at quality Q ->
standard decode (OpenCV), compared with plain JPEG of x with the same encoder settings.
Two protocols are reported, by name: "paper" (the test images' 64x64 patches, each
JPEG-encoded on its own, as the paper did; 288 patches for kodim22..24) and "full"
(each whole image encoded once: what a user sees). Writes metrics.json (everything,
per image), report.md (tables, the paper's published differences beside ours) and PNG
figures to --out (default results/<run name>).
"""

import os

from tfjpegnet.errors import UserError
from tfjpegnet.jpeg import encoders

DEFAULT_QUALITIES = (5, 10, 15, 20, 30, 40, 50, 60, 75, 90)


def add_arguments(parser):
    """Register the evaluate command's options on an argparse parser."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="training run directory: evaluates every stageK/modify_net.keras at the "
                                      "quality and on the test images of its config.json")
    source.add_argument("--model", help="one Modify-Net .keras file (needs --quality)")
    parser.add_argument("--quality", help="JPEG quality the model is for (required with --model; with --run it "
                                          "overrides config.json's)")
    test_images = parser.add_mutually_exclusive_group()
    test_images.add_argument("--images", help="folder of test images; if not given, the run's test images, or "
                                              "with --model Kodak kodim22..24")
    test_images.add_argument("--data-dir", help="with --model: directory with the Kodak PNGs, judged on its test "
                                                "split kodim22..24 (default: download them)")
    parser.add_argument("--out", help="output folder; if not given, results/<run or model name>")
    parser.add_argument("--qualities", default=",".join(map(str, DEFAULT_QUALITIES)),
                        help="qualities of the rate-distortion sweep (BD-rate)")
    parser.add_argument("--encoders", default=",".join(encoders.ENCODERS),
                        help=f"encoders to compare ({', '.join(encoders.ENCODERS)}); opencv is always included")
    parser.add_argument("--sweep", choices=("all", "final"), default="all",
                        help="models in the rate-distortion sweep: every stage, or only the final one")
    parser.add_argument("--plain-step", type=int, default=1,
                        help="step of plain JPEG's reference curve Q=1..100 for bit saving (1 = every quality; "
                             "larger is faster and coarser; the sweep and run qualities are always on it)")


def run(args):
    """The ``tfjpegnet evaluate`` command: evaluate, then write figures, metrics.json and report.md."""
    from tfjpegnet.evaluation import evaluate, report

    if args.data_dir and args.run:
        raise UserError("--data-dir is for --model; a run judges its own test images (or --images)")
    source = evaluate.resolve_source(run=args.run, model=args.model, quality=args.quality, images=args.images,
                                     out=args.out, data_dir=args.data_dir)
    qualities = evaluate.parse_qualities(args.qualities)
    encoder_names = encoders.parse_names(args.encoders)
    images = evaluate.load_images(source["image_paths"])
    nets, jpeg_nets = evaluate.load_models(source["models"])
    print(f"Evaluating {', '.join(nets)} at Q{source['quality']} on {len(images)} image(s), "
          f"encoders {', '.join(encoder_names)}, sweep {','.join(map(str, qualities))}")
    results, edited = evaluate.evaluate(images, nets, source["quality"], qualities, encoder_names, args.sweep,
                                        jpeg_nets, args.plain_step)
    results["source"] = evaluate.describe_source(source, images)
    out = source["out"]
    figure_names = evaluate.write_outputs(out, results, images, edited)
    print("\n".join(report.summary_lines(results)))
    print(f"Wrote {os.path.join(out, 'report.md')}, metrics.json and {sum(map(len, figure_names.values()))} figures")
    return 0
