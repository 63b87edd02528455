"""The right-hand inspector: model picker, top-5 prediction, target class, layers, LIME options
and the overlap table of the image on screen. The class to explain and the verdict rule's
boxes show and set the window's :class:`leakview.appstate.AppState` (``target``, ``rule``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from leakview.appstate import AppState
from leakview.attribution import METHODS
from leakview.gui.layers import LayerPanel
from leakview.gui.options_form import OptionsForm
from leakview.gui.settings import LayerOptions
from leakview.metrics import METRIC_DESCRIPTIONS, METRIC_NAMES
from leakview.resources import demo_model_path
from leakview.verdict import VerdictRule

OPEN_MODEL = "__open__"
LEAK_COLOR, OK_COLOR, UNKNOWN_COLOR = QColor(229, 57, 53), QColor(67, 160, 71), QColor(120, 120,
                                                                                       120)
METRIC_SHORT = {"mask_area_frac": "area", "mass_in_mask": "mass", "rank_accuracy": "rank",
                "pointing_hit": "point", "topk_intersection": "top-k", "auc": "AUC",
                "concentration": "conc."}
IMAGE_RULE_TIP = ("LEAK when less than this share of the image's 5% most-attributed pixels lies "
                  "in the expected region (scaled down for masks smaller than 5% of the image)")
NO_REGION = ("No expected region yet: draw one (P, R, E, B) or import masks; the metrics "
             "need it.")
FOLDER_RULE_TIP = ("A method calls the folder leaky when at least this share of the images it "
                   "could judge (those with a mask) is flagged; applies to Analyze folder")


def demo_models() -> list[tuple[str, str]]:
    return [("Demo: clean", str(demo_model_path("clean"))),
            ("Demo: leaky", str(demo_model_path("leaky")))]


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or value == "":
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "–" if math.isnan(number) else f"{number:.{digits}f}"


def flag_text(flag: Any) -> tuple[str, QColor]:
    if flag is None or flag == "":
        return "–", UNKNOWN_COLOR
    return ("LEAK", LEAK_COLOR) if int(float(flag)) else ("ok", OK_COLOR)


class ModelPicker(QComboBox):
    """Bundled demos, recent models, Open model...; ``chosen(path)`` / ``openRequested``."""

    chosen = Signal(str)
    openRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)
        self._recent: list[str] = []
        self._current = ""
        self.activated.connect(self._activated)
        self._rebuild()

    def set_recent(self, recent: Sequence[str]) -> None:
        self._recent = list(recent)
        self._rebuild()

    def set_current(self, path: str) -> None:
        self._current = str(path)
        self._rebuild()

    def _rebuild(self) -> None:
        self.blockSignals(True)
        self.clear()
        entries = demo_models()
        known = {path for _, path in entries}
        for path in [self._current] + self._recent:
            if path and path not in known:
                entries.append((Path(path).name, path))
                known.add(path)
        for label, path in entries:
            if not Path(path).is_file():
                label += " (missing)"
            self.addItem(label, path)
            self.setItemData(self.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem("Open model…", OPEN_MODEL)
        index = self.findData(self._current)
        self.setCurrentIndex(max(0, index))
        self.blockSignals(False)

    def _activated(self, index: int) -> None:
        data = self.itemData(index)
        if data == OPEN_MODEL:
            self.set_current(self._current)
            self.openRequested.emit()
        elif data and data != self._current:
            self.chosen.emit(str(data))


class ResultsPanel(QWidget):
    """Everything about the current image and model, on the right."""

    limeRequested = Signal()
    limeCancelled = Signal()
    methodSelected = Signal(str)

    def __init__(self, state: AppState, layer_options: dict[str, LayerOptions],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        self.model_picker = ModelPicker()
        self.model_info = QLabel("No model")
        self.model_info.setWordWrap(True)
        self.model_info.setStyleSheet("color: gray")
        model_layout.addWidget(self.model_picker)
        model_layout.addWidget(self.model_info)
        layout.addWidget(model_box)

        prediction_box = QGroupBox("Prediction")
        prediction_layout = QVBoxLayout(prediction_box)
        self.top5 = QTableWidget(5, 3)
        self.top5.setObjectName("top5")
        self.top5.horizontalHeader().setVisible(False)
        self.top5.verticalHeader().setVisible(False)
        header = self.top5.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.top5.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.top5.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.top5.setShowGrid(False)
        self.top5.setMaximumHeight(5 * 22 + 4)
        self.top5.verticalHeader().setDefaultSectionSize(22)
        self.bars = []
        for row in range(5):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setMaximumHeight(12)
            holder = QWidget()
            holder_layout = QHBoxLayout(holder)
            holder_layout.setContentsMargins(2, 0, 2, 0)
            holder_layout.addWidget(bar)
            self.top5.setCellWidget(row, 1, holder)
            self.bars.append(bar)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Explain class"))
        self.target = QComboBox()
        self.target.addItem("Predicted class", None)
        self.target.currentIndexChanged.connect(self._target_chosen)
        target_row.addWidget(self.target, 1)
        prediction_layout.addWidget(self.top5)
        prediction_layout.addLayout(target_row)
        layout.addWidget(prediction_box)

        layers_box = QGroupBox("Layers")
        layers_layout = QVBoxLayout(layers_box)
        self.layers = LayerPanel(layer_options)
        layers_layout.addWidget(self.layers)

        lime_box = QGroupBox("LIME")
        lime_layout = QVBoxLayout(lime_box)
        lime_specs = METHODS["lime"].options
        self.lime_form = OptionsForm("lime", lime_specs,
                                     primary=("samples", "superpixels", "segmentation", "seed"))
        lime_layout.addWidget(self.lime_form)
        buttons = QHBoxLayout()
        self.lime_button = QPushButton("Run LIME  (L)")
        self.lime_button.clicked.connect(self.limeRequested)
        self.lime_cancel = QPushButton("Cancel")
        self.lime_cancel.setEnabled(False)
        self.lime_cancel.clicked.connect(self.limeCancelled)
        buttons.addWidget(self.lime_button, 1)
        buttons.addWidget(self.lime_cancel)
        lime_layout.addLayout(buttons)

        overlap_box = QGroupBox("Overlap with the expected region")
        overlap_layout = QVBoxLayout(overlap_box)
        columns = ["method", *[METRIC_SHORT[name] for name in METRIC_NAMES], "verdict"]
        self.overlap = QTableWidget(0, len(columns))
        self.overlap.setObjectName("overlap")
        self.overlap.setHorizontalHeaderLabels(columns)
        for index, name in enumerate(METRIC_NAMES, start=1):
            self.overlap.horizontalHeaderItem(index).setToolTip(
                f"{name}: {METRIC_DESCRIPTIONS[name]}")
        self.overlap.horizontalHeaderItem(len(columns) - 1).setToolTip(
            "leak_flag: " + IMAGE_RULE_TIP)
        self.overlap.verticalHeader().setVisible(False)
        self.overlap.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.overlap.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.overlap.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.overlap.verticalHeader().setDefaultSectionSize(22)
        self.overlap.horizontalHeader().setStretchLastSection(True)
        self._fit_overlap(1)
        self.overlap.itemSelectionChanged.connect(self._selected_row)
        overlap_layout.addWidget(self.overlap)
        rule_row = QHBoxLayout()
        rule_label = QLabel("Leak when top-5% share <")
        rule_label.setToolTip(IMAGE_RULE_TIP)
        rule_row.addWidget(rule_label)
        self.min_topk_share = QDoubleSpinBox()
        self.min_topk_share.setObjectName("min_topk_share")
        self.min_topk_share.setToolTip(IMAGE_RULE_TIP)
        self.min_topk_share.setRange(0.0, 1.0)
        self.min_topk_share.setSingleStep(0.05)
        rule_row.addWidget(self.min_topk_share)
        rule_row.addSpacing(12)
        folder_label = QLabel("Folder leak at ≥")
        folder_label.setToolTip(FOLDER_RULE_TIP)
        rule_row.addWidget(folder_label)
        self.max_flag_rate = QSpinBox()
        self.max_flag_rate.setObjectName("max_flag_rate")
        self.max_flag_rate.setToolTip(FOLDER_RULE_TIP)
        self.max_flag_rate.setRange(1, 100)
        self.max_flag_rate.setSuffix(" % flagged")
        rule_row.addWidget(self.max_flag_rate)
        rule_row.addStretch(1)
        overlap_layout.addLayout(rule_row)
        self.show_rule(state.rule)
        self.min_topk_share.valueChanged.connect(self._rule_typed)
        self.max_flag_rate.valueChanged.connect(self._rule_typed)
        state.events.rule.connect(self.show_rule)
        state.events.target.connect(self.show_target)
        self.mask_note = QLabel("")
        self.mask_note.setStyleSheet("color: gray")
        self.mask_note.setWordWrap(True)
        overlap_layout.addWidget(self.mask_note)
        for box in (overlap_box, layers_box, lime_box):
            layout.addWidget(box)
        layout.addStretch(1)
        self.rows: list[dict[str, Any]] = []

    # -- verdict rule ---------------------------------------------------------------------------
    def rule(self) -> VerdictRule:
        return VerdictRule(min_topk_share=self.min_topk_share.value(),
                           max_flag_rate=self.max_flag_rate.value() / 100)

    def show_rule(self, rule: VerdictRule) -> None:
        """Show ``rule`` in the boxes (a box already showing its value is left alone, so
        that typing in it is not disturbed)."""
        for box, value in ((self.min_topk_share, rule.min_topk_share),
                           (self.max_flag_rate, round(rule.max_flag_rate * 100))):
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)

    def _rule_typed(self) -> None:
        self.state.rule = self.rule()

    # -- target -------------------------------------------------------------------------------
    def _target_chosen(self) -> None:
        self.state.target = self.target.currentData()

    def show_target(self, target: int | None) -> None:
        """Select ``target`` in the picker; one the model lacks becomes "Predicted class"."""
        index = self.target.findData(target)
        self.target.blockSignals(True)
        self.target.setCurrentIndex(max(0, index))
        self.target.blockSignals(False)
        if index < 0:
            self._target_chosen()

    # -- model / prediction ---------------------------------------------------------------------
    def show_model_loading(self, path: str, recent: Sequence[str]) -> None:
        """``path`` is being loaded; ``recent``: the recent models, for the picker."""
        self.model_picker.set_recent(recent)
        self.model_picker.set_current(path)
        self.model_info.setText(f"Loading {Path(path).name}…")

    def set_model(self, model, path: str) -> None:
        self.model_picker.set_current(path)
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItem("Predicted class", None)
        if model is None:
            self.model_info.setText("No model loaded")
        else:
            self.model_info.setText(f"{model.arch}, {model.num_classes} classes, input "
                                    f"{model.input_size[1]}×{model.input_size[0]}, "
                                    f"{model.device}")
            for index, name in enumerate(model.classes):
                self.target.addItem(name, index)
        self.target.blockSignals(False)
        self.show_target(self.state.target)
        self.set_prediction(None, [])

    def set_prediction(self, probabilities: np.ndarray | None, classes: Sequence[str]) -> None:
        order = [] if probabilities is None else list(np.argsort(-probabilities)[:5])
        rows = min(5, len(classes)) if classes else 5
        for row in range(5):
            self.top5.setRowHidden(row, row >= rows)
            if row < len(order):
                index = int(order[row])
                value = float(probabilities[index])
                name = QTableWidgetItem(classes[index])
                if row == 0:
                    font = name.font()
                    font.setBold(True)
                    name.setFont(font)
                self.top5.setItem(row, 0, name)
                self.bars[row].setValue(int(round(value * 1000)))
                percent = QTableWidgetItem(f"{value:.1%}")
                percent.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                         | Qt.AlignmentFlag.AlignVCenter)
                self.top5.setItem(row, 2, percent)
            else:
                self.top5.setItem(row, 0, QTableWidgetItem(""))
                self.top5.setItem(row, 2, QTableWidgetItem(""))
                self.bars[row].setValue(0)

    def top5_text(self) -> list[tuple[str, str]]:
        return [((self.top5.item(row, 0) or QTableWidgetItem("")).text(),
                 (self.top5.item(row, 2) or QTableWidgetItem("")).text()) for row in range(5)]

    # -- LIME ---------------------------------------------------------------------------------
    def set_lime_running(self, running: bool) -> None:
        self.lime_cancel.setEnabled(running)
        self.lime_button.setText("LIME running…" if running else "Run LIME  (L)")

    # -- overlap -------------------------------------------------------------------------------
    def show_region(self, present: bool) -> None:
        """Whether the image has an expected region (without one, say how to make it)."""
        self.mask_note.setText("" if present else NO_REGION)

    def set_overlap(self, rows: list[dict[str, Any]]) -> None:
        selected = self.selected_method()
        self.rows = rows
        self.overlap.setRowCount(len(rows))
        self._fit_overlap(len(rows))
        for row_index, row in enumerate(rows):
            method = row["method"]
            item = QTableWidgetItem(METHODS[method].label if method in METHODS else method)
            item.setData(Qt.ItemDataRole.UserRole, method)
            self.overlap.setItem(row_index, 0, item)
            for column, name in enumerate(METRIC_NAMES, start=1):
                cell = QTableWidgetItem(fmt(row.get(name)))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.overlap.setItem(row_index, column, cell)
            text, color = flag_text(row.get("leak_flag"))
            verdict = QTableWidgetItem(text)
            verdict.setForeground(color)
            font = verdict.font()
            font.setBold(True)
            verdict.setFont(font)
            self.overlap.setItem(row_index, len(METRIC_NAMES) + 1, verdict)
            if method == selected:
                self.overlap.selectRow(row_index)

    def _fit_overlap(self, rows: int) -> None:
        header = self.overlap.horizontalHeader().sizeHint().height()
        self.overlap.setFixedHeight(header + max(1, rows) * 22 + 4)

    def overlap_value(self, method: str, metric: str) -> Any:
        for row in self.rows:
            if row["method"] == method:
                return row.get(metric)
        return None

    def selected_method(self) -> str | None:
        items = self.overlap.selectedItems()
        if not items:
            return None
        first = self.overlap.item(items[0].row(), 0)
        return first.data(Qt.ItemDataRole.UserRole) if first else None

    def _selected_row(self) -> None:
        method = self.selected_method()
        if method:
            self.methodSelected.emit(method)
