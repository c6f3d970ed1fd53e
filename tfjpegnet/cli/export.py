"""Export a trained Modify-Net (.keras) for TensorFlow Serving and, with --tflite, LiteRT.

Writes OUT/NAME/VERSION/, a SavedModel in TF Serving's layout (NAME defaults to
tfjpegnet_q{quality}, VERSION to the next free integer; built in a temporary folder
and renamed into place when complete, with TF Serving warm-up requests in
assets.extra/), then OUT/models.config listing every model in OUT, and with --tflite
OUT/NAME.tflite (float32) and, unless --tflite-variants leaves them out, NAME_fp16.tflite
and NAME_int8.tflite. Signatures: serving_default
(images uint8 [batch, H, W, 3] RGB -> modified uint8, the edit, ready for any JPEG
encoder), encode (image_bytes string [batch], PNG/JPEG files -> jpeg_bytes string
[batch] at the model's quality) and metadata (-> quality, halo).

A net for every quality (``train --qualities``) is exported with ``--qualities LO-HI``, the
range it was trained on (its run's config.json), instead of --quality: NAME defaults to
tfjpegnet, both image signatures take a second input ``quality`` int32 [batch], metadata
gives quality_min, quality_max and halo, and the TFLite files take a second input
``quality`` float32 [1]. A quality outside LO..HI is edited as the nearest one of LO..HI.

The int8 file is calibrated on 64x64 patches of --calibration-dir, or by default of the
Kodak training images (kodim01..21), downloaded once from --kodak-url and checked
against their SHA-256. If those cannot be had (e.g. offline), the command stops with one
message naming --calibration-dir before writing anything. All TFLite variants are
converted before the first file is written, so a failed export leaves nothing behind.
"""

from tfjpegnet.cli import DESCRIBED_DEFAULT
from tfjpegnet.cli.argtypes import qualities_arg
from tfjpegnet.errors import UserError

KODAK_URL = "http://r0k.us/graphics/kodak/kodak/"  # tfjpegnet.datasets.KODAK_URL (checked by a test)


def add_arguments(parser):
    """Register the ``export`` command's options on ``parser``."""
    parser.add_argument("--model", required=True, help="trained Modify-Net .keras file" + DESCRIBED_DEFAULT)
    parser.add_argument("--quality", default=None,
                        help="JPEG quality the model was trained for (1..100); required for a net for one "
                             "quality" + DESCRIBED_DEFAULT)
    parser.add_argument("--qualities", default=None,
                        help="LO-HI: the qualities a net for every quality was trained on (train --qualities); "
                             "required for such a net" + DESCRIBED_DEFAULT)
    parser.add_argument("--out", default="saved_models", help="output folder")
    parser.add_argument("--name", default=None,
                        help="model name (default: tfjpegnet_q{quality}, or tfjpegnet for a net for every "
                             "quality)" + DESCRIBED_DEFAULT)
    parser.add_argument("--version", type=int, default=None,
                        help="SavedModel version (default: next free integer)" + DESCRIBED_DEFAULT)
    parser.add_argument("--serving-base-path", default="/models",
                        help="where TF Serving sees --out, for models.config")
    parser.add_argument("--tflite", action="store_true",
                        help="also write .tflite files (--tflite-variants)")
    parser.add_argument("--tflite-variants", default="float32,fp16,int8", metavar="V,V,...",
                        help="with --tflite: which files, comma-separated, float32 always among them "
                             "(float32, fp16, int8)")
    parser.add_argument("--calibration-dir", default=None,
                        help="training images for int8 calibration (default: the Kodak training split, "
                             "downloaded from --kodak-url)" + DESCRIBED_DEFAULT)
    parser.add_argument("--kodak-url", default=KODAK_URL,
                        help="where to download the Kodak images from when there is no --calibration-dir "
                             "(http(s):// or file://)")
    parser.add_argument("--kodak-cache-dir", default=None,
                        help="folder keeping downloaded Kodak images (default: Keras's cache, ~/.keras)" + DESCRIBED_DEFAULT)
    parser.add_argument("--calibration-patches", type=int, default=256,
                        help="number of 64x64 patches for int8 calibration")
    parser.add_argument("--verify-images", nargs="+", default=None, metavar="IMAGE",
                        help="with --tflite: check every variant against Keras on these images" + DESCRIBED_DEFAULT)
    parser.add_argument("--verify-qualities", type=qualities_arg, default=None, metavar="Q,Q,...",
                        help="for a net for every quality: the qualities of that check (default: both ends of "
                             "its range and the middle)" + DESCRIBED_DEFAULT)


