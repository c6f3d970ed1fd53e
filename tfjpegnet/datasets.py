"""Image sets: discovery in folders, the Kodak suite (downloaded and checked), train/test split, 64x64 patches.

The paper (Sec. IV) cuts the 21 Kodak training images into non-overlapping 64x64
patches, applies the "inversion extension" (horizontal and vertical flips, x4) for
Modify-Net training only, and trains JPEG-Net on 8x8 blocks of those patches and of
their OpenCV JPEG. With Kodak this gives 8064 training and 288 test patches.
All arrays here are RGB uint8 [..., 3] in [0, 255].
"""

import functools
import hashlib
import os

import cv2
import keras
import numpy as np

from tfjpegnet.jpeg import codec
from tfjpegnet.errors import UserError

KODAK_URL = "http://r0k.us/graphics/kodak/kodak/"
KODAK_TEST = ("kodim22", "kodim23", "kodim24")
KODAK_SHA256 = {
    "kodim01.png": "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd",
    "kodim02.png": "4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd",
    "kodim03.png": "e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db",
    "kodim04.png": "e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa",
    "kodim05.png": "10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53",
    "kodim06.png": "363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18",
    "kodim07.png": "b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4",
    "kodim08.png": "ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7",
    "kodim09.png": "6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d",
    "kodim10.png": "9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23",
    "kodim11.png": "7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6",
    "kodim12.png": "d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980",
    "kodim13.png": "bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08",
    "kodim14.png": "55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e",
    "kodim15.png": "7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683",
    "kodim16.png": "a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54",
    "kodim17.png": "37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b",
    "kodim18.png": "1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa",
    "kodim19.png": "b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc",
    "kodim20.png": "3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a",
    "kodim21.png": "ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b",
    "kodim22.png": "1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29",
    "kodim23.png": "e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf",
    "kodim24.png": "1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96",
}


def find_images(folder):
    """Return the sorted paths of PNG/JPEG/BMP/TIFF files under ``folder`` (recursive).

    ``folder`` may also be a list of folders: their images, folder by folder in the given
    order, each folder's sorted. Raises UserError if a folder does not exist or holds no
    image file.
    """
    if isinstance(folder, (list, tuple)):
        if not folder:
            raise UserError("no data dir given")
        return [path for one in folder for path in find_images(one)]
    if not os.path.isdir(folder):
        raise UserError(f"data dir {folder!r} does not exist or is not a directory")
    paths = []
    for root, _, names in os.walk(folder):
        paths.extend(os.path.join(root, n) for n in names if n.lower().endswith(codec.IMAGE_SUFFIXES))
    if not paths:
        raise UserError(f"data dir {folder!r} holds no image (looked for {', '.join(codec.IMAGE_SUFFIXES)})")
    return sorted(paths)


def kodak_paths(base_url=KODAK_URL, cache_dir=None):
    """Download (once) the 24 Kodak images and return their local paths, kodim01 first.

    Each file is fetched with ``keras.utils.get_file`` from ``base_url + name``
    (``http(s)://`` or ``file://``), checked against its SHA-256 and cached under
    ``<cache_dir or ~/.keras>/datasets/kodak``. A file with a wrong digest is rejected.
    """
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    if cache_dir:
        # Keras silently falls back to /tmp/.keras for a folder that does not exist yet.
        os.makedirs(cache_dir, exist_ok=True)
    return [keras.utils.get_file(fname=name, origin=base_url + name, file_hash=digest,
                                 hash_algorithm="sha256", cache_subdir=os.path.join("datasets", "kodak"),
                                 cache_dir=cache_dir)
            for name, digest in sorted(KODAK_SHA256.items())]


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def matching_images(folder, paths):
    """The image in ``folder`` of each of ``paths``' file stems, in the same order (any image suffix).

    E.g. the per-image optima of ``edit-optimum --save-images`` for the training images.
    Raises UserError naming the stems that have no image there (or more than one).
    """
    by_stem = {}
    for path in find_images(folder):
        by_stem.setdefault(_stem(path), []).append(path)
    missing = [_stem(p) for p in paths if len(by_stem.get(_stem(p), ())) != 1]
    if missing:
        raise UserError(f"{folder!r} needs exactly one image named like each training image; "
                        f"none or several for: {', '.join(missing)}")
    return [by_stem[_stem(p)][0] for p in paths]


