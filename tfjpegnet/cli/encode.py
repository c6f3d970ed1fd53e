"""Encode images as standard JPEG files after the Modify-Net pre-edit.

Each input (files, or folders searched recursively for PNG/JPEG/BMP/TIFF) is read
(gray -> RGB, alpha dropped, 16-bit scaled to 8), edited by Modify-Net in overlapping
tiles (memory stays bounded for any size; the result equals the untiled edit within
1/255), and written as OUTDIR/<name>.jpg (sub-folders of a folder input kept) by --encoder:
mozjpeg by default (trellis quantisation, progressive unless --baseline, 4:2:0). Any JPEG
decoder reads the files. An output never replaces an input; each file is
written under a temporary name and renamed when complete. A file that cannot be read
gets one error line and the others are still encoded; the exit code is then 1.
Without --model, the shipped saved_models/tfjpegnet of the tfjpegnet checkout (one net for
every quality) is used, from any working directory.

--quality: any JPEG quality 1..100. A net for one quality (e.g. saved_models/tfjpegnet_q15)
defaults to its own; the net for every quality defaults to 75 and, for a quality outside the
range it was trained on (5..95 for the shipped one), says so and applies the edit it learned
for the nearest trained quality, then encodes at the quality asked for.
"""

import sys

from tfjpegnet.cli import DESCRIBED_DEFAULT
from tfjpegnet.errors import UserError


def add_arguments(parser):
    """Register the ``encode`` command's options on ``parser``."""
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--model", default=None,
                        help="SavedModel folder (latest version used) or a .keras Modify-Net for one quality "
                             "(default: saved_models/tfjpegnet of the tfjpegnet checkout, one net for every "
                             "quality)" + DESCRIBED_DEFAULT)
    parser.add_argument("--quality", default=None,
                        help="JPEG quality 1..100 (default: a net for one quality: its own, required for a .keras "
                             "file; the net for every quality: 75)" + DESCRIBED_DEFAULT)
    parser.add_argument("--encoder", choices=("mozjpeg", "jpegli", "opencv"), default="mozjpeg",
                        help="JPEG encoder after the edit: mozjpeg (trellis quantisation, progressive), jpegli, "
                             "or OpenCV's libjpeg-turbo with optimised Huffman tables")
    parser.add_argument("--baseline", action="store_true",
                        help="write sequential (baseline) files, for decoders that cannot read progressive JPEG "
                             "(only changes mozjpeg's output; the others are always baseline)")
    parser.add_argument("--tile", type=int, default=1024,
                        help="tile side in pixels for large images, a multiple of 16 so tiles start on JPEG's "
                             "block grid (memory ~ (tile + 2 halo)^2)")


def resolve_model(model):
    """``--model`` as given, or the shipped default model; raises UserError naming --model if there is none."""
    from tfjpegnet.deploy import encode

    if model is not None:
        return model
    found = encode.default_model()
    if found is None:
        raise UserError("no default model: this tfjpegnet installation has no saved_models/"
                        f"{encode.DEFAULT_MODEL_NAME} beside the package (it ships with the repository); "
                        "pass --model PATH (a SavedModel folder or a .keras Modify-Net)")
    return str(found)


def run(args):
    """Encode every input; returns 0, or 1 if any input could not be read."""
    import keras

    from tfjpegnet import models
    from tfjpegnet.deploy import encode
    from tfjpegnet.jpeg import codec, encoders
    from tfjpegnet.jpeg.quality_range import check_quality

    if args.tile < models.MCU or args.tile % models.MCU:
        raise UserError(f"--tile must be a positive multiple of {models.MCU} (JPEG's MCU), got {args.tile}")
    quality = check_quality(args.quality) if args.quality is not None else None
    pairs = encode.plan(args.inputs, args.out)
    model = resolve_model(args.model)
    editor = encode.load_editor(model)
    if editor.qualities is not None:
        quality = encode.DEFAULT_QUALITY if quality is None else quality
        lo, hi = editor.qualities
        if not lo <= quality <= hi:
            nearest = min(max(quality, lo), hi)
            print(f"tfjpegnet encode: quality {quality} is outside the qualities {lo}..{hi} the model was trained "
                  f"on: the edit learned for {nearest} is applied, the JPEG is written at {quality}",
                  file=sys.stderr)
    quality = quality if quality is not None else editor.quality
    if quality is None:
        raise UserError(f"{model}: a .keras file does not record its JPEG quality; pass --quality")
    encoder = encode.encoder_name(args.encoder, args.baseline)
    if args.encoder == "mozjpeg":
        encoders.check_mozjpeg()  # before any file: a libvips without mozjpeg is refused, not used
    progress = keras.utils.Progbar(len(pairs), unit_name="file")
    failed = 0
    for done, (src, out) in enumerate(pairs, 1):
        try:
            encode.encode_file(editor, src, out, quality, encoder, args.tile)
        except codec.ImageError as err:
            failed += 1
            print(f"\ntfjpegnet encode: skipped: {err}", file=sys.stderr)
        progress.update(done)
    print(f"{len(pairs) - failed} of {len(pairs)} file(s) written to {args.out} (quality {quality}, {encoder})")
    return 1 if failed else 0
