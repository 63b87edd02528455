"""File > Import masks over hand-drawn masks (ask once: overwrite / skip / merge / cancel; one
undo step per image) and Clear mask (no file, no tick), with real mouse and keyboard events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QComboBox,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QPushButton,
)

from leakview.gui.image_list import MASK  # noqa: E402
from leakview.masks import coco_to_masks, mask_path, rasterize_rectangle, read_mask  # noqa: E402
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
)

CTRL = Qt.KeyboardModifier.ControlModifier
IMPORTED_BOX = (30, 20, 60, 44)            # x1, y1, x2, y2 of the annotation's rectangle


def labelme_folder(tmp_path: Path, names=("cat_0", "cat_1")) -> Path:
    """A LabelMe folder laid out like the image folder: one rectangle per image."""
    source = tmp_path / "labelme"
    (source / "cat").mkdir(parents=True)
    x1, y1, x2, y2 = IMPORTED_BOX
    for name in names:
        (source / "cat" / f"{name}.json").write_text(json.dumps({
            "imagePath": f"{name}.png", "imageHeight": IMAGE_SHAPE[0],
            "imageWidth": IMAGE_SHAPE[1],
            "shapes": [{"label": "cargo", "shape_type": "rectangle",
                        "points": [[x1, y1], [x2, y2]]}]}))
    return source


def imported_mask() -> np.ndarray:
    return rasterize_rectangle(*IMPORTED_BOX, IMAGE_SHAPE)


def shown_window(qtbot, make_window, folder):
    window = make_window(folder)
    qtbot.waitUntil(lambda: window.session.document is not None
                    and window.canvas.shape is not None, timeout=10000)
    return window


def draw_rectangle(qtbot, window) -> np.ndarray:
    """Drag a rectangle over the top-left of the image with the mouse; the saved mask."""
    key(qtbot, window.canvas, Qt.Key.Key_R)
    start, end = viewport_point(window, 4, 5), viewport_point(window, 20, 17)
    drag(qtbot, window, start, end)
    drawn = rasterize_rectangle(*image_point(window, start), *image_point(window, end),
                                IMAGE_SHAPE)
    qtbot.waitUntil(lambda: saved_mask(window) is not None, timeout=5000)
    np.testing.assert_array_equal(saved_mask(window), drawn)
    assert not (drawn & imported_mask()).any()
    return drawn


ERRORS: list[BaseException] = []


def when_modal(kind, act) -> None:
    """Call ``act(dialog)`` once a modal ``kind`` is open (polled: it may open in a nested
    event loop or after a job). A failing ``act`` rejects the dialog (so the test cannot hang
    on it) and is raised again by :func:`raise_dialog_errors`."""
    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if not (isinstance(dialog, kind) and dialog.isVisible()):
            QTimer.singleShot(20, poll)
            return
        try:
            act(dialog)
        except BaseException as error:
            ERRORS.append(error)
            dialog.reject()
    QTimer.singleShot(20, poll)


def raise_dialog_errors() -> None:
    if ERRORS:
        error = ERRORS[0]
        ERRORS.clear()
        raise error


def click_button(qtbot, dialog, text: str) -> None:
    button = next(b for b in dialog.findChildren(QPushButton)
                  if b.text().replace("&", "") == text and b.isVisible())
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def import_through_the_menu(qtbot, window, source: Path, answer: str | None,
                            fmt: str = "labelme") -> str | None:
    """File > Import masks with real clicks and keys: ``fmt`` in the format dialog,
    ``source`` in the file dialog and ``answer`` on the existing-masks question (None: expect
    no question); the question's text."""
    def choose_format(dialog: QInputDialog) -> None:
        assert dialog.comboBoxItems() == ["labelme", "coco"]
        if fmt == "coco":
            combo = dialog.findChild(QComboBox)
            combo.setFocus()
            key(qtbot, combo, Qt.Key.Key_Down)
        assert dialog.textValue() == fmt
        when_modal(QFileDialog, choose_source)
        click_button(qtbot, dialog, "OK")

    def choose_source(dialog: QFileDialog) -> None:
        if fmt == "coco":
            assert dialog.fileMode() == QFileDialog.FileMode.ExistingFile
            # (typing the path races the file-name completer on a busy machine)
            dialog.setDirectory(str(source.parent))
            dialog.selectFile(source.name)
            qtbot.waitUntil(lambda: dialog.selectedFiles() == [str(source)], timeout=10000)
        else:
            assert dialog.fileMode() == QFileDialog.FileMode.Directory
            dialog.setDirectory(str(source))
        dialog.accept()

    when_modal(QInputDialog, choose_format)
    bar, menu = window.menuBar(), window.menus["&File"]
    title = bar.actionGeometry(menu.menuAction()).center()
    qtbot.mouseMove(bar, title)     # (a menu ignores a pointer that has not left this spot)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=title)
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    item = menu.actionGeometry(window.actions["import_masks"]).center()
    qtbot.mouseMove(menu, item)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=item)
    raise_dialog_errors()
    if answer is None:
        return None
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), QMessageBox),
                    timeout=10000)
    box = QApplication.activeModalWidget()
    text = box.text()
    click_button(qtbot, box, answer)
    return text


