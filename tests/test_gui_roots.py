"""The window on a folder spelled relatively (issue 17, item 3) and its account of the files
that are not images (item 4), with real mouse and keyboard events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from leakview.gui.image_list import MASK  # noqa: E402
from leakview.masks import rasterize_rectangle, read_mask, write_mask  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    drag,
    folder,
    image_point,
    image_template,
    key,
    make_window,
    saved_mask,
    settings,
    tiny_model,
    viewport_point,
    wait_layer,
)


def mask_cell(window, row: int) -> str:
    model = window.image_list.model
    return model.data(model.index(row, MASK))


def test_a_relative_folder_shows_its_masks_and_saves_drawn_ones_in_it(
        qtbot, make_window, folder, tiny_model, settings, monkeypatch) -> None:
    existing = np.zeros(IMAGE_SHAPE, bool)
    existing[10:30, 12:40] = True
    write_mask(folder / ".leakview" / "masks" / "cat" / "cat_1.png.png", existing)
    (folder.parent / "work").mkdir()
    monkeypatch.chdir(folder.parent / "work")
    window = make_window(Path("../work/../images"), tiny_model)
    wait_layer(qtbot, window, "saliency")
    assert window.state.root == folder
    assert settings.last_folder == str(folder)
    assert window.session.image.name == "cat/cat_0.png"
    qtbot.waitUntil(lambda: mask_cell(window, 1) == "✓", timeout=10000)
    assert mask_cell(window, 0) == ""

    # a mask drawn on the first image lands beside the existing one, in the folder's masks
    key(qtbot, window.canvas, Qt.Key.Key_R)
    start, end = viewport_point(window, 4, 5), viewport_point(window, 20, 17)
    drag(qtbot, window, start, end)
    drawn = rasterize_rectangle(*image_point(window, start), *image_point(window, end),
                                IMAGE_SHAPE)
    target = folder / ".leakview" / "masks" / "cat" / "cat_0.png.png"
    qtbot.waitUntil(lambda: saved_mask(window) is not None, timeout=5000)
    assert window.session.document.mask_file == target
    np.testing.assert_array_equal(read_mask(target), drawn)
    qtbot.waitUntil(lambda: mask_cell(window, 0) == "✓", timeout=10000)
    assert sorted(path.relative_to(folder).as_posix()
                  for path in folder.rglob("*.png.png")) == [
        ".leakview/masks/cat/cat_0.png.png", ".leakview/masks/cat/cat_1.png.png"]

    # the existing mask is the one shown for the second image
    key(qtbot, window.image_list.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.name == "cat/cat_1.png", timeout=10000)
    qtbot.waitUntil(lambda: window.session.document is not None
                    and window.session.document.mask_file
                    == folder / ".leakview" / "masks" / "cat" / "cat_1.png.png", timeout=10000)


def test_the_image_list_counts_the_files_that_are_not_images(qtbot, make_window, folder,
                                                            tiny_model) -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue")]
    frames[0].save(folder / "dog" / "moving.gif", save_all=True, append_images=frames[1:])
    (folder / "notes.txt").write_text("not an image")
    (folder / "cat" / "labels.csv").write_text("a,b\n")
    window = make_window(folder, tiny_model)
    assert window.image_list.model.rowCount() == 7
    assert [row.path.name for row in window.image_list.model.rows][-1] == "moving.gif"
    assert window.image_list.count.text() == ("7 images; 2 other files skipped · annotated 0 "
                                              "of 7")
    tip = window.image_list.count.toolTip()
    assert "cat/labels.csv" in tip and "notes.txt" in tip
