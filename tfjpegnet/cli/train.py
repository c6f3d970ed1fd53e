"""Train Modify-Net (and JPEG-Net) in stages, as Nagasaki et al. Sec. 3.2 describe.

Stage 1 fits JPEG-Net to real OpenCV JPEG on 8x8 blocks of the training patches, then
fits Modify-Net through the frozen JPEG-Net. Each later stage refits JPEG-Net on the
original patches AND on the current Modify-Net's outputs (rounded to 8 bits, real JPEG
as the target), then fits Modify-Net again. With ``--proxy analytic`` JPEG-Net is
replaced by an exact differentiable model of JPEG and the loss may add a rate term.

A flag not given takes its value from the ``--preset`` (paper, cpu or smoke; see each
flag's help). Everything a run produces is in one directory: config.json, checkpoints/,
logs/ (TensorBoard), history.json and stageK/{jpeg_net,modify_net}.keras. Rerunning the
same command resumes where it stopped.
"""

import argparse
import os

from tfjpegnet import datasets, models, runs
from tfjpegnet.cli import argtypes
from tfjpegnet.errors import TrainingDiverged, UserError
from tfjpegnet.files import write_json
from tfjpegnet.training import config as run_config
from tfjpegnet.training.stages import StageTrainer
from tfjpegnet.training.steps import STRATEGIES


def _default(key):
    """Help text for the value ``key`` takes when its flag is not given ("" if it is None)."""
    if run_config.DEFAULTS[key] is None:
        return ""
    values = {name: {**run_config.DEFAULTS, **preset}[key] for name, preset in run_config.PRESETS.items()}
    if len(set(map(repr, values.values()))) == 1:
        return f"(default: {run_config.DEFAULTS[key]})"
    return "(preset " + ", ".join(f"{name}: {value}" for name, value in values.items()) + ")"


def add_arguments(parser):
    """Register the ``train`` flags on an argparse parser.

    Each flag's ``dest`` is a configuration key (:data:`tfjpegnet.training.config.DEFAULTS`);
    a flag not given is absent from the parsed namespace and takes the preset's value.
    """
    def flag(name, help_text, **kwargs):
        key = name[2:].replace("-", "_")
        parser.add_argument(name, default=argparse.SUPPRESS, help=f"{help_text} {_default(key)}".strip(),
                            **kwargs)

    flag("--quality", "JPEG quality 1..100 (with --qualities: the quality --rate-weight is for, and of the "
         "validation)", type=argtypes.quality_arg)
    flag("--qualities", "LO-HI: train one light net for every quality in LO..HI (FiLM-conditioned on the "
         "quality), a quality per example drawn uniformly; the rate weight follows plain JPEG's slope "
         "(docs/training.md)")
    flag("--data-dir", "folder(s) of training/test images, searched recursively (default: download Kodak)",
         nargs="+")
    flag("--test-dir", "folder whose every image is a test image; then every --data-dir image trains "
         "(refused if a file is in both)")
    flag("--downscale", "shrink each training image by area averaging before cutting patches, by a factor "
         "(e.g. 2) or to a short side (e.g. 256px): removes the traces of an earlier JPEG coding")
    flag("--kodak-url", "where to download Kodak from")
    flag("--test-images", "comma-separated test image names, or a count of last images")
    flag("--out", "run directory (default runs/q{quality})")
    parser.add_argument("--preset", choices=sorted(run_config.PRESETS), default=argparse.SUPPRESS,
                        help=f"training schedule (default: {run_config.DEFAULT_PRESET})")
    flag("--stages", "number of stages (--proxy analytic: 1 unless given)", type=argtypes.positive_int)
    flag("--proxy", "what stands in for JPEG", choices=("jpegnet", "analytic"))
    flag("--epochs-jpeg", "JPEG-Net epochs per stage", type=argtypes.nonneg_int)
    flag("--epochs-modify", "Modify-Net epochs per stage", type=argtypes.nonneg_int)
    flag("--batch-jpeg", "JPEG-Net batch (8x8 blocks)", type=argtypes.positive_int)
    flag("--batch-modify", "Modify-Net batch (patches)", type=argtypes.positive_int)
    flag("--optimizer", "optimizer for both networks", choices=("sgd", "adam"))
    flag("--lr-jpeg", "JPEG-Net learning rate", type=argtypes.positive_float)
    flag("--lr-modify", "Modify-Net learning rate", type=argtypes.positive_float)
    flag("--lr-decay-epochs", "divide the learning rate by 10 every N epochs (0: never)", type=argtypes.nonneg_int)
    flag("--clipvalue", "clip each gradient element to +-V (0: off)", type=argtypes.nonneg_float)
    flag("--depth", "Modify-Net conv layers", type=argtypes.positive_int)
    flag("--filters", "Modify-Net filters per layer", type=argtypes.positive_int)
    flag("--mcu-branch", "add to Modify-Net a branch that edits each 16x16 JPEG MCU as a whole, with N hidden "
         "units (0: none, the paper)", type=argtypes.nonneg_int)
    flag("--arch", "Modify-Net architecture: the paper's VDSR stack or a light net (pixel unshuffle, "
         "depthwise-separable blocks)", choices=("paper", "light"))
    flag("--factor", "light net: pixel-unshuffle factor", type=argtypes.positive_int)
    flag("--blocks", "light net: depthwise-separable blocks", type=argtypes.nonneg_int)
    flag("--colour-compensation", "with --qualities: end the net with the fixed pre-compensation of JPEG's "
         "4:2:0 colour path, strength by quality, its luma step against the chroma error of the quantised "
         "chroma ('quantisation', the default of the option) or of the resampling alone (docs/method.md)",
         nargs="?", const="quantisation", choices=models.LUMA_MODELS, metavar="LUMA_MODEL")
    flag("--encoder", "the encoder trained for: the proxy's tables, trellis model and rate constants, and the "
         "real encoder of validation", choices=("opencv", "mozjpeg"))
    flag("--patch-size", "training patch size (multiple of 16)", type=argtypes.positive_int)
    flag("--max-patches", "use at most N training patches (0: all)", type=argtypes.nonneg_int)
    flag("--rate-weight", "weight of the rate term (analytic proxy)", type=argtypes.nonneg_float)
    flag("--distortion", "distortion terms, '+'-joined: " + ", ".join(run_config.DISTORTIONS)
         + " (other than 'decoded': analytic proxy)")
    flag("--teacher-weight", "weight of the 'teacher' distortion term", type=argtypes.nonneg_float)
    flag("--distortion-above", "with --qualities: Q:TERMS, examples of quality above Q are judged by these "
         "'+'-joined distortion terms instead of --distortion (e.g. 80:teacher keeps a teacher's edit there)",
         metavar="Q:TERMS")
    flag("--ssim-weight", "weight of the (1 - SSIM) term", type=argtypes.nonneg_float)
    flag("--teacher", "a .keras Modify-Net whose edit the 'teacher' distortion term imitates (distillation)",
         type=argtypes.existing_file)
    flag("--teacher-images", "a folder holding, for each training image, the 'teacher' term's target image "
         "of the same name and size (e.g. edit-optimum --save-images of the training images); instead of "
         "--teacher", type=argtypes.existing_dir)
    flag("--precision", "compute precision", choices=("mixed_bfloat16", "float32"))
    flag("--strategy", "tf.distribute strategy (multiworker reads TF_CONFIG)", choices=STRATEGIES)
    flag("--checkpoint-every", "also checkpoint every N steps inside an epoch", type=argtypes.positive_int)
    flag("--init-model", "start Modify-Net from this .keras model (fine-tuning)")
    flag("--seed", "seed for init, data subset and order", type=int)


