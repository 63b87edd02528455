"""The shape being edited on the canvas: its handles, the mouse edits and their undo steps.

A polygon, rectangle or ellipse the user draws stays a :class:`~leakview.masks.shapes.Shape`
(the document's ``live_shape``, over the mask it was drawn on, its *base*) until it is
committed. Meanwhile the document's mask is always ``base ∪ shape`` (``base − shape`` for a
subtractive one), so autosave and the metrics see what is on screen. Every edit -- create,
vertex drag, vertex insert or removal, resize, move, delete -- is one :class:`ShapeEdit` on the
document's undo stack, which restores both the mask and the geometry.

Mouse, on the shape (with its tool active): drag a handle (a polygon's vertex; a box's corner
or side), drag inside to move it, Ctrl+click or double-click a polygon's side to insert a
vertex there (and drag it), Shift+click a vertex to remove it. Keys: Delete removes the shape,
Enter commits it, Esc cancels a drag. :class:`ShapeEditor` does the edits, :class:`ShapeOverlay`
draws the outline and handles (additive: yellow; subtractive: red, dashed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from leakview.gui.image_view import PREVIEW_COLOR, SUBTRACT_COLOR, Z_PREVIEW, ImageCanvas
from leakview.gui.mask_doc import MaskDocument, MaskEdit
from leakview.masks import EXPECTED
from leakview.masks.shapes import LiveShape, Point, Shape

HANDLE_PX = 7.0        # a press this close (screen pixels) to a handle grabs it
EDGE_PX = 5.0          # ... to a polygon's side is on the side
DRAG_START_PX = 2.0    # a press that moves less than this is a click (no edit)
PREVIEW_MAX_PIXELS = 4_000_000
"""Up to this image size the mask itself follows a drag; above, only the outline."""


class ShapeEdit(MaskEdit):
    """One shape edit: the mask and the live shape before and after."""

    def __init__(self, document: MaskDocument, before: LiveShape | None,
                 after: LiveShape | None, after_mask: np.ndarray | None, text: str) -> None:
        super().__init__(document, document.mask, after_mask, text)
        self.before, self.after = before, after

    def redo(self) -> None:
        self.document.live_shape = self.after
        super().redo()

    def undo(self) -> None:
        self.document.live_shape = self.before
        super().undo()


@dataclass(frozen=True)
class Hit:
    """What a viewport position is on: ``"handle"`` (``index``), ``"edge"`` (a polygon's
    side ``index``, nearest point ``at``) or ``"inside"``."""

    what: str
    index: int = -1
    at: Point = (0.0, 0.0)


def hit_test(shape: Shape, position: QPointF, canvas: ImageCanvas) -> Hit | None:
    """The part of ``shape`` under the viewport ``position`` (handles first), or None."""
    px, py = position.x(), position.y()
    screen = [canvas.to_viewport(x, y) for x, y in shape.handles()]
    distances = [math.hypot(p.x() - px, p.y() - py) for p in screen]
    if distances and min(distances) <= HANDLE_PX:
        return Hit("handle", int(np.argmin(distances)))
    best: Hit | None = None
    best_distance = EDGE_PX
    for index, (a, b) in enumerate(shape.edges()):
        sa, sb = screen[index], screen[(index + 1) % len(screen)]
        dx, dy = sb.x() - sa.x(), sb.y() - sa.y()
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else min(1.0, max(0.0, ((px - sa.x()) * dx
                                                       + (py - sa.y()) * dy) / length2))
        distance = math.hypot(sa.x() + t * dx - px, sa.y() + t * dy - py)
        if distance <= best_distance:
            best_distance = distance
            best = Hit("edge", index, (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    if best is not None:
        return best
    point = canvas.to_image(position)
    return Hit("inside") if shape.contains(point.x(), point.y()) else None


class ShapeOverlay:
    """The live shape's outline and handles on the canvas (handles keep their screen size)."""

    def __init__(self, canvas: ImageCanvas) -> None:
        self.outline = QGraphicsPathItem()
        self.outline.setZValue(Z_PREVIEW - 1)
        self.box = QGraphicsPathItem()      # an ellipse's box, on which its handles sit
        self.box.setZValue(Z_PREVIEW - 1)
        self.handles = pg.ScatterPlotItem(pxMode=True)
        self.handles.setZValue(Z_PREVIEW + 2)
        for item in (self.outline, self.box, self.handles):
            canvas.vb.addItem(item, ignoreBounds=True)
        self.shape: Shape | None = None
        self.hovered = -1
        self.show(None)

    def show(self, shape: Shape | None, hovered: int = -1) -> None:
        self.shape, self.hovered = shape, hovered
        visible = shape is not None
        for item in (self.outline, self.box, self.handles):
            item.setVisible(visible)
        if shape is None:
            self.handles.setData([], [])
            return
        color = SUBTRACT_COLOR if shape.subtractive else PREVIEW_COLOR
        pen = QPen(color)
        pen.setCosmetic(True)
        pen.setWidthF(1.6)
        if shape.subtractive:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.outline.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(45 if shape.subtractive else 0)
        self.outline.setBrush(QBrush(fill))
        self.outline.setPath(_outline(shape))
        box_pen = QPen(QColor(color.red(), color.green(), color.blue(), 150))
        box_pen.setCosmetic(True)
        box_pen.setStyle(Qt.PenStyle.DotLine)
        self.box.setPen(box_pen)
        path = QPainterPath()
        if shape.kind == "ellipse":
            (x0, y0), (x1, y1) = shape.points
            path.addRect(QRectF(QPointF(x0 + 0.5, y0 + 0.5), QPointF(x1 + 0.5, y1 + 0.5)))
        self.box.setPath(path)
        handles = shape.handles()
        sides = shape.kind != "polygon"
        sizes = [(7.0 if sides and index >= 4 else 9.0) + (3.0 if index == hovered else 0.0)
                 for index in range(len(handles))]
        brush = pg.mkBrush(255, 200, 200) if shape.subtractive else pg.mkBrush(255, 255, 255)
        self.handles.setData(x=[x + 0.5 for x, _ in handles], y=[y + 0.5 for _, y in handles],
                             size=sizes, symbol="s", brush=brush,
                             pen=pg.mkPen(color.darker(250), width=1.2))


