"""TensorFlow's native log lines on the command line: quiet by default, all of them with ``--verbose``.

TensorFlow's C++ logger reads ``TF_CPP_MIN_LOG_LEVEL`` (0 all, 1 no INFO, 2 no WARNING,
3 no ERROR) once, when it logs its first message, so :func:`quiet` sets it before
TensorFlow loads; a value the user set is kept. That is not enough with TF 2.21: its
shared libraries also log through Abseil while they are being loaded, before anything
has configured Abseil, and Abseil then prints every message, e.g.::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796123037.397844   11198 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796123037.398193   11198 cudart_stub.cc:31] Could not find cuda drivers ...

(twice: two libraries carry their own copy of Abseil). Abseil reads no environment
variable (``GLOG_minloglevel``, ``ABSL_MIN_LOG_LEVEL`` change nothing) and
``TF_ENABLE_ONEDNN_OPTS=0`` would change the numerics, so :func:`import_quietly` sends
file descriptor 2 to a temporary file while TensorFlow (or a module that imports it) is
imported, then writes every captured line back to stderr except native log records
below the level and that Abseil banner. Python warnings, tracebacks and any other line
pass through unchanged; nothing is filtered outside the import.
"""

import contextlib
import importlib
import os
import re
import sys
import tempfile

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "3"
ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
SEVERITIES = {"I": 0, "W": 1, "E": 2, "F": 3}
# Abseil / glog records ("I0000 00:00:1796123037.397844   11198 port.cc:153] ...") and TF's own
# ("2025-09-17 14:44:05.157831: I external/.../cudart_stub.cc:32] ...").
_ABSL_RECORD = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+(?:\.\d+)? +\d+ [^ \]]+:\d+\] ")
_TF_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?: ([IWEF]) [^ \]]+:\d+\] ")


def quiet():
    """Set ``TF_CPP_MIN_LOG_LEVEL`` to :data:`DEFAULT_LEVEL` unless the user set it; returns the level (int).

    A value TensorFlow cannot parse counts as 0, as in TensorFlow.
    """
    value = os.environ.setdefault(LEVEL_VARIABLE, DEFAULT_LEVEL)
    try:
        return int(value.strip())
    except ValueError:
        return 0


def dropped(line, level):
    """True if ``line`` (one line of stderr) is a native log record below ``level``, or the Abseil banner."""
    if line.rstrip("\r\n") == ABSL_BANNER:
        return level > 0
    match = _ABSL_RECORD.match(line) or _TF_RECORD.match(line)
    return bool(match) and SEVERITIES[match.group(1)] < level


@contextlib.contextmanager
def native_logs_filtered(level):
    """While the block runs, capture file descriptor 2; afterwards re-emit it without :func:`dropped` lines.

    ``level`` None or <= 0 (or no usable descriptor 2) leaves stderr alone.
    """
    if level is None or level <= 0:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except ValueError:
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not dropped(line, level))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def call_quietly(function, level):
    """``function()``; under :func:`native_logs_filtered` unless TensorFlow is already loaded (or ``level`` is None)."""
    if level is None or "tensorflow" in sys.modules:
        return function()
    with native_logs_filtered(level):
        return function()


def import_quietly(module_name, level):
    """Import ``module_name``; the first time TensorFlow is loaded, under :func:`native_logs_filtered`."""
    return call_quietly(lambda: importlib.import_module(module_name), level)
