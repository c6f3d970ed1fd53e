"""A trained Modify-Net (.keras) as a SavedModel for TensorFlow Serving, and the model files' layout.

:func:`write_saved_model` writes ``<model_dir>/<version>/``, a SavedModel in TF Serving's
layout (built in a temporary folder and renamed into place when complete, with TF
Serving warm-up requests in assets.extra/); :func:`write_models_config` writes the
``models.config`` listing every model of a folder. The graphs are plain TF ops (TF
Serving runs no Python) and take any image size.

A net for one quality (:class:`ServingModule`): serving_default (images uint8 [batch, H,
W, 3] RGB -> modified uint8, the edit, ready for any JPEG encoder), encode (image_bytes
string [batch], PNG/JPEG files -> jpeg_bytes string [batch] at the model's quality) and
metadata (-> quality, halo). The quality is also the SavedModel variable ``quality`` and
is in assets.extra/tfjpegnet.json.

A net for every quality (:class:`AnyQualityServingModule`, ``train --qualities``): the
same signatures with a second input ``quality`` int32 [batch] (1..100, one per image);
metadata gives quality_min, quality_max (the trained range) and halo. A quality outside
the trained range is edited as the nearest trained one (:func:`tfjpegnet.models.conditioning_quality`)
and encoded at the quality asked for; one outside 1..100 fails the request.

Loading a ``.keras`` Modify-Net (:func:`load_keras_model`), its uint8 edit
(:func:`edit_uint8`) and the version folders (:func:`model_versions`) need no TF Serving
package: ``tensorflow_serving`` is imported only to write warm-up requests and
``models.config``. The command line is ``tfjpegnet export`` (:mod:`tfjpegnet.cli.export`).
"""

