"""Tools > Run canary… and the class atlas tab, driven with real mouse and keyboard events
(pytest-qt, offscreen). The canary runs for real on a tiny world (32x32 noise, 2 epochs)."""

from __future__ import annotations

import csv
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QObject, Qt, QUrl, Slot  # noqa: E402
from PySide6.QtGui import QDesktopServices  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from leakview.canary import CSV_COLUMNS  # noqa: E402
from leakview.gui.canary_dialog import default_data_folder  # noqa: E402
from test_canary import _RunsCode, write_honest_folder  # noqa: E402
from test_gui_support import make_window, settings, tiny_model, wait_layer  # noqa: E402,F401


class UrlRecorder(QObject):
    """Receives what QDesktopServices.openUrl opens (Qt's own hook for a URL scheme), so the
    test sees the report being opened without starting a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened():
    recorder = UrlRecorder()
    QDesktopServices.setUrlHandler("file", recorder, "open")
    yield recorder
    QDesktopServices.unsetUrlHandler("file")


@pytest.fixture
def data(tmp_path) -> Path:
    return write_honest_folder(tmp_path / "data", per_class=8)


def mouse(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def retype(qtbot, widget, text: str) -> None:
    """Select what the field holds and type ``text`` over it, as a user would."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    qtbot.keyClicks(widget, text)


def open_dialog(qtbot, window):
    """Tools > Run canary… with the keyboard: Alt+T opens the menu, C picks the item."""
    qtbot.keyClick(window.menuBar(), Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is window.menus["&Tools"],
                    timeout=5000)
    qtbot.keyClick(window.menus["&Tools"], Qt.Key.Key_C)
    qtbot.waitUntil(lambda: window.canary_dialog is not None, timeout=5000)
    dialog = window.canary_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def fill_tiny(qtbot, dialog, out: Path, epochs: int = 2, lime: bool = False) -> None:
    retype(qtbot, dialog.arch.lineEdit(), "resnet18")
    retype(qtbot, dialog.input_h, "32")
    retype(qtbot, dialog.input_w, "32")
    retype(qtbot, dialog.size, "0.30")
    retype(qtbot, dialog.epochs, str(epochs))
    if not lime:
        mouse(dialog.method_boxes["lime"])
    retype(qtbot, dialog.out, str(out))


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_canary_from_the_dialog_writes_reports_opens_them_and_shows_the_verdict(
        qtbot, make_window, data, tiny_model, tmp_path, opened):
    window = make_window(data, tiny_model)
    dialog = open_dialog(qtbot, window)
    # the open folder is an ImageFolder tree, so it is the default data
    assert Path(dialog.data.text()) == data
    out = tmp_path / "canary-out"
    fill_tiny(qtbot, dialog, out, lime=True)
    retype(qtbot, dialog.lime_samples, "30")
    dialog.marker.setFocus()
    qtbot.keyClick(dialog.marker, Qt.Key.Key_Down)  # corner-rect -> stripe
    assert dialog.marker.currentText() == "stripe" and dialog.place_label.text() == "Edge:"
    mouse(dialog.run_button)
    assert not dialog.isVisible() and dialog.error.isHidden()
    config = dialog.result_config
    assert (config.arch, config.epochs, config.input_size) == ("resnet18", 2, (32, 32))
    assert config.marker == "stripe" and config.marker_params == {"size": 0.3}
    assert config.method_options == {"lime": {"samples": 30}}
    qtbot.waitUntil(lambda: window.canary.result is not None, timeout=240000)

    report = json.loads((out / "canary.json").read_text(encoding="utf-8"))
    assert report["status"] == "complete"
    assert report["config"]["marker"] == "stripe"
    rows = read_csv(out / "canary.csv")
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(row[0], row[1]) for row in rows[1:]] == [
        ("clean", "saliency"), ("clean", "lime"), ("leaky", "saliency"), ("leaky", "lime")]
    assert "Partial report" not in (out / "report.html").read_text(encoding="utf-8")
    assert [url.toLocalFile() for url in opened.urls] == [str(out / "report.html")]
    outcome = report["verdict"]["outcome"]
    assert window.messages.isVisible()
    assert f"Canary: {outcome.upper()}" in window.messages.text()
    assert str(out / "report.html") in window.messages.text()
    assert outcome in window.status.activity.text()


