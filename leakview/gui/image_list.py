"""The image list: a QAbstractTableModel over the folder's files (``images.discover_images``;
nothing is decoded) behind a QSortFilterProxyModel.

Columns: name, true label (``images.true_label`` with the model's classes), prediction and
confidence, mask present (checked lazily, only for rows Qt asks about), and a coloured badge of
the chosen method's top-k share in the mask (``topk_intersection``, the metric the leak rule
judges) once known (from the image's own overlap rows or from "Analyze folder"); its colour is
the rule's verdict on that same value (:func:`leakview.verdict.leak_flag` under the state's
rule). 10,000 rows show at once: every cell is computed on demand.

Names are elided folder first (:func:`elide_name`, painted by :class:`NameDelegate`), so that
twins such as ``corn/hd_truck_0001.jpg`` and ``corn/vga_truck_0001.jpg`` stay distinguishable
in a narrow list; the tooltip has the whole relative name. The name column fills the list
until the user drags its edge (then it keeps the width chosen, and the list scrolls sideways).

The folder and the masks root are the window's :class:`leakview.appstate.AppState`'s; a new
masks root re-checks the Mask column (one walk of the masks folder: ``layout.region_names``).
Under the list: "N images · annotated A of M" (images with an expected-region mask) and the
filter "Only without a mask", which keeps the image on screen listed until the user moves on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from leakview.appstate import AppState
from leakview.attribution import METHODS
from leakview.csvio import parse_number
from leakview.gui.screen_fit import FillingColumn
from leakview.images import FolderListing, relative_name, true_label
from leakview.layout import region_names
from leakview.masks import mask_path
from leakview.verdict import leak_flag, suspect_threshold, topk_threshold

ANNOTATED_TIP = "Annotated: images with an expected-region mask (drawn or imported)."

COLUMNS = ("Image", "Label", "Prediction", "Mask", "Badge")
NAME, LABEL, PREDICTED, MASK, BADGE = range(len(COLUMNS))
NAME_MIN_WIDTH = 130
"""Below this the name column stops shrinking and the list scrolls sideways."""
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
LEAK_BG, OK_BG, UNDEFINED_BG, ERROR_BG = (QColor(239, 83, 80), QColor(102, 187, 106),
                                          QColor(158, 158, 158), QColor(255, 167, 38))


@dataclass(frozen=True)
class BadgeResult:
    """What the badge of one (image, method) needs: the judged metric and the mask area."""

    topk_share: float | None       #: ``topk_intersection``
    mask_area: float | None        #: ``mask_area_frac``
    error: str = ""
    suspect_share: float | None = None   #: ``suspect_topk_share``
    suspect_area: float | None = None    #: ``suspect_area_frac``


@dataclass
class ImageRow:
    path: Path
    name: str
    label: str | None = None
    predicted: str = ""
    confidence: float | None = None
    has_mask: bool | None = None     # None = not checked yet
    error: str = ""
    results: dict[str, BadgeResult] = field(default_factory=dict)


class ImageTableModel(QAbstractTableModel):
    masksCounted = Signal()
    """The number of images with a mask (:attr:`annotated`) may have changed."""

    def __init__(self, state: AppState, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.rows: list[ImageRow] = []
        self.index_of: dict[str, int] = {}
        self.classes: Sequence[str] = ()
        self.badge_method = "saliency"
        self.annotated = 0
        """How many of the images have an expected-region mask file."""
        state.events.masks_root.connect(self.refresh_masks)
        state.events.rule.connect(lambda *_: self._changed_all(BADGE))
        state.events.topk_fraction.connect(lambda *_: self._changed_all(BADGE))

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
        self._find_masks()
        self.endResetModel()
        self.masksCounted.emit()

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
            row.results[str(result["method"])] = BadgeResult(
                parse_number(result.get("topk_intersection")),
                parse_number(result.get("mask_area_frac")), str(result.get("error") or ""),
                parse_number(result.get("suspect_topk_share")),
                parse_number(result.get("suspect_area_frac")))
        self._row_changed(number)

    def badge_flag(self, result: BadgeResult) -> int | None:
        """The leak flag of the badge's value under the state's rule (1, 0, None)."""
        return leak_flag({"topk_intersection": result.topk_share,
                          "mask_area_frac": result.mask_area,
                          "suspect_topk_share": result.suspect_share,
                          "suspect_area_frac": result.suspect_area}, self.state.rule,
                         self.state.topk_fraction)

    def badge_tooltip(self, result: BadgeResult) -> str:
        """Which metric the badge shows, its value and the threshold it is judged against."""
        method = METHODS[self.badge_method].label if self.badge_method in METHODS \
            else self.badge_method
        top = f"top-{self.state.topk_fraction:.0%}"
        if result.error and result.topk_share is None:
            return f"{method}: {result.error}"
        if result.topk_share is None:
            text = f"{method}: {top} share in the mask undefined (no mask, or an all-zero map)"
        else:
            text = (f"{method}: {top} share in the mask (topk_intersection) "
                    f"{result.topk_share:.2f}")
            threshold = topk_threshold(result.mask_area, self.state.rule,
                                       self.state.topk_fraction)
            if threshold is not None:
                text += f"; leak below {threshold:.2f}"
                if threshold < self.state.rule.min_topk_share:
                    text += (f" ({self.state.rule.min_topk_share:g} of the share a mask of "
                             f"{result.mask_area:.1%} can hold)")
        limit = suspect_threshold(result.suspect_area, self.state.rule,
                                  self.state.topk_fraction)
        if result.suspect_share is not None and limit is not None:
            text += (f"\nsuspect region: {top} share {result.suspect_share:.2f} "
                     f"(suspect_topk_share); leak above {limit:.2f}")
        return text

    def refresh_masks(self) -> None:
        """Look at the mask files again (another masks root, an import)."""
        self._find_masks()
        self._changed_all(MASK)
        self.masksCounted.emit()

    def _find_masks(self) -> None:
        root = self.state.root
        try:
            names = region_names(root, masks_root=self.state.masks_root) if root else set()
        except (OSError, ValueError):
            names = set()
        for row in self.rows:
            row.has_mask = row.name in names
        self.annotated = sum(1 for row in self.rows if row.has_mask)

    def mark_mask(self, path: Path | str, present: bool) -> None:
        number = self.row_for(path)
        if number is not None:
            row = self.rows[number]
            if row.has_mask is not None and row.has_mask != present:
                self.annotated += 1 if present else -1
            row.has_mask = present
            self.dataChanged.emit(self.index(number, MASK), self.index(number, MASK))
            self.masksCounted.emit()

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
            return (f"top-{self.state.topk_fraction:.0%} share in the mask (topk_intersection) "
                    f"of the chosen method, the metric the leak rule judges; red = below the "
                    f"rule's threshold (leak), green = not, grey = undefined")
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
                if result.error and result.topk_share is None:
                    return "error"
                text = "–" if result.topk_share is None else f"{result.topk_share:.2f}"
                return text + (" LEAK" if self.badge_flag(result) == 1 else "")
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
                return -1.0 if result is None or result.topk_share is None \
                    else result.topk_share
            return self.data(index, Qt.ItemDataRole.DisplayRole) or ""
        if role == Qt.ItemDataRole.BackgroundRole and column == BADGE and result is not None:
            if result.error and result.topk_share is None:
                return ERROR_BG
            return {1: LEAK_BG, 0: OK_BG}.get(self.badge_flag(result), UNDEFINED_BG)
        if role == Qt.ItemDataRole.ForegroundRole and column == BADGE and result is not None:
            return QColor(255, 255, 255)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (MASK, BADGE):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == BADGE and result is not None:
                return self.badge_tooltip(result)
            if row.error:
                return f"{row.name}: {row.error}"
            return row.name
        return None


def elide_name(name: str, metrics: QFontMetrics, width: int) -> str:
    """``name`` (a ``/``-separated relative name) as it fits ``width`` pixels: whole; else with
    its folders dropped first, outermost first (``…/hd_truck_0001.jpg``, the file name whole);
    else the file name alone, without its extension (the part images share most) and elided in
    the middle, which keeps both ends, where twins differ (``hd_…0001`` / ``vga…0001``). A
    width of 0 or less (no room known) keeps the name."""
    if width <= 0 or metrics.horizontalAdvance(name) <= width:
        return name
    folders = name.split("/")
    file = folders.pop()
    for first in range(1, len(folders) + 1):   # whole folders go, the outermost first
        shortened = "/".join(["…", *folders[first:], file])
        if metrics.horizontalAdvance(shortened) <= width:
            return shortened
    if metrics.horizontalAdvance(file) <= width:
        return file
    stem = file.rsplit(".", 1)[0] if "." in file.lstrip(".") else file
    return metrics.elidedText(stem, Qt.TextElideMode.ElideMiddle, width)


class NameDelegate(QStyledItemDelegate):
    """Paints names elided by :func:`elide_name` (for the text room the style gives the cell);
    size hints measure the whole name, so that fitting the column to its contents shows it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._measuring = False

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        if not self._measuring:
            option.text = elide_name(option.text, option.fontMetrics, text_room(option))

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex):  # noqa: N802
        self._measuring = True
        try:
            return super().sizeHint(option, index)
        finally:
            self._measuring = False


