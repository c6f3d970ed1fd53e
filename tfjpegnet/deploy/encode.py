"""Encode images as standard JPEG files after the Modify-Net pre-edit.

Each input (files, or folders searched recursively for PNG/JPEG/BMP/TIFF) is read
(gray -> RGB, alpha dropped, 16-bit scaled to 8), edited by Modify-Net in overlapping
tiles (memory stays bounded for any size; the result equals the untiled edit within
1/255), and written as OUTDIR/<name>.jpg (sub-folders of a folder input kept): baseline
JPEG, 4:2:0, from OpenCV, with optimised Huffman tables unless --baseline-huffman.
Any JPEG decoder reads the files. An output never replaces an input; each file is
written under a temporary name and renamed when complete. A file that cannot be read
gets one error line and the others are still encoded; the exit code is then 1.
"""

import os
import sys

import keras
import tensorflow as tf

from tfjpegnet import datasets, files, models
from tfjpegnet.deploy import savedmodel, tiling
from tfjpegnet.jpeg import codec
from tfjpegnet.jpeg.quality_range import check_quality
from tfjpegnet.errors import UserError


class Editor:
    """A loaded Modify-Net: ``edit(rgb uint8 [H, W, 3]) -> uint8 [H, W, 3]``, its quality and halo."""

    def __init__(self, edit, quality, halo):
        """``edit``: uint8 [1, H, W, 3] -> uint8 tensor, same shape; ``quality``: int or None."""
        self._edit = edit
        self.quality = quality
        self.halo = halo

    def __call__(self, rgb):
        """Edit one RGB uint8 image [H, W, 3]; returns uint8 [H, W, 3]."""
        return self._edit(tf.convert_to_tensor(rgb[None], tf.uint8)).numpy()[0]


def saved_model_version_dir(path):
    """Resolve a SavedModel path: a version folder itself, or a model folder -> latest version."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = savedmodel.model_versions(path)
    if not versions:
        raise UserError(f"{path}: no SavedModel here (expected saved_model.pb or <version>/saved_model.pb)")
    return os.path.join(path, str(versions[-1]))


def load_editor(path):
    """Load ``path``: a SavedModel (model or version folder) or a ``.keras`` Modify-Net.

    Returns:
      :class:`Editor`; its ``quality`` is the SavedModel's, or None for a ``.keras`` file
      (which does not record one).
    """
    path = os.fspath(path)
    if path.endswith(".keras"):
        modify_net = savedmodel.load_keras_model(path)
        edit = tf.function(lambda images: savedmodel.edit_uint8(modify_net, images),
                           input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
        return Editor(edit, None, tiling.halo(modify_net))
    if not os.path.isdir(path):
        raise UserError(f"{path}: no such model (a SavedModel folder or a .keras file)")
    loaded = tf.saved_model.load(saved_model_version_dir(path))
    meta = {k: int(v.numpy()) for k, v in loaded.signatures["metadata"]().items()}
    serve = loaded.signatures["serving_default"]
    return Editor(lambda images: serve(images=images)["modified"], meta["quality"], meta["halo"])


def plan(inputs, out_dir):
    """Map every input image to its output path.

    Args:
      inputs: file and folder paths; folders are searched recursively.
      out_dir: output folder.

    Returns:
      list of (input path, output path) pairs: ``out_dir/<stem>.jpg`` for a file,
      ``out_dir/<relative folder>/<stem>.jpg`` for an image inside a folder input.

    Raises UserError for a missing input, two inputs with the same output name, or an
    output that would overwrite an input.
    """
    pairs = []
    for item in inputs:
        if os.path.isdir(item):
            for path in datasets.find_images(item):
                rel = os.path.splitext(os.path.relpath(path, item))[0] + ".jpg"
                pairs.append((path, os.path.join(out_dir, rel)))
        elif os.path.isfile(item):
            stem = os.path.splitext(os.path.basename(item))[0]
            pairs.append((item, os.path.join(out_dir, stem + ".jpg")))
        else:
            raise UserError(f"{item}: no such file or folder")
    sources = {os.path.realpath(src): src for src, _ in pairs}
    seen = {}
    for src, out in pairs:
        key = os.path.realpath(out)
        if key in sources:
            raise UserError(f"output {out} would overwrite the input {sources[key]}; choose another -o")
        if key in seen:
            raise UserError(f"{seen[key]} and {src} would both be written to {out}; rename one")
        seen[key] = src
    return pairs


def encode_file(editor, src, out, quality, optimize=True, tile=1024):
    """Read ``src``, edit it, and atomically write the JPEG file ``out``.

    Returns:
      int, the size of the written file in bytes. Raises codec.ImageError for an
      unreadable input (nothing is written then).
    """
    edited = tiling.edit_tiled(editor, codec.read_image(src), editor.halo, tile)
    jpeg = codec.encode_jpeg(edited, quality, optimize=optimize)
    files.write_bytes(out, jpeg)
    return len(jpeg)


def add_arguments(parser):
    """Register the ``encode`` command's options on ``parser``."""
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--model", default="saved_models/tfjpegnet_q15",
                        help="SavedModel folder (latest version used) or a .keras Modify-Net")
    parser.add_argument("--quality", default=None,
                        help="JPEG quality (default: the model's; required for a .keras file)")
    parser.add_argument("--baseline-huffman", action="store_true",
                        help="use OpenCV's default (standard) Huffman tables instead of optimised ones")
    parser.add_argument("--tile", type=int, default=1024,
                        help="tile side in pixels for large images, a multiple of 16 so tiles start on JPEG's "
                             "block grid (memory ~ (tile + 2 halo)^2)")


def run(args):
    """Encode every input; returns 0, or 1 if any input could not be read."""
    if args.tile < models.MCU or args.tile % models.MCU:
        raise UserError(f"--tile must be a positive multiple of {models.MCU} (JPEG's MCU), got {args.tile}")
    if args.quality is not None:
        args.quality = check_quality(args.quality)
    pairs = plan(args.inputs, args.out)
    editor = load_editor(args.model)
    quality = args.quality if args.quality is not None else editor.quality
    if quality is None:
        raise UserError(f"{args.model}: a .keras file does not record its JPEG quality; pass --quality")
    progress = keras.utils.Progbar(len(pairs), unit_name="file")
    failed = 0
    for done, (src, out) in enumerate(pairs, 1):
        try:
            encode_file(editor, src, out, quality, not args.baseline_huffman, args.tile)
        except codec.ImageError as err:
            failed += 1
            print(f"\ntfjpegnet encode: skipped: {err}", file=sys.stderr)
        progress.update(done)
    print(f"{len(pairs) - failed} of {len(pairs)} file(s) written to {args.out} (quality {quality})")
    return 1 if failed else 0
