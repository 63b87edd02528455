"""Region kinds in the window, driven with real events: drawing a suspect region (K), its
file, canvas overlay and overlap-table row, one undo history per image, copying the previous
image's region (Ctrl+Shift+V), the "only without a mask" filter with its "annotated N of M"
count, and the suspect rule's spin box (saved in the settings)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from leakview.gui.inspector.overlap_table import SUSPECT_LABEL, fmt  # noqa: E402
from leakview.masks import (  # noqa: E402
    EXPECTED,
    SUSPECT,
    mask_path,
    rasterize_rectangle,
    read_mask,
    region_path,
    write_mask,
)
from leakview.scan import score_attribution  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    drag,
    folder,
    image_point,
    image_template,
    key,
    make_window,
    settings,
    tiny_model,
    viewport_point,
    wait_layer,
)

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def draw_rectangle(qtbot, window, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """R, then a real drag over image coordinates (x0, y0) -> (x1, y1); the pixels drawn."""
    key(qtbot, window.canvas, Qt.Key.Key_R)
    start, end = viewport_point(window, x0, y0), viewport_point(window, x1, y1)
    drag(qtbot, window, start, end)
    return rasterize_rectangle(*image_point(window, start), *image_point(window, end),
                               window.canvas.shape)


def file_mask(window, path) -> np.ndarray | None:
    window.store.flush()
    return read_mask(path) if path.is_file() else None


def wait_shown(qtbot, window, name: str) -> None:
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.name == name
                    and window.session.suspect_document is not None
                    and window.session.suspect_document.image_path == window.session.image.path,
                    timeout=15000)


def suspect_line(window) -> list[str] | None:
    """The overlap table's first suspect row's cells (None: it shows none)."""
    lines = [line for line in window.results.overlap.row_texts() if line[0] == SUSPECT_LABEL]
    return lines[0] if lines else None


def test_suspect_region_drawn_saved_shown_scored_and_undone(qtbot, make_window, folder,
                                                            tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window, "saliency")
    image = window.session.image.path
    expected_file = mask_path(folder, image)
    suspect_file = region_path(folder, image, SUSPECT)
    expected = draw_rectangle(qtbot, window, 30, 20, 60, 44)
    qtbot.waitUntil(lambda: file_mask(window, expected_file) is not None, timeout=5000)

    key(qtbot, window.canvas, Qt.Key.Key_K)
    assert window.state.region_kind == SUSPECT
    assert window.actions["region_suspect"].isChecked()
    assert not window.actions["region_expected"].isChecked()
    assert window.drawing.document is window.session.suspect_document
    suspect = draw_rectangle(qtbot, window, 2, 2, 20, 14)
    assert suspect.sum() > 50
    qtbot.waitUntil(lambda: file_mask(window, suspect_file) is not None, timeout=5000)
    np.testing.assert_array_equal(file_mask(window, suspect_file), suspect)
    np.testing.assert_array_equal(file_mask(window, expected_file), expected)  # untouched
    assert suspect_file.parent.parent.name == ".suspect"   # beside the masks, its own folder

    overlay = window.canvas.region_items[SUSPECT]
    assert overlay.isVisible()
    np.testing.assert_array_equal(overlay.image > 0, suspect)
    assert window.canvas.region_items[EXPECTED].isVisible()
    row = window.results.layers.suspect_row
    assert "Suspect" in row.visible.text()
    key(qtbot, window.canvas, Qt.Key.Key_M, SHIFT)           # Shift+M hides it (display only)
    assert not overlay.isVisible() and not row.visible.isChecked()
    assert window.canvas.region_items[EXPECTED].isVisible()
    key(qtbot, window.canvas, Qt.Key.Key_M, SHIFT)
    assert overlay.isVisible()

    # its row in the overlap table carries the core's numbers
    qtbot.waitUntil(lambda: suspect_line(window) is not None, timeout=10000)
    session = window.session
    core = score_attribution(session.image.name, session.label(), session.model.classes,
                             session.probabilities, "saliency",
                             session.attributions["saliency"], expected,
                             window.state.topk_fraction, window.state.rule, suspect=suspect)
    assert core.suspect_area_frac == pytest.approx(suspect.mean())
    for metric in ("suspect_area_frac", "suspect_mass", "suspect_topk_share", "suspect_flag"):
        assert window.results.overlap_value("saliency", metric) == pytest.approx(
            getattr(core, metric))
    line = suspect_line(window)
    assert line[1] == fmt(core.suspect_area_frac) and line[2] == fmt(core.suspect_mass)
    assert line[5] == fmt(core.suspect_topk_share)
    assert line[-1] == ("LEAK" if core.suspect_flag else "ok")
    assert window.results.overlap_value("saliency", "mass_in_mask") == pytest.approx(
        core.mass_in_mask)

    # one undo history per image: Ctrl+Z takes the suspect region away, then the mask
    assert window.actions["undo"].text().endswith("(suspect)")
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL)
    assert window.session.suspect_document.mask is None
    assert file_mask(window, suspect_file) is None
    np.testing.assert_array_equal(file_mask(window, expected_file), expected)
    assert not overlay.isVisible()
    qtbot.waitUntil(lambda: suspect_line(window) is None, timeout=10000)
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL)
    assert file_mask(window, expected_file) is None
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL | SHIFT)    # redo: the mask comes back
    np.testing.assert_array_equal(file_mask(window, expected_file), expected)

    # K again: the tools edit the expected region
    key(qtbot, window.canvas, Qt.Key.Key_K)
    assert window.state.region_kind == EXPECTED
    assert window.drawing.document is window.session.document


def test_suspect_region_is_read_back_when_the_image_is_shown_again(qtbot, make_window, folder):
    first = sorted(folder.glob("cat/*.png"))[0]
    stored = np.zeros(IMAGE_SHAPE, dtype=bool)
    stored[30:40, 5:25] = True
    write_mask(region_path(folder, first, SUSPECT), stored)
    window = make_window(folder)
    wait_shown(qtbot, window, "cat/cat_0.png")
    np.testing.assert_array_equal(window.session.suspect_document.mask, stored)
    np.testing.assert_array_equal(window.canvas.region_items[SUSPECT].image > 0, stored)
    assert window.session.document.mask is None      # the expected region is another file


def test_copy_previous_region_with_its_key(qtbot, make_window, folder):
    other = np.full((32, 40, 3), 90, dtype=np.uint8)
    Image.fromarray(other).save(folder / "dog" / "dog_9.png")     # last, another size
    window = make_window(folder)
    wait_shown(qtbot, window, "cat/cat_0.png")
    key(qtbot, window.canvas, Qt.Key.Key_V, CTRL | SHIFT)
    qtbot.waitUntil(lambda: "first image" in window.messages.text(), timeout=5000)

    drawn = draw_rectangle(qtbot, window, 5, 5, 30, 25)
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_shown(qtbot, window, "cat/cat_1.png")
    second = window.session.image.path
    key(qtbot, window.canvas, Qt.Key.Key_V, CTRL | SHIFT)
    qtbot.waitUntil(lambda: window.session.document.mask is not None, timeout=5000)
    np.testing.assert_array_equal(window.session.document.mask, drawn)
    np.testing.assert_array_equal(file_mask(window, mask_path(folder, second)), drawn)
    assert window.session.document.stack.count() == 1       # one undo step
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL)
    assert window.session.document.mask is None
    assert file_mask(window, mask_path(folder, second)) is None

    # the suspect kind copies the previous image's suspect region, which it has not
    key(qtbot, window.canvas, Qt.Key.Key_K)
    key(qtbot, window.canvas, Qt.Key.Key_V, CTRL | SHIFT)
    qtbot.waitUntil(lambda: "has no suspect region" in window.messages.text(), timeout=5000)
    assert window.session.suspect_document.mask is None
    key(qtbot, window.canvas, Qt.Key.Key_K)

    # another size: refused, nothing changes
    window.image_list.select_path(folder / "dog" / "dog_2.png")
    wait_shown(qtbot, window, "dog/dog_2.png")
    draw_rectangle(qtbot, window, 1, 1, 10, 10)
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_shown(qtbot, window, "dog/dog_9.png")
    key(qtbot, window.canvas, Qt.Key.Key_V, CTRL | SHIFT)
    qtbot.waitUntil(lambda: "but this image is 40×32" in window.messages.text(), timeout=5000)
    assert window.session.document.mask is None
    assert window.session.document.stack.count() == 0


def test_without_mask_filter_and_annotated_count(qtbot, make_window, folder):
    write_mask(mask_path(folder, folder / "dog" / "dog_1.png"), np.ones(IMAGE_SHAPE, bool))
    window = make_window(folder)
    wait_shown(qtbot, window, "cat/cat_0.png")
    images = window.image_list
    assert images.count.text() == "6 images · annotated 1 of 6"

    drawn = draw_rectangle(qtbot, window, 5, 5, 30, 25)
    assert drawn.any()
    qtbot.waitUntil(lambda: images.count.text() == "6 images · annotated 2 of 6", timeout=5000)

    box = images.without_mask
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    assert box.isChecked() and window.actions["filter_unannotated"].isChecked()
    listed = lambda: [images.proxy.index(row, 0).data() for row in  # noqa: E731
                      range(images.proxy.rowCount())]
    assert "cat/cat_0.png" in listed()           # on screen: stays until the user moves on
    assert "dog/dog_1.png" not in listed()
    assert images.count.text() == "5 of 6 images · annotated 2 of 6"
    window.canvas.setFocus()
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_shown(qtbot, window, "cat/cat_1.png")
    assert listed() == ["cat/cat_1.png", "cat/cat_2.png", "dog/dog_0.png", "dog/dog_2.png"]
    assert images.count.text() == "4 of 6 images · annotated 2 of 6"

    # clearing a mask counts too; the View menu's action turns the filter off
    images.select_path(folder / "dog" / "dog_1.png")       # hidden: cannot be selected
    assert window.session.image.name == "cat/cat_1.png"
    draw_rectangle(qtbot, window, 5, 5, 30, 25)
    qtbot.waitUntil(lambda: images.count.text().endswith("annotated 3 of 6"), timeout=5000)
    key(qtbot, window.canvas, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: images.count.text().endswith("annotated 2 of 6"), timeout=5000)
    window.actions["filter_unannotated"].trigger()
    assert not box.isChecked()
    assert images.count.text() == "6 images · annotated 2 of 6"


def _type_into(qtbot, box, value: float) -> None:
    """Click the spin box, select its text and type ``value`` (real key events)."""
    line = box.lineEdit()
    qtbot.mouseClick(line, Qt.MouseButton.LeftButton)
    QTest.keyClick(line, Qt.Key.Key_A, CTRL)
    QTest.keyClicks(line, f"{value:.2f}".replace(".", box.locale().decimalPoint()))
    QTest.keyClick(line, Qt.Key.Key_Return)


def test_suspect_rule_box_changes_the_flag_and_is_saved(qtbot, make_window, folder, tiny_model,
                                                       settings):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window, "saliency")
    key(qtbot, window.canvas, Qt.Key.Key_K)
    height, width = IMAGE_SHAPE
    draw_rectangle(qtbot, window, 0, 0, width - 1, height / 2)   # half the image: top-k in it
    qtbot.waitUntil(lambda: suspect_line(window) is not None, timeout=10000)
    share = window.results.overlap_value("saliency", "suspect_topk_share")
    assert share > 0 and not math.isnan(share)
    box = window.results.rule_boxes.max_suspect_share
    assert box.value() == pytest.approx(window.state.rule.max_suspect_share)

    _type_into(qtbot, box, 0.0)           # any share above 0 is flagged
    qtbot.waitUntil(lambda: window.results.overlap_value("saliency", "suspect_flag") == 1,
                    timeout=10000)
    assert suspect_line(window)[-1] == "LEAK"
    assert window.results.overlap_value("saliency", "leak_flag") == 1   # either rule flags
    _type_into(qtbot, box, 1.0)           # no share is above 1
    qtbot.waitUntil(lambda: window.results.overlap_value("saliency", "suspect_flag") == 0,
                    timeout=10000)
    assert suspect_line(window)[-1] == "ok"
    assert window.state.rule.max_suspect_share == pytest.approx(1.0)
    window.ask_before_quit = False
    window.close()

    again = make_window(folder, window_settings=settings)
    assert again.state.rule.max_suspect_share == pytest.approx(1.0)
    assert again.results.rule_boxes.max_suspect_share.value() == pytest.approx(1.0)
    assert settings.rule().max_suspect_share == pytest.approx(1.0)


def test_one_undo_history_per_image_survives_switching(qtbot, make_window, folder):
    window = make_window(folder)
    wait_shown(qtbot, window, "cat/cat_0.png")
    first = window.session.image.path
    expected = draw_rectangle(qtbot, window, 30, 20, 60, 44)
    key(qtbot, window.canvas, Qt.Key.Key_K)
    suspect = draw_rectangle(qtbot, window, 2, 2, 20, 14)
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_shown(qtbot, window, "cat/cat_1.png")
    assert window.session.suspect_document.mask is None
    assert not window.canvas.region_items[SUSPECT].isVisible()
    key(qtbot, window.canvas, Qt.Key.Key_A)
    wait_shown(qtbot, window, "cat/cat_0.png")
    np.testing.assert_array_equal(window.session.suspect_document.mask, suspect)
    assert window.drawing.document is window.session.suspect_document   # still suspect
    assert window.session.document.stack.count() == 2
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL)          # the newest edit: the suspect one
    assert window.session.suspect_document.mask is None
    np.testing.assert_array_equal(window.session.document.mask, expected)
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL | SHIFT)  # redo
    np.testing.assert_array_equal(window.session.suspect_document.mask, suspect)
    key(qtbot, window.canvas, Qt.Key.Key_Delete)           # clears the kind drawn only
    assert window.session.suspect_document.mask is None
    np.testing.assert_array_equal(window.session.document.mask, expected)
    key(qtbot, window.canvas, Qt.Key.Key_K)
    key(qtbot, window.canvas, Qt.Key.Key_Delete)
    assert window.session.document.mask is None
    assert file_mask(window, mask_path(folder, first)) is None
    assert file_mask(window, region_path(folder, first, SUSPECT)) is None


def test_region_names_lists_the_images_with_a_region_file(tmp_path):
    from leakview.layout import region_names

    root = tmp_path / "images"
    region = np.ones((4, 4), dtype=bool)
    write_mask(mask_path(root, root / "a" / "x.jpg"), region)
    write_mask(mask_path(root, root / "top.png"), region)
    write_mask(region_path(root, root / "a" / "y.jpg", SUSPECT), region)
    assert region_names(root) == {"a/x.jpg", "top.png"}
    assert region_names(root, SUSPECT) == {"a/y.jpg"}
    assert region_names(tmp_path / "nothing") == set()


def test_dragging_a_suspect_shapes_handle_leaves_the_expected_overlay_alone(
        qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window, "saliency")
    expected_before = window.session.document.mask
    key(qtbot, window.canvas, Qt.Key.Key_K)
    drawn = draw_rectangle(qtbot, window, 4, 4, 20, 16)
    qtbot.waitUntil(lambda: window.session.suspect_document.mask is not None, timeout=5000)
    np.testing.assert_array_equal(window.session.suspect_document.mask, drawn)
    corner = viewport_point(window, 20, 16)
    QTest.mousePress(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=corner)
    for step in range(1, 6):                  # the live preview while the handle moves
        QTest.mouseMove(window.canvas.viewport(), viewport_point(window, 20 + 2 * step, 16))
        expected_overlay = window.canvas.region_items[EXPECTED].image
        shown = (np.zeros(IMAGE_SHAPE, dtype=bool) if expected_overlay is None
                 else expected_overlay > 0)
        np.testing.assert_array_equal(
            shown, np.zeros(IMAGE_SHAPE, dtype=bool) if expected_before is None
            else expected_before)
    QTest.mouseRelease(window.canvas.viewport(), Qt.MouseButton.LeftButton,
                       pos=viewport_point(window, 30, 16))
    assert window.session.document.mask is expected_before or np.array_equal(
        window.session.document.mask, expected_before)
    suspect_overlay = window.canvas.region_items[SUSPECT].image
    assert suspect_overlay is not None and (suspect_overlay > 0).sum() > drawn.sum()
