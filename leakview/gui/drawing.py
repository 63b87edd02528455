"""Drawing the expected region: polygon, rectangle, ellipse, brush, eraser, clear.

:class:`DrawingController` filters the canvas's mouse and key events while a drawing tool is
active (the pan tool, Space + drag, the wheel and the other buttons go to pyqtgraph) and turns
finished shapes into masks with the core rasterisers (``masks.rasterize_polygon``,
``rasterize_rectangle``, ``rasterize_ellipse``, ``rasterize_stroke`` -- strokes interpolated
between mouse samples), applied to the current :class:`MaskDocument` as one undoable step.

Polygon: click vertices; Enter or a double-click closes it, Esc cancels, Backspace removes the
last vertex. Rectangle / ellipse: drag a box. Brush / eraser: drag; ``[`` and ``]`` change the
radius, shown as a circle under the cursor.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QCursor

from leakview.gui.image_view import ImageCanvas
from leakview.gui.mask_doc import MaskDocument
from leakview.masks import (
    rasterize_ellipse,
    rasterize_polygon,
    rasterize_rectangle,
    rasterize_stroke,
)

MIN_RADIUS, MAX_RADIUS = 1.0, 500.0


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
TOOL_NOTES = {Tool.POLYGON: "Enter or double-click closes, Esc cancels"}
"""Said in the tool's menu entry (and in Help > Shortcuts) after its label."""
TOOL_HINTS = {Tool.PAN: "drag to pan, wheel to zoom",
              Tool.POLYGON: "click vertices; Enter or double-click closes; Esc cancels",
              Tool.RECTANGLE: "drag a box", Tool.ELLIPSE: "drag a box",
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
        self._start: tuple[float, float] | None = None
        canvas.viewport().installEventFilter(self)
        canvas.installEventFilter(self)
        canvas.viewport().setMouseTracking(True)

    # -- state -------------------------------------------------------------------------------
    def set_document(self, document: MaskDocument | None) -> None:
        self.cancel()
        self.document = document

    def set_tool(self, tool: Tool | str) -> None:
        tool = Tool(tool)
        self.cancel()
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
        """Esc: drop the shape being drawn."""
        self.points = []
        self.dragging = False
        self._start = None
        self.canvas.clear_previews()

    def clear_mask(self) -> None:
        if self.document is not None and self.document.clear():
            self.edited.emit("Clear mask")

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
        point = self.canvas.to_image(event.position())
        xy = (point.x(), point.y())
        if kind == QEvent.Type.MouseMove:
            self.canvas.hovered.emit(xy[0], xy[1])
            if self.tool in (Tool.BRUSH, Tool.ERASER) and not self.space_held:
                self.canvas.show_cursor(xy[0], xy[1], self.radius)
            if not self.drawing():
                return False
            self._move(xy)
            return self.dragging
        if event.button() != Qt.MouseButton.LeftButton or not self.drawing():
            return False
        self.canvas.setFocus(Qt.FocusReason.MouseFocusReason)
        if kind == QEvent.Type.MouseButtonPress:
            self._press(xy)
        elif kind == QEvent.Type.MouseButtonRelease:
            self._release(xy)
        elif kind == QEvent.Type.MouseButtonDblClick and self.tool == Tool.POLYGON:
            self.close_polygon()
        return True

    def _key(self, event, pressed: bool) -> bool:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.space_held = pressed
                if pressed and self.dragging:
                    self.cancel()
                self._update_cursor()
            return True
        if not pressed:
            return False
        if self.tool == Tool.POLYGON and self.points:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.close_polygon()
                return True
            if key == Qt.Key.Key_Backspace:
                self.points.pop()
                self.canvas.show_polygon(self.points)
                return True
        if key == Qt.Key.Key_Escape and (self.points or self.dragging):
            self.cancel()
            return True
        return False

    def _press(self, xy: tuple[float, float]) -> None:
        if self.tool == Tool.POLYGON:
            if not self.points or self.points[-1] != xy:
                self.points.append(xy)
            self.canvas.show_polygon(self.points)
            return
        self.dragging = True
        self._start = xy
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.points = [xy]
            self.canvas.show_stroke(self.points, self.radius, self.tool == Tool.ERASER)
        else:
            self._move(xy)

    def _move(self, xy: tuple[float, float]) -> None:
        if self.tool == Tool.POLYGON:
            if self.points:
                self.canvas.show_polygon(self.points, hover=xy)
            return
        if not self.dragging or self._start is None:
            return
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.points.append(xy)
            self.canvas.show_stroke(self.points, self.radius, self.tool == Tool.ERASER)
        else:
            kind = "rect" if self.tool == Tool.RECTANGLE else "ellipse"
            self.canvas.show_box(kind, *self._start, *xy)

    def _release(self, xy: tuple[float, float]) -> None:
        if self.tool == Tool.POLYGON or not self.dragging or self._start is None:
            return
        start = self._start
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            if self.points[-1] != xy:
                self.points.append(xy)
            points = list(self.points)
            self.cancel()
            self._stroke(points)
            return
        self.cancel()
        self._box(start, xy)

    # -- edits ----------------------------------------------------------------------------------
    def _apply(self, region, text: str, erase: bool = False) -> None:
        document = self.document
        if document is None:
            return
        changed = document.subtract(region, text) if erase else document.add(region, text)
        if changed:
            self.edited.emit(text)

    def close_polygon(self) -> None:
        points = list(self.points)
        self.cancel()
        if len(points) >= 3 and self.document is not None:
            self._apply(rasterize_polygon(points, self.document.shape), "Polygon")

    def _box(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        if self.document is None:
            return
        (x0, y0), (x1, y1) = start, end
        shape = self.document.shape
        if self.tool == Tool.RECTANGLE:
            self._apply(rasterize_rectangle(x0, y0, x1, y1, shape), "Rectangle")
        else:
            self._apply(rasterize_ellipse((x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2,
                                          abs(y1 - y0) / 2, shape), "Ellipse")

    def _stroke(self, points: list[tuple[float, float]]) -> None:
        if self.document is None:
            return
        erase = self.tool == Tool.ERASER
        region = rasterize_stroke(points, self.radius, self.document.shape)
        self._apply(region, "Erase" if erase else "Brush", erase=erase)
