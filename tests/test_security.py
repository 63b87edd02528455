"""Security: pickled code in a model file never runs, annotation paths never escape the chosen
roots, and CSV cells never run as spreadsheet formulas (end to end through ``leakview scan``)."""

from __future__ import annotations

import csv
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leakview.masks import import_masks, mask_path

CLASSES = ("cat", "dog")


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: stands for any code a checkpoint could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _images(root: Path, per_class: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(
                root / label / f"{index}.png")
    return root


@pytest.fixture(params=["bundle-zip", "bundle-zip-protocol-4", "bundle-legacy",
                        "plain-pickle"])
def evil_model(request, tmp_path: Path) -> tuple[Path, Path]:
    """A checkpoint that creates ``marker`` when unpickled (four container formats)."""
    from leakview.models import build_architecture

    marker = tmp_path / "PWNED"
    module = build_architecture("mobilenet_v3_small", 2, (32, 32))
    bundle = {"format": "leakview-model/1", "arch": "mobilenet_v3_small",
              "classes": list(CLASSES), "input_size": [32, 32], "mean": [0.5] * 3,
              "std": [0.25] * 3, "state_dict": module.state_dict(), "note": _RunsCode(marker)}
    path = tmp_path / "evil.pt"
    if request.param == "bundle-zip":
        torch.save(bundle, path)
    elif request.param == "bundle-zip-protocol-4":
        torch.save(bundle, path, pickle_protocol=4)
    elif request.param == "bundle-legacy":
        torch.save(bundle, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(_RunsCode(marker)))
    assert not marker.exists()
    return path, marker


def test_the_payload_is_real(tmp_path: Path) -> None:
    """Sanity: full unpickling of such a file does create the marker."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_RunsCode(marker)))
    assert marker.exists()


def test_load_model_refuses_pickled_code(evil_model) -> None:
    from leakview.models import ModelLoadError, load_model

    path, marker = evil_model
    with pytest.raises(ModelLoadError) as caught:
        load_model(path, device="cpu")
    assert "never runs pickled code" in caught.value.reason
    assert not marker.exists()


def test_cli_info_scan_and_train_refuse_pickled_code(evil_model, tmp_path: Path,
                                                     capsys) -> None:
    from leakview.cli import main

    path, marker = evil_model
    data = _images(tmp_path / "data")
    assert main(["info", str(path), "--device", "cpu"]) == 1
    assert main(["scan", str(data), "--model", str(path), "--csv", str(tmp_path / "o.csv"),
                 "--device", "cpu"]) == 1
    assert main(["train", str(data), "--init", str(path), "--out", str(tmp_path / "m.pt"),
                 "--epochs", "1", "--device", "cpu", "--batch-size", "2",
                 "--input-size", "32", "32"]) == 1
    errors = capsys.readouterr().err
    assert errors.count(str(path)) >= 3, errors
    assert not marker.exists()
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "m.pt").exists()


def test_gui_open_model_refuses_pickled_code(qtbot, evil_model, tmp_path: Path) -> None:
    pytest.importorskip("pytestqt")
    from leakview.gui.main_window import MainWindow
    from leakview.gui.settings import AppSettings, open_settings

    path, marker = evil_model
    window = MainWindow(folder=_images(tmp_path / "data"),
                        settings=AppSettings(open_settings(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.open_model(str(path))            # what File > Open model and the model menu call
    qtbot.waitUntil(lambda: "Cannot load model" in window.messages.text(), timeout=15000)
    assert window.session.model is None
    assert not marker.exists()
    window.close()


# =============================================================================================
# Annotation paths never escape the roots (tests/test_masks.py has ../, absolute paths and a
# symlinked image; these add a symlinked folder, mask_path itself and the masks root)
# =============================================================================================

def _labelme(image_path: str) -> dict:
    return {"imagePath": image_path, "imageHeight": 4, "imageWidth": 5,
            "shapes": [{"label": "a", "shape_type": "rectangle", "points": [[1, 1], [2, 2]]}]}


def _tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "images"
    outside = tmp_path / "outside"
    for folder in (root, outside):
        folder.mkdir()
        Image.new("RGB", (5, 4)).save(folder / "img.png")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    ann = tmp_path / "ann"
    ann.mkdir()
    return root, outside, ann


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*")}


def test_symlinked_folder_in_the_root_is_not_a_way_out(tmp_path: Path) -> None:
    root, outside, ann = _tree(tmp_path)
    before = _files(outside)
    (ann / "a.json").write_text(json.dumps(_labelme("../images/linked/img.png")))
    (ann / "coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "linked/img.png", "height": 4, "width": 5}],
        "annotations": [{"image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}))
    report = import_masks(ann / "a.json", "labelme", root)
    assert not report.written and "outside the image root" in report.skipped[0][1]
    report = import_masks(ann / "coco.json", "coco", root)
    # The COCO fallback may pair the annotation with root/img.png (same base name, inside);
    # it never uses the linked copy outside.
    assert all("linked" not in str(path) for path in report.written)
    assert _files(outside) == before


def test_symlinked_masks_folder_is_not_a_way_out(tmp_path: Path) -> None:
    """Regression: a ``.leakview`` symlink shipped inside the image folder made import_masks
    write the mask PNGs wherever it pointed."""
    root, outside, ann = _tree(tmp_path)
    (root / ".leakview").symlink_to(outside, target_is_directory=True)
    (ann / "img.json").write_text(json.dumps(_labelme("../images/img.png")))
    before = _files(outside)
    report = import_masks(ann, "labelme", root)
    assert report.written == [] and "symbolic link" in report.skipped[0][1]
    assert _files(outside) == before
    # The same with an explicit masks root whose sub-folder is a link out of it.
    masks = tmp_path / "masks"
    masks.mkdir()
    (root / "sub").mkdir()
    Image.new("RGB", (5, 4)).save(root / "sub" / "img.png")
    (masks / "sub").symlink_to(outside, target_is_directory=True)
    (ann / "img.json").write_text(json.dumps(_labelme("../images/sub/img.png")))
    report = import_masks(ann, "labelme", root, masks_root=masks)
    assert report.written == [] and "symbolic link" in report.skipped[0][1]
    assert _files(outside) == before
    # An ordinary masks root still works.
    (masks / "sub").unlink()
    report = import_masks(ann, "labelme", root, masks_root=masks)
    assert report.written == ["sub/img.png"] and (masks / "sub" / "img.png.png").is_file()


def test_gui_mask_save_refuses_a_symlinked_leakview(qtbot, tmp_path: Path) -> None:
    """The app's autosave checks the destination like the import does: a ``.leakview`` link
    shipped with the data set makes it refuse (message in the window), never write or delete
    through the link; the drawn mask stays in the session."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from leakview.gui.main_window import MainWindow
    from leakview.gui.settings import AppSettings, open_settings
    from test_gui_support import drag, viewport_point

    root = _images(tmp_path / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / ".leakview").symlink_to(outside, target_is_directory=True)
    window = MainWindow(folder=root,
                        settings=AppSettings(open_settings(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    session = window.session
    qtbot.waitUntil(lambda: session.document is not None, timeout=15000)
    first = session.document.image_path

    qtbot.keyClick(window.canvas, Qt.Key.Key_R)
    drag(qtbot, window, viewport_point(window, 3, 3), viewport_point(window, 20, 15))
    qtbot.waitUntil(lambda: "Cannot save mask" in window.messages.text(), timeout=10000)
    text = window.messages.text()
    assert "symbolic link" in text and "outside the image root" in text, text
    window.store.flush()
    assert _files(outside) == set()
    drawn = session.document.mask
    assert drawn is not None and drawn.any()

    # Undo back to "no mask" would remove the file: refused too, even once a file is there.
    target = outside / "masks" / "cat" / "0.png.png"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not yours")
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.document.mask is None
    window.store.flush()
    assert target.read_bytes() == b"not yours"

    # Redo, step away and back: the unsaved mask is still shown (kept in memory, not lost).
    qtbot.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: session.image is not None and session.image.path != first,
                    timeout=15000)
    qtbot.keyClick(window.canvas, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: session.image is not None and session.image.path == first
                    and session.document is not None
                    and session.document.image_path == first, timeout=15000)
    np.testing.assert_array_equal(session.document.mask, drawn)
    assert target.read_bytes() == b"not yours"
    window.close()


@pytest.mark.parametrize("image", ["../x.png", "a/../../x.png", "/etc/passwd", "..", "a/.."])
def test_mask_path_refuses_escapes(tmp_path: Path, image: str) -> None:
    with pytest.raises(ValueError):
        mask_path(tmp_path / "images", image)
    with pytest.raises(ValueError):
        mask_path(tmp_path / "images", image, masks_root=tmp_path / "masks")


def test_mask_path_stays_under_the_masks_root(tmp_path: Path) -> None:
    root = tmp_path / "images"
    for image, masks_root in [("a/b.jpg", None), (root / "a" / "b.jpg", tmp_path / "m"),
                              ("=x.png", tmp_path / "m"), ("ünï code/ x.png", None)]:
        path = mask_path(root, image, masks_root)
        base = masks_root or root / ".leakview" / "masks"
        assert base in path.parents and ".." not in path.parts


def test_absolute_and_parent_image_paths_fall_back_inside(tmp_path: Path) -> None:
    root, outside, ann = _tree(tmp_path)
    before = {path: path.read_bytes() for path in outside.iterdir()}
    (ann / "img.json").write_text(json.dumps(_labelme(str(outside / "img.png"))))
    report = import_masks(ann, "labelme", root)
    # Refused as a path, then paired by stem with the image INSIDE the root.
    assert report.written == ["img.png"] and mask_path(root, "img.png").is_file()
    assert {path: path.read_bytes() for path in outside.iterdir()} == before


# =============================================================================================
# CSV formula injection, end to end
# =============================================================================================

def test_scan_csv_neutralises_formula_file_names(tmp_path: Path) -> None:
    from leakview.cli import main
    from leakview.models import build_architecture, save_bundle

    root = tmp_path / "images"
    names = ["=HYPERLINK(\"http:x\").png", "+1+2.png", "-2+3+cmd.png", "@SUM(A1).png",
             "\tTAB.png", "ok.png"]
    folder = root / "cat"
    folder.mkdir(parents=True)
    for name in names:
        Image.new("RGB", (8, 8), (200, 10, 10)).save(folder / name, format="PNG")
    (root / "=evil").mkdir()
    (root / "=evil" / "x.png").write_bytes(b"not an image")      # error row, formula folder
    model = tmp_path / "tiny.pt"
    save_bundle(model, build_architecture("mobilenet_v3_small", 2, (32, 32)),
                "mobilenet_v3_small", CLASSES, (32, 32))
    out = tmp_path / "out.csv"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["scan", str(root), "--model", str(model), "--csv", str(out),
                     "--device", "cpu"]) == 0
    finally:
        torch.set_num_threads(threads)
    with open(out, encoding="utf-8", newline="") as stream:
        grid = list(csv.reader(stream))
    cells = {row[0] for row in grid[1:]}
    # Only a cell's first character matters: "cat/=..." is safe as it is.
    assert cells == {"'=evil/x.png", *(f"cat/{name}" for name in names)}
    root_level = tmp_path / "flat"
    root_level.mkdir()
    for name in names:
        shutil.copy(folder / name, root_level / name)
    out = tmp_path / "flat.csv"
    torch.set_num_threads(1)
    try:
        assert main(["scan", str(root_level), "--model", str(model), "--csv", str(out),
                     "--device", "cpu"]) == 0
    finally:
        torch.set_num_threads(threads)
    with open(out, encoding="utf-8", newline="") as stream:
        flat = list(csv.reader(stream))
    assert {row[0] for row in flat[1:]} == {
        ("'" + name) if name[0] in "=+-@\t" else name for name in names}
    grid += flat[1:]
    for row in grid[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
