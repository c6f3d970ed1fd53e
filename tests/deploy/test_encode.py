import os

import cv2
import numpy as np
import pytest
from PIL import Image

from tfjpegnet import cli, models
from tfjpegnet.deploy import encode, savedmodel, tiling
from tfjpegnet.jpeg import codec, encoders
from tfjpegnet.errors import UserError
from conftest import tiny_modify_net


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """(.keras path, SavedModel folder) of one tiny model exported at quality 15."""
    root = tmp_path_factory.mktemp("models")
    keras_path = root / "net.keras"
    tiny_modify_net().save(keras_path)
    out = root / "saved_models"
    assert cli.main(["export", "--model", str(keras_path), "--quality", "15", "--out", str(out)]) == 0
    return keras_path, out / "tfjpegnet_q15"


@pytest.fixture
def inputs(tmp_path, kodak_dir):
    """A folder with two small real images (one in a sub-folder) and a single file beside it."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    kodim = codec.read_image(kodak_dir / "kodim23.png")
    cv2.imwrite(str(folder / "a.png"), kodim[:45, :61, ::-1])
    cv2.imwrite(str(folder / "sub" / "b.png"), kodim[100:133, 200:250, ::-1])
    single = tmp_path / "c.jpg"
    single.write_bytes(codec.encode_jpeg(kodim[300:340, 300:370], 95))
    return folder, single


def test_receptive_radius_is_one_pixel_per_3x3_layer():
    assert models.receptive_radius(models.build_modify_net()) == 20
    assert models.receptive_radius(models.build_modify_net(depth=3, filters=8)) == 3


def test_tiles_of_an_mcu_branch_net_start_on_the_grid(kodak_dir):
    net = tiny_modify_net(mcu_branch=8)
    assert models.receptive_radius(net) == 3 and tiling.halo(net) == 16
    assert tiling.halo(tiny_modify_net()) == 3
    rgb = codec.read_image(kodak_dir / "kodim23.png")[:75, :93]
    edit = lambda images: savedmodel.edit_uint8(net, images)
    whole = edit(rgb[None]).numpy()[0]
    tiled = tiling.edit_tiled(lambda tile: edit(tile[None]).numpy()[0], rgb, tiling.halo(net), tile=32)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1
    # Cut-outs off the grid (halo = receptive radius only) change the edit: the test can fail.
    shifted = tiling.edit_tiled(lambda tile: edit(tile[None]).numpy()[0], rgb, 3, tile=32)
    assert np.abs(shifted.astype(int) - whole.astype(int)).max() > 1


def test_tile_boxes_cover_the_image_once():
    boxes = tiling.tile_boxes(50, 70, 16)
    cover = np.zeros((50, 70), int)
    for top, bottom, left, right in boxes:
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all() and len(boxes) == 4 * 5


def test_tiled_edit_equals_untiled_within_one_level(kodak_dir):
    net = tiny_modify_net()
    editor = encode.Editor(lambda images, quality: savedmodel.edit_uint8(net, images), 15,
                           models.receptive_radius(net))
    rgb = codec.read_image(kodak_dir / "kodim23.png")[:75, :93]
    whole = editor.at(15)(rgb)
    tiled = tiling.edit_tiled(editor.at(15), rgb, editor.halo, tile=16)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1
    # A halo below the receptive radius shows at the seams: the test can fail.
    seams = tiling.edit_tiled(editor.at(15), rgb, 0, tile=16)
    assert np.abs(seams.astype(int) - whole.astype(int)).max() > 1


def test_encode_folder_and_file_with_saved_model(models_dir, inputs, tmp_path):
    keras_path, saved = models_dir
    folder, single = inputs
    out = tmp_path / "out"
    assert cli.main(["encode", str(folder), str(single), "-o", str(out), "--model", str(saved)]) == 0
    written = sorted(os.path.relpath(os.path.join(r, n), out) for r, _, ns in os.walk(out) for n in ns)
    assert written == ["a.jpg", "c.jpg", os.path.join("sub", "b.jpg")]
    for name, source in [("a.jpg", folder / "a.png"), ("c.jpg", single)]:
        original = codec.read_image(source)
        assert cv2.imread(str(out / name)).shape == original.shape
        with Image.open(out / name) as image:
            assert image.format == "JPEG" and image.size == original.shape[1::-1]
    # Default quality is the SavedModel's (15): same bytes as asking for it explicitly.
    explicit = tmp_path / "explicit"
    assert cli.main(["encode", str(single), "-o", str(explicit), "--model", str(saved),
                     "--quality", "15"]) == 0
    assert (explicit / "c.jpg").read_bytes() == (out / "c.jpg").read_bytes()


def test_output_is_the_chosen_encoders_jpeg_of_the_edit(models_dir, inputs, tmp_path):
    keras_path, _ = models_dir
    _, single = inputs
    editor = encode.load_editor(keras_path)
    edited = editor.at(15)(codec.read_image(single))
    files = {}
    for flags, name in [([], "mozjpeg"), (["--baseline"], "mozjpeg-baseline"),
                        (["--encoder", "opencv"], "opencv-optimize"), (["--encoder", "jpegli"], "jpegli")]:
        out = tmp_path / name
        assert cli.main(["encode", str(single), "-o", str(out), "--model", str(keras_path),
                         "--quality", "20", *flags]) == 0
        files[name] = (out / "c.jpg").read_bytes()
        assert files[name] == encoders.encode(name, edited, 20), name
    assert b"\xff\xc2" in files["mozjpeg"] and b"\xff\xc2" not in files["mozjpeg-baseline"]


def test_keras_model_needs_quality(models_dir, inputs, tmp_path, capsys):
    keras_path, _ = models_dir
    assert cli.main(["encode", str(inputs[1]), "-o", str(tmp_path / "o"), "--model", str(keras_path)]) == 2
    assert "--quality" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_files_are_reported_and_the_others_still_encoded(models_dir, tmp_path, kodak_dir, capsys):
    _, saved = models_dir
    folder = tmp_path / "in"
    folder.mkdir()
    kodim = codec.read_image(kodak_dir / "kodim22.png")[:40, :48]
    png = cv2.imencode(".png", kodim[:, :, ::-1])[1].tobytes()
    jpeg = codec.encode_jpeg(kodim, 90)
    (folder / "good.png").write_bytes(png)
    (folder / "empty.png").write_bytes(b"")
    (folder / "cut.png").write_bytes(png[: len(png) // 3])
    (folder / "cut_jpeg.jpg").write_bytes(jpeg[:60])
    (folder / "text.png").write_text("this is not an image")
    out = tmp_path / "out"
    assert cli.main(["encode", str(folder), "-o", str(out), "--model", str(saved)]) == 1
    err = capsys.readouterr().err
    for name in ["empty.png", "cut.png", "cut_jpeg.jpg", "text.png"]:
        assert err.count(name) == 1, err
    assert os.listdir(out) == ["good.jpg"]  # nothing half-written, no temporary files


def test_gray_rgba_16bit_and_tiny_images(models_dir, tmp_path):
    _, saved = models_dir
    folder = tmp_path / "in"
    folder.mkdir()
    ramp = np.linspace(0, 255, 33 * 19).reshape(33, 19).astype(np.uint8)
    cv2.imwrite(str(folder / "gray.png"), ramp)
    cv2.imwrite(str(folder / "rgba.png"), np.dstack([ramp, ramp, ramp, ramp]))
    cv2.imwrite(str(folder / "deep.png"), (ramp.astype(np.uint16) * 257)[:, :, None].repeat(3, 2))
    cv2.imwrite(str(folder / "one.png"), np.full((1, 1, 3), 77, np.uint8))
    cv2.imwrite(str(folder / "seven.bmp"), np.full((7, 7, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert cli.main(["encode", str(folder), "-o", str(out), "--model", str(saved)]) == 0
    for name, shape in [("gray", (33, 19, 3)), ("rgba", (33, 19, 3)), ("deep", (33, 19, 3)),
                        ("one", (1, 1, 3)), ("seven", (7, 7, 3))]:
        assert cv2.imread(str(out / f"{name}.jpg")).shape == shape


def test_never_overwrites_an_input_and_refuses_name_clashes(models_dir, tmp_path, capsys):
    _, saved = models_dir
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(codec.encode_jpeg(np.full((16, 16, 3), 100, np.uint8), 90))
    before = photo.read_bytes()
    assert cli.main(["encode", str(photo), "-o", str(tmp_path), "--model", str(saved)]) == 2
    assert "overwrite" in capsys.readouterr().err and photo.read_bytes() == before
    (tmp_path / "photo.png").write_bytes(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    assert cli.main(["encode", str(photo), str(tmp_path / "photo.png"), "-o", str(tmp_path / "o"),
                     "--model", str(saved)]) == 2
    assert "both" in capsys.readouterr().err
    assert cli.main(["encode", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"),
                     "--model", str(saved)]) == 2
    assert not (tmp_path / "o").exists()


def test_model_path_forms(models_dir, tmp_path):
    keras_path, saved = models_dir
    assert encode.saved_model_version_dir(str(saved)) == os.path.join(str(saved), "1")
    assert encode.saved_model_version_dir(str(saved / "1")) == str(saved / "1")
    editor = encode.load_editor(str(saved))
    assert (editor.quality, editor.halo) == (15, 3)
    for bad in [str(tmp_path), str(tmp_path / "none.keras"), str(tmp_path / "none")]:
        with pytest.raises(UserError):
            encode.load_editor(bad)
