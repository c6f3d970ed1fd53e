"""Where trained models sit against plain JPEG at one quality: ``tfjpegnet operating-point``.

For each Modify-Net (.keras) it edits the whole test images (kodim22..24), encodes them
with OpenCV's JPEG (default settings) at ``--quality``, and reports the mean PSNR, SSIM
and bpp, their change against plain JPEG of the originals at that quality, and the bit
saving at equal PSNR and at equal SSIM along plain JPEG's curve at Q = 1..100 (as in the
evaluation report). A quick way to compare fine-tuning runs without a full report.
"""

import os

import keras

from tfjpegnet import datasets
from tfjpegnet.evaluation import evaluate, metrics
from tfjpegnet.cli.argtypes import quality_arg
from tfjpegnet.errors import UserError
from tfjpegnet.files import write_json, write_text

ENCODER = "opencv"


def add_arguments(parser):
    """Register the command's options on an argparse parser."""
    parser.add_argument("models", nargs="+", help="Modify-Net .keras files (e.g. runs/NAME/stage1/modify_net.keras)")
    parser.add_argument("--quality", type=quality_arg, required=True, help="JPEG quality the models are judged at")
    parser.add_argument("--data-dir", help="directory with the Kodak PNGs (default: download them)")
    parser.add_argument("--out", help="also write operating_points.json and .md to this directory")


def _mean(images, inputs, quality):
    """Means over images (:func:`evaluate.mean_row`) of OpenCV JPEG of ``inputs`` (name -> uint8 [1, H, W, 3])."""
    return evaluate.mean_row([evaluate.measure(images[name][None], inputs[name], ENCODER, quality, False)
                              for name in images])


def reference_curve(images, progress=None):
    """Plain JPEG of the originals at Q = 1..100: list of 100 mean rows (index Q - 1).

    images: dict name -> RGB uint8 [H, W, 3]. progress: optional callable() after each quality.
    """
    curve = []
    for q in range(1, 101):
        curve.append(_mean(images, {name: rgb[None] for name, rgb in images.items()}, q))
        if progress:
            progress()
    return curve


def judge(images, edited, quality, curve, label):
    """Operating point of edited images against plain JPEG's ``curve``.

    Args:
      images: dict name -> RGB uint8 [H, W, 3], the originals.
      edited: dict name -> RGB uint8 [1, H, W, 3], what is encoded at ``quality``.
      curve: from :func:`reference_curve` on the same images. label: names the row.

    Returns:
      dict: the means (psnr, ssim, bpp, ...), "model" (= label), "d_psnr" (dB), "d_bpp"
      (percent) and "saving_psnr", "saving_ssim" (percent; positive = fewer bits than
      plain JPEG at equal quality).
    """
    plain = curve[quality - 1]
    rates = [row["bpp"] for row in curve]
    row = _mean(images, edited, quality)
    row.update(model=label, d_psnr=row["psnr"] - plain["psnr"], d_bpp=100.0 * (row["bpp"] / plain["bpp"] - 1.0),
               saving_psnr=metrics.bit_saving(row["bpp"], row["psnr"], rates, [c["psnr"] for c in curve]),
               saving_ssim=metrics.bit_saving(row["bpp"], row["ssim"], rates, [c["ssim"] for c in curve]))
    return row


def measure(models, images, quality, progress=None):
    """Operating point of each model.

    Args:
      models: list of .keras paths; images: dict name -> RGB uint8 [H, W, 3].
      quality: 1..100. progress: optional callable() after each plain quality and model.

    Returns:
      dict with "quality", "encoder", "plain" (means of psnr, ssim, bpp, ... at ``quality``)
      and "models": one :func:`judge` row per model, labelled by its path.
    """
    curve = reference_curve(images, progress)
    rows = []
    for path in models:
        net = evaluate.load_model(path)
        edited = {name: evaluate.edit_units(net, "full", rgb) for name, rgb in images.items()}
        rows.append(judge(images, edited, quality, curve, path))
        if progress:
            progress()
    return {"quality": quality, "encoder": ENCODER, "plain": curve[quality - 1], "models": rows}


def to_markdown(result):
    """The result of :func:`measure` as a Markdown table."""
    plain = result["plain"]
    lines = [f"# Operating points at Q{result['quality']} (OpenCV JPEG, default settings)", "",
             f"Plain JPEG: {plain['psnr']:.3f} dB, SSIM {plain['ssim']:.4f}, {plain['bpp']:.4f} bpp. "
             "Bit saving at equal PSNR / SSIM along plain JPEG's curve (Q = 1..100); positive = fewer bits.", "",
             "| model | PSNR (dB) | dPSNR (dB) | SSIM | bpp | d bits | saving @PSNR | saving @SSIM |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["models"]:
        lines.append(f"| `{row['model']}` | {row['psnr']:.3f} | {row['d_psnr']:+.3f} | {row['ssim']:.4f} | "
                     f"{row['bpp']:.4f} | {row['d_bpp']:+.1f} % | {row['saving_psnr']:+.2f} % | "
                     f"{row['saving_ssim']:+.2f} % |")
    return "\n".join(lines) + "\n"


def run(args):
    """Run the command: print the table; with ``--out`` also write it and the JSON."""
    missing = [path for path in args.models if not os.path.isfile(path)]
    if missing:
        raise UserError(f"model file(s) not found: {', '.join(missing)}")
    paths = datasets.find_images(args.data_dir) if args.data_dir else datasets.kodak_paths()
    images = evaluate.load_images(datasets.split_images(paths)[1])
    bar = keras.utils.Progbar(100 + len(args.models), unit_name="encoding")
    counter = iter(range(1, 101 + len(args.models)))
    result = measure(args.models, images, args.quality, progress=lambda: bar.update(next(counter)))
    result["images"] = sorted(images)
    markdown = to_markdown(result)
    if args.out:
        write_json(os.path.join(args.out, "operating_points.json"), result)
        write_text(os.path.join(args.out, "operating_points.md"), markdown)
    print(markdown)
    return 0
