"""The overlap table: one row per layer of the image on screen, its metrics and verdict; when
the image has a suspect region, a second row under it ("↳ suspect", in the suspect region's
magenta) with the metrics against that region (``suspect_area_frac``, ``suspect_mass``,
``suspect_topk_share`` in the area, mass and top-k columns) and its flag (``suspect_flag``)."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from leakview import scanrow
from leakview.attribution import METHODS
from leakview.metrics import METRIC_DESCRIPTIONS, METRIC_NAMES

LEAK_COLOR, OK_COLOR, UNKNOWN_COLOR = QColor(229, 57, 53), QColor(67, 160, 71), QColor(120, 120,
                                                                                       120)
METRIC_SHORT = {"mask_area_frac": "area", "mass_in_mask": "mass", "rank_accuracy": "rank",
                "pointing_hit": "point", "topk_intersection": "top-k", "auc": "AUC",
                "concentration": "conc."}
IMAGE_RULE_TIP = ("LEAK when less than this share of the image's 5% most-attributed pixels lies "
                  "in the expected region (scaled down for masks smaller than 5% of the image)")
SUSPECT_RULE_TIP = ("LEAK when more than this share of the image's 5% most-attributed pixels "
                    "lies in its suspect region (scaled down for regions smaller than 5% of the "
                    "image)")
SUSPECT_METRICS = {metric: column for column, metric in scanrow.SUSPECT_METRICS.items()}
"""The suspect row's value in each metric column that has one."""
SUSPECT_COLOR = QColor(200, 40, 160)
SUSPECT_LABEL = "↳ suspect"
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


def has_suspect(row: Any) -> bool:
    """Whether a row has suspect-region metrics (the image has a suspect region)."""
    area = row.get("suspect_area_frac")
    try:
        return area is not None and area != "" and not math.isnan(float(area))
    except (TypeError, ValueError):
        return False


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
        self.horizontalHeaderItem(len(columns) - 1).setToolTip(
            "leak_flag: " + IMAGE_RULE_TIP + "; or " + SUSPECT_RULE_TIP + ". A suspect row's "
            "verdict is that second rule alone (suspect_flag).")
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
        """Show ``rows`` (and the suspect row of each that has one), keeping the selected
        method selected."""
        selected = self.selected_method()
        self.rows = rows
        lines: list[tuple[dict[str, Any], bool]] = []
        for row in rows:
            lines.append((row, False))
            if has_suspect(row):
                lines.append((row, True))
        self.setRowCount(len(lines))
        self._fit(len(lines))
        for row_index, (row, suspect) in enumerate(lines):
            method = row["method"]
            label = METHODS[method].label if method in METHODS else method
            item = QTableWidgetItem(SUSPECT_LABEL if suspect else label)
            item.setData(Qt.ItemDataRole.UserRole, method)
            if suspect:
                item.setForeground(SUSPECT_COLOR)
                item.setToolTip(f"{label}: the metrics against the image's suspect region")
            self.setItem(row_index, 0, item)
            for column, name in enumerate(METRIC_NAMES, start=1):
                if suspect:
                    value = row.get(SUSPECT_METRICS[name]) if name in SUSPECT_METRICS else None
                    text = fmt(value) if name in SUSPECT_METRICS else ""
                else:
                    text = fmt(row.get(name))
                cell = QTableWidgetItem(text)
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row_index, column, cell)
            text, color = flag_text(row.get("suspect_flag" if suspect else "leak_flag"))
            verdict = QTableWidgetItem(text)
            verdict.setForeground(color)
            font = verdict.font()
            font.setBold(True)
            verdict.setFont(font)
            self.setItem(row_index, len(METRIC_NAMES) + 1, verdict)
            if method == selected and not suspect:
                self.selectRow(row_index)

    def row_texts(self) -> list[list[str]]:
        """The cells shown, row by row (suspect rows included)."""
        return [[self.item(row, column).text() if self.item(row, column) else ""
                 for column in range(self.columnCount())] for row in range(self.rowCount())]

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
