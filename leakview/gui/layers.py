"""Per-layer controls: visible checkbox, opacity slider, colormap (pyqtgraph colormaps) and a
colour bar, one row per registered attribution method (built from ``attribution.METHODS``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QWidget,
)

from leakview.attribution import METHODS
from leakview.gui.availability import mark_available
from leakview.gui.settings import LayerOptions

LAYER_KEYS = 9
"""The first LAYER_KEYS layers toggle with the keys 1, 2, ... (their number is shown)."""
COLORMAPS = ("inferno", "magma", "plasma", "viridis", "cividis", "turbo", "CET-L3", "CET-L8",
             "CET-R4")


class ColorBar(QWidget):
    """A horizontal gradient of a colormap from 0 (left) to the map's maximum (right)."""

    def __init__(self, colormap: str = "inferno", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colormap = ""
        self._image: QImage | None = None
        self._table: np.ndarray | None = None
        self.setMinimumSize(60, 12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_colormap(colormap)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(90, 14)

    def set_colormap(self, name: str) -> None:
        try:
            table = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
        except Exception:
            table = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=False)
        self.colormap = name
        self._table = np.ascontiguousarray(np.asarray(table, dtype=np.uint8)[None, :, :3])
        self._image = QImage(self._table.data, 256, 1, 256 * 3, QImage.Format.Format_RGB888)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        rect = self.rect().adjusted(0, 1, -1, -2)
        if self._image is not None:
            painter.drawImage(rect, self._image)
        painter.setPen(QColor(120, 120, 120))
        painter.drawRect(QRect(rect))
        painter.end()


class LayerRow:
    """The widgets of one layer."""

    def __init__(self, method: str, number: int, grid: QGridLayout, row: int,
                 options: LayerOptions) -> None:
        info = METHODS[method]
        self.method = method
        self.visible = QCheckBox(f"{number}  {info.label}" if number <= LAYER_KEYS
                                 else info.label)
        self.visible.setToolTip(info.description)
        self.visible.setChecked(options.visible)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(round(options.opacity * 100)))
        self.opacity.setToolTip("Opacity")
        self.opacity.setMaximumWidth(90)
        self.colormap = QComboBox()
        names = list(COLORMAPS)
        if options.colormap not in names:
            names.append(options.colormap)
        self.colormap.addItems(names)
        self.colormap.setCurrentText(options.colormap)
        self.colormap.setToolTip("Colormap")
        self.bar = ColorBar(options.colormap)
        self.bar.setToolTip("0 (left) to the map's 99.5th percentile (right); signed maps "
                            "show their positive part")
        self.status = QLabel("")
        self.status.setMinimumWidth(52)
        self.status.setStyleSheet("color: gray")
        self.reason: str | None = None
        for column, widget in enumerate((self.visible, self.opacity, self.colormap, self.bar,
                                         self.status)):
            grid.addWidget(widget, row, column)

    def options(self) -> LayerOptions:
        return LayerOptions(self.visible.isChecked(), self.opacity.value() / 100,
                            self.colormap.currentText())

    def set_unavailable(self, reason: str | None) -> None:
        """Grey the row out with ``reason`` (None: the method can run on the model)."""
        self.reason = reason
        mark_available(self.visible, reason, METHODS[self.method].description)
        self.status.setText("n/a" if reason else "")
        self.status.setToolTip(reason or "")


class LayerPanel(QWidget):
    """All layer rows; ``changed(method)`` when a row's options change."""

    changed = Signal(str)

    def __init__(self, options: dict[str, LayerOptions], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(3, 1)
        self.rows: dict[str, LayerRow] = {}
        for number, method in enumerate(METHODS, start=1):
            row = LayerRow(method, number, grid, number - 1, options[method])
            self.rows[method] = row
            row.visible.toggled.connect(lambda _=False, m=method: self.changed.emit(m))
            row.opacity.valueChanged.connect(lambda _=0, m=method: self.changed.emit(m))
            row.colormap.currentTextChanged.connect(lambda _="", m=method: self._recolor(m))

    def _recolor(self, method: str) -> None:
        row = self.rows[method]
        row.bar.set_colormap(row.colormap.currentText())
        self.changed.emit(method)

    def options(self, method: str) -> LayerOptions:
        return self.rows[method].options()

    def set_visible(self, method: str, visible: bool) -> None:
        self.rows[method].visible.setChecked(visible)

    def toggle(self, index: int) -> str | None:
        """Keys 1, 2, ...: toggle the ``index``-th layer (0-based); returns its method
        (None for no such layer, or one that cannot run on the model)."""
        methods = list(self.rows)
        if not 0 <= index < len(methods):
            return None
        row = self.rows[methods[index]]
        if row.reason:
            return None
        row.visible.setChecked(not row.visible.isChecked())
        return methods[index]

    def set_status(self, method: str, text: str) -> None:
        row = self.rows[method]
        row.status.setText("n/a" if row.reason else text)

    def set_unavailable(self, reasons: dict[str, str]) -> None:
        """Grey out the layers of ``reasons`` (method -> why it cannot run), enable the rest."""
        for method, row in self.rows.items():
            row.set_unavailable(reasons.get(method))

    def unavailable(self, method: str) -> str | None:
        """Why ``method`` cannot run on the model (None: it can)."""
        return self.rows[method].reason

    def visible_methods(self) -> list[str]:
        """The ticked layers that can run on the model."""
        return [method for method, row in self.rows.items()
                if row.visible.isChecked() and not row.reason]
