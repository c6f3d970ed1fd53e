"""Modify-Net and JPEG-Net (Nagasaki et al., Sec. 3.1) as Keras 3 functional models.

Both networks work on YCrCb images (OpenCV channel order Y, Cr, Cb), float32 in
[0, 1], NHWC. Under a ``mixed_bfloat16`` policy the convolutions compute in bfloat16
and each model's output is cast back to float32.
"""

import math

import keras
import tensorflow as tf

from tfjpegnet import chroma_quantisation, colour_compensation, graph_ops
from tfjpegnet.jpeg import color


MCU = 16  # JPEG's minimum coded unit with 4:2:0: 16x16 luma pixels, one 8x8 block per chroma plane
# The MCU branch's output is its last layer's times this gain: Adam moves each weight by
# about the learning rate per step, so a branch fine-tuned from zero next to a trained
# conv net then learns 10x faster than the net's own weights move.
MCU_GAIN = 10.0


@keras.saving.register_keras_serializable(package="tfjpegnet")
class ToMCUs(keras.layers.Layer):
    """Cut an image into JPEG's 16x16 MCUs, each as one vector: space-to-depth on JPEG's grid.

    float [B, H, W, C] -> [B, ceil(H / 16), ceil(W / 16), 256 C]; the image is first
    mirrored out to whole MCUs (JPEG's grid is anchored at the top-left pixel, so a tile
    must start at a multiple of 16 to keep it).
    """

    def call(self, inputs):
        shape = tf.shape(inputs)
        pad_rows, pad_cols = -shape[1] % MCU, -shape[2] % MCU
        padded = tf.pad(inputs, [[0, 0], [0, pad_rows], [0, pad_cols], [0, 0]], mode="SYMMETRIC")
        return graph_ops.with_channels(tf.nn.space_to_depth(padded, MCU), inputs.shape[-1] * MCU * MCU)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[-1] * MCU * MCU)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class FromMCUs(keras.layers.Layer):
    """Inverse of :class:`ToMCUs`: [mcus [B, h, w, 256 C], like [B, H, W, ...]] -> [B, H, W, C]."""

    def call(self, inputs):
        mcus, like = inputs
        shape = tf.shape(like)
        pixels = tf.nn.depth_to_space(mcus, MCU)[:, :shape[1], :shape[2], :]
        return graph_ops.with_channels(pixels, mcus.shape[-1] // (MCU * MCU))

    def compute_output_shape(self, input_shape):
        mcus, like = input_shape
        return (*like[:3], mcus[-1] // (MCU * MCU))


@keras.saving.register_keras_serializable(package="tfjpegnet")
class SpaceToDepth(keras.layers.Layer):
    """Pixel unshuffle: [B, H, W, C] -> [B, ceil(H / f), ceil(W / f), f * f * C].

    The image is first mirrored out to a multiple of ``factor`` (so any size works; a tile
    must then start at a multiple of ``factor`` to see the same cells as the whole image).
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        shape = tf.shape(inputs)
        f = self.factor
        padded = tf.pad(inputs, [[0, 0], [0, -shape[1] % f], [0, -shape[2] % f], [0, 0]], mode="SYMMETRIC")
        return graph_ops.with_channels(tf.nn.space_to_depth(padded, f), inputs.shape[-1] * f * f)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[-1] * self.factor ** 2)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="tfjpegnet")
class DepthToSpace(keras.layers.Layer):
    """Inverse of :class:`SpaceToDepth`: [cells [B, h, w, f f C], like [B, H, W, ...]] -> [B, H, W, C]."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        cells, like = inputs
        shape = tf.shape(like)
        pixels = graph_ops.with_channels(tf.nn.depth_to_space(cells, self.factor), cells.shape[-1] // self.factor ** 2)
        return graph_ops.top_left(pixels, shape[1], shape[2])

    def compute_output_shape(self, input_shape):
        cells, like = input_shape
        return (*like[:3], cells[-1] // self.factor ** 2)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="tfjpegnet")
class ImageOf(keras.layers.Layer):
    """The image of a quality-conditioned input: [B, H, W, C + 1] -> its first C channels [B, H, W, C]."""

    def call(self, inputs):
        return inputs[..., :-1]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], input_shape[-1] - 1)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class QualityOf(keras.layers.Layer):
    """The quality of a conditioned input: [B, H, W, C + 1] (last channel q / 100 everywhere) -> [B, 1], q / 100."""

    def call(self, inputs):
        return tf.reduce_mean(inputs[..., -1:], axis=[1, 2])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class FixedQuality(keras.layers.Layer):
    """The one quality a net for one quality edits for: image [B, H, W, C] -> [B, 1], ``quality`` / 100.

    It feeds the colour steps of :func:`with_colour_compensation` in a net without a quality input.
    """

    def __init__(self, quality, **kwargs):
        super().__init__(**kwargs)
        self.quality = int(quality)

    def call(self, inputs):
        return tf.fill([tf.shape(inputs)[0], 1], tf.constant(self.quality / 100.0, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "quality": self.quality}


def fixed_quality(model):
    """The quality of ``model``'s :class:`FixedQuality` layer (int 1..100), or None if it has none."""
    return next((layer.quality for layer in model.layers if isinstance(layer, FixedQuality)), None)


@keras.saving.register_keras_serializable(package="tfjpegnet")
class FiLM(keras.layers.Layer):
    """Feature-wise linear modulation: [features [B, h, w, F], params [B, 2 F]] -> features (1 + gamma) + beta."""

    def call(self, inputs):
        features, params = inputs
        gamma, beta = tf.split(tf.cast(params, features.dtype)[:, None, None, :], 2, axis=-1)
        return features * (1.0 + gamma) + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def with_quality(ycrcb, quality):
    """A conditioned Modify-Net's input: ``ycrcb`` [B, H, W, 3] with a 4th channel q / 100.

    ``quality``: an int 1..100 or a tensor [B] of qualities. Returns float32 [B, H, W, 4].
    """
    ycrcb = tf.cast(ycrcb, tf.float32)
    q = tf.cast(tf.reshape(quality, [-1, 1, 1, 1]), tf.float32) / 100.0
    plane = q * tf.ones_like(ycrcb[..., :1])
    return tf.concat([ycrcb, plane], axis=-1)


def conditioning_quality(quality, qualities):
    """The quality a conditioned net is asked to edit for: ``quality`` clamped into its trained range.

    Args:
      quality: int, or a tensor of any shape, of JPEG qualities (1..100).
      qualities: (lo, hi), the range the net was trained on (``train --qualities LO-HI``).

    Returns:
      float32 tensor of ``quality``'s shape: min(max(quality, lo), hi). Outside its range
      a net gives the edit of the nearest quality it learned (the documented behaviour of
      export, encode and serving for such a quality).
    """
    lo, hi = qualities
    return tf.clip_by_value(tf.cast(quality, tf.float32), float(lo), float(hi))


def is_conditioned(model):
    """True if ``model`` takes a quality plane as its last input channel (see :func:`with_quality`)."""
    return any(isinstance(layer, QualityOf) for layer in model.layers)


def grid_period(model):
    """The grid a tile of ``model``'s edit must start on, in pixels (int >= 1).

    16 if the model works on JPEG's MCU grid (:class:`ToMCUs`), the least common multiple
    with every :class:`SpaceToDepth` factor (and 2 for the 2x2 chroma cells of a
    :class:`colour_compensation.ColourCompensation`); 1 for a plain stack of stride-1 convolutions.
    """
    period = 1
    for layer in model.layers:
        if isinstance(layer, ToMCUs):
            period = math.lcm(period, MCU)
        elif isinstance(layer, colour_compensation.ColourCompensation):
            period = math.lcm(period, 2)
        elif isinstance(layer, SpaceToDepth):
            period = math.lcm(period, layer.factor)
    return period


def _mcu_branch(inputs, conv_edit, units, channels):
    """The MCU branch: a residual computed per 16x16 JPEG MCU (see :func:`build_modify_net`)."""
    mcus = ToMCUs(name="to_mcus")(keras.layers.Concatenate(name="mcu_inputs")([inputs, conv_edit]))
    for i in range(2):
        mcus = keras.layers.Conv2D(units, 1, activation="relu", name=f"mcu{i + 1}")(mcus)
    mcus = keras.layers.Conv2D(channels * MCU * MCU, 1, kernel_initializer="zeros", dtype="float32",
                               name="mcu_out")(mcus)
    mcus = keras.layers.Rescaling(MCU_GAIN, dtype="float32", name="mcu_gain")(mcus)
    return FromMCUs(dtype="float32", name="from_mcus")([mcus, inputs])


def _with_mcu_branch(inputs, residual, units, channels, name, model_inputs=None):
    """Modify-Net's output ``inputs + residual`` (+ the MCU branch's residual if ``units``), as a
    keras.Model of ``model_inputs`` (default: ``inputs``, the image)."""
    if units:
        conv_edit = keras.layers.Add(dtype="float32", name="conv_edit")([inputs, residual])
        block_residual = _mcu_branch(inputs, conv_edit, units, channels)
        residual = keras.layers.Add(dtype="float32", name="residual")([residual, block_residual])
    outputs = keras.layers.Add(dtype="float32", name="edited")([inputs, residual])
    return keras.Model(inputs if model_inputs is None else model_inputs, outputs, name=name)


def build_modify_net(depth=20, filters=64, channels=3, mcu_branch=0, name="modify_net"):
    """VDSR-style Modify-Net: ``depth`` 3x3 conv layers, output = input + residual.

    The first ``depth - 1`` layers have ``filters`` filters and ReLU; the last has
    ``channels`` filters and no activation, zero-initialised so that a new model is
    the identity. Zero padding keeps the size; any height and width are accepted.

    With ``mcu_branch`` (beyond the paper) a second residual is added, computed per JPEG
    MCU: the input and the conv net's edit, cut into 16x16 MCUs on JPEG's grid
    (:class:`ToMCUs`), go through two 1x1 layers of ``mcu_branch`` units (ReLU) and a
    zero-initialised 1x1 layer (times ``MCU_GAIN``) back to an MCU of residual pixels. A
    fully convolutional net cannot tell where JPEG's blocks lie; this branch sees whole
    blocks, so it can drop or keep individual DCT coefficients of a block (a 1x1 layer can
    compute the DCT exactly).

    Args:
      depth: number of convolution layers (paper: 20), >= 2.
      filters: filters per hidden layer (paper: 64).
      channels: image channels in and out (paper: 3, Y Cr Cb).
      mcu_branch: units of the MCU branch's hidden layers; 0 (the paper) for none.

    Returns:
      keras.Model mapping float [batch, H, W, channels] in [0, 1] to float32
      [batch, H, W, channels] (not clipped); its last layer is Add([input, residual]).
    """
    if depth < 2:
        raise ValueError(f"Modify-Net needs depth >= 2, got {depth}")
    inputs = keras.Input(shape=(None, None, channels), name="ycrcb")
    x = inputs
    for i in range(depth - 1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                kernel_initializer="he_normal", name=f"conv{i + 1}")(x)
    residual = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                                   dtype="float32", name=f"conv{depth}")(x)
    return _with_mcu_branch(inputs, residual, mcu_branch, channels, name)


def build_light_modify_net(factor=4, filters=48, blocks=4, mcu_branch=0, channels=3, name="light_modify_net",
                           conditioned=False, film_units=64, colour_compensation=False):
    """A light Modify-Net: the same edit contract at a fraction of the paper net's cost.

    Pixel unshuffle by ``factor`` (:class:`SpaceToDepth`: each ``factor`` x ``factor`` cell
    becomes one position with ``factor**2 * channels`` features), a 3x3 convolution to
    ``filters`` features (ReLU), ``blocks`` depthwise-separable residual blocks (3x3
    depthwise, 1x1 pointwise, ReLU), a zero-initialised 3x3 convolution back to
    ``factor**2 * channels`` and pixel shuffle (:class:`DepthToSpace`) to a full-resolution
    residual: output = input + residual, so a new net is the identity. Every convolution
    runs at 1 / ``factor**2`` of the pixels. ``mcu_branch`` adds the same per-MCU branch as
    :func:`build_modify_net`.

    ``conditioned``: one net for every quality. The input gets a last channel holding q / 100
    (:func:`with_quality`); a small MLP of it (``film_units`` ReLU units, then per block a
    zero-initialised dense layer) scales and shifts each block's features (FiLM: features
    (1 + gamma) + beta), so a new conditioned net edits the same at every quality, and one
    fine-tuned from an unconditioned net (:func:`transfer_weights`) starts with its edit.
    ``colour_compensation`` (conditioned nets only): False, or a luma model of
    :func:`with_colour_compensation` ("resampling", "quantisation"; True means "resampling", the
    first version): the net ends with that fixed pre-compensation of JPEG's 4:2:0 colour path,
    whose strength follows the quality; it has no weights.

    Args:
      factor: pixel-unshuffle factor, >= 1 (1: full resolution).
      filters: features at the low resolution.
      blocks: depthwise-separable blocks, >= 0.
      mcu_branch: units of the MCU branch's hidden layers; 0 for none.
      channels: image channels in and out (3, Y Cr Cb).
      conditioned, film_units, colour_compensation: see above.

    Returns:
      keras.Model mapping float [batch, H, W, channels] in [0, 1] (any H, W; conditioned:
      [batch, H, W, channels + 1], the quality plane last) to float32 [batch, H, W, channels]
      (not clipped); its last layer is Add([image, residual]).
    """
    if factor < 1 or blocks < 0:
        raise ValueError(f"light Modify-Net needs factor >= 1 and blocks >= 0, got {factor}, {blocks}")
    if colour_compensation and not (conditioned and channels == 3):
        raise ValueError("colour compensation needs a quality-conditioned net of YCrCb images")
    quality = None
    if conditioned:
        model_inputs = keras.Input(shape=(None, None, channels + 1), name="ycrcb_quality")
        inputs = ImageOf(name="image")(model_inputs)
        quality = QualityOf(name="quality")(model_inputs)
        embedding = keras.layers.Dense(film_units, activation="relu", name="film_embed")(quality)
    else:
        model_inputs = inputs = keras.Input(shape=(None, None, channels), name="ycrcb")
    x = SpaceToDepth(factor, name="unshuffle")(inputs)
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                            name="conv_in")(x)
    for i in range(blocks):
        y = keras.layers.DepthwiseConv2D(3, padding="same", name=f"block{i + 1}_depthwise")(x)
        y = keras.layers.Conv2D(filters, 1, activation="relu", kernel_initializer="he_normal",
                                name=f"block{i + 1}_pointwise")(y)
        if conditioned:
            params = keras.layers.Dense(2 * filters, kernel_initializer="zeros", name=f"film{i + 1}")(embedding)
            y = FiLM(name=f"block{i + 1}_film")([y, params])
        x = keras.layers.Add(name=f"block{i + 1}")([x, y])
    cells = keras.layers.Conv2D(channels * factor * factor, 3, padding="same", kernel_initializer="zeros",
                                dtype="float32", name="conv_out")(x)
    residual = DepthToSpace(factor, dtype="float32", name="shuffle")([cells, inputs])
    net = _with_mcu_branch(inputs, residual, mcu_branch, channels, name, model_inputs)
    if not colour_compensation:
        return net
    return with_colour_compensation(net, luma_model="resampling" if colour_compensation is True else colour_compensation)


def edit_parts(modify_net):
    """The KerasTensors a Modify-Net's edit is made of: (image, quality, residual).

    ``image``: YCrCb [B, H, W, 3], the model input, or for a conditioned net the output of its
    :class:`ImageOf`; ``quality``: None, or for a conditioned net the output of its
    :class:`QualityOf`, q / 100 [B, 1]; ``residual``: the other input of the model's last layer
    if that is ``Add([image, residual])`` (every builder of this module), else None.
    """
    if is_conditioned(modify_net):
        of = {type(layer): layer.output for layer in modify_net.layers if isinstance(layer, (ImageOf, QualityOf))}
        image, quality = of[ImageOf], of[QualityOf]
    else:
        image, quality = modify_net.inputs[0], None
    last = modify_net.layers[-1]
    residual = None
    if isinstance(last, keras.layers.Add) and len(last.input) == 2 and any(t is image for t in last.input):
        residual = next(t for t in last.input if t is not image)
    return image, quality, residual


LUMA_MODELS = ("resampling", "quantisation")  # what chroma error the luma step answers


def with_colour_compensation(modify_net, chroma_knots=colour_compensation.CHROMA_KNOTS, luma_knots=None,
                             tikhonov=colour_compensation.TIKHONOV, luma_model="resampling", quality=None):
    """``modify_net`` (a net ending in Add([image, residual])) with
    :class:`colour_compensation.ColourCompensation` applied to its residual, sharing its layers.

    A net for every quality gives the steps each request's quality; a net for one quality needs
    ``quality`` (1..100), the one it edits for, held by a :class:`FixedQuality` layer.

    ``luma_model`` "resampling": the luma step of that layer (the chroma error of the round trip
    alone); "quantisation": that layer's luma step off and
    :class:`chroma_quantisation.QuantisedChromaLuma` after it, with ``luma_knots``. ``luma_knots``
    None: the model's own default (``colour_compensation.LUMA_KNOTS``, ``chroma_quantisation.KNOTS``).

    Returns a keras.Model of the same input, float32 [B, H, W, 3] out. Raises ValueError for a
    net for one quality without ``quality`` (or one for every quality with it), a net that does
    not end in that Add, or one compensated already.
    """
    if is_conditioned(modify_net) == (quality is not None):
        raise ValueError("colour compensation of a net for one quality needs the quality it edits for"
                         if quality is None else "a net for every quality takes each request's quality, not a fixed one")
    if quality is not None and not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    if any(isinstance(layer, colour_compensation.ColourCompensation) for layer in modify_net.layers):
        raise ValueError("the net already ends with colour compensation")
    image, conditioning, residual = edit_parts(modify_net)
    if residual is None:
        raise ValueError("the net does not end in Add([image, residual])")
    if luma_model not in LUMA_MODELS:
        raise ValueError(f"luma_model must be one of {LUMA_MODELS}, got {luma_model!r}")
    quantised = luma_model == "quantisation"
    if luma_knots is None:
        luma_knots = chroma_quantisation.KNOTS if quantised else colour_compensation.LUMA_KNOTS
    own_luma = ((1.0, 0.0),) if quantised else luma_knots  # the layer's own luma step, off when replaced
    quality = conditioning if quality is None else FixedQuality(quality, name="fixed_quality")(image)
    residual = colour_compensation.ColourCompensation(tikhonov, chroma_knots, own_luma,
                                                      name="colour_compensation")([image, residual, quality])
    if quantised:
        residual = chroma_quantisation.QuantisedChromaLuma(luma_knots, name="quantised_chroma_luma")(
            [image, residual, quality])
    outputs = keras.layers.Add(dtype="float32", name="edited")([image, residual])
    return keras.Model(modify_net.inputs, outputs, name=modify_net.name)


def _conv_geometry(layer):
    """(kernel size, dilation) of a stride-1 convolution layer, or None for other layers."""
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        return None
    if tuple(layer.strides) != (1, 1):
        raise ValueError(f"layer {layer.name} has strides {layer.strides}; Modify-Net convolutions have stride 1")
    return layer.kernel_size, layer.dilation_rate


def _pixel_scales(model):
    """Map layer name -> pixels per position along one side at that layer (1, 4, 16, ...).

    Walks the layers in order: the main path is at full resolution until a
    :class:`SpaceToDepth` and again after its :class:`DepthToSpace`; the MCU branch's
    layers (``mcu*``) work per 16x16 MCU. Holds for the builders of this module.
    """
    scales, scale = {}, 1
    for layer in model.layers:
        if isinstance(layer, SpaceToDepth):
            scale = layer.factor
        elif isinstance(layer, DepthToSpace):
            scale = 1
        scales[layer.name] = MCU if layer.name.startswith("mcu") else scale
    return scales


def receptive_radius(model):
    """Receptive radius in pixels of a Modify-Net's convolutional part (int >= 0).

    Sum over convolutions of ``scale * dilation * (kernel - 1) // 2`` where ``scale`` is the
    pixels per position at that layer (1 at full resolution, ``factor`` after a
    :class:`SpaceToDepth`), plus ``factor - 1`` for every unshuffle (a cell reaches that far).
    The MCU branch is not counted: it sees whole MCUs, which :func:`grid_period` keeps
    aligned. A :class:`colour_compensation.ColourCompensation` and a
    :class:`chroma_quantisation.QuantisedChromaLuma` add their ``RADIUS``.
    20 for the paper's 20-layer Modify-Net.
    """
    scales = _pixel_scales(model)
    radius = 0
    for layer in model.layers:
        if layer.name.startswith("mcu"):
            continue
        geometry = _conv_geometry(layer)
        if isinstance(layer, SpaceToDepth):
            radius += layer.factor - 1
        elif isinstance(layer, colour_compensation.ColourCompensation):
            radius += colour_compensation.RADIUS
        elif isinstance(layer, chroma_quantisation.QuantisedChromaLuma):
            radius += chroma_quantisation.RADIUS
        elif geometry:
            kernel, dilation = geometry
            radius += scales[layer.name] * max(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    return radius


def cost(model):
    """Parameters and multiply-adds of a Modify-Net.

    Returns:
      dict with "parameters" (int, all weights) and "macs_per_megapixel" (float: the
      multiply-accumulates of every convolution for an input of one million pixels,
      counting each layer at its own resolution; element-wise ops are not counted) and
      "gflops_per_megapixel" (2 x MACs / 1e9).
    """
    scales = _pixel_scales(model)
    macs = 0.0
    for layer in model.layers:
        if _conv_geometry(layer) is None:
            continue
        positions = 1e6 / scales[layer.name] ** 2
        kernel = layer.kernel.shape  # [kh, kw, in, out] or depthwise [kh, kw, in, multiplier]
        macs += positions * float(kernel[0] * kernel[1] * kernel[2] * kernel[3])
    return {"parameters": int(model.count_params()), "macs_per_megapixel": macs,
            "gflops_per_megapixel": 2 * macs / 1e9}


def transfer_weights(source, target):
    """Copy the weights of ``source`` into ``target`` (keras.Models), layer by layer by name.

    Every layer of ``target`` with weights must exist in ``source`` with the same weight
    shapes, except the MCU branch's layers (``mcu*``) and the quality conditioning's
    (``film*``), which keep their initial weights when ``source`` has none (a Modify-Net
    without the branch into one with it, an unconditioned net into a conditioned one:
    ``target`` then computes what ``source`` did). Raises ValueError for any other mismatch.
    """
    names = {layer.name for layer in source.layers}
    for layer in target.layers:
        if not layer.weights or (layer.name.startswith(("mcu", "film")) and layer.name not in names):
            continue
        if layer.name not in names:
            raise ValueError(f"{source.name} has no layer {layer.name!r} to copy from")
        values = source.get_layer(layer.name).get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            raise ValueError(f"layer {layer.name!r}: cannot copy weights {[v.shape for v in values]} into {shapes}")
        layer.set_weights(values)


def build_jpeg_net(filters=64, channels=3, residual=True, name="jpeg_net"):
    """JPEG-Net: 3 convolutions then 3 transposed convolutions on one 8x8 block.

    Convolutions: 3x3 stride 1 (8x8), 3x3 stride 2 (4x4), 3x3 stride 2 (2x2) with
    ``filters``, ``filters``, ``2 * filters`` filters and ReLU; transposed
    convolutions mirror them back to 8x8, the last with ``channels`` filters and no
    activation. With ``residual`` the input block is added to the output (JPEG's
    output is close to its input), which speeds up training.

    Returns:
      keras.Model mapping float [batch, 8, 8, channels] in [0, 1] to float32
      [batch, 8, 8, channels].
    """
    inputs = keras.Input(shape=(8, 8, channels), name="block")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu",
                                     name="deconv1")(x)
    x = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu",
                                     name="deconv2")(x)
    outputs = keras.layers.Conv2DTranspose(channels, 3, padding="same", dtype="float32",
                                           name="deconv3")(x)
    if residual:
        outputs = keras.layers.Add(dtype="float32", name="jpeg_like")([inputs, outputs])
    return keras.Model(inputs, outputs, name=name)


