"""Input that must not change things by accident, with real events (pytest-qt, offscreen): the
wheel over a spin box, combo box or slider without focus scrolls its panel instead of changing
the value; Esc in a text field or spin box gives the keyboard back to the image; a click on the
image takes it; Enter in the filter box goes to the list. And the xcb start-up check."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QScrollArea,
    QScrollBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from leakview.verdict import VerdictRule  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    folder,
    image_template,
    make_window,
    settings,
    tiny_model,
)


def wheel_over(widget: QWidget, notches: int = -3) -> None:
    """Send one wheel event of ``notches`` clicks (negative: towards the user, i.e. down)
    at the centre of ``widget``, as the widget under the mouse receives it."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def inspector_scroll(window) -> QScrollArea:
    scroll = window.inspector_dock.widget()
    assert isinstance(scroll, QScrollArea) and scroll.widget() is window.results
    return scroll


def scrollable_inspector(qtbot, window, widget: QWidget) -> QScrollBar:
    """Make the inspector short enough to scroll, with ``widget`` in view and room to scroll
    both ways; its vertical scroll bar."""
    window.resize(1300, 480)
    scroll = inspector_scroll(window)
    bar = scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 60)
    scroll.ensureWidgetVisible(widget, 0, 0)
    assert 0 < bar.value() < bar.maximum() or bar.maximum() > 0
    if bar.value() == 0:
        bar.setValue(min(bar.maximum(), 20))
    return bar


def inspector_widgets(window) -> dict[str, QWidget]:
    return {"rule spin box": window.results.min_topk_share,
            "LIME samples": window.results.lime_form.widgets["samples"],
            "opacity slider": window.results.layers.rows["saliency"].opacity,
            "colormap combo": window.results.layers.rows["saliency"].colormap}


def value_of(widget: QWidget):
    if isinstance(widget, QComboBox):
        return widget.currentIndex()
    return widget.value()


@pytest.mark.parametrize("name", ["rule spin box", "LIME samples", "opacity slider",
                                  "colormap combo"])
def test_wheel_over_a_value_without_focus_scrolls_the_inspector(qtbot, make_window, name):
    window = make_window()
    widget = inspector_widgets(window)[name]
    if isinstance(widget, QComboBox):
        widget.setCurrentIndex(1)            # room to move both ways
    bar = scrollable_inspector(qtbot, window, widget)
    window.canvas.setFocus()
    before, rule, scrolled = value_of(widget), window.state.rule, bar.value()
    wheel_over(widget, -3)
    assert value_of(widget) == before
    assert window.state.rule == rule
    assert bar.value() > scrolled            # the panel scrolled down instead
    scrolled = bar.value()
    wheel_over(widget, +2)
    assert value_of(widget) == before
    assert bar.value() < scrolled


def test_wheel_never_changes_the_saved_rule(qtbot, make_window, settings):
    window = make_window()
    box = window.results.min_topk_share
    assert box.value() == pytest.approx(0.2)
    scrollable_inspector(qtbot, window, box)
    for _ in range(5):
        wheel_over(box, -1)
    assert box.value() == pytest.approx(0.2)
    assert settings.rule() == VerdictRule()


def test_wheel_changes_a_focused_spin_box(qtbot, make_window):
    window = make_window()
    box = window.results.min_topk_share
    bar = scrollable_inspector(qtbot, window, box)
    qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)   # a click gives it focus
    qtbot.waitUntil(box.hasFocus)
    scrolled = box.value(), bar.value()
    wheel_over(box, -1)
    assert box.value() == pytest.approx(scrolled[0] - box.singleStep())
    assert window.state.rule.min_topk_share == pytest.approx(box.value())
    assert bar.value() == scrolled[1]


def test_value_widgets_take_focus_by_click_and_tab_not_by_wheel(qtbot, make_window, tmp_path):
    window = make_window()
    from leakview.gui.canary_dialog import CanaryDialog

    dialog = CanaryDialog(tmp_path, window)               # created after the window: guarded too
    qtbot.addWidget(dialog)
    dialog.show()
    widgets = [widget for kind in (QAbstractSpinBox, QComboBox, QAbstractSlider)
               for top in (window, dialog) for widget in top.findChildren(kind)
               if not isinstance(widget, QScrollBar)]
    assert len(widgets) > 10
    wheel_focus = [f"{type(w).__name__} {w.objectName()}" for w in widgets
                   if w.focusPolicy() == Qt.FocusPolicy.WheelFocus]
    assert wheel_focus == []
    assert all(w.focusPolicy() & Qt.FocusPolicy.StrongFocus == Qt.FocusPolicy.StrongFocus
               for w in widgets)


