"""Per-layer controls: visible checkbox, opacity slider, colormap (pyqtgraph colormaps), the
sign of a signed map and a colour bar, one row per registered attribution method (built from
``attribution.METHODS``); then a row per region kind, the expected region's ("Mask") and the
suspect region's (shown, opacity, outline only)."""

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
from leakview.gui.settings import LayerOptions, MaskDisplay
from leakview.masks import EXPECTED, SUSPECT
from leakview.report import DISPLAY_PERCENTILE, MapDisplay

LAYER_KEYS = 9
"""The first LAYER_KEYS layers toggle with the keys 1, 2, ... (their number is shown)."""
COLORMAPS = ("inferno", "magma", "plasma", "viridis", "cividis", "turbo", "CET-L3", "CET-L8",
             "CET-R4")
DIVERGING_COLORMAP = "CET-D1"
"""The colormap of a signed map shown "both": blue (negative) - white (0) - red (positive)."""
SIGN_CHOICES = (("+", "positive", "positive evidence only (the metrics' p = max(a, 0))"),
                ("−", "negative", "negative evidence only, as magnitudes (max(-a, 0))"),
                ("±", "both", f"both signs: blue negative, red positive ({DIVERGING_COLORMAP}), "
                              "zero transparent, levels symmetric about 0"))
"""The sign combo's (text, mode, explanation) items (modes: ``report.SIGN_MODES``)."""
MASK_KEY = "M"
SUSPECT_KEY = "Shift+M"
REGION_ROWS = {
    EXPECTED: (f"{MASK_KEY}  Mask", "Show the expected region on the image (display only: the "
               "mask and the metrics do not change)"),
    SUSPECT: ("⇧M  Suspect", "Show the suspect region (magenta: where a shortcut may hide) on "
              "the image (display only: the region and the metrics do not change)")}
"""Each region row's check box text and tooltip."""



OPACITY_MIN_WIDTH = 56
"""An opacity slider never shrinks to its handle alone (it could no longer be dragged)."""


def opacity_slider(opacity: float, tip: str) -> QSlider:
    """A 0..100 % slider showing ``opacity`` (0..1), 56 to 90 px wide (a narrow inspector
    scrolls instead of squeezing it)."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(int(round(opacity * 100)))
    slider.setToolTip(tip)
    slider.setMinimumWidth(OPACITY_MIN_WIDTH)
    slider.setMaximumWidth(90)
    return slider

class ColorBar(QWidget):
    """A horizontal gradient of a colormap: 0 (left) to the top of the scale (right), or for a
    signed map shown "both" ``-m`` (left), 0 (centre, marked) to ``+m`` (right); the values of
    the map on screen are written under it (:meth:`labels`) and in the tooltip."""

    def __init__(self, colormap: str = "inferno", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colormap = ""
        self.sign = "positive"
        self.levels: tuple[float, float] | None = None
        self._image: QImage | None = None
        self._table: np.ndarray | None = None
        self.setMinimumSize(60, 22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_colormap(colormap)
        self.set_scale("positive", None)

    def set_scale(self, sign: str, levels: tuple[float, float] | None) -> None:
        """What the bar spans: ``sign`` (``report.SIGN_MODES``) and the levels of the map on
        screen (None: no map yet)."""
        self.sign, self.levels = sign, levels
        top = f"{levels[1]:.3g}" if levels is not None else "m"
        where = f"the map's {DISPLAY_PERCENTILE:g}th percentile"
        if sign == "both":
            text = (f"−{top} (left, negative evidence) · 0 (centre) · +{top} (right, positive "
                    f"evidence); m = {where} of |value|")
        elif sign == "negative":
            text = f"0 (left) to −{top} (right): negative evidence as magnitudes, up to {where}"
        else:
            text = f"0 (left) to {top} (right, {where})"
        self.setToolTip(text)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(90, 24)

    def set_colormap(self, name: str) -> None:
        try:
            table = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
        except Exception:
            table = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=False)
        self.colormap = name
        self._table = np.ascontiguousarray(np.asarray(table, dtype=np.uint8)[None, :, :3])
        self._image = QImage(self._table.data, 256, 1, 256 * 3, QImage.Format.Format_RGB888)
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """The (left, centre, right) values written under the gradient ("" for none)."""
        if self.levels is None:
            return "", "", ""
        top = f"{self.levels[1]:.2g}"
        if self.sign == "both":
            return f"−{top}", "0", f"+{top}"
        return "0", "", f"−{top}" if self.sign == "negative" else top

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.72))
        painter.setFont(font)
        text_height = painter.fontMetrics().height()
        rect = self.rect().adjusted(0, 1, -1, -2 - text_height)
        if self._image is not None:
            painter.drawImage(rect, self._image)
        painter.setPen(QColor(120, 120, 120))
        painter.drawRect(QRect(rect))
        if self.sign == "both":      # zero sits at the centre
            painter.setPen(QColor(0, 0, 0))
            centre = rect.center().x()
            painter.drawLine(centre, rect.top(), centre, rect.bottom())
        painter.setPen(self.palette().color(self.foregroundRole()))
        below = QRect(0, rect.bottom() + 1, self.width(), text_height)
        left, centre_text, right = self.labels()
        painter.drawText(below, int(Qt.AlignmentFlag.AlignLeft), left)
        painter.drawText(below, int(Qt.AlignmentFlag.AlignHCenter), centre_text)
        painter.drawText(below, int(Qt.AlignmentFlag.AlignRight), right)
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
        self.opacity = opacity_slider(options.opacity, "Opacity")
        self.colormap = QComboBox()
        names = list(COLORMAPS)
        if options.colormap not in names:
            names.append(options.colormap)
        self.colormap.addItems(names)
        self.colormap.setCurrentText(options.colormap)
        self.sign = QComboBox()
        for index, (text, mode, explanation) in enumerate(SIGN_CHOICES):
            self.sign.addItem(text, mode)
            self.sign.setItemData(index, explanation, Qt.ItemDataRole.ToolTipRole)
        self.signed = info.signed
        if info.signed:
            self.sign.setCurrentIndex(max(0, self.sign.findData(options.sign)))
            self.sign.setToolTip("Sign shown: " + "; ".join(
                f"{text} {explanation}" for text, _, explanation in SIGN_CHOICES))
        else:
            self.sign.setEnabled(False)
            self.sign.setToolTip(f"{info.label} is unsigned (a magnitude): it has no negative "
                                 "evidence to show")
        self.bar = ColorBar(options.colormap)
        self.status = QLabel("")
        self.status.setMinimumWidth(52)
        self.status.setStyleSheet("color: gray")
        self.reason: str | None = None
        for column, widget in enumerate((self.visible, self.opacity, self.colormap, self.sign,
                                         self.bar, self.status)):
            grid.addWidget(widget, row, column)
        self.restyle()

    def shown_sign(self) -> str:
        """The sign shown: the combo's choice for a signed method, else "positive"."""
        return str(self.sign.currentData()) if self.signed else "positive"

    def restyle(self) -> None:
        """The colour bar and the colormap combo follow the sign ("both": diverging)."""
        both = self.shown_sign() == "both"
        self.colormap.setEnabled(not both)
        self.colormap.setToolTip(f"“±” uses the diverging {DIVERGING_COLORMAP}" if both
                                 else "Colormap")
        self.bar.set_colormap(DIVERGING_COLORMAP if both else self.colormap.currentText())
        self.bar.set_scale(self.shown_sign(), self.bar.levels if self.bar.sign
                           == self.shown_sign() else None)

    def options(self) -> LayerOptions:
        return LayerOptions(self.visible.isChecked(), self.opacity.value() / 100,
                            self.colormap.currentText(), str(self.sign.currentData()))

    def set_unavailable(self, reason: str | None) -> None:
        """Grey the row out with ``reason`` (None: the method can run on the model)."""
        self.reason = reason
        mark_available(self.visible, reason, METHODS[self.method].description)
        self.status.setText("n/a" if reason else "")
        self.status.setToolTip(reason or "")