def split_images(paths, test=KODAK_TEST):
    """Split image paths into (train, test) lists.

    Args:
      paths: sorted image paths.
      test: names (file stems, e.g. "kodim22") of the test images, or an int N to use
        the last N paths as the test set. If no given name is present (a custom data
        dir), the last 3 images are the test set.

    Raises UserError if either side would be empty.
    """
    if isinstance(test, int):
        count = test
    else:
        names = set(test)
        chosen = [p for p in paths if _stem(p) in names]
        count = None if chosen else min(3, len(paths) - 1)
        if chosen:
            train = [p for p in paths if _stem(p) not in names]
            if not train:
                raise UserError("every image is in the test set; no training image left")
            return train, chosen
    if not 0 < count < len(paths):
        raise UserError(f"cannot hold out {count} test image(s) from {len(paths)} image(s)")
    return paths[:-count], paths[-count:]


@functools.lru_cache(maxsize=None)
def _digest(path, size, mtime_ns):
    """SHA-256 hex digest of a file's bytes; ``size`` and ``mtime_ns`` key the cache to its version."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def file_digest(path):
    """SHA-256 hex digest of the file at ``path``, read once per process while the file is unchanged."""
    stat = os.stat(path)
    return _digest(os.fspath(path), stat.st_size, stat.st_mtime_ns)


def same_files(paths_a, paths_b):
    """Pairs (a, b) of files of the two path lists with the same content (SHA-256), sorted."""
    def digests(paths):
        out = {}
        for path in paths:
            out.setdefault(file_digest(path), path)
        return out
    a, b = digests(paths_a), digests(paths_b)
    return sorted((a[d], b[d]) for d in set(a) & set(b))


def parse_downscale(text):
    """Parse a ``--downscale`` value: "F" (a factor >= 1) or "Npx" (to a short side of N pixels).

    Returns ("factor", float) or ("short_side", int), or None for None / "" / "1".
    Raises UserError for anything else.
    """
    if text in (None, "", "1"):
        return None
    text = str(text).strip()
    try:
        if text.endswith("px"):
            side = int(text[:-2])
            if side >= 16:
                return ("short_side", side)
        else:
            factor = float(text)
            if factor >= 1:
                return None if factor == 1 else ("factor", factor)
    except ValueError:
        pass
    raise UserError(f"--downscale takes a factor >= 1 (e.g. 2) or a short side in pixels >= 16 "
                    f"(e.g. 256px), got {text!r}")


def downscale(rgb, spec):
    """Shrink an image by area averaging (removes the traces of an earlier JPEG coding).

    Args:
      rgb: uint8 [H, W, 3].
      spec: :func:`parse_downscale`'s result: ("factor", F) divides both sides by F,
        ("short_side", N) makes the shorter side N pixels; None, or a result that would
        not be smaller, returns ``rgb`` unchanged (never upscales).

    Returns:
      uint8 [H', W', 3], H' = round(H / F) (at least 1), likewise W'.
    """
    if spec is None:
        return rgb
    kind, value = spec
    factor = value if kind == "factor" else min(rgb.shape[:2]) / value
    if factor <= 1:
        return rgb
    size = (max(1, round(rgb.shape[1] / factor)), max(1, round(rgb.shape[0] / factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def image_patches(rgb, size=64):
    """Cut an image into non-overlapping ``size`` x ``size`` patches, row-major.

    Args:
      rgb: uint8 [H, W, 3].

    Returns:
      uint8 [(H // size) * (W // size), size, size, 3]; the right and bottom
      remainders are dropped.
    """
    rows, cols = rgb.shape[0] // size, rgb.shape[1] // size
    x = rgb[:rows * size, :cols * size].reshape(rows, size, cols, size, 3)
    return x.transpose(0, 2, 1, 3, 4).reshape(-1, size, size, 3)


def load_patches(paths, size=64, downscale_spec=None):
    """Read images, optionally :func:`downscale` each, and return all their patches, uint8 [N, size, size, 3].

    Images smaller than ``size`` in either dimension (after downscaling) give no patch.
    Raises UserError if no image gives a patch (or an image cannot be read).
    """
    patches = [image_patches(downscale(codec.read_image(p), downscale_spec), size) for p in paths]
    patches = [p for p in patches if len(p)]
    if not patches:
        raise UserError(f"no image is at least {size}x{size} pixels; nothing to train or test on")
    return np.concatenate(patches)
