"""Shared fixtures: the 24 Kodak images and small real image folders made from them.

Where the Kodak images come from (``kodak_dir``, asked for once per session, only by tests
that need it):

1. the folder ``$TFJPEGNET_KODAK_DIR``, by default ``../shared/data/kodak`` beside the
   repository, if it holds kodim01.png .. kodim24.png;
2. otherwise the package's own download, ``tfjpegnet.datasets.kodak_paths``, from
   ``$TFJPEGNET_KODAK_URL`` (default ``tfjpegnet.datasets.KODAK_URL``; ``http(s)://`` or
   ``file://``), every file checked against its SHA-256 and cached under
   ``$KERAS_HOME/datasets/kodak`` (default ``~/.keras``);
3. if neither works, the whole run stops with one message saying how to provide them.
"""

import os
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from tfjpegnet import datasets, models

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
KODAK_NAMES = sorted(datasets.KODAK_SHA256)
DIR_VARIABLE = "TFJPEGNET_KODAK_DIR"
URL_VARIABLE = "TFJPEGNET_KODAK_URL"


def find_kodak():
    """Return the folder holding the 24 Kodak PNGs (see the module docstring); raise RuntimeError if none."""
    local = Path(os.environ.get(DIR_VARIABLE) or KODAK)
    if all((local / name).is_file() for name in KODAK_NAMES):
        return local
    url = os.environ.get(URL_VARIABLE) or datasets.KODAK_URL
    cache = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        paths = datasets.kodak_paths(url, cache_dir=cache)
    except Exception as err:  # noqa: BLE001  (any failure of the download is the same message)
        raise RuntimeError(
            f"The tests need the 24 Kodak images (kodim01.png .. kodim24.png). They are not in {local} "
            f"and downloading them from {url} failed ({type(err).__name__}: {err}). Provide them in one of "
            f"three ways: put them in ../shared/data/kodak beside the repository; set {DIR_VARIABLE} to a "
            f"folder that holds them; or set {URL_VARIABLE} to a reachable copy (http(s):// or file://, "
            "ending in '/'; every file is checked against its SHA-256).") from err
    return Path(paths[0]).parent


@pytest.fixture(scope="session")
def kodak_dir():
    """Path of a folder with the 24 Kodak PNGs; stops the whole run with one message if there is none."""
    try:
        return find_kodak()
    except RuntimeError as err:
        pytest.exit(str(err), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture
def tiny_data_dir(tmp_path, kodak_dir):
    """A folder of 5 real 128x128 crops of Kodak images (kodim01..05), as PNG."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(1, 6):
        image = cv2.imread(os.fspath(kodak_dir / f"kodim{i:02d}.png"))
        cv2.imwrite(os.fspath(folder / f"img{i}.png"), image[100:228, 200:328])
    return folder


def tiny_modify_net(seed=0, mcu_branch=0):
    """Depth-3, 8-filter Modify-Net with every weight perturbed (so it is not the identity)."""
    keras.utils.set_random_seed(seed)
    net = models.build_modify_net(depth=3, filters=8, mcu_branch=mcu_branch)
    rng = np.random.default_rng(seed)
    for weight in net.weights:
        weight.assign(weight.numpy() + rng.normal(0, 0.003, weight.shape).astype(np.float32))
    return net


def tiny_conditioned_net(seed=0, mcu_branch=8):
    """A tiny light Modify-Net for every quality (factor 4, 8 filters, 1 block, an MCU branch of
    ``mcu_branch`` units, as the shipped net has) whose edit depends on the quality.

    Its zero-initialised layers (the output convolution and the FiLM layer) get small random
    weights, so the edit is not the identity and differs between qualities.
    """
    keras.utils.set_random_seed(seed)
    net = models.build_light_modify_net(factor=4, filters=8, blocks=1, mcu_branch=mcu_branch, conditioned=True)
    rng = np.random.default_rng(seed)
    for name, std in [("conv_out", 0.005), ("film1", 0.2)]:
        for weight in net.get_layer(name).weights:
            weight.assign(rng.normal(0, std, weight.shape).astype(np.float32))
    return net


@pytest.fixture
def image_dir(tmp_path, kodak_dir):
    """Two real 96x128 Kodak crops as PNG files (each gives two 64x64 patches)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in (22, 23):
        image = cv2.imread(os.fspath(kodak_dir / f"kodim{i}.png"))
        cv2.imwrite(os.fspath(folder / f"crop{i}.png"), image[200:296, 300:428])
    return folder


@pytest.fixture
def tiny_kodak(kodak_dir, tmp_path):
    """Real 64x128 crops of kodim01, kodim22 and kodim23; the test split (22, 23) has 4 patches."""
    folder = tmp_path / "kodak"
    folder.mkdir()
    for name in ("kodim01", "kodim22", "kodim23"):
        image = cv2.imread(os.fspath(kodak_dir / f"{name}.png"))
        cv2.imwrite(os.fspath(folder / f"{name}.png"), image[200:264, 300:428])
    return folder
