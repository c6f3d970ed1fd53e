"""Modify-Net training throughput in patches/s: the bare step against the real trainer and pipeline.

For each precision (float32, mixed_bfloat16), in ONE process, on the same model and data:

  (a) bare:     ``StageTrainer.modify_step_fn`` (the real GradientTape step: Modify-Net,
                frozen JPEG-Net or the analytic proxy, optimizer update) on one constant
                in-memory batch;
  (b) trainer:  the same step fed by ``trainer.batches`` over the real training patches,
                consumed as ``training.loop.train_phase`` does (distributed dataset, one
                epoch after another with the trainer's per-epoch seeds, ``float(loss)``
                after every step);
  (c) pipeline: ``trainer.batches`` alone, no model.

The JPEG targets (OpenCV inside ``tf.py_function``) are computed once, when StageTrainer
is constructed, so (b) contains exactly what each training step pays for. Warm-up steps
(tracing, thread-pool start, first prefetch) are left out of every timing. (a) and (b)
alternate in ``--rounds`` rounds so that other load on the machine hits both alike; each
number is the median over rounds; the (b)/(a) column is the pipeline's cost (target >= 0.9).

    python benchmarks/bench_train.py --data-dir ../shared/data/kodak
    python benchmarks/bench_train.py --quick --data-dir DIR     # tiny net and sizes: seconds

Prints a table and writes JSON (--out) and the same table as Markdown beside it (.md), atomically.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfjpegnet import files  # noqa: E402
from tfjpegnet.cli import train  # noqa: E402
from tfjpegnet.training.loop import seed_for  # noqa: E402
from tfjpegnet.training.patches import batches  # noqa: E402
from tfjpegnet.training.stages import MODIFY_PHASE, StageTrainer  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_train.json")
# Full run: the paper's Modify-Net 20x64 at the cpu preset's batch. --quick: seconds.
FULL = dict(depth=20, filters=64, batch=32, steps=20, warmup=3, rounds=3, pipeline_steps=200, max_patches=0)
QUICK = dict(depth=3, filters=8, batch=8, steps=3, warmup=1, rounds=2, pipeline_steps=10, max_patches=16)


def machine_info():
    """Where a benchmark ran: CPU model and count, load, library versions (dict of str/float)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__,
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def write_results(out, results, markdown):
    """Write ``results`` as JSON to ``out`` and ``markdown`` beside it (``.md``), both atomically."""
    files.write_json(out, results)
    table = os.path.splitext(out)[0] + ".md"
    files.write_text(table, markdown)
    print(f"Wrote {out} and {table}")


def make_trainer(args, precision, out):
    """A StageTrainer for the Modify-Net benchmark, built through the real CLI flags.

    Uses the ``cpu`` preset with the benchmark's depth, filters, batch and precision; the
    run directory ``out`` is a scratch folder (config.json goes there, nothing is trained).
    """
    flags = ["--quality", str(args.quality), "--out", out, "--preset", "cpu", "--proxy", args.proxy,
             "--precision", precision, "--depth", str(args.depth), "--filters", str(args.filters),
             "--batch-modify", str(args.batch), "--max-patches", str(args.max_patches), "--seed", "0"]
    if args.data_dir:
        flags += ["--data-dir", args.data_dir]
    flags += args.train_flags.split()
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return StageTrainer(train.prepare_config(parser.parse_args(flags)))


def trainer_stream(trainer):
    """Modify-Net batches epoch after epoch, exactly as training.loop.train_phase builds them.

    Yields tuples (x,), x float32 YCrCb [batch, 64, 64, 3] in [0, 1].
    """
    config = trainer.config
    epoch = 0
    while True:
        seed = seed_for(config["seed"], 1, MODIFY_PHASE, epoch)
        yield from trainer.strategy.experimental_distribute_dataset(
            batches((trainer.modify_inputs,), config["batch_modify"], seed))
        epoch += 1


