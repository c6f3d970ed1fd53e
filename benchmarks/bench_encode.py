"""Encoder latency per megapixel: plain OpenCV JPEG against Modify-Net + JPEG in every deployment form.

On Kodak-sized (768x512) and 2-megapixel (1732x1155, resized from the Kodak images)
images, in one run and on the same images, each timed call goes from the image to JPEG
file bytes:

  opencv          plain JPEG with OpenCV (no pre-edit);
  keras+opencv    the .keras Modify-Net loaded as ``tfjpegnet encode --model M.keras`` does
                  (a tf.function), then the same OpenCV JPEG;
  savedmodel      the exported SavedModel's ``encode`` signature: PNG file bytes in, JPEG
                  file bytes out (PNG decode, Modify-Net and ``tf.io.encode_jpeg`` inside);
  tflite-float32, tflite-fp16, tflite-int8
                  the TFLite files run by the LiteRT interpreter (``ai_edge_litert``, its
                  default XNNPACK CPU delegate), then the same OpenCV JPEG.

OpenCV JPEG everywhere is baseline 4:2:0 with optimised Huffman tables at --quality (as
``tfjpegnet encode`` writes). Whole images go through the networks (no tiling). The
SavedModel and TFLite files are built from --model in a scratch folder with the
deployment module's own functions (``savedmodel.write_saved_model``, ``tflite.write_tflite``).
The first call per image and method is a warm-up and is not timed; the methods alternate
within each repeat so that other load on the machine hits them alike. p50 and p90 are
over all images x repeats, in ms per megapixel; ratio = p50 / p50 of plain OpenCV.

    python benchmarks/bench_encode.py --model runs/q15/stage3/modify_net.keras --data-dir ../shared/data/kodak
    python benchmarks/bench_encode.py --quick --data-dir DIR     # tiny model and images: seconds

Prints a table and writes JSON (--out) and the same table as Markdown beside it (.md), atomically.
"""

import argparse
import os
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
from tfjpegnet.deploy import encode, savedmodel, tflite  # noqa: E402
from tfjpegnet.jpeg import codec  # noqa: E402

METHODS = ("opencv", "keras+opencv", "savedmodel", "tflite-float32", "tflite-fp16", "tflite-int8")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_encode.json")
# name -> (width, height). Full: Kodak's own size and about 2 megapixels; --quick: tiny.
FULL = dict(sizes={"kodak": (768, 512), "2mp": (1732, 1155)}, repeats=5, calibration_patches=64)
QUICK = dict(sizes={"kodak": (96, 64), "2mp": (216, 144)}, repeats=3, calibration_patches=8)


def tiny_model(path, seed=0):
    """Save a 3x8 Modify-Net with small random weights (not the identity) to ``path``; returns it."""
    keras.utils.set_random_seed(seed)
    net = models.build_modify_net(depth=3, filters=8)
    rng = np.random.default_rng(seed)
    for weight in net.weights:
        weight.assign(weight.numpy() + rng.normal(0, 0.003, weight.shape).astype(np.float32))
    net.save(path)
    return path


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


def build_encoders(model_path, quality, scratch, calibration, threads):
    """Every method of :data:`METHODS` as a callable (rgb uint8 [H, W, 3], png bytes) -> JPEG bytes.

    Returns:
      (dict method -> callable, dict of model file sizes in bytes).
    """
    modify_net = savedmodel.load_keras_model(model_path)
    editor = encode.load_editor(model_path)
    version_dir = savedmodel.write_saved_model(modify_net, quality, os.path.join(scratch, "saved_models", "bench"))
    encode_signature = tf.saved_model.load(version_dir).signatures["encode"]
    tflite_paths = tflite.write_tflite(modify_net, scratch, "bench", calibration)
    runners = {variant: tflite.Runner(path, num_threads=threads) for variant, path in tflite_paths.items()}

    def opencv_jpeg(rgb):
        return codec.encode_jpeg(rgb, quality, optimize=True)

    def with_runner(runner):
        return lambda rgb, png: opencv_jpeg(tflite.to_uint8(runner(rgb.astype(np.float32) / 255.0)))

    methods = {
        "opencv": lambda rgb, png: opencv_jpeg(rgb),
        "keras+opencv": lambda rgb, png: opencv_jpeg(editor(rgb)),
        "savedmodel": lambda rgb, png: encode_signature(image_bytes=tf.constant([png]))["jpeg_bytes"][0].numpy(),
    }
    methods.update({f"tflite-{variant}": with_runner(runner) for variant, runner in runners.items()})
    sizes = {"keras": os.path.getsize(model_path), "savedmodel": savedmodel.folder_size(version_dir)}
    sizes.update({f"tflite-{variant}": os.path.getsize(path) for variant, path in tflite_paths.items()})
    return methods, sizes


