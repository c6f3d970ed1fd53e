"""Measure Modify-Net pre-editing with real JPEG: the paper's Tables 1-2, RD curves, BD-rate, bit saving.

The proposed path is x -> Modify-Net -> round to 8 bits (:func:`tfjpegnet.pixels.to_uint8`)
-> real JPEG at quality Q -> standard decode (OpenCV), compared with plain JPEG of x with
the same encoder settings. Two protocols are measured, by name (:data:`PROTOCOLS`):
"paper" (the test images' 64x64 patches, each JPEG-encoded on its own, as the paper did)
and "full" (each whole image encoded once: what a user sees). :func:`evaluate` returns
every number; :func:`write_outputs` writes metrics.json (compact), report.md and the figures.
The command around it is :mod:`tfjpegnet.cli.evaluate`.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, files, models, pixels, runs
from tfjpegnet.deploy import tiling
from tfjpegnet.errors import UserError
from tfjpegnet.evaluation import figures, metrics, report
from tfjpegnet.jpeg import codec, color, encoders
from tfjpegnet.jpeg.quality_range import check_quality
from tfjpegnet.training.patches import jpeg_targets

PATCH = 64
PLAIN = report.PLAIN  # the model name of "no pre-edit" in the results
PROTOCOLS = {
    "paper": "the test images' non-overlapping 64x64 patches, each JPEG-encoded on its own and Modify-Net "
             "applied to each patch (the paper's protocol); an image's PSNR/SSIM are means over its "
             "patches, its bpp is the patches' total bits over their pixels, headers included (a 64x64 "
             "OpenCV JPEG carries about 0.6 kB of tables, about 1.3 bpp, which dilutes bit differences)",
    "full": "each whole test image edited and JPEG-encoded once (what a user sees)",
}
QUALITY_KEYS = ("psnr", "psnr_y", "ssim", "ms_ssim", "bpp", "bytes")


def parse_qualities(text):
    """Parse "5,10,15" into a sorted list of distinct qualities 1..100 (at least 2); UserError otherwise."""
    qualities = sorted({check_quality(q) for q in str(text).split(",") if q.strip()})
    if len(qualities) < 2:
        raise UserError(f"--qualities needs at least 2 distinct qualities for BD-rate, got {text!r}")
    return qualities


# ----- what to evaluate ---------------------------------------------------------------------

def stage_models(run_dir):
    """The run's stages with a Modify-Net, in stage order.

    Returns:
      list of (name "stageK", modify_net path, jpeg_net path or None) for every
      ``stageK/modify_net.keras`` in ``run_dir``. Raises UserError if there is none.
    """
    found = [item for item in runs.stages(run_dir) if item[1]]
    if not found:
        raise UserError(f"run dir {run_dir!r} holds no stageK/modify_net.keras (has training finished a stage?)")
    return found


def _run_test_images(run_dir, config):
    """The test image paths listed in a run's config.json; UserError if none or one is missing."""
    paths = config.get("test_images") or []
    if not paths:
        raise UserError(f"{run_dir}/config.json lists no test_images; pass --images DIR")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise UserError(f"test image {missing[0]!r} of {run_dir}/config.json not found from {os.getcwd()}; "
                        "run from where training ran, or pass --images DIR")
    return paths


