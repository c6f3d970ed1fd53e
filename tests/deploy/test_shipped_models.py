"""The shipped models in saved_models/ hold what the README claims (pins the claim to the files).

For each shipped quality, the SavedModel edits kodim23, real OpenCV JPEG (default settings)
encodes it at the model's quality, and the bit saving at equal PSNR against plain JPEG's
Q=1..100 curve of kodim23 must be at least the evaluation's kodim23 figure in
results/rate_q{Q}/metrics.json (the report the README's results link to) minus 1 point; every
TFLite file (float32 and int8) must save, on a quarter of kodim23, at least the SavedModel's saving there minus 1.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfjpegnet import pixels
from tfjpegnet.deploy import tflite
from tfjpegnet.evaluation import metrics
from tfjpegnet.jpeg import codec

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (5, 15)


def claimed_saving(quality):
    """kodim23's bit saving at equal PSNR (full image, OpenCV default) from the committed evaluation."""
    results = json.loads((ROOT / "results" / f"rate_q{quality}" / "metrics.json").read_text())
    points = results["points"]["full"]["opencv"]
    model = results["models"][-1]
    image = points[model][str(quality)]["images"]["kodim23"]
    plain = [points["jpeg"][str(q)]["images"]["kodim23"] for q in results["plain_curve_qualities"]]
    return metrics.bit_saving(image["bpp"], image["psnr"], [p["bpp"] for p in plain], [p["psnr"] for p in plain])


def measured_saving(edited, original, quality):
    """Bit saving at equal PSNR of an edited uint8 image after real JPEG at ``quality``."""
    decoded, size = codec.jpeg_roundtrip(edited, quality)
    pixels = original.shape[0] * original.shape[1]
    curve = [codec.jpeg_roundtrip(original, q) for q in range(1, 101)]
    return metrics.bit_saving(metrics.bpp(size, pixels), metrics.psnr(original, decoded),
                              [metrics.bpp(n, pixels) for _, n in curve],
                              [metrics.psnr(original, d) for d, _ in curve])


@pytest.mark.slow
@pytest.mark.parametrize("quality", SHIPPED)
def test_shipped_savedmodel_and_tflite_keep_the_claimed_bit_saving(quality, kodak_dir):
    original = codec.read_image(kodak_dir / "kodim23.png")
    claim = claimed_saving(quality)
    model_dir = ROOT / "saved_models" / f"tfjpegnet_q{quality}" / "1"
    loaded = tf.saved_model.load(str(model_dir))
    assert int(loaded.signatures["metadata"]()["quality"]) == quality
    edited = loaded.signatures["serving_default"](images=tf.constant(original[None]))["modified"].numpy()[0]
    saving = measured_saving(edited, original, quality)
    assert saving >= claim - 1.0, f"SavedModel: {saving:.2f} % < claim {claim:.2f} % - 1"
    crop = original[128:384, 192:576]  # whole MCUs of the full image's grid
    edited = loaded.signatures["serving_default"](images=tf.constant(crop[None]))["modified"].numpy()[0]
    reference = measured_saving(edited, crop, quality)
    paths = {v: tflite.tflite_path(ROOT / "saved_models", f"tfjpegnet_q{quality}", v) for v in tflite.VARIANTS}
    paths = {v: path for v, path in paths.items() if Path(path).exists()}
    assert list(paths) == ["float32", "int8"]  # docs/deployment.md: no fp16 file for the paper-size nets
    for variant, path in paths.items():
        runner = tflite.Runner(path)
        edited = np.asarray(pixels.to_uint8(runner(crop.astype(np.float32) / 255.0)))
        saving = measured_saving(edited, crop, quality)
        assert saving >= reference - 1.0, f"{variant}: {saving:.2f} % < SavedModel's {reference:.2f} % - 1"


@pytest.mark.slow
def test_the_default_net_for_every_quality_is_the_model_its_report_measured(kodak_dir):
    """saved_models/tfjpegnet edits as the .keras model of results/anyq_kodak24_mozjpeg (the README's
    per-quality table) does, in the SavedModel and every TFLite file, at qualities across its range."""
    from tfjpegnet.deploy import savedmodel

    report = json.loads((ROOT / "results" / "anyq_kodak24_mozjpeg" / "operating_points.json").read_text())
    [source] = report["bd_rate"]
    net = savedmodel.load_keras_model(ROOT / source)
    loaded = tf.saved_model.load(str(ROOT / "saved_models" / "tfjpegnet" / "1"))
    meta = {k: int(v) for k, v in loaded.signatures["metadata"]().items()}
    assert (meta["quality_min"], meta["quality_max"]) == (5, 95)
    original = codec.read_image(kodak_dir / "kodim23.png")[:256, :384]
    runners = {v: tflite.Runner(tflite.tflite_path(ROOT / "saved_models", "tfjpegnet", v)) for v in tflite.VARIANTS}
    for quality in (10, 20, 50, 90):
        reference = savedmodel.edit_uint8(net, original[None], quality).numpy()[0].astype(int)
        served = loaded.signatures["serving_default"](images=tf.constant(original[None]),
                                                      quality=tf.constant([quality]))["modified"].numpy()[0]
        assert np.abs(served.astype(int) - reference).max() <= 1
        rgb = original.astype(np.float32) / 255.0
        edited = np.asarray(pixels.to_uint8(runners["float32"](rgb, float(quality))))
        assert np.abs(edited.astype(int) - reference).max() <= 1, quality
        # fp16 weights move a few predicted chroma levels across a rounding boundary (the luma step's
        # model of mozjpeg's quantiser), int8 rounds the net: both judged after real JPEG (int8 good to Q90)
        for variant, limit in (("fp16", 0.05), ("int8", 0.3)):
            edited = np.asarray(pixels.to_uint8(runners[variant](rgb, float(quality))))
            psnr = [metrics.psnr(original, codec.jpeg_roundtrip(e.astype(np.uint8), quality)[0])
                    for e in (edited, reference)]
            assert abs(psnr[0] - psnr[1]) <= limit, (variant, quality, psnr)


def test_saved_models_stay_under_40_mb():
    """Everything shipped (SavedModels, TFLite files, models.config) fits in 40 MB (10^6 bytes)."""
    size = sum(p.stat().st_size for p in (ROOT / "saved_models").rglob("*") if p.is_file())
    assert size < 40e6, f"saved_models/ is {size / 1e6:.2f} MB"
