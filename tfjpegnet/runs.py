"""Reading a training run directory: ``config.json``, ``history.json`` and ``stageK/*.keras``.

A run directory (written by ``tfjpegnet train``) holds ``config.json`` (the resolved
configuration), ``history.json`` (a list of per-epoch records), ``checkpoints/``, ``logs/``
and one folder ``stageK`` per finished stage with ``modify_net.keras`` and, for the paper's
JPEG-Net proxy, ``jpeg_net.keras``. This module is the one place that reads them.
"""

import json
import os
import re

from tfjpegnet.errors import UserError

CONFIG = "config.json"
HISTORY = "history.json"


def read_config(run_dir):
    """The run's ``config.json`` as a dict; UserError if it is missing or not valid JSON."""
    path = os.path.join(run_dir, CONFIG)
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"{path} not found: is {run_dir!r} a training run directory?") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return config


def read_history(run_dir):
    """The run's ``history.json`` (list of dicts, oldest first); [] if the run has none yet."""
    path = os.path.join(run_dir, HISTORY)
    if not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None


def stages(run_dir):
    """The run's finished stages, in stage order.

    Returns:
      list of (name "stageK", modify_net path or None, jpeg_net path or None), one per
      ``stageK`` folder holding at least one of the two ``.keras`` files; [] if none.
    """
    found = []
    for entry in os.listdir(run_dir):
        match = re.fullmatch(r"stage(\d+)", entry)
        if not match:
            continue
        paths = [os.path.join(run_dir, entry, f"{net}.keras") for net in ("modify_net", "jpeg_net")]
        paths = [p if os.path.isfile(p) else None for p in paths]
        if any(paths):
            found.append((int(match.group(1)), entry, *paths))
    return [item[1:] for item in sorted(found)]
