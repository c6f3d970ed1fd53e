"""Training schedules (presets) and how CLI flags override them.

``paper``: Sec. 3.2 of the paper: momentum SGD (0.9), lr 0.1 divided by 10 every 10
epochs, 50 epochs, with VDSR's gradient clipping (each element to +-0.01/lr = +-0.1).
``cpu``: fits all 3 stages at Q15 into well under an hour on 2 CPU cores with
mixed_bfloat16: Adam, few epochs. ``smoke``: seconds, for tests (tiny net, few patches).
"""

PRESETS = {
    "paper": dict(stages=3, proxy="jpegnet", epochs_jpeg=50, epochs_modify=50, batch_jpeg=64,
                  batch_modify=64, optimizer="sgd", lr_jpeg=0.1, lr_modify=0.1, lr_decay_epochs=10,
                  clipvalue=0.1, depth=20, filters=64, mcu_branch=0, train_only_branch=False, patch_size=64, max_patches=0, rate_weight=0.0,
                  distortion="decoded", ssim_weight=0.01, contrast_weight=0.02, rounding="ste", rate_gradient="smooth", precision="mixed_bfloat16", checkpoint_every=200),
    "cpu": dict(stages=3, proxy="jpegnet", epochs_jpeg=2, epochs_modify=1, batch_jpeg=256,
                batch_modify=32, optimizer="adam", lr_jpeg=1e-3, lr_modify=1e-4, lr_decay_epochs=0,
                clipvalue=0.0, depth=20, filters=64, mcu_branch=0, train_only_branch=False, patch_size=64, max_patches=0, rate_weight=0.0,
                distortion="decoded", ssim_weight=0.01, contrast_weight=0.02, rounding="ste", rate_gradient="smooth", precision="mixed_bfloat16", checkpoint_every=100),
    "smoke": dict(stages=2, proxy="jpegnet", epochs_jpeg=1, epochs_modify=1, batch_jpeg=128,
                  batch_modify=8, optimizer="adam", lr_jpeg=1e-3, lr_modify=1e-4, lr_decay_epochs=0,
                  clipvalue=0.0, depth=3, filters=8, mcu_branch=0, train_only_branch=False, patch_size=64, max_patches=32, rate_weight=0.0,
                  distortion="decoded", ssim_weight=0.01, contrast_weight=0.02, rounding="ste", rate_gradient="smooth", precision="float32", checkpoint_every=2),
}

DISTORTIONS = ("decoded", "proximity", "decoded-ssim", "proximity-ssim", "jpeg-ssim", "contrast")


def resolve_config(flags):
    """Merge CLI ``flags`` (dict; None = not given) over the chosen preset.

    Returns a JSON-serialisable dict with every hyper-parameter set, ``out`` filled
    in (default ``runs/q{quality}``). Raises UserError for inconsistent settings.
    """
    from tfjpegnet.errors import UserError

    config = dict(PRESETS[flags["preset"]])
    for key, value in flags.items():
        if value is not None or key not in config:
            config[key] = value
    config["out"] = config["out"] or f"runs/q{config['quality']}"
    if config["proxy"] == "analytic" and flags.get("stages") is None:
        config["stages"] = 1  # no JPEG-Net to refit: one Modify-Net phase is the whole method
    if config["patch_size"] % 16:
        raise UserError(f"--patch-size must be a multiple of 16, got {config['patch_size']}")
    terms = config["distortion"].split("+")
    unknown = [t for t in terms if t not in DISTORTIONS]
    if unknown:
        raise UserError(f"unknown --distortion term(s) {unknown}; choose from {DISTORTIONS}")
    if config["proxy"] == "jpegnet" and (config["rate_weight"] or terms != ["decoded"]):
        raise UserError("--rate-weight and --distortion other than 'decoded' need --proxy analytic")
    if config["train_only_branch"] and not (config["mcu_branch"] and config["init_model"]):
        raise UserError("--train-only-branch needs --mcu-branch N and --init-model (the conv layers to keep)")
    return config
