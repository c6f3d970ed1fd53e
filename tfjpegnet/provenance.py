"""Which images shaped a trained model: the chain of training runs behind a ``.keras`` file.

Each run's ``config.json`` (written by ``tfjpegnet train``) records its training images
(``train_images``) and the model it started from (``init_model``) or imitated (``teacher``).
Following those back gives every run whose data went into a model, so a report can say whether
its test images were really unseen: ``tfjpegnet operating-point`` records it per model.
"""

import os

from tfjpegnet import datasets, runs

#: config keys naming a model whose training went into the run's own
PARENTS = ("init_model", "teacher")


def run_dir_of(model_path):
    """The run directory a model file belongs to (``runs/X`` for ``runs/X/stage1/modify_net.keras``
    or ``runs/X/colour_quantised.keras``): the nearest of its two parent folders holding a
    ``config.json``, whether or not the file itself is still there (a chain's intermediate models
    need not be kept); None if neither folder does."""
    folder = os.path.dirname(os.path.abspath(model_path))
    for _ in range(2):
        if os.path.isfile(os.path.join(folder, runs.CONFIG)):
            return folder
        folder = os.path.dirname(folder)
    return None


def lineage(model_path):
    """The runs behind ``model_path``, its own first, then those its runs started from or imitated.

    Returns:
      (runs, untraced): ``runs`` a list of (run directory as given or relative to the working
      directory, its config dict), each once; ``untraced`` the sorted origins that lead to no run
      directory (a model file outside any run, or a config's free-text note).
    """
    found, untraced, queue, seen = [], set(), [model_path], set()
    while queue:
        origin = queue.pop(0)
        run_dir = run_dir_of(origin) if isinstance(origin, str) and origin.endswith(".keras") else None
        if run_dir is None:
            untraced.add(str(origin))
            continue
        if run_dir in seen:
            continue
        seen.add(run_dir)
        config = runs.read_config(run_dir)
        found.append((os.path.relpath(run_dir), config))
        queue += [config[key] for key in PARENTS if config.get(key)]
    return found, sorted(untraced)


def seen_in_training(model_path, image_paths):
    """Which of ``image_paths`` a run behind ``model_path`` trained on, by file content (SHA-256).

    Returns:
      dict with ``runs`` (the lineage's run directories, list of str), ``seen`` (sorted list of
      {"image": file stem, "run": first run that trained on it}), ``untraced`` (origins that lead
      to no run) and ``missing`` (how many recorded training files are not on this machine and so
      could not be compared).
    """
    chain, untraced = lineage(model_path)
    owner, missing = {}, set()
    for run_dir, config in chain:
        for path in config.get("train_images") or []:
            if os.path.isfile(path):
                owner.setdefault(path, run_dir)
            else:
                missing.add(path)
    seen = {}
    for train_path, image_path in datasets.same_files(list(owner), list(image_paths)):
        stem = os.path.splitext(os.path.basename(image_path))[0]
        seen.setdefault(stem, owner[train_path])
    return {"runs": [run_dir for run_dir, _ in chain],
            "seen": [{"image": stem, "run": run} for stem, run in sorted(seen.items())],
            "untraced": untraced, "missing": len(missing)}


def describe(record, count):
    """One sentence on a :func:`seen_in_training` record for ``count`` judged images (markdown)."""
    runs_text = f"{len(record['runs'])} training run(s)"
    if record["seen"]:
        by_run = {}
        for item in record["seen"]:
            by_run.setdefault(item["run"], []).append(item["image"])
        parts = [f"{len(names)} by `{run}` ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                 for run, names in by_run.items()]
        sentence = f"{len(record['seen'])} of the {count} images were seen in training: {'; '.join(parts)}."
    else:
        sentence = f"None of the {count} images is a training image of its {runs_text}."
    if record["untraced"] or record["missing"]:
        sentence += (f" Not checked: {len(record['untraced'])} origin(s) outside any run"
                     f" and {record['missing']} training file(s) not on this machine.")
    return sentence