def resolve_source(run=None, model=None, quality=None, images=None, out=None, data_dir=None):
    """Decide what to evaluate: a training run directory or one Modify-Net file.

    Args:
      run: training run directory (every ``stageK/modify_net.keras`` in it), or
      model: one Modify-Net ``.keras`` file (exactly one of the two).
      quality: the models' JPEG quality (required with ``model``; with ``run`` it
        overrides config.json's), int or text.
      images: folder of test images; default the run's test images (config.json) or,
        for a model, Kodak kodim22..24 (of ``data_dir``, a folder holding the Kodak PNGs, or
        downloaded if it is None).
      out: output folder; default results/<run or model name>.

    Returns:
      dict with "name" (run or model name), "kind" ("run" or "model"), "path",
      "quality" (int), "models" (list of (name, modify_net path, jpeg_net path or None),
      final model last), "image_paths" (list) and "out" (output folder).
    """
    if bool(run) == bool(model):
        raise UserError("give either a run directory or a model file")
    if run:
        if not os.path.isdir(run):
            raise UserError(f"run dir {run!r} does not exist or is not a directory")
        config = runs.read_config(run)
        quality = quality if quality is not None else config.get("quality")
        if quality is None:
            raise UserError(f"{run}/config.json has no 'quality'; pass --quality")
        found = stage_models(run)
        image_paths = datasets.find_images(images) if images else _run_test_images(run, config)
        name, kind, path = os.path.basename(os.path.normpath(os.path.abspath(run))), "run", run
    else:
        if not os.path.isfile(model):
            raise UserError(f"model file {model!r} does not exist")
        if quality is None:
            raise UserError("--model needs --quality Q (the JPEG quality the model was trained for)")
        stem = os.path.splitext(os.path.basename(model))[0]
        name = os.path.basename(os.path.dirname(os.path.abspath(model))) if stem == "modify_net" else stem
        name = "model" if name == PLAIN else name  # PLAIN names plain JPEG in the results
        jpeg_net = os.path.join(os.path.dirname(model), "jpeg_net.keras")
        found = [(name, model, jpeg_net if os.path.isfile(jpeg_net) else None)]
        image_paths = datasets.find_images(images) if images else split_test_paths(data_dir)
        kind, path = "model", model
    return {"name": name, "kind": kind, "path": os.path.abspath(path), "quality": check_quality(quality),
            "models": found, "image_paths": list(image_paths), "out": out or os.path.join("results", name)}


def split_test_paths(data_dir=None):
    """The test split (:func:`tfjpegnet.datasets.split_images`) of ``data_dir``'s images, or of Kodak
    (kodim22..24, downloaded once) if ``data_dir`` is None."""
    paths = datasets.find_images(data_dir) if data_dir else datasets.kodak_paths()
    return datasets.split_images(paths)[1]


def load_test_images(data_dir=None):
    """:func:`load_images` of :func:`split_test_paths` (default: Kodak kodim22..24)."""
    return load_images(split_test_paths(data_dir))


def load_images(paths):
    """Read test images; returns dict unique name (file stem) -> RGB uint8 [H, W, 3].

    Raises UserError for an unreadable image or one smaller than 64x64 (the paper
    protocol's patch).
    """
    images = {}
    for path in paths:
        rgb = codec.read_image(path)
        if min(rgb.shape[:2]) < PATCH:
            raise UserError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]} is smaller than {PATCH}x{PATCH}, "
                            "the paper protocol's patch")
        stem = name = os.path.splitext(os.path.basename(path))[0]
        copy = 1
        while name in images:
            copy += 1
            name = f"{stem}-{copy}"
        images[name] = rgb
    return images


def load_model(path):
    """Load a saved Keras model (no compile); UserError if the file is not one."""
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, OSError) as err:
        raise UserError(f"{path}: cannot load Keras model ({err})") from None


def load_models(found):
    """Load the models of :func:`resolve_source`'s "models" list.

    Returns:
      (nets, jpeg_nets): dicts name -> Modify-Net, in the list's order, and name -> JPEG-Net
      for the models that have one.
    """
    nets = {name: load_model(path) for name, path, _ in found}
    jpeg_nets = {name: load_model(path) for name, _, path in found if path}
    return nets, jpeg_nets


# ----- the measurements ---------------------------------------------------------------------

def units(protocol, rgb):
    """The pieces of one image that are JPEG-encoded separately, uint8 [N, h, w, 3].

    "full": the whole image (N = 1); "paper": its 64x64 patches, row-major.
    """
    return rgb[None] if protocol == "full" else datasets.image_patches(rgb, PATCH)


def edit_batch(net, batch, batch_size=32, quality=None):
    """Modify-Net edit of RGB uint8 [N, h, w, 3] -> RGB uint8 [N, h, w, 3] (:func:`tfjpegnet.pixels.to_uint8`);
    ``quality``: what a quality-conditioned net edits for (:func:`tfjpegnet.models.edit_rgb`)."""
    out = [np.asarray(pixels.to_uint8(models.edit_rgb(net, tf.constant(batch[i:i + batch_size], tf.float32) / 255.0,
                                                      quality)))
           for i in range(0, len(batch), batch_size)]
    return np.concatenate(out)


