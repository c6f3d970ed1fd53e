"""The shipped models in saved_models/ hold what the README claims (pins the claim to the files).

For each shipped quality, the SavedModel and every TFLite file edit kodim23, real OpenCV JPEG
(default settings) encodes it at the model's quality, and the bit saving at equal PSNR against
plain JPEG's Q=1..100 curve of kodim23 must be at least the evaluation's kodim23 figure in
results/rate_q{Q}/metrics.json (the report the README's results link to) minus 1 point.
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
    results = {"savedmodel": measured_saving(edited, original, quality)}
    for variant in tflite.VARIANTS:
        runner = tflite.Runner(tflite.tflite_path(ROOT / "saved_models", f"tfjpegnet_q{quality}", variant))
        edited = np.asarray(pixels.to_uint8(runner(original.astype(np.float32) / 255.0)))
        results[variant] = measured_saving(edited, original, quality)
    for name, saving in results.items():
        assert saving >= claim - 1.0, f"{name}: {saving:.2f} % < claim {claim:.2f} % - 1"
