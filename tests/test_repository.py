"""The repository as a newcomer gets it: no machine's absolute paths, a short README whose links
resolve inside the repository, and a test suite that finds (or downloads) the Kodak images itself."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KODAK_NAMES = [f"kodim{i:02d}.png" for i in range(1, 25)]

# An absolute path on some machine: a slash, then one of work, root, home, tmp or Users, then a
# slash, not preceded by a word character or a dot, so URL paths ("https://host/home/..") and relative paths ("a/tmp/..",
# "./tmp/..") do not count. A file:// URL of an absolute path does count: docs write
# "file://<folder>/" instead.
ABSOLUTE = re.compile(r"(?<![\w.])/(work|root|home|tmp|Users)/")
# Named on purpose, not a path of this machine: the folder Keras falls back to (tfjpegnet/datasets.py).
ALLOWED = ("/tmp/.keras",)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def committed_files():
    """Paths (relative to the repository) of the files git tracks; skips outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.decode().split("\0") if name]


def text_of(path):
    """The file's text, or None for a binary file (a NUL byte or not UTF-8) or one that is gone."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_no_committed_text_file_holds_an_absolute_machine_path():
    found = []
    for name in committed_files():
        text = text_of(ROOT / name)
        if text is None:
            continue
        for match in ABSOLUTE.finditer(text):
            if not text.startswith(ALLOWED, match.start()):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {text[match.start():match.start() + 60].splitlines()[0]}")
    assert not found, "absolute paths (write them relative to the repository):\n" + "\n".join(found)


def test_readme_is_short_and_keeps_the_commands_ci_runs():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    # .ci/run runs exactly these two commands, in this order.
    assert re.search(r"^## Install\n\n```\npip install -e \"\.\[dev\]\"\n```$", text, re.M)
    assert re.search(r"^## Test\n\n```\npython -m pytest -q\n```$", text, re.M)
    assert text.index("## Install") < text.index("## Test")


def links(path):
    """Link targets of a Markdown file, outside code blocks and code spans."""
    text = CODE.sub("", FENCE.sub("", path.read_text()))
    return LINK.findall(text)


def test_every_relative_link_in_readme_and_docs_is_a_file_of_the_repository():
    assert (ROOT / "docs").is_dir()
    broken = []
    checked = 0
    for doc in DOCS:
        for target in links(doc):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # http(s):, mailto:, ...; a heading of the same page
            checked += 1
            resolved = (doc.parent / target.split("#", 1)[0]).resolve()
            if not resolved.exists() or not resolved.is_relative_to(ROOT):
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert checked > 20 and not broken, "links to nothing or outside the repository:\n" + "\n".join(broken)


def test_kodak_dir_holds_the_24_images(kodak_dir):
    assert all((kodak_dir / name).is_file() for name in KODAK_NAMES)


def run_pytest(tmp_path, url, *node_ids):
    """A pytest session in a subprocess with no local Kodak folder, Kodak's URL ``url`` and a fresh cache."""
    env = dict(os.environ, TFJPEGNET_KODAK_DIR=os.fspath(tmp_path / "absent"), TFJPEGNET_KODAK_URL=url,
               KERAS_HOME=os.fspath(tmp_path / "keras"), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *node_ids],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_without_the_local_folder_the_suite_downloads_kodak(tmp_path, kodak_dir):
    result = run_pytest(tmp_path, "file://" + os.fspath(kodak_dir) + "/",
                        "tests/test_repository.py::test_kodak_dir_holds_the_24_images")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    cached = tmp_path / "keras" / "datasets" / "kodak"
    assert sorted(p.name for p in cached.iterdir()) == KODAK_NAMES  # the session used downloaded copies


def test_without_any_source_the_run_stops_with_one_message(tmp_path):
    result = run_pytest(tmp_path, "file://" + os.fspath(tmp_path / "nowhere") + "/",
                        "tests/test_repository.py::test_kodak_dir_holds_the_24_images", "tests/test_datasets.py")
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert output.count("The tests need the 24 Kodak images") == 1, output
    assert "TFJPEGNET_KODAK_DIR" in output and "TFJPEGNET_KODAK_URL" in output
    assert "no tests ran" in output, output  # one stop, not an error per test