def to_blocks(images, block=8):
    """Cut images into non-overlapping blocks.

    Args:
      images: tensor [batch, H, W, C] with H and W multiples of ``block``.

    Returns:
      tensor [batch * (H / block) * (W / block), block, block, C], blocks of image 0
      first, row-major within each image.
    """
    shape = tf.shape(images)
    b, h, w, c = shape[0], shape[1], shape[2], images.shape[-1]
    x = tf.reshape(images, [b, h // block, block, w // block, block, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, block, block, c])


def from_blocks(blocks, height, width):
    """Inverse of :func:`to_blocks`: [N, b, b, C] blocks -> [batch, height, width, C]."""
    block = blocks.shape[1]
    c = blocks.shape[-1]
    x = tf.reshape(blocks, [-1, height // block, width // block, block, block, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, height, width, c])


def edit_rgb(modify_net, rgb, quality=None):
    """Apply a Modify-Net to RGB images: RGB -> YCrCb -> Modify-Net -> RGB, clipped.

    Args:
      modify_net: a model from :func:`build_modify_net` (or loaded from ``.keras``).
      rgb: float32 tensor [batch, H, W, 3], RGB in [0, 1].
      quality: the JPEG quality (int, or tensor [batch]) a quality-conditioned net
        (:func:`is_conditioned`) edits for; required for one, ignored by other nets.

    Returns:
      float32 tensor [batch, H, W, 3], the edited RGB image clipped to [0, 1]
      (round it to 8 bits before a real JPEG encoder).
    """
    x = color.rgb_to_ycrcb(tf.cast(rgb, tf.float32))
    if is_conditioned(modify_net):
        if quality is None:
            raise ValueError(f"{modify_net.name} is quality-conditioned: give the quality it edits for")
        x = with_quality(x, quality)
    edited = modify_net(x, training=False)
    return tf.clip_by_value(color.ycrcb_to_rgb(tf.cast(edited, tf.float32)), 0.0, 1.0)