def time_methods(methods, images, repeats):
    """Latency of every method on every image.

    Args:
      methods: dict name -> callable(rgb, png) -> JPEG bytes.
      images: list of RGB uint8 [H, W, 3] of one size class.
      repeats: timed calls per image and method (after one untimed warm-up call).

    Returns:
      dict name -> {"ms": list of float (one per image x repeat), "bpp": mean bits per
      pixel of the JPEG files}. Raises AssertionError if a method's output is not a JPEG
      of the input's size.
    """
    result = {name: {"ms": [], "bits": 0, "pixels": 0} for name in methods}
    for rgb in images:
        png = png_bytes(rgb)
        for name, method in methods.items():  # warm-up: tracing, tensor allocation
            jpeg = method(rgb, png)
            assert codec.decode_jpeg(jpeg).shape == rgb.shape, name
            result[name]["bits"] += 8 * len(jpeg)
            result[name]["pixels"] += rgb.shape[0] * rgb.shape[1]
        for _ in range(repeats):
            for name, method in methods.items():
                start = time.perf_counter()
                method(rgb, png)
                result[name]["ms"].append(1000 * (time.perf_counter() - start))
    return {name: {"ms": r["ms"], "bpp": r["bits"] / r["pixels"]} for name, r in result.items()}


def summarise(size_name, size, timings):
    """Result rows of one size class (list of dicts), ratio against plain OpenCV's p50."""
    megapixels = size[0] * size[1] / 1e6
    rows = []
    for name in METHODS:
        ms = np.array(timings[name]["ms"])
        rows.append({"size": size_name, "width": size[0], "height": size[1], "megapixels": megapixels,
                     "method": name, "samples": int(ms.size),
                     "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
                     "p50_ms_per_mp": float(np.percentile(ms, 50)) / megapixels,
                     "p90_ms_per_mp": float(np.percentile(ms, 90)) / megapixels,
                     "bpp": timings[name]["bpp"]})
    base = rows[0]["p50_ms_per_mp"]
    for row in rows:
        row["ratio_p50_vs_opencv"] = row["p50_ms_per_mp"] / base
    return rows


def format_table(rows):
    """The result rows as a plain-text table (str)."""
    lines = [f"{'size':14s} {'method':15s} {'p50 ms/MP':>10s} {'p90 ms/MP':>10s} {'p50 ms':>9s} "
             f"{'x opencv':>9s} {'bpp':>6s}"]
    for row in rows:
        size = f"{row['size']} {row['width']}x{row['height']}"
        lines.append(f"{size:14s} {row['method']:15s} {row['p50_ms_per_mp']:10.1f} {row['p90_ms_per_mp']:10.1f} "
                     f"{row['p50_ms']:9.1f} {row['ratio_p50_vs_opencv']:9.1f} {row['bpp']:6.3f}")
    return "\n".join(lines)


