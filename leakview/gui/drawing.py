"""Drawing a region: polygon, rectangle, ellipse, brush, eraser, clear.

:class:`DrawingController` filters the canvas's mouse and key events while a drawing tool is
active (the pan tool, Space + drag, the wheel and the other buttons go to pyqtgraph) and edits
the current :class:`MaskDocument` (:attr:`DrawingController.document`: whichever region's
document the window gives it), each edit one undoable step.

Polygon: click vertices; Enter or a double-click closes it, Esc cancels, Backspace removes the
last vertex. Rectangle / ellipse: drag a box. With Alt held (on the polygon's first vertex, or
while pressing to drag the box) the shape is *subtractive*: it removes its pixels. A closed
shape stays editable (:mod:`leakview.gui.shape_edit`: handles, move, insert a vertex, Delete)
until it is committed: Enter, another tool, another image or region, or a new shape. Brush /
eraser: drag (``rasterize_stroke``, interpolated between mouse samples); ``[`` and ``]``
change the radius, shown as a circle under the cursor.
"""

from __future__ import annotations

from contextlib import suppress
from enum import Enum

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QCursor

from leakview.gui.image_view import ImageCanvas
from leakview.gui.mask_doc import MaskDocument
from leakview.gui.shape_edit import ShapeEditor
from leakview.masks import rasterize_stroke
from leakview.masks.shapes import Shape

MIN_RADIUS, MAX_RADIUS = 1.0, 500.0
MIN_BOX_PX = 3.0
"""A rectangle or ellipse dragged less than this (screen pixels) is a click: no shape."""


class Tool(str, Enum):
    PAN = "pan"
    POLYGON = "polygon"
    RECTANGLE = "rectangle"
    ELLIPSE = "ellipse"
    BRUSH = "brush"
    ERASER = "eraser"


TOOL_LABELS = {Tool.PAN: "Pan / select", Tool.POLYGON: "Polygon", Tool.RECTANGLE: "Rectangle",
               Tool.ELLIPSE: "Ellipse", Tool.BRUSH: "Brush", Tool.ERASER: "Eraser"}
TOOL_KEYS = {Tool.PAN: "V", Tool.POLYGON: "P", Tool.RECTANGLE: "R", Tool.ELLIPSE: "E",
             Tool.BRUSH: "B", Tool.ERASER: "X"}
SHAPE_TOOLS = {Tool.POLYGON: "polygon", Tool.RECTANGLE: "rectangle", Tool.ELLIPSE: "ellipse"}
"""The tools whose shapes stay editable, and the kind of shape each draws."""
TOOL_NOTES = {Tool.POLYGON: "Enter or double-click closes, Esc cancels"}
"""Said in the tool's menu entry (and in Help > Shortcuts) after its label."""
_EDIT_HINT = "Del deletes, Enter commits · Alt: subtract"
TOOL_HINTS = {Tool.PAN: "drag to pan, wheel to zoom",
              Tool.POLYGON: "click vertices, Enter closes · drag a vertex or the shape, "
                            "Ctrl+click a side adds a vertex, " + _EDIT_HINT,
              Tool.RECTANGLE: "drag a box · drag a handle or the box to edit it, " + _EDIT_HINT,
              Tool.ELLIPSE: "drag a box · drag a handle or the ellipse to edit it, "
                            + _EDIT_HINT,
              Tool.BRUSH: "drag to paint; [ and ] change the size",
              Tool.ERASER: "drag to erase; [ and ] change the size"}
"""The status bar's line while the tool is active."""


def tool_text(tool: Tool) -> str:
    """The tool's menu entry: its label and its note."""
    note = TOOL_NOTES.get(tool)
    return f"{TOOL_LABELS[tool]} ({note})" if note else TOOL_LABELS[tool]


