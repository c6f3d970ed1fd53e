"""The JPEG encoders a user could pick; every file is decoded by the same standard decoder.

Each encoder maps RGB uint8 [H, W, 3] and a quality 1..100 to the bytes of a JPEG file
that any decoder reads; evaluation decodes all of them with OpenCV
(:func:`tfjpegnet.jpeg.codec.decode_jpeg`).

- ``opencv``, ``opencv-optimize``, ``mozjpeg-lossless``: OpenCV's libjpeg-turbo pixels
  with different entropy coding (standard Huffman tables, optimised tables, mozjpeg's
  lossless re-coding: progressive with optimised scans).
- ``mozjpeg``: mozjpeg as cjpeg runs it by default, through libvips (``pyvips`` with the
  ``pyvips-binary`` wheel, whose libvips is built with mozjpeg): quantisation table set 3,
  trellis quantisation, overshoot deringing, progressive with optimised scans, optimised
  Huffman tables, 4:2:0 chroma. ``mozjpeg-baseline``: the same, sequential (for decoders
  that cannot read progressive files). A libvips built without mozjpeg ignores those
  options silently; :func:`check_mozjpeg` detects it and refuses to use it.
- ``jpegli``: Google's jpegli (``pyjpegli``), its own quality scale and quantisation.

The libraries behind the optional encoders load on first use; a missing one ends with one
message naming the package to install.
"""

import functools
import importlib

import numpy as np

from tfjpegnet.errors import UserError
from tfjpegnet.jpeg import codec, zigzag

DEFAULT = "opencv"

# mozjpeg's cjpeg defaults, as libvips' jpegsave options.
MOZJPEG_OPTIONS = dict(trellis_quant=True, overshoot_deringing=True, optimize_scans=True, quant_table=3,
                       optimize_coding=True, subsample_mode="on", keep="none")


def _library(module, package):
    """Import ``module``; a missing one raises UserError naming the pip ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise UserError(f"this encoder needs the Python package {package} ({err}); "
                        f"install it with: pip install {package}") from None


def _vips_image(rgb):
    """uint8 RGB [H, W, 3] -> a pyvips.Image (3 bands, uchar)."""
    pyvips = _library("pyvips", "pyvips pyvips-binary")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return pyvips.Image.new_from_memory(rgb.tobytes(), rgb.shape[1], rgb.shape[0], 3, "uchar")


def _vips_jpeg(rgb, quality, **options):
    try:
        return _vips_image(rgb).jpegsave_buffer(Q=int(quality), **options)
    except Exception as err:  # pyvips.Error: an old libvips without one of the options
        if type(err).__name__ != "Error":
            raise
        raise UserError(f"libvips cannot write JPEG with {sorted(options)} ({str(err).strip()}); "
                        "install a current one with: pip install pyvips pyvips-binary") from None


@functools.cache
def check_mozjpeg():
    """Make sure libvips' JPEG writer is mozjpeg; raise UserError otherwise (checked once).

    Trellis quantisation is what mozjpeg adds: on a real-looking test image at the same
    quality and tables, trellis must give a smaller file with different pixels. A libvips
    linked to plain libjpeg ignores ``trellis_quant`` and writes identical files.
    """
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 64)[None, :, None] * np.ones((64, 1, 3))
    image = np.clip(ramp + rng.normal(0, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
    plain = _vips_jpeg(image, 50, quant_table=3, optimize_coding=True, subsample_mode="on")
    trellis = _vips_jpeg(image, 50, quant_table=3, optimize_coding=True, subsample_mode="on", trellis_quant=True)
    if not (len(trellis) < len(plain)
            and not np.array_equal(codec.decode_jpeg(trellis), codec.decode_jpeg(plain))):
        pyvips = _library("pyvips", "pyvips pyvips-binary")
        raise UserError(f"the libvips that pyvips loads ({pyvips.version(0)}.{pyvips.version(1)}) is not built "
                        "with mozjpeg (trellis quantisation has no effect); install pyvips-binary "
                        "(pip install pyvips-binary), whose libvips is")


def _opencv(rgb, quality):
    return codec.encode_jpeg(rgb, quality)


def _opencv_optimize(rgb, quality):
    return codec.encode_jpeg(rgb, quality, optimize=True)


def _mozjpeg(rgb, quality, progressive=True):
    check_mozjpeg()
    return _vips_jpeg(rgb, quality, interlace=progressive, **MOZJPEG_OPTIONS)


def _mozjpeg_baseline(rgb, quality):
    return _mozjpeg(rgb, quality, progressive=False)


def _mozjpeg_lossless(rgb, quality):
    optimizer = _library("mozjpeg_lossless_optimization", "mozjpeg-lossless-optimization")
    return optimizer.optimize(codec.encode_jpeg(rgb, quality))


def _jpegli(rgb, quality):
    pyjpegli = _library("pyjpegli", "pyjpegli")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return pyjpegli.encode(rgb.tobytes(), rgb.shape[1], rgb.shape[0], int(quality))


ENCODERS = {
    "opencv": (_opencv, "OpenCV (libjpeg-turbo) baseline, 4:2:0, standard Huffman tables"),
    "opencv-optimize": (_opencv_optimize, "OpenCV with IMWRITE_JPEG_OPTIMIZE=1 (optimised Huffman tables)"),
    "mozjpeg": (_mozjpeg, "mozjpeg via libvips: table set 3, trellis quantisation, deringing, progressive, "
                          "optimised scans and Huffman tables, 4:2:0 (cjpeg's defaults)"),
    "mozjpeg-baseline": (_mozjpeg_baseline, "mozjpeg as above, but sequential (baseline) instead of progressive"),
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


def quant_tables_of(data):
    """The quantisation tables a JPEG file carries (its DQT segments).

    Args:
      data: bytes of a JPEG file.

    Returns:
      dict table id (0 luma, 1 chroma, ...) -> int numpy array [8, 8] in natural order.
    """
    tables, i = {}, 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDB:
            j = i + 4
            while j < i + 2 + length:
                precision, table_id = data[j] >> 4, data[j] & 15
                size = 2 if precision else 1
                values = [int.from_bytes(data[j + 1 + size * k:j + 1 + size * (k + 1)], "big") for k in range(64)]
                natural = np.zeros(64, np.int64)
                natural[list(zigzag.ORDER)] = values
                tables[table_id] = natural.reshape(8, 8)
                j += 1 + 64 * size
        if marker == 0xDA:  # start of scan: no table segments before the image data end
            break
        i += 2 + length
    return tables


def header_bytes(data):
    """Bytes of a JPEG file (bytes) before its first scan's entropy-coded data: markers up to and with the first SOS."""
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
