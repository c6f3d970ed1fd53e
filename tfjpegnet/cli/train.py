"""Train Modify-Net (and JPEG-Net) in stages, as Nagasaki et al. Sec. 3.2 describe.

Stage 1 fits JPEG-Net to real OpenCV JPEG on 8x8 blocks of the training patches, then
fits Modify-Net through the frozen JPEG-Net. Each later stage refits JPEG-Net on the
original patches AND on the current Modify-Net's outputs (rounded to 8 bits, real JPEG
as the target), then fits Modify-Net again. With ``--proxy analytic`` JPEG-Net is
replaced by an exact differentiable model of JPEG and the loss may add a rate term.

Everything a run produces is in one directory: config.json, checkpoints/, logs/
(TensorBoard), history.json and stageK/{jpeg_net,modify_net}.keras. Rerunning the same
command resumes where it stopped.
"""

import json
import os

from tfjpegnet import datasets
from tfjpegnet.jpeg import rate
from tfjpegnet.cli import argtypes
from tfjpegnet.errors import TrainingDiverged, UserError
from tfjpegnet.files import write_json
from tfjpegnet.training.config import PRESETS, resolve_config
from tfjpegnet.training.stages import StageTrainer

STRATEGIES = ("default", "mirrored", "multiworker")


def add_arguments(parser):
    """Register the ``train`` flags on an argparse parser."""
    parser.add_argument("--quality", type=argtypes.quality_arg, default=15, help="JPEG quality 1..100")
    parser.add_argument("--data-dir", help="folder of training/test images (default: download Kodak)")
    parser.add_argument("--kodak-url", default=datasets.KODAK_URL, help="where to download Kodak from")
    parser.add_argument("--test-images", default=",".join(datasets.KODAK_TEST),
                        help="comma-separated test image names, or a count of last images")
    parser.add_argument("--out", help="run directory (default runs/q{quality})")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="training schedule")
    parser.add_argument("--stages", type=argtypes.positive_int, help="number of stages (preset: 3)")
    parser.add_argument("--proxy", choices=("jpegnet", "analytic"), help="what stands in for JPEG")
    parser.add_argument("--epochs-jpeg", type=argtypes.nonneg_int, help="JPEG-Net epochs per stage")
    parser.add_argument("--epochs-modify", type=argtypes.nonneg_int, help="Modify-Net epochs per stage")
    parser.add_argument("--batch-jpeg", type=argtypes.positive_int, help="JPEG-Net batch (8x8 blocks)")
    parser.add_argument("--batch-modify", type=argtypes.positive_int, help="Modify-Net batch (64x64 patches)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), help="optimizer for both networks")
    parser.add_argument("--lr-jpeg", type=argtypes.positive_float, help="JPEG-Net learning rate")
    parser.add_argument("--lr-modify", type=argtypes.positive_float, help="Modify-Net learning rate")
    parser.add_argument("--lr-decay-epochs", type=argtypes.nonneg_int,
                        help="divide the learning rate by 10 every N epochs (0: never)")
    parser.add_argument("--clipvalue", type=argtypes.nonneg_float,
                        help="clip each gradient element to +-V (0: off)")
    parser.add_argument("--depth", type=argtypes.positive_int, help="Modify-Net conv layers")
    parser.add_argument("--filters", type=argtypes.positive_int, help="Modify-Net filters per layer")
    parser.add_argument("--mcu-branch", type=argtypes.nonneg_int,
                        help="add to Modify-Net a branch that edits each 16x16 JPEG MCU as a whole, "
                             "with N hidden units (0: none, the paper)")
    parser.add_argument("--train-only-branch", action="store_true", default=None,
                        help="train only the MCU branch; the conv layers keep the weights of --init-model")
    parser.add_argument("--patch-size", type=argtypes.positive_int, help="training patch size (multiple of 16)")
    parser.add_argument("--max-patches", type=argtypes.nonneg_int,
                        help="use at most N training patches (0: all)")
    parser.add_argument("--rate-weight", type=argtypes.nonneg_float, help="weight of the rate term (analytic proxy)")
    parser.add_argument("--distortion", help="distortion terms, '+'-joined: decoded, proximity, decoded-ssim, proximity-ssim, jpeg-ssim, contrast")
    parser.add_argument("--ssim-weight", type=argtypes.nonneg_float, help="weight of the (1 - SSIM) term")
    parser.add_argument("--contrast-weight", type=argtypes.nonneg_float,
                        help="weight of the 'contrast' term (share of JPEG-kept block contrast lost)")
    parser.add_argument("--rounding", choices=("ste", "soft"),
                        help="rounding in the analytic proxy: straight-through or smooth")
    parser.add_argument("--rate-gradient", choices=rate.GRADIENTS,
                        help="gradient of the rate term: pull every DCT coefficient towards 0 (smooth), "
                             "only those non-zero after rounding (ste), or those plus, hardest, the ones "
                             "near the 0/1 rounding boundary (boundary)")
    parser.add_argument("--precision", choices=("mixed_bfloat16", "float32"), help="compute precision")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    parser.add_argument("--checkpoint-every", type=argtypes.positive_int,
                        help="also checkpoint every N steps inside an epoch")
    parser.add_argument("--init-model", help="start Modify-Net from this .keras model (fine-tuning)")
    parser.add_argument("--seed", type=int, default=0, help="seed for init, data order and augmentation")


def prepare_config(args):
    """Resolve parsed CLI ``args`` into a run config, check it, and write config.json.

    Returns the config dict (preset merged with flags, ``train_images`` and
    ``test_images`` filled in). Raises UserError for anything the user must fix.
    """
    config = resolve_config({k: v for k, v in vars(args).items() if k not in ("module", "command")})
    out = config["out"]
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise UserError(f"run directory {out!r} is not writable ({err.strerror})") from None
    config["train_images"], config["test_images"] = _image_split(config)
    _check_resume(out, config)
    write_json(os.path.join(out, "config.json"), config)
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
    if config["data_dir"]:
        paths = datasets.find_images(config["data_dir"])
    else:
        paths = datasets.kodak_paths(config["kodak_url"])
    test = config["test_images"]
    test = int(test) if str(test).isdigit() else tuple(t.strip() for t in str(test).split(",") if t.strip())
    return datasets.split_images(paths, test)


_RESUME_KEYS = ("quality", "proxy", "stages", "depth", "filters", "mcu_branch", "train_only_branch", "patch_size", "train_images",
                "test_images", "rate_weight", "distortion", "ssim_weight", "contrast_weight", "rounding", "rate_gradient", "seed", "batch_modify", "batch_jpeg",
                "epochs_jpeg", "epochs_modify", "optimizer")


def _check_resume(out, config):
    """Refuse to resume a run directory whose saved config differs in what matters."""
    path = os.path.join(out, "config.json")
    if not os.path.exists(path) or not os.path.exists(os.path.join(out, "checkpoints", "checkpoint")):
        return  # nothing trained yet: a new config simply replaces the old one
    with open(path) as handle:
        saved = json.load(handle)
    diff = [k for k in _RESUME_KEYS if k in saved and saved[k] != config[k]]
    if diff:
        raise UserError(f"{out} holds a run with different {', '.join(diff)}; "
                        "use another --out or delete that directory")
