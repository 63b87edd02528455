"""The image list's name column: a relative name elided to fit its cell, folders first
(:func:`elide_name`), painted by :class:`NameDelegate`."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

__all__ = ["NameDelegate", "elide_name", "text_room"]


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
