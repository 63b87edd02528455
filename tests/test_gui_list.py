"""The image list and the folder panel as a QA engineer reads them: the folder verdict says how
many images it rests on, a badge shows one metric (the one the leak rule judges) coloured by
that same value, and twin names (hd_ / vga_) stay distinguishable in a narrow list."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem  # noqa: E402

from leakview.masks import mask_path, write_mask  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    folder,
    image_template,
    make_window,
    settings,
    tiny_model,
    wait_layer,
)


def _mask(folder: Path, name: str, rows: slice, cols: slice) -> None:
    mask = np.zeros(IMAGE_SHAPE, dtype=bool)
    mask[rows, cols] = True
    write_mask(mask_path(folder, folder / name), mask)


def _analyze_by_click(qtbot, window) -> dict:
    QTest.mouseClick(window.folder_panel.analyze, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=60000)
    assert window.analysis.complete
    return window.analysis.summary


def test_coverage_boxes_rejudge_the_folder_and_are_saved(qtbot, make_window, folder,
                                                         tiny_model, settings):
    """The inspector's coverage boxes set the rule's min_judged / min_judged_share (typed
    with real keys): the analysed folder is re-judged at once and the values come back in a
    new window; the other thresholds are untouched."""
    _mask(folder, "cat/cat_0.png", slice(5, 30), slice(5, 40))
    _mask(folder, "dog/dog_1.png", slice(10, 40), slice(20, 60))
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("saliency",))
    _analyze_by_click(qtbot, window)
    assert "too few, needs 5" in window.folder_panel.verdict.text()
    boxes = window.results.rule_boxes
    for box, value in ((boxes.min_judged, "2"), (boxes.min_judged_share, "30")):
        box.setFocus()
        box.selectAll()
        QTest.keyClicks(box, value)
        QTest.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state.rule.min_judged_share == 0.3)
    assert window.state.rule.min_judged == 2
    assert (window.state.rule.min_topk_share, window.state.rule.max_flag_rate) == (0.2, 0.5)
    # needed = max(2, ceil(0.3 * 6)) = 2: the same rows now rest on enough images
    qtbot.waitUntil(lambda: window.folder_panel.verdict.text().endswith("(judged 2 of 6)"))
    window.close()
    again = make_window(folder, tiny_model, window_settings=settings)
    assert (again.state.rule.min_judged, again.state.rule.min_judged_share) == (2, 0.3)
    assert again.results.rule_boxes.min_judged_share.value() == 30


def test_folder_panel_says_judged_n_of_m_and_too_few(qtbot, make_window, folder, tiny_model):
    """2 masked images of 6: the verdict says so, and an ok from them is not shown green."""
    _mask(folder, "cat/cat_0.png", slice(5, 30), slice(5, 40))
    _mask(folder, "dog/dog_1.png", slice(10, 40), slice(20, 60))
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("saliency",))
    summary = _analyze_by_click(qtbot, window)
    text = window.folder_panel.verdict.text()
    verdict = summary["verdict"].upper()
    assert text == f"Verdict: {verdict} (judged 2 of 6: too few, needs 5)", text
    assert "saliency</b>: judged 2 of 6: too few, needs 5" in window.folder_panel.details.text()
    assert "a verdict needs ≥ max(5, 50%) of the images judged" in \
        window.folder_panel.details.text()
    assert "too few images" in window.folder_panel.verdict.toolTip()
    style = window.folder_panel.verdict.styleSheet()
    assert "#2e7d32" not in style                    # never the green of a trusted ok
    judged_column = [window.folder_panel.table.horizontalHeaderItem(column).text()
                     for column in range(window.folder_panel.table.columnCount())]
    assert "judged" in judged_column

    # more masks: the same panel, now enough judged images
    for name in ("cat/cat_1.png", "cat/cat_2.png", "dog/dog_0.png", "dog/dog_2.png"):
        _mask(folder, name, slice(5, 30), slice(5, 40))
    summary = _analyze_by_click(qtbot, window)
    qtbot.waitUntil(lambda: "judged 6 of 6)" in window.folder_panel.verdict.text())
    assert "too few" not in window.folder_panel.verdict.text()


def test_badge_shows_the_judged_metric_coloured_by_that_value(qtbot, make_window, folder,
                                                              tiny_model):
    from leakview.gui.image_list import BADGE, LEAK_BG, OK_BG
    from leakview.verdict import VerdictRule

    # masks of different sizes (the threshold scales down for masks under 5% of the image)
    _mask(folder, "cat/cat_0.png", slice(0, 24), slice(0, 32))
    _mask(folder, "cat/cat_1.png", slice(24, 48), slice(32, 64))
    _mask(folder, "cat/cat_2.png", slice(20, 24), slice(30, 34))    # 0.5% of the image
    _mask(folder, "dog/dog_0.png", slice(0, 48), slice(0, 20))
    _mask(folder, "dog/dog_1.png", slice(10, 14), slice(50, 56))
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("saliency",))
    _analyze_by_click(qtbot, window)
    rows = {row["image"]: row for row in window.analysis.rows if row["method"] == "saliency"}
    model = window.image_list.model

    def check() -> set[bool]:
        colours = set()
        for number, listed in enumerate(model.rows):
            row = rows[listed.name]
            index = model.index(number, BADGE)
            text = index.data(Qt.ItemDataRole.DisplayRole)
            tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
            if math.isnan(row["topk_intersection"]):
                assert text == "–"
                continue
            leak = row["leak_flag"] == 1
            assert text == f"{row['topk_intersection']:.2f}" + (" LEAK" if leak else "")
            background = index.data(Qt.ItemDataRole.BackgroundRole)
            assert background == (LEAK_BG if leak else OK_BG), listed.name
            assert "topk_intersection" in tooltip and f"{row['topk_intersection']:.2f}" in tooltip
            colours.add(leak)
        return colours

    assert check()
    header_tip = model.headerData(BADGE, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "topk_intersection" in header_tip and "mass_in_mask" not in header_tip
    # a stricter rule typed in the window: flags and badge colours follow the same value
    window.state.rule = VerdictRule(min_topk_share=1.0)
    rows = {row["image"]: row for row in window.analysis.rows if row["method"] == "saliency"}
    assert True in check()


TWINS = ("corn/hd_truck_0001.jpg", "corn/vga_truck_0001.jpg",
         "wheat/north_field_2024/hd_truck_000123_left.jpg",
         "wheat/north_field_2024/vga_truck_000123_left.jpg")


def _shown_name(view, row: int) -> str:
    """The text the view paints in the Name cell of ``row``: the delegate's text, elided the
    way QCommonStyle elides it (text rectangle less a margin each side, the view's mode)."""
    index = view.model().index(row, 0)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = view.visualRect(index)
    view.itemDelegateForIndex(index).initStyleOption(option, index)
    style = view.style()
    rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, view)
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    return option.fontMetrics.elidedText(option.text, option.textElideMode,
                                         rect.width() - 2 * margin)