def _outline(shape: Shape) -> QPainterPath:
    path = QPainterPath()
    if shape.kind == "polygon":
        points = [QPointF(x + 0.5, y + 0.5) for x, y in shape.points]
        if points:
            path.moveTo(points[0])
            for point in points[1:]:
                path.lineTo(point)
            path.closeSubpath()
        return path
    (x0, y0), (x1, y1) = shape.points
    rect = QRectF(QPointF(x0 + 0.5, y0 + 0.5), QPointF(x1 + 0.5, y1 + 0.5))
    if shape.kind == "rectangle":
        path.addRect(rect)
    else:
        path.addEllipse(rect)
    return path


@dataclass
class _Drag:
    kind: str            # "handle", "move" or "insert"
    start: QPointF       # viewport position of the press
    start_xy: Point      # image position of the press
    original: Shape      # the shape the drag changes (insert: with its new vertex)
    handle: int = -1
    current: Shape | None = None
    moved: bool = False


class ShapeEditor(QObject):
    """The edits of the live shape of :attr:`document` (whatever region it is)."""

    def __init__(self, canvas: ImageCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.overlay = ShapeOverlay(canvas)
        self.document: MaskDocument | None = None
        self._drag: _Drag | None = None

    # -- state -----------------------------------------------------------------------------
    @property
    def live(self) -> LiveShape | None:
        return None if self.document is None else self.document.live_shape

    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def refresh(self, hovered: int = -1) -> None:
        """Draw the live shape (or the one being dragged)."""
        drag = self._drag
        live = self.live
        if drag is not None and drag.current is not None:
            self.overlay.show(drag.current, drag.handle)
        else:
            self.overlay.show(None if live is None else live.shape, hovered)

    # -- edits -----------------------------------------------------------------------------
    def _push(self, after: LiveShape | None, after_mask: np.ndarray | None, text: str) -> None:
        document = self.document
        if document is None:
            return
        if document.kind != EXPECTED:
            text = f"{text} ({document.kind})"     # as MaskDocument.edit names it
        document.stack.push(ShapeEdit(document, document.live_shape, after, after_mask, text))
        self.refresh()

    def create(self, shape: Shape) -> None:
        """``shape`` becomes the live shape over the current mask (one undo step)."""
        document = self.document
        if document is None:
            return
        self.commit()
        base = None if document.mask is None else np.array(document.mask, dtype=bool)
        live = LiveShape(shape, base)
        verb = "Subtract" if shape.subtractive else "Draw"
        self._push(live, live.mask(document.shape), f"{verb} {shape.kind}")

    def change(self, shape: Shape, text: str) -> None:
        """The live shape becomes ``shape`` (one undo step); nothing when it is the same."""
        live, document = self.live, self.document
        if live is None or document is None or shape == live.shape:
            return
        changed = live.with_shape(shape)
        self._push(changed, changed.mask(document.shape), text)

    def delete(self) -> bool:
        """Remove the live shape: the mask goes back to its base (one undo step)."""
        live = self.live
        if live is None:
            return False
        self.cancel_drag()
        base = live.base if live.base is not None and live.base.any() else None
        self._push(None, base, f"Delete {live.shape.kind}")
        return True

    def commit(self) -> bool:
        """The live shape is pixels from now on (its mask is already the document's)."""
        self.cancel_drag()
        if self.document is None or self.document.live_shape is None:
            return False
        self.document.live_shape = None
        self.refresh()
        return True

    # -- mouse -----------------------------------------------------------------------------
    def hover(self, position: QPointF) -> Qt.CursorShape | None:
        """The cursor over ``position`` (None: not on the shape), the handle highlighted."""
        live = self.live
        if live is None or self._drag is not None:
            return None
        hit = hit_test(live.shape, position, self.canvas)
        self.refresh(hit.index if hit is not None and hit.what == "handle" else -1)
        if hit is None:
            return None
        if hit.what == "handle":
            return Qt.CursorShape.PointingHandCursor
        return Qt.CursorShape.SizeAllCursor     # a side or the inside: drag moves the shape

    def press(self, position: QPointF, xy: Point, modifiers: Qt.KeyboardModifier) -> bool:
        """A left press: True when it is on the live shape (an edit starts), False when the
        caller draws instead."""
        live = self.live
        if live is None:
            return False
        hit = hit_test(live.shape, position, self.canvas)
        if hit is None:
            return False
        shape = live.shape
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if hit.what == "handle" and shift and shape.kind == "polygon":
            self.change(shape.without_vertex(hit.index), "Remove vertex")
            return True
        if hit.what == "edge" and ctrl:
            return self.insert(position, xy, hit)
        if hit.what == "handle":
            self._drag = _Drag("handle", position, xy, shape, hit.index)
        else:
            self._drag = _Drag("move", position, xy, shape)
        return True

    def double_click(self, position: QPointF) -> bool:
        """A double-click on a polygon's side inserts a vertex there (one step; no drag:
        Ctrl+click inserts and drags)."""
        live = self.live
        if live is None:
            return False
        self.cancel_drag()
        hit = hit_test(live.shape, position, self.canvas)
        if hit is None:
            return False
        if hit.what == "edge":
            self.change(live.shape.with_vertex(hit.index, hit.at), "Insert vertex")
        return True

    def insert(self, position: QPointF, xy: Point, hit: Hit) -> bool:
        """A new vertex on side ``hit.index``, dragged until the release (one step)."""
        live = self.live
        if live is None:
            return False
        shape = live.shape.with_vertex(hit.index, hit.at)
        self._drag = _Drag("insert", position, xy, shape, hit.index + 1, shape, moved=True)
        self._preview(shape)
        return True

    def move(self, position: QPointF, xy: Point) -> bool:
        drag = self._drag
        if drag is None:
            return False
        if not drag.moved and math.hypot(position.x() - drag.start.x(),
                                         position.y() - drag.start.y()) < DRAG_START_PX:
            return True
        drag.moved = True
        dx, dy = xy[0] - drag.start_xy[0], xy[1] - drag.start_xy[1]
        if drag.kind == "move":
            drag.current = drag.original.moved(dx, dy)
        else:
            hx, hy = drag.original.handles()[drag.handle]
            drag.current = drag.original.dragged(drag.handle, (hx + dx, hy + dy))
        self._preview(drag.current)
        return True

    def release(self, position: QPointF, xy: Point) -> bool:
        drag = self._drag
        if drag is None:
            return False
        self.move(position, xy)
        self._drag = None
        if drag.moved and drag.current is not None:
            text = {"move": f"Move {drag.original.kind}", "insert": "Insert vertex",
                    "handle": "Move vertex" if drag.original.kind == "polygon"
                    else f"Resize {drag.original.kind}"}[drag.kind]
            self.change(drag.current, text)
        self._restore_mask()
        self.refresh()
        return True

    def cancel_drag(self) -> bool:
        """Esc: drop the drag in progress (nothing changes)."""
        if self._drag is None:
            return False
        self._drag = None
        self._restore_mask()
        self.refresh()
        return True

    def _preview(self, shape: Shape) -> None:
        """Show ``shape`` being dragged: outline and handles, and the mask it would make."""
        self.refresh()
        live, document = self.live, self.document
        if live is None or document is None:
            return
        if document.shape[0] * document.shape[1] <= PREVIEW_MAX_PIXELS:
            self.canvas.set_mask(live.with_shape(shape).mask(document.shape), document.kind)

    def _restore_mask(self) -> None:
        if self.document is not None:
            self.canvas.set_mask(self.document.mask, self.document.kind)
