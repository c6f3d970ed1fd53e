"""Encoder latency per megapixel: plain OpenCV and mozjpeg against Modify-Nets + JPEG in every deployment form.

On Kodak-sized (768x512) and 2-megapixel (1732x1155, resized from the Kodak images)
images, in one run and on the same images, each timed call goes from the image to JPEG
file bytes. Two plain encoders, no pre-edit:

  opencv          OpenCV JPEG (libjpeg-turbo), baseline 4:2:0, optimised Huffman tables
                  (the reference of every ratio);
  mozjpeg         ``tfjpegnet.jpeg.encoders.encode("mozjpeg", ...)``: mozjpeg through
                  libvips (trellis quantisation, progressive, table set 3).

and for every --model (one or more .keras Modify-Nets, the paper's VDSR stack or a light
net from ``models.build_light_modify_net``), the edit and then the --model-encoder
(default OpenCV as above):

  keras+opencv    the .keras Modify-Net loaded as ``tfjpegnet encode --model M.keras`` does
                  (a tf.function), then the JPEG encoder;
  savedmodel      the exported SavedModel's ``encode`` signature: PNG file bytes in, JPEG
                  file bytes out (PNG decode, Modify-Net and ``tf.io.encode_jpeg`` inside,
                  whatever --model-encoder says);
  tflite-float32, tflite-fp16, tflite-int8
                  the TFLite files run by the LiteRT interpreter (``ai_edge_litert``, its
                  default XNNPACK CPU delegate), then the JPEG encoder.

Besides the whole call, the edit alone (uint8 image in, edited uint8 image out, no JPEG)
is timed inside the same call, for every model row but ``savedmodel`` (one graph). Each
model's parameters and GFLOP per megapixel (``models.cost``) are listed with its files.
Whole images go through the networks (no tiling). The SavedModel and TFLite files are
built from each --model in a scratch folder with the deployment module's own functions
(``savedmodel.write_saved_model``, ``tflite.write_tflite``), or, with ``--shipped DIR``, are
the exported files in DIR themselves (checked to edit as the .keras model does). The first call per image and
method is a warm-up and is not timed; all methods of all models alternate within each
repeat so that other load on the machine hits them alike. p50 and p90 are over all
images x repeats, in ms per megapixel; ratio = p50 / p50 of plain OpenCV at that size.

    python benchmarks/bench_encode.py --data-dir ../shared/data/kodak \\
        --model runs/paper_cq_q15/stage1/modify_net.keras light=runs/light_q15_final/stage1/modify_net.keras
    python benchmarks/bench_encode.py --quick --data-dir DIR     # two tiny models, tiny images: seconds

A model is named by ``NAME=PATH``, or else by its run folder (``runs/<run>/stage1/...`` ->
``<run>``). Prints a table and writes JSON (--out) and the same tables as Markdown beside it
(.md), atomically; paths in them are relative to the repository (data: ``DIR/...``).
"""

import argparse
import importlib.metadata
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench_train import machine_info, write_results  # noqa: E402  (benchmarks/ is this script's folder)
from tfjpegnet import datasets, models  # noqa: E402
from tfjpegnet.deploy import savedmodel, tflite  # noqa: E402
from tfjpegnet.jpeg import codec, encoders  # noqa: E402
from tfjpegnet.training.config import parse_quality_range  # noqa: E402

BASELINES = ("opencv", "mozjpeg")
MODEL_ENCODERS = ("opencv", "mozjpeg")  # what follows the edit (--model-encoder)
TFLITE_METHODS = tuple(f"tflite-{variant}" for variant in tflite.VARIANTS)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "benchmarks", "results", "bench_encode.json")
# name -> (width, height). Full: Kodak's own size and about 2 megapixels; --quick: tiny.
FULL = dict(sizes={"kodak": (768, 512), "2mp": (1732, 1155)}, repeats=5, calibration_patches=64)
QUICK = dict(sizes={"kodak": (96, 64), "2mp": (216, 144)}, repeats=3, calibration_patches=8)


