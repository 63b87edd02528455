"""Window and dock sizes that fit the screen the window opens on.

:func:`window_geometry` puts the window inside the screen's available geometry (a saved
geometry that no longer fits, e.g. saved on a bigger monitor, is shrunk and moved in);
:func:`side_dock_widths` and :func:`folder_dock_height` size the docks from the window's size,
so that the image area keeps at least half the width on a laptop screen (1280x720) and the
docks get their usual sizes on a wide one.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QRect, QSize

PREFERRED_SIZE = QSize(1500, 920)
"""The window's size on a screen that has room for it."""
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
    inside; without ``saved``, ``preferred`` (shrunk to fit) centred on the screen. ``frame``
    is kept free around the rectangle for the window manager's decoration."""
    room = available.marginsRemoved(frame)
    if saved is not None and saved.isValid() and room.contains(saved):
        return QRect(saved)
    wanted = saved.size() if saved is not None and saved.isValid() else preferred
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
