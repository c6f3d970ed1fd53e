"""Atomic file output: write to a temporary name in the same folder, then rename.

A reader (or a crash) never sees a half-written file under the final name.
"""

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        if os.path.isfile(tmp):
            # mkstemp makes 0600 files; give the final file the usual umask permissions.
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    """Atomically write ``data`` (bytes) to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def write_text(path, text):
    """Atomically write ``text`` (str, UTF-8) to ``path``."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj, indent=2):
    """Atomically write ``obj`` as JSON to ``path``, sorted keys, indented (``indent=None``: compact)."""
    separators = None if indent is not None else (",", ":")
    write_text(path, json.dumps(obj, indent=indent, sort_keys=True, separators=separators) + "\n")
