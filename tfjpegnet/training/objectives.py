"""What Modify-Net minimises: the per-example loss of an edited batch.

``proxy="jpegnet"`` (the paper): MSE between the frozen JPEG-Net's output on the 8x8
blocks of the edited image, reassembled, and the original.

``proxy="analytic"``: the edited image goes through an exact differentiable model of
OpenCV's JPEG (:mod:`tfjpegnet.jpeg.proxy`, straight-through rounding of the quantised
coefficients); the loss is a sum of the chosen distortion terms plus ``rate_weight`` x
the estimated bits per pixel (:mod:`tfjpegnet.jpeg.rate`), in the spirit of Talebi et
al. 2021 ("Better Compression with Deep Pre-Editing"):

- ``decoded``: MSE(JPEG(edited), original), RGB in [0, 1];
- ``proximity``: MSE(edited, original), RGB in [0, 1];
- ``proximity-ssim``: ``ssim_weight`` x (1 - SSIM(edited, original));
- ``subsampled`` and ``subsampled-ssim``: the same two after JPEG's 4:2:0 colour path
  (:func:`tfjpegnet.jpeg.proxy.subsampled`: chroma down- and upsampled as the codec does,
  no quantiser), in place of ``proximity`` and ``proximity-ssim``: the edit is then judged
  by what a decoder can show at best, so it learns to pre-compensate the chroma
  resampling (the loss every encoder here has at every quality) as well as to save bits;
- ``chroma-quantised`` and ``chroma-quantised-ssim``: the same two after the colour path with
  the chroma quantised too (:func:`tfjpegnet.jpeg.proxy.chroma_quantised`: the encoder's
  chroma steps at the example's quality, luma kept): the colour error a decoder will show,
  which a net ending in the luma step of :mod:`tfjpegnet.chroma_quantisation` cancels. Each
  plane gets the gradient of what it can answer: Y that of this value (Y is not quantised
  there), the chroma that of the same measure after the colour path alone with Y held
  (:func:`_with_chroma_gradient`), so it is anchored to the original and never asked to
  "pre-compensate" its own quantisation;
- ``teacher``: ``teacher_weight`` x MSE(edited, teacher's edit), RGB in [0, 1], where the teacher is another,
  frozen Modify-Net (``config["teacher"]``, a .keras path): distillation, e.g. the first
  epochs of a light net from the paper-size model (docs/training.md); or, with
  ``config["teacher_images"]``, fixed target images given with each example (the ``target``
  argument), e.g. per-image optima of the same loss (``edit-optimum --save-images``).

A net for every quality may judge the examples above one quality by other terms
(``distortion_above`` "Q:TERMS", ``--distortion-above``): each example's distortion is that
of TERMS if its quality is above Q, of ``distortion`` otherwise, and the rate term is every
example's. ``Q:teacher`` keeps a teacher's edit at the high qualities while the rest learns a
new term.

Why the shipped models use ``proximity+proximity-ssim`` with a rate term: at a fixed
quality, JPEG rounds each DCT coefficient of the original to its nearest quantisation
level, and the DCT preserves squared error, so no edit can make the decoded luma closer
to the original than plain JPEG's own decode (up to the rounding of pixels to 8 bits);
an edit can only reach the same quality with fewer bits. ``decoded`` (through the
straight-through rounding) instead pushes the edit to "pre-compensate" quantisation
error, a gain real JPEG does not give. The proximity terms need no gradient through
rounding, and the rate term supplies the pressure towards cheaper coefficients.
"""

import keras
import tensorflow as tf

from tfjpegnet import models
from tfjpegnet.jpeg import color, proxy, rate
from tfjpegnet.training import config as run_config


def _dissimilarity(rgb, original):
    """1 - SSIM of ``rgb`` against ``original`` (both float32 RGB [B, h, w, 3], clipped to [0, 1]); [B]."""
    return 1.0 - tf.image.ssim(tf.clip_by_value(rgb, 0.0, 1.0), tf.clip_by_value(original, 0.0, 1.0), max_val=1.0)


def _luma_held(ycrcb):
    """``ycrcb`` (float32 YCrCb [B, h, w, 3]) with no gradient through its Y channel."""
    return tf.concat([tf.stop_gradient(ycrcb[..., :1]), ycrcb[..., 1:]], axis=-1)


def _with_chroma_gradient(value, anchor):
    """``value`` (float32 [B]) plus the gradient of ``anchor`` (float32 [B]) and none of its value."""
    return value + anchor - tf.stop_gradient(anchor)


