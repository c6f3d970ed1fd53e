"""How faithfully the JPEG models imitate OpenCV's real JPEG, and how well the rate estimate ranks sizes.

On the 64x64 test patches (each patch JPEG-coded on its own), for each quality:
PSNR between the analytic proxy's decoded image ("exact" rounding, and the forward
pass of "soft" rounding) and OpenCV's, PSNR between the uncoded patch and OpenCV's
(the reference a model must beat), and the Spearman rank correlation between the
estimated bits (tfjpegnet.rate) and OpenCV's file sizes, with the mean sizes. With --run, JPEG-Net of each
stage of that training run is applied to the 8x8 YCrCb blocks of the patches at the
run's quality and compared in the same way. PSNR is over all patches (mean MSE over
patches, RGB, 8-bit, then dB). Writes fidelity.json and fidelity.md to --out.
"""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, models, runs
from tfjpegnet.jpeg import codec, color, proxy, rate
from tfjpegnet.jpeg.quality_range import check_quality
from tfjpegnet.errors import UserError
from tfjpegnet.files import write_json, write_text

PATCH = 64


def add_arguments(parser):
    """Register the command's flags on ``parser``."""
    parser.add_argument("--data-dir", help="folder of images; its test split is used "
                        "(default: the Kodak suite, downloaded once; test = kodim22..24)")
    parser.add_argument("--qualities", default="5,10,15,25,50,75,90", help="comma-separated JPEG qualities")
    parser.add_argument("--run", help="training run directory: add a JPEG-Net column per stage")
    parser.add_argument("--out", default="results/proxy_fidelity", help="output folder")
    parser.add_argument("--batch-size", type=int, default=96, help="patches per proxy batch")


def _qualities(text):
    """Parse "5,15,50" into a sorted list of distinct valid qualities; UserError if bad."""
    values = sorted({check_quality(v) for v in text.split(",") if v.strip()})
    if not values:
        raise UserError("--qualities needs at least one quality")
    return values


def psnr(reference, decoded):
    """PSNR in dB of uint8 arrays of equal shape [N, H, W, 3] (mean MSE over all, peak 255).

    Returns (psnr_db or None when identical, mse).
    """
    mse = float(np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2))
    return (10.0 * math.log10(255.0 ** 2 / mse) if mse > 0 else None), mse


def _to_uint8(rgb01):
    """float [..., 3] in [0, 1] -> uint8, rounded."""
    return np.round(np.clip(np.asarray(rgb01), 0.0, 1.0) * 255.0).astype(np.uint8)


def proxy_decode(patches, quality, rounding, batch_size):
    """The analytic proxy's decoded patches: uint8 [N, h, w, 3] from uint8 patches [N, h, w, 3]."""
    out = [proxy.jpeg(tf.constant(patches[i:i + batch_size], tf.float32) / 255.0, quality, rounding)
           for i in range(0, len(patches), batch_size)]
    return _to_uint8(np.concatenate([o.numpy() for o in out]))


def estimated_bpp(patches, quality, batch_size):
    """tfjpegnet.rate's estimated bits per pixel of each patch, float64 [N]."""
    out = [rate.estimate_bpp(tf.constant(patches[i:i + batch_size], tf.float32) / 255.0, quality)
           for i in range(0, len(patches), batch_size)]
    return np.concatenate([o.numpy() for o in out]).astype(np.float64)


def jpegnet_decode(model, patches):
    """JPEG-Net applied to the 8x8 YCrCb blocks of uint8 patches [N, h, w, 3]; uint8 RGB out."""
    n, h, w, _ = patches.shape
    ycrcb = color.rgb_to_ycrcb(tf.constant(patches, tf.float32) / 255.0)
    blocks = model.predict(models.to_blocks(ycrcb).numpy(), batch_size=4096, verbose=0)
    rgb = color.ycrcb_to_rgb(models.from_blocks(tf.constant(blocks, tf.float32), h, w))
    return _to_uint8(rgb.numpy())