def edit_units(net, protocol, rgb, quality=None):
    """Modify-Net outputs of :func:`units` of one image, uint8 [N, h, w, 3] (``quality``: see :func:`edit_batch`).

    Whole images go through the network in overlapping tiles (tfjpegnet.deploy.tiling) so that
    large photos fit in memory; patches are edited each on its own, as in training.
    """
    if protocol == "full":
        edited = tiling.edit_tiled(lambda tile: edit_batch(net, tile[None], quality=quality)[0], rgb,
                                   tiling.halo(net))
        return edited[None]
    return edit_batch(net, units(protocol, rgb), quality=quality)


def measure(originals, inputs, encoder, quality, with_ms_ssim):
    """Real JPEG of each unit of one image, judged against the originals.

    Args:
      originals: uint8 [N, h, w, 3], the units of the original image.
      inputs: uint8 [N, h, w, 3], what is encoded (the originals, or Modify-Net's output).
      encoder: a name in ``encoders.ENCODERS``; quality: 1..100.
      with_ms_ssim: compute MS-SSIM (only for a single whole image).

    Returns:
      dict: "psnr", "psnr_y", "ssim" (dB / SSIM, means over the N units; a unit that comes
      back exactly has PSNR inf, so the mean is inf and RD curves leave the point out), "ms_ssim"
      (NaN unless asked for, or if the image is too small), "bpp" (total bits / total
      pixels) and "bytes" (total encoded bytes).
    """
    encoded = [encoders.encode(encoder, unit, quality) for unit in inputs]
    decoded = np.stack([codec.decode_jpeg(jpeg) for jpeg in encoded])
    nbytes = sum(len(jpeg) for jpeg in encoded)
    return {
        "psnr": float(np.mean([metrics.psnr(o, d) for o, d in zip(originals, decoded)])),
        "psnr_y": float(np.mean([metrics.psnr_y(o, d) for o, d in zip(originals, decoded)])),
        "ssim": float(np.mean(metrics.ssim(originals, decoded))),
        "ms_ssim": metrics.ms_ssim(originals[0], decoded[0]) if with_ms_ssim else float("nan"),
        "bpp": metrics.bpp(nbytes, originals.shape[0] * originals.shape[1] * originals.shape[2]),
        "bytes": nbytes,
    }


def mean_row(rows):
    """Mean over images of per-image measurement dicts (NaN stays NaN)."""
    return {key: float(np.mean([row[key] for row in rows])) for key in QUALITY_KEYS}


def plain_curve(quality, qualities, step=1):
    """Qualities of plain JPEG's reference curve: 1..100 every ``step``, plus 100 and the reported ones."""
    if step < 1:
        raise UserError(f"--plain-step must be >= 1, got {step}")
    return sorted(set(range(1, 101, step)) | {100, quality, *qualities})


def plan(quality, qualities, curve, encoder_names, table_models, sweep_models):
    """Every measurement the report needs, as (protocol, encoder, model, quality, with_ms_ssim).

    Per protocol and encoder: plain JPEG at the ``curve`` qualities (the bit-saving
    reference, which includes the run and sweep qualities); every model at the run
    quality (Table 1, bit saving); the swept models at the sweep qualities (RD curves,
    BD-rate). MS-SSIM only for whole images at the run and sweep qualities.
    """
    reported = set(qualities) | {quality}
    jobs = []
    for protocol in PROTOCOLS:
        for encoder in encoder_names:
            jobs += [(protocol, encoder, PLAIN, q, protocol == "full" and q in reported) for q in curve]
            jobs += [(protocol, encoder, m, quality, protocol == "full") for m in table_models]
            jobs += [(protocol, encoder, m, q, protocol == "full") for m in sweep_models for q in qualities]
    return list(dict.fromkeys(jobs))


def _nested(tree, *keys):
    """``tree[k1][k2]...`` creating missing dicts on the way."""
    for key in keys:
        tree = tree.setdefault(key, {})
    return tree


def measure_all(images, edited, jobs, progress):
    """Run the planned measurements.

    Args:
      images: dict image name -> RGB uint8 [H, W, 3].
      edited: dict model -> protocol -> image name -> uint8 units (Modify-Net outputs).
      jobs: from :func:`plan`. progress: keras.utils.Progbar (one step per job).

    Returns:
      points: protocol -> encoder -> model -> str(quality) -> {"mean": row, "images": {name: row}}.
    """
    points = {}
    originals = {p: {name: units(p, rgb) for name, rgb in images.items()} for p in PROTOCOLS}
    for protocol, encoder, model, quality, with_ms_ssim in jobs:
        source = originals[protocol] if model == PLAIN else edited[model][protocol]
        rows = {name: measure(originals[protocol][name], source[name], encoder, quality, with_ms_ssim)
                for name in images}
        _nested(points, protocol, encoder, model)[str(quality)] = {"mean": mean_row(rows.values()), "images": rows}
        progress.add(1)
    return points


