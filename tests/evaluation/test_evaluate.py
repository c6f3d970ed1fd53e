"""The evaluation library: exact plain-JPEG figures, an identity model, what a run or a model file gives.

The ``fake_run`` and ``image_dir`` fixtures are shared with test_summary.py. The command
(``tfjpegnet evaluate``) is tested in tests/cli/test_evaluate_command.py.
"""

import json
import os

import cv2
import keras
import numpy as np
import pytest

from tfjpegnet import models, pixels
from tfjpegnet.errors import UserError
from tfjpegnet.evaluation import evaluate, metrics, report


def _perturbed_modify_net():
    """A tiny Modify-Net whose last layer is small random instead of zero (so it edits a little)."""
    keras.utils.set_random_seed(3)
    net = models.build_modify_net(depth=3, filters=8)
    last = net.get_layer("conv3")
    kernel, bias = last.get_weights()
    last.set_weights([np.random.default_rng(0).normal(0, 0.002, kernel.shape).astype(np.float32), bias])
    return net


@pytest.fixture
def fake_run(tmp_path, image_dir):
    """A training run directory: config.json and stage1/{modify_net,jpeg_net}.keras of tiny nets."""
    run = tmp_path / "runs" / "q15"
    (run / "stage1").mkdir(parents=True)
    _perturbed_modify_net().save(run / "stage1" / "modify_net.keras")
    models.build_jpeg_net(filters=8).save(run / "stage1" / "jpeg_net.keras")
    config = {"quality": 15, "proxy": "jpegnet", "stages": 1,
              "test_images": sorted(os.fspath(p) for p in image_dir.iterdir())}
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_plain_jpeg_on_kodak_test_images_equals_independent_opencv_numpy(kodak_dir):
    paths = [kodak_dir / f"kodim{i}.png" for i in (22, 23, 24)]
    images = evaluate.load_images(paths)
    jobs = [("full", "opencv", evaluate.PLAIN, q, False) for q in (5, 15)]
    points = evaluate.measure_all(images, {}, jobs, keras.utils.Progbar(len(jobs), verbose=0))
    for quality, (psnr, bpp) in {15: (28.28, 0.393), 5: (24.03, 0.208)}.items():
        psnrs, bpps = [], []
        for path in paths:
            bgr = cv2.imread(os.fspath(path))
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
            decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            psnrs.append(10 * np.log10(255.0 ** 2 / np.mean((bgr.astype(np.float64) - decoded) ** 2)))
            bpps.append(8.0 * buf.size / (bgr.shape[0] * bgr.shape[1]))
        mean = points["full"]["opencv"][evaluate.PLAIN][str(quality)]["mean"]
        assert mean["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-10)  # same numbers, summed in RGB vs BGR order
        assert mean["bpp"] == np.mean(bpps)
        assert (round(mean["psnr"], 2), round(mean["bpp"], 3)) == (psnr, bpp)


def test_identity_model_gives_zero_difference(image_dir):
    images = evaluate.load_images(sorted(image_dir.iterdir()))
    net = models.build_modify_net(depth=3, filters=8)  # last layer zero-initialised: the identity
    results, edited = evaluate.evaluate(images, {"stage1": net}, 15, [10, 40], ["opencv"], plain_step=50, verbose=0)
    for protocol in evaluate.PROTOCOLS:
        for name, rgb in images.items():
            assert np.array_equal(edited["stage1"][protocol][name], evaluate.units(protocol, rgb))
        diff = results["table1"][protocol]["stage1"]["mean"]["diff"]
        assert f"{diff['psnr']:+.2f} {diff['bpp']:.3f} {diff['bits']:.1f}" == "+0.00 0.000 0.0"
        assert diff["psnr"] == diff["ssim"] == diff["bpp"] == diff["bytes"] == 0
        assert results["bd_rate"][protocol]["opencv"]["stage1"]["psnr"] == pytest.approx(0.0, abs=1e-9)
        saving = results["bit_saving"][protocol]["opencv"]["stage1"]
        assert saving["at_equal_psnr"] == pytest.approx(0.0, abs=1e-9)
        assert saving["at_equal_ssim"] == pytest.approx(0.0, abs=1e-9)
        # Against OpenCV default, OpenCV's own combination is the same comparison.
        assert saving["at_equal_psnr_vs_opencv"] == saving["at_equal_psnr"]
    assert results["images"]["crop22"] == {"height": 96, "width": 128, "patches": 2}


def test_identity_model_on_mozjpeg_saves_nothing_on_mozjpeg_and_what_mozjpeg_saves_vs_opencv(image_dir):
    """The pre-edit's gain on top of an encoder and the combination against OpenCV default, apart."""
    images = evaluate.load_images(sorted(image_dir.iterdir()))
    net = models.build_modify_net(depth=3, filters=8)
    results, _ = evaluate.evaluate(images, {"stage1": net}, 15, [10, 40], ["mozjpeg"], plain_step=5, verbose=0)
    saving = results["bit_saving"]["full"]["mozjpeg"]["stage1"]
    assert saving["at_equal_psnr"] == pytest.approx(0.0, abs=1e-9)
    mozjpeg = results["points"]["full"]["mozjpeg"][evaluate.PLAIN]["15"]["mean"]
    opencv = {k: [results["points"]["full"]["opencv"][evaluate.PLAIN][str(q)]["mean"][k]
                  for q in results["plain_curve_qualities"]] for k in ("bpp", "psnr")}
    expected = metrics.bit_saving(mozjpeg["bpp"], mozjpeg["psnr"], opencv["bpp"], opencv["psnr"])
    assert saving["at_equal_psnr_vs_opencv"] == pytest.approx(expected) and expected > 10
    lines = "\n".join(report.saving_lines(results, "full"))
    assert "vs OpenCV default" in lines and f"{expected:+.1f} %" in lines


def test_edit_batch_is_the_rounding_of_pixels_to_uint8(image_dir):
    net = _perturbed_modify_net()
    batch = evaluate.units("paper", evaluate.load_images(sorted(image_dir.iterdir()))["crop22"])
    edited = evaluate.edit_batch(net, batch, batch_size=1)
    expected = np.asarray(pixels.to_uint8(models.edit_rgb(net, batch.astype(np.float32) / 255.0)))
    assert edited.dtype == np.uint8 and np.array_equal(edited, expected)
    assert not np.array_equal(edited, batch)  # the net does edit


def test_resolve_source_of_a_run_and_of_a_model_file(fake_run, image_dir, kodak_dir):
    source = evaluate.resolve_source(run=os.fspath(fake_run))
    assert (source["name"], source["kind"], source["quality"]) == ("q15", "run", 15)
    assert source["models"] == [("stage1", os.path.join(fake_run, "stage1", "modify_net.keras"),
                                 os.path.join(fake_run, "stage1", "jpeg_net.keras"))]
    assert source["out"] == os.path.join("results", "q15") and len(source["image_paths"]) == 2
    model = fake_run / "stage1" / "modify_net.keras"
    source = evaluate.resolve_source(model=os.fspath(model), quality="5", images=os.fspath(image_dir), out="x")
    assert (source["name"], source["kind"], source["quality"], source["out"]) == ("stage1", "model", 5, "x")
    source = evaluate.resolve_source(model=os.fspath(model), quality="15", data_dir=os.fspath(kodak_dir))
    assert [os.path.basename(p) for p in source["image_paths"]] == ["kodim22.png", "kodim23.png", "kodim24.png"]
    with pytest.raises(UserError, match="needs --quality"):
        evaluate.resolve_source(model=os.fspath(model))
    with pytest.raises(UserError, match="either"):
        evaluate.resolve_source()

