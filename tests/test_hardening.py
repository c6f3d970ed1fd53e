"""Bad and unusual image files through training, evaluation and encode; bad arguments; seeded determinism.

Every case either works with the documented conversion (gray -> 3 equal channels, alpha
dropped, 16-bit scaled by 1/257 and rounded) or ends with one clear message naming the
file and a non-zero exit, leaving no temporary file and no partial output behind.
"""

import argparse
import json
import os

import cv2
import keras
import numpy as np
import pytest

from tfjpegnet import datasets, models
from tfjpegnet.cli import train
from tfjpegnet.evaluation import evaluate
from tfjpegnet.jpeg import codec
from tfjpegnet.cli import main
from tfjpegnet.training.stages import JPEG_PHASE, MODIFY_PHASE, StageTrainer
from tfjpegnet.training.patches import batches, blocks_of
from tfjpegnet.training.stages import seed_for


# ----- image files ---------------------------------------------------------------------------

def write(path, bgr):
    """Write an OpenCV (BGR / BGRA / gray, 8 or 16 bit) array to ``path``; returns the path."""
    assert cv2.imwrite(os.fspath(path), bgr), path
    return path


def kodak_crop(kodak_dir, height, width, name="kodim23.png"):
    """A real BGR uint8 crop of a Kodak image."""
    return cv2.imread(os.fspath(kodak_dir / name))[:height, :width]