def jpeg_net_fidelity(jpeg_net, patches, quality):
    """JPEG-Net fidelity (the paper's Table 2): PSNR in dB between JPEG-Net's output and real JPEG.

    Args:
      jpeg_net: JPEG-Net (8x8 YCrCb blocks in [0, 1] -> blocks).
      patches: uint8 [N, 64, 64, 3], RGB patches given to JPEG-Net as 8x8 blocks.
      quality: JPEG quality of the real encoder (OpenCV, each patch encoded on its own).

    Returns:
      float dB, in YCrCb (OpenCV order) with peak 1, from the MSE pooled over all blocks
      (as the trainer's validation reports it).
    """
    def blocks(rgb_uint8):
        return models.to_blocks(color.rgb_to_ycrcb(tf.constant(rgb_uint8, tf.float32) / 255.0))

    predicted = jpeg_net.predict(blocks(patches), batch_size=4096, verbose=0)
    target = blocks(jpeg_targets(patches, quality)).numpy()
    return metrics.psnr(target, predicted, peak=1.0)


# ----- tables from the measurements ---------------------------------------------------------

def _curve(points, protocol, encoder, model, qualities, key):
    """Mean ``key`` at each quality of one RD curve, as a list."""
    return [points[protocol][encoder][model][str(q)]["mean"][key] for q in qualities]


def table1(points, protocol, table_models, quality):
    """Each model vs plain JPEG (OpenCV) at the run quality: means, per-image rows, differences.

    Differences: model minus plain for each quality key; "bits" = 100 (bpp_model /
    bpp_plain - 1), in percent.
    """
    at = {m: points[protocol][encoders.DEFAULT][m][str(quality)] for m in [PLAIN, *table_models]}

    def with_diff(row, plain):
        diff = {key: row[key] - plain[key] for key in QUALITY_KEYS}
        diff["bits"] = 100.0 * (row["bpp"] / plain["bpp"] - 1.0)
        return {**row, "diff": diff}

    return {m: {"mean": with_diff(at[m]["mean"], at[PLAIN]["mean"]),
                "images": {name: with_diff(row, at[PLAIN]["images"][name]) for name, row in at[m]["images"].items()}}
            for m in at}


def bd_rates(points, protocol, encoder_names, sweep_models, qualities):
    """BD-rates in percent over the sweep qualities.

    Returns:
      (pre_edit, encoder_gain): pre_edit[encoder][model] = {"psnr", "ssim"}, each swept
      model against plain JPEG with the SAME encoder; encoder_gain[encoder] = {"psnr",
      "ssim"}, plain JPEG with that encoder against plain OpenCV default JPEG.
    """
    def bd(reference, test):
        ref, new = ({key: _curve(points, protocol, encoder, model, qualities, key) for key in ("bpp", "psnr", "ssim")}
                    for encoder, model in (reference, test))
        return {key: metrics.bd_rate(ref["bpp"], ref[key], new["bpp"], new[key]) for key in ("psnr", "ssim")}

    pre_edit = {e: {m: bd((e, PLAIN), (e, m)) for m in sweep_models} for e in encoder_names}
    encoder_gain = {e: bd((encoders.DEFAULT, PLAIN), (e, PLAIN)) for e in encoder_names}
    return pre_edit, encoder_gain