def perturbed(net, seed):
    """``net`` with small random noise (std 0.003) added to every weight, so it is not the identity."""
    rng = np.random.default_rng(seed)
    for weight in net.weights:
        weight.assign(weight.numpy() + rng.normal(0, 0.003, weight.shape).astype(np.float32))
    return net


def tiny_model(path, seed=0):
    """Save a 3x8 paper-style Modify-Net with small random weights to ``path``; returns the path."""
    keras.utils.set_random_seed(seed)
    perturbed(models.build_modify_net(depth=3, filters=8), seed).save(path)
    return path


def tiny_light_model(path, seed=1):
    """Save a tiny light Modify-Net (unshuffle 4, 8 filters, 1 block) with small random weights; returns the path."""
    keras.utils.set_random_seed(seed)
    perturbed(models.build_light_modify_net(factor=4, filters=8, blocks=1), seed).save(path)
    return path


def shown_path(path, data_dir=None):
    """``path`` as written to the results (never a machine's absolute path): ``DIR/...`` inside
    ``data_dir``, else relative to the repository, else ``...`` and its last three components."""
    absolute = os.path.abspath(path)

    def inside(root):
        root = os.path.abspath(root)
        return os.path.commonpath([absolute, root]) == root

    if data_dir and inside(data_dir):
        return os.path.normpath(os.path.join("DIR", os.path.relpath(absolute, os.path.abspath(data_dir))))
    if inside(REPO):
        return os.path.relpath(absolute, REPO)
    return os.path.join("...", *absolute.split(os.sep)[-3:])


