"""A root means one folder however it is spelled (issue 17, item 3): every command normalises
its folder arguments once (``argtypes.root``), so a relative root, a relative ``--masks`` and a
``..`` give the same files as the absolute paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.cli import main
from leakview.layout import normalise_root
from leakview.masks import mask_path, read_mask, write_mask


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    import torch

    from leakview.models import build_architecture, save_bundle

    torch.manual_seed(0)
    module = build_architecture("mobilenet_v3_small", 2, (32, 32))
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_bundle(path, module, "mobilenet_v3_small", ("cat", "dog"), (32, 32))
    return path


def write_world(base: Path) -> tuple[Path, Path]:
    """``base/data`` (2 classes x 2 images) and its masks in ``base/masks`` (one image has
    none), plus an empty ``base/work`` to run from."""
    rng = np.random.default_rng(2)
    root, masks = base / "data", base / "masks"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for index in range(2):
            path = root / label / f"{label}{index}.png"
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
            if (label, index) != ("dog", 1):
                mask = np.zeros((40, 48), bool)
                mask[5 + index:30, 8:40 - index] = True
                write_mask(mask_path(root, path, masks), mask)
    (base / "work").mkdir()
    return root, masks


def scan_files(arguments: list[str], out: Path, model: Path) -> dict[str, object]:
    out.mkdir()
    assert main(["scan", *arguments, "--model", str(model), "--csv", str(out / "scan.csv"),
                 "--summary", str(out / "summary.json"), "--atlas", str(out / "atlas.png"),
                 "--atlas-json", str(out / "atlas.json")]) == 0
    return {"csv": (out / "scan.csv").read_text(),
            "summary": json.loads((out / "summary.json").read_text()),
            "atlas": json.loads((out / "atlas.json").read_text())}


def test_normalise_root_collapses_spellings_but_keeps_links(tmp_path, monkeypatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "work")
    for spelling in ("../data", "../data/", "../work/../data", "./../data", str(tmp_path / "data")):
        assert normalise_root(spelling) == tmp_path / "data"
    assert normalise_root("../link") == tmp_path / "link"   # a link is not resolved


def test_scan_with_relative_root_and_masks_writes_what_absolute_writes(
        tmp_path, monkeypatch, capsys, tiny_bundle) -> None:
    root, masks = write_world(tmp_path)
    absolute = scan_files([str(root), "--masks", str(masks)], tmp_path / "abs", tiny_bundle)
    monkeypatch.chdir(tmp_path / "work")
    relative = scan_files(["../data", "--masks", "../work/../masks"], tmp_path / "rel",
                          tiny_bundle)
    assert relative == absolute
    assert absolute["summary"]["folder"] == str(root)
    assert absolute["atlas"]["root"] == str(root)
    # the masks were found: three images judged, the fourth has none
    rows = [line.split(",") for line in absolute["csv"].splitlines()[1:]]
    assert sorted(row[0] for row in rows if row[6]) == ["cat/cat0.png", "cat/cat1.png",
                                                        "dog/dog0.png"]


def test_masks_import_with_relative_root_and_masks(tmp_path, monkeypatch, capsys) -> None:
    root, _ = write_world(tmp_path)
    labelme = tmp_path / "work" / "dog1.json"
    labelme.write_text(json.dumps({
        "imagePath": "../data/dog/dog1.png", "imageHeight": 40, "imageWidth": 48,
        "shapes": [{"label": "dog", "shape_type": "rectangle",
                    "points": [[4, 4], [20, 30]]}]}))
    monkeypatch.chdir(tmp_path / "work")
    assert main(["masks", "import", "dog1.json", "--format", "labelme", "--root", "../data",
                 "--masks", "./new-masks"]) == 0
    written = read_mask(tmp_path / "work" / "new-masks" / "dog" / "dog1.png.png")
    assert written.shape == (40, 48) and written[10, 10] and not written[35, 40]
    shutil.rmtree(tmp_path / "work" / "new-masks")
