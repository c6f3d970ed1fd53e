"""A run's configuration: every setting's default, the presets, and what a resume must match.

A run is described by one flat, JSON-serialisable dict, saved as its ``config.json``.
Its keys are those of :data:`DEFAULTS` plus ``preset``; :func:`resolve_config` builds it
as DEFAULTS, overridden by the chosen preset, overridden by the flags the user gave.

The defaults are the paper's schedule (Sec. 3.2): momentum SGD (0.9), learning rate 0.1
divided by 10 every 10 epochs, 50 epochs, with VDSR's gradient clipping (each element to
+-0.01/lr = +-0.1). A preset lists only what it changes:

- ``paper``: nothing;
- ``cpu`` (the CLI's default): all 3 stages at Q15 in well under an hour on 2 CPU cores
  with mixed_bfloat16: Adam, few epochs, larger JPEG-Net batches;
- ``smoke``: seconds, for tests: a tiny net, 32 patches, 2 stages, float32.

Resuming a run directory that holds checkpoints is refused when a setting that changes
the result differs from its saved ``config.json``: every key is such a setting except
the few in :data:`NOT_RESUME`, so a new setting is checked without further work.
"""

from tfjpegnet import datasets
from tfjpegnet.errors import UserError

DEFAULTS = {
    # What is trained: the JPEG quality, the stand-in for JPEG, the number of stages.
    "quality": 15,                # the quality trained for; with "qualities": the reference of rate_weight
    "qualities": None,            # "LO-HI": one light net for every quality, a quality per example from LO..HI
    "proxy": "jpegnet",           # "jpegnet" (the paper) or "analytic" (exact differentiable JPEG)
    "stages": 3,                  # --proxy analytic: 1 unless given (no JPEG-Net to refit)
    # The networks.
    "depth": 20,                  # Modify-Net conv layers
    "filters": 64,                # Modify-Net filters per layer
    "mcu_branch": 0,              # hidden units of the per-16x16-MCU branch (0: none, the paper)
    "arch": "paper",              # "paper" (VDSR: depth x filters 3x3 convs) or "light" (models.build_light_modify_net)
    "factor": 4,                  # light net: pixel-unshuffle factor
    "blocks": 4,                  # light net: depthwise-separable blocks (its width is "filters")
    "colour_compensation": False,  # with "qualities": end the net with the fixed 4:2:0 pre-compensation,
                                   # its luma model "quantisation" or "resampling" (true: "resampling")
    # The encoder trained for: the proxy's tables, trellis model and rate constants, and the
    # real encoder of validation: "opencv" (libjpeg-turbo) or "mozjpeg".
    "encoder": "opencv",
    # What Modify-Net minimises (see objectives.py); the paper: "decoded" through JPEG-Net.
    "distortion": "decoded",      # '+'-joined terms of DISTORTIONS
    "rate_weight": 0.0,           # weight of the estimated bits per pixel (analytic proxy)
    "ssim_weight": 0.01,          # weight of each (1 - SSIM) term
    "teacher": None,              # .keras Modify-Net whose edit the "teacher" term imitates (distillation)
    "teacher_images": None,       # or a folder of the "teacher" term's target image per training image
    "teacher_weight": 1.0,        # weight of the "teacher" term
    "distortion_above": None,     # with "qualities": "Q:TERMS", examples of quality > Q use TERMS instead
    # The schedule.
    "epochs_jpeg": 50,            # JPEG-Net epochs per stage
    "epochs_modify": 50,          # Modify-Net epochs per stage
    "batch_jpeg": 64,             # global JPEG-Net batch, 8x8 blocks
    "batch_modify": 64,           # global Modify-Net batch, patches
    "optimizer": "sgd",           # "sgd" (momentum 0.9) or "adam", for both networks
    "lr_jpeg": 0.1,
    "lr_modify": 0.1,
    "lr_decay_epochs": 10,        # divide the learning rates by 10 every N epochs (0: never)
    "clipvalue": 0.1,             # clip each gradient element to +-V (0: off)
    # The data.
    "patch_size": 64,             # training patch side, a multiple of 16
    "max_patches": 0,             # use at most N training patches (0: all)
    "data_dir": None,             # folder(s) of images, a str or a list (None: the Kodak suite, downloaded)
    "test_dir": None,             # folder whose every image is a test image (None: split the data dir)
    "downscale": None,            # training images shrunk by area averaging: "F" (factor) or "Npx" (short side)
    "kodak_url": datasets.KODAK_URL,
    "test_images": ",".join(datasets.KODAK_TEST),  # names or a count; the CLI turns it into paths
    "train_images": None,         # paths, filled in by the CLI
    # How it runs.
    "precision": "mixed_bfloat16",  # or "float32"
    "seed": 0,                    # initial weights, data subset and order
    "strategy": "default",        # tf.distribute strategy: default, mirrored or multiworker
    "checkpoint_every": 200,      # also checkpoint every N steps inside an epoch
    "init_model": None,           # .keras model Modify-Net starts from (fine-tuning)
    "out": None,                  # run directory (None: runs/q{quality})
}

