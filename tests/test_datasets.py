import hashlib
import os
import shutil

import cv2

import numpy as np
import pytest

from tfjpegnet import datasets
from tfjpegnet.jpeg import codec
from tfjpegnet.training.patches import inversion_extension, jpeg_targets
from tfjpegnet.errors import UserError


def test_kodak_patch_counts_match_the_paper(kodak_dir):
    train, test = datasets.split_images(datasets.find_images(kodak_dir))
    assert [os.path.basename(p) for p in test] == ["kodim22.png", "kodim23.png", "kodim24.png"]
    assert len(train) == 21
    assert len(inversion_extension(datasets.load_patches(train))) == 8064
    assert len(datasets.load_patches(test)) == 288


def test_split_by_count_and_by_names(kodak_dir):
    paths = datasets.find_images(kodak_dir)
    train, test = datasets.split_images(paths, 4)
    assert len(train) == 20 and len(test) == 4 and test[-1].endswith("kodim24.png")
    train, test = datasets.split_images(paths, ("kodim01", "kodim05"))
    assert [os.path.basename(p) for p in test] == ["kodim01.png", "kodim05.png"] and len(train) == 22
    with pytest.raises(UserError):
        datasets.split_images(paths[:1], 1)


def test_patches_are_the_image_pixels():
    rgb = np.random.default_rng(0).integers(0, 256, (130, 200, 3), dtype=np.uint8)
    patches = datasets.image_patches(rgb, 64)
    assert patches.shape == (2 * 3, 64, 64, 3)
    np.testing.assert_array_equal(patches[4], rgb[64:128, 64:128])
    flipped = inversion_extension(patches[:1])
    np.testing.assert_array_equal(flipped[1], patches[0][:, ::-1])
    np.testing.assert_array_equal(flipped[2], patches[0][::-1])


def test_jpeg_targets_equal_opencv(kodak_dir):
    patches = datasets.load_patches([kodak_dir / "kodim23.png"])[:40]
    targets = jpeg_targets(patches, 15, batch_size=16)
    for p, t in zip(patches, targets):
        np.testing.assert_array_equal(t, codec.jpeg_roundtrip(p, 15)[0])


def test_find_images_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        datasets.find_images(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="holds no image"):
        datasets.find_images(tmp_path)


def test_small_images_give_no_patch(tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((40, 300, 3), np.uint8))
    with pytest.raises(UserError, match="at least 64x64"):
        datasets.load_patches(datasets.find_images(tmp_path))


def test_kodak_download_through_file_url_checks_sha256(tmp_path, kodak_dir):
    paths = datasets.kodak_paths("file://" + os.fspath(kodak_dir), cache_dir=os.fspath(tmp_path / "cache"))
    assert len(paths) == 24 and all(os.path.exists(p) for p in paths)
    with open(paths[21], "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == datasets.KODAK_SHA256["kodim22.png"]
    # A mirror serving a wrong file is rejected.
    bad = tmp_path / "bad_mirror"
    shutil.copytree(kodak_dir, bad)
    shutil.copy(bad / "kodim02.png", bad / "kodim01.png")
    with pytest.raises(ValueError):
        datasets.kodak_paths("file://" + os.fspath(bad), cache_dir=os.fspath(tmp_path / "cache2"))


def test_several_folders_are_searched_in_order(tmp_path, kodak_dir):
    for folder, names in (("b", ["x.png"]), ("a", ["z.png", "y.bmp"])):
        (tmp_path / folder).mkdir()
        for name in names:
            cv2.imwrite(str(tmp_path / folder / name), np.zeros((16, 16, 3), np.uint8))
    found = datasets.find_images([str(tmp_path / "b"), str(tmp_path / "a")])
    assert [os.path.relpath(p, tmp_path) for p in found] == ["b/x.png", "a/y.bmp", "a/z.png"]
    with pytest.raises(UserError, match="does not exist"):
        datasets.find_images([str(tmp_path / "b"), str(tmp_path / "missing")])


def test_downscale_is_area_averaging_by_a_factor_or_to_a_short_side(kodak_dir):
    rgb = codec.read_image(kodak_dir / "kodim23.png")  # 768 x 512
    half = datasets.downscale(rgb, datasets.parse_downscale("2"))
    assert half.shape == (256, 384, 3) and half.dtype == np.uint8
    expected = rgb.astype(np.float64).reshape(256, 2, 384, 2, 3).mean(axis=(1, 3))
    assert np.abs(half - expected).max() <= 1  # the mean of each 2x2 cell
    assert datasets.downscale(rgb, datasets.parse_downscale("128px")).shape == (128, 192, 3)
    assert datasets.downscale(rgb, datasets.parse_downscale("1024px")) is rgb  # never upscales
    assert datasets.parse_downscale(None) is None and datasets.parse_downscale("1") is None
    assert len(datasets.load_patches([kodak_dir / "kodim23.png"], 64, ("factor", 2.0))) == 4 * 6


@pytest.mark.parametrize("text", ["0.5", "two", "8px", "-2", "px"])
def test_bad_downscale_values_are_refused(text):
    with pytest.raises(UserError, match="--downscale"):
        datasets.parse_downscale(text)


def test_same_files_finds_copies_under_other_names(tmp_path, kodak_dir):
    shutil.copy(kodak_dir / "kodim22.png", tmp_path / "renamed.png")
    both = datasets.same_files([str(tmp_path / "renamed.png")], [str(kodak_dir / "kodim22.png"),
                                                               str(kodak_dir / "kodim23.png")])
    assert both == [(str(tmp_path / "renamed.png"), str(kodak_dir / "kodim22.png"))]