def default_name(path):
    """A model's short name from its path: the run folder of ``<run>/stageN/x.keras``, else the
    file's folder, else the file's stem."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)[:-1]
    if parts and re.fullmatch(r"stage\d+", parts[-1]):
        parts = parts[:-1]
    name = parts[-1] if parts and parts[-1] else ""
    return name or os.path.splitext(os.path.basename(path))[0]


def parse_model(spec):
    """``NAME=PATH`` or ``PATH`` -> (name, path)."""
    name, sep, path = spec.partition("=")
    if sep and name and "/" not in name and os.sep not in name and not os.path.exists(spec):
        return name, path
    return default_name(spec), spec


def describe(model):
    """A short architecture label of a Modify-Net built by :mod:`tfjpegnet.models` (str)."""
    layers = {layer.name: layer for layer in model.layers}
    mcu = f", MCU branch {layers['mcu1'].filters}" if "mcu1" in layers else ""
    if any(isinstance(layer, models.SpaceToDepth) for layer in model.layers) and "conv_in" in layers:
        blocks = sum(1 for name in layers if re.fullmatch(r"block\d+_depthwise", name))
        return (f"light: unshuffle {layers['unshuffle'].factor}, {layers['conv_in'].filters} filters, "
                f"{blocks} block{'' if blocks == 1 else 's'}{mcu}")
    convs = [layer for name, layer in layers.items() if re.fullmatch(r"conv\d+", name)]
    if convs:
        return f"paper: {len(convs)}x{convs[0].filters} convolutions{mcu}"
    return model.name


def resized(rgb, size):
    """RGB uint8 [H, W, 3] as exactly ``size`` = (width, height): itself, or resized (area / cubic)."""
    width, height = size
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def png_bytes(rgb):
    """PNG file bytes of an RGB uint8 image (what the SavedModel's ``encode`` takes)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    assert ok
    return buf.tobytes()


def jpeg_encoder(name, quality):
    """``name`` (``opencv`` or ``mozjpeg``) as a callable rgb uint8 -> JPEG bytes at ``quality``."""
    if name == "opencv":
        return lambda rgb: codec.encode_jpeg(rgb, quality, optimize=True)
    encoders.encode(name, np.zeros((16, 16, 3), np.uint8), quality)  # mozjpeg: its check, once, untimed
    return lambda rgb: encoders.encode(name, rgb, quality)


def baseline_methods(quality):
    """The plain encoders: dict name -> (None, callable(rgb, png) -> JPEG bytes)."""
    return {name: (None, lambda rgb, png, e=jpeg_encoder(name, quality): e(rgb)) for name in BASELINES}


def shipped_files(folder, name):
    """The exported files of model ``name`` in ``folder`` (tools/export.py's layout):
    (``folder/name/<highest version>``, {variant: ``folder/name[_fp16|_int8].tflite``} for the
    variants exported, float32 always among them). Exits with a message if the SavedModel or the
    float32 TFLite file is missing."""
    base = os.path.join(folder, name)
    versions = sorted((int(v) for v in os.listdir(base) if v.isdigit()), reverse=True) if os.path.isdir(base) else []
    paths = {variant: tflite.tflite_path(folder, name, variant) for variant in tflite.VARIANTS}
    paths = {v: p for v, p in paths.items() if v == "float32" or os.path.isfile(p)}
    missing = [p for p in paths.values() if not os.path.isfile(p)] + ([] if versions else [base + "/<version>"])
    if missing:
        sys.exit(f"bench_encode.py: --shipped {folder}: model {name!r} lacks {', '.join(missing)}")
    return os.path.join(base, str(versions[0])), paths


def run_tflite(runner, rgb, quality):
    """The edit of a TFLite ``runner`` (a net for every quality gets ``quality``): RGB uint8 [H, W, 3] -> uint8."""
    x = rgb.astype(np.float32) / 255.0
    return tflite.to_uint8(runner(x, quality) if runner.conditioned else runner(x))


def check_same_model(editor, runner, probe, where, quality):
    """Exit with a message unless the float32 TFLite ``runner`` edits ``probe`` (RGB uint8 [h, w, 3])
    as the .keras ``editor`` does, within 2 levels of 255: the shipped files are that model."""
    difference = np.abs(run_tflite(runner, probe, quality).astype(int) - editor(probe).astype(int)).max()
    if difference > 2:
        sys.exit(f"bench_encode.py: {where} edits differently from its --model (max {difference} levels): "
                 "not an export of that model")


def build_encoders(model_path, quality, scratch, calibration, threads, model_encoder="opencv", shipped=None,
                   probe=None, qualities=None):
    """Every method of one model as a pair (edit, finish).

    A net for every quality edits for ``quality`` in every form; exporting one into ``scratch``
    needs ``qualities`` (lo, hi), its trained range.

    ``shipped``: None (export the model's SavedModel and TFLite files into ``scratch``) or
    :func:`shipped_files`' result (time those files as they are; checked against the .keras
    model on ``probe``, an RGB uint8 image, with :func:`check_same_model`).

    ``edit(rgb uint8 [H, W, 3], png bytes)`` returns the edited uint8 image and
    ``finish(edited, png)`` its JPEG bytes; for ``savedmodel`` edit is None and finish
    does everything from the PNG bytes.

    Returns:
      (dict method -> (edit, finish), dict of model file sizes in bytes, the keras.Model).
    """
    modify_net = savedmodel.load_keras_model(model_path)
    conditioned = models.is_conditioned(modify_net)
    # As tfjpegnet encode runs a .keras net: one tf.function (a net for every quality edits for --quality).
    keras_edit = tf.function(lambda images: savedmodel.edit_uint8(modify_net, images, quality if conditioned else None),
                             input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])

    def editor(rgb):
        return keras_edit(tf.constant(rgb[None])).numpy()[0]

    if shipped:
        version_dir, tflite_paths = shipped
    else:
        if conditioned and qualities is None:
            sys.exit(f"bench_encode.py: {model_path} is a net for every quality: give --qualities LO-HI "
                     "(its trained range) or time its exported files with --shipped")
        version_dir = savedmodel.write_saved_model(modify_net, qualities if conditioned else quality,
                                                   os.path.join(scratch, "saved_models", "bench"))
        tflite_paths = tflite.write_tflite(modify_net, scratch, "bench", calibration,
                                           qualities if conditioned else None)
    encode_signature = tf.saved_model.load(version_dir).signatures["encode"]
    with_quality = {"quality": tf.constant([quality])} if conditioned else {}
    runners = {variant: tflite.Runner(path, num_threads=threads) for variant, path in tflite_paths.items()}
    if shipped:
        check_same_model(editor, runners["float32"], probe, tflite_paths["float32"], quality)
    jpeg = jpeg_encoder(model_encoder, quality)

    def finish(edited, png):
        return jpeg(edited)

    def with_runner(runner):
        return lambda rgb, png: run_tflite(runner, rgb, quality)

    methods = {
        f"keras+{model_encoder}": (lambda rgb, png: editor(rgb), finish),
        "savedmodel": (None, lambda rgb, png: encode_signature(
            image_bytes=tf.constant([png]), **with_quality)["jpeg_bytes"][0].numpy()),
    }
    methods.update({f"tflite-{variant}": (with_runner(runner), finish) for variant, runner in runners.items()})
    sizes = {"keras": os.path.getsize(model_path), "savedmodel": savedmodel.folder_size(version_dir)}
    sizes.update({f"tflite-{variant}": os.path.getsize(path) for variant, path in tflite_paths.items()})
    files = {"savedmodel": version_dir, **{f"tflite-{v}": path for v, path in tflite_paths.items()}} if shipped else {}
    return methods, sizes, modify_net, files


