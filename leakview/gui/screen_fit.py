"""Window and dock sizes that fit the screen the window opens on.

:func:`window_geometry` puts the window inside the screen's available geometry (a saved
geometry that no longer fits, e.g. saved on a bigger monitor, is shrunk and moved in);
:func:`side_dock_widths` and :func:`folder_dock_height` size the docks from the window's size,
so that the image area keeps at least half the width on a laptop screen (1280x720) and the
docks get their usual sizes on a wide one. :class:`FillingColumn` lets a table's main column
take the room its other columns leave without shrinking to nothing in a narrow dock.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMargins, QObject, QRect, QSize
from PySide6.QtWidgets import QHeaderView, QTableView

PREFERRED_SIZE = QSize(1500, 920)
"""The window's size at least, on a screen that has room for it."""
SCREEN_SHARE = 0.9
"""On a bigger screen, the window opens this share of it wide and high."""
FRAME = QMargins(4, 30, 4, 4)
"""Room left around the window for a window manager's frame and title bar, which are not part
of the geometry Qt sets and are not known before the window is shown."""
IMAGES_WIDTH, INSPECTOR_WIDTH = 440, 450
"""The side docks' widths on a wide screen."""
SIDE_DOCKS_SHARE = 0.48
"""At most this share of the window's width goes to the two side docks together."""
IMAGES_SHARE = 0.41
"""The image list's part of that share when it is cut (the inspector has the wider rows)."""
FOLDER_HEIGHT = 190
FOLDER_SHARE = 0.28
"""The folder dock's height: FOLDER_HEIGHT, or this share of a lower window."""


def window_geometry(available: QRect, saved: QRect | None = None,
                    preferred: QSize = PREFERRED_SIZE, frame: QMargins = FRAME) -> QRect:
    """The window's rectangle (without its frame) on a screen whose available geometry is
    ``available``: ``saved`` as it is when it fits, else ``saved`` shrunk to fit and moved
    inside; without ``saved``, ``preferred`` or SCREEN_SHARE of the screen, whichever is
    bigger (shrunk to fit), centred on the screen. ``frame`` is kept free around the rectangle
    for the window manager's decoration."""
    room = available.marginsRemoved(frame)
    if saved is not None and saved.isValid() and room.contains(saved):
        return QRect(saved)
    share = QSize(int(room.width() * SCREEN_SHARE), int(room.height() * SCREEN_SHARE))
    wanted = (saved.size() if saved is not None and saved.isValid()
              else preferred.expandedTo(share))
    size = wanted.boundedTo(room.size())
    if saved is None or not saved.isValid():
        rect = QRect(room.topLeft(), size)
        rect.moveCenter(room.center())
        return rect
    left = min(max(saved.left(), room.left()), room.right() - size.width() + 1)
    top = min(max(saved.top(), room.top()), room.bottom() - size.height() + 1)
    return QRect(left, top, size.width(), size.height())


def side_dock_widths(window_width: int) -> tuple[int, int]:
    """``(image list, inspector)`` widths for a window ``window_width`` wide: their usual
    widths when those leave the image area more than half the window, else together
    SIDE_DOCKS_SHARE of the width (the inspector, whose rows are wider, gets more)."""
    budget = int(window_width * SIDE_DOCKS_SHARE)
    if IMAGES_WIDTH + INSPECTOR_WIDTH <= budget:
        return IMAGES_WIDTH, INSPECTOR_WIDTH
    images = round(budget * IMAGES_SHARE)
    return images, budget - images


def folder_dock_height(window_height: int) -> int:
    """The folder dock's height for a window ``window_height`` high."""
    return min(FOLDER_HEIGHT, int(window_height * FOLDER_SHARE))


class FillingColumn(QObject):
    """Keeps ``column`` of ``view`` as wide as the room the other columns leave, but at least
    ``minimum`` pixels (the table then scrolls sideways), until the user drags its edge: from
    then on it keeps the width chosen. A ``QHeaderView.Stretch`` column does the former only
    while there is room: in a narrow dock it keeps a stale width or shrinks to the header's
    minimum section size, and it cannot be widened by hand."""

    def __init__(self, view: QTableView, column: int, minimum: int) -> None:
        super().__init__(view)
        self.view, self.column, self.minimum = view, column, minimum
        self.chosen = False
        self._fitting = False
        header = view.horizontalHeader()
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.sectionResized.connect(self._resized)
        view.viewport().installEventFilter(self)
        self.fit()

    def fit(self) -> None:
        if self.chosen:
            return
        header = self.view.horizontalHeader()
        others = sum(header.sectionSize(index) for index in range(header.count())
                     if index != self.column and not header.isSectionHidden(index))
        width = max(self.minimum, self.view.viewport().width() - others)
        if header.sectionSize(self.column) != width:
            self._fitting = True
            try:
                header.resizeSection(self.column, width)
            finally:
                self._fitting = False

    def _resized(self, index: int, _old: int, _new: int) -> None:
        if self._fitting:
            return
        if index == self.column:
            self.chosen = True      # the user dragged (or double-clicked) its edge
        else:
            self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False