def test_cancel_mid_run_leaves_a_valid_partial_report(qtbot, make_window, data, tiny_model,
                                                      tmp_path, opened):
    window = make_window(data, tiny_model)
    dialog = open_dialog(qtbot, window)
    out = tmp_path / "cancelled"
    fill_tiny(qtbot, dialog, out, epochs=500)
    mouse(dialog.run_button)
    # training has started: the status bar shows it with an enabled Cancel button
    qtbot.waitUntil(lambda: window.canary.phase == "train-clean", timeout=120000)
    qtbot.waitUntil(lambda: window.status.cancel.isEnabled()
                    and "train-clean" in window.status.activity.text(), timeout=10000)
    mouse(window.status.cancel)
    qtbot.waitUntil(lambda: not window.canary.running() and window.canary.job is None,
                    timeout=120000)
    assert "Canary cancelled during train-clean" in window.messages.text()
    assert f"partial report in {out / 'report.html'}" in window.messages.text()
    report = json.loads((out / "canary.json").read_text(encoding="utf-8"))
    assert report["status"] == "partial" and report["stopped"] == "cancelled"
    assert report["phases_done"] == ["prepare"]
    assert report["verdict"] is None
    assert tuple(read_csv(out / "canary.csv")[0]) == CSV_COLUMNS
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Partial report" in html and html.rstrip().endswith("</html>")
    assert not (out / "clean.pt").exists()
    assert opened.urls == []  # nothing is opened for a cancelled run


def _error_for(qtbot, dialog, folder: Path) -> str:
    retype(qtbot, dialog.data, str(folder))
    try:
        dialog.config()
    except ValueError as error:
        return str(error)
    return ""


def test_the_default_data_is_honest(qtbot, make_window, tiny_model, tmp_path):
    """With the (leaky) bundled demo open, the dialog proposes the marker-free demo images;
    an honest open folder is proposed as it is."""
    from leakview.resources import demo_images_dir, honest_demo_dir

    assert default_data_folder(demo_images_dir()) == honest_demo_dir()
    honest = write_honest_folder(tmp_path / "honest", per_class=2)
    assert default_data_folder(honest) == honest
    window = make_window(honest, tiny_model)
    dialog = open_dialog(qtbot, window)
    assert Path(dialog.data.text()) == honest
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)


def test_dialog_refuses_a_folder_that_is_not_an_image_folder(qtbot, make_window, tiny_model,
                                                             tmp_path):
    flat = tmp_path / "flat"
    (flat / "only-one-class").mkdir(parents=True)
    window = make_window(None, tiny_model)
    dialog = open_dialog(qtbot, window)
    retype(qtbot, dialog.data, str(flat))
    mouse(dialog.run_button)
    assert dialog.isVisible()  # stays open with the reason
    assert dialog.error.isVisible()
    assert str(flat) in dialog.error.text() and "two class folders" in dialog.error.text()
    retype(qtbot, dialog.data, str(tmp_path / "missing"))
    mouse(dialog.run_button)
    assert dialog.isVisible() and "no such folder" in dialog.error.text()
    assert window.canary.job is None
    # the bundled demo already carries a planted leak: the dialog says so before a run
    from leakview.resources import demo_images_dir

    assert "no such folder" not in _error_for(qtbot, dialog, default_data_folder(None))
    assert "generated when the canary starts" in dialog.data_warning.text()
    retype(qtbot, dialog.data, str(tmp_path))
    assert dialog.data_warning.isHidden()
    retype(qtbot, dialog.data, str(demo_images_dir()))
    assert dialog.data_warning.isVisible() and "corner-rect" in dialog.data_warning.text()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_a_refused_checkpoint_is_reported_with_its_file_and_reason(qtbot, make_window, data,
                                                                   tiny_model, tmp_path,
                                                                   opened):
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(_RunsCode(tmp_path / "PWNED")))
    window = make_window(data, tiny_model)
    dialog = open_dialog(qtbot, window)
    out = tmp_path / "never"
    retype(qtbot, dialog.init, str(evil))
    assert not dialog.arch.isEnabled()  # the start model's architecture is used
    retype(qtbot, dialog.epochs, "1")
    retype(qtbot, dialog.out, str(out))
    mouse(dialog.run_button)
    qtbot.waitUntil(lambda: not dialog.isVisible() or dialog.error.isVisible(), timeout=10000)
    assert not dialog.isVisible(), dialog.error.text()

    def failure_shown() -> None:   # its assertion message says what happened instead
        job = window.canary.job
        assert any("Canary failed" in text for _, text in window.messages.history), (
            window.messages.history, job and (job.state, job.label, job.error))
    qtbot.waitUntil(failure_shown, timeout=60000)
    level, text = window.messages.history[-1]
    assert "Canary failed" in text and level == "error"
    assert str(evil) in text and "never runs pickled code" in text
    assert "no report was written" in text
    assert not (tmp_path / "PWNED").exists() and not out.exists()
    assert opened.urls == []