PRESETS = {
    "paper": {},
    "cpu": dict(epochs_jpeg=2, epochs_modify=1, batch_jpeg=256, batch_modify=32, optimizer="adam",
                lr_jpeg=1e-3, lr_modify=1e-4, lr_decay_epochs=0, clipvalue=0.0, checkpoint_every=100),
    "smoke": dict(stages=2, epochs_jpeg=1, epochs_modify=1, batch_jpeg=128, batch_modify=8, optimizer="adam",
                  lr_jpeg=1e-3, lr_modify=1e-4, lr_decay_epochs=0, clipvalue=0.0, depth=3, filters=8,
                  max_patches=32, precision="float32", checkpoint_every=2),
}
DEFAULT_PRESET = "cpu"

#: The keys that do not change what a run computes, so a resume may change them: where the
#: run and its data live (the data itself is ``train_images`` and ``test_images``), how it is
#: distributed and checkpointed, the start model (only used before the first checkpoint),
#: the preset's name (its values are the other keys) and the epoch counts: a run may be
#: extended (more epochs continue it) or cut short (fewer end each phase at its last
#: checkpoint, whose model is then written).
NOT_RESUME = frozenset({"out", "data_dir", "test_dir", "kodak_url", "strategy", "checkpoint_every", "init_model",
                        "preset", "epochs_jpeg", "epochs_modify"})

DISTORTIONS = ("decoded", "proximity", "proximity-ssim", "subsampled", "subsampled-ssim", "chroma-quantised",
               "chroma-quantised-ssim", "teacher")

#: Options that were tried and dropped (the code is in the git history), and the only
#: value the code still implements (None: any value, the option had no effect without
#: a dropped distortion term). A saved configuration holding one of them at that value
#: (or None) is read as if the key were absent; any other value cannot be honoured.
REMOVED = {"contrast_weight": None, "rounding": "ste", "rate_gradient": "smooth", "train_only_branch": False,
           "quality_balance": "none", "coefficient_branch": 0, "rate_weight_form": "power"}
REMOVED_DISTORTIONS = ("contrast", "jpeg-ssim", "decoded-ssim")


def keys():
    """Every key of a resolved configuration: those of DEFAULTS and ``preset`` (frozenset)."""
    return frozenset(DEFAULTS) | {"preset"}


def resume_keys():
    """The configuration keys a resumed run must match, sorted: every key but NOT_RESUME."""
    return sorted(keys() - NOT_RESUME)


def distortion_terms(distortion):
    """The '+'-joined terms of a ``distortion`` string, as a tuple; UserError for an unknown one."""
    terms = tuple(distortion.split("+"))
    removed = [t for t in terms if t in REMOVED_DISTORTIONS]
    if removed:
        raise UserError(f"distortion term(s) {removed} were removed (they did not help); "
                        f"choose from {DISTORTIONS}")
    unknown = [t for t in terms if t not in DISTORTIONS]
    if unknown:
        raise UserError(f"unknown --distortion term(s) {unknown}; choose from {DISTORTIONS}")
    return terms


def parse_distortion_above(text):
    """Parse ``--distortion-above`` "Q:TERMS" into (Q, terms tuple); None for None or "".

    Examples of quality above Q (an int 1..99) are judged by the '+'-joined TERMS instead of
    ``--distortion``; UserError for another form or an unknown term.
    """
    if not text:
        return None
    threshold, sep, terms = str(text).partition(":")
    try:
        threshold = int(threshold)
    except ValueError:
        threshold = None
    if not sep or threshold is None or not 1 <= threshold <= 99:
        raise UserError(f"--distortion-above takes Q:TERMS (Q a quality 1..99, TERMS '+'-joined distortion "
                        f"terms), got {text!r}")
    return threshold, distortion_terms(terms)