class ModifyObjective:
    """Callable (x, edited) -> per-example loss, float32 [batch].

    x, edited: float32 YCrCb [batch, h, w, 3] in [0, 1] (edited is not clipped);
    h and w are multiples of 16.

    ``config`` (a dict, e.g. a run's configuration) supplies ``proxy``, ``quality``,
    ``distortion``, ``rate_weight``, ``ssim_weight`` and optionally ``teacher``, ``teacher_weight`` (default 1),
    ``teacher_images``, ``distortion_above`` and ``encoder`` ("opencv", the
    default, or "mozjpeg": the proxy's tables, trellis model and rate constants). Keys of removed options
    (``contrast_weight``, ``rounding``, ``rate_gradient``, ``train_only_branch``) may be
    absent; if present they must hold the one value still implemented (UserError
    otherwise, see :func:`tfjpegnet.training.config.without_removed`). ``jpeg_net`` is
    needed for the paper's proxy.

    A conditioned teacher (:func:`tfjpegnet.models.is_conditioned`) sees each example's quality.
    ``distortion_above`` needs the third argument; both term sets are computed for every
    example and ``tf.where`` keeps each example's (a batch mixes qualities).

    Called with a third argument, quality (int32 [batch], one per example: a model trained
    for every quality), each example goes through the proxy and the rate estimate at its own
    quality, with the rate weight ``rate_weight_of(quality)`` (float32 [batch], e.g. a
    :class:`tfjpegnet.training.rate_weights.RateWeight`) instead of ``rate_weight``.

    With ``teacher_images`` the call needs ``target``, float32 YCrCb [batch, h, w, 3] in [0, 1]:
    the edit the ``teacher`` term pulls each example towards.
    """

    def __init__(self, config, jpeg_net=None, rate_weight_of=None):
        run_config.without_removed(config)
        self.analytic = config["proxy"] == "analytic"
        if not self.analytic and jpeg_net is None:
            raise ValueError("the 'jpegnet' proxy needs a jpeg_net")
        self.jpeg_net = jpeg_net
        self.quality = config["quality"]
        self.terms = run_config.distortion_terms(config["distortion"])
        self.above = run_config.parse_distortion_above(config.get("distortion_above"))
        self.rate_weight = config["rate_weight"]
        self.ssim_weight = config["ssim_weight"]
        self.encoder = config.get("encoder", "opencv")
        self.zone = proxy.coefficient_zone(self.quality, self.encoder)
        self.rate_weight_of = rate_weight_of
        self.teacher = None
        self.teacher_weight = config.get("teacher_weight", 1.0)
        uses_teacher = "teacher" in self.terms or (self.above and "teacher" in self.above[1])
        if uses_teacher and not config.get("teacher_images"):
            self.teacher = keras.models.load_model(config["teacher"], compile=False)
            self.teacher.trainable = False

    def __call__(self, x, edited, quality=None, target=None):
        if not self.analytic:
            return self.jpegnet_loss(x, edited)
        if quality is None:
            quality, zone, rate_weight = self.quality, self.zone, self.rate_weight
        else:
            zone, rate_weight = proxy.coefficient_zone(quality, self.encoder), self.rate_weight_of(quality)
        original = color.ycrcb_to_rgb(x)
        edited_rgb = color.ycrcb_to_rgb(edited)
        loss = self._distortion(self.terms, x, edited, edited_rgb, original, quality, target)
        if self.above:
            threshold, terms = self.above
            loss = tf.where(quality > threshold,
                            self._distortion(terms, x, edited, edited_rgb, original, quality, target), loss)
        if self.rate_weight:
            coefficients = proxy.encode(edited_rgb, quality, rounding="none", encoder=self.encoder)
            height, width = tf.shape(x)[1], tf.shape(x)[2]
            loss += rate_weight * rate.bits_per_pixel(coefficients, height, width, self.encoder, zone)
        return loss

    def _distortion(self, terms, x, edited, edited_rgb, original, quality, target=None):
        """The sum of distortion ``terms`` (a tuple of DISTORTIONS) per example, float32 [batch].

        x, edited: float32 YCrCb [batch, h, w, 3]; edited_rgb, original: the same as RGB;
        quality: an int or int32 [batch], and target: None or YCrCb like x, as in :meth:`__call__`.
        """
        loss = tf.zeros(tf.shape(x)[:1])

        def mse(rgb):
            return tf.reduce_mean(tf.square(rgb - original), axis=[1, 2, 3])

        def ssim_term(rgb):
            return self.ssim_weight * _dissimilarity(rgb, original)

        if "decoded" in terms:
            loss += mse(proxy.jpeg(edited_rgb, quality, "ste", self.encoder))
        for term, measure in (("proximity", mse), ("proximity-ssim", ssim_term)):
            if term in terms:
                loss += measure(edited_rgb)
        if "subsampled" in terms or "subsampled-ssim" in terms:
            shown = proxy.subsampled(edited_rgb)
            for term, measure in (("subsampled", mse), ("subsampled-ssim", ssim_term)):
                if term in terms:
                    loss += measure(shown)
        if "chroma-quantised" in terms or "chroma-quantised-ssim" in terms:
            shown = proxy.chroma_quantised(edited_rgb, quality, self.encoder)
            anchor = proxy.subsampled(color.ycrcb_to_rgb(_luma_held(edited)))
            for term, measure in (("chroma-quantised", mse), ("chroma-quantised-ssim", ssim_term)):
                if term in terms:
                    loss += _with_chroma_gradient(measure(shown), measure(anchor))
        if "teacher" in terms:
            if self.teacher is not None:
                inputs = models.with_quality(x, quality) if models.is_conditioned(self.teacher) else x
                target = tf.cast(self.teacher(inputs, training=False), tf.float32)
            elif target is None:
                raise ValueError("the 'teacher' term with teacher_images needs each example's target")
            loss += self.teacher_weight * tf.reduce_mean(tf.square(edited_rgb - color.ycrcb_to_rgb(target)),
                                                         axis=[1, 2, 3])
        return loss

    def jpegnet_loss(self, x, edited):
        """The paper's loss: MSE(JPEG-Net(blocks(edited)) reassembled, x), YCrCb; float32 [batch]."""
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        decoded = models.from_blocks(
            tf.cast(self.jpeg_net(models.to_blocks(edited), training=False), tf.float32), height, width)
        return tf.reduce_mean(tf.square(decoded - x), axis=[1, 2, 3])
