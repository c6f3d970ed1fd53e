"""How faithfully the JPEG models imitate a real encoder, and how well the rate estimate ranks sizes.

On 64x64 test patches (each patch JPEG-coded on its own), for each quality and one real
encoder (:data:`ENCODERS`: OpenCV, the default, or mozjpeg): PSNR between the analytic
proxy's decoded image ("exact" rounding; for mozjpeg its tables and dead-zone model of
trellis quantisation) and the real encoder's, PSNR between the uncoded patch and the
real encoder's (the reference a model must beat), and the Spearman rank correlation
between the estimated bits (:mod:`tfjpegnet.jpeg.rate`, that encoder's constants) and the
real file sizes, with the mean sizes. JPEG-Nets (of a training run's stages) are
applied to the 8x8 YCrCb blocks of the patches at the run's quality and compared in the
same way. PSNR is :func:`tfjpegnet.evaluation.metrics.psnr` over all patches (mean MSE
over patches, RGB, 8-bit, then dB): ``inf`` when every pixel is equal, written as
``null`` in JSON (:func:`to_json`) and "identical" in Markdown (:func:`to_markdown`).
The command around it is :mod:`tfjpegnet.cli.fidelity`.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, models, pixels, runs
from tfjpegnet.errors import UserError
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, color, encoders, proxy, rate
from tfjpegnet.jpeg.quality_range import check_quality

PATCH = 64
#: The real encoders the proxy models ({name: what the report calls it}).
ENCODERS = {"opencv": "OpenCV's JPEG (libjpeg-turbo, 4:2:0, standard tables)",
            "mozjpeg": "mozjpeg (pyvips; table set 3, trellis quantisation, progressive, 4:2:0)"}


def parse_qualities(text):
    """Parse "5,15,50" into a sorted list of distinct valid qualities (at least one); UserError if bad."""
    values = sorted({check_quality(v) for v in text.split(",") if v.strip()})
    if not values:
        raise UserError("--qualities needs at least one quality")
    return values


def proxy_decode(patches, quality, rounding, batch_size, encoder="opencv"):
    """``encoder``'s analytic proxy's decoded patches: uint8 [N, h, w, 3] from uint8 patches [N, h, w, 3]."""
    out = [proxy.jpeg(tf.constant(patches[i:i + batch_size], tf.float32) / 255.0, quality, rounding, encoder)
           for i in range(0, len(patches), batch_size)]
    return np.asarray(pixels.to_uint8(tf.concat(out, axis=0)))


def estimated_bpp(patches, quality, batch_size, encoder="opencv"):
    """tfjpegnet.jpeg.rate's estimated bits per pixel of ``encoder``'s file of each patch, float64 [N]."""
    out = [rate.estimate_bpp(tf.constant(patches[i:i + batch_size], tf.float32) / 255.0, quality, encoder)
           for i in range(0, len(patches), batch_size)]
    return np.concatenate([o.numpy() for o in out]).astype(np.float64)


def jpegnet_decode(model, patches):
    """JPEG-Net applied to the 8x8 YCrCb blocks of uint8 patches [N, h, w, 3]; uint8 RGB out."""
    n, h, w, _ = patches.shape
    ycrcb = color.rgb_to_ycrcb(tf.constant(patches, tf.float32) / 255.0)
    blocks = model.predict(models.to_blocks(ycrcb).numpy(), batch_size=4096, verbose=0)
    rgb = color.ycrcb_to_rgb(models.from_blocks(tf.constant(blocks, tf.float32), h, w))
    return np.asarray(pixels.to_uint8(rgb))


def scan_size(jpeg):
    """Bytes of a JPEG file after its first SOS header, before EOI: its entropy-coded data for one scan
    (a progressive file's later scan headers, a few bytes each, are counted with it)."""
    return len(jpeg) - encoders.header_bytes(jpeg) - 2


def run_jpeg_nets(run_dir):
    """(quality, {"stage1": path, ...}) of a training run's JPEG-Nets; UserError if it is not a run or has none."""
    config = runs.read_config(run_dir)
    if "quality" not in config:
        raise UserError(f"{run_dir}/config.json has no 'quality': not a training run directory")
    quality = check_quality(config["quality"])
    stages = {name: jpeg_net for name, _, jpeg_net in runs.stages(run_dir) if jpeg_net}
    if not stages:
        raise UserError(f"{run_dir}: no stage*/jpeg_net.keras (a run with --proxy analytic has none)")
    return quality, stages


def measure(patches, qualities, jpeg_nets=None, run_quality=None, batch_size=96, progress=None,
            encoder="opencv"):
    """Compute the fidelity table against the real ``encoder`` (a key of :data:`ENCODERS`).

    Args:
      patches: uint8 [N, h, w, 3] RGB test patches, h and w multiples of 8.
      qualities: list of JPEG qualities.
      jpeg_nets: optional {"stageK": loaded JPEG-Net keras.Model}, evaluated at
        ``run_quality`` (added to ``qualities`` if missing).
      run_quality: the quality the JPEG-Nets were trained for.
      batch_size: patches per proxy call.
      progress: optional callable() invoked after each quality.
      encoder: the real encoder and the proxy and rate model of it; JPEG-Nets imitate OpenCV
        only, so ``jpeg_nets`` need "opencv" (UserError otherwise).

    Returns:
      dict with per-quality rows (PSNRs in dB, ``inf`` = identical; :func:`to_json` makes
      it strict JSON) and the pooled rate rank correlation (None if undefined).
    """
    jpeg_nets = jpeg_nets or {}
    if encoder not in ENCODERS:
        raise UserError(f"unknown encoder {encoder!r}; choose from {', '.join(ENCODERS)}")
    if jpeg_nets and encoder != "opencv":
        raise UserError("JPEG-Nets imitate OpenCV's JPEG: a run's JPEG-Nets need --encoder opencv")
    if jpeg_nets:
        qualities = sorted(set(qualities) | {run_quality})
    rows, all_real, all_est = [], [], []
    for quality in qualities:
        jpegs = [encoders.encode(encoder, p, quality) for p in patches]
        real = np.stack([codec.decode_jpeg(f) for f in jpegs])
        area = patches.shape[1] * patches.shape[2]
        real_bpp = np.array([8.0 * len(f) / area for f in jpegs])
        scan_bpp = np.array([8.0 * scan_size(f) / area for f in jpegs])
        est_bpp = estimated_bpp(patches, quality, batch_size, encoder)
        all_real.append(real_bpp)
        all_est.append(est_bpp)
        exact = proxy_decode(patches, quality, "exact", batch_size, encoder)
        row = {"quality": quality, "proxy_exact": metrics.psnr(real, exact),
               "proxy_exact_mse": metrics.mse(real, exact),
               "proxy_identical_patches": float(np.mean(np.all(exact == real, axis=(1, 2, 3)))),
               "identity": metrics.psnr(real, patches),
               "rate_spearman": metrics.spearman(est_bpp, real_bpp),
               "bpp_file": float(real_bpp.mean()), "bpp_scan": float(scan_bpp.mean()),
               "bpp_estimated": float(est_bpp.mean()),
               "jpeg_net": {}}
        if quality == run_quality:
            row["jpeg_net"] = {stage: metrics.psnr(real, jpegnet_decode(model, patches))
                               for stage, model in jpeg_nets.items()}
        rows.append(row)
        if progress:
            progress()
    return {"encoder": encoder, "patches": int(len(patches)), "patch_size": int(patches.shape[1]), "rows": rows,
            "rate_spearman_pooled": metrics.spearman(np.concatenate(all_est), np.concatenate(all_real)),
            "jpeg_net_stages": list(jpeg_nets), "run_quality": run_quality}


def to_json(result):
    """``result`` as strict JSON data: an infinite PSNR (identical) becomes None (``null``)."""
    return metrics.json_ready(result)


def _db(value):
    """Format a PSNR for the Markdown table: inf (or None, as read back from JSON) = "identical"."""
    return "identical" if value is None or value == float("inf") else f"{value:.2f}"


def to_markdown(result):
    """Render a :func:`measure` result, with "images" and "run" added, as Markdown (str)."""
    stages = result["jpeg_net_stages"]
    encoder = result.get("encoder", "opencv")
    name = "OpenCV" if encoder == "opencv" else encoder
    model = ("exact rounding" if encoder == "opencv"
             else "mozjpeg's tables and its dead-zone model of trellis quantisation")
    lines = [
        f"# Fidelity of the JPEG models to {name}'s JPEG", "",
        f"{result['patches']} patches of {result['patch_size']}x{result['patch_size']} from "
        f"{', '.join(os.path.basename(p) for p in result['images'])}, each JPEG-coded on its own "
        f"with {ENCODERS[encoder]}. PSNR in dB against {name}'s decoded patch (decoded by OpenCV), over all "
        "patches (mean MSE, RGB, 8-bit); \"identical\" = every pixel equal. Proxy = tfjpegnet.jpeg.proxy "
        f"with {model}; input = the patch without JPEG. Rate: Spearman rank correlation between "
        f"tfjpegnet.jpeg.rate's estimate and {name}'s file size; mean bits per pixel of the file, of its "
        "entropy-coded data (the file after its first scan header) and estimated (tfjpegnet.jpeg.rate, "
        "also without headers).", ""]
    if stages:
        lines += [f"JPEG-Net: run `{result['run']}` (quality {result['run_quality']}), blocks of 8x8 YCrCb.", ""]
    header = ["Q", "proxy exact", "input", *[f"JPEG-Net {s}" for s in stages],
              "rate Spearman", "bpp file", "bpp scan", "bpp estimated"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for row in result["rows"]:
        nets = [_db(row["jpeg_net"][s]) if s in row["jpeg_net"] else "-" for s in stages]
        spearman = "-" if row["rate_spearman"] is None else f"{row['rate_spearman']:.4f}"
        cells = [str(row["quality"]), _db(row["proxy_exact"]), _db(row["identity"]),
                 *nets, spearman, f"{row['bpp_file']:.3f}", f"{row['bpp_scan']:.3f}",
                 f"{row['bpp_estimated']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    pooled = result["rate_spearman_pooled"]
    lines += ["", f"Rate estimate vs file size, all qualities pooled: Spearman "
              f"{'-' if pooled is None else f'{pooled:.4f}'}.", ""]
    return "\n".join(lines)


def load_test_patches(data_dir=None):
    """The test split's image paths of ``data_dir`` (default: Kodak, kodim22..24) and their 64x64 patches.

    Returns:
      (paths, uint8 patches [N, 64, 64, 3]).
    """
    paths = datasets.find_images(data_dir) if data_dir else datasets.kodak_paths()
    test_paths = datasets.split_images(paths)[1]
    return test_paths, datasets.load_patches(test_paths, PATCH)


def load_jpeg_nets(run_dir):
    """(run quality, {"stageK": loaded JPEG-Net}) of a training run (:func:`run_jpeg_nets`)."""
    quality, stage_paths = run_jpeg_nets(run_dir)
    return quality, {stage: keras.models.load_model(path, compile=False) for stage, path in stage_paths.items()}
