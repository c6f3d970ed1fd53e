"""Modify-Net for phones: TFLite float32, float16 and int8 files, run with LiteRT.

Every file has the same interface:

- input  ``rgb``    float32 [1, H, W, 3], RGB in [0, 1] (pixel / 255);
- output ``edited`` float32 [1, H, W, 3], the edited RGB clipped to [0, 1]; round
  ``edited * 255`` to uint8 and hand it to any JPEG encoder at the model's quality.

A file of a net for every quality (:func:`tfjpegnet.models.is_conditioned`) has a second
input ``quality`` float32 [1], the JPEG quality (1..100) the image will be encoded at;
the file clamps it into the trained range (lo, hi) (outside it the net gives the edit of
the nearest quality it learned, :func:`tfjpegnet.models.conditioning_quality`), and
``edited`` goes to the JPEG encoder at the quality given. LiteRT names the inputs
``serving_default_rgb:0`` and ``serving_default_quality:0`` and lists them in any order:
find them by name (:class:`Runner` does this).

H and W are free (shape signature [1, -1, -1, 3]): call
``interpreter.resize_tensor_input(rgb_index, [1, H, W, 3])`` and
``allocate_tensors()`` before ``invoke()`` (:class:`Runner` does this).

Variants: ``float32`` (as trained); ``fp16`` (float16 weights, float32 arithmetic);
``int8`` (full integer quantisation of weights and activations, calibrated on 64x64
training patches, for a conditioned net at qualities spread over its trained range;
float32 inputs and output, quantised inside; the colour conversions and ops built under
``graph_ops.FLOAT_SCOPE`` stay float32). Checked with the
LiteRT interpreter (``ai_edge_litert``, imported only when a :class:`Runner` or an int8 file is made),
which uses XNNPACK on CPU.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, files, graph_ops, models, pixels
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, color

VARIANTS = ("float32", "fp16", "int8")
SUFFIXES = {"float32": "", "fp16": "_fp16", "int8": "_int8"}
# Largest allowed |difference| to the float32 file: max |pixel| for float32 vs Keras,
# PSNR in dB after real JPEG for the quantised variants.
TOLERANCES = {"float32": 1e-4, "fp16": 0.05, "int8": 0.3}


def residual_branch(modify_net):
    """Return a function (ycrcb, q) -> residual for a Modify-Net (output = image + residual).

    ``ycrcb``: float [B, H, W, 3] in [0, 1]; ``q``: None, or for a conditioned net the
    quality / 100, float [B, 1]. The residual is float [B, H, W, 3].

    If the model ends in ``Add([image, residual])`` (:func:`models.build_modify_net`, and
    :func:`models.build_light_modify_net`, where a conditioned net's image is its
    :class:`models.ImageOf`) the residual branch is taken as its own keras.Model whose
    inputs are the image and, for a conditioned net, the output of its
    :class:`models.QualityOf`: the full-range sum is never quantised, and the quality
    enters as one number, not as the constant plane the net's own input carries (no plane
    to build and average back per image). Otherwise, for a net for one quality, the
    residual is computed as output - image; a conditioned net must end in that Add
    (ValueError otherwise).
    """
    image, quality, residual = models.edit_parts(modify_net)
    inputs = [image] if quality is None else [image, quality]
    if residual is not None:
        branch = keras.Model(inputs, residual)
        return lambda ycrcb, q=None: branch([ycrcb] if q is None else [ycrcb, q])
    if quality is not None:
        raise ValueError(f"{modify_net.name}: a net for every quality must end in Add([image, residual])")
    return lambda ycrcb, q=None: modify_net(ycrcb, training=False) - ycrcb


def _linear_maps():
    """The 3x3 matrices of the colour conversions in :mod:`tfjpegnet.jpeg.color`.

    Returns:
      (A, C) float32 [3, 3] numpy arrays: A maps a YCrCb difference to an RGB
      difference (``ycrcb_to_rgb`` without offsets); C = A B - I, where B is
      ``rgb_to_ycrcb`` without offsets, so that ``ycrcb_to_rgb(rgb_to_ycrcb(x) + r)
      = x + C x + A r`` exactly (OpenCV's rounded constants make C about 3e-4, not 0).
    """
    eye = tf.eye(3)
    offset = color.rgb_to_ycrcb(tf.zeros([3]))
    a = tf.transpose(color.ycrcb_to_rgb(offset + eye) - color.ycrcb_to_rgb(offset))
    b = tf.transpose(color.rgb_to_ycrcb(eye) - offset)
    return a.numpy(), (a @ b - eye).numpy()


RGB_SPEC = tf.TensorSpec([1, None, None, 3], tf.float32, name="rgb")
QUALITY_SPEC = tf.TensorSpec([1], tf.float32, name="quality")


def check_qualities(modify_net, qualities):
    """Raise ValueError unless ``qualities`` (lo, hi) is given exactly for a conditioned net."""
    if models.is_conditioned(modify_net) != (qualities is not None):
        raise ValueError(f"{modify_net.name}: give qualities=(lo, hi), the trained range, for a net for "
                         "every quality (models.is_conditioned), and only for one")


class EditModule(tf.Module):
    """Modify-Net as one TF function ``edit``: rgb float32 [1, None, None, 3] -> edited RGB.

    The graph computes exactly :func:`models.edit_rgb` (RGB -> YCrCb -> Modify-Net ->
    RGB, clipped), rearranged as ``rgb + A residual + C rgb`` (see :func:`_linear_maps`).
    The colour conversion in and that final sum are built under ``graph_ops.FLOAT_SCOPE``:
    in an int8 file only the net runs in int8, on its small-range residual.

    For a conditioned net ``edit`` takes a second input ``quality`` float32 [1] (a JPEG
    quality 1..100), clamped into the trained range ``qualities``
    (:func:`models.conditioning_quality`) before it becomes the quality plane.

    Keras 3 wraps each ``tf.Variable``; the module tracks the raw variables as well so
    that the TFLite converter can freeze them into constants.
    """

    def __init__(self, modify_net, qualities=None):
        """Wrap ``modify_net`` (keras.Model); ``qualities`` (lo, hi): required for a conditioned net only."""
        super().__init__(name="tfjpegnet_tflite")
        check_qualities(modify_net, qualities)
        self.qualities = qualities
        self.residual = residual_branch(modify_net)
        self.tf_variables = [weight.value for weight in modify_net.weights]
        a, c = _linear_maps()
        self.a_kernel = tf.constant(a.T[None, None])  # [1, 1, in, out] for a 1x1 conv
        self.c_kernel = tf.constant(c.T[None, None])
        specs = [RGB_SPEC] if qualities is None else [RGB_SPEC, QUALITY_SPEC]
        self.edit = tf.function(self._edit, input_signature=specs)

    def _edit(self, rgb, quality=None):
        """rgb float32 [1, H, W, 3] in [0, 1] (and for a conditioned net quality float32 [1])
        -> {"edited": float32 [1, H, W, 3] in [0, 1]}."""
        with tf.name_scope(graph_ops.FLOAT_SCOPE):
            ycrcb = color.rgb_to_ycrcb(rgb)
        q = None if quality is None else models.conditioning_quality(quality, self.qualities)[:, None] / 100.0
        residual = tf.cast(self.residual(ycrcb, q), tf.float32)
        with tf.name_scope(graph_ops.FLOAT_SCOPE):  # full-range sums: int8 would round each
            change = (tf.nn.conv2d(residual, self.a_kernel, 1, "VALID")
                      + tf.nn.conv2d(rgb, self.c_kernel, 1, "VALID"))
            return {"edited": tf.clip_by_value(rgb + change, 0.0, 1.0)}


def calibration_patches(paths, count=256, size=64):
    """Pick ``count`` patches, evenly spread, from all ``size`` x ``size`` patches of ``paths``.

    Returns:
      uint8 [min(count, available), size, size, 3], RGB. Raises UserError (from
      tfjpegnet.datasets) if no image gives a patch.
    """
    patches = datasets.load_patches(paths, size)
    picks = np.linspace(0, len(patches) - 1, min(count, len(patches))).round().astype(int)
    return patches[picks]


def rgb_cube_patch(size=64):
    """A calibration patch holding the 8 corners of the RGB cube, plus a gray ramp.

    Natural training patches rarely reach saturated colours; int8 calibration then
    clips e.g. the Cr of pure red. Calibrating on this patch too makes the quantised
    ranges cover every input in [0, 1]^3.

    Returns:
      uint8 [size, size, 3]: 8 vertical stripes of the cube corners (top half) above
      a horizontal black-to-white ramp (bottom half).
    """
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)], np.uint8)
    patch = np.empty((size, size, 3), np.uint8)
    patch[:size // 2] = corners[np.arange(size) * 8 // size][None]
    patch[size // 2:] = np.linspace(0, 255, size).round().astype(np.uint8)[None, :, None]
    return patch


def representative_dataset(calibration, qualities=None):
    """The int8 calibration samples: the :func:`rgb_cube_patch` and every patch of ``calibration``.

    Args:
      calibration: uint8 [N, h, w, 3] RGB patches (h = w).
      qualities: (lo, hi) for a conditioned net, else None.

    Returns:
      a function returning an iterator of dicts keyed by the ``edit`` inputs' names:
      ``rgb`` float32 [1, h, w, 3] in [0, 1] and, with ``qualities``, ``quality``
      float32 [1], spread evenly over lo..hi across the N + 1 samples (so the int8
      ranges cover every trained quality).
    """
    patches = [rgb_cube_patch(calibration.shape[1]), *calibration]
    if qualities is None:
        return lambda: ({"rgb": patch[None].astype(np.float32) / 255.0} for patch in patches)
    spread = np.linspace(*qualities, len(patches)).astype(np.float32)
    return lambda: ({"rgb": patch[None].astype(np.float32) / 255.0, "quality": q[None]}
                    for patch, q in zip(patches, spread))


def convert(modify_net, variant, calibration=None, qualities=None):
    """Convert Modify-Net to a TFLite flatbuffer.

    Args:
      modify_net: keras.Model (Modify-Net).
      variant: ``"float32"``, ``"fp16"`` or ``"int8"``.
      calibration: uint8 [N, h, w, 3] RGB patches; required for ``"int8"``.
      qualities: (lo, hi), the trained quality range of a conditioned net
        (:func:`models.is_conditioned`); required for one, None for other nets.

    Returns:
      bytes, the .tflite model.
    """
    if variant == "int8" and calibration is not None and len(calibration):
        modify_net = with_dead_branch_revived(modify_net, calibration, qualities)
    module = EditModule(modify_net, qualities)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.edit.get_concrete_function()], module)
    if variant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 conversion needs calibration patches")
        return _int8_except_float_scope(converter, representative_dataset(calibration, qualities))
    elif variant != "float32":
        raise ValueError(f"unknown TFLite variant {variant!r}; choose from {VARIANTS}")
    return converter.convert()


def _int8_except_float_scope(converter, dataset):
    """Full integer quantisation of every op but those built under ``graph_ops.FLOAT_SCOPE``.

    Calibrates ``converter`` (a tf.lite.TFLiteConverter) on ``dataset`` (a representative
    dataset function), then quantises with the float-scope ops denylisted: they run in float32
    between a dequantise and a quantise. This is what TF's public
    ``tf.lite.experimental.QuantizationDebugger(debug_options=QuantizationDebugOptions(
    denylisted_nodes=...))`` does in ``get_nondebug_quantized_model``, called without it
    because the debugger crashes (a segmentation fault in TF 2.21) building its debug model of
    these graphs. Returns bytes, the .tflite model.
    """
    from tensorflow.lite.python import convert as lite_convert

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.representative_dataset = dataset
    converter._experimental_calibrate_only = True  # noqa: SLF001 (see the docstring)
    calibrated = converter.convert()
    float_nodes = [name for name in _tensor_names(calibrated)
                   if graph_ops.FLOAT_SCOPE in name.split(":")[0].split("/")]
    return lite_convert.mlir_quantize(calibrated, denylisted_nodes=float_nodes)


def _tensor_names(model):
    """The names of all tensors of a .tflite flatbuffer (bytes); an op is known by its output's."""
    from ai_edge_litert.interpreter import Interpreter

    return [detail["name"] for detail in Interpreter(model_content=model).get_tensor_details()]


def with_dead_branch_revived(modify_net, calibration, qualities=None):
    """``modify_net``, or if its MCU branch's last hidden layer is dead a copy that computes the same without a dead layer.

    In a trained net the units of ``mcu2`` (ReLU) can all be 0 on every input: the branch
    then adds a constant, ``mcu_out``'s bias. int8 quantisation gives that all-zero tensor a
    scale of about 1e-8 (XNNPACK refuses to run the file) and the bias an int32 it cannot
    hold (the constant, a few levels of 255, is lost). The copy makes unit 0 of ``mcu2``
    the constant 1 (kernel 0, bias 1) and moves ``mcu_out``'s bias into that unit's outgoing
    weights: the same function wherever unit 0 was off, i.e. on every calibration input.

    Args:
      modify_net: keras.Model; calibration: uint8 [N, h, w, 3] RGB patches; qualities: the
        trained range (lo, hi) of a conditioned net (its hidden layer is checked at lo, the
        middle and hi), else None.

    Returns:
      keras.Model (``modify_net`` itself when there is nothing to revive).
    """
    names = {layer.name for layer in modify_net.layers}
    if not {"mcu2", "mcu_out"} <= names:
        return modify_net
    probe = keras.Model(modify_net.inputs, modify_net.get_layer("mcu2").output)
    ycrcb = color.rgb_to_ycrcb(tf.constant(calibration, tf.float32) / 255.0)
    at = [None] if qualities is None else sorted({qualities[0], sum(qualities) // 2, qualities[1]})
    if any(float(tf.reduce_max(probe(ycrcb if q is None else models.with_quality(ycrcb, q)))) > 0 for q in at):
        return modify_net
    copy = keras.models.clone_model(modify_net)
    copy.set_weights(modify_net.get_weights())
    hidden, out = copy.get_layer("mcu2"), copy.get_layer("mcu_out")
    kernel, bias = hidden.get_weights()
    kernel[..., 0], bias[0] = 0.0, 1.0
    hidden.set_weights([kernel, bias])
    kernel, bias = out.get_weights()
    kernel[..., 0, :] = bias
    out.set_weights([kernel, np.zeros_like(bias)])
    return copy


def tflite_path(out_dir, name, variant):
    """Path of one variant's file: ``out_dir/<name>.tflite``, ``<name>_fp16.tflite``, ..."""
    return os.path.join(out_dir, f"{name}{SUFFIXES[variant]}.tflite")


def check_variants(variants):
    """``variants`` (iterable of str) as a tuple in :data:`VARIANTS` order; ValueError naming the
    known variants for an unknown one, or if ``float32`` (every other file is checked against it)
    is missing."""
    variants = set(variants)
    unknown = sorted(variants - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown TFLite variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if "float32" not in variants:
        raise ValueError("the TFLite variants must include float32 (the others are checked against it)")
    return tuple(v for v in VARIANTS if v in variants)


def convert_all(modify_net, calibration, qualities=None, variants=VARIANTS):
    """Convert the ``variants`` (default all three; :func:`check_variants`) in memory (nothing is
    written); other arguments as :func:`convert`.

    Returns:
      dict variant -> bytes (the .tflite model), in :data:`VARIANTS` order.
    """
    return {variant: convert(modify_net, variant, calibration, qualities) for variant in check_variants(variants)}


def write_models(models_bytes, out_dir, name):
    """Atomically write converted models (dict variant -> bytes) as ``out_dir/<name><suffix>.tflite``.

    Returns:
      dict variant -> path, in the order of ``models_bytes``.
    """
    paths = {}
    for variant, data in models_bytes.items():
        paths[variant] = tflite_path(out_dir, name, variant)
        files.write_bytes(paths[variant], data)
    return paths


def write_tflite(modify_net, out_dir, name, calibration, qualities=None):
    """Convert all three variants (:func:`convert_all`), then atomically write them (none is
    written if a conversion fails).

    Returns:
      dict variant -> path, in :data:`VARIANTS` order.
    """
    return write_models(convert_all(modify_net, calibration, qualities), out_dir, name)


def _input_index(details, name):
    """Index of the input called ``name`` in LiteRT's input details (it reports e.g.
    ``serving_default_rgb:0``), or None if there is none."""
    found = [d["index"] for d in details if d["name"].split(":")[0].split("_")[-1] == name]
    return found[0] if found else None


class Runner:
    """A LiteRT interpreter for one .tflite file that accepts any image size.

    ``conditioned`` is True if the file has a ``quality`` input (a net for every quality).
    """

    def __init__(self, path, num_threads=None):
        """Load ``path``; ``num_threads`` as in LiteRT (None: its default)."""
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=os.fspath(path), num_threads=num_threads)
        details = self.interpreter.get_input_details()
        self.input_index = _input_index(details, "rgb")
        if self.input_index is None:
            raise ValueError(f"{path}: no input named rgb (inputs {[d['name'] for d in details]})")
        self.quality_index = _input_index(details, "quality")
        self.conditioned = self.quality_index is not None
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.shape = None

    def __call__(self, rgb, quality=None):
        """Edit one image: float32 [H, W, 3] RGB in [0, 1] -> float32 [H, W, 3] in [0, 1].

        ``quality``: the JPEG quality (number 1..100, clamped by the file into its trained
        range) for a conditioned file, where it is required; a ValueError for other files.
        """
        if self.conditioned != (quality is not None):
            raise ValueError("a net for every quality needs the quality to edit for" if self.conditioned
                             else "this file edits for one quality; it takes no quality")
        shape = (1, *rgb.shape)
        if shape != self.shape:
            self.interpreter.resize_tensor_input(self.input_index, shape)
            self.interpreter.allocate_tensors()
            self.shape = shape
        self.interpreter.set_tensor(self.input_index, np.asarray(rgb, np.float32)[None])
        if self.conditioned:
            self.interpreter.set_tensor(self.quality_index, np.array([quality], np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)[0]


def to_uint8(rgb):
    """A :class:`Runner` output (float RGB in [0, 1]) as a uint8 numpy array.

    The rounding is :func:`tfjpegnet.pixels.to_uint8`'s (the one rounding of an edited
    image); this only hands back numpy, as the LiteRT side works in numpy.
    """
    return np.asarray(pixels.to_uint8(rgb))


def jpeg_psnr(original, edited, quality):
    """PSNR (dB) of the real OpenCV JPEG of ``edited`` (float [H, W, 3]) against ``original`` (uint8)."""
    decoded, _ = codec.jpeg_roundtrip(to_uint8(edited), quality)
    return metrics.psnr(original, decoded)


def verify(modify_net, paths, images, quality, qualities=None):
    """Compare each TFLite variant with the Keras model on ``images``.

    Args:
      modify_net: the keras.Model the files were converted from.
      paths: dict variant -> .tflite path (as returned by :func:`write_tflite`).
      images: list of RGB uint8 [H, W, 3] test images.
      quality: JPEG quality for the PSNR check; a conditioned net and its files also
        edit for it.
      qualities: (lo, hi), the trained range of a conditioned net (required for one,
        None for other nets); the Keras reference is given the clamped quality, as the
        files clamp it themselves.

    Returns:
      list of dicts, one per variant plus a first ``keras`` row, with keys ``variant``,
      ``bytes`` (file size), ``max_abs`` (max |output - Keras| over all pixels),
      ``psnr`` (mean dB after real JPEG), ``delta`` (worst per-image |PSNR - float32
      file's PSNR|, dB) and ``ok`` (within :data:`TOLERANCES`).
    """
    check_qualities(modify_net, qualities)
    edit_quality = None if qualities is None else models.conditioning_quality(quality, qualities)
    floats = [img.astype(np.float32) / 255.0 for img in images]
    reference = [models.edit_rgb(modify_net, x[None], edit_quality).numpy()[0] for x in floats]
    outputs = {"keras": reference}
    for variant, path in paths.items():
        runner = Runner(path)
        outputs[variant] = [runner(x, None if qualities is None else quality) for x in floats]
    scores = {k: [jpeg_psnr(img, out, quality) for img, out in zip(images, v)] for k, v in outputs.items()}
    base = scores.get("float32", scores["keras"])
    rows = []
    for variant, out in outputs.items():
        max_abs = max(float(np.max(np.abs(o - r))) for o, r in zip(out, reference))
        delta = max(abs(s - b) for s, b in zip(scores[variant], base))
        measure = max_abs if variant in ("keras", "float32") else delta
        rows.append({"variant": variant,
                     "bytes": os.path.getsize(paths[variant]) if variant in paths else None,
                     "max_abs": max_abs, "psnr": float(np.mean(scores[variant])), "delta": delta,
                     "ok": variant == "keras" or measure <= TOLERANCES[variant]})
    return rows


def format_report(rows):
    """Render :func:`verify` rows as a plain-text table (str)."""
    lines = [f"{'variant':8s} {'MB':>7s} {'max|d| vs Keras':>16s} {'JPEG PSNR':>10s} "
             f"{'|dPSNR| vs f32':>15s} {'limit':>7s}  ok"]
    for row in rows:
        size = f"{row['bytes'] / 1e6:7.3f}" if row["bytes"] is not None else f"{'-':>7s}"
        limit = TOLERANCES.get(row["variant"])
        limit = f"{limit:7g}" if limit is not None else f"{'-':>7s}"
        lines.append(f"{row['variant']:8s} {size} {row['max_abs']:16.2e} {row['psnr']:10.3f} "
                     f"{row['delta']:15.4f} {limit}  {'yes' if row['ok'] else 'NO'}")
    return "\n".join(lines)
