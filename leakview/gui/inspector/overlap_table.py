"""The overlap table: one row per layer of the image on screen, its metrics and verdict."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from leakview.attribution import METHODS
from leakview.metrics import METRIC_DESCRIPTIONS, METRIC_NAMES

LEAK_COLOR, OK_COLOR, UNKNOWN_COLOR = QColor(229, 57, 53), QColor(67, 160, 71), QColor(120, 120,
                                                                                       120)
METRIC_SHORT = {"mask_area_frac": "area", "mass_in_mask": "mass", "rank_accuracy": "rank",
                "pointing_hit": "point", "topk_intersection": "top-k", "auc": "AUC",
                "concentration": "conc."}
IMAGE_RULE_TIP = ("LEAK when less than this share of the image's 5% most-attributed pixels lies "
                  "in the expected region (scaled down for masks smaller than 5% of the image)")
ROW_HEIGHT = 22


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


class OverlapTable(QTableWidget):
    """The rows (``ScanRow`` dicts) of the image on screen; selecting one emits
    ``methodSelected(method)``."""

    methodSelected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        columns = ["method", *[METRIC_SHORT[name] for name in METRIC_NAMES], "verdict"]
        super().__init__(0, len(columns), parent)
        self.setObjectName("overlap")
        self.setHorizontalHeaderLabels(columns)
        for index, name in enumerate(METRIC_NAMES, start=1):
            self.horizontalHeaderItem(index).setToolTip(f"{name}: {METRIC_DESCRIPTIONS[name]}")
        self.horizontalHeaderItem(len(columns) - 1).setToolTip("leak_flag: " + IMAGE_RULE_TIP)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.horizontalHeader().setStretchLastSection(True)
        self._fit(1)
        self.itemSelectionChanged.connect(self._selected_row)
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Show ``rows``, keeping the selected method selected."""
        selected = self.selected_method()
        self.rows = rows
        self.setRowCount(len(rows))
        self._fit(len(rows))
        for row_index, row in enumerate(rows):
            method = row["method"]
            item = QTableWidgetItem(METHODS[method].label if method in METHODS else method)
            item.setData(Qt.ItemDataRole.UserRole, method)
            self.setItem(row_index, 0, item)
            for column, name in enumerate(METRIC_NAMES, start=1):
                cell = QTableWidgetItem(fmt(row.get(name)))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row_index, column, cell)
            text, color = flag_text(row.get("leak_flag"))
            verdict = QTableWidgetItem(text)
            verdict.setForeground(color)
            font = verdict.font()
            font.setBold(True)
            verdict.setFont(font)
            self.setItem(row_index, len(METRIC_NAMES) + 1, verdict)
            if method == selected:
                self.selectRow(row_index)

    def _fit(self, rows: int) -> None:
        """Room for every row, and for the sideways scroll bar of a narrow inspector."""
        header = self.horizontalHeader().sizeHint().height()
        scroll_bar = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(header + max(1, rows) * ROW_HEIGHT + scroll_bar + 4)

    def value(self, method: str, metric: str) -> Any:
        """``metric`` of ``method``'s row (None: no such row)."""
        for row in self.rows:
            if row["method"] == method:
                return row.get(metric)
        return None

    def selected_method(self) -> str | None:
        items = self.selectedItems()
        if not items:
            return None
        first = self.item(items[0].row(), 0)
        return first.data(Qt.ItemDataRole.UserRole) if first else None

    def _selected_row(self) -> None:
        method = self.selected_method()
        if method:
            self.methodSelected.emit(method)