def calibration_paths(args):
    """Image paths for int8 calibration: ``--calibration-dir``, else the Kodak training split.

    Raises UserError naming --calibration-dir if the Kodak images cannot be downloaded
    or fail their checksum.
    """
    from tfjpegnet import datasets

    if args.calibration_dir:
        return datasets.find_images(args.calibration_dir)
    try:
        paths = datasets.kodak_paths(args.kodak_url, cache_dir=args.kodak_cache_dir)
    except Exception as err:  # keras.utils.get_file raises bare Exception / ValueError
        reason = " ".join(str(err).split()) or type(err).__name__
        raise UserError(f"cannot get the default int8 calibration images (Kodak, from {args.kodak_url}): "
                        f"{reason}. Pass --calibration-dir DIR with a few training images "
                        "(or --kodak-url to fetch Kodak elsewhere)") from None
    return datasets.split_images(paths)[0]


def run(args):
    """Export the model; returns 0, or 1 if a TFLite check failed (files are kept)."""
    import os

    from tfjpegnet import models
    from tfjpegnet.deploy import savedmodel, tflite
    from tfjpegnet.jpeg import codec
    from tfjpegnet.jpeg.quality_range import check_quality
    from tfjpegnet.training.config import parse_quality_range

    if (args.quality is None) == (args.qualities is None):
        raise UserError("give --quality Q (a net for one quality) or --qualities LO-HI (a net for every quality)")
    qualities = parse_quality_range(args.qualities) if args.qualities else None
    quality = check_quality(args.quality) if args.quality is not None else None
    name = savedmodel.check_model_name(args.name or ("tfjpegnet" if qualities else f"tfjpegnet_q{quality}"))
    if args.verify_images and not args.tflite:
        raise UserError("--verify-images checks the TFLite files; add --tflite")
    if args.tflite and args.calibration_patches < 1:
        raise UserError(f"--calibration-patches must be >= 1, got {args.calibration_patches}")
    try:
        variants = tflite.check_variants(v.strip() for v in args.tflite_variants.split(","))
    except ValueError as err:
        raise UserError(f"--tflite-variants: {err}") from None
    modify_net = savedmodel.load_keras_model(args.model)
    if models.is_conditioned(modify_net) != bool(qualities):
        raise UserError(f"{args.model}: " + ("a net for every quality: give --qualities LO-HI (its run's "
                                             "config.json), not --quality" if qualities is None else
                                             "a net for one quality: give --quality, not --qualities"))
    fixed = models.fixed_quality(modify_net)
    if fixed is not None and fixed != quality:
        raise UserError(f"{args.model} edits for Q{fixed} (its colour step's fixed quality): give --quality {fixed}")
    images = [codec.read_image(p) for p in args.verify_images or []]
    converted = None
    if args.tflite:
        calibration = tflite.calibration_patches(calibration_paths(args), args.calibration_patches)
        converted = tflite.convert_all(modify_net, calibration, qualities=qualities, variants=variants)
    version_dir = savedmodel.write_saved_model(modify_net, qualities or quality, os.path.join(args.out, name),
                                               args.version)
    print(f"SavedModel  {version_dir}  {savedmodel.folder_size(version_dir) / 1e6:.2f} MB")
    ok = True
    if converted:
        paths = tflite.write_models(converted, args.out, name)
        for variant, path in paths.items():
            print(f"TFLite {variant:7s} {path}  {os.path.getsize(path) / 1e6:.2f} MB")
        # A net for every quality is checked at both ends of its range and in the middle.
        checked = sorted({qualities[0], sum(qualities) // 2, qualities[1]}) if qualities else [quality]
        checked = sorted(set(args.verify_qualities)) if qualities and args.verify_qualities else checked
        for q in checked if images else []:
            rows = tflite.verify(modify_net, paths, images, q, qualities=qualities)
            if qualities:
                print(f"quality {q}:")
            print(tflite.format_report(rows))
            ok = ok and all(row["ok"] for row in rows)
    print(f"config      {savedmodel.write_models_config(args.out, args.serving_base_path)}")
    return 0 if ok else 1