def text_room(option: QStyleOptionViewItem) -> int:
    """The width the style draws an item's text in (its text rectangle less the margins
    QCommonStyle leaves on both sides), as Qt elides it."""
    widget = option.widget
    style = widget.style() if widget is not None else QApplication.style()
    rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, widget)
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
    return rect.width() - 2 * margin


class ImageFilter(QSortFilterProxyModel):
    """Case-insensitive substring filter over name, label and prediction; with
    ``without_mask`` only the images without a mask, and the ``pinned`` one (on screen)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.text = ""
        self.without_mask = False
        self.pinned: str | None = None
        self.setSortRole(SORT_ROLE)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_without_mask(self, on: bool) -> None:
        self.beginFilterChange()
        self.without_mask = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def pin(self, path: str | None) -> None:
        """Keep ``path`` listed (the image on screen); the one pinned before is filtered
        again."""
        before, self.pinned = self.pinned, path
        model = self.sourceModel()
        number = model.row_for(before) if before is not None and self.without_mask else None
        if number is not None:      # dataChanged re-filters that row alone
            model.dataChanged.emit(model.index(number, MASK), model.index(number, MASK))

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 (Qt API)
        model = self.sourceModel()
        row = model.rows[source_row]
        if self.without_mask and model._has_mask(row) and str(row.path) != self.pinned:
            return False
        if not self.text:
            return True
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
        self.filter.returnPressed.connect(self.focus_list)
        top.addWidget(self.filter, 1)
        self.badge = QComboBox()
        for method, info in METHODS.items():
            self.badge.addItem(info.label, method)
        self.badge.setToolTip("Method whose top-5% share in the mask (the metric the leak "
                              "rule judges) the badge shows")
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
        self.view.setItemDelegateForColumn(NAME, NameDelegate(self.view))
        for column, width in ((LABEL, 62), (PREDICTED, 92), (MASK, 36), (BADGE, 70)):
            self.view.setColumnWidth(column, width)
        self.name_column = FillingColumn(self.view, NAME, NAME_MIN_WIDTH)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setWordWrap(False)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        layout.addWidget(self.view, 1)
        self.not_images: list[str] = []
        self.count = QLabel("")
        self.count.setObjectName("image_count")
        self.count.setStyleSheet("color: gray")
        self.count.setWordWrap(True)        # a longer count wraps; it never widens the dock
        self.count.setToolTip(ANNOTATED_TIP)
        layout.addWidget(self.count)
        self.without_mask = QCheckBox("Only images without a mask")
        self.without_mask.setObjectName("without_mask")
        self.without_mask.setToolTip("List only the images that have no expected-region mask "
                                     "yet (the image on screen stays until you move on)")
        self.without_mask.toggled.connect(self.set_without_mask)
        layout.addWidget(self.without_mask)
        self.model.masksCounted.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

    def _update_count(self, *args) -> None:
        total, shown = len(self.model.rows), self.proxy.rowCount()
        listed = f"{total} images" if shown == total else f"{shown} of {total} images"
        count = len(self.not_images)
        if count:
            listed += f"; {count} other file{'s' if count != 1 else ''} skipped"
        self.count.setText(f"{listed} · annotated {self.model.annotated} of {total}"
                           if total else listed)

    def set_without_mask(self, on: bool) -> None:
        """List only the images without a mask (and the one on screen), or all."""
        if self.without_mask.isChecked() != on:
            self.without_mask.setChecked(on)    # toggled calls this again
            return
        self.proxy.pin(self.current_path())
        self.proxy.set_without_mask(on)
        current = self.view.currentIndex()
        if current.isValid():
            self.view.scrollTo(current)
        self._update_count()

    def previous_path(self, path: str | Path) -> Path | None:
        """The image before ``path`` in the list's order (its sort order; the filters
        ignored: the image above it among all of the folder's), None for the first."""
        number = self.model.row_for(path)
        if number is None:
            return None
        column = self.proxy.sortColumn()
        order = list(range(len(self.model.rows)))
        if column >= 0:
            key = [self.model.data(self.model.index(row, column), SORT_ROLE) for row in order]
            order.sort(key=key.__getitem__,
                       reverse=self.proxy.sortOrder() == Qt.SortOrder.DescendingOrder)
        place = order.index(number)
        return self.model.rows[order[place - 1]].path if place > 0 else None

    def set_images(self, paths: Sequence[Path], classes: Sequence[str] = (),
                   listing: FolderListing | None = None) -> None:
        """List ``paths`` (images of the state's folder) and select none; the count says how
        many files of ``listing`` were skipped as not images (named in its tooltip)."""
        self.proxy.pinned = None
        self.not_images = list(listing.not_images) if listing is not None else []
        tips = [ANNOTATED_TIP]
        if listing is not None:
            for what, names, shown in (("Not images, skipped", listing.not_images, 10),
                                       ("Hidden, not scanned", listing.hidden, 5)):
                if names:
                    more = f" and {len(names) - shown} more" if len(names) > shown else ""
                    tips.append(f"{what}: {', '.join(names[:shown])}{more}.")
        self.count.setToolTip(" ".join(tips))
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
            path = str(current.data(PATH_ROLE))
            self.proxy.pin(path)
            self.current.emit(path)

    def focus_list(self) -> None:
        """Enter in the filter box: the keyboard goes to the list (onto its first row when
        nothing shown is current), where D, A and the other single keys work."""
        if not self.view.currentIndex().isValid() and self.proxy.rowCount():
            self.view.setCurrentIndex(self.proxy.index(0, 0))
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

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

