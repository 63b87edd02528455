"""The desktop app, driven with real mouse and keyboard events (pytest-qt, offscreen)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from leakview.masks import rasterize_polygon, rasterize_rectangle, read_mask, write_mask  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    CLASSES,
    IMAGE_SHAPE,
    click,
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


def overlap_area(window, method="saliency"):
    value = window.results.overlap_value(method, "mask_area_frac")
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def test_open_folder_draw_rectangle_polygon_undo_redo(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window, "saliency")
    assert window.image_list.model.rowCount() == 6
    assert window.session.image.name == "cat/cat_0.png"
    assert window.results.top5_text()[0][0] in CLASSES
    shape = IMAGE_SHAPE
    canvas = window.canvas

    key(qtbot, canvas, Qt.Key.Key_R)
    assert window.drawing.tool.value == "rectangle"
    start, end = viewport_point(window, 4, 5), viewport_point(window, 20, 17)
    drag(qtbot, window, start, end)
    rectangle = rasterize_rectangle(*image_point(window, start), *image_point(window, end), shape)
    assert rectangle.sum() > 50
    qtbot.waitUntil(lambda: saved_mask(window) is not None, timeout=5000)
    np.testing.assert_array_equal(saved_mask(window), rectangle)
    qtbot.waitUntil(lambda: overlap_area(window) == pytest.approx(rectangle.mean()),
                    timeout=10000)

    key(qtbot, canvas, Qt.Key.Key_P)
    assert window.drawing.tool.value == "polygon"
    vertices = [viewport_point(window, x, y) for x, y in ((35, 30), (60, 28), (55, 45))]
    for vertex in vertices:
        click(window, vertex)
    key(qtbot, canvas, Qt.Key.Key_Return)
    polygon = rasterize_polygon([image_point(window, v) for v in vertices], shape)
    both = rectangle | polygon
    assert polygon.sum() > 50
    np.testing.assert_array_equal(saved_mask(window), both)
    qtbot.waitUntil(lambda: overlap_area(window) == pytest.approx(both.mean()), timeout=10000)

    # a second polygon closed by double-click, then Esc cancels a third one
    triangle = [viewport_point(window, x, y) for x, y in ((2, 40), (12, 40))]
    for vertex in triangle:
        click(window, vertex)
    last = viewport_point(window, 7, 46)
    click(window, last)
    click(window, last, double=True)
    small = rasterize_polygon([image_point(window, v) for v in (*triangle, last)], shape)
    three = both | small
    np.testing.assert_array_equal(saved_mask(window), three)
    click(window, viewport_point(window, 30, 2))
    click(window, viewport_point(window, 40, 2))
    key(qtbot, canvas, Qt.Key.Key_Escape)
    assert window.drawing.points == []
    np.testing.assert_array_equal(saved_mask(window), three)

    key(qtbot, canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(saved_mask(window), both)
    key(qtbot, canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(saved_mask(window), rectangle)
    qtbot.waitUntil(lambda: overlap_area(window) == pytest.approx(rectangle.mean()),
                    timeout=10000)
    key(qtbot, canvas, Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(saved_mask(window), both)
    key(qtbot, canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(saved_mask(window), three)
    qtbot.waitUntil(lambda: overlap_area(window) == pytest.approx(three.mean()), timeout=10000)
    qtbot.waitUntil(lambda: bool(window.image_list.model.rows[0].has_mask), timeout=10000)

    # undo everything: the mask file goes away (the image had none)
    for _ in range(3):
        key(qtbot, canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert saved_mask(window) is None


def test_brush_eraser_ellipse_clear_and_switching_keeps_edits(qtbot, make_window, folder,
                                                              tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    canvas = window.canvas
    key(qtbot, canvas, Qt.Key.Key_B)
    radius = window.drawing.radius
    key(qtbot, canvas, Qt.Key.Key_BracketRight)
    assert window.drawing.radius > radius
    key(qtbot, canvas, Qt.Key.Key_BracketLeft)
    key(qtbot, canvas, Qt.Key.Key_BracketLeft)
    assert window.drawing.radius < radius
    QTest.mouseMove(canvas.viewport(), viewport_point(window, 30, 20))
    assert canvas.cursor_circle.isVisible()
    assert window.hover_label.text().startswith("x 30  y 20")
    drag(qtbot, window, viewport_point(window, 5, 24), viewport_point(window, 58, 24), steps=3)
    painted = saved_mask(window)
    assert painted is not None
    # interpolated: one continuous band across the image although only 3 moves were sent
    assert painted[24, 8:56].all()
    key(qtbot, canvas, Qt.Key.Key_X)
    drag(qtbot, window, viewport_point(window, 30, 10), viewport_point(window, 30, 38), steps=2)
    erased = saved_mask(window)
    assert erased.sum() < painted.sum() and not erased[24, 30]
    key(qtbot, canvas, Qt.Key.Key_E)
    drag(qtbot, window, viewport_point(window, 40, 2), viewport_point(window, 60, 12))
    assert saved_mask(window).sum() > erased.sum()
    edited = saved_mask(window)
    key(qtbot, canvas, Qt.Key.Key_D)        # next image
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.name == "cat/cat_1.png", timeout=10000)
    key(qtbot, canvas, Qt.Key.Key_A)        # back: the edit is still there (and undoable)
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.name == "cat/cat_0.png", timeout=10000)
    np.testing.assert_array_equal(window.session.document.mask, edited)
    key(qtbot, canvas, Qt.Key.Key_Delete)  # clear
    assert saved_mask(window) is None          # Clear removes the mask file
    key(qtbot, canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(saved_mask(window), edited)
    key(qtbot, canvas, Qt.Key.Key_V)
    assert window.drawing.tool.value == "pan"
    assert not window.canvas.cursor_circle.isVisible()


def test_space_drag_pans_instead_of_drawing(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    canvas = window.canvas
    key(qtbot, canvas, Qt.Key.Key_R)
    before = canvas.vb.viewRect()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    assert window.drawing.space_held
    drag(qtbot, window, viewport_point(window, 10, 10), viewport_point(window, 40, 30))
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert not window.drawing.space_held
    assert saved_mask(window) is None
    assert canvas.vb.viewRect() != before
    key(qtbot, canvas, Qt.Key.Key_F)
    view = canvas.vb.viewRect()
    assert view.width() >= IMAGE_SHAPE[1] and view.height() >= IMAGE_SHAPE[0]
    key(qtbot, canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    width = canvas.vb.viewRect().width()
    assert width == pytest.approx(canvas.vb.boundingRect().width(), rel=0.05)


def test_rapid_switching_never_mixes_overlays(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    canvas = window.canvas
    keys = [Qt.Key.Key_D, Qt.Key.Key_D, Qt.Key.Key_A, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp]
    for step in range(50):
        key(qtbot, canvas, keys[step % len(keys)])
        QTest.qWait(5 if step % 3 else 30)
    final = window.image_list.current_path()
    qtbot.waitUntil(lambda: window.session.image is not None
                    and str(window.session.image.path) == final, timeout=15000)
    wait_layer(qtbot, window, "saliency")
    wait_layer(qtbot, window, "gradcam")
    for method in ("saliency", "gradcam"):
        item = canvas.layers[method]
        assert item.image_id == final == canvas.image_id
        assert item.generation == window.session.generation
        assert item.image.shape == IMAGE_SHAPE
    assert not window.messages.isVisible() or "Cannot" not in window.messages.text()


def test_lime_provisional_then_cancel_and_complete(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    form = window.results.lime_form
    form.set_values({"samples": 20000, "superpixels": 12, "batch_size": 100})
    provisional = []
    window.session.layerReady.connect(
        lambda method, attribution, is_provisional, *rest: provisional.append(is_provisional)
        if method == "lime" else None)
    key(qtbot, window.canvas, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: "lime" in window.session.running, timeout=5000)
    qtbot.waitUntil(lambda: any(provisional), timeout=30000)
    assert window.canvas.layers["lime"].provisional
    assert window.status.cancel.isEnabled() or window.results.lime_cancel.isEnabled()
    qtbot.waitUntil(lambda: window.status.cancel.isEnabled(), timeout=5000)
    QTest.mouseClick(window.status.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "lime" not in window.session.running, timeout=15000)
    assert "lime" not in window.session.attributions
    assert window.results.layers.rows["lime"].status.text() == "cancelled"

    form.set_values({"samples": 60, "batch_size": 30})
    QTest.mouseClick(window.results.lime_button, Qt.MouseButton.LeftButton)
    wait_layer(qtbot, window, "lime")
    assert "lime" in window.session.attributions
    qtbot.waitUntil(lambda: any(row["method"] == "lime" for row in window.results.rows),
                    timeout=10000)


def test_analyze_folder_export_matches_leakview_scan(qtbot, make_window, folder, tiny_model,
                                                      tmp_path):
    from leakview.pipeline import ScanJob, run_scan_to_files

    (folder / "dog" / "broken.png").write_bytes(b"not a png at all")
    mask = np.zeros(IMAGE_SHAPE, dtype=bool)
    mask[10:30, 10:40] = True
    from leakview.masks import mask_path

    write_mask(mask_path(folder, folder / "cat" / "cat_1.png"), mask)
    write_mask(mask_path(folder, folder / "dog" / "dog_2.png"), ~mask)
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("saliency", "gradcam"))
    key(qtbot, window.canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=60000)
    assert window.analysis.complete
    assert len(window.analysis.rows) == 7 * 2
    assert window.folder_panel.verdict.text().startswith("Verdict:")
    assert window.folder_panel.table.rowCount() > 0
    model = window.image_list.model
    assert all(row.results for row in model.rows)
    broken = model.rows[model.row_for(folder / "dog" / "broken.png")]
    assert broken.error

    gui_csv = window.export_csv_to(tmp_path / "gui.csv")
    assert gui_csv is not None
    run_scan_to_files(ScanJob(folder=folder, csv=tmp_path / "cli.csv", model=str(tiny_model),
                              methods=("saliency", "gradcam")))
    assert gui_csv.read_text() == (tmp_path / "cli.csv").read_text()

    # New thresholds typed into the panel: the folder is judged again without a model run,
    # exactly as `leakview scan --min-topk-share 0.9 --max-flag-rate 0.3` judges it.
    def type_into(spin, text: str) -> None:
        spin.setFocus()
        key(qtbot, spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(spin, text)
        key(qtbot, spin, Qt.Key.Key_Return)

    type_into(window.results.min_topk_share, "0.9")
    type_into(window.results.max_flag_rate, "30")
    assert window.analysis.rule.min_topk_share == pytest.approx(0.9)
    assert window.analysis.rule.max_flag_rate == pytest.approx(0.3)
    assert "folder leak when ≥ 30%" in window.folder_panel.details.text()
    rejudged = window.export_csv_to(tmp_path / "gui-rejudged.csv")
    run_scan_to_files(ScanJob(folder=folder, csv=tmp_path / "cli-rejudged.csv",
                              model=str(tiny_model), methods=("saliency", "gradcam"),
                              min_topk_share=0.9, max_flag_rate=0.3))
    assert rejudged.read_text() == (tmp_path / "cli-rejudged.csv").read_text()
    assert rejudged.read_text() != gui_csv.read_text()   # the new rule flagged more
    assert window.settings.rule() == window.analysis.rule

    summary = window.export_summary_to(tmp_path / "summary.json")
    import json

    document = json.loads(summary.read_text())
    assert document["verdict"] in ("leak", "ok", "undetermined")
    assert document["scanned_methods"] == ["saliency", "gradcam"]
    window.export_figure_to(tmp_path / "figure.png")
    qtbot.waitUntil(lambda: (tmp_path / "figure.png").is_file(), timeout=10000)
    from PIL import Image

    assert Image.open(tmp_path / "figure.png").size[0] > IMAGE_SHAPE[1] * 2


def test_analyze_cancel_keeps_partial_results(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("smoothgrad",))
    QTest.mouseClick(window.folder_panel.analyze, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.analysis.running(), timeout=5000)
    QTest.mouseClick(window.folder_panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=30000)
    assert not window.analysis.complete
    assert "partial" in window.folder_panel.verdict.text()


def test_corrupt_image_and_bad_model_show_messages(qtbot, make_window, folder, tiny_model,
                                                    tmp_path):
    (folder / "cat" / "a_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    window = make_window(folder, tiny_model)
    qtbot.waitUntil(lambda: "Cannot open" in window.messages.text(), timeout=10000)
    assert "a_broken.png" in window.messages.text()
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_layer(qtbot, window)
    assert window.session.image.name == "cat/cat_0.png"

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a model")
    window.open_model(str(bad))
    qtbot.waitUntil(lambda: "Cannot load model" in window.messages.text(), timeout=10000)
    # a refused file changes nothing: the working model and its layers stay
    assert window.session.model is not None and window.session.model.source == tiny_model
    assert window.canvas.has_layer("saliency")
    assert "Still using tiny.pt" in window.messages.text()
    window.open_model(str(tmp_path / "missing.pt"))
    qtbot.waitUntil(lambda: "missing.pt" in window.messages.text(), timeout=10000)
    assert window.session.model.source == tiny_model


def test_ten_thousand_images_list_at_once(qtbot, make_window, tmp_path, settings, monkeypatch):
    root = tmp_path / "many"
    for part in range(10):
        (root / f"part{part}").mkdir(parents=True)
        for index in range(1000):
            (root / f"part{part}" / f"img{index}.png").touch()
    window = make_window()
    opened: list[str] = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda path, *args, **kwargs: (
        opened.append(str(path)), real_open(path, *args, **kwargs))[1])
    window.open_folder(root)
    # listed at once, without opening the files (only the image shown is loaded)
    assert window.image_list.model.rowCount() == 10000
    assert window.image_list.proxy.rowCount() == 10000
    assert len(opened) <= 1, opened
    window.image_list.filter.setText("img99")
    assert window.image_list.proxy.rowCount() == 10 * 11   # img99, img990..img999
    window.image_list.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert window.image_list.proxy.index(0, 0).data() == "part9/img999.png"


def test_settings_persist_and_shortcuts_listed(qtbot, make_window, folder, tiny_model, settings):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    row = window.results.layers.rows["gradcam"]
    row.opacity.setValue(30)
    row.colormap.setCurrentText("viridis")
    key(qtbot, window.canvas, Qt.Key.Key_2)      # SmoothGrad on: computed on demand
    assert window.results.layers.rows["smoothgrad"].visible.isChecked()
    wait_layer(qtbot, window, "smoothgrad", timeout=60000)
    key(qtbot, window.canvas, Qt.Key.Key_F1)
    table = window.shortcuts_dialog.table
    listed = {table.item(i, 0).text() for i in range(table.rowCount())}
    assert {"Ctrl+O", "D / PgDown", "L", "Ctrl+S", "P", "[", "]"} <= listed
    window.shortcuts_dialog.close()
    window.close()
    from leakview.gui.settings import AppSettings

    reread = AppSettings(settings.store)
    assert reread.last_folder == str(folder)
    assert reread.last_model == str(tiny_model)
    assert reread.layer_options("gradcam").opacity == pytest.approx(0.3)
    assert reread.layer_options("gradcam").colormap == "viridis"
    assert reread.layer_options("smoothgrad").visible
    again = make_window(folder, tiny_model)
    assert again.results.layers.rows["gradcam"].opacity.value() == 30
    assert "smoothgrad" in again.session.auto_methods
    assert again.settings.geometry("geometry") is not None


def test_target_picker_recomputes_layers(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    combo = window.results.target
    combo.setCurrentIndex(combo.findData(1))
    wait_layer(qtbot, window)
    assert window.session.attributions["saliency"].target == 1
    assert window.session.target == 1


def test_side_by_side_shows_study_figure(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    key(qtbot, window.canvas, Qt.Key.Key_T)
    assert window.stack.currentIndex() == 1
    qtbot.waitUntil(lambda: len(window.figure_canvas.panels) >= 2, timeout=10000)
    assert window.figure_canvas.shape == IMAGE_SHAPE
    key(qtbot, window.figure_canvas, Qt.Key.Key_T)
    assert window.stack.currentIndex() == 0


def test_import_labelme_masks(qtbot, make_window, folder, tiny_model, tmp_path):
    import json

    annotations = tmp_path / "labelme" / "cat"
    annotations.mkdir(parents=True)
    (annotations / "cat_0.json").write_text(json.dumps({
        "imagePath": "cat_0.png", "imageHeight": IMAGE_SHAPE[0], "imageWidth": IMAGE_SHAPE[1],
        "shapes": [{"label": "cargo", "shape_type": "rectangle", "points": [[2, 3], [20, 30]]}]}))
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.import_masks_from(tmp_path / "labelme", "labelme")
    qtbot.waitUntil(lambda: window.session.document is not None
                    and window.session.document.mask is not None, timeout=10000)
    expected = rasterize_rectangle(2, 3, 20, 30, IMAGE_SHAPE)
    np.testing.assert_array_equal(window.session.document.mask, expected)
    np.testing.assert_array_equal(read_mask(window.session.document.mask_file), expected)
    assert "written 1 mask" in window.messages.text()


def test_run_app_returns_exit_status(qtbot, folder, tiny_model, monkeypatch, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from leakview.gui import app as app_module
    from leakview.gui.main_window import MainWindow

    monkeypatch.setenv("LEAKVIEW_SETTINGS", str(tmp_path / "run_app.ini"))

    def close_later() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow):
                widget.close()
    QTimer.singleShot(1500, close_later)
    assert app_module.run_app(folder=str(folder), model=str(tiny_model)) == 0


def test_cli_gui_command_uses_run_app(monkeypatch):
    from leakview import cli

    calls = []
    monkeypatch.setattr("leakview.gui.app.run_app",
                        lambda folder=None, model=None, demo=False, spec=None:
                        calls.append((folder, model, demo, spec)) or 0)
    assert cli.main(["gui", "some/dir", "--model", "m.pt"]) == 0
    assert cli.main(["gui", "--demo"]) == 0
    assert cli.main(["gui", "--model", "w.pt", "--arch", "resnet18", "--classes", "a,b"]) == 0
    from leakview.layout import normalise_root

    assert calls[:2] == [(normalise_root("some/dir"), "m.pt", False, None),
                         (None, None, True, None)]       # the folder as an absolute root
    assert calls[2][3].arch == "resnet18" and calls[2][3].classes == ("a", "b")


def test_first_launch_opens_the_demo_later_launches_the_last_session(
        qtbot, folder, tiny_model, settings, tmp_path):
    from leakview.gui.app import open_main_window
    from leakview.resources import demo_model_path, demo_workspace

    def launch(**kwargs):
        window = open_main_window(settings=settings, **kwargs)
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.session.model is not None, timeout=30000)
        return window

    first = launch()                                 # nothing saved yet: the demo
    assert first.root == demo_workspace()
    assert first.session.model.source == demo_model_path("clean")
    first.open_folder(folder)
    first.open_model(str(tiny_model))
    qtbot.waitUntil(lambda: first.session.model.source == tiny_model, timeout=30000)
    first.close()

    second = launch()                                # the last session comes back
    assert second.root == folder
    assert second.session.model.source == tiny_model
    assert second.messages.text() == ""
    second.close()

    third = launch(demo=True)                        # leakview gui --demo
    assert third.root == demo_workspace()
    assert third.session.model.source == demo_model_path("clean")
    third.open_folder(folder)                        # back to the folder, for the next check
    third.close()

    moved = tmp_path / "moved"
    folder.rename(moved)
    fourth = launch()                                # the last folder is gone: demo, and why
    assert fourth.root == demo_workspace()
    assert "is gone" in fourth.messages.text() and str(folder) in fourth.messages.text()
    fourth.open_folder(moved)
    fourth.actions["open_demo"].trigger()            # File > Open the demo images
    assert fourth.root == demo_workspace()
    fourth.close()



def test_revisit_restores_cached_layers_and_keys_respect_focus(qtbot, make_window, folder,
                                                               tiny_model):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.results.lime_form.set_values({"samples": 40, "batch_size": 20})
    key(qtbot, window.canvas, Qt.Key.Key_L)
    wait_layer(qtbot, window, "lime")
    first = window.session.image.path
    lime_map = window.session.attributions["lime"].map

    # keys on the image list navigate; typed into the filter box they are text
    window.image_list.view.setFocus()
    key(qtbot, window.image_list.view, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.path != first, timeout=10000)
    wait_layer(qtbot, window)
    current = window.session.image.path
    window.image_list.filter.setFocus()
    qtbot.keyClicks(window.image_list.filter, "cad")
    assert window.image_list.filter.text() == "cad"
    assert window.session.image.path == current  # no navigation happened
    window.image_list.filter.clear()
    window.image_list.select_path(current)

    started = []
    window.session.layerStarted.connect(started.append)
    key(qtbot, window.canvas, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.session.image is not None
                    and window.session.image.path == first, timeout=10000)
    wait_layer(qtbot, window, "lime")
    wait_layer(qtbot, window, "saliency")
    assert started == []  # everything came from the cache
    np.testing.assert_array_equal(window.session.attributions["lime"].map, lime_map)

    # the wheel zooms
    viewport = window.canvas.viewport()
    before = window.canvas.vb.viewRect().width()
    centre = QPointF(viewport.rect().center())
    event = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)
    assert window.canvas.vb.viewRect().width() < before


def test_closing_while_jobs_run_does_not_hang(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.results.lime_form.set_values({"samples": 500000, "batch_size": 100})
    key(qtbot, window.canvas, Qt.Key.Key_L)
    window.folder_panel.set_methods(("smoothgrad",))
    window.actions["analyze_folder"].trigger()
    qtbot.waitUntil(lambda: "lime" in window.session.running, timeout=5000)
    key(qtbot, window.canvas, Qt.Key.Key_R)
    start, end = viewport_point(window, 2, 2), viewport_point(window, 9, 9)
    drag(qtbot, window, start, end)
    expected = rasterize_rectangle(*image_point(window, start), *image_point(window, end),
                                   IMAGE_SHAPE)
    from PySide6.QtWidgets import QApplication, QMessageBox

    window.close()                      # work in progress: asked first, "Quit anyway"
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox) and "LIME" in box.text() and window.isVisible()
    quit_anyway = next(button for button in box.buttons() if button.text() == "Quit anyway")
    QTest.mouseClick(quit_anyway, Qt.MouseButton.LeftButton)
    assert not window.isVisible()       # hidden at once: the click does not wait for LIME
    assert not window.runner.busy() or all(job.cancelled or job.lane == "masks"
                                           for job in window.runner.active.values())
    from leakview.masks import mask_path

    saved = read_mask(mask_path(folder, folder / "cat" / "cat_0.png"))  # written before close
    np.testing.assert_array_equal(saved, expected)


def test_typing_in_option_boxes_does_not_trigger_shortcuts(qtbot, make_window, folder,
                                                           tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    samples = window.results.lime_form.widgets["samples"]
    samples.setFocus()
    samples.lineEdit().selectAll()
    qtbot.keyClicks(samples, "1500")
    assert samples.value() == 1500
    assert not window.results.layers.rows["lime"].visible.isChecked()   # "5" typed, no toggle
    assert window.results.layers.rows["saliency"].visible.isChecked()   # "1" typed, no toggle
    assert "lime" not in window.session.running
    assert window.results.lime_form.values()["samples"] == 1500