import functools
import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from tfjpegnet import __version__, files, models, pixels
from tfjpegnet.deploy import serving_client, tiling
from tfjpegnet.jpeg import codec
from tfjpegnet.errors import UserError

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
INFO_FILE = os.path.join("assets.extra", "tfjpegnet.json")
CONFIG_FILE = "models.config"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_keras_model(path):
    """Load a Modify-Net from a ``.keras`` file (built-in layers only, not compiled).

    Returns:
      keras.Model mapping float YCrCb [batch, H, W, 3] to the edited YCrCb.

    Raises UserError if the file is missing, not a ``.keras`` model, not an
    image-to-image Modify-Net (3 channels in and out; a net for every quality takes 4 in:
    the image and its quality plane, see :func:`tfjpegnet.models.is_conditioned`).
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise UserError(f"{path}: expected a .keras model file")
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such model file")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a bad archive
        raise UserError(f"{path}: cannot load the Keras model ({err})") from None
    channels_in = 4 if models.is_conditioned(model) else 3
    if tuple(model.input_shape[-1:]) != (channels_in,) or tuple(model.output_shape[-1:]) != (3,):
        raise UserError(f"{path}: not a Modify-Net (input {model.input_shape}, "
                        f"output {model.output_shape}); expected 3-channel images")
    return as_float32(model)


def as_float32(model):
    """Return ``model`` with every layer computing in float32 (same weights).

    A model saved under a ``mixed_bfloat16`` policy keeps that policy per layer;
    serving graphs and TFLite files should compute in float32.
    """
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    clone = keras.models.clone_model(
        model, clone_function=lambda layer: layer.__class__.from_config(
            {**layer.get_config(), "dtype": "float32"}))
    clone.set_weights(model.get_weights())
    return clone


def edit_uint8(modify_net, images, quality=None):
    """RGB uint8 [batch, H, W, 3] -> Modify-Net edit, uint8 same shape (TF ops).

    :func:`models.edit_rgb` of ``images / 255`` (at ``quality``, int or [batch], for a
    conditioned net), rounded to 8 bits by :func:`tfjpegnet.pixels.to_uint8`.
    """
    return pixels.to_uint8(models.edit_rgb(modify_net, tf.cast(images, tf.float32) / 255.0, quality))


def _decode_image(data):
    """One image file (string scalar: PNG/JPEG/BMP/GIF) -> RGB uint8 [H, W, 3] (gray -> RGB, alpha dropped)."""
    image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _encode_jpeg(image, quality):
    """RGB uint8 [H, W, 3] -> JPEG file (string scalar) by ``tf.io.encode_jpeg`` (4:2:0, optimised Huffman).

    ``quality``: a Python int, or an int32 scalar tensor 1..100 (encode_jpeg takes its
    quality as a constant, so a tensor selects one of 100 encoders with ``tf.switch_case``).
    """
    def at(q):
        return tf.io.encode_jpeg(image, quality=q, optimize_size=True, chroma_downsampling=True)

    if isinstance(quality, int):
        return at(quality)
    return tf.switch_case(quality - 1, [lambda q=q: at(q) for q in range(1, 101)])


def check_model_name(name):
    """Return ``name`` if it is a usable model (and folder) name; raise UserError otherwise."""
    if not _NAME_RE.match(name):
        raise UserError(f"--name must be letters, digits, '_', '.' or '-', got {name!r}")
    return name


class ServingModule(tf.Module):
    """The exported object: a Modify-Net, its quality and halo, and three signatures.

    - ``serving_default``: ``images`` uint8 [batch, H, W, 3] RGB -> ``modified`` uint8,
      same shape: RGB -> YCrCb -> Modify-Net -> RGB, rounded and clipped.
    - ``encode``: ``image_bytes`` string [batch] (PNG/JPEG/BMP/GIF files) ->
      ``jpeg_bytes`` string [batch]: decode (gray -> RGB, alpha dropped), the edit above,
      ``tf.io.encode_jpeg`` at the model's quality (4:2:0, optimised Huffman tables);
      images of one batch may differ in size (``tf.map_fn`` over the batch).
    - ``metadata``: no input -> ``quality`` int32 scalar (the JPEG quality the model
      was trained for) and ``halo`` int32 scalar (the overlap in pixels needed when
      editing in tiles: the receptive radius, rounded up to the MCU grid period;
      tiles must then start at multiples of 16). Both are also the variables ``quality``
      and ``halo`` of the loaded object.
    """

    def __init__(self, modify_net, quality, halo):
        """Wrap ``modify_net`` (keras.Model) for JPEG quality ``quality`` (int 1..100)."""
        super().__init__(name="tfjpegnet")
        # Keras 3 wraps each tf.Variable. Tracking the raw variables (and not the Keras
        # model, reached through an untracked partial) saves each weight once, in a form
        # graph-mode loaders (TF Serving, saved_model_cli) restore.
        self.tf_variables = [weight.value for weight in modify_net.weights]
        self._edit = functools.partial(edit_uint8, modify_net)
        self._jpeg_quality = int(quality)
        self.quality = tf.Variable(int(quality), dtype=tf.int32, trainable=False, name="quality")
        self.halo = tf.Variable(int(halo), dtype=tf.int32, trainable=False, name="halo")

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def edit(self, images):
        """``serving_default``: images uint8 [b, H, W, 3] -> {"modified": uint8 [b, H, W, 3]}."""
        return {"modified": self._edit(images)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def encode(self, image_bytes):
        """``encode``: image files string [b] -> {"jpeg_bytes": JPEG files string [b]}."""
        def encode_one(data):
            return _encode_jpeg(self._edit(_decode_image(data)[None])[0], self._jpeg_quality)

        jpegs = tf.map_fn(encode_one, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string))
        return {"jpeg_bytes": jpegs}

    @tf.function(input_signature=[])
    def metadata(self):
        """``metadata``: {"quality": int32 scalar, "halo": int32 scalar}."""
        return {"quality": self.quality.read_value(), "halo": self.halo.read_value()}

    def signatures(self):
        """The signature dict for ``tf.saved_model.save``."""
        return {"serving_default": self.edit, "encode": self.encode, "metadata": self.metadata}


class AnyQualityServingModule(tf.Module):
    """The exported object of a net for every quality: the net, its trained range and halo, three signatures.

    - ``serving_default``: ``images`` uint8 [batch, H, W, 3] RGB and ``quality`` int32
      [batch] (1..100) -> ``modified`` uint8 [batch, H, W, 3], each image edited for its quality;
    - ``encode``: ``image_bytes`` string [batch] and ``quality`` int32 [batch] ->
      ``jpeg_bytes`` string [batch], ``tf.io.encode_jpeg`` at each image's quality;
    - ``metadata``: -> ``quality_min``, ``quality_max`` (the trained range) and ``halo``, int32
      scalars (also the variables of the loaded object).

    A quality outside the trained range is edited as the nearest trained quality and
    encoded at the quality asked for; a quality outside 1..100 fails the call
    (InvalidArgument).
    """

    def __init__(self, modify_net, qualities, halo):
        """Wrap the conditioned ``modify_net`` (keras.Model) trained on ``qualities`` (lo, hi)."""
        super().__init__(name="tfjpegnet")
        self.tf_variables = [weight.value for weight in modify_net.weights]
        lo, hi = (int(q) for q in qualities)
        self._edit = lambda images, quality: edit_uint8(
            modify_net, images, models.conditioning_quality(quality, (lo, hi)))
        self.quality_min = tf.Variable(lo, dtype=tf.int32, trainable=False, name="quality_min")
        self.quality_max = tf.Variable(hi, dtype=tf.int32, trainable=False, name="quality_max")
        self.halo = tf.Variable(int(halo), dtype=tf.int32, trainable=False, name="halo")

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images"),
                                  tf.TensorSpec([None], tf.int32, name="quality")])
    def edit(self, images, quality):
        """``serving_default``: images uint8 [b, H, W, 3], quality int32 [b] -> {"modified": uint8 [b, H, W, 3]}."""
        return {"modified": self._edit(images, _check_qualities(quality, tf.shape(images)[0]))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes"),
                                  tf.TensorSpec([None], tf.int32, name="quality")])
    def encode(self, image_bytes, quality):
        """``encode``: image files string [b], quality int32 [b] -> {"jpeg_bytes": JPEG files string [b]}."""
        def encode_one(item):
            data, q = item
            return _encode_jpeg(self._edit(_decode_image(data)[None], q[None])[0], q)

        quality = _check_qualities(quality, tf.shape(image_bytes)[0])
        jpegs = tf.map_fn(encode_one, (image_bytes, quality), fn_output_signature=tf.TensorSpec([], tf.string))
        return {"jpeg_bytes": jpegs}

    @tf.function(input_signature=[])
    def metadata(self):
        """``metadata``: {"quality_min", "quality_max", "halo"}: int32 scalars."""
        return {"quality_min": self.quality_min.read_value(), "quality_max": self.quality_max.read_value(),
                "halo": self.halo.read_value()}

    def signatures(self):
        """The signature dict for ``tf.saved_model.save``."""
        return {"serving_default": self.edit, "encode": self.encode, "metadata": self.metadata}


def _check_qualities(quality, count):
    """``quality`` (int32 [count]) once it is asserted to hold one quality 1..100 per image."""
    checks = [tf.debugging.assert_equal(tf.size(quality), count, message="give one quality per image"),
              tf.debugging.assert_greater_equal(quality, 1, message="quality must be 1..100"),
              tf.debugging.assert_less_equal(quality, 100, message="quality must be 1..100")]
    with tf.control_dependencies(checks):
        return tf.identity(quality)


def model_versions(model_dir):
    """Sorted int versions of complete SavedModels (``<n>/saved_model.pb``) in ``model_dir``."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(n) for n in os.listdir(model_dir)
                  if n.isdigit() and os.path.isfile(os.path.join(model_dir, n, "saved_model.pb")))


