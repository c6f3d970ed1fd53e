"""Real JPEG through OpenCV (libjpeg-turbo), and reading image files.

Everything that "counts" in tfjpegnet (training targets, evaluation) goes through
these functions: a real encoder and a standard decoder, never a model of them.
Images are RGB uint8 arrays [height, width, 3]; OpenCV's BGR order stays inside.
"""

import cv2
import numpy as np

from tfjpegnet.errors import UserError

# OpenCV's own warnings (e.g. "PNG input buffer is incomplete") would duplicate our messages.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageError(UserError):
    """An input file is not a readable image; the message names the file and why."""


def to_rgb_uint8(array, source="image"):
    """Normalise a decoded OpenCV array to RGB uint8 [H, W, 3].

    Conversions: grayscale -> 3 equal channels; alpha dropped; 16-bit scaled to 8-bit
    (value / 257, rounded); float in [0, 1] scaled by 255. Input is in OpenCV's BGR(A)
    order as returned by ``cv2.imread``/``cv2.imdecode``.
    """
    if array is None or array.size == 0:
        raise ImageError(f"{source}: not a readable image (empty, truncated or unknown format)")
    if array.dtype == np.uint16:
        array = np.round(array.astype(np.float32) / 257.0).astype(np.uint8)
    elif array.dtype in (np.float32, np.float64):
        array = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageError(f"{source}: unsupported pixel type {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    if channels == 1:
        return np.repeat(array, 3, axis=2)
    if channels == 4:
        array = array[:, :, :3]
    elif channels != 3:
        raise ImageError(f"{source}: unsupported number of channels {channels}")
    return np.ascontiguousarray(array[:, :, ::-1])


def decode_image(data, source="image"):
    """Decode PNG/JPEG/BMP/TIFF bytes to RGB uint8 [H, W, 3]; raises ImageError.

    JPEG files are turned upright by their EXIF orientation tag.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise ImageError(f"{source}: empty file")
    # JPEG (always 8-bit, no alpha): decode as colour so the EXIF orientation is applied,
    # as image viewers do; other formats unchanged, to keep 16-bit depth and alpha.
    is_jpeg = buf[:2].tobytes() == b"\xff\xd8"
    array = cv2.imdecode(buf, cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED)
    return to_rgb_uint8(array, source)


def read_image(path):
    """Read an image file as RGB uint8 [H, W, 3]; raises ImageError with the path."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ImageError(f"{path}: cannot read ({err.strerror})") from None
    return decode_image(data, str(path))


def encode_jpeg(rgb, quality, optimize=False):
    """Encode RGB uint8 [H, W, 3] as baseline JPEG with OpenCV; returns the file bytes.

    ``optimize=True`` sets ``IMWRITE_JPEG_OPTIMIZE`` (optimised Huffman tables); pixels
    decoded from the result are identical either way. Chroma is 4:2:0 (OpenCV default).
    """
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, int(bool(optimize))]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise RuntimeError("OpenCV failed to encode JPEG")
    return buf.tobytes()


def decode_jpeg(data):
    """Decode JPEG bytes with OpenCV's standard decoder to RGB uint8 [H, W, 3]."""
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return to_rgb_uint8(array, "jpeg")


def jpeg_roundtrip(rgb, quality, optimize=False):
    """Real JPEG encode + decode of RGB uint8 [H, W, 3].

    Returns:
      (decoded RGB uint8 [H, W, 3], size of the encoded file in bytes).
    """
    data = encode_jpeg(rgb, quality, optimize)
    return decode_jpeg(data), len(data)