def call(method, rgb, png):
    """Run one method (edit, finish) once: returns (JPEG bytes, edit ms or None, total ms)."""
    edit, finish = method
    start = time.perf_counter()
    if edit is None:
        jpeg, edit_ms = finish(rgb, png), None
    else:
        edited = edit(rgb, png)
        edit_ms = 1000 * (time.perf_counter() - start)
        jpeg = finish(edited, png)
    return jpeg, edit_ms, 1000 * (time.perf_counter() - start)


def time_methods(methods, images, repeats):
    """Latency of every method on every image.

    Args:
      methods: dict key -> (edit, finish) as from :func:`build_encoders` / :func:`baseline_methods`.
      images: list of RGB uint8 [H, W, 3] of one size class.
      repeats: timed calls per image and method (after one untimed warm-up call).

    Returns:
      dict key -> {"ms": list of float (one per image x repeat), "edit_ms": the same for
      the edit alone (empty without a separate edit), "bpp": mean bits per pixel of the
      JPEG files}. Raises AssertionError if a method's output is not a JPEG of the input's size.
    """
    result = {key: {"ms": [], "edit_ms": [], "bits": 0, "pixels": 0} for key in methods}
    for rgb in images:
        png = png_bytes(rgb)
        for key, method in methods.items():  # warm-up: tracing, tensor allocation
            jpeg, _, _ = call(method, rgb, png)
            assert codec.decode_jpeg(jpeg).shape == rgb.shape, key
            result[key]["bits"] += 8 * len(jpeg)
            result[key]["pixels"] += rgb.shape[0] * rgb.shape[1]
        for _ in range(repeats):
            for key, method in methods.items():
                _, edit_ms, ms = call(method, rgb, png)
                result[key]["ms"].append(ms)
                if edit_ms is not None:
                    result[key]["edit_ms"].append(edit_ms)
    return {key: {"ms": r["ms"], "edit_ms": r["edit_ms"], "bpp": r["bits"] / r["pixels"]}
            for key, r in result.items()}


def summarise(size_name, size, timings):
    """Result rows of one size class (list of dicts, in the order of ``timings``: keys
    (model name or None, method)), ratios against plain OpenCV's p50."""
    megapixels = size[0] * size[1] / 1e6
    rows = []
    for (model, method), timing in timings.items():
        ms, edit_ms = np.array(timing["ms"]), np.array(timing["edit_ms"])
        row = {"size": size_name, "width": size[0], "height": size[1], "megapixels": megapixels,
               "model": model, "method": method, "samples": int(ms.size),
               "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
               "edit_p50_ms": None, "edit_p90_ms": None, "bpp": timing["bpp"]}
        if edit_ms.size:
            row["edit_p50_ms"] = float(np.percentile(edit_ms, 50))
            row["edit_p90_ms"] = float(np.percentile(edit_ms, 90))
        for key in ("p50", "p90", "edit_p50", "edit_p90"):
            value = row[f"{key}_ms"]
            row[f"{key}_ms_per_mp"] = None if value is None else value / megapixels
        rows.append(row)
    base = next(row["p50_ms_per_mp"] for row in rows if row["model"] is None and row["method"] == "opencv")
    for row in rows:
        row["ratio_p50_vs_opencv"] = row["p50_ms_per_mp"] / base
        row["edit_ratio_p50_vs_opencv"] = (None if row["edit_p50_ms_per_mp"] is None
                                           else row["edit_p50_ms_per_mp"] / base)
    return rows