def bit_savings(points, protocol, encoder_names, table_models, quality, curve):
    """Bit saving at equal PSNR and equal SSIM of each model at the run quality, per encoder.

    The reference is plain JPEG with the same encoder on the same images at the ``curve``
    qualities (normally 1..100), interpolated in log bpp (metrics.bit_saving), from the means
    over images: the pre-edit's gain on top of that encoder. ``*_vs_opencv`` compare the same
    combination (pre-edit + encoder) with plain OpenCV default JPEG instead: what a user gets.

    Returns:
      encoder -> model -> {"at_equal_psnr", "at_equal_ssim", "at_equal_psnr_vs_opencv",
      "at_equal_ssim_vs_opencv" (percent), "psnr", "ssim", "bpp" (the model's), "plain_psnr",
      "plain_ssim", "plain_bpp" (plain JPEG with that encoder at the same quality setting)}.
    """
    def saving(row, plain, key):
        return metrics.bit_saving(row["bpp"], row[key], plain["bpp"], plain[key])

    curves = {encoder: {key: _curve(points, protocol, encoder, PLAIN, curve, key) for key in ("bpp", "psnr", "ssim")}
              for encoder in encoder_names}
    out = {}
    for encoder in encoder_names:
        plain, opencv = curves[encoder], curves[encoders.DEFAULT]
        plain_at_q = points[protocol][encoder][PLAIN][str(quality)]["mean"]
        for model in table_models:
            row = points[protocol][encoder][model][str(quality)]["mean"]
            out.setdefault(encoder, {})[model] = {
                "at_equal_psnr": saving(row, plain, "psnr"), "at_equal_ssim": saving(row, plain, "ssim"),
                "at_equal_psnr_vs_opencv": saving(row, opencv, "psnr"),
                "at_equal_ssim_vs_opencv": saving(row, opencv, "ssim"),
                "psnr": row["psnr"], "ssim": row["ssim"], "bpp": row["bpp"],
                "plain_psnr": plain_at_q["psnr"], "plain_ssim": plain_at_q["ssim"], "plain_bpp": plain_at_q["bpp"]}
    return out


# ----- the whole evaluation -----------------------------------------------------------------

def evaluate(images, nets, quality, qualities, encoder_names, sweep="all", jpeg_nets=None, plain_step=1,
             verbose=1):
    """Measure plain JPEG and the pre-edit of every model; returns (results, edited).

    Args:
      images: dict image name -> RGB uint8 [H, W, 3] (each at least 64x64).
      nets: dict model name -> Modify-Net, in stage order (final model last).
      quality: the models' JPEG quality (Table 1, bit saving).
      qualities: sorted sweep qualities (RD curves, BD-rate), at least 2.
      encoder_names: encoders to compare; "opencv" is added first if missing.
      sweep: "all" (every model) or "final" (the last one) in the RD sweep.
      jpeg_nets: dict model name -> JPEG-Net for Table 2 (models without one are skipped).
      plain_step: step of plain JPEG's Q = 1..100 reference curve (:func:`plain_curve`).
      verbose: Progbar verbosity (0 = silent).

    Returns:
      results: dict (JSON-ready apart from NaN/inf) with "quality", "qualities",
        "encoders", "protocols", "models", "sweep_models", "images", "points",
        "table1", "table2", "bd_rate", "encoder_bd_rate", "bit_saving", "paper";
      edited: model -> protocol -> image name -> uint8 [N, h, w, 3] Modify-Net outputs.
    """
    encoder_names = [encoders.DEFAULT] + [e for e in encoder_names if e != encoders.DEFAULT]
    table_models = list(nets)
    sweep_models = table_models if sweep == "all" else table_models[-1:]
    jpeg_nets = jpeg_nets or {}
    curve = plain_curve(quality, qualities, plain_step)
    jobs = plan(quality, qualities, curve, encoder_names, table_models, sweep_models)
    progress = keras.utils.Progbar(len(nets) * len(images) + len(jobs), verbose=verbose, interval=0.5,
                                   unit_name="step")
    edited = {}
    for model, net in nets.items():
        for name, rgb in images.items():
            for protocol in PROTOCOLS:
                _nested(edited, model, protocol)[name] = edit_units(net, protocol, rgb)
            progress.add(1)
    points = measure_all(images, edited, jobs, progress)
    patches = np.concatenate([units("paper", rgb) for rgb in images.values()])
    results = {
        "quality": quality, "qualities": list(qualities), "plain_curve_qualities": curve,
        "encoders": {e: encoders.describe(e) for e in encoder_names}, "protocols": dict(PROTOCOLS),
        "models": table_models, "sweep_models": sweep_models,
        "images": {name: {"height": int(rgb.shape[0]), "width": int(rgb.shape[1]),
                          "patches": int(len(units("paper", rgb)))} for name, rgb in images.items()},
        "points": points, "table1": {}, "bd_rate": {}, "encoder_bd_rate": {}, "bit_saving": {},
        "table2": {m: {"original": jpeg_net_fidelity(jpeg_nets[m], patches, quality),
                       "edited": jpeg_net_fidelity(jpeg_nets[m], np.concatenate(list(edited[m]["paper"].values())),
                                                   quality)}
                   for m in table_models if m in jpeg_nets},
        "paper": report.PAPER,
    }
    for protocol in PROTOCOLS:
        results["table1"][protocol] = table1(points, protocol, table_models, quality)
        results["bd_rate"][protocol], results["encoder_bd_rate"][protocol] = bd_rates(
            points, protocol, encoder_names, sweep_models, qualities)
        results["bit_saving"][protocol] = bit_savings(points, protocol, encoder_names, table_models, quality, curve)
    return results, edited


