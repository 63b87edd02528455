"""Input that must not change a value by accident, for the whole application: one event filter
on the QApplication (:func:`install_input_guards`, installed once by ``make_application`` and by
every :class:`~leakview.gui.main_window.MainWindow`).

**The wheel.** A spin box, combo box or slider (not a scroll bar) takes a wheel event only
while it has the keyboard focus. Without focus, the event goes on to its parents as Qt would
pass on an event the widget ignored, so the wheel scrolls the panel (the inspector's scroll area,
a dialog's) the widget sits in. These widgets take focus by a click or Tab, never by the wheel
(``Qt.StrongFocus`` instead of Qt's ``WheelFocus`` default), set as each widget is polished.

**Esc gives the keyboard back.** Esc in a text field, spin box, combo box, slider or list of a
window that has a *focus home* (:func:`set_focus_home`: the main window's image canvas) moves the
focus to that home, so the single-key shortcuts (D, A, F, 1 ...) work again. The text typed
stays (a filter keeps filtering). Dialogs have no home: Esc still closes them.
"""

from __future__ import annotations

import weakref

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

VALUE_WIDGETS = (QAbstractSpinBox, QComboBox, QAbstractSlider)
"""Widgets whose value the wheel changes (QScrollBar, a QAbstractSlider, is left alone)."""
TYPING_WIDGETS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractItemView, *VALUE_WIDGETS)
"""Widgets that keep the keyboard from the single-key shortcuts; Esc leaves them."""
_WATCHED = (QEvent.Type.Wheel, QEvent.Type.Polish, QEvent.Type.KeyPress)


def is_value_widget(widget: QObject) -> bool:
    """Whether the wheel would change ``widget``'s value (a spin box, combo box or slider)."""
    return isinstance(widget, VALUE_WIDGETS) and not isinstance(widget, QScrollBar)


def has_focus_within(widget: QWidget) -> bool:
    """Whether ``widget`` or one of its children (a spin box's line edit) has the focus."""
    focused = QApplication.focusWidget()
    return focused is not None and (focused is widget or widget.isAncestorOf(focused))


def pass_wheel_to_parents(widget: QWidget, event: QWheelEvent) -> bool:
    """Deliver ``event`` to ``widget``'s parents, innermost first, until one accepts it (Qt's
    own propagation of an ignored wheel event, stopping at the window); whether one did."""
    position = QPointF(event.position())
    child = widget
    parent = widget.parentWidget()
    while parent is not None and not child.isWindow() \
            and not child.testAttribute(Qt.WidgetAttribute.WA_NoMousePropagation):
        position += QPointF(child.pos())
        passed = QWheelEvent(position, event.globalPosition(), event.pixelDelta(),
                             event.angleDelta(), event.buttons(), event.modifiers(),
                             event.phase(), event.inverted(), event.source())
        passed.setAccepted(True)
        if QApplication.sendEvent(parent, passed) and passed.isAccepted():
            return True
        child, parent = parent, parent.parentWidget()
    return False


class InputGuard(QObject):
    """The application's event filter (see the module's docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._homes: list[weakref.ReferenceType[QWidget]] = []

    def add_home(self, widget: QWidget) -> None:
        self._homes = [ref for ref in self._homes if _alive(ref())]
        self._homes.append(weakref.ref(widget))

    def home_for(self, widget: QWidget) -> QWidget | None:
        """The visible focus home in ``widget``'s window, if it has one."""
        window = widget.window()
        for ref in self._homes:
            home = ref()
            if _alive(home) and home is not widget and home.isVisible() \
                    and home.window() is window:
                return home
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind not in _WATCHED:
            return False
        if kind == QEvent.Type.Polish:
            if is_value_widget(watched) and isinstance(watched, QWidget) \
                    and watched.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            return False
        if kind == QEvent.Type.Wheel:
            if not (is_value_widget(watched) and isinstance(watched, QWidget)
                    and isinstance(event, QWheelEvent)) or has_focus_within(watched):
                return False
            pass_wheel_to_parents(watched, event)
            event.setAccepted(True)          # handled here: Qt must not pass it on again
            return True
        if isinstance(event, QKeyEvent) and isinstance(watched, TYPING_WIDGETS) \
                and event.key() == Qt.Key.Key_Escape \
                and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            return self._escape(watched)
        return False

    def _escape(self, widget: QWidget) -> bool:
        if isinstance(widget, QAbstractItemView) \
                and widget.state() == QAbstractItemView.State.EditingState:
            return False                     # Esc cancels the edit first
        home = self.home_for(widget)
        if home is None:
            return False
        home.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True


def _alive(widget: QWidget | None) -> bool:
    return widget is not None and shiboken6.isValid(widget)


_guard: InputGuard | None = None


def install_input_guards() -> InputGuard:
    """The application's :class:`InputGuard`, installed on the running QApplication the first
    time (and the widgets that already exist get their focus policy)."""
    global _guard
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("install_input_guards needs a QApplication")
    if _guard is not None and shiboken6.isValid(_guard) and _guard.parent() is app:
        return _guard
    _guard = InputGuard(app)
    app.installEventFilter(_guard)
    for widget in QApplication.allWidgets():
        if is_value_widget(widget) and widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return _guard


def set_focus_home(widget: QWidget) -> None:
    """Esc in a text field or value box of ``widget``'s window gives the focus to ``widget``
    (the first visible one of those set, when a window has several)."""
    install_input_guards().add_home(widget)