def _number(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows):
    """The result rows as a plain-text table (str)."""
    lines = [f"{'size':14s} {'model':16s} {'method':15s} {'p50 ms/MP':>10s} {'p90 ms/MP':>10s} {'p50 ms':>9s} "
             f"{'x opencv':>9s} {'edit ms/MP':>10s} {'edit x':>8s} {'bpp':>6s}"]
    for row in rows:
        size = f"{row['size']} {row['width']}x{row['height']}"
        lines.append(f"{size:14s} {row['model'] or '-':16s} {row['method']:15s} {row['p50_ms_per_mp']:10.1f} "
                     f"{row['p90_ms_per_mp']:10.1f} {row['p50_ms']:9.1f} {row['ratio_p50_vs_opencv']:9.1f} "
                     f"{_number(row['edit_p50_ms_per_mp']):>10s} {_number(row['edit_ratio_p50_vs_opencv']):>8s} "
                     f"{row['bpp']:6.3f}")
    return "\n".join(lines)


def format_models(model_info):
    """The models (list of dicts from :func:`main`) as a plain-text table (str)."""
    lines = [f"{'model':16s} {'parameters':>10s} {'GFLOP/MP':>9s}  file, architecture"]
    for info in model_info:
        lines.append(f"{info['name']:16s} {info['parameters']:10d} {info['gflops_per_megapixel']:9.2f}  "
                     f"{info['path']}, {info['architecture']}")
    return "\n".join(lines)


def conditions(results):
    """One sentence on where and how the run was made (str, Markdown)."""
    info, settings = results["machine"], results["settings"]
    end = info.get("load_average_1min_end")
    end = f", {end:.1f} at end" if end is not None else ""
    return (f"quality {settings['quality']}, {len(settings['images'])} image(s) x {settings['repeats']} repeats; "
            f"{info['cpu']}, {info['cpu_count']} cores ({len(info['cpu_affinity'])} usable by this process), "
            f"TensorFlow {info['tensorflow']} (intra-op threads {info['tf_intra_op_threads'] or 'default'}), "
            f"LiteRT {info['litert']} with {settings['litert_threads']} thread(s), OpenCV {info['opencv']}, "
            f"libvips {info['libvips']} (concurrency {info['vips_concurrency']}); load average "
            f"{info['load_average_1min']:.1f} at start{end}")


