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
