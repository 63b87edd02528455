"""A window a QA engineer can trust (issue 15, items 3, 4, 7 and the title of 9): a model
that fails to load keeps the working one (and is not remembered), the refusal says why in
leakview's words, another folder forgets the previous folder's results, a LIME run goes on
in the background, quitting with work in progress asks, and the title names the image that
failed to load. Real key and mouse events throughout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from test_gui_support import (  # noqa: E402,F401 (fixtures)
    click,
    folder,
    image_template,
    key,
    make_window,
    settings,
    tiny_model,
    viewport_point,
    wait_layer,
    write_images,
)

TORCH_ADVICE = ("add_safe_globals", "safe_globals", "weights_only=False",
                "weights_only` set to `False", "allowlist", "if you trust")


class CustomObject:
    """A class of this module: torch.save pickles it by reference, weights_only refuses it."""

    def __init__(self) -> None:
        self.weights = [0.0, 1.0]


@pytest.fixture
def custom_pickle(tmp_path):
    import torch

    path = tmp_path / "custom.pt"
    torch.save({"model": CustomObject()}, path)
    return path


def errors(window) -> list[str]:
    return [text for level, text in window.messages.history if level == "error"]


# -- 3. a model that fails to load ------------------------------------------------------------
def test_the_refusal_says_why_without_torchs_bypass_advice(custom_pickle, capsys):
    from leakview.cli import main
    from leakview.models import ModelLoadError, load_model

    with pytest.raises(ModelLoadError) as info:
        load_model(custom_pickle, device="cpu")
    assert "CustomObject" in info.value.reason and "never runs pickled code" in info.value.reason
    assert main(["info", str(custom_pickle), "--device", "cpu"]) == 1
    printed = capsys.readouterr().err
    assert "CustomObject" in printed and "refused" in printed
    for advice in TORCH_ADVICE:
        assert advice not in info.value.reason and advice not in printed


def test_a_model_that_fails_to_load_keeps_the_working_one(qtbot, make_window, folder,
                                                          tiny_model, custom_pickle, settings):
    from leakview.gui.app import startup_choice
    from leakview.gui.settings import AppSettings

    settings.push_recent("recent_models", str(custom_pickle))   # offered by the picker
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    working = window.state.model
    picker = window.results.model_picker
    assert picker.currentData() == str(tiny_model)
    assert picker.findData(str(custom_pickle)) == picker.currentIndex() + 1
    picker.setFocus()
    QTest.keyClick(picker, Qt.Key.Key_Down)                    # choose the broken file
    qtbot.waitUntil(lambda: any("Cannot load model" in text for text in errors(window)),
                    timeout=30000)
    message = window.messages.text()
    assert str(custom_pickle) in message and "CustomObject" in message
    assert "Still using tiny.pt" in message
    for advice in TORCH_ADVICE:
        assert advice not in message
    # the working model stays: state, picker, summary, layers
    assert window.state.model is working and window.state.model_path == str(tiny_model)
    assert picker.currentData() == str(tiny_model)
    assert "mobilenet_v3_small" in window.results.model_info.text()
    assert picker.findData(str(custom_pickle)) == -1            # not offered again
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_layer(qtbot, window)
    assert window.session.image.path == folder / "cat" / "cat_1.png"
    # only a model that loaded is remembered: the next launch opens the working one
    reread = AppSettings(settings.store)
    assert reread.last_model == str(tiny_model)
    assert str(custom_pickle) not in reread.recent("recent_models")
    chosen_folder, chosen_model, notes = startup_choice(reread)
    assert chosen_model == str(tiny_model) and notes == []
    again = make_window(chosen_folder, chosen_model, window_settings=reread)
    qtbot.waitUntil(lambda: again.state.model is not None, timeout=30000)
    assert again.state.model.source == tiny_model
    assert errors(again) == []


# -- 4. another folder --------------------------------------------------------------------------
def test_opening_another_folder_forgets_the_previous_folders_results(qtbot, make_window,
                                                                      folder, tiny_model,
                                                                      tmp_path):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    first_map = window.session.attributions["saliency"].map
    panel = window.folder_panel
    qtbot.mouseClick(panel.analyze, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state.summary is not None and not window.analysis.running(),
                    timeout=60000)
    assert panel.verdict.text().startswith("Verdict") and panel.table.rowCount() > 0
    assert "flagged" in panel.details.text() and window.state.rows

    other = write_images(tmp_path / "other", per_class=2, seed=7)
    window.open_folder(other)
    wait_layer(qtbot, window)
    assert panel.verdict.text() == "Not analysed yet" and panel.details.text() == ""
    assert panel.table.rowCount() == 0 and panel.atlas.current() is None
    assert window.state.rows == [] and window.state.summary is None
    assert not panel.export_csv.isEnabled()

    # the first folder again, its first image replaced meanwhile: computed anew, not the
    # previous folder's cached maps
    from leakview.attribution import explain

    first = folder / "cat" / "cat_0.png"
    white = np.full((48, 64, 3), 255, np.uint8)
    Image.fromarray(white).save(first)
    expected = explain(window.state.model, white, "saliency").map
    window.open_folder(folder)
    wait_layer(qtbot, window)
    assert window.session.image.path == first
    shown = window.session.attributions["saliency"].map
    assert not np.allclose(shown, first_map, rtol=1e-3, atol=0)
    np.testing.assert_allclose(shown, expected, rtol=1e-4)


# -- 7. LIME goes on in the background ------------------------------------------------------------
def lime_running(window) -> bool:
    return any(job.lane == "lime" and not job.should_stop()
               for job in window.runner.active.values())


def test_a_lime_run_finishes_in_the_background_and_shows_when_coming_back(qtbot, make_window,
                                                                          folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.results.lime_form.set_values({"samples": 600, "batch_size": 20})
    started: list[str] = []
    window.session.layerStarted.connect(started.append)
    key(qtbot, window.canvas, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: lime_running(window), timeout=10000)
    key(qtbot, window.canvas, Qt.Key.Key_D)                      # move on at once
    wait_layer(qtbot, window)
    assert window.session.image.path == folder / "cat" / "cat_1.png"
    qtbot.waitUntil(lambda: not lime_running(window), timeout=120000)
    assert window.session.layers.background is None
    assert not window.canvas.has_layer("lime")                  # not drawn on cat_1
    assert errors(window) == []
    started.clear()
    key(qtbot, window.canvas, Qt.Key.Key_A)                      # back: the finished map
    wait_layer(qtbot, window, "lime", timeout=5000)
    assert window.session.image.path == folder / "cat" / "cat_0.png"
    assert window.session.attributions["lime"].extras.get("samples_used") == 600
    assert "lime" not in started and "lime" not in window.session.running
    assert window.results.layers.rows["lime"].status.text() == "✓"


def test_a_lime_run_in_the_background_shows_again_and_cancels_from_the_status_bar(
        qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.results.lime_form.set_values({"samples": 20000, "batch_size": 50})
    provisional: list[str] = []
    window.session.layerReady.connect(
        lambda method, attribution, is_provisional, path, generation:
        provisional.append(path) if method == "lime" and is_provisional else None)
    key(qtbot, window.canvas, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: bool(provisional), timeout=60000)          # a partial map is up
    job = window.session.running["lime"]
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_layer(qtbot, window)                   # the next image's layers do not wait for it
    assert lime_running(window) and window.session.layers.background.job is job
    assert not window.canvas.has_layer("lime")
    qtbot.waitUntil(lambda: "in the background" in window.status.activity.text(),
                    timeout=5000)
    key(qtbot, window.canvas, Qt.Key.Key_A)                      # back while it runs
    wait_layer(qtbot, window)
    assert window.session.running.get("lime") is job             # the same run, not anew
    assert window.canvas.layers["lime"].provisional              # its latest partial map
    assert window.results.lime_cancel.isEnabled()
    key(qtbot, window.canvas, Qt.Key.Key_D)                      # away again, then Cancel
    wait_layer(qtbot, window)
    qtbot.waitUntil(lambda: window.status.cancel.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.status.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not lime_running(window), timeout=30000)
    qtbot.waitUntil(lambda: window.session.layers.background is None, timeout=30000)
    key(qtbot, window.canvas, Qt.Key.Key_A)
    wait_layer(qtbot, window)
    assert "lime" not in window.session.attributions and "lime" not in window.session.running


def test_one_lime_run_at_most_goes_on_in_the_background(qtbot, make_window, folder,
                                                       tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.results.lime_form.set_values({"samples": 20000, "batch_size": 50})
    key(qtbot, window.canvas, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: lime_running(window), timeout=10000)
    first = window.session.running["lime"]
    key(qtbot, window.canvas, Qt.Key.Key_D)
    wait_layer(qtbot, window)
    key(qtbot, window.canvas, Qt.Key.Key_L)                      # LIME on cat_1 too
    second = window.session.running["lime"]
    assert second is not first and window.session.layers.background.job is first
    key(qtbot, window.canvas, Qt.Key.Key_D)                      # cat_1's run leaves too
    wait_layer(qtbot, window)
    assert first.cancelled and not second.should_stop()
    assert window.session.layers.background.job is second
    assert window.session.lime_runs() == ["cat/cat_1.png"]
    assert any("LIME for cat/cat_0.png stopped" in text for _, text in window.messages.history)
    qtbot.waitUntil(lambda: window.status.cancel.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.status.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.lime_runs() == [], timeout=30000)


# -- 7. quitting with work in progress asks ------------------------------------------------------
def answer_quit_box(qtbot, answer: str, seen: list[str]) -> None:
    """Click ``answer`` in the quit box as soon as it is up (its text goes to ``seen``)."""
    def click_answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click_answer)
            return
        seen.append(box.text())
        button = next(button for button in box.buttons() if button.text() == answer)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    QTimer.singleShot(0, click_answer)


def test_quitting_with_a_half_drawn_polygon_asks(qtbot, make_window, folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    key(qtbot, window.canvas, Qt.Key.Key_P)
    click(window, viewport_point(window, 5, 5))
    click(window, viewport_point(window, 30, 8))
    assert len(window.drawing.points) == 2
    seen: list[str] = []
    answer_quit_box(qtbot, "Cancel", seen)
    window.close()
    qtbot.waitUntil(lambda: bool(seen) and window.quit_box is None, timeout=5000)
    assert "polygon being drawn (2 points)" in seen[0]
    assert window.isVisible() and len(window.drawing.points) == 2     # nothing lost
    click(window, viewport_point(window, 20, 30))
    assert len(window.drawing.points) == 3                             # still drawing
    answer_quit_box(qtbot, "Quit anyway", seen)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert "3 points" in seen[1]


def test_quitting_during_an_analysis_asks_and_nothing_to_lose_does_not(qtbot, make_window,
                                                                       folder, tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    window.folder_panel.set_methods(("smoothgrad", "integrated_gradients"))
    qtbot.mouseClick(window.folder_panel.analyze, Qt.MouseButton.LeftButton)
    assert window.analysis.running()
    seen: list[str] = []
    answer_quit_box(qtbot, "Cancel", seen)
    window.close()
    qtbot.waitUntil(lambda: bool(seen) and window.quit_box is None, timeout=5000)
    assert "the folder analysis" in seen[0]
    assert window.isVisible()
    # it goes on to the end (its summary arrives on the GUI thread just after the job ends)
    qtbot.waitUntil(lambda: not window.analysis.running() and window.state.summary is not None,
                    timeout=120000)

    idle = make_window(folder, tiny_model)                   # nothing to lose: no question
    wait_layer(qtbot, idle)
    idle.close()
    assert not idle.isVisible() and idle.quit_box is None


# -- 9. the title names the image on screen, also when it failed --------------------------------
def test_the_title_names_the_image_that_failed_to_load(qtbot, make_window, folder, tiny_model):
    (folder / "cat" / "cat_1.png").write_bytes(b"not a png at all")
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    assert window.windowTitle().startswith("cat/cat_0.png")
    key(qtbot, window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: any("Cannot open cat_1.png" in text for text in errors(window)),
                    timeout=10000)
    assert "cat/cat_1.png" in window.windowTitle()
    assert "cannot open" in window.windowTitle() and "cat_0" not in window.windowTitle()
    key(qtbot, window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("cat/cat_2.png"), timeout=10000)


def test_a_window_whose_model_fails_shows_no_model_in_the_picker(qtbot, make_window, folder,
                                                                  tmp_path):
    """A refused model with nothing loaded before: the picker says so, it does not show a
    demo model as chosen, and the message is one sentence per fact."""
    window = make_window(folder, str(tmp_path / "demo-leaky"))
    qtbot.waitUntil(lambda: "Cannot load model" in window.messages.text(), timeout=10000)
    assert window.session.model is None
    assert "no such file. No model loaded." in window.messages.text()
    picker = window.results.model_picker
    assert picker.currentText() == "No model loaded"
    assert picker.currentData() == ""
    picker.setFocus()
    QTest.keyClick(picker, Qt.Key.Key_Down)          # choosing a real model still works
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=30000)
    assert picker.findText("No model loaded") == -1
