"""The centre view: a pyqtgraph ViewBox with the image, one ImageItem per attribution layer
(a signed map shown positive, negative or both: ``report.display_map``), the region masks --
the expected region in cyan, the suspect region in magenta -- (translucent fill + outline;
:meth:`ImageCanvas.style_mask` hides one, sets its opacity or drops the fill) and the drawing
previews.

Coordinates: the image item puts pixel ``(row r, column c)`` on the square ``[c, c+1] x
[r, r+1]`` of the view, so the *image* coordinate of a view point is ``view - 0.5`` (pixel
centres at integers, the convention of :mod:`leakview.masks`). :meth:`ImageCanvas.to_image`
and :meth:`ImageCanvas.to_viewport` convert. Wheel zooms, left-drag pans (with a drawing tool
active: Space + drag), :meth:`fit` and :meth:`one_to_one` set the zoom.

A layer whose map has a cell grid (Grad-CAM's feature map, :meth:`ImageCanvas.set_layer_grid`)
gets thin lines at the cell boundaries when zoomed in (:mod:`leakview.gui.cell_grid`).

Each layer item carries ``image_id`` (the image path) and ``generation`` (the session's
generation) of the result it shows, so a test -- or a suspicious user -- can check that an
overlay belongs to the image on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from leakview.gui.cell_grid import CellGrid
from leakview.gui.layers import DIVERGING_COLORMAP
from leakview.masks import EXPECTED, REGION_KINDS, SUSPECT, mask_boundary
from leakview.report import MapDisplay, display_map

MASK_RGBA = (0, 229, 255)
SUSPECT_RGB = (255, 64, 200)
"""The suspect region's colour (magenta: apart from the expected region's cyan, the previews'
yellow and the heat maps)."""
REGION_RGB = {EXPECTED: MASK_RGBA, SUSPECT: SUSPECT_RGB}
MASK_FILL_ALPHA = 70
PREVIEW_COLOR = QColor(255, 235, 59)
SUBTRACT_COLOR = QColor(255, 82, 82)
"""A subtractive shape's colour (its preview while drawn, its outline while edited)."""
Z_BASE, Z_LAYERS, Z_MASK, Z_PREVIEW = 0, 10, 50, 100


def layer_lut(colormap: str) -> np.ndarray:
    """RGBA lookup table of a pyqtgraph colormap whose alpha rises with the value, so a low
    attribution leaves the image visible."""
    try:
        cmap = pg.colormap.get(colormap)
    except Exception:  # unknown name in old settings
        cmap = pg.colormap.get("inferno")
    rgb = cmap.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
    alpha = np.clip(np.linspace(0, 1, 256) * 1.6, 0, 1) * 255
    return np.column_stack([rgb[:, :3], alpha.astype(np.uint8)])


def diverging_lut(colormap: str = DIVERGING_COLORMAP) -> np.ndarray:
    """RGBA lookup table of a diverging colormap for levels ``-m..m``: transparent at the
    centre (zero), opaque towards both ends (strong negative / strong positive evidence)."""
    rgb = pg.colormap.get(colormap).getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
    alpha = np.clip(np.abs(np.linspace(-1, 1, 256)) * 1.6, 0, 1) * 255
    return np.column_stack([rgb[:, :3], alpha.astype(np.uint8)])


def mask_display(mask: np.ndarray) -> np.ndarray:
    """0 = outside, 1 = inside, 2 = boundary (inside pixel with an outside 4-neighbour)."""
    out = mask.astype(np.uint8)
    out[mask_boundary(mask)] = 2
    return out


def fit_view(vb: pg.ViewBox, shape: tuple[int, int]) -> None:
    """Show the whole ``shape`` (rows, columns) image in ``vb``."""
    height, width = shape
    vb.setRange(QRectF(0, 0, width, height), padding=0.02)


def one_to_one_view(view: pg.GraphicsView, vb: pg.ViewBox) -> None:
    """One image pixel per screen pixel in ``vb`` (shown by ``view``), centred where it is."""
    centre = vb.viewRect().center()
    size = vb.boundingRect().size()
    ratio = view.devicePixelRatioF() or 1.0
    width, height = size.width() / ratio, size.height() / ratio
    vb.setRange(QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height),
                padding=0)


