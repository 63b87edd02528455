"""The image list: a QAbstractTableModel over the folder's files (``images.discover_images``;
nothing is decoded) behind a QSortFilterProxyModel.

Columns: name, true label (``images.true_label`` with the model's classes), prediction and
confidence, mask present (checked lazily, only for rows Qt asks about), and a coloured badge of
the chosen method's ``mass_in_mask`` / leak flag once known (from the image's own overlap rows
or from "Analyze folder"). 10,000 rows show at once: every cell is computed on demand.

The folder and the masks root are the window's :class:`leakview.appstate.AppState`'s; a new
masks root re-checks the Mask column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from leakview.appstate import AppState
from leakview.attribution import METHODS
from leakview.csvio import parse_number
from leakview.gui.screen_fit import FillingColumn
from leakview.images import relative_name, true_label
from leakview.masks import mask_path

COLUMNS = ("Image", "Label", "Prediction", "Mask", "Badge")
NAME, LABEL, PREDICTED, MASK, BADGE = range(len(COLUMNS))
NAME_MIN_WIDTH = 130
"""Below this the name column stops shrinking and the list scrolls sideways."""
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
LEAK_BG, OK_BG, UNDEFINED_BG, ERROR_BG = (QColor(239, 83, 80), QColor(102, 187, 106),
                                          QColor(158, 158, 158), QColor(255, 167, 38))


@dataclass
class ImageRow:
    path: Path
    name: str
    label: str | None = None
    predicted: str = ""
    confidence: float | None = None
    has_mask: bool | None = None     # None = not checked yet
    error: str = ""
    results: dict[str, tuple[float | None, int | None, str]] = field(default_factory=dict)


class ImageTableModel(QAbstractTableModel):
    def __init__(self, state: AppState, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.rows: list[ImageRow] = []
        self.index_of: dict[str, int] = {}
        self.classes: Sequence[str] = ()
        self.badge_method = "saliency"
        state.events.masks_root.connect(self.refresh_masks)

    # -- content ---------------------------------------------------------------------------
    def set_images(self, paths: Sequence[Path], classes: Sequence[str] = ()) -> None:
        """List ``paths``, images of the state's folder."""
        root = self.state.root
        if root is None:
            raise ValueError("set_images needs the state's folder")
        self.beginResetModel()
        self.classes = tuple(classes)
        self.rows = [ImageRow(path, relative_name(path, root)) for path in paths]
        self.index_of = {str(row.path): number for number, row in enumerate(self.rows)}
        self._label_rows()
        self.endResetModel()

    def set_classes(self, classes: Sequence[str]) -> None:
        self.classes = tuple(classes)
        self._label_rows()
        for row in self.rows:
            row.predicted, row.confidence, row.results = "", None, {}
        self._changed_all()

    def _label_rows(self) -> None:
        root = self.state.root
        for row in self.rows:
            row.label = (true_label(row.path, root, self.classes)
                         if self.classes and root is not None else None)

    def paths(self) -> list[Path]:
        return [row.path for row in self.rows]

    def set_badge_method(self, method: str) -> None:
        self.badge_method = method
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, BADGE, BADGE)
        self._changed_all(BADGE)

    def _changed_all(self, column: int | None = None) -> None:
        if self.rows:
            first = self.index(0, column if column is not None else 0)
            last = self.index(len(self.rows) - 1,
                              column if column is not None else len(COLUMNS) - 1)
            self.dataChanged.emit(first, last)

    def _row_changed(self, number: int) -> None:
        self.dataChanged.emit(self.index(number, 0), self.index(number, len(COLUMNS) - 1))

    def row_for(self, path: Path | str) -> int | None:
        return self.index_of.get(str(path))

    def set_prediction(self, path: Path | str, predicted: str, confidence: float) -> None:
        number = self.row_for(path)
        if number is not None:
            row = self.rows[number]
            row.predicted, row.confidence = predicted, float(confidence)
            self._row_changed(number)

    def set_results(self, path: Path | str, rows: Sequence[dict[str, Any]]) -> None:
        """Store a batch of CSV-shaped rows (one per method) for one image."""
        number = self.row_for(path)
        if number is None or not rows:
            return
        row = self.rows[number]
        first = rows[0]
        row.error = str(first.get("error") or "")
        if first.get("predicted"):
            row.predicted = str(first["predicted"])
            row.confidence = parse_number(first.get("confidence"))
        for result in rows:
            flag = parse_number(result.get("leak_flag"))
            row.results[str(result["method"])] = (
                parse_number(result.get("mass_in_mask")), None if flag is None else int(flag),
                str(result.get("error") or ""))
        self._row_changed(number)

    def refresh_masks(self) -> None:
        for row in self.rows:
            row.has_mask = None
        self._changed_all(MASK)

    def mark_mask(self, path: Path | str, present: bool) -> None:
        number = self.row_for(path)
        if number is not None:
            self.rows[number].has_mask = present
            self.dataChanged.emit(self.index(number, MASK), self.index(number, MASK))

    def _has_mask(self, row: ImageRow) -> bool:
        root = self.state.root
        if row.has_mask is None and root is not None:
            try:
                row.has_mask = mask_path(root, row.path, self.state.masks_root).is_file()
            except (OSError, ValueError):
                row.has_mask = False
        return bool(row.has_mask)

    # -- Qt model API ----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if section == BADGE:
                return METHODS[self.badge_method].label if self.badge_method in METHODS \
                    else self.badge_method
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole \
                and section == BADGE:
            return "mass_in_mask of the chosen method; red = leak flag, green = no leak"
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == PATH_ROLE:
            return str(row.path)
        result = row.results.get(self.badge_method)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == NAME:
                return row.name
            if column == LABEL:
                return row.label or ""
            if column == PREDICTED:
                if row.error and not row.predicted:
                    return "error"
                if row.confidence is None:
                    return row.predicted
                return f"{row.predicted} {row.confidence:.0%}"
            if column == MASK:
                return "✓" if self._has_mask(row) else ""
            if column == BADGE and result is not None:
                mass, flag, error = result
                if error and mass is None:
                    return "error"
                text = "–" if mass is None else f"{mass:.2f}"
                return text + (" LEAK" if flag == 1 else "")
            return None
        if role == SORT_ROLE:
            if column == NAME:
                return index.row()  # discovery order is the natural order
            if column == PREDICTED:
                confidence = -1.0 if row.confidence is None else row.confidence
                return f"{row.predicted}\t{confidence + 1:09.6f}"
            if column == MASK:
                return int(self._has_mask(row))
            if column == BADGE:
                return -1.0 if result is None or result[0] is None else result[0]
            return self.data(index, Qt.ItemDataRole.DisplayRole) or ""
        if role == Qt.ItemDataRole.BackgroundRole and column == BADGE and result is not None:
            mass, flag, error = result
            if error and mass is None:
                return ERROR_BG
            return {1: LEAK_BG, 0: OK_BG}.get(flag, UNDEFINED_BG)
        if role == Qt.ItemDataRole.ForegroundRole and column == BADGE and result is not None:
            return QColor(255, 255, 255)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (MASK, BADGE):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.error:
                return f"{row.name}: {row.error}"
            return row.name
        return None