def write_bad(folder, kodak_dir, kind):
    """Write one bad image file of ``kind`` into ``folder``; returns its path.

    Kinds: empty file, PNG cut in the middle of its data, PNG cut just before its end
    chunk, JPEG cut in the middle of its entropy-coded scan, a text file named .png.
    """
    bgr = kodak_crop(kodak_dir, 128, 128)
    png = cv2.imencode(".png", bgr)[1].tobytes()
    jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    content, name = {
        "empty": (b"", "empty.png"),
        "truncated_png": (png[:len(png) // 2], "cut.png"),
        "png_without_end": (png[:-12], "noend.png"),
        "truncated_jpeg": (jpeg[:len(jpeg) * 2 // 3], "cut_scan.jpg"),
        "text": (b"this is not an image\n", "text.png"),
    }[kind]
    path = folder / name
    path.write_bytes(content)
    return path


BAD_KINDS = ("empty", "truncated_png", "png_without_end", "truncated_jpeg", "text")


def leftovers(folder):
    """Temporary files (atomic writes in progress) anywhere under ``folder``."""
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def ramp(height, width, top=255):
    """A uint8 2-D ramp 0..top over the pixels, row-major (every value distinct enough to check)."""
    return np.linspace(0, top, height * width).round().astype(np.uint8).reshape(height, width)


# ----- decoding: the documented conversions, exactly -------------------------------------------

def test_conversions_are_exact_in_codec_and_in_training_patches(tmp_path):
    gray = ramp(64, 128)
    bgra = np.dstack([gray, gray[::-1], gray[:, ::-1], ramp(64, 128, 200)[::-1]])  # alpha varies
    rng = np.random.default_rng(0)
    deep = rng.integers(0, 65536, (64, 128, 3), dtype=np.uint16)
    deep_rgba = np.dstack([deep, rng.integers(0, 65536, (64, 128), dtype=np.uint16)])
    files = {
        "gray.png": (write(tmp_path / "gray.png", gray), np.dstack([gray] * 3)),
        "rgba.png": (write(tmp_path / "rgba.png", bgra), bgra[:, :, 2::-1]),
        "deep.png": (write(tmp_path / "deep.png", deep), np.round(deep[:, :, ::-1] / 257.0).astype(np.uint8)),
        "deep_rgba.png": (write(tmp_path / "deep_rgba.png", deep_rgba),
                          np.round(deep_rgba[:, :, 2::-1] / 257.0).astype(np.uint8)),
        "gray.tif": (write(tmp_path / "gray.tif", gray), np.dstack([gray] * 3)),
    }
    for name, (path, expected) in files.items():
        rgb = codec.read_image(path)
        assert rgb.dtype == np.uint8 and rgb.shape == (64, 128, 3), name
        np.testing.assert_array_equal(rgb, expected, err_msg=name)
        # The training loader gives exactly the 64x64 patches of the converted image.
        patches = datasets.load_patches([path])
        np.testing.assert_array_equal(patches, np.stack([expected[:, :64], expected[:, 64:]]), err_msg=name)
    # A gray JPEG decodes to 3 equal channels too (JPEG-close to the ramp).
    write(tmp_path / "gray.jpg", gray)
    rgb = codec.read_image(tmp_path / "gray.jpg")
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert np.abs(rgb[..., 0].astype(int) - gray).max() <= 8


def test_tiny_and_odd_sizes_decode_and_give_the_right_number_of_patches(tmp_path, kodak_dir):
    odd = kodak_crop(kodak_dir, 333, 517)
    cases = [(np.full((1, 1, 3), 77, np.uint8), "one.png", 0), (ramp(7, 7), "seven.bmp", 0),
             (odd, "odd.png", (333 // 64) * (517 // 64))]
    for bgr, name, count in cases:
        path = write(tmp_path / name, bgr)
        rgb = codec.read_image(path)
        assert rgb.shape == (*bgr.shape[:2], 3)
        assert len(datasets.image_patches(rgb)) == count
    np.testing.assert_array_equal(codec.read_image(tmp_path / "odd.png"), odd[:, :, ::-1])
    assert len(datasets.load_patches([tmp_path / "one.png", tmp_path / "seven.bmp", tmp_path / "odd.png"])) == 40


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_files_raise_one_image_error_naming_the_file(tmp_path, kodak_dir, kind):
    good = write(tmp_path / "good.png", kodak_crop(kodak_dir, 64, 64))
    bad = write_bad(tmp_path, kodak_dir, kind)
    with pytest.raises(codec.ImageError, match="not a readable image|empty file") as err:
        datasets.load_patches([good, bad])
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


# ----- training ----------------------------------------------------------------------------------

def train_argv(data_dir, out, *extra):
    return ["train", "--quality", "15", "--data-dir", os.fspath(data_dir), "--out", os.fspath(out),
            "--preset", "smoke", "--test-images", "1", *extra]


@pytest.fixture
def good_dir(tmp_path, kodak_dir):
    """Four real 128x128 Kodak crops (the last one is the test image)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(1, 5):
        write(folder / f"img{i}.png", kodak_crop(kodak_dir, 128, 128, f"kodim{i:02d}.png"))
    return folder


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_train_with_a_bad_image_exits_2_with_one_message_and_trains_nothing(tmp_path, kodak_dir, good_dir,
                                                                           kind, capsys):
    bad = write_bad(good_dir, kodak_dir, kind)
    out = tmp_path / "run"
    assert main(train_argv(good_dir, out)) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("tfjpegnet train: error:")]
    assert len(errors) == 1 and str(bad) in errors[0], err
    assert not (out / "checkpoints").exists() or not os.listdir(out / "checkpoints")
    assert not list(out.glob("stage*")) and not (out / "history.json").exists()
    assert not leftovers(tmp_path)


def test_rerun_after_removing_a_bad_image_starts_training(tmp_path, kodak_dir, good_dir, capsys):
    bad = write_bad(good_dir, kodak_dir, "truncated_png")
    out = tmp_path / "run"
    flags = ("--stages", "1", "--epochs-jpeg", "0", "--epochs-modify", "0")
    assert main(train_argv(good_dir, out, *flags)) == 2
    bad.unlink()
    assert main(train_argv(good_dir, out, *flags)) == 0, capsys.readouterr().err
    assert (out / "stage1" / "modify_net.keras").exists()


def test_train_accepts_gray_rgba_16bit_odd_and_tiny_images(tmp_path, kodak_dir, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    crop = kodak_crop(kodak_dir, 128, 128)
    write(folder / "a_gray.png", cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
    write(folder / "b_rgba.png", np.dstack([crop[:64], np.full((64, 128), 90, np.uint8)]))
    write(folder / "c_deep.png", crop[:, :64].astype(np.uint16) * 257)
    write(folder / "d_one.png", np.full((1, 1, 3), 7, np.uint8))
    write(folder / "e_seven.bmp", ramp(7, 7))
    write(folder / "z_odd.png", kodak_crop(kodak_dir, 333, 517, "kodim22.png"))  # the test image
    out = tmp_path / "run"
    code = main(train_argv(folder, out, "--stages", "1", "--max-patches", "8"))
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert [os.path.basename(p) for p in config["test_images"]] == ["z_odd.png"]
    assert len(config["train_images"]) == 5
    history = json.loads((out / "history.json").read_text())
    assert [r["network"] for r in history] == ["jpeg_net", "modify_net"]
    assert all(np.isfinite(r["loss"]) for r in history)
    keras.models.load_model(out / "stage1" / "modify_net.keras")
    assert not leftovers(out)


# ----- evaluation ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    """A fresh 3x8 Modify-Net saved as .keras: its last layer is zero, so it is the identity edit."""
    path = tmp_path_factory.mktemp("model") / "modify_net.keras"
    models.build_modify_net(depth=3, filters=8).save(path)
    return path


def evaluate_argv(model, images, out, quality="15"):
    return ["evaluate", "--model", os.fspath(model), "--quality", quality, "--images", os.fspath(images),
            "--out", os.fspath(out), "--qualities", "20,30", "--encoders", "opencv", "--plain-step", "99",
            "--sweep", "final"]


@pytest.mark.parametrize("kind", [*BAD_KINDS, "one_pixel", "seven_pixels"])
def test_evaluate_with_a_bad_image_exits_2_and_writes_nothing(tmp_path, kodak_dir, identity_model, kind, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    write(folder / "good.png", kodak_crop(kodak_dir, 96, 128))
    if kind == "one_pixel":
        bad, message = write(folder / "one.png", np.zeros((1, 1, 3), np.uint8)), "1x1 is smaller than 64x64"
    elif kind == "seven_pixels":
        bad, message = write(folder / "seven.png", ramp(7, 7)), "7x7 is smaller than 64x64"
    else:
        bad = write_bad(folder, kodak_dir, kind)
        message = "not a readable image" if kind != "empty" else "empty file"
    out = tmp_path / "out"
    assert main(evaluate_argv(identity_model, folder, out)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tfjpegnet evaluate")]
    assert len(errors) == 1 and str(bad) in errors[0] and message in errors[0], errors
    assert not out.exists()


@pytest.mark.parametrize("quality, message", [("0", "in 1..100"), ("101", "in 1..100"), ("abc", "integer")])
def test_evaluate_bad_quality_exits_2_and_writes_nothing(tmp_path, kodak_dir, identity_model, quality, message,
                                                         capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    write(folder / "good.png", kodak_crop(kodak_dir, 64, 64))
    out = tmp_path / "out"
    assert main(evaluate_argv(identity_model, folder, out, quality)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tfjpegnet evaluate")]
    assert len(errors) == 1 and "quality" in errors[0] and message in errors[0], errors
    assert not out.exists()


def test_evaluate_accepts_gray_16bit_rgba_and_odd_size(tmp_path, kodak_dir, identity_model):
    folder = tmp_path / "images"
    folder.mkdir()
    crop = kodak_crop(kodak_dir, 64, 96)
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    write(folder / "gray.png", gray)
    write(folder / "deep_rgba.png", np.dstack([crop, np.full((64, 96), 128, np.uint8)]).astype(np.uint16) * 257)
    write(folder / "odd.png", kodak_crop(kodak_dir, 333, 517, "kodim22.png"))
    out = tmp_path / "out"
    assert main(evaluate_argv(identity_model, folder, out)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {name: (m["height"], m["width"], m["patches"]) for name, m in metrics["images"].items()} == {
        "gray": (64, 96, 1), "deep_rgba": (64, 96, 1), "odd": (333, 517, 40)}
    # Plain JPEG of the gray image, whole: the same number an independent OpenCV round trip gives.
    plain = metrics["points"]["full"]["opencv"][evaluate.PLAIN]["15"]["images"]["gray"]
    decoded, nbytes = codec.jpeg_roundtrip(np.dstack([gray] * 3), 15)
    assert plain["bytes"] == nbytes
    mse = np.mean((decoded.astype(float) - np.dstack([gray] * 3)) ** 2)
    assert plain["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-6)
    assert not leftovers(out)


# ----- encode ----------------------------------------------------------------------------------

def test_encode_reports_each_bad_file_and_writes_only_complete_jpegs(tmp_path, kodak_dir, identity_model, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "good.png", kodak_crop(kodak_dir, 40, 56))
    bad = [write_bad(folder, kodak_dir, kind) for kind in BAD_KINDS]
    out = tmp_path / "out"
    code = main(["encode", os.fspath(folder), "-o", os.fspath(out), "--model", os.fspath(identity_model),
                 "--quality", "15"])
    assert code == 1
    err = capsys.readouterr().err
    for path in bad:
        assert err.count(str(path)) == 1, err
    assert sorted(os.listdir(out)) == ["good.jpg"]
    assert codec.decode_jpeg((out / "good.jpg").read_bytes()).shape == (40, 56, 3)


def test_encode_converts_gray_16bit_and_rgba_pixels_and_keeps_odd_sizes(tmp_path, kodak_dir, identity_model):
    folder = tmp_path / "in"
    folder.mkdir()
    gray = ramp(48, 80)
    deep = (np.random.default_rng(1).integers(0, 65536, (48, 80)) // 4096 * 4096).astype(np.uint16)
    bgr = kodak_crop(kodak_dir, 48, 80)
    odd = kodak_crop(kodak_dir, 333, 517, "kodim22.png")
    write(folder / "gray.png", gray)
    write(folder / "deep.png", deep)
    write(folder / "rgba.png", np.dstack([bgr, ramp(48, 80)]))
    write(folder / "odd.png", odd)
    write(folder / "one.png", np.full((1, 1, 3), 200, np.uint8))
    write(folder / "seven.png", ramp(7, 7))
    out = tmp_path / "out"
    assert main(["encode", os.fspath(folder), "-o", os.fspath(out), "--model", os.fspath(identity_model),
                 "--quality", "100", "--encoder", "opencv"]) == 0
    # The identity model: each output decodes like plain (OpenCV) JPEG of the converted input.
    expected = {"gray": np.dstack([gray] * 3), "deep": np.dstack([np.round(deep / 257.0).astype(np.uint8)] * 3),
                "rgba": bgr[:, :, ::-1], "odd": odd[:, :, ::-1], "one": np.full((1, 1, 3), 200, np.uint8),
                "seven": np.dstack([ramp(7, 7)] * 3)}
    for name, rgb in expected.items():
        decoded = codec.decode_jpeg((out / f"{name}.jpg").read_bytes())
        plain = codec.jpeg_roundtrip(rgb, 100)[0]
        assert decoded.shape == rgb.shape, name
        assert np.abs(decoded.astype(int) - plain).max() <= 3, name
        assert np.abs(decoded.astype(int) - rgb).mean() <= 1.5, name
    assert not leftovers(out)


# ----- determinism -------------------------------------------------------------------------------

def make_trainer(tmp_path, data_dir, seed, name):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--data-dir", os.fspath(data_dir), "--out", os.fspath(tmp_path / name),
                              "--preset", "smoke", "--test-images", "1", "--max-patches", "8",
                              "--seed", str(seed)])
    return StageTrainer(train.prepare_config(args))


def first_batches(trainer):
    """The first Modify-Net and JPEG-Net batches of stage 1, epoch 1, as the trainer draws them."""
    cfg = trainer.config
    (modify,) = next(iter(batches((trainer.modify_inputs,), cfg["batch_modify"],
                                  seed_for(cfg["seed"], 1, MODIFY_PHASE, 0))))
    jpeg = next(iter(batches(tuple(blocks_of(a) for a in trainer.jpeg_phase_arrays(1)), cfg["batch_jpeg"],
                             seed_for(cfg["seed"], 1, JPEG_PHASE, 0))))
    return [modify.numpy(), *(t.numpy() for t in jpeg)]


def test_same_seed_same_start_and_other_seed_another(tmp_path, tiny_data_dir):
    runs = [make_trainer(tmp_path, tiny_data_dir, seed, name) for seed, name in ((5, "a"), (5, "b"), (6, "c"))]
    weights = [t.modify_net.get_weights() + t.jpeg_net.get_weights() for t in runs]
    batch = [first_batches(t) for t in runs]
    for x, y in zip(weights[0], weights[1]):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(batch[0], batch[1]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(runs[0].train_patches, runs[1].train_patches)
    # Another seed: other initial weights (the zero-initialised last layer aside), other data.
    differ = [not np.array_equal(x, y) for x, y in zip(weights[0], weights[2]) if np.any(x)]
    assert differ and all(differ)
    assert all(not np.array_equal(x, y) for x, y in zip(batch[0], batch[2]))


LARGE_SCRIPT = """
import resource, sys
from tfjpegnet.cli import main
code = main(["encode", sys.argv[1], "-o", sys.argv[2], "--model", sys.argv[3], "--quality", "15"])
print("peak_rss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


@pytest.mark.slow
def test_encode_8000x8000_image_in_bounded_memory(tmp_path, kodak_dir):
    import subprocess
    import sys

    from conftest import tiny_modify_net
    model = tmp_path / "net.keras"
    tiny_modify_net().save(model)
    big = cv2.resize(cv2.imread(os.fspath(kodak_dir / "kodim23.png")), (8000, 8000))
    write(tmp_path / "big.png", big)
    result = subprocess.run([sys.executable, "-c", LARGE_SCRIPT, os.fspath(tmp_path / "big.png"),
                             os.fspath(tmp_path / "out"), os.fspath(model)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    peak_gib = int(result.stdout.split("peak_rss_kib")[1].split()[0]) / 2 ** 20
    assert peak_gib < 4.0, f"peak memory {peak_gib:.2f} GiB"
    decoded = cv2.imread(os.fspath(tmp_path / "out" / "big.jpg"))
    assert decoded.shape == (8000, 8000, 3)


def test_jpeg_exif_orientation_is_applied_like_a_viewer(tmp_path):
    from PIL import Image
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", quality=95, exif=exif.tobytes())
    rgb = codec.read_image(tmp_path / "phone.jpg")
    assert rgb.shape == (80, 40, 3)  # upright, as Pillow's exif_transpose shows it
    from PIL import ImageOps
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "phone.jpg")))
    assert np.abs(rgb.astype(int) - upright).mean() < 3