def test_wheel_over_a_spin_box_in_any_dialog_scrolls_the_dialog(qtbot, make_window):
    make_window()                              # the app's guard is installed with the window
    dialog = QDialog()
    qtbot.addWidget(dialog)
    scroll = QScrollArea(dialog)
    content = QWidget()
    column = QVBoxLayout(content)
    boxes = []
    for number in range(30):
        box = QSpinBox()
        box.setValue(number)
        column.addWidget(box)
        boxes.append(box)
    scroll.setWidget(content)
    QVBoxLayout(dialog).addWidget(scroll)
    dialog.resize(240, 200)
    dialog.show()
    qtbot.waitExposed(dialog)
    bar = scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    wheel_over(boxes[2], -1)
    assert boxes[2].value() == 2
    assert bar.value() > 0


def test_scroll_bars_still_take_the_wheel(qtbot, make_window):
    window = make_window()
    bar = scrollable_inspector(qtbot, window, window.results.min_topk_share)
    before = bar.value()
    wheel_over(bar, -1)
    assert bar.value() > before


# -- the keyboard goes back to the image ---------------------------------------------------------
def current_image(window):
    return None if window.session.image is None else window.session.image.path


def wait_image(qtbot, window) -> None:
    qtbot.waitUntil(lambda: current_image(window) is not None, timeout=10000)


def wait_moved(qtbot, window, first) -> None:
    """Until another image than ``first`` is on screen."""
    qtbot.waitUntil(lambda: current_image(window) not in (None, first), timeout=10000)


def press(qtbot, key: Qt.Key) -> None:
    """A key pressed where the keyboard focus is, as the user's keyboard sends it."""
    focused = QApplication.focusWidget()
    assert focused is not None
    qtbot.keyClick(focused, key)


def test_esc_in_the_filter_box_gives_the_keys_back_to_the_image(qtbot, make_window, folder):
    window = make_window(folder)
    wait_image(qtbot, window)
    box = window.image_list.filter
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(box.hasFocus)
    qtbot.keyClicks(box, "cat")
    first = current_image(window)
    press(qtbot, Qt.Key.Key_D)                    # still typing: a "d", no navigation
    assert box.text() == "catd" and current_image(window) == first
    press(qtbot, Qt.Key.Key_Backspace)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(window.canvas.hasFocus)
    assert box.text() == "cat"                    # Esc keeps the filter
    assert window.image_list.proxy.rowCount() == 3
    # now D is "next image": the "catd" filter had emptied the list, so the first D selects
    # the first row again (the image on screen), the second moves on
    press(qtbot, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.image_list.current_path() == str(first))
    press(qtbot, Qt.Key.Key_D)
    wait_moved(qtbot, window, first)
    assert box.text() == "cat"
    assert current_image(window).parent.name == "cat"


def test_esc_in_a_spin_box_gives_the_keys_back_to_the_image(qtbot, make_window, folder):
    window = make_window(folder)
    wait_image(qtbot, window)
    box = window.results.lime_form.widgets["samples"]
    window.inspector_dock.widget().ensureWidgetVisible(box)
    qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(box.hasFocus)
    first = current_image(window)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(window.canvas.hasFocus)
    press(qtbot, Qt.Key.Key_D)
    wait_moved(qtbot, window, first)


def test_a_click_on_the_image_takes_the_keyboard(qtbot, make_window, folder):
    window = make_window(folder)
    wait_image(qtbot, window)
    box = window.image_list.filter
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(box, "dog")
    qtbot.waitUntil(box.hasFocus)
    viewport = window.canvas.viewport()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     viewport.rect().center())
    qtbot.waitUntil(window.canvas.hasFocus)
    first = current_image(window)
    press(qtbot, Qt.Key.Key_D)
    wait_moved(qtbot, window, first)
    assert box.text() == "dog"


def test_enter_in_the_filter_box_goes_to_the_list(qtbot, make_window, folder):
    window = make_window(folder)
    wait_image(qtbot, window)
    box = window.image_list.filter
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(box.hasFocus)
    qtbot.keyClicks(box, "dog")
    press(qtbot, Qt.Key.Key_Return)
    view = window.image_list.view
    qtbot.waitUntil(view.hasFocus)
    qtbot.waitUntil(lambda: current_image(window) is not None
                    and current_image(window).parent.name == "dog", timeout=10000)
    first = current_image(window)
    press(qtbot, Qt.Key.Key_D)                    # the list passes D on: next image
    wait_moved(qtbot, window, first)
    assert current_image(window).parent.name == "dog"


def test_esc_still_closes_a_dialog(qtbot, make_window, tmp_path):
    window = make_window()
    from leakview.gui.canary_dialog import CanaryDialog

    dialog = CanaryDialog(tmp_path, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    box = dialog.findChildren(QSpinBox)[0]
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
