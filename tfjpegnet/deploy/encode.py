"""Encode images as standard JPEG files after the Modify-Net pre-edit (the library side).

:func:`load_editor` loads a model (a SavedModel folder or a ``.keras`` Modify-Net);
:func:`plan` maps inputs (files, or folders searched recursively for PNG/JPEG/BMP/TIFF)
to output paths; :func:`encode_file` reads one image (gray -> RGB, alpha dropped, 16-bit
scaled to 8), edits it in overlapping tiles (memory stays bounded for any size; the
result equals the untiled edit within 1/255) and atomically writes a JPEG file (4:2:0) from
the chosen encoder (:func:`encoder_name`: mozjpeg by default). :func:`default_model` finds the shipped model of a repository checkout.

Only TensorFlow is needed: neither the TF Serving API nor LiteRT is imported on this
path. The command line is ``tfjpegnet encode`` (:mod:`tfjpegnet.cli.encode`).
"""

import os
from pathlib import Path

import tensorflow as tf

import tfjpegnet
from tfjpegnet import datasets, files, models
from tfjpegnet.deploy import savedmodel, tiling
from tfjpegnet.jpeg import codec, encoders
from tfjpegnet.errors import UserError

DEFAULT_MODEL_NAME = "tfjpegnet"
#: The quality ``encode`` uses with a model for every quality when none is given.
DEFAULT_QUALITY = 75


def default_model():
    """The shipped model ``saved_models/tfjpegnet`` (one net for every quality) of the repository tfjpegnet runs from.

    In a clone or an editable install (``pip install -e .``) the repository root is the
    folder holding the ``tfjpegnet`` package, whatever the working directory is.

    Returns:
      pathlib.Path of the model folder, or None if there is none (a non-editable install
      does not carry ``saved_models/``).
    """
    path = Path(tfjpegnet.__file__).resolve().parents[1] / "saved_models" / DEFAULT_MODEL_NAME
    return path if savedmodel.model_versions(path) else None


class Editor:
    """A loaded Modify-Net: its edit of RGB uint8 images, its quality (or trained range) and halo.

    A net for one quality has ``quality`` (int, or None for a ``.keras`` file, which does
    not record it) and ``qualities`` None; a net for every quality has ``quality`` None and
    ``qualities`` (lo, hi), its trained range.
    """

    def __init__(self, edit, quality, halo, qualities=None):
        """``edit``: (uint8 [1, H, W, 3], int32 [1] quality) -> uint8 tensor, same shape (the quality
        is ignored by a net for one quality)."""
        self._edit = edit
        self.quality = quality
        self.halo = halo
        self.qualities = qualities

    def at(self, quality):
        """The edit for JPEG quality ``quality`` (int 1..100): a function RGB uint8 [H, W, 3] -> uint8 [H, W, 3].

        A net for every quality edits a quality outside its trained range as the nearest
        trained one; a net for one quality edits the same for every quality.
        """
        q = tf.constant([int(quality)], tf.int32)
        return lambda rgb: self._edit(tf.convert_to_tensor(rgb[None], tf.uint8), q).numpy()[0]


def saved_model_version_dir(path):
    """Resolve a SavedModel path: a version folder itself, or a model folder -> latest version."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = savedmodel.model_versions(path)
    if not versions:
        raise UserError(f"{path}: no SavedModel here (expected saved_model.pb or <version>/saved_model.pb)")
    return os.path.join(path, str(versions[-1]))


def load_editor(path):
    """Load ``path``: a SavedModel (model or version folder) or a ``.keras`` Modify-Net for one quality.

    Returns:
      :class:`Editor`. A ``.keras`` net for every quality is refused (UserError): it does not
      record the range it was trained on; export it (``tfjpegnet export --qualities``).
    """
    path = os.fspath(path)
    if path.endswith(".keras"):
        modify_net = savedmodel.load_keras_model(path)
        if models.is_conditioned(modify_net):
            raise UserError(f"{path}: a net for every quality does not record the qualities it was trained on; "
                            "export it with tfjpegnet export --qualities LO-HI (see its run's config.json) "
                            "and encode with the SavedModel")
        edit = tf.function(lambda images, quality: savedmodel.edit_uint8(modify_net, images),
                           input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8),
                                            tf.TensorSpec([1], tf.int32)])
        return Editor(edit, None, tiling.halo(modify_net))
    if not os.path.isdir(path):
        raise UserError(f"{path}: no such model (a SavedModel folder or a .keras file)")
    loaded = tf.saved_model.load(saved_model_version_dir(path))
    meta = {k: int(v.numpy()) for k, v in loaded.signatures["metadata"]().items()}
    serve = loaded.signatures["serving_default"]
    if "quality_min" in meta:
        return Editor(lambda images, quality: serve(images=images, quality=quality)["modified"], None,
                      meta["halo"], (meta["quality_min"], meta["quality_max"]))
    return Editor(lambda images, quality: serve(images=images)["modified"], meta["quality"], meta["halo"])


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


# ``tfjpegnet encode --encoder E [--baseline]`` -> the name in :data:`tfjpegnet.jpeg.encoders.ENCODERS`.
ENCODER_CHOICES = {"mozjpeg": ("mozjpeg", "mozjpeg-baseline"), "jpegli": ("jpegli", "jpegli"),
                   "opencv": ("opencv-optimize", "opencv-optimize")}


def encoder_name(choice, baseline=False):
    """The encoder that writes ``encode``'s files: ``choice`` (a key of ENCODER_CHOICES), sequential if ``baseline``.

    mozjpeg writes progressive files unless ``baseline``; jpegli and OpenCV (optimised
    Huffman tables) always write sequential (baseline) files.
    """
    return ENCODER_CHOICES[choice][1 if baseline else 0]


def encode_file(editor, src, out, quality, encoder="mozjpeg", tile=1024):
    """Read ``src``, edit it, encode it with ``encoder`` (a name of ENCODERS) and atomically write ``out``.

    Returns:
      int, the size of the written file in bytes. Raises codec.ImageError for an
      unreadable input (nothing is written then).
    """
    edited = tiling.edit_tiled(editor.at(quality), codec.read_image(src), editor.halo, tile)
    jpeg = encoders.encode(encoder, edited, quality)
    files.write_bytes(out, jpeg)
    return len(jpeg)