class DrawingController(QObject):
    """Tool state machine between the canvas and the current mask document."""

    toolChanged = Signal(str)
    radiusChanged = Signal(float)
    edited = Signal(str)  # the edit's name

    def __init__(self, canvas: ImageCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.document: MaskDocument | None = None
        self.tool = Tool.PAN
        self.radius = 8.0
        self.points: list[tuple[float, float]] = []
        self.dragging = False
        self.space_held = False
        self.subtract = False   # the shape being drawn is subtractive (Alt at its start)
        self._start: tuple[float, float] | None = None
        self._start_pos: QPointF | None = None
        self.shapes = ShapeEditor(canvas, self)
        canvas.viewport().installEventFilter(self)
        canvas.installEventFilter(self)
        canvas.viewport().setMouseTracking(True)

    # -- state -------------------------------------------------------------------------------
    def set_document(self, document: MaskDocument | None) -> None:
        """Draw on ``document`` (the shape being edited on the previous one is committed)."""
        self.cancel()
        self.shapes.commit()
        if self.document is not None:
            with suppress(RuntimeError):    # a document already deleted (another folder)
                self.document.changed.disconnect(self._document_changed)
        self.document = self.shapes.document = document
        if document is not None:
            document.changed.connect(self._document_changed)
        self.shapes.refresh()

    def set_tool(self, tool: Tool | str) -> None:
        """Pick ``tool`` (the shape being edited is committed)."""
        tool = Tool(tool)
        self.cancel()
        self.shapes.commit()
        self.tool = tool
        self._update_cursor()
        self.toolChanged.emit(tool.value)

    def set_radius(self, radius: float) -> None:
        self.radius = min(MAX_RADIUS, max(MIN_RADIUS, float(radius)))
        self.radiusChanged.emit(self.radius)
        self._update_cursor()

    def grow(self) -> None:
        self.set_radius(self.radius * 1.25 if self.radius >= 4 else self.radius + 1)

    def shrink(self) -> None:
        self.set_radius(self.radius / 1.25 if self.radius > 4 else self.radius - 1)

    def cancel(self) -> None:
        """Esc: drop the shape being drawn (or the drag of the shape being edited)."""
        self.points = []
        self.dragging = False
        self.subtract = False
        self._start = self._start_pos = None
        self.shapes.cancel_drag()
        self.canvas.clear_previews()

    def clear_mask(self) -> None:
        self.shapes.commit()
        if self.document is not None and self.document.clear():
            self.edited.emit("Clear mask")

    def _document_changed(self) -> None:
        """An edit, undo or redo: show the live shape it left; one brought back by an undo
        gets its tool back (without committing anything)."""
        live = self.shapes.live
        if live is not None and SHAPE_TOOLS.get(self.tool) != live.shape.kind:
            self.cancel()
            self.tool = next(tool for tool, kind in SHAPE_TOOLS.items()
                             if kind == live.shape.kind)
            self._update_cursor()
            self.toolChanged.emit(self.tool.value)
        self.shapes.refresh()

    def _update_cursor(self) -> None:
        viewport = self.canvas.viewport()
        if self.space_held or self.tool == Tool.PAN:
            viewport.setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.tool in (Tool.BRUSH, Tool.ERASER):
            viewport.setCursor(Qt.CursorShape.BlankCursor)
        else:
            viewport.setCursor(Qt.CursorShape.CrossCursor)
        if self.tool not in (Tool.BRUSH, Tool.ERASER):
            self.canvas.show_cursor(None, None, 0)
        else:
            position = self.canvas.viewport().mapFromGlobal(QCursor.pos())
            if self.canvas.viewport().rect().contains(position):
                point = self.canvas.to_image(QPointF(position))
                self.canvas.show_cursor(point.x(), point.y(), self.radius)

    # -- events --------------------------------------------------------------------------------
    def drawing(self) -> bool:
        return self.tool != Tool.PAN and not self.space_held and self.document is not None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride:
            return self._override(event)
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return self._key(event, kind == QEvent.Type.KeyPress)
        if watched is not self.canvas.viewport():
            return False
        if kind == QEvent.Type.Leave:
            self.canvas.show_cursor(None, None, 0)
            return False
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                        QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            return False
        position = event.position()
        point = self.canvas.to_image(position)
        xy = (point.x(), point.y())
        if kind == QEvent.Type.MouseMove:
            self.canvas.hovered.emit(xy[0], xy[1])
            if self.tool in (Tool.BRUSH, Tool.ERASER) and not self.space_held:
                self.canvas.show_cursor(xy[0], xy[1], self.radius)
            if not self.drawing():
                return False
            if self.shapes.move(position, xy):
                return True
            self._hover(position)
            self._move(xy)
            return self.dragging
        if event.button() != Qt.MouseButton.LeftButton or not self.drawing():
            return False
        self.canvas.setFocus(Qt.FocusReason.MouseFocusReason)
        editing = self.tool in SHAPE_TOOLS and not self.points and not self.dragging
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if kind == QEvent.Type.MouseButtonPress:
            if editing and not alt and self.shapes.press(position, xy, event.modifiers()):
                return True
            self._press(xy, position, alt)
        elif kind == QEvent.Type.MouseButtonRelease:
            if not self.shapes.release(position, xy):
                self._release(xy, position)
        elif kind == QEvent.Type.MouseButtonDblClick and self.tool == Tool.POLYGON:
            if self.points:
                self.close_polygon()
            elif editing:
                self.shapes.double_click(position)
        return True

    def _hover(self, position: QPointF) -> None:
        """The cursor says what a press would do: edit the shape (on it) or draw."""
        if self.tool not in SHAPE_TOOLS or self.points or self.dragging:
            return
        cursor = self.shapes.hover(position)
        self.canvas.viewport().setCursor(cursor or Qt.CursorShape.CrossCursor)

    def _override(self, event) -> bool:
        """Delete (Draw > Clear mask's key) removes the shape being edited instead."""
        if event.key() == Qt.Key.Key_Delete and self.shapes.live is not None:
            event.accept()
            return True
        return False

    def _key(self, event, pressed: bool) -> bool:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.space_held = pressed
                if pressed and (self.dragging or self.shapes.dragging):
                    self.cancel()
                self._update_cursor()
            return True
        if not pressed:
            return False
        if key == Qt.Key.Key_Escape and self.shapes.cancel_drag():
            return True
        if not self.points and self.shapes.live is not None:
            if key == Qt.Key.Key_Delete:
                self.shapes.delete()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.shapes.commit()
                return True
        if self.tool == Tool.POLYGON and self.points:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.close_polygon()
                return True
            if key == Qt.Key.Key_Backspace:
                self.points.pop()
                self.canvas.show_polygon(self.points, subtract=self.subtract)
                return True
        if key == Qt.Key.Key_Escape and (self.points or self.dragging):
            self.cancel()
            return True
        return False

    def _press(self, xy: tuple[float, float], position: QPointF, alt: bool) -> None:
        if self.tool in SHAPE_TOOLS:
            self.shapes.commit()        # a new shape: the one being edited is done
        if self.tool == Tool.POLYGON:
            if not self.points:
                self.subtract = alt
            if not self.points or self.points[-1] != xy:
                self.points.append(xy)
            self.canvas.show_polygon(self.points, subtract=self.subtract)
            return
        self.dragging = True
        self.subtract = alt and self.tool in SHAPE_TOOLS
        self._start, self._start_pos = xy, position
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.points = [xy]
            self.canvas.show_stroke(self.points, self.radius, self.tool == Tool.ERASER)
        else:
            self._move(xy)

    def _move(self, xy: tuple[float, float]) -> None:
        if self.tool == Tool.POLYGON:
            if self.points:
                self.canvas.show_polygon(self.points, hover=xy, subtract=self.subtract)
            return
        if not self.dragging or self._start is None:
            return
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.points.append(xy)
            self.canvas.show_stroke(self.points, self.radius, self.tool == Tool.ERASER)
        else:
            kind = "rect" if self.tool == Tool.RECTANGLE else "ellipse"
            self.canvas.show_box(kind, *self._start, *xy, subtract=self.subtract)

    def _release(self, xy: tuple[float, float], position: QPointF) -> None:
        if self.tool == Tool.POLYGON or not self.dragging or self._start is None:
            return
        start, start_pos, subtract = self._start, self._start_pos, self.subtract
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            if self.points[-1] != xy:
                self.points.append(xy)
            points = list(self.points)
            self.cancel()
            self._stroke(points)
            return
        self.cancel()
        if start_pos is not None and max(abs(position.x() - start_pos.x()),
                                         abs(position.y() - start_pos.y())) < MIN_BOX_PX:
            return      # a click, not a box: it only committed the shape being edited
        self.shapes.create(Shape.box(SHAPE_TOOLS[self.tool], start, xy, subtract))

    # -- edits ----------------------------------------------------------------------------------
    def _apply(self, region, text: str, erase: bool = False) -> None:
        document = self.document
        if document is None:
            return
        changed = document.subtract(region, text) if erase else document.add(region, text)
        if changed:
            self.edited.emit(text)

    def close_polygon(self) -> None:
        """The polygon being drawn becomes the shape being edited (>= 3 vertices)."""
        points, subtract = list(self.points), self.subtract
        self.cancel()
        if len(points) >= 3 and self.document is not None:
            self.shapes.create(Shape.polygon(points, subtract))

    def _stroke(self, points: list[tuple[float, float]]) -> None:
        if self.document is None:
            return
        erase = self.tool == Tool.ERASER
        region = rasterize_stroke(points, self.radius, self.document.shape)
        self._apply(region, "Erase" if erase else "Brush", erase=erase)