class ImageCanvas(pg.GraphicsView):
    """Image + layers + mask + previews in one zoomable, pannable ViewBox."""

    hovered = Signal(float, float)  # image coordinates under the mouse

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=pg.mkColor(40, 40, 44))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False,
                             defaultPadding=0.02)
        self.setCentralItem(self.vb)
        self.base = pg.ImageItem(axisOrder="row-major")
        self.base.setZValue(Z_BASE)
        self.vb.addItem(self.base)
        self.layers: dict[str, pg.ImageItem] = {}
        self.layer_order: list[str] = []
        self.region_items: dict[str, pg.ImageItem] = {}
        """One overlay per region kind (``mask_item``: the expected region's)."""
        for number, kind in enumerate(REGION_KINDS):
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(Z_MASK + number)
            item.setVisible(False)
            self.vb.addItem(item)
            self.region_items[kind] = item
        self.mask_item = self.region_items[EXPECTED]
        self.region_display = {kind: (True, False) for kind in REGION_KINDS}
        """kind -> (shown, outline only) (:meth:`style_mask`); they never change a mask."""
        self.region_rgb: dict[str, tuple[int, int, int]] = dict(REGION_RGB)
        self.layer_styles: dict[str, tuple[str, str]] = {}
        """method -> (colormap, sign) of :meth:`style_layer`."""
        self.image_id: str | None = None
        self.generation = -1
        self.shape: tuple[int, int] | None = None
        pen = QPen(PREVIEW_COLOR)
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self.preview = QGraphicsPathItem()
        self.preview.setPen(pen)
        self.preview.setZValue(Z_PREVIEW)
        self.vb.addItem(self.preview, ignoreBounds=True)
        self.rect_preview = QGraphicsRectItem()
        self.ellipse_preview = QGraphicsEllipseItem()
        for item in (self.rect_preview, self.ellipse_preview):
            item.setPen(pen)
            item.setBrush(QColor(255, 235, 59, 40))
            item.setZValue(Z_PREVIEW)
            item.setVisible(False)
            self.vb.addItem(item, ignoreBounds=True)
        self.stroke_preview = QGraphicsPathItem()
        self.stroke_preview.setZValue(Z_PREVIEW)
        self.vb.addItem(self.stroke_preview, ignoreBounds=True)
        self.cursor_circle = QGraphicsEllipseItem()
        cursor_pen = QPen(QColor(255, 255, 255))
        cursor_pen.setCosmetic(True)
        self.cursor_circle.setPen(cursor_pen)
        self.cursor_circle.setZValue(Z_PREVIEW + 1)
        self.cursor_circle.setVisible(False)
        self.vb.addItem(self.cursor_circle, ignoreBounds=True)
        self.cell_grid = CellGrid()
        self.cell_grid.setZValue(Z_MASK - 1)
        self.vb.addItem(self.cell_grid, ignoreBounds=True)
        self.layer_grids: dict[str, tuple[int, int]] = {}
        for changed in (self.vb.sigRangeChanged, self.vb.sigTransformChanged,
                        self.vb.sigResized):
            changed.connect(self._update_cell_grid)
        for kind, rgb in REGION_RGB.items():
            self.set_mask_color(rgb, kind)

    # -- image ---------------------------------------------------------------------------
    def set_image(self, pixels: np.ndarray, image_id: str, generation: int) -> None:
        same = image_id == self.image_id and self.shape == pixels.shape[:2]
        self.base.setImage(pixels, autoLevels=False, levels=(0, 255))
        self.image_id, self.generation = image_id, generation
        self.shape = pixels.shape[:2]
        self.clear_layers()
        if not same:
            for kind in REGION_KINDS:
                self.set_mask(None, kind)
            self.fit()

    def clear(self) -> None:
        self.base.clear()
        self.clear_layers()
        for kind in REGION_KINDS:
            self.set_mask(None, kind)
        self.image_id, self.shape = None, None

    def fit(self) -> None:
        if self.shape is not None:
            fit_view(self.vb, self.shape)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, centred on the current view."""
        if self.shape is not None:
            one_to_one_view(self, self.vb)

    def zoom(self, factor: float) -> None:
        self.vb.scaleBy((1 / factor, 1 / factor))

    # -- layers ----------------------------------------------------------------------------
    def layer(self, method: str) -> pg.ImageItem:
        if method not in self.layers:
            item = pg.ImageItem(axisOrder="row-major")
            item.image_id = None
            item.generation = -1
            item.provisional = False
            item.source = None      # (map, signed) of the result shown
            item.display = None     # its MapDisplay (values and levels on screen)
            self.layer_order.append(method)
            item.setZValue(Z_LAYERS + len(self.layer_order))
            self.vb.addItem(item)
            self.layers[method] = item
            item.visibleChanged.connect(self._update_cell_grid)
        return self.layers[method]

    def set_layer(self, method: str, attribution_map: np.ndarray, signed: bool, image_id: str,
                  generation: int, provisional: bool = False) -> None:
        """Show a map as :meth:`style_layer`'s sign says (``report.display_map``)."""
        item = self.layer(method)
        item.source = (attribution_map, signed)
        item.image_id, item.generation, item.provisional = image_id, generation, provisional
        self._render_layer(method)

    def style_layer(self, method: str, visible: bool, opacity: float, colormap: str,
                    sign: str = "positive") -> None:
        """How ``method``'s layer is drawn; ``sign``: the part of a signed map shown
        (``report.SIGN_MODES``; "both" uses the diverging colormap, levels ``-m..m``)."""
        item = self.layer(method)
        before = self.layer_styles.get(method)
        self.layer_styles[method] = (colormap, sign)
        item.setOpacity(opacity)
        item.setVisible(visible)
        if before != (colormap, sign):
            self._render_layer(method, recompute=before is None or before[1] != sign)

    def layer_display(self, method: str) -> MapDisplay | None:
        """What ``method``'s layer shows (values and levels), None before a result."""
        item = self.layers.get(method)
        return None if item is None else item.display

    def _render_layer(self, method: str, recompute: bool = True) -> None:
        """Apply the style; ``recompute``: the values shown too (a new map or sign)."""
        item = self.layers[method]
        colormap, sign = self.layer_styles.get(method, ("inferno", "positive"))
        if recompute:
            item.display = (display_map(item.source[0], sign, item.source[1])
                            if item.source is not None else None)
        shown = item.display
        both = shown.sign == "both" if shown is not None else sign == "both"
        item.setLookupTable(diverging_lut() if both else layer_lut(colormap))
        if shown is not None and recompute:
            item.setImage(shown.values, autoLevels=False, levels=shown.levels)

    def clear_layers(self) -> None:
        for item in self.layers.values():
            item.clear()
            item.image_id, item.generation, item.provisional = None, -1, False
            item.source = item.display = None
        self.layer_grids.clear()
        self._update_cell_grid()

    def has_layer(self, method: str) -> bool:
        item = self.layers.get(method)
        return item is not None and item.image is not None

    # -- cell grid -------------------------------------------------------------------------
    def set_layer_grid(self, method: str, grid: tuple[int, int] | None) -> None:
        """The cell grid (rows, columns) of the map shown in ``method``'s layer (Grad-CAM's
        feature-map size), or None for a map without cells."""
        if grid is None:
            self.layer_grids.pop(method, None)
        else:
            self.layer_grids[method] = (int(grid[0]), int(grid[1]))
        self._update_cell_grid()

    def _update_cell_grid(self, *_args: object) -> None:
        """Grid lines of the topmost visible layer with a grid, when a cell is large on
        screen (zoom, pan, resize, a layer shown or hidden, a new map)."""
        shown = [method for method in reversed(self.layer_order)
                 if method in self.layer_grids and self.has_layer(method)
                 and self.layers[method].isVisible()]
        grid = self.layer_grids[shown[0]] if shown else None
        self.cell_grid.set_cells(self.shape if grid is not None else None, grid)
        width, height = self.vb.viewPixelSize()
        self.cell_grid.show_if_zoomed(bool(shown) and self._zoomed_past_fit(),
                                      (abs(width), abs(height)))

    def _zoomed_past_fit(self) -> bool:
        """Part of the image lies outside the view (the grid would clutter a fitted image)."""
        if self.shape is None:
            return False
        (left, right), (top, bottom) = self.vb.viewRange()
        height, width = self.shape
        return left > 0 or top > 0 or right < width or bottom < height

    # -- mask ------------------------------------------------------------------------------
    @property
    def mask_shown(self) -> bool:
        return self.region_display[EXPECTED][0]

    @property
    def mask_outline_only(self) -> bool:
        return self.region_display[EXPECTED][1]

    def set_mask_color(self, rgb: tuple[int, int, int], kind: str = EXPECTED) -> None:
        self.region_rgb[kind] = rgb
        fill = 0 if self.region_display[kind][1] else MASK_FILL_ALPHA
        lut = np.array([[0, 0, 0, 0], [*rgb, fill], [*rgb, 255]], dtype=np.uint8)
        self.region_items[kind].setLookupTable(lut)

    def style_mask(self, shown: bool, opacity: float, outline_only: bool,
                   kind: str = EXPECTED) -> None:
        """Show or hide the ``kind`` region, its opacity, outline only (no fill); display
        only."""
        self.region_display[kind] = (shown, outline_only)
        self.set_mask_color(self.region_rgb[kind], kind)
        item = self.region_items[kind]
        item.setOpacity(opacity)
        item.setVisible(shown and item.image is not None)

    def set_mask(self, mask: np.ndarray | None, kind: str = EXPECTED) -> None:
        """Show ``mask`` as the ``kind`` region (None or empty: none)."""
        item = self.region_items[kind]
        if mask is None or not mask.any():
            item.clear()
            item.setVisible(False)
            return
        item.setImage(mask_display(mask), autoLevels=False, levels=(0, 2))
        item.setVisible(self.region_display[kind][0])

    # -- coordinates -----------------------------------------------------------------------
    def to_image(self, viewport_pos: QPointF) -> QPointF:
        """Viewport (widget) position -> image coordinates (pixel centres at integers)."""
        scene = self.mapToScene(viewport_pos.toPoint())
        view = self.vb.mapSceneToView(scene)
        return QPointF(view.x() - 0.5, view.y() - 0.5)

    def to_viewport(self, x: float, y: float) -> QPointF:
        """Image coordinates -> viewport position (for tests and tools)."""
        scene = self.vb.mapViewToScene(QPointF(x + 0.5, y + 0.5))
        return QPointF(self.mapFromScene(scene))

    # -- previews (image coordinates in, view coordinates drawn) ---------------------------
    @staticmethod
    def _v(x: float, y: float) -> QPointF:
        return QPointF(x + 0.5, y + 0.5)

    def _preview_pen(self, subtract: bool) -> QPen:
        pen = QPen(SUBTRACT_COLOR if subtract else PREVIEW_COLOR)
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        if subtract:
            pen.setStyle(Qt.PenStyle.DashLine)
        return pen

    def show_polygon(self, points: list[tuple[float, float]],
                     hover: tuple[float, float] | None = None, subtract: bool = False) -> None:
        self.preview.setPen(self._preview_pen(subtract))
        path = QPainterPath()
        if points:
            path.moveTo(self._v(*points[0]))
            for point in points[1:]:
                path.lineTo(self._v(*point))
            if hover is not None:
                path.lineTo(self._v(*hover))
            for point in points:
                path.addEllipse(self._v(*point), 0.8, 0.8)
        self.preview.setPath(path)

    def show_box(self, kind: str, x0: float, y0: float, x1: float, y1: float,
                 subtract: bool = False) -> None:
        item = self.rect_preview if kind == "rect" else self.ellipse_preview
        item.setPen(self._preview_pen(subtract))
        fill = QColor(SUBTRACT_COLOR if subtract else PREVIEW_COLOR)
        fill.setAlpha(40)
        item.setBrush(fill)
        item.setRect(QRectF(self._v(x0, y0), self._v(x1, y1)).normalized())
        item.setVisible(True)

    def show_stroke(self, points: list[tuple[float, float]], radius: float, erase: bool
                    ) -> None:
        path = QPainterPath()
        if points:
            path.moveTo(self._v(*points[0]))
            for point in points[1:]:
                path.lineTo(self._v(*point))
            if len(points) == 1:
                path.lineTo(self._v(*points[0]))
        pen = QPen(QColor(255, 80, 80, 120) if erase else QColor(255, 235, 59, 120))
        pen.setWidthF(max(1.0, 2 * radius))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        self.stroke_preview.setPen(pen)
        self.stroke_preview.setPath(path)

    def show_cursor(self, x: float | None, y: float | None, radius: float) -> None:
        if x is None or y is None:
            self.cursor_circle.setVisible(False)
            return
        centre = self._v(x, y)
        self.cursor_circle.setRect(QRectF(centre.x() - radius, centre.y() - radius,
                                          2 * radius, 2 * radius))
        self.cursor_circle.setVisible(True)

    def clear_previews(self) -> None:
        self.preview.setPath(QPainterPath())
        self.stroke_preview.setPath(QPainterPath())
        self.rect_preview.setVisible(False)
        self.ellipse_preview.setVisible(False)


