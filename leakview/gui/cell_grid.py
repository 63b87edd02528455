"""The cell grid of a coarse attribution map (Grad-CAM): thin lines at the boundaries of the
feature map's cells, drawn over the image only when the view is zoomed in past the fitted
image (part of it outside the view) and a cell spans more than :data:`MIN_CELL_SCREEN_PX`
screen pixels: a fitted image stays uncluttered.

A feature map of ``h x w`` cells upsampled to the model's input and then to the image covers
the image with ``h x w`` equal cells: cell ``(i, j)`` is ``[j W/w, (j+1) W/w] x [i H/h,
(i+1) H/h]`` in the view's coordinates (the image item puts pixel ``(r, c)`` on ``[c, c+1] x
[r, r+1]``), for an ``H x W`` image.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

MIN_CELL_SCREEN_PX = 24.0
"""The grid shows once a cell spans more than this many screen pixels (both sides)."""
GRID_COLOR = QColor(255, 255, 255, 110)


class CellGrid(QGraphicsPathItem):
    """Lines at the cell boundaries of a ``grid = (rows, columns)`` map over an image."""

    def __init__(self) -> None:
        super().__init__()
        pen = QPen(GRID_COLOR)
        pen.setCosmetic(True)  # one screen pixel wide at any zoom
        pen.setWidthF(1.0)
        self.setPen(pen)
        self.setVisible(False)
        self.grid: tuple[int, int] | None = None
        self.image_shape: tuple[int, int] | None = None

    @property
    def spacing(self) -> tuple[float, float] | None:
        """``(column width, row height)`` of one cell in image pixels, None without a grid."""
        if self.grid is None or self.image_shape is None:
            return None
        (rows, columns), (height, width) = self.grid, self.image_shape
        return width / columns, height / rows

    def set_cells(self, image_shape: tuple[int, int] | None, grid: tuple[int, int] | None
                  ) -> None:
        """The grid of ``grid`` cells over an image of ``image_shape`` (H, W); None: none."""
        if grid is not None and (len(grid) != 2 or min(grid) < 1):
            grid = None
        if (image_shape, grid) == (self.image_shape, self.grid):
            return
        self.image_shape = image_shape
        self.grid = (int(grid[0]), int(grid[1])) if grid is not None else None
        path = QPainterPath()
        spacing = self.spacing
        if spacing is not None and self.grid is not None and image_shape is not None:
            (rows, columns), (height, width) = self.grid, image_shape
            for column in range(1, columns):
                path.moveTo(QPointF(column * spacing[0], 0.0))
                path.lineTo(QPointF(column * spacing[0], float(height)))
            for row in range(1, rows):
                path.moveTo(QPointF(0.0, row * spacing[1]))
                path.lineTo(QPointF(float(width), row * spacing[1]))
        self.setPath(path)

    def show_if_zoomed(self, layer_visible: bool, screen_pixel: tuple[float, float]) -> None:
        """Visible when the map's layer is and a cell spans more than MIN_CELL_SCREEN_PX
        screen pixels; ``screen_pixel`` is a screen pixel's size in view coordinates."""
        size = self.cell_screen_px(screen_pixel)
        self.setVisible(layer_visible and size is not None and size > MIN_CELL_SCREEN_PX)

    def cell_screen_px(self, screen_pixel: tuple[float, float]) -> float | None:
        """The smaller side of a cell in screen pixels, None without a grid."""
        spacing = self.spacing
        if spacing is None or min(screen_pixel) <= 0:
            return None
        return min(spacing[0] / screen_pixel[0], spacing[1] / screen_pixel[1])
