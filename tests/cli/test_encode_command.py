"""`tfjpegnet encode` as a newcomer runs it: in a fresh process, from another folder, quiet.

Each real run is a subprocess started from a temporary working directory with
TF_CPP_MIN_LOG_LEVEL removed from its environment (as in a fresh shell).
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

from tfjpegnet import cli
from tfjpegnet.cli import tflogs
from tfjpegnet.deploy import encode
from tfjpegnet.jpeg import codec

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow_serving", "ai_edge_litert", "grpc")

# Runs the command line in this process's interpreter, then reports which optional packages it loaded.
SCRIPT = textwrap.dedent("""
    import sys
    from tfjpegnet.cli import main
    code = main(sys.argv[1:])
    import tfjpegnet.cli.encode, tfjpegnet.deploy.encode  # the whole encode path (main loaded both already)
    loaded = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow_serving", "ai_edge_litert", "grpc"})
    print("HEAVY=" + ",".join(loaded))
    sys.exit(code)
""")


def fresh_env(**extra):
    """os.environ without TF_CPP_MIN_LOG_LEVEL (which tests running main() in-process set), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != tflogs.LEVEL_VARIABLE}
    env.update(extra)
    return env


def run_cli(argv, cwd, env=None, script=SCRIPT):
    return subprocess.run([sys.executable, "-c", script, *map(os.fspath, argv)], cwd=cwd, env=env or fresh_env(),
                          capture_output=True, text=True, timeout=600)


def native_lines(stderr):
    """The lines of ``stderr`` that are TensorFlow / Abseil native log records or Abseil's banner."""
    return [line for line in stderr.splitlines() if tflogs.dropped(line + "\n", 4)]