def prepare_config(args):
    """Resolve parsed CLI ``args`` into a run config, check it, and write config.json.

    Returns the config dict (preset merged with flags, ``train_images`` and
    ``test_images`` filled in with image paths). Raises UserError for anything the user
    must fix, including resuming a run directory with settings that change its result.
    """
    # The namespace also holds the top-level options (command, module, ...); every train flag
    # is a configuration key (tests/training/test_config.py checks it).
    config = run_config.resolve_config({k: v for k, v in vars(args).items() if k in run_config.keys()})
    out = config["out"]
    config["train_images"], config["test_images"] = _image_split(config)
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise UserError(f"run directory {out!r} is not writable ({err.strerror})") from None
    check_resume(out, config)
    write_json(os.path.join(out, runs.CONFIG), config)
    return config


def run(args):
    """Run (or resume) training from parsed CLI ``args``; returns the exit code."""
    config = prepare_config(args)
    try:
        summary = StageTrainer(config).fit()
    except TrainingDiverged as err:
        print(f"tfjpegnet train: {err}")
        return 3
    print(summary)
    return 0


def _image_split(config):
    """(train paths, test paths) of a config: its data dir(s) (or Kodak) split by ``test_images``,
    or, with ``test_dir``, every data-dir image against every test-dir image (UserError if a
    file is in both)."""
    if config["data_dir"]:
        paths = datasets.find_images(config["data_dir"])
    else:
        paths = datasets.kodak_paths(config["kodak_url"])
    if config["test_dir"]:
        test_paths = datasets.find_images(config["test_dir"])
        both = datasets.same_files(paths, test_paths)
        if both:
            raise UserError(f"{len(both)} test image(s) are also training images, e.g. {both[0][1]} = {both[0][0]}")
        return paths, test_paths
    test = config["test_images"]
    test = int(test) if str(test).isdigit() else tuple(t.strip() for t in str(test).split(",") if t.strip())
    return datasets.split_images(paths, test)


def check_resume(out, config):
    """Refuse (UserError) to resume run directory ``out`` if its saved config differs in what matters.

    Only a directory with checkpoints is checked: with nothing trained yet a new config
    simply replaces the old one. What matters is every setting but those in
    :data:`tfjpegnet.training.config.NOT_RESUME`; a saved config of an older version
    that holds removed options at their one remaining value resumes as usual.
    """
    if not os.path.exists(os.path.join(out, runs.CONFIG)) or \
            not os.path.exists(os.path.join(out, "checkpoints", "checkpoint")):
        return
    try:
        diff = run_config.resume_conflicts(runs.read_config(out), config)
    except UserError as err:
        raise UserError(f"{out} holds a run that cannot be resumed: {err}; use another --out") from None
    if diff:
        raise UserError(f"{out} holds a run with different {', '.join(diff)}; "
                        "use another --out or delete that directory")
