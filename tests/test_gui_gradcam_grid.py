"""The Grad-CAM cell grid on the canvas: thin lines at the feature map's cell boundaries when
zoomed in (a cell over MIN_CELL_SCREEN_PX screen pixels), hidden when zoomed out or when the
Grad-CAM layer is hidden. Real key and wheel events."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QPainterPath, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from leakview.gui.cell_grid import MIN_CELL_SCREEN_PX  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    folder,
    image_template,
    key,
    make_window,
    settings,
    tiny_model,
    wait_layer,
)


def wheel(window, notches: int) -> None:
    """``notches`` wheel steps (positive: zoom in) at the centre of the canvas."""
    viewport = window.canvas.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def cell_on_screen(window) -> float:
    """A cell's smaller side in viewport pixels, measured by mapping the image's corners (the
    viewport's integer positions err by under a pixel over the whole grid)."""
    grid = window.canvas.cell_grid
    (rows, columns), (height, width) = grid.grid, grid.image_shape
    first = window.canvas.to_viewport(-0.5, -0.5)
    last = window.canvas.to_viewport(width - 0.5, height - 0.5)
    return min(abs(last.x() - first.x()) / columns, abs(last.y() - first.y()) / rows)


def past_fit(window) -> bool:
    """Part of the image is outside the viewport (measured from the image's corners)."""
    height, width = IMAGE_SHAPE
    first = window.canvas.to_viewport(-0.5, -0.5)
    last = window.canvas.to_viewport(width - 0.5, height - 0.5)
    viewport = window.canvas.viewport()
    return (first.x() < -1 or first.y() < -1 or last.x() > viewport.width() + 1
            or last.y() > viewport.height() + 1)


def shown_when(window) -> bool:
    return cell_on_screen(window) > MIN_CELL_SCREEN_PX and past_fit(window)


def line_positions(path: QPainterPath) -> tuple[list[float], list[float]]:
    """x of the vertical lines and y of the horizontal ones (each line is a move + a line)."""
    xs, ys = set(), set()
    for index in range(0, path.elementCount(), 2):
        start, end = path.elementAt(index), path.elementAt(index + 1)
        if start.x == end.x:
            xs.add(round(start.x, 6))
        else:
            ys.add(round(start.y, 6))
    return sorted(xs), sorted(ys)


def test_grid_shows_when_zoomed_in_and_hides_when_zoomed_out(qtbot, make_window, folder,
                                                             tiny_model):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window, "gradcam")
    attribution = window.session.attributions["gradcam"]
    rows, columns = attribution.extras["feature_size"]
    assert (rows, columns) == (8, 8)  # mobilenet_v3_small at 32 x 32, walked back from 1 x 1
    grid = window.canvas.cell_grid
    height, width = IMAGE_SHAPE
    assert grid.spacing == (width / columns, height / rows)
    xs, ys = line_positions(grid.path())
    assert xs == [k * width / columns for k in range(1, columns)]
    assert ys == [k * height / rows for k in range(1, rows)]

    key(qtbot, window.canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)  # 1:1
    qtbot.waitUntil(lambda: cell_on_screen(window) < MIN_CELL_SCREEN_PX, timeout=5000)
    assert not grid.isVisible()

    key(qtbot, window.canvas, Qt.Key.Key_F)  # fitted: no grid, however big a cell is
    qtbot.waitUntil(lambda: not past_fit(window), timeout=5000)
    assert not grid.isVisible()
    for _ in range(20):  # zoom in notch by notch: the grid appears once a cell is big and
        wheel(window, 1)  # the image is larger than the view
        size = cell_on_screen(window)
        if abs(size - MIN_CELL_SCREEN_PX) > 0.5:
            assert grid.isVisible() == shown_when(window)
        if size > 2 * MIN_CELL_SCREEN_PX and past_fit(window):
            break
    assert grid.isVisible() and shown_when(window)

    key(qtbot, window.canvas, Qt.Key.Key_4)  # hide the Grad-CAM layer: no grid
    qtbot.waitUntil(lambda: not grid.isVisible(), timeout=5000)
    key(qtbot, window.canvas, Qt.Key.Key_4)
    qtbot.waitUntil(grid.isVisible, timeout=5000)

    for _ in range(12):  # zoom out: the grid goes once a cell is small again
        wheel(window, -1)
        size = cell_on_screen(window)
        if abs(size - MIN_CELL_SCREEN_PX) > 0.5:
            assert grid.isVisible() == shown_when(window)
        if size < MIN_CELL_SCREEN_PX / 2:
            break
    assert cell_on_screen(window) < MIN_CELL_SCREEN_PX and not grid.isVisible()
