"""`tfjpegnet serve-client` and its tools/serve_client.py wrapper, in fresh processes (round trips: tests/deploy)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2

from tfjpegnet.cli import tflogs

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from tfjpegnet.cli import main
    code = main(sys.argv[1:])
    print("HEAVY=" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow_serving", "grpc"})))
    sys.exit(code)
""")


def fresh_env():
    return {k: v for k, v in os.environ.items() if k != tflogs.LEVEL_VARIABLE}


def test_rest_dry_run_loads_no_grpc_stack_and_is_quiet(tmp_path, kodak_dir):
    image = tmp_path / "crop.png"
    cv2.imwrite(os.fspath(image), cv2.imread(os.fspath(kodak_dir / "kodim23.png"))[:20, :30])
    result = subprocess.run([sys.executable, "-c", SCRIPT, "serve-client", os.fspath(image), "--dry-run"],
                            cwd=tmp_path, env=fresh_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "http://localhost:8501/v1/models/tfjpegnet_q15:predict" in result.stdout
    assert "HEAVY=\n" in result.stdout
    assert [line for line in result.stderr.splitlines() if tflogs.dropped(line + "\n", 4)] == [], result.stderr


def test_tools_wrapper_is_the_subcommand(tmp_path):
    result = subprocess.run([sys.executable, os.fspath(ROOT / "tools" / "serve_client.py"), "--help"],
                            cwd=tmp_path, env=fresh_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: tfjpegnet serve-client" in result.stdout and "--protocol" in result.stdout


def test_served_pixels_can_be_encoded_by_mozjpeg_here(tmp_path, kodak_dir):
    """serving_default's edited pixels + --encoder mozjpeg: the file mozjpeg writes of those pixels."""
    import numpy as np

    from tfjpegnet.cli import main, serve_client
    from tfjpegnet.jpeg import codec, encoders

    rgb = codec.read_image(kodak_dir / "kodim05.png")[:64, :96]
    target = serve_client.save_result("serving_default", [rgb], str(tmp_path / "in.png"), str(tmp_path / "out"),
                                      "mozjpeg", 15)
    assert target.endswith("in.jpg")
    data = (tmp_path / "out" / "in.jpg").read_bytes()
    assert data == encoders.encode("mozjpeg", rgb, 15)
    assert codec.decode_jpeg(data).shape == rgb.shape and np.any(codec.decode_jpeg(data) != 0)
    image = tmp_path / "x.png"
    image.write_bytes(codec.encode_jpeg(rgb, 90))  # any readable image
    assert main(["serve-client", str(image), "-o", str(tmp_path / "o"), "--encoder", "mozjpeg", "--dry-run"]) == 2
