"""Widgets built from a method's :class:`~leakview.attribution.OptionSpec` list.

int -> QSpinBox, float -> QDoubleSpinBox, choice -> QComboBox, bool -> QCheckBox,
str -> QLineEdit; ranges, defaults and tooltips come from the spec. :meth:`OptionsForm.values`
returns only the options that differ from their defaults, validated by ``OptionSpec.validate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from leakview.attribution import OptionSpec

INT_LIMIT = 2 ** 31 - 1


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def make_widget(spec: OptionSpec) -> QWidget:
    if spec.kind == "int":
        widget = QSpinBox()
        low = int(spec.minimum) if spec.minimum is not None else -INT_LIMIT
        high = int(min(spec.maximum, INT_LIMIT)) if spec.maximum is not None else INT_LIMIT
        widget.setRange(low, high)
        widget.setValue(int(spec.default))
        if spec.name == "samples":
            widget.setSingleStep(100)
    elif spec.kind == "float":
        widget = QDoubleSpinBox()
        widget.setDecimals(4)
        widget.setRange(spec.minimum if spec.minimum is not None else -1e9,
                        spec.maximum if spec.maximum is not None else 1e9)
        widget.setValue(float(spec.default))
    elif spec.kind == "choice":
        widget = QComboBox()
        widget.addItems(list(spec.choices or ()))
        widget.setCurrentText(str(spec.default))
    elif spec.kind == "bool":
        widget = QCheckBox()
        widget.setChecked(bool(spec.default))
    else:
        widget = QLineEdit(str(spec.default))
    widget.setToolTip(spec.help)
    widget.setObjectName(f"option_{spec.name}")
    return widget


def read_widget(widget: QWidget) -> Any:
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    return widget.text()


def write_widget(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(float(value))
    elif isinstance(widget, QComboBox):
        widget.setCurrentText(str(value))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    else:
        widget.setText(str(value))


class OptionsForm(QWidget):
    """The options of one method: ``primary`` ones shown, the rest behind "More options"."""

    def __init__(self, method: str, specs: Sequence[OptionSpec], primary: Sequence[str] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = method
        self.specs = {spec.name: spec for spec in specs}
        self.widgets: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        main, more = QGridLayout(), QFormLayout()
        main.setColumnStretch(1, 1)
        main.setColumnStretch(3, 1)
        shown = 0
        for spec in specs:
            widget = make_widget(spec)
            self.widgets[spec.name] = widget
            if not primary or spec.name in primary:
                row, column = divmod(shown, 2)
                main.addWidget(QLabel(_label(spec.name)), row, 2 * column)
                main.addWidget(widget, row, 2 * column + 1)
                shown += 1
            else:
                more.addRow(_label(spec.name), widget)
        layout.addLayout(main)
        self.more_box = QWidget()
        self.more_box.setLayout(more)
        self.more_box.setVisible(False)
        if more.rowCount():
            self.more_button = QToolButton()
            self.more_button.setText("More options")
            self.more_button.setCheckable(True)
            self.more_button.toggled.connect(self.more_box.setVisible)
            layout.addWidget(self.more_button)
            layout.addWidget(self.more_box)

    def values(self) -> dict[str, Any]:
        """Options that differ from the registry defaults (validated; ValueError if bad)."""
        chosen = {}
        for name, widget in self.widgets.items():
            spec = self.specs[name]
            value = spec.validate(read_widget(widget), self.method)
            if value != spec.default:
                chosen[name] = value
        return chosen

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.widgets:
                write_widget(self.widgets[name], value)