# ------------------------------------------------------------------------------ class atlas

def test_atlas_tab_after_analyze_folder_flags_the_leaky_demo(qtbot, make_window, tmp_path):
    from leakview.atlas import compute_atlas
    from leakview.gui.folder_view import flag_text
    from leakview.models import load_model
    from leakview.resources import demo_images_dir, demo_model_path

    folder = tmp_path / "demo"
    shutil.copytree(demo_images_dir(), folder)
    leaky = demo_model_path("leaky")
    window = make_window(folder, str(leaky))
    panel = window.folder_panel
    assert not panel.atlas.placeholder.isHidden() and not panel.atlas.tiles
    wait_layer(qtbot, window)  # the model is loaded
    panel.set_methods(("saliency",))
    mouse(panel.analyze)
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=120000)
    qtbot.waitUntil(lambda: bool(panel.atlas.tiles), timeout=10000)
    bar = panel.tabs.tabBar()
    index = panel.tabs.indexOf(panel.atlas)
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     bar.tabRect(index).center())
    assert panel.tabs.currentWidget() is panel.atlas
    QApplication.processEvents()

    shown = panel.atlas.current()
    reference = compute_atlas(load_model(leaky, device="cpu"), folder, method="saliency")
    assert shown.images == reference.images == 40
    # the atlas is built from the scan's own maps, and equals the headless atlas
    assert shown.flagged() == reference.flagged()
    assert len(reference.flagged()) >= 2  # demo-leaky looks at the corner marker
    for entry in reference.classes:
        mine = shown.by_name(entry.name)
        assert mine.count == entry.count
        if entry.mean_map is not None:
            np.testing.assert_allclose(mine.mean_map, entry.mean_map, atol=1e-6)
    # one tile per class, each showing its flag; the flagged ones in words
    assert [tile.entry.name for tile in panel.atlas.tiles] == [c.name for c in shown.classes]
    for tile in panel.atlas.tiles:
        assert tile.isVisible() and tile.picture.pixmap().height() >= 40
        assert tile.flag.text() == flag_text(tile.entry, shown.rule)
        if tile.entry.name in reference.flagged():
            assert tile.flag.text() == "consistent hot spot OUTSIDE the expected region"
    assert f"{len(reference.flagged())} flagged" in bar.tabText(index)
    # another model clears the atlas
    window.open_model(str(demo_model_path("clean")))
    qtbot.waitUntil(lambda: not panel.atlas.tiles, timeout=30000)
    assert bar.tabText(index) == "Class atlas"


def test_atlas_after_cancel_covers_the_images_analysed(qtbot, make_window, tiny_model, tmp_path):
    from test_gui_support import write_images

    folder = write_images(tmp_path / "images", per_class=12)
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    panel = window.folder_panel
    panel.set_methods(("smoothgrad",))
    mouse(panel.analyze)
    qtbot.waitUntil(lambda: window.analysis.done >= 1, timeout=60000)
    mouse(panel.cancel)
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=60000)
    assert not window.analysis.complete
    qtbot.waitUntil(lambda: bool(panel.atlas.tiles), timeout=10000)
    atlas = panel.atlas.current()
    assert atlas.method == "smoothgrad"
    # the scan's progress reached the GUI for at most as many images as the atlas holds
    assert 1 <= window.analysis.done <= atlas.images < 24
    assert sum(entry.count + entry.empty_maps for entry in atlas.classes) == atlas.images
    assert "partial" in panel.atlas.legend.text()