def timed(step, count):
    """Run ``step()`` ``count`` times; returns the seconds each call took (list of float)."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def measure(args, precision):
    """All three throughputs for one precision; returns a result row (dict)."""
    with tempfile.TemporaryDirectory(prefix="bench_train_") as scratch:
        trainer = make_trainer(args, precision, scratch)
        try:
            return measure_trainer(args, trainer)
        finally:
            trainer.close()


def measure_trainer(args, trainer):
    """(a), (b) and (c) for one constructed StageTrainer; returns a result row (dict)."""
    batch = trainer.config["batch_modify"]
    if len(trainer.modify_inputs) < batch:
        raise SystemExit(f"only {len(trainer.modify_inputs)} training patches, fewer than one batch of {batch}")
    step = trainer.modify_step_fn(trainer.optimizers[1, MODIFY_PHASE])
    fed = trainer_stream(trainer)
    (constant,) = next(trainer_stream(trainer))  # one real batch, held in memory
    pipeline = trainer_stream(trainer)

    def bare():
        float(step(constant))

    def with_pipeline():
        float(step(*next(fed)))

    def pipeline_only():
        next(pipeline)

    for fn in (bare, with_pipeline, pipeline_only):  # tracing, thread pools, first prefetch
        timed(fn, args.warmup)
    rounds = {"bare_step": [], "trainer_pipeline": [], "pipeline_only": []}
    step_ms = {key: [] for key in rounds}
    for _ in range(args.rounds):
        for key, fn, count in (("bare_step", bare, args.steps), ("trainer_pipeline", with_pipeline, args.steps),
                               ("pipeline_only", pipeline_only, args.pipeline_steps)):
            times = timed(fn, count)
            rounds[key].append(count * batch / sum(times))
            step_ms[key].extend(1000 * t for t in times)
    row = {"precision": trainer.config["precision"], "batch": batch}
    row.update({key: statistics.median(values) for key, values in rounds.items()})
    row["ratio_b_a"] = row["trainer_pipeline"] / row["bare_step"]
    row["rounds"] = rounds
    row["median_step_ms"] = {key: statistics.median(values) for key, values in step_ms.items()}
    row["train_patches"] = int(len(trainer.train_patches))
    row["modify_inputs"] = int(len(trainer.modify_inputs))
    return row


def format_table(rows):
    """The result rows as a plain-text table (str)."""
    lines = [f"{'precision':15s} {'(a) bare step':>14s} {'(b) trainer+data':>17s} {'(c) data only':>14s} "
             f"{'(b)/(a)':>8s}   [patches/s]"]
    for row in rows:
        lines.append(f"{row['precision']:15s} {row['bare_step']:14.1f} {row['trainer_pipeline']:17.1f} "
                     f"{row['pipeline_only']:14.1f} {row['ratio_b_a']:8.3f}")
    return "\n".join(lines)


def format_markdown(results):
    """The results as a Markdown table with the machine and command above it (str)."""
    info, settings = results["machine"], results["settings"]
    net = f"{settings['depth']}x{settings['filters']}"
    if settings.get("train_flags"):
        net += f" with `{settings['train_flags']}`"  # e.g. --arch light: then depth is unused
    lines = [f"Modify-Net {net} training throughput (patches/s), batch "
             f"{settings['batch']}, proxy {settings['proxy']}; {info['cpu']}, {info['cpu_count']} cores, "
             f"TensorFlow {info['tensorflow']}, load average {info['load_average_1min']:.1f} at start. "
             f"Median of {settings['rounds']} rounds of {settings['steps']} steps. "
             f"`{results['command']}`", "",
             "| precision | (a) bare step | (b) trainer + tf.data | (c) tf.data only | (b)/(a) |",
             "|---|---:|---:|---:|---:|"]
    for row in results["rows"]:
        lines.append(f"| {row['precision']} | {row['bare_step']:.1f} | {row['trainer_pipeline']:.1f} | "
                     f"{row['pipeline_only']:.1f} | {row['ratio_b_a']:.3f} |")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    """Parse the command line; --quick swaps in tiny defaults (explicit flags still win)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", help="training images (default: the Kodak suite, downloaded once)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON results file (a Markdown table goes beside it, .md)")
    parser.add_argument("--quick", action="store_true", help="tiny net and sizes, to check the script works")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated precisions")
    parser.add_argument("--proxy", choices=("jpegnet", "analytic"), default="jpegnet",
                        help="what Modify-Net trains through (the paper: jpegnet)")
    parser.add_argument("--quality", type=int, default=15, help="JPEG quality")
    parser.add_argument("--train-flags", default="",
                        help="more `tfjpegnet train` flags for the net and its loss, e.g. \"--arch light --factor 4 "
                             "--blocks 6 --mcu-branch 256 --distortion proximity+proximity-ssim --rate-weight 0.02\"")
    for key, value in FULL.items():
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=None,
                            help=f"(default {value}; --quick: {QUICK[key]})")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    unknown = [p for p in args.precisions if p not in PRECISIONS]
    if unknown:
        parser.error(f"unknown precision(s) {unknown}; choose from {PRECISIONS}")
    return args


def main(argv=None):
    """Run the benchmark, print the table, write the JSON; returns 0."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    info = machine_info()
    policy = keras.mixed_precision.global_policy()
    try:
        rows = [measure(args, precision) for precision in args.precisions]
    finally:
        keras.mixed_precision.set_global_policy(policy)
    info["load_average_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = {"benchmark": "train", "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
               "quick": args.quick, "machine": info,
               "settings": {key: getattr(args, key) for key in (*FULL, "quality", "proxy", "data_dir", "train_flags")},
               "target_ratio_b_a": 0.9, "rows": rows}
    print(f"Modify-Net {args.depth}x{args.filters} training throughput, batch {args.batch}, "
          f"proxy {args.proxy}, {info['cpu']} x{info['cpu_count']} (load {info['load_average_1min']:.1f})")
    print(format_table(rows))
    write_results(args.out, results, format_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