# ----- outputs --------------------------------------------------------------------------------

def write_figures(out, results, images, edited):
    """Write the RD and encoder PNGs and the visual-grid JPEGs into ``out``; returns their file names.

    Returns:
      dict: "rd" and "encoders" (protocol -> file name), "visual" (image -> file name).
    """
    quality, qualities = results["quality"], results["qualities"]
    final = results["models"][-1]
    colours = {e: f"C{i}" for i, e in enumerate(results["encoders"])}
    names = {"rd": {}, "encoders": {}, "visual": {}}
    points = results["points"]

    def curve(protocol, encoder, model, label, **style):
        return {"label": label, **style, **{key: _curve(points, protocol, encoder, model, qualities, key)
                                            for key in ("bpp", "psnr", "ssim")}}

    for protocol in PROTOCOLS:
        names["rd"][protocol] = f"rd_{protocol}.png"
        figures.rd_figure(os.path.join(out, names["rd"][protocol]),
                          [curve(protocol, encoders.DEFAULT, PLAIN, "plain JPEG")]
                          + [curve(protocol, encoders.DEFAULT, m, f"{m} + JPEG") for m in results["sweep_models"]],
                          f"Rate-distortion, OpenCV JPEG, protocol '{protocol}'")
        names["encoders"][protocol] = f"encoders_{protocol}.png"
        figures.rd_figure(os.path.join(out, names["encoders"][protocol]),
                          [c for e in results["encoders"] for c in (
                              curve(protocol, e, PLAIN, f"{e}", color=colours[e]),
                              curve(protocol, e, results["sweep_models"][-1], f"{results['sweep_models'][-1]} + {e}",
                                    color=colours[e], dashed=True))],
                          f"Encoders, plain (solid) and pre-edited (dashed), protocol '{protocol}'")
    for name, rgb in images.items():
        row = results["table1"]["full"]
        panels = [("original", rgb), (_caption(f"JPEG Q{quality}", row[PLAIN]["images"][name]),
                                      codec.jpeg_roundtrip(rgb, quality)[0])]
        for model in results["models"]:
            decoded = codec.jpeg_roundtrip(edited[model]["full"][name][0], quality)[0]
            panels.append((_caption(f"{model} + JPEG Q{quality}", row[model]["images"][name]), decoded))
        panels.append((f"{final} output (before JPEG)", edited[final]["full"][name][0]))
        names["visual"][name] = f"visual_{name}.jpg"
        figures.visual_grid(os.path.join(out, names["visual"][name]), panels, figures.detail_crop(rgb),
                            f"{name}: plain JPEG vs Modify-Net + JPEG at Q{quality} (OpenCV), zoom below")
    return names


def _caption(label, row):
    """Panel caption: label, then PSNR and bpp of a measurement row."""
    return f"{label}\n{row['psnr']:.2f} dB, {row['bpp']:.3f} bpp"


def describe_source(source, images):
    """The "source" entry of the results: what was evaluated, paths relative to the working directory
    (a report committed beside the models names them as the repository does, not as one machine does).

    Args:
      source: from :func:`resolve_source`; images: from :func:`load_images` on its image paths.
    """
    return {"name": source["name"], "kind": source["kind"], "path": os.path.relpath(source["path"]),
            "models": {name: os.path.relpath(path) for name, path, _ in source["models"]},
            "image_paths": {name: os.path.relpath(p) for name, p in zip(images, source["image_paths"])}}


def write_outputs(out, results, images, edited):
    """Write the figures, metrics.json (strict JSON: NaN and infinities as null) and report.md into ``out``.

    Returns:
      the figure names of :func:`write_figures`.
    """
    figure_names = write_figures(out, results, images, edited)
    files.write_json(os.path.join(out, "metrics.json"), metrics.json_ready(results), indent=None)  # large: compact
    files.write_text(os.path.join(out, "report.md"), report.render(results, figure_names))
    return figure_names