@pytest.fixture(scope="module")
def photo(tmp_path_factory, kodak_dir):
    """A 72x100 PNG crop of kodim23 in a folder of its own."""
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    cv2.imwrite(os.fspath(path), cv2.imread(os.fspath(kodak_dir / "kodim23.png"))[180:252, 300:400])
    return path


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, photo):
    """``tfjpegnet encode photo.png -o out`` without --model, from an empty folder: (result, out dir)."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    result = run_cli(["encode", photo, "-o", "out"], cwd)
    return result, cwd / "out"


def test_default_model_is_found_from_any_working_directory(default_run, photo):
    result, out = default_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 of 1 file(s) written to out (quality 75, mozjpeg)" in result.stdout
    assert encode.default_model() == ROOT / "saved_models" / "tfjpegnet"
    decoded = codec.decode_jpeg((out / "photo.jpg").read_bytes())
    assert decoded.shape == codec.read_image(photo).shape


def test_encode_path_loads_neither_tf_serving_nor_litert_nor_grpc(default_run):
    result, _ = default_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY=\n" in result.stdout, result.stdout[-500:]


def test_encode_is_quiet_by_default(default_run):
    result, _ = default_run
    assert native_lines(result.stderr) == [], result.stderr
    for noise in ("cudart_stub", "oneDNN", "absl::InitializeLog", "cpu_feature_guard", "cuda"):
        assert noise not in result.stderr, result.stderr


def test_verbose_keeps_tensorflows_start_up_logs(tmp_path, photo):
    # What TensorFlow itself prints when imported on this machine (with no log level set) ...
    reference = subprocess.run([sys.executable, "-c", "import tensorflow"], cwd=tmp_path, env=fresh_env(),
                               capture_output=True, text=True, timeout=600)
    expected = {line.split("] ", 1)[-1] for line in native_lines(reference.stderr)}
    # ... is all there with --verbose.
    result = run_cli(["--verbose", "encode", photo, "-o", "out"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    got = {line.split("] ", 1)[-1] for line in native_lines(result.stderr)}
    assert expected <= got, (expected, result.stderr)
    if "oneDNN custom operations are on" in reference.stderr:  # the lines the quiet default drops
        assert "absl::InitializeLog" in result.stderr and "oneDNN" in result.stderr


def test_a_log_level_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv(tflogs.LEVEL_VARIABLE, "1")
    assert tflogs.quiet() == 1 and os.environ[tflogs.LEVEL_VARIABLE] == "1"
    monkeypatch.delenv(tflogs.LEVEL_VARIABLE)
    assert tflogs.quiet() == int(tflogs.DEFAULT_LEVEL) and os.environ[tflogs.LEVEL_VARIABLE] == tflogs.DEFAULT_LEVEL


def test_help_is_quiet_and_loads_no_tensorflow(tmp_path):
    script = textwrap.dedent("""
        import sys
        from tfjpegnet.cli import main
        try:
            main(sys.argv[1:])
        except SystemExit:
            pass
        print("TF=" + str("tensorflow" in sys.modules))
    """)
    for argv in (["encode", "--help"], ["--help"], ["export", "--help"], ["serve-client", "--help"]):
        result = run_cli(argv, tmp_path, script=script)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert "usage: tfjpegnet" in result.stdout and "TF=False" in result.stdout
    result = run_cli(["colour-compensation", "--help"], tmp_path, script=script)  # its defaults load TensorFlow
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "--chroma CHROMA" in result.stdout and "80:0,85:1" in result.stdout
    result = run_cli(["encode", "--help"], tmp_path, script=script)
    assert "--model" in result.stdout and "saved_models/tfjpegnet of" in " ".join(result.stdout.split())


def test_without_the_shipped_models_one_message_names_model(tmp_path, photo):
    # A non-editable install: the package without the repository around it.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tfjpegnet", site / "tfjpegnet", ignore=shutil.ignore_patterns("__pycache__"))
    result = run_cli(["encode", photo, "-o", "out"], tmp_path, env=fresh_env(PYTHONPATH=os.fspath(site)))
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("tfjpegnet encode: error:")]
    assert len(errors) == 1 and "--model" in errors[0] and "saved_models/tfjpegnet " in errors[0], result.stderr
    assert native_lines(result.stderr) == [] and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_default_model_in_process(monkeypatch, photo, tmp_path, capsys):
    monkeypatch.setattr(encode, "default_model", lambda: None)
    assert cli.main(["encode", os.fspath(photo), "-o", os.fspath(tmp_path / "out")]) == 2
    assert "pass --model PATH" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_tools_wrapper_runs_the_command(tmp_path):
    result = subprocess.run([sys.executable, os.fspath(ROOT / "tools" / "encode.py"), "--help"], cwd=tmp_path,
                            env=fresh_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "usage: tfjpegnet encode" in result.stdout


@pytest.mark.parametrize("line, level, dropped", [
    ("I0000 00:00:1796123037.397844   11198 port.cc:153] oneDNN custom operations are on.\n", 1, True),
    ("I0000 00:00:1796123037.398193   11198 cudart_stub.cc:31] Could not find cuda drivers\n", 3, True),
    ("E0000 00:00:1796123057.666528   11334 cuda_platform.cc:52] failed call to cuInit\n", 2, False),
    ("E0000 00:00:1796123057.666528   11334 cuda_platform.cc:52] failed call to cuInit\n", 3, True),
    ("2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not find\n", 1, True),
    (tflogs.ABSL_BANNER + "\n", 1, True),
    (tflogs.ABSL_BANNER + "\n", 0, False),
    ("I0000 00:00:1796123037.397844   11198 port.cc:153] oneDNN custom operations are on.\n", 0, False),
    ("/x/y.py:3: UserWarning: something a user should see\n", 3, False),
    ("Traceback (most recent call last):\n", 3, False),
])
def test_only_native_records_below_the_level_are_dropped(line, level, dropped):
    assert tflogs.dropped(line, level) is dropped


def test_filter_captures_descriptor_2_and_passes_other_lines_through(capfd):
    with tflogs.native_logs_filtered(3):
        os.write(2, b"I0000 00:00:1.5   7 port.cc:153] noise\n" + tflogs.ABSL_BANNER.encode() + b"\nkeep me\n")
        print("python line", file=sys.stderr)
    # (pytest may hand Python's sys.stderr its own file, so only the set of lines is certain)
    assert sorted(capfd.readouterr().err.splitlines()) == ["keep me", "python line"]
    os.write(2, b"I0000 00:00:1.5   7 port.cc:153] after the block\n")
    assert "after the block" in capfd.readouterr().err


def test_import_quietly_filters_only_the_first_tensorflow_load():
    assert "tensorflow" in sys.modules  # loaded by this test process: nothing to filter, a plain import
    assert tflogs.import_quietly("tfjpegnet.cli.encode", 3) is sys.modules["tfjpegnet.cli.encode"]


def test_no_module_of_deploy_or_cli_cites_a_design_document():
    for folder in ("deploy", "cli"):
        for path in (ROOT / "tfjpegnet" / folder).glob("*.py"):
            assert "DESIGN.md" not in path.read_text(), path


def test_library_modules_never_import_command_modules():
    pattern = re.compile(r"^\s*(from tfjpegnet\.cli\b|from tfjpegnet import cli\b|import tfjpegnet\.cli\b)", re.M)
    for path in (ROOT / "tfjpegnet" / "deploy").glob("*.py"):
        assert not pattern.search(path.read_text()), path
