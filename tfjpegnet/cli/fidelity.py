"""How faithfully the JPEG models imitate a real encoder, and how well the rate estimate ranks sizes.

On the 64x64 test patches (each patch JPEG-coded on its own), for each quality:
PSNR between the analytic proxy's decoded image (exact rounding; with --encoder mozjpeg
mozjpeg's tables and the model of its trellis quantisation) and the real encoder's
(OpenCV by default, or mozjpeg), PSNR between the uncoded patch and the real encoder's
(the reference a model must beat), and the Spearman rank correlation between the
estimated bits (tfjpegnet.jpeg.rate) and the real file sizes, with the mean sizes. With --run, JPEG-Net of each stage of that training run
is applied to the 8x8 YCrCb blocks of the patches at the run's quality and compared in
the same way. PSNR is over all patches (mean MSE over patches, RGB, 8-bit, then dB);
"identical" in fidelity.md, null in fidelity.json, when every pixel is equal. Writes
fidelity.json and fidelity.md to --out.
"""

import os

from tfjpegnet.errors import UserError


def add_arguments(parser):
    """Register the command's flags on ``parser``."""
    parser.add_argument("--data-dir", help="folder of images; its test split is used "
                        "(default: the Kodak suite, downloaded once; test = kodim22..24)")
    parser.add_argument("--qualities", default="5,10,15,25,50,75,90", help="comma-separated JPEG qualities")
    parser.add_argument("--encoder", choices=("opencv", "mozjpeg"), default="opencv",
                        help="the real encoder the proxy and the rate estimate are compared with")
    parser.add_argument("--run", help="training run directory: add a JPEG-Net column per stage (opencv only)")
    parser.add_argument("--out", default="results/proxy_fidelity", help="output folder")
    parser.add_argument("--batch-size", type=int, default=96, help="patches per proxy batch")


def run(args):
    """Run the command: measure, then write ``fidelity.json`` and ``fidelity.md`` to ``args.out``."""
    import keras

    from tfjpegnet.evaluation import fidelity
    from tfjpegnet.files import write_json, write_text

    qualities = fidelity.parse_qualities(args.qualities)
    if args.run and args.encoder != "opencv":
        raise UserError("--run adds JPEG-Nets, which imitate OpenCV's JPEG: use it with --encoder opencv")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    test_paths, patches = fidelity.load_test_patches(args.data_dir)
    jpeg_nets, run_quality = {}, None
    if args.run:
        run_quality, jpeg_nets = fidelity.load_jpeg_nets(args.run)
    steps = len(set(qualities) | ({run_quality} if jpeg_nets else set()))
    bar = keras.utils.Progbar(steps, unit_name="quality")
    result = fidelity.measure(patches, qualities, jpeg_nets, run_quality, args.batch_size,
                              progress=lambda: bar.add(1), encoder=args.encoder)
    # Paths as given (relative to the working folder): a report never holds a machine's absolute path.
    result.update(images=[os.path.relpath(p) for p in test_paths],
                  run=os.path.relpath(args.run) if args.run else None)
    markdown = fidelity.to_markdown(result)
    write_json(os.path.join(args.out, "fidelity.json"), fidelity.to_json(result))
    write_text(os.path.join(args.out, "fidelity.md"), markdown)
    print(markdown)
    return 0
