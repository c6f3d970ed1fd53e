"""tfjpegnet.provenance: the runs behind a model and which judged images they trained on, on real
run directories (config.json as ``tfjpegnet train`` writes it) and real image files."""

import json
import shutil

from tfjpegnet import provenance


def _run(root, name, train_images, **parents):
    """A run directory ``root/name`` with a config.json; returns the path of its (unwritten) model."""
    folder = root / name
    (folder / "stage1").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train_images": [str(p) for p in train_images], **parents}))
    return str(folder / "stage1" / "modify_net.keras")


def test_a_chain_is_followed_through_missing_models_and_seen_images_are_found_by_content(tmp_path, kodak_dir):
    judged = [kodak_dir / f"kodim{i:02d}.png" for i in (1, 2, 3)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    renamed = corpus / "photo.png"
    shutil.copy(judged[1], renamed)  # kodim02 under another name: still the same image
    other = corpus / "other.png"
    shutil.copy(kodak_dir / "kodim10.png", other)
    teacher = _run(tmp_path, "teacher", [judged[0]], init_model="(a note, not a file)")
    start = _run(tmp_path, "start", [other], teacher=teacher)
    model = _run(tmp_path, "last", [renamed, tmp_path / "gone.png"], init_model=start)

    record = provenance.seen_in_training(model, judged)
    assert [p.rsplit("/", 1)[-1] for p in record["runs"]] == ["last", "start", "teacher"]
    assert [(s["image"], s["run"].rsplit("/", 1)[-1]) for s in record["seen"]] == [("kodim01", "teacher"),
                                                                                  ("kodim02", "last")]
    assert record["untraced"] == ["(a note, not a file)"] and record["missing"] == 1
    text = provenance.describe(record, 3)
    assert text.startswith("2 of the 3 images were seen in training") and "1 training file(s) not on" in text


def test_a_model_whose_runs_never_saw_the_images_says_so(tmp_path, kodak_dir):
    model = _run(tmp_path, "clean", [kodak_dir / "kodim10.png"])
    record = provenance.seen_in_training(model, [kodak_dir / "kodim01.png"])
    assert record["seen"] == [] and record["untraced"] == [] and record["missing"] == 0
    assert provenance.describe(record, 1) == "None of the 1 images is a training image of its 1 training run(s)."


def test_a_model_outside_any_run_is_untraced(tmp_path, kodak_dir):
    record = provenance.seen_in_training(str(tmp_path / "loose.keras"), [kodak_dir / "kodim01.png"])
    assert record["runs"] == [] and record["untraced"] == [str(tmp_path / "loose.keras")]
