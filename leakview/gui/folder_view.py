"""The folder-analysis panel: methods to scan, Analyze / Cancel / Export buttons, the folder
verdict with the number of images it rests on ("judged N of M", and "too few" under the rule's
``min_judged`` / ``min_judged_share``: see :mod:`leakview.verdict`), and two tabs: the
per-class summary (``report.summarize`` output, shown as it is) and the class atlas
(:mod:`leakview.atlas`: the mean attribution map per predicted class, drawn by
``atlas_figure.class_panel``, with the hot-spot flag of each class). The ticked methods are
the window's ``AppState.methods``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from leakview.appstate import AppState
from leakview.atlas import Atlas, ClassAtlas
from leakview.atlas_figure import class_panel
from leakview.attribution import METHODS
from leakview.gui.availability import mark_available
from leakview.gui.inspector import fmt
from leakview.verdict import LEAK, OK, VerdictRule, coverage, coverage_text

VERDICT_STYLE = {
    LEAK: "background: #c62828; color: white;",
    OK: "background: #2e7d32; color: white;",
}
#: An ok that rests on too few images is no pass: amber, not green.
TOO_FEW_STYLE = "background: #ef6c00; color: white;"
UNDECIDED_STYLE = "background: #757575; color: white;"
SUMMARY_COLUMNS = ("class", "method", "images", "errors", "judged", "mass_in_mask",
                   "flag rate", "accuracy")
VERDICT_BASE_STYLE = "font-size: 15px; font-weight: bold; padding: 6px;"
NOT_ANALYSED = "Not analysed yet"


class FolderPanel(QWidget):
    analyzeRequested = Signal()
    cancelRequested = Signal()
    exportCsvRequested = Signal()
    exportSummaryRequested = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        left = QVBoxLayout()
        methods = QGridLayout()
        methods.addWidget(QLabel("Methods:"), 0, 0)
        self.method_boxes: dict[str, QCheckBox] = {}
        for number, (method, info) in enumerate(METHODS.items()):
            box = QCheckBox(info.label)
            box.setToolTip(info.description)
            box.setChecked(method in state.methods)
            box.toggled.connect(self._methods_ticked)
            self.method_boxes[method] = box
            methods.addWidget(box, number // 3, 1 + number % 3)
        left.addLayout(methods)
        buttons = QHBoxLayout()
        self.analyze = QPushButton("Analyze folder")
        self.analyze.clicked.connect(self.analyzeRequested)
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancelRequested)
        self.export_csv = QPushButton("Export CSV…")
        self.export_csv.clicked.connect(self.exportCsvRequested)
        self.export_summary = QPushButton("Summary JSON…")
        self.export_summary.clicked.connect(self.exportSummaryRequested)
        for button in (self.analyze, self.cancel, self.export_csv, self.export_summary):
            buttons.addWidget(button)
        left.addLayout(buttons)
        self.verdict = QLabel(NOT_ANALYSED)
        self.verdict.setObjectName("verdict")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setStyleSheet(VERDICT_BASE_STYLE)
        left.addWidget(self.verdict)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        left.addWidget(self.details)
        left.addStretch(1)
        layout.addLayout(left, 2)
        self.table = QTableWidget(0, len(SUMMARY_COLUMNS))
        self.table.setObjectName("summary")
        self.table.setHorizontalHeaderLabels(list(SUMMARY_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.atlas = AtlasView()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("folder_tabs")
        self.tabs.addTab(self.table, "Per class")
        self.tabs.addTab(self.atlas, "Class atlas")
        self.atlas.flaggedChanged.connect(self._atlas_title)
        layout.addWidget(self.tabs, 3)
        self.set_exportable(False)
        state.events.methods.connect(self._show_methods)

    def _atlas_title(self, flagged: int) -> None:
        index = self.tabs.indexOf(self.atlas)
        self.tabs.setTabText(index, "Class atlas" + (f" ⚠ {flagged} flagged" if flagged else ""))

    def methods(self) -> tuple[str, ...]:
        return tuple(method for method, box in self.method_boxes.items() if box.isChecked())

    def set_methods(self, methods: tuple[str, ...]) -> None:
        """Tick exactly ``methods`` (they become the state's)."""
        self._show_methods(methods)
        self._methods_ticked()

    def _show_methods(self, methods: tuple[str, ...]) -> None:
        for method, box in self.method_boxes.items():
            box.blockSignals(True)
            box.setChecked(method in methods)
            box.blockSignals(False)

    def _methods_ticked(self) -> None:
        self.state.methods = self.methods()

    def set_unavailable(self, reasons: Mapping[str, str]) -> None:
        """Grey out the boxes of the methods that cannot run on the model (``reasons``:
        method -> why); a ticked one stays ticked for the next model, and Analyze folder
        skips it."""
        for method, box in self.method_boxes.items():
            mark_available(box, reasons.get(method), METHODS[method].description)

    def set_running(self, running: bool, done: int = 0, total: int = 0) -> None:
        self.analyze.setEnabled(not running)
        self.cancel.setEnabled(running)
        if running:
            self.verdict.setText(f"Analyzing… {done}/{total}")
            self.verdict.setStyleSheet(VERDICT_BASE_STYLE)

    def reset(self) -> None:
        """Nothing analysed: the panel as it first appears (the atlas emptied too)."""
        self.set_running(False)
        self.verdict.setText(NOT_ANALYSED)
        self.verdict.setStyleSheet(VERDICT_BASE_STYLE)
        self.details.setText("")
        self.table.setRowCount(0)
        self.set_exportable(False)
        self.atlas.clear()

    def show_failure(self) -> None:
        self.set_running(False)
        self.verdict.setText("Analysis failed")

    def set_exportable(self, exportable: bool) -> None:
        self.export_csv.setEnabled(exportable)
        self.export_summary.setEnabled(exportable)

    def show_summary(self, summary: Mapping[str, Any], complete: bool, images: int,
                     total: int) -> None:
        """Show a folder summary (``report.summarize``) of ``images`` analysed of ``total``
        (fewer after Cancel: the coverage is then counted against all ``total``)."""
        verdict = summary["verdict"]
        rule = VerdictRule(**summary.get("rule", {}))
        covered = (summary if complete
                   else coverage(summary["judged"], max(total, summary["images"]), rule))
        suffix = "" if complete else f" (partial: {images}/{total})"
        self.verdict.setText(f"Verdict: {verdict.upper()} ({coverage_text(covered)}){suffix}")
        style = VERDICT_STYLE.get(verdict, UNDECIDED_STYLE)
        if verdict == OK and not covered["coverage_ok"]:
            style = TOO_FEW_STYLE
        self.verdict.setStyleSheet(VERDICT_BASE_STYLE + " " + style)
        self.verdict.setToolTip(
            f"Judged: images with a mask and a defined leak flag. A verdict needs at least "
            f"{rule.min_judged} judged images (or all, if fewer) and {rule.min_judged_share:.0%}"
            f" of them; below that it rests on too few images"
            + ("" if covered["coverage_ok"] else
               " — draw or import more masks before trusting it") + ".")
        lines = []
        for method, stats in summary.get("methods", {}).items():
            rate = "n/a" if stats["flag_rate"] is None else f"{stats['flag_rate']:.0%}"
            lines.append(f"<b>{method}</b>: {coverage_text(stats)}, flagged {stats['flagged']} "
                         f"({rate}); {stats['undefined']} without mask/undefined, "
                         f"{stats['errors']} errors → {stats['verdict']}")
        lines.append(f"<span style='color: gray'>leak flag when the top-5% share &lt; "
                     f"{rule.min_topk_share} (or the suspect region's &gt; "
                     f"{rule.max_suspect_share}); folder leak when ≥ {rule.max_flag_rate:.0%} of "
                     f"judged images are flagged; a verdict needs ≥ max({rule.min_judged}, "
                     f"{rule.min_judged_share:.0%}) of the images judged</span>")
        self.details.setText("<br>".join(lines))
        entries = summary.get("per_class", [])
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            values = (entry["label"], entry["method"], str(entry["images"]),
                      str(entry["errors"]), str(entry["judged"]),
                      fmt(entry["mean_mass_in_mask"]), fmt(entry["flag_rate"]),
                      fmt(entry["accuracy"]))
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.set_exportable(True)


FLAG_STYLE = {
    True: "background: #c62828; color: white; padding: 1px 4px;",
    False: "background: #2e7d32; color: white; padding: 1px 4px;",
    None: "background: #757575; color: white; padding: 1px 4px;",
}


def flag_text(entry: ClassAtlas, rule: Mapping[str, Any] | None = None) -> str:
    """The hot-spot verdict of one class, in words (``rule``: the atlas's hot-spot rule)."""
    if entry.count == 0:
        return "no images predicted"
    if entry.hot_spot_outside is None:
        if entry.masked == 0:
            return "no masks: hot spot not judged"
        return f"only {entry.masked} masked image(s): not judged"
    if entry.hot_spot_outside:
        return "consistent hot spot OUTSIDE the expected region"
    needed = float((rule or {}).get("min_concentration", 3.0))
    if not entry.hot_concentration >= needed:
        return "diffuse map: no consistent hot spot"
    return "hot spot inside the expected region"


def flag_style(entry: ClassAtlas, text: str) -> str:
    if entry.count == 0 or text.startswith(("no ", "only ", "diffuse")):
        return FLAG_STYLE[None]
    return FLAG_STYLE[bool(entry.hot_spot_outside)]


def _qimage(pixels: np.ndarray) -> QImage:
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class AtlasTile(QFrame):
    """One class: its panel (mean map over the mean image, hot spot in yellow, expected region
    in cyan), a caption and the hot-spot flag."""

    def __init__(self, entry: ClassAtlas, atlas: Atlas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        h, w = atlas.frame
        scale = max(1, int(math.ceil(160 / h)))
        self.image = _qimage(class_panel(entry, atlas.frame, scale,
                                         int(atlas.rule.get("cell", 1))))
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.picture, 1)
        caption = f"<b>{entry.name}</b>: {entry.count} image{'s' if entry.count != 1 else ''}"
        if entry.labelled:
            caption += f", {entry.correct} correct"
        if entry.count and entry.hot_centre is not None:
            caption += (f"<br>hot spot: {entry.hot_mass:.0%} of the mass, "
                        f"{entry.hot_concentration:.1f}x its area")
        if math.isfinite(entry.mass_outside_masks):
            caption += f"<br>{entry.mass_outside_masks:.0%} of the mass outside the masks"
        self.caption = QLabel(caption)
        self.caption.setWordWrap(True)
        layout.addWidget(self.caption)
        self.flag = QLabel(flag_text(entry, atlas.rule))
        self.flag.setObjectName("atlas_flag")
        self.flag.setWordWrap(True)
        self.flag.setStyleSheet(flag_style(entry, self.flag.text()))
        layout.addWidget(self.flag)
        self.setToolTip(f"{entry.name}: mean {atlas.method} map of the images predicted as "
                        f"{entry.name}")

    def fit(self, height: int, tile_width: int) -> None:
        """Scale the panel to ``height`` pixels (aspect kept) in a tile ``tile_width`` wide."""
        height = max(40, height)
        width = max(1, round(self.image.width() * height / max(1, self.image.height())))
        self.picture.setPixmap(QPixmap.fromImage(self.image).scaled(
            width, height, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        self.picture.setFixedHeight(height)
        self.setFixedWidth(max(width, tile_width) + 8)


class AtlasView(QWidget):
    """The class atlas of the last folder analysis, one method at a time."""

    flaggedChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.addWidget(QLabel("Method:"))
        self.method = QComboBox()
        self.method.setObjectName("atlas_method")
        self.method.currentIndexChanged.connect(self._show_method)
        top.addWidget(self.method)
        self.legend = QLabel("")
        self.legend.setStyleSheet("color: gray;")
        self.legend.setWordWrap(True)
        top.addWidget(self.legend, 1)
        layout.addLayout(top)
        self.placeholder = QLabel("Analyze folder to see where the model looks, on average, "
                                  "for each class it predicts.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: gray;")
        layout.addWidget(self.placeholder, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        self.strip_layout.setSpacing(6)
        self.strip_layout.addStretch(1)
        self.scroll.setWidget(self.strip)
        self.scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.scroll, 1)
        self.scroll.hide()
        self.atlases: dict[str, Atlas] = {}
        self.complete = True
        self.tiles: list[AtlasTile] = []

    def set_atlases(self, atlases: Mapping[str, Atlas], complete: bool = True) -> None:
        current = self.method.currentData()
        self.atlases = dict(atlases)
        self.complete = complete
        self.method.blockSignals(True)
        self.method.clear()
        for method in self.atlases:
            label = METHODS[method].label if method in METHODS else method
            self.method.addItem(label, method)
        index = self.method.findData(current)
        self.method.setCurrentIndex(index if index >= 0 else 0)
        self.method.blockSignals(False)
        self._show_method()

    def clear(self) -> None:
        self.set_atlases({})

    def current(self) -> Atlas | None:
        return self.atlases.get(self.method.currentData())

    def flagged(self) -> list[str]:
        atlas = self.current()
        return atlas.flagged() if atlas is not None else []

    def _show_method(self) -> None:
        for tile in self.tiles:
            self.strip_layout.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        atlas = self.current()
        self.placeholder.setVisible(atlas is None)
        self.scroll.setVisible(atlas is not None)
        if atlas is None:
            self.legend.setText("")
            self.flaggedChanged.emit(0)
            return
        for entry in atlas.classes:
            tile = AtlasTile(entry, atlas)
            self.strip_layout.insertWidget(self.strip_layout.count() - 1, tile)
            self.tiles.append(tile)
        partial = "" if self.complete else " (partial: the images analysed before Cancel)"
        self.legend.setText(
            f"mean map per predicted class, {atlas.images} images{partial} · yellow: hot spot "
            f"(top {atlas.rule.get('hot_fraction', 0.01):.0%} of cells) · cyan: expected region "
            f"(≥ 50% of images)")
        self._fit()
        self.flaggedChanged.emit(len(atlas.flagged()))

    def _fit(self) -> None:
        """Share the width between the tiles (at least 160 px each; beyond that the strip
        scrolls sideways) and size the panels so that every tile, caption included, fits the
        visible height."""
        if not self.tiles:
            return
        viewport = self.scroll.viewport()
        ratio = max(tile.image.width() / max(1, tile.image.height()) for tile in self.tiles)
        spacing = self.strip_layout.spacing()
        tile_width = max(160, int((viewport.width() - spacing * len(self.tiles))
                                  / len(self.tiles)) - 8)
        captions = max(tile.caption.heightForWidth(tile_width)
                       + tile.flag.heightForWidth(tile_width) for tile in self.tiles)
        height = max(40, min(int(tile_width / ratio), viewport.height() - captions - 18))
        for tile in self.tiles:
            tile.fit(height, tile_width)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit()