@pytest.fixture
def twin_list(qtbot, tmp_path):
    from leakview.appstate import AppState
    from leakview.gui.image_list import ImageList
    from leakview.layout import discover_images

    root = tmp_path / "twins"
    for name in TWINS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 12), (90, 120, 60)).save(root / name)
    state = AppState(root=root)
    widget = ImageList(state)
    widget.set_images(discover_images(root))
    qtbot.addWidget(widget)
    widget.resize(260, 300)     # a narrow list: the other columns take most of it
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.mark.parametrize("list_width", [360, 300, 260])
def test_twin_names_stay_distinguishable_in_a_narrow_list(qtbot, twin_list, list_width):
    twin_list.resize(list_width, 300)
    view = twin_list.view
    qtbot.waitUntil(lambda: view.viewport().width() <= list_width - 10)
    names = [twin_list.proxy.index(row, 0).data() for row in range(len(TWINS))]
    assert sorted(names) == sorted(TWINS)
    name_width = view.columnWidth(0)
    metrics = view.fontMetrics()
    assert metrics.horizontalAdvance(TWINS[0]) > name_width - 10   # it has to be elided
    shown = [_shown_name(view, row) for row in range(len(TWINS))]
    assert len(set(shown)) == len(shown), shown
    # the folder part goes first: where the file name fits, it is shown whole
    for text, name in zip(shown, names):
        file_name = name.rsplit("/", 1)[1]
        if metrics.horizontalAdvance("…/" + file_name) <= name_width - 10:
            assert text.endswith("/" + file_name), text
        assert view.model().index(names.index(name), 0).data(
            Qt.ItemDataRole.ToolTipRole) == name              # the whole name in the tooltip


