"""The JPEG encoders a user could pick; every file is decoded by the same standard decoder.

Each encoder maps RGB uint8 [H, W, 3] and a quality 1..100 to the bytes of a JPEG file
that any decoder reads; evaluation decodes all of them with OpenCV
(:func:`tfjpegnet.codec.decode_jpeg`). The first three give identical pixels at the
same quality and differ only in entropy coding; jpegli is a different encoder whose
quality scale and quantisation differ from libjpeg's.
"""

import mozjpeg_lossless_optimization
import numpy as np
import pyjpegli

from tfjpegnet.jpeg import codec
from tfjpegnet.errors import UserError

DEFAULT = "opencv"


def _opencv(rgb, quality):
    return codec.encode_jpeg(rgb, quality)


def _opencv_optimize(rgb, quality):
    return codec.encode_jpeg(rgb, quality, optimize=True)


def _mozjpeg_lossless(rgb, quality):
    return mozjpeg_lossless_optimization.optimize(codec.encode_jpeg(rgb, quality))


def _jpegli(rgb, quality):
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return pyjpegli.encode(rgb.tobytes(), rgb.shape[1], rgb.shape[0], int(quality))


ENCODERS = {
    "opencv": (_opencv, "OpenCV (libjpeg-turbo) baseline, 4:2:0, standard Huffman tables"),
    "opencv-optimize": (_opencv_optimize, "OpenCV with IMWRITE_JPEG_OPTIMIZE=1 (optimised Huffman tables)"),
    "mozjpeg-lossless": (_mozjpeg_lossless, "OpenCV, then mozjpeg's lossless optimisation "
                                            "(progressive, optimised Huffman; same pixels)"),
    "jpegli": (_jpegli, "jpegli (pyjpegli) baseline, 4:2:0, its own quality scale and quantisation"),
}


def encode(name, rgb, quality):
    """Encode RGB uint8 [H, W, 3] at ``quality`` (1..100) with encoder ``name``; returns JPEG bytes."""
    return ENCODERS[name][0](rgb, quality)


def describe(name):
    """One-line description of encoder ``name``."""
    return ENCODERS[name][1]


def parse_names(text):
    """Parse a comma-separated list of encoder names; raise UserError on an unknown or empty list.

    Returns:
      list of names in the given order, duplicates removed.
    """
    names = list(dict.fromkeys(n.strip() for n in str(text).split(",") if n.strip()))
    unknown = [n for n in names if n not in ENCODERS]
    if unknown or not names:
        raise UserError(f"unknown encoder(s) {', '.join(unknown) or '(none given)'}; "
                        f"choose from {', '.join(ENCODERS)}")
    return names