class ImageFilter(QSortFilterProxyModel):
    """Case-insensitive substring filter over name, label and prediction."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.text = ""
        self.setSortRole(SORT_ROLE)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 (Qt API)
        if not self.text:
            return True
        row = self.sourceModel().rows[source_row]
        return any(self.text in value.lower()
                   for value in (row.name, row.label or "", row.predicted))


class ImageList(QWidget):
    """Filter box + sortable table; ``current(path)`` when the selection moves."""

    current = Signal(str)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImageTableModel(state, self)
        self.proxy = ImageFilter(self)
        self.proxy.setSourceModel(self.model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (name, label, prediction)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.set_text)
        top.addWidget(self.filter, 1)
        self.badge = QComboBox()
        for method, info in METHODS.items():
            self.badge.addItem(info.label, method)
        self.badge.setToolTip("Method whose mass_in_mask / leak flag the badge shows")
        self.badge.currentIndexChanged.connect(
            lambda _: self.model.set_badge_method(self.badge.currentData()))
        top.addWidget(self.badge)
        layout.addLayout(top)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.view.horizontalHeader()
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        for column, width in ((LABEL, 62), (PREDICTED, 92), (MASK, 36), (BADGE, 70)):
            self.view.setColumnWidth(column, width)
        self.name_column = FillingColumn(self.view, NAME, NAME_MIN_WIDTH)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setWordWrap(False)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        layout.addWidget(self.view, 1)
        self.count = QLabel("")
        self.count.setStyleSheet("color: gray")
        layout.addWidget(self.count)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

    def _update_count(self, *args) -> None:
        total, shown = len(self.model.rows), self.proxy.rowCount()
        self.count.setText(f"{total} images" if shown == total else f"{shown} of {total} images")

    def set_images(self, paths: Sequence[Path], classes: Sequence[str] = ()) -> None:
        """List ``paths`` (images of the state's folder) and select none."""
        self.model.set_images(paths, classes)
        self._update_count()

    def show_badge(self, method: str) -> None:
        """Badge the images with ``method``'s result."""
        index = self.badge.findData(method)
        if index >= 0 and self.badge.model().item(index).isEnabled():
            self.badge.setCurrentIndex(index)

    def set_unavailable(self, reasons: Mapping[str, str]) -> None:
        """Grey out the badge methods that cannot run on the model (``reasons``: method ->
        why, as the item's tooltip); a badge on one of them moves to the first that can."""
        items = self.badge.model()
        for index in range(self.badge.count()):
            method = self.badge.itemData(index)
            items.item(index).setEnabled(method not in reasons)
            self.badge.setItemData(index, reasons.get(method), Qt.ItemDataRole.ToolTipRole)
        if self.badge.currentData() in reasons:
            usable = [index for index in range(self.badge.count())
                      if self.badge.itemData(index) not in reasons]
            if usable:
                self.badge.setCurrentIndex(usable[0])

    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if current.isValid():
            self.current.emit(str(current.data(PATH_ROLE)))

    def current_path(self) -> str | None:
        index = self.view.currentIndex()
        return str(index.data(PATH_ROLE)) if index.isValid() else None

    def select_path(self, path: str | Path) -> bool:
        number = self.model.row_for(path)
        if number is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(number, 0))
        if not index.isValid():
            return False
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    def step(self, delta: int) -> bool:
        """Select the next (``delta=1``) or previous (``-1``) visible row."""
        count = self.proxy.rowCount()
        if count == 0:
            return False
        index = self.view.currentIndex()
        row = index.row() + delta if index.isValid() else 0
        row = min(max(row, 0), count - 1)
        if index.isValid() and row == index.row():
            return False
        target = self.proxy.index(row, 0)
        self.view.setCurrentIndex(target)
        self.view.scrollTo(target)
        return True

