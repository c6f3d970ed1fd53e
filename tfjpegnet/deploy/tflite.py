"""Modify-Net for phones: TFLite float32, float16 and int8 files, run with LiteRT.

Every file has the same interface:

- input  ``rgb``    float32 [1, H, W, 3], RGB in [0, 1] (pixel / 255);
- output ``edited`` float32 [1, H, W, 3], the edited RGB clipped to [0, 1]; round
  ``edited * 255`` to uint8 and hand it to any JPEG encoder at the model's quality.

H and W are free (shape signature [1, -1, -1, 3]): call
``interpreter.resize_tensor_input(input_index, [1, H, W, 3])`` and
``allocate_tensors()`` before ``invoke()`` (:class:`Runner` does this).

Variants: ``float32`` (as trained); ``fp16`` (float16 weights, float32 arithmetic);
``int8`` (full integer quantisation of weights and activations, calibrated on 64x64
training patches; float32 input and output, quantised inside). Checked with the
LiteRT interpreter (``ai_edge_litert``, imported only when a :class:`Runner` is made),
which uses XNNPACK on CPU.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfjpegnet import datasets, files, models, pixels
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec, color

VARIANTS = ("float32", "fp16", "int8")
SUFFIXES = {"float32": "", "fp16": "_fp16", "int8": "_int8"}
# Largest allowed |difference| to the float32 file: max |pixel| for float32 vs Keras,
# PSNR in dB after real JPEG for the quantised variants.
TOLERANCES = {"float32": 1e-4, "fp16": 0.05, "int8": 0.3}


def residual_branch(modify_net):
    """Return a function YCrCb -> residual for a Modify-Net (output = input + residual).

    If the model ends in ``Add([input, residual])`` (as :func:`models.build_modify_net`
    builds it) the residual branch is taken as its own keras.Model, so the full-range
    sum is never quantised; otherwise the residual is computed as output - input.
    """
    last = modify_net.layers[-1]
    if isinstance(last, keras.layers.Add) and len(last.input) == 2:
        first, second = last.input
        if first is modify_net.inputs[0]:
            return keras.Model(modify_net.inputs, second)
        if second is modify_net.inputs[0]:
            return keras.Model(modify_net.inputs, first)
    return lambda ycrcb: modify_net(ycrcb, training=False) - ycrcb


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


class EditModule(tf.Module):
    """Modify-Net as one TF function ``edit``: rgb float32 [1, None, None, 3] -> edited RGB.

    The graph computes exactly :func:`models.edit_rgb` (RGB -> YCrCb -> Modify-Net ->
    RGB, clipped), rearranged as ``rgb + A residual + C rgb`` (see :func:`_linear_maps`):
    then int8 quantisation only rounds small-range tensors (the residual) and one final
    sum, instead of every step of two colour conversions on full-range values.

    Keras 3 wraps each ``tf.Variable``; the module tracks the raw variables as well so
    that the TFLite converter can freeze them into constants.
    """

    def __init__(self, modify_net):
        """Wrap ``modify_net`` (keras.Model)."""
        super().__init__(name="tfjpegnet_tflite")
        self.residual = residual_branch(modify_net)
        self.tf_variables = [weight.value for weight in modify_net.weights]
        a, c = _linear_maps()
        self.a_kernel = tf.constant(a.T[None, None])  # [1, 1, in, out] for a 1x1 conv
        self.c_kernel = tf.constant(c.T[None, None])

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="rgb")])
    def edit(self, rgb):
        """rgb float32 [1, H, W, 3] in [0, 1] -> {"edited": float32 [1, H, W, 3] in [0, 1]}."""
        residual = tf.cast(self.residual(color.rgb_to_ycrcb(rgb)), tf.float32)
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


def convert(modify_net, variant, calibration=None):
    """Convert Modify-Net to a TFLite flatbuffer.

    Args:
      modify_net: keras.Model (Modify-Net).
      variant: ``"float32"``, ``"fp16"`` or ``"int8"``.
      calibration: uint8 [N, h, w, 3] RGB patches; required for ``"int8"``.

    Returns:
      bytes, the .tflite model.
    """
    module = EditModule(modify_net)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.edit.get_concrete_function()], module)
    if variant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 conversion needs calibration patches")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.representative_dataset = lambda: (
            [patch[None].astype(np.float32) / 255.0]
            for patch in [rgb_cube_patch(calibration.shape[1]), *calibration])
    elif variant != "float32":
        raise ValueError(f"unknown TFLite variant {variant!r}; choose from {VARIANTS}")
    return converter.convert()


def tflite_path(out_dir, name, variant):
    """Path of one variant's file: ``out_dir/<name>.tflite``, ``<name>_fp16.tflite``, ..."""
    return os.path.join(out_dir, f"{name}{SUFFIXES[variant]}.tflite")


def convert_all(modify_net, calibration):
    """Convert all three variants in memory (nothing is written).

    Returns:
      dict variant -> bytes (the .tflite model), in :data:`VARIANTS` order.
    """
    return {variant: convert(modify_net, variant, calibration) for variant in VARIANTS}


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


def write_tflite(modify_net, out_dir, name, calibration):
    """Convert all three variants, then atomically write them (none is written if a conversion fails).

    Returns:
      dict variant -> path, in :data:`VARIANTS` order.
    """
    return write_models(convert_all(modify_net, calibration), out_dir, name)


class Runner:
    """A LiteRT interpreter for one .tflite file that accepts any image size."""

    def __init__(self, path, num_threads=None):
        """Load ``path``; ``num_threads`` as in LiteRT (None: its default)."""
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=os.fspath(path), num_threads=num_threads)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.shape = None

    def __call__(self, rgb):
        """Edit one image: float32 [H, W, 3] RGB in [0, 1] -> float32 [H, W, 3] in [0, 1]."""
        shape = (1, *rgb.shape)
        if shape != self.shape:
            self.interpreter.resize_tensor_input(self.input_index, shape)
            self.interpreter.allocate_tensors()
            self.shape = shape
        self.interpreter.set_tensor(self.input_index, np.asarray(rgb, np.float32)[None])
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


def verify(modify_net, paths, images, quality):
    """Compare each TFLite variant with the Keras model on ``images``.

    Args:
      modify_net: the keras.Model the files were converted from.
      paths: dict variant -> .tflite path (as returned by :func:`write_tflite`).
      images: list of RGB uint8 [H, W, 3] test images.
      quality: JPEG quality for the PSNR check.

    Returns:
      list of dicts, one per variant plus a first ``keras`` row, with keys ``variant``,
      ``bytes`` (file size), ``max_abs`` (max |output - Keras| over all pixels),
      ``psnr`` (mean dB after real JPEG), ``delta`` (worst per-image |PSNR - float32
      file's PSNR|, dB) and ``ok`` (within :data:`TOLERANCES`).
    """
    floats = [img.astype(np.float32) / 255.0 for img in images]
    reference = [models.edit_rgb(modify_net, x[None]).numpy()[0] for x in floats]
    outputs = {"keras": reference}
    for variant, path in paths.items():
        runner = Runner(path)
        outputs[variant] = [runner(x) for x in floats]
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