def warmup_image():
    """A deterministic 36x52 RGB uint8 test card (gradients and an edge) for warm-up requests."""
    y, x = np.mgrid[0:36, 0:52]
    image = np.stack([x * 4, y * 6, (x + y) * 3], axis=-1) % 256
    image[:, 26:] = 255 - image[:, 26:]
    return image.astype(np.uint8)


def warmup_logs(model_name, quality=None):
    """PredictionLog protos, one ``serving_default`` and one ``encode`` request (batch 1).

    ``quality``: None for a net for one quality; for a net for every quality, the quality
    (int) both requests carry.
    """
    from tensorflow_serving.apis import prediction_log_pb2

    image = warmup_image()
    requests = [serving_client.predict_request(model_name, "serving_default", image[None], quality=quality),
                serving_client.predict_request(model_name, "encode", [codec.encode_jpeg(image, 90)], quality=quality)]
    return [prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=r))
            for r in requests]


def write_saved_model(modify_net, quality, model_dir, version=None, model_name=None):
    """Write the SavedModel to ``model_dir/<version>`` atomically (temp folder, then rename).

    Args:
      modify_net: keras.Model (Modify-Net).
      quality: JPEG quality 1..100 the model was trained for, or for a net for every
        quality (:func:`tfjpegnet.models.is_conditioned`) its trained range (lo, hi).
      model_dir: the model's base folder, e.g. ``saved_models/tfjpegnet_q15``.
      version: int >= 1, or None for one more than the highest existing version.
      model_name: served name written into the warm-up requests (default: folder name).

    Returns:
      str, the version folder. Raises UserError if that version already exists.
    """
    model_name = model_name or os.path.basename(os.path.normpath(model_dir))
    existing = model_versions(model_dir)
    version = (existing[-1] + 1 if existing else 1) if version is None else int(version)
    if version < 1:
        raise UserError(f"--version must be >= 1, got {version}")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise UserError(f"{final} already exists; pick another --version or remove it")
    os.makedirs(model_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)
    try:
        halo = tiling.halo(modify_net)
        if models.is_conditioned(modify_net):
            lo, hi = (int(q) for q in quality)
            module, info, warmup_quality = (AnyQualityServingModule(modify_net, (lo, hi), halo),
                                            {"qualities": [lo, hi]}, (lo + hi) // 2)
        else:
            module, info, warmup_quality = ServingModule(modify_net, quality, halo), {"quality": int(quality)}, None
        tf.saved_model.save(module, tmp, signatures=module.signatures())
        os.makedirs(os.path.join(tmp, "assets.extra"))
        with tf.io.TFRecordWriter(os.path.join(tmp, WARMUP_FILE)) as writer:
            for log in warmup_logs(model_name, warmup_quality):
                writer.write(log.SerializeToString())
        files.write_json(os.path.join(tmp, INFO_FILE), {
            "name": model_name, **info, "halo": halo,
            "tfjpegnet_version": __version__, "signatures": sorted(module.signatures())})
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; servers may run as another user
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def models_config(out_dir, base_path="/models"):
    """Build the TF Serving ModelServerConfig for every model folder in ``out_dir``.

    Args:
      out_dir: folder holding ``<name>/<version>/saved_model.pb`` models.
      base_path: where the server sees ``out_dir`` (``/models`` in the docker image).

    Returns:
      model_server_config_pb2.ModelServerConfig, models sorted by name.
    """
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    for name in sorted(os.listdir(out_dir)):
        if model_versions(os.path.join(out_dir, name)):
            entry = config.model_config_list.config.add()
            entry.name = name
            entry.base_path = base_path.rstrip("/") + "/" + name
            entry.model_platform = "tensorflow"
    return config


def write_models_config(out_dir, base_path="/models"):
    """Atomically write ``out_dir/models.config`` (text format); returns its path."""
    path = os.path.join(out_dir, CONFIG_FILE)
    files.write_text(path, text_format.MessageToString(models_config(out_dir, base_path)))
    return path


def folder_size(path):
    """Total size in bytes of the files under ``path``."""
    return sum(os.path.getsize(os.path.join(root, n)) for root, _, names in os.walk(path) for n in names)