CAPTION_STYLE = "color: #e0e0e0; font-size: 13px; padding: 3px 2px;"


class FigurePanel(QWidget):
    """One panel of the side-by-side view: its caption (a label) above a zoomable view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.caption = QLabel("")
        self.caption.setObjectName("figure_caption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet(CAPTION_STYLE)
        self.view = pg.GraphicsView(background=pg.mkColor(40, 40, 44))
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setMinimumWidth(40)
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False,
                             defaultPadding=0.02)
        self.view.setCentralItem(self.vb)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.item)
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

    def show_panel(self, caption: str, pixels: np.ndarray) -> None:
        self.caption.setText(caption)
        self.item.setImage(pixels, autoLevels=False, levels=(0, 255))


class FigureCanvas(QWidget):
    """The side-by-side mode: the study figure's panels (``report.study_panels``) in views
    that zoom and pan together, each under its caption, the figure's title above them (real
    labels: they stay readable at any zoom). :meth:`fit`, :meth:`one_to_one` and :meth:`zoom`
    act on all panels, as on the image canvas."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), QColor(40, 40, 44))
        self.setPalette(palette)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        self.title = QLabel("")
        self.title.setObjectName("figure_title")
        self.title.setWordWrap(True)
        self.title.setStyleSheet(CAPTION_STYLE + " font-weight: bold;")
        self.row = QHBoxLayout()
        self.row.setSpacing(8)
        # title and panels centred in the height: the views are no higher than a fitted panel
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addLayout(self.row)
        layout.addStretch(1)
        self.panels: list[FigurePanel] = []
        self.image_id: str | None = None
        self.shape: tuple[int, int] | None = None
        self.fitted = False

    @property
    def captions(self) -> list[str]:
        return [panel.caption.text() for panel in self.panels]

    def set_panels(self, panels: Sequence[tuple[str, np.ndarray]], title: str,
                   image_id: str) -> None:
        """Show ``(caption, pixels)`` panels (all of one size) under ``title``; a new image or
        a new panel count is fitted, a redraw of the same image keeps the zoom."""
        shape = panels[0][1].shape[:2] if panels else None
        first = (image_id != self.image_id or shape != self.shape
                 or len(panels) != len(self.panels))
        while len(self.panels) > len(panels):
            self.panels.pop().deleteLater()
        while len(self.panels) < len(panels):
            panel = FigurePanel()
            if self.panels:
                panel.vb.setXLink(self.panels[0].vb)
                panel.vb.setYLink(self.panels[0].vb)
            else:
                panel.vb.sigResized.connect(self._resized)
            panel.vb.sigRangeChangedManually.connect(self._moved)
            self.row.addWidget(panel, 1)
            self.panels.append(panel)
        for panel, (caption, pixels) in zip(self.panels, panels):
            panel.show_panel(caption, pixels)
        self.title.setText(title)
        self.image_id, self.shape = image_id, shape
        self._limit_view_heights()
        if first:
            self.fit()

    def clear(self) -> None:
        """No figure (another folder, an image that cannot be opened)."""
        while self.panels:
            self.panels.pop().deleteLater()
        self.title.setText("")
        self.image_id = self.shape = None
        self.fitted = False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._limit_view_heights()
        super().resizeEvent(event)

    def _limit_view_heights(self) -> None:
        """Views no higher than a fitted panel, so that each caption sits on its panel's top
        edge instead of over an empty band (zoom and pan still work inside)."""
        if self.shape is None or not self.panels:
            return
        margins = self.layout().contentsMargins()
        room = self.width() - margins.left() - margins.right()
        width = (room - self.row.spacing() * (len(self.panels) - 1)) / len(self.panels)
        height = int(width * self.shape[0] / self.shape[1] * 1.04) + 2
        for panel in self.panels:
            panel.view.setMaximumHeight(max(40, height))

    def fit(self) -> None:
        """The whole panels (kept fitted as the view resizes, until the user zooms or pans)."""
        if self.shape is not None and self.panels:
            fit_view(self.panels[0].vb, self.shape)
            self.fitted = True

    def one_to_one(self) -> None:
        """One image pixel per screen pixel in every panel."""
        if self.shape is not None and self.panels:
            one_to_one_view(self.panels[0].view, self.panels[0].vb)
            self.fitted = False

    def zoom(self, factor: float) -> None:
        if self.panels:
            self.panels[0].vb.scaleBy((1 / factor, 1 / factor))
            self.fitted = False

    def _resized(self, *_args: object) -> None:
        if self.fitted:
            self.fit()

    def _moved(self, *_args: object) -> None:
        self.fitted = False