def format_markdown(results):
    """The results as Markdown: conditions and command, the models, the latency table (str)."""
    settings = results["settings"]
    encoder = settings["model_encoder"]
    lines = [f"Encode latency per megapixel at {conditions(results)}. `{results['command']}`", "",
             "| model | file | architecture | parameters | GFLOP/MP | keras MB | savedmodel MB | "
             "tflite float32 / fp16 / int8 MB |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for info in results["models"]:
        size = {key: f"{value / 1e6:.3f}" for key, value in info["bytes"].items()}
        tflite_mb = " / ".join(size.get(m, "-") for m in TFLITE_METHODS)
        lines.append(f"| {info['name']} | `{info['path']}` | {info['architecture']} | {info['parameters']:,} | "
                     f"{info['gflops_per_megapixel']:.2f} | {size['keras']} | {size['savedmodel']} | {tflite_mb} |")
    timed = [(info["name"], info["files"]) for info in results["models"] if info.get("files")]
    if timed:
        lines += ["", "Timed as shipped (the files themselves, checked to edit as the .keras model does): " + "; ".join(
            f"{name}: " + ", ".join(f"`{path}`" for path in files.values()) for name, files in timed) + "."]
    after = ("OpenCV (libjpeg-turbo, baseline 4:2:0, optimised Huffman tables, as the `opencv` row)"
             if encoder == "opencv" else "mozjpeg (as the `mozjpeg` row)")
    lines += ["", f"Model rows: the edit, then {after}; `savedmodel` is its `encode` signature (PNG bytes to "
                  "JPEG bytes, `tf.io.encode_jpeg` inside). \"edit\" is the network alone (uint8 image in, edited "
                  "uint8 image out) within the same call; x OpenCV = p50 / p50 of plain `opencv` at that size.", "",
              "| size | model | method | p50 ms/MP | p90 ms/MP | p50 ms | x OpenCV (p50) | edit p50 ms/MP | "
              "edit x OpenCV | bpp |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        lines.append(f"| {row['size']} {row['width']}x{row['height']} | {row['model'] or '-'} | {row['method']} | "
                     f"{row['p50_ms_per_mp']:.1f} | {row['p90_ms_per_mp']:.1f} | {row['p50_ms']:.1f} | "
                     f"{row['ratio_p50_vs_opencv']:.1f} | {_number(row['edit_p50_ms_per_mp'])} | "
                     f"{_number(row['edit_ratio_p50_vs_opencv'])} | {row['bpp']:.3f} |")
    return "\n".join(lines) + "\n"


def run_conditions():
    """:func:`bench_train.machine_info` plus what this benchmark's speed depends on (dict)."""
    import pyvips  # noqa: PLC0415  (the mozjpeg encoder's library; loaded by encoders anyway)

    info = machine_info()
    info["cpu_affinity"] = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(
        range(os.cpu_count() or 1))
    info["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    info["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    info["litert"] = importlib.metadata.version("ai-edge-litert")
    info["pyvips"] = pyvips.__version__
    info["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    info["vips_concurrency"] = pyvips.concurrency_get()
    return info


def shown_command(argv, data_dir):
    """The command line as written to the results: data folder as DIR, other paths via :func:`shown_path`."""
    def show(token):
        flag, sep, value = token.partition("=")
        if sep and flag.startswith("--"):
            return f"{flag}={show(value)}"
        if data_dir and os.path.abspath(token) == os.path.abspath(data_dir):
            return "DIR"
        name, sep, path = token.partition("=")
        if sep and "/" not in name and not os.path.exists(token) and (os.path.isabs(path) or os.path.exists(path)):
            return f"{name}={shown_path(path, data_dir)}"
        if not token.startswith("-") and (os.path.isabs(token) or os.path.exists(token)):
            return shown_path(token, data_dir)
        return token

    return " ".join([os.path.basename(argv[0]), *(show(token) for token in argv[1:])])


def parse_args(argv):
    """Parse the command line; --quick swaps in tiny defaults (explicit flags still win)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", nargs="+", action="extend", metavar="[NAME=]M.keras",
                        help="trained Modify-Net .keras file(s), each optionally named NAME=PATH (default name: "
                             "the run folder, runs/<run>/stageN/...); repeatable. Required unless --quick, "
                             "which builds a tiny paper net and a tiny light net")
    parser.add_argument("--shipped", metavar="DIR",
                        help="time the exported files in DIR (tools/export.py's layout: DIR/NAME/<version> and "
                             "DIR/NAME[_fp16|_int8].tflite, NAME = each --model's name) instead of exporting each "
                             "--model to a scratch folder; each is checked to edit as its .keras model does")
    parser.add_argument("--quality", type=int, default=15,
                        help="JPEG quality (also what a net for every quality edits for)")
    parser.add_argument("--qualities", default=None, metavar="LO-HI",
                        help="the trained range of a net for every quality among --model, to export it "
                             "(not needed with --shipped)")
    parser.add_argument("--model-encoder", choices=MODEL_ENCODERS, default="opencv",
                        help="JPEG encoder after the edit in the keras and tflite rows (opencv: optimised "
                             "Huffman tables, as the opencv row)")
    parser.add_argument("--sizes", default=",".join(FULL["sizes"]),
                        help="comma-separated size classes to time (--quick: the same names, tiny sizes)")
    parser.add_argument("--data-dir", help="images; the test split is used (default: the Kodak suite, "
                                           "kodim22..24, downloaded once)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON results file (the Markdown tables go beside it, .md)")
    parser.add_argument("--quick", action="store_true", help="tiny models and images, to check the script works")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed calls per image and method (default {FULL['repeats']}; --quick: "
                             f"{QUICK['repeats']})")
    parser.add_argument("--calibration-patches", type=int, default=None,
                        help=f"64x64 training patches for int8 calibration (default "
                             f"{FULL['calibration_patches']}; --quick: {QUICK['calibration_patches']})")
    default_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--threads", type=int, default=default_threads,
                        help="LiteRT interpreter threads (default: the cores this process may use)")
    args = parser.parse_args(argv)
    for key in ("repeats", "calibration_patches"):
        if getattr(args, key) is None:
            setattr(args, key, (QUICK if args.quick else FULL)[key])
    all_sizes = (QUICK if args.quick else FULL)["sizes"]
    names = [name.strip() for name in args.sizes.split(",") if name.strip()]
    unknown = [name for name in names if name not in all_sizes]
    if unknown or not names:
        parser.error(f"--sizes: unknown size(s) {unknown}; choose from {','.join(all_sizes)}")
    args.sizes = {name: all_sizes[name] for name in all_sizes if name in names}
    if not args.model and not args.quick:
        parser.error("--model M.keras is required (or --quick, which uses two tiny models)")
    args.models = [parse_model(spec) for spec in args.model or []]
    seen = [name for name, _ in args.models]
    duplicates = sorted({name for name in seen if seen.count(name) > 1})
    if duplicates:
        parser.error(f"--model: two models named {', '.join(duplicates)}; name them, e.g. --model A=PATH B=PATH")
    return args


def main(argv=None):
    """Run the benchmark, print the tables, write the JSON and Markdown; returns 0."""
    argv = sys.argv if argv is None else [sys.argv[0], *argv]
    args = parse_args(argv[1:])
    info = run_conditions()
    paths = datasets.find_images(args.data_dir) if args.data_dir else datasets.kodak_paths()
    data_root = args.data_dir or os.path.dirname(paths[0])
    train_paths, test_paths = datasets.split_images(paths)
    originals = [codec.read_image(p) for p in test_paths]
    with tempfile.TemporaryDirectory(prefix="bench_encode_") as scratch:
        model_specs = args.models or [
            ("tiny-paper", tiny_model(os.path.join(scratch, "tiny_paper.keras"))),
            ("tiny-light", tiny_light_model(os.path.join(scratch, "tiny_light.keras")))]
        calibration = tflite.calibration_patches(train_paths, args.calibration_patches)
        qualities = parse_quality_range(args.qualities) if args.qualities else None
        methods = {(None, name): method for name, method in baseline_methods(args.quality).items()}
        model_info = []
        for index, (name, path) in enumerate(model_specs):
            shipped = shipped_files(args.shipped, name) if args.shipped else None
            built, sizes, net, files = build_encoders(path, args.quality, os.path.join(scratch, f"model{index}"),
                                                      calibration, args.threads, args.model_encoder, shipped,
                                                      probe=originals[0][:128, :128], qualities=qualities)
            methods.update({(name, method): pair for method, pair in built.items()})
            shown = shown_path(path) if args.models else f"{os.path.basename(path)} (built by --quick)"
            model_info.append({"name": name, "path": shown, "files": {k: shown_path(v) for k, v in files.items()},
                               "architecture": describe(net), **models.cost(net), "bytes": sizes})
        rows = []
        for size_name, size in args.sizes.items():
            images = [resized(rgb, size) for rgb in originals]
            rows += summarise(size_name, size, time_methods(methods, images, args.repeats))
    info["load_average_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = {"benchmark": "encode", "command": shown_command(argv, args.data_dir),
               "quick": args.quick, "machine": info,
               "settings": {"models": [{"name": m["name"], "path": m["path"]} for m in model_info],
                            "quality": args.quality, "repeats": args.repeats, "litert_threads": args.threads,
                            "model_encoder": args.model_encoder,
                            "images": [shown_path(p, data_root) for p in test_paths],
                            "calibration_patches": int(len(calibration)),
                            "sizes": {name: list(size) for name, size in args.sizes.items()}},
               "models": model_info, "rows": rows}
    print(f"Encode latency at {conditions(results)}")
    print(format_models(model_info))
    print(format_table(rows))
    write_results(args.out, results, format_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
