"""A scan names its model and its labels: ``--model`` is required outside the bundled demo, the
model's name and source are in the summary line, the summary JSON and the CSV's ``model``
column; folders that match no class of the model are named, and accuracy counts only the
images with a true label."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.cli import EXIT_USAGE, main
from leakview.resources import demo_images_dir, demo_model_path
from leakview.scanrow import SCAN_COLUMNS

CLASSES = ["a", "b"]


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def two_class_model(tmp_path_factory) -> Path:
    import torch

    from leakview.models import build_architecture, save_bundle

    torch.manual_seed(0)
    module = build_architecture("mobilenet_v3_small", len(CLASSES), (32, 32))
    path = tmp_path_factory.mktemp("model") / "two-class.pt"
    save_bundle(path, module, "mobilenet_v3_small", CLASSES, (32, 32))
    return path


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """a/ and b/ (the model's classes), sunflower/ and tulip/ (not), one image at the top."""
    root = tmp_path / "data"
    seed = 0
    for folder, count in (("a", 3), ("b", 3), ("sunflower", 2), ("tulip", 1)):
        for index in range(count):
            seed += 1
            _image(root / folder / f"{folder}{index}.png", seed)
    _image(root / "loose.png", 99)
    return root


def _scan(*args: str) -> int:
    return main(["scan", *args, "--device", "cpu", "--batch-size", "4"])


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# -- 1. the model is never implicit --------------------------------------------------------

def test_scan_without_model_on_a_user_folder_is_a_usage_error(mixed_folder, tmp_path,
                                                               capsys) -> None:
    out = tmp_path / "x.csv"
    assert _scan(str(mixed_folder), "--csv", str(out)) == EXIT_USAGE
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--model is required" in error
    assert str(mixed_folder) in error and "demo-clean" in error
    assert not out.exists() and not out.with_name("x.csv.partial").exists()


def test_atlas_without_model_on_a_user_folder_is_a_usage_error(mixed_folder, tmp_path,
                                                                capsys) -> None:
    out = tmp_path / "atlas.png"
    assert main(["atlas", str(mixed_folder), "--out", str(out), "--device", "cpu"]) == EXIT_USAGE
    assert "--model is required" in capsys.readouterr().err
    assert not out.exists()


def test_scan_of_the_bundled_demo_runs_demo_clean_and_names_it(tmp_path, capsys) -> None:
    out, summary = tmp_path / "demo.csv", tmp_path / "demo.json"
    assert _scan(str(demo_images_dir()), "--csv", str(out), "--summary", str(summary),
                 "--shard", "1/10") == 0
    printed = capsys.readouterr().out
    source = str(demo_model_path("clean"))
    assert f"model: demo-clean ({source})" in printed.splitlines()[0]
    rows = _rows(out)
    assert rows and list(rows[0])[-1] == "model"
    assert {row["model"] for row in rows} == {"demo-clean"}
    assert json.loads(summary.read_text())["model"] == {"name": "demo-clean", "source": source}


def test_explicit_demo_model_names_run_on_any_folder(mixed_folder, tmp_path, capsys) -> None:
    out = tmp_path / "leaky.csv"
    assert _scan(str(mixed_folder), "--model", "demo-leaky", "--csv", str(out)) == 0
    assert f"model: demo-leaky ({demo_model_path('leaky')})" in capsys.readouterr().out
    assert {row["model"] for row in _rows(out)} == {"demo-leaky"}


def test_a_model_file_is_named_in_the_line_the_json_and_the_csv(
        mixed_folder, two_class_model, tmp_path, capsys) -> None:
    out, summary = tmp_path / "s.csv", tmp_path / "s.json"
    assert _scan(str(mixed_folder), "--model", str(two_class_model), "--csv", str(out),
                 "--summary", str(summary)) == 0
    assert f"model: two-class.pt ({two_class_model})" in capsys.readouterr().out
    with open(out, newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert header == list(SCAN_COLUMNS) and header[-1] == "model"
    assert {row["model"] for row in _rows(out)} == {"two-class.pt"}
    assert json.loads(summary.read_text())["model"] == {"name": "two-class.pt",
                                                        "source": str(two_class_model)}


def test_resume_refuses_rows_of_another_model(mixed_folder, two_class_model, tmp_path,
                                              capsys) -> None:
    out = tmp_path / "s.csv"
    assert _scan(str(mixed_folder), "--model", "demo-clean", "--csv", str(out)) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert _scan(str(mixed_folder), "--model", str(two_class_model), "--csv", str(out),
                 "--resume") == EXIT_USAGE
    error = capsys.readouterr().err
    assert "demo-clean" in error and "two-class.pt" in error
    assert out.read_bytes() == before


def test_demo_folders_and_model_names(tmp_path, monkeypatch) -> None:
    from leakview.resources import is_demo_images, model_identity, model_name

    monkeypatch.setenv("LEAKVIEW_DATA", str(tmp_path / "data"))
    assert is_demo_images(demo_images_dir())
    assert not is_demo_images(tmp_path)
    shutil.copytree(demo_images_dir(), tmp_path / "data" / "demo")
    assert is_demo_images(tmp_path / "data" / "demo")     # the window's writable copy
    assert model_name(demo_model_path("leaky")) == "demo-leaky"
    assert model_name(tmp_path / "net.onnx") == "net.onnx"
    assert model_identity(None) == {"name": "(in memory)", "source": None}


# -- 2. folders that are not the model's classes -------------------------------------------

def test_unmatched_folders_are_named_and_accuracy_counts_labelled_images_only(
        mixed_folder, two_class_model, tmp_path, capsys) -> None:
    out, summary = tmp_path / "s.csv", tmp_path / "s.json"
    assert _scan(str(mixed_folder), "--model", str(two_class_model), "--csv", str(out),
                 "--summary", str(summary), "--methods", "saliency,gradcam") == 0
    printed = capsys.readouterr().out
    rows = [row for row in _rows(out) if row["method"] == "saliency"]
    labelled = [row for row in rows if row["label"]]
    assert len(rows) == 10 and len(labelled) == 6
    correct = sum(row["predicted"] == row["label"] for row in labelled)
    labels = json.loads(summary.read_text())["labels"]
    assert labels == {"images": 10, "labelled": 6, "unlabelled": 4,
                      "unmatched_folders": {"(top level)": 1, "sunflower": 2, "tulip": 1},
                      "accuracy": pytest.approx(correct / 6)}
    line = [text for text in printed.splitlines() if text.startswith("labels:")]
    assert len(line) == 1, printed  # said once
    assert "over 6 of 10 images" in line[0] and "4 have none" in line[0]
    assert "3 folders match no class" in line[0]
    assert "sunflower (2)" in line[0] and "tulip (1)" in line[0]


def test_atlas_names_the_unmatched_folders_too(mixed_folder, two_class_model, tmp_path,
                                               capsys) -> None:
    assert main(["atlas", str(mixed_folder), "--model", str(two_class_model), "--out",
                 str(tmp_path / "atlas.png"), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "model: two-class.pt" in printed
    assert "sunflower (2)" in printed and "over 6 of 10 images" in printed


def test_many_unmatched_folders_are_summarised(tmp_path) -> None:
    from leakview.report import labels_text, summarize

    rows = [{"image": f"n{index:03d}/x.png", "label": "", "predicted": "class_001",
             "method": "saliency", "leak_flag": None, "mass_in_mask": None}
            for index in range(12)]
    labels = summarize(rows)["labels"]
    assert labels["accuracy"] is None and labels["unlabelled"] == 12
    text = labels_text(labels)
    assert "accuracy n/a over 0 of 12" in text and "and 7 more" in text


def test_merge_keeps_the_rows_of_two_models_of_the_same_image(tmp_path):
    from leakview.csvio import merge_csv, read_csv
    from leakview.scanrow import SCAN_COLUMNS

    inputs = []
    for model in ("clean.pt", "leaky.pt"):
        path = tmp_path / f"{model}.csv"
        cells = {column: "" for column in SCAN_COLUMNS}
        cells.update(image="a/x.png", method="saliency", target="a", model=model)
        path.write_text(",".join(SCAN_COLUMNS) + "\n" + ",".join(cells.values()) + "\n",
                        encoding="utf-8")
        inputs.append(path)
    assert merge_csv(inputs, tmp_path / "all.csv") == 2
    assert [row["model"] for row in read_csv(tmp_path / "all.csv")] == ["clean.pt", "leaky.pt"]