def wait_imported(qtbot, window) -> None:
    qtbot.waitUntil(lambda: "written" in window.messages.text()
                    or "cancelled" in window.messages.text(), timeout=10000)
    window.store.flush()


def mask_on_disk(folder: Path, name: str) -> np.ndarray | None:
    path = mask_path(folder, name)
    return read_mask(path) if path.is_file() else None


def tick(window, row: int = 0) -> str:
    model = window.image_list.model
    return model.data(model.index(row, MASK), Qt.ItemDataRole.DisplayRole)


def back_to_the_window(qtbot, window) -> None:
    """Where a user's Ctrl+Z goes after a dialog: the window, active again."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def undo(qtbot, window) -> None:
    back_to_the_window(qtbot, window)
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL)
    window.store.flush()


def test_import_skip_keeps_the_drawn_mask(qtbot, make_window, folder, tmp_path):
    window = shown_window(qtbot, make_window, folder)
    drawn = draw_rectangle(qtbot, window)
    question = import_through_the_menu(qtbot, window, labelme_folder(tmp_path),
                                       "Skip images that have a mask")
    assert question.startswith("1 of the 2 images this import covers already has one")
    wait_imported(qtbot, window)
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), drawn)
    np.testing.assert_array_equal(window.session.document.mask, drawn)
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_1.png"), imported_mask())
    assert "written 1 mask" in window.messages.text()
    assert tick(window, 1) == "✓"


def test_import_cancel_writes_nothing(qtbot, make_window, folder, tmp_path):
    window = shown_window(qtbot, make_window, folder)
    drawn = draw_rectangle(qtbot, window)
    import_through_the_menu(qtbot, window, labelme_folder(tmp_path), "Cancel")
    wait_imported(qtbot, window)
    assert "cancelled" in window.messages.text()
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), drawn)
    assert mask_on_disk(folder, "cat/cat_1.png") is None


def test_import_overwrite_then_ctrl_z_brings_the_drawn_mask_back(qtbot, make_window, folder,
                                                                 tmp_path):
    window = shown_window(qtbot, make_window, folder)
    drawn = draw_rectangle(qtbot, window)
    import_through_the_menu(qtbot, window, labelme_folder(tmp_path), "Overwrite")
    wait_imported(qtbot, window)
    imported = imported_mask()
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), imported)
    np.testing.assert_array_equal(window.session.document.mask, imported)
    assert "replacing 1 existing" in window.messages.text()

    undo(qtbot, window)                          # the import of this image, undone
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), drawn)
    np.testing.assert_array_equal(window.session.document.mask, drawn)
    undo(qtbot, window)                          # then the drawing itself
    assert mask_on_disk(folder, "cat/cat_0.png") is None
    key(qtbot, window.canvas, Qt.Key.Key_Y, CTRL)
    key(qtbot, window.canvas, Qt.Key.Key_Y, CTRL)
    window.store.flush()
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), imported)


def coco_file(tmp_path: Path) -> Path:
    """A COCO instances file with a polygon on ``cat/cat_0.png``."""
    x1, y1, x2, y2 = IMPORTED_BOX
    path = tmp_path / "coco" / "instances.json"
    path.parent.mkdir()
    path.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "cat/cat_0.png", "height": IMAGE_SHAPE[0],
                    "width": IMAGE_SHAPE[1]}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1,
                         "segmentation": [[x1, y1, x2, y1, x2, y2, x1, y2]]}],
        "categories": [{"id": 1, "name": "cargo"}]}))
    return path


def test_import_coco_merge_gives_the_union(qtbot, make_window, folder, tmp_path):
    window = shown_window(qtbot, make_window, folder)
    drawn = draw_rectangle(qtbot, window)
    source = coco_file(tmp_path)
    question = import_through_the_menu(qtbot, window, source, "Merge (union)", fmt="coco")
    assert question == ("The image this import covers already has a mask (drawn here or "
                        "imported before).")
    wait_imported(qtbot, window)
    imported = coco_to_masks(source)["cat/cat_0.png"]
    assert imported.sum() > 500 and not (imported & drawn).any()
    union = drawn | imported
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), union)
    np.testing.assert_array_equal(window.session.document.mask, union)
    assert "merged into 1 existing" in window.messages.text()
    undo(qtbot, window)
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), drawn)
    np.testing.assert_array_equal(window.session.document.mask, drawn)


def show(qtbot, window, step_key, name: str) -> None:
    back_to_the_window(qtbot, window)
    key(qtbot, window.canvas, step_key)
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.name == name
                    and window.session.document.image_path.name == Path(name).name,
                    timeout=10000)


def test_import_undo_on_an_image_whose_document_was_dropped(qtbot, make_window, folder,
                                                           tmp_path):
    """An image the import changed while it had no document (never shown, or dropped by the
    bound) gets its undo step when it is shown: Ctrl+Z there restores its drawn mask."""
    window = shown_window(qtbot, make_window, folder)
    documents = window.session.documents
    documents.limit = 1                              # so that paging drops documents
    show(qtbot, window, Qt.Key.Key_D, "cat/cat_1.png")
    drawn = draw_rectangle(qtbot, window)
    show(qtbot, window, Qt.Key.Key_D, "cat/cat_2.png")
    show(qtbot, window, Qt.Key.Key_D, "dog/dog_0.png")
    assert "cat_1.png" not in [d.image_path.name for d in documents.values()]   # dropped
    import_through_the_menu(qtbot, window, labelme_folder(tmp_path, names=("cat_1",)),
                            "Overwrite")
    wait_imported(qtbot, window)
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_1.png"), imported_mask())
    assert len(documents) == 2                   # no document was made for the import
    show(qtbot, window, Qt.Key.Key_A, "cat/cat_2.png")
    show(qtbot, window, Qt.Key.Key_A, "cat/cat_1.png")
    np.testing.assert_array_equal(window.session.document.mask, imported_mask())
    undo(qtbot, window)
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_1.png"), drawn)
    np.testing.assert_array_equal(window.session.document.mask, drawn)


def test_clear_mask_removes_the_file_and_the_tick(qtbot, make_window, folder):
    window = shown_window(qtbot, make_window, folder)
    drawn = draw_rectangle(qtbot, window)
    assert tick(window) == "✓"
    key(qtbot, window.canvas, Qt.Key.Key_Delete)     # Clear mask
    window.store.flush()
    assert not mask_path(folder, "cat/cat_0.png").exists()
    assert window.session.document.mask is None
    assert tick(window) == ""
    undo(qtbot, window)
    np.testing.assert_array_equal(mask_on_disk(folder, "cat/cat_0.png"), drawn)
    assert tick(window) == "✓"


def test_no_question_when_no_image_has_a_mask(qtbot, make_window, folder, tmp_path):
    window = shown_window(qtbot, make_window, folder)
    import_through_the_menu(qtbot, window, labelme_folder(tmp_path), None)
    wait_imported(qtbot, window)
    assert "written 2 masks" in window.messages.text()
    np.testing.assert_array_equal(window.session.document.mask, imported_mask())
    assert tick(window) == "✓"
    undo(qtbot, window)                          # the import's step removes the new file
    assert mask_on_disk(folder, "cat/cat_0.png") is None
    assert tick(window) == ""