class MaskRow:
    """A region's widgets, laid out like a layer row: shown (key M, Shift+M for the suspect
    region), opacity, outline only."""

    def __init__(self, grid: QGridLayout, row: int, display: MaskDisplay,
                 kind: str = EXPECTED) -> None:
        text, tip = REGION_ROWS[kind]
        self.visible = QCheckBox(text)
        self.visible.setToolTip(tip)
        self.visible.setChecked(display.visible)
        self.opacity = opacity_slider(display.opacity, "Mask opacity" if kind == EXPECTED
                                      else "Suspect region opacity")
        self.outline_only = QCheckBox("Outline only")
        self.outline_only.setToolTip("Draw the region's outline without the translucent fill")
        self.outline_only.setChecked(display.outline_only)
        grid.addWidget(self.visible, row, 0)
        grid.addWidget(self.opacity, row, 1)
        grid.addWidget(self.outline_only, row, 2, 1, 3)

    def display(self) -> MaskDisplay:
        return MaskDisplay(self.visible.isChecked(), self.opacity.value() / 100,
                           self.outline_only.isChecked())

    def set_display(self, display: MaskDisplay) -> None:
        self.visible.setChecked(display.visible)
        self.opacity.setValue(int(round(display.opacity * 100)))
        self.outline_only.setChecked(display.outline_only)


class LayerPanel(QWidget):
    """All layer rows and the region rows; ``changed(method)`` when a layer row's options
    change, ``maskChanged`` when a region row's do."""

    changed = Signal(str)
    maskChanged = Signal()

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
            row.sign.currentIndexChanged.connect(lambda _=0, m=method: self._recolor(m))
        self.region_rows = {kind: MaskRow(grid, len(METHODS) + number, MaskDisplay(), kind)
                            for number, kind in enumerate((EXPECTED, SUSPECT))}
        self.mask_row, self.suspect_row = self.region_rows[EXPECTED], self.region_rows[SUSPECT]
        for region_row in self.region_rows.values():
            for signal in (region_row.visible.toggled, region_row.opacity.valueChanged,
                           region_row.outline_only.toggled):
                signal.connect(lambda *_: self.maskChanged.emit())

    def _recolor(self, method: str) -> None:
        self.rows[method].restyle()
        self.changed.emit(method)

    def mask_display(self, kind: str = EXPECTED) -> MaskDisplay:
        return self.region_rows[kind].display()

    def toggle_mask(self, kind: str = EXPECTED) -> None:
        """Key M (Shift+M: the suspect region): show or hide the region."""
        self.region_rows[kind].visible.toggle()

    def show_scale(self, method: str, display: MapDisplay | None) -> None:
        """The colour bar of ``method`` spans what its layer shows (None: nothing yet)."""
        row = self.rows[method]
        row.bar.set_scale(row.shown_sign(), display.levels if display is not None else None)

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
