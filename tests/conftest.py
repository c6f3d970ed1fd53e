"""Shared fixtures: the Kodak folder beside the repository and small real image folders."""

import os
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from tfjpegnet import models

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


@pytest.fixture(scope="session")
def kodak_dir():
    """Path of the 24 Kodak PNGs (../shared/data/kodak); skips nothing: they must exist."""
    assert (KODAK / "kodim01.png").exists(), f"Kodak images missing at {KODAK}"
    return KODAK


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