def without_removed(config):
    """A copy of ``config`` (dict) without the keys of removed options (see REMOVED).

    Raises UserError if one of them holds a value other than the one still implemented,
    e.g. a run trained with ``--rounding soft``: the current code cannot reproduce it.
    """
    for key, only in REMOVED.items():
        value = config.get(key)
        if value is not None and only is not None and value != only:
            flag = "--" + key.replace("_", "-")
            raise UserError(f"{flag} {value} was removed (only {only!r} remains); "
                            "that run needs an older version of tfjpegnet (git history)")
    return {key: value for key, value in config.items() if key not in REMOVED}


def parse_quality_range(text):
    """Parse ``--qualities`` "LO-HI" (1 <= LO < HI <= 100) into (LO, HI); UserError otherwise."""
    lo, sep, hi = str(text).partition("-")
    try:
        lo, hi = int(lo), int(hi)
    except ValueError:
        lo = hi = None
    if not sep or lo is None or not 1 <= lo < hi <= 100:
        raise UserError(f"--qualities takes a range LO-HI of JPEG qualities, 1 <= LO < HI <= 100, got {text!r}")
    return lo, hi


def resolve_config(flags):
    """Merge CLI ``flags`` over the chosen preset over DEFAULTS.

    Args:
      flags: dict of configuration keys (``preset`` picks the preset, default "cpu");
        a value of None, or a missing key, means "not given".

    Returns:
      A JSON-serialisable dict with every key of :func:`keys` set and ``out`` filled in (default
      ``runs/q{quality}``). Raises UserError for inconsistent settings.
    """
    unknown = sorted(set(flags) - keys())
    if unknown:
        raise ValueError(f"not configuration keys (add them to DEFAULTS): {unknown}")
    preset = flags.get("preset") or DEFAULT_PRESET
    config = {**DEFAULTS, **PRESETS[preset], "preset": preset}
    config.update({key: value for key, value in flags.items() if value is not None})
    config["out"] = config["out"] or f"runs/q{config['quality']}"
    if config["proxy"] == "analytic" and flags.get("stages") is None:
        config["stages"] = 1  # no JPEG-Net to refit: one Modify-Net phase is the whole method
    if config["patch_size"] % 16:
        raise UserError(f"--patch-size must be a multiple of 16, got {config['patch_size']}")
    terms = distortion_terms(config["distortion"])
    datasets.parse_downscale(config["downscale"])
    if config["qualities"]:
        parse_quality_range(config["qualities"])
        if config["arch"] != "light" or config["proxy"] != "analytic":
            raise UserError("--qualities (one net for every quality) needs --arch light and --proxy analytic")
    if config["colour_compensation"] and not config["qualities"]:
        raise UserError("--colour-compensation needs --qualities (its strength follows the quality)")
    if flags.get("test_dir") and flags.get("test_images") is not None:
        raise UserError("--test-dir makes every image in it a test image: leave out --test-images")
    if config["proxy"] == "jpegnet" and config["encoder"] != "opencv":
        raise UserError("--encoder other than opencv needs --proxy analytic (JPEG-Net imitates OpenCV's JPEG)")
    if config["proxy"] == "jpegnet" and (config["rate_weight"] or terms != ("decoded",)):
        raise UserError("--rate-weight and --distortion other than 'decoded' need --proxy analytic")
    above = parse_distortion_above(config["distortion_above"])
    if above and not config["qualities"]:
        raise UserError("--distortion-above needs --qualities: it judges each example by its own quality")
    if config["teacher"] and config["teacher_images"]:
        raise UserError("--teacher and --teacher-images are two kinds of target: give one")
    if ("teacher" in terms + (above[1] if above else ())) != bool(config["teacher"] or config["teacher_images"]):
        raise UserError("the 'teacher' distortion term and --teacher (or --teacher-images) go together: "
                        "the term imitates that model's edit or those images")
    if config["teacher_images"] and config["qualities"]:
        raise UserError("--teacher-images holds one target per training image, for one quality: "
                        "leave out --qualities")
    return config


def resume_conflicts(saved, config):
    """The keys of resume_keys() whose value differs between a run's ``saved`` config and ``config``.

    Keys missing from ``saved`` (written by an older version) are not compared. Raises
    UserError if ``saved`` used a removed option (see :func:`without_removed`).
    """
    saved = without_removed(saved)
    return [key for key in resume_keys() if key in saved and saved[key] != config[key]]