def format_markdown(results):
    """The results as a Markdown table with the machine and command above it (str)."""
    info, settings = results["machine"], results["settings"]
    lines = [f"Encode latency per megapixel at quality {settings['quality']}, {len(settings['images'])} image(s) x "
             f"{settings['repeats']} repeats; {info['cpu']}, {info['cpu_count']} cores, TensorFlow "
             f"{info['tensorflow']}, LiteRT {settings['litert_threads']} thread(s), load average "
             f"{info['load_average_1min']:.1f} at start. `{results['command']}`", "",
             "| size | method | p50 ms/MP | p90 ms/MP | p50 ms | x OpenCV (p50) | bpp |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        lines.append(f"| {row['size']} {row['width']}x{row['height']} | {row['method']} | "
                     f"{row['p50_ms_per_mp']:.1f} | {row['p90_ms_per_mp']:.1f} | {row['p50_ms']:.1f} | "
                     f"{row['ratio_p50_vs_opencv']:.1f} | {row['bpp']:.3f} |")
    sizes = ", ".join(f"{name} {size / 1e6:.3f} MB" for name, size in results["model_bytes"].items())
    return "\n".join(lines) + f"\n\nModel files: {sizes}.\n"


def parse_args(argv):
    """Parse the command line; --quick swaps in tiny defaults (explicit flags still win)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", help="trained Modify-Net .keras file (required unless --quick, "
                                        "which builds a tiny one)")
    parser.add_argument("--quality", type=int, default=15, help="JPEG quality")
    parser.add_argument("--data-dir", help="images; the test split is used (default: the Kodak suite, "
                                           "kodim22..24, downloaded once)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON results file (a Markdown table goes beside it, .md)")
    parser.add_argument("--quick", action="store_true", help="tiny model and images, to check the script works")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed calls per image and method (default {FULL['repeats']}; --quick: "
                             f"{QUICK['repeats']})")
    parser.add_argument("--calibration-patches", type=int, default=None,
                        help=f"64x64 training patches for int8 calibration (default "
                             f"{FULL['calibration_patches']}; --quick: {QUICK['calibration_patches']})")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="LiteRT interpreter threads")
    args = parser.parse_args(argv)
    for key in ("repeats", "calibration_patches"):
        if getattr(args, key) is None:
            setattr(args, key, (QUICK if args.quick else FULL)[key])
    args.sizes = (QUICK if args.quick else FULL)["sizes"]
    if not args.model and not args.quick:
        parser.error("--model M.keras is required (or --quick, which uses a tiny model)")
    return args


def main(argv=None):
    """Run the benchmark, print the table, write the JSON; returns 0."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    info = machine_info()
    paths = datasets.find_images(args.data_dir) if args.data_dir else datasets.kodak_paths()
    train_paths, test_paths = datasets.split_images(paths)
    originals = [codec.read_image(p) for p in test_paths]
    with tempfile.TemporaryDirectory(prefix="bench_encode_") as scratch:
        model_path = args.model or tiny_model(os.path.join(scratch, "tiny.keras"))
        calibration = tflite.calibration_patches(train_paths, args.calibration_patches)
        methods, model_bytes = build_encoders(model_path, args.quality, scratch, calibration, args.threads)
        rows = []
        for name, size in args.sizes.items():
            images = [resized(rgb, size) for rgb in originals]
            rows += summarise(name, size, time_methods(methods, images, args.repeats))
    info["load_average_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = {"benchmark": "encode", "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
               "quick": args.quick, "machine": info,
               "settings": {"model": os.path.abspath(args.model) if args.model else "tiny 3x8 (--quick)",
                            "quality": args.quality, "repeats": args.repeats, "litert_threads": args.threads,
                            "images": [os.path.abspath(p) for p in test_paths],
                            "calibration_patches": int(len(calibration)),
                            "sizes": {name: list(size) for name, size in args.sizes.items()}},
               "model_bytes": model_bytes, "rows": rows}
    print(f"Encode latency, quality {args.quality}, {len(originals)} image(s) x {args.repeats} repeats, "
          f"{info['cpu']} x{info['cpu_count']} (load {info['load_average_1min']:.1f})")
    print(format_table(rows))
    write_results(args.out, results, format_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