def scan_size(jpeg):
    """Bytes of entropy-coded data in a one-scan JPEG file (after the SOS header, before EOI)."""
    pos = 2
    while jpeg[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")
    return len(jpeg) - (pos + 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")) - 2


def _spearman(x, y):
    """Spearman rank correlation of two equal-length 1-D arrays, or None if undefined."""
    from scipy.stats import spearmanr  # evaluation-only dependency

    if len(x) < 2:
        return None
    value = spearmanr(x, y)[0]
    return None if np.isnan(value) else float(value)


def _run_jpeg_nets(run_dir):
    """(quality, {"stage1": path, ...}) of a training run; UserError if it is not one."""
    config = runs.read_config(run_dir)
    if "quality" not in config:
        raise UserError(f"{run_dir}/config.json has no 'quality': not a training run directory")
    quality = check_quality(config["quality"])
    stages = {name: jpeg_net for name, _, jpeg_net in runs.stages(run_dir) if jpeg_net}
    if not stages:
        raise UserError(f"{run_dir}: no stage*/jpeg_net.keras (a run with --proxy analytic has none)")
    return quality, stages


def measure(patches, qualities, jpeg_nets=None, run_quality=None, batch_size=96, progress=None):
    """Compute the fidelity table.

    Args:
      patches: uint8 [N, h, w, 3] RGB test patches, h and w multiples of 8.
      qualities: list of JPEG qualities.
      jpeg_nets: optional {"stageK": loaded JPEG-Net keras.Model}, evaluated at
        ``run_quality`` (added to ``qualities`` if missing).
      run_quality: the quality the JPEG-Nets were trained for.
      batch_size: patches per proxy call.
      progress: optional callable() invoked after each quality.

    Returns:
      dict (JSON-ready) with per-quality rows and the pooled rate rank correlation.
    """
    jpeg_nets = jpeg_nets or {}
    if jpeg_nets:
        qualities = sorted(set(qualities) | {run_quality})
    rows, all_real, all_est = [], [], []
    for quality in qualities:
        files = [codec.encode_jpeg(p, quality) for p in patches]
        real = np.stack([codec.decode_jpeg(f) for f in files])
        area = patches.shape[1] * patches.shape[2]
        real_bpp = np.array([8.0 * len(f) / area for f in files])
        scan_bpp = np.array([8.0 * scan_size(f) / area for f in files])
        est_bpp = estimated_bpp(patches, quality, batch_size)
        all_real.append(real_bpp)
        all_est.append(est_bpp)
        exact = proxy_decode(patches, quality, "exact", batch_size)
        exact_db, exact_mse = psnr(real, exact)
        row = {"quality": quality, "proxy_exact": exact_db, "proxy_exact_mse": exact_mse,
               "proxy_identical_patches": float(np.mean(np.all(exact == real, axis=(1, 2, 3)))),
               "proxy_soft": psnr(real, proxy_decode(patches, quality, "soft", batch_size))[0],
               "identity": psnr(real, patches)[0],
               "rate_spearman": _spearman(est_bpp, real_bpp),
               "bpp_file": float(real_bpp.mean()), "bpp_scan": float(scan_bpp.mean()),
               "bpp_estimated": float(est_bpp.mean()),
               "jpeg_net": {}}
        if quality == run_quality:
            row["jpeg_net"] = {stage: psnr(real, jpegnet_decode(model, patches))[0]
                               for stage, model in jpeg_nets.items()}
        rows.append(row)
        if progress:
            progress()
    return {"patches": int(len(patches)), "patch_size": int(patches.shape[1]), "rows": rows,
            "rate_spearman_pooled": _spearman(np.concatenate(all_est), np.concatenate(all_real)),
            "jpeg_net_stages": list(jpeg_nets), "run_quality": run_quality}


def _db(value):
    """Format a PSNR (None = identical) for the Markdown table."""
    return "identical" if value is None else f"{value:.2f}"


def to_markdown(result):
    """Render a :func:`measure` result, with "images" and "run" added, as Markdown (str)."""
    stages = result["jpeg_net_stages"]
    lines = [
        "# Fidelity of the JPEG models to OpenCV's JPEG", "",
        f"{result['patches']} patches of {result['patch_size']}x{result['patch_size']} from "
        f"{', '.join(os.path.basename(p) for p in result['images'])}, each JPEG-coded on its own "
        "(OpenCV, 4:2:0). PSNR in dB against OpenCV's decoded patch, over all patches (mean MSE, "
        "RGB, 8-bit); \"identical\" = every pixel equal. Proxy = tfjpegnet.jpeg_proxy; input = the "
        "patch without JPEG. Rate: Spearman rank correlation between tfjpegnet.rate's estimate and "
        "OpenCV's file size; mean bits per pixel of the file, of its entropy-coded data (the file "
        "without headers) and estimated (tfjpegnet.rate, also without headers).", ""]
    if stages:
        lines += [f"JPEG-Net: run `{result['run']}` (quality {result['run_quality']}), blocks of 8x8 YCrCb.", ""]
    header = ["Q", "proxy exact", "proxy soft", "input", *[f"JPEG-Net {s}" for s in stages],
              "rate Spearman", "bpp file", "bpp scan", "bpp estimated"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for row in result["rows"]:
        nets = [_db(row["jpeg_net"][s]) if s in row["jpeg_net"] else "-" for s in stages]
        spearman = "-" if row["rate_spearman"] is None else f"{row['rate_spearman']:.4f}"
        cells = [str(row["quality"]), _db(row["proxy_exact"]), _db(row["proxy_soft"]), _db(row["identity"]),
                 *nets, spearman, f"{row['bpp_file']:.3f}", f"{row['bpp_scan']:.3f}",
                 f"{row['bpp_estimated']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    pooled = result["rate_spearman_pooled"]
    lines += ["", f"Rate estimate vs file size, all qualities pooled: Spearman "
              f"{'-' if pooled is None else f'{pooled:.4f}'}.", ""]
    return "\n".join(lines)


def run(args):
    """Run the command: measure, then write ``fidelity.json`` and ``fidelity.md`` to ``args.out``."""
    qualities = _qualities(args.qualities)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    paths = datasets.find_images(args.data_dir) if args.data_dir else datasets.kodak_paths()
    test_paths = datasets.split_images(paths)[1]
    patches = datasets.load_patches(test_paths, PATCH)
    jpeg_nets, run_quality = {}, None
    if args.run:
        run_quality, stage_paths = _run_jpeg_nets(args.run)
        jpeg_nets = {s: keras.models.load_model(p, compile=False) for s, p in stage_paths.items()}
    steps = len(set(qualities) | ({run_quality} if jpeg_nets else set()))
    bar = keras.utils.Progbar(steps, unit_name="quality")
    counter = iter(range(1, steps + 1))
    result = measure(patches, qualities, jpeg_nets, run_quality, args.batch_size,
                     progress=lambda: bar.update(next(counter)))
    result.update(images=[os.path.abspath(p) for p in test_paths],
                  run=os.path.abspath(args.run) if args.run else None)
    write_json(os.path.join(args.out, "fidelity.json"), result)
    write_text(os.path.join(args.out, "fidelity.md"), to_markdown(result))
    print(to_markdown(result))
    return 0