def test_name_column_can_be_widened_by_dragging_its_edge(qtbot, twin_list):
    view = twin_list.view
    header = view.horizontalHeader()
    before = view.columnWidth(0)
    edge = header.sectionViewportPosition(0) + header.sectionSize(0) - 1
    y = header.height() // 2
    QTest.mousePress(header.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, QPoint(edge, y))
    for step in range(1, 6):
        QTest.mouseMove(header.viewport(), QPoint(edge + 30 * step, y))
    QTest.mouseRelease(header.viewport(), Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier, QPoint(edge + 150, y))
    qtbot.waitUntil(lambda: view.columnWidth(0) >= before + 100)
    widened = view.columnWidth(0)
    twin_list.resize(300, 300)      # the width the user chose is kept (the list scrolls)
    qtbot.waitUntil(lambda: twin_list.width() == 300)
    assert view.columnWidth(0) == widened
    shown = [_shown_name(view, row) for row in range(len(TWINS))]
    assert "corn/hd_truck_0001.jpg" in shown


def test_elide_name_drops_whole_folders_outermost_first(qtbot, twin_list):
    from leakview.gui.image_list import elide_name

    metrics = twin_list.view.fontMetrics()
    name = "wheat/north_field_2024/hd_truck_000123_left.jpg"
    assert elide_name(name, metrics, metrics.horizontalAdvance(name)) == name
    nearest = "…/north_field_2024/hd_truck_000123_left.jpg"
    assert elide_name(name, metrics, metrics.horizontalAdvance(nearest)) == nearest
    only_file = "…/hd_truck_000123_left.jpg"
    assert elide_name(name, metrics, metrics.horizontalAdvance(only_file) + 2) == only_file
    cut = elide_name(name, metrics, 70)
    assert cut.startswith("hd") and cut.endswith("left") and metrics.horizontalAdvance(cut) <= 70
    assert elide_name(name, metrics, 0) == name


def test_badge_follows_the_suspect_rule_too(qtbot, make_window, folder, tiny_model):
    """An image flagged only by its suspect region is LEAK in the list, as in the CSV."""
    from dataclasses import replace

    from leakview.gui.image_list import BADGE, LEAK_BG
    from leakview.masks import SUSPECT, region_path

    for name in ("cat/cat_0.png", "cat/cat_1.png", "dog/dog_0.png"):
        region = np.zeros(IMAGE_SHAPE, dtype=bool)
        region[0:12, 0:16] = True
        write_mask(region_path(folder, name, SUSPECT), region)
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("saliency",))
    _analyze_by_click(qtbot, window)
    window.state.rule = replace(window.state.rule, max_suspect_share=0.0)  # any share flags
    model = window.image_list.model
    rows = {row["image"]: row for row in window.analysis.rows if row["method"] == "saliency"}
    flagged = [name for name, row in rows.items() if row["suspect_flag"] == 1]
    assert flagged
    for number, listed in enumerate(model.rows):
        index = model.index(number, BADGE)
        if listed.name in flagged:
            assert index.data(Qt.ItemDataRole.DisplayRole).endswith("LEAK"), listed.name
            assert index.data(Qt.ItemDataRole.BackgroundRole) == LEAK_BG
            assert "suspect region" in index.data(Qt.ItemDataRole.ToolTipRole)
