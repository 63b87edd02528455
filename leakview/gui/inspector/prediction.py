"""The top-5 prediction (class, bar, probability) and the class to explain."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from leakview.appstate import AppState

ROWS = 5
ROW_HEIGHT = 22


class PredictionTable(QTableWidget):
    """The five most probable classes, the first in bold, each with a bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ROWS, 3, parent)
        self.setObjectName("top5")
        self.horizontalHeader().setVisible(False)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.setShowGrid(False)
        self.setMaximumHeight(ROWS * ROW_HEIGHT + 4)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.bars: list[QProgressBar] = []
        for row in range(ROWS):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setMaximumHeight(12)
            holder = QWidget()
            holder_layout = QHBoxLayout(holder)
            holder_layout.setContentsMargins(2, 0, 2, 0)
            holder_layout.addWidget(bar)
            self.setCellWidget(row, 1, holder)
            self.bars.append(bar)

    def set_prediction(self, probabilities: np.ndarray | None, classes: Sequence[str]) -> None:
        """Show the top classes of ``probabilities`` (None: empty rows)."""
        order = [] if probabilities is None else list(np.argsort(-probabilities)[:ROWS])
        rows = min(ROWS, len(classes)) if classes else ROWS
        for row in range(ROWS):
            self.setRowHidden(row, row >= rows)
            if probabilities is not None and row < len(order):
                index = int(order[row])
                value = float(probabilities[index])
                name = QTableWidgetItem(classes[index])
                if row == 0:
                    font = name.font()
                    font.setBold(True)
                    name.setFont(font)
                self.setItem(row, 0, name)
                self.bars[row].setValue(int(round(value * 1000)))
                percent = QTableWidgetItem(f"{value:.1%}")
                percent.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                         | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, 2, percent)
            else:
                self.setItem(row, 0, QTableWidgetItem(""))
                self.setItem(row, 2, QTableWidgetItem(""))
                self.bars[row].setValue(0)

    def texts(self) -> list[tuple[str, str]]:
        """(class, percentage) of every row, as shown."""
        return [((self.item(row, 0) or QTableWidgetItem("")).text(),
                 (self.item(row, 2) or QTableWidgetItem("")).text()) for row in range(ROWS)]


class TargetPicker(QComboBox):
    """The class to explain ("Predicted class" or one of the model's): shows and sets the
    state's ``target``."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.addItem("Predicted class", None)
        self.currentIndexChanged.connect(self._chosen)
        state.events.target.connect(self.show_target)

    def set_classes(self, classes: Sequence[str]) -> None:
        """Offer ``classes`` (a new model) and select the state's target again."""
        self.blockSignals(True)
        self.clear()
        self.addItem("Predicted class", None)
        for index, name in enumerate(classes):
            self.addItem(name, index)
        self.blockSignals(False)
        self.show_target(self.state.target)

    def show_target(self, target: int | None) -> None:
        """Select ``target``; one the model lacks becomes "Predicted class"."""
        index = self.findData(target)
        self.blockSignals(True)
        self.setCurrentIndex(max(0, index))
        self.blockSignals(False)
        if index < 0:
            self._chosen()

    def _chosen(self) -> None:
        self.state.target = self.currentData()
