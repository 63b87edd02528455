"""Editable shapes on the canvas, driven with real mouse and key events: a drawn polygon,
rectangle or ellipse stays a shape (handles, move, vertex insert, Delete, Alt = subtract) until
committed; the mask is always base + shape, on disk too, and every edit is one undo step that
restores pixels and geometry."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from leakview.masks import (  # noqa: E402
    SUSPECT,
    rasterize_ellipse,
    rasterize_polygon,
    rasterize_rectangle,
    read_mask,
    region_path,
)
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    click,
    drag,
    folder,
    image_point,
    image_template,
    key,
    make_window,
    settings,
    viewport_point,
)

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def window(qtbot, make_window, folder):
    window = make_window(folder)
    qtbot.waitUntil(lambda: window.drawing.document is not None
                    and window.canvas.shape == IMAGE_SHAPE, timeout=20000)
    return window


def document(window):
    return window.drawing.document


def live(window):
    shape = document(window).live_shape
    return None if shape is None else shape.shape


def on_disk(window, doc=None):
    doc = doc or document(window)
    window.store.flush()
    return read_mask(doc.mask_file) if doc.mask_file.is_file() else None


def close(points, expected, atol: float = 1e-9) -> bool:
    """Same geometry: as many points, each within ``atol``."""
    a, b = np.asarray(points, dtype=float), np.asarray(expected, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=0, atol=atol)


def same(a, b) -> bool:
    if a is None or not a.any():
        return b is None or not b.any()
    return b is not None and np.array_equal(a, b)


def expect(qtbot, window, mask, doc=None) -> None:
    """The document's mask is ``mask`` (None / empty: no mask) and so is the file on disk."""
    doc = doc or document(window)
    assert same(mask, doc.mask)
    qtbot.waitUntil(lambda: same(mask, on_disk(window, doc)), timeout=5000)


def undo(qtbot, window) -> None:
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL)


def redo(qtbot, window) -> None:
    key(qtbot, window.canvas, Qt.Key.Key_Z, CTRL | SHIFT)


def handle_point(window, index: int) -> QPoint:
    return viewport_point(window, *live(window).handles()[index])


def drag_with(window, start: QPoint, end: QPoint, modifier, steps: int = 5) -> None:
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, start)
    for step in range(1, steps + 1):
        t = step / steps
        QTest.mouseMove(viewport, QPoint(round(start.x() + (end.x() - start.x()) * t),
                                         round(start.y() + (end.y() - start.y()) * t)))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, end)


def delta(window, start: QPoint, end: QPoint) -> tuple[float, float]:
    (x0, y0), (x1, y1) = image_point(window, start), image_point(window, end)
    return x1 - x0, y1 - y0


def draw_box(qtbot, window, tool_key, a, b, modifier=Qt.KeyboardModifier.NoModifier):
    key(qtbot, window.canvas, tool_key)
    start, end = viewport_point(window, *a), viewport_point(window, *b)
    drag_with(window, start, end, modifier)
    return image_point(window, start), image_point(window, end)


def test_rectangle_corner_and_side_drag_each_one_undo_step(qtbot, window):
    (x0, y0), (x1, y1) = draw_box(qtbot, window, Qt.Key.Key_R, (8, 8), (30, 24))
    first = rasterize_rectangle(x0, y0, x1, y1, IMAGE_SHAPE)
    assert live(window).kind == "rectangle" and first.sum() > 200
    expect(qtbot, window, first)
    assert window.drawing.shapes.overlay.handles.isVisible()
    assert len(window.drawing.shapes.overlay.handles.data) == 8   # 4 corners + 4 sides

    # the bottom-right corner (handle 2), dragged
    grab, to = handle_point(window, 2), viewport_point(window, 44, 36)
    drag(qtbot, window, grab, to)
    dx, dy = delta(window, grab, to)
    corner = rasterize_rectangle(x0, y0, x1 + dx, y1 + dy, IMAGE_SHAPE)
    expect(qtbot, window, corner)
    assert live(window).points[1] == pytest.approx((x1 + dx, y1 + dy))

    # the left side (handle 7) moves only x0
    grab, to = handle_point(window, 7), viewport_point(window, 2, 30)
    drag(qtbot, window, grab, to)
    dx2, _ = delta(window, grab, to)
    side = rasterize_rectangle(x0 + dx2, y0, x1 + dx, y1 + dy, IMAGE_SHAPE)
    expect(qtbot, window, side)
    assert window.session.document.stack.count() == 3

    # Esc during a drag: nothing changes (the release after it draws nothing either)
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     handle_point(window, 0))
    QTest.mouseMove(viewport, viewport_point(window, 20, 20))
    QTest.mouseMove(viewport, viewport_point(window, 24, 22))
    shown = lambda: window.canvas.mask_item.image > 0      # noqa: E731
    assert not np.array_equal(shown(), side)            # the mask follows the drag on screen
    key(qtbot, window.canvas, Qt.Key.Key_Escape)
    np.testing.assert_array_equal(shown(), side)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       viewport_point(window, 24, 22))
    expect(qtbot, window, side)
    assert window.session.document.stack.count() == 3

    undo(qtbot, window)
    expect(qtbot, window, corner)
    assert close(live(window).points, ((x0, y0), (x1 + dx, y1 + dy)))
    undo(qtbot, window)
    expect(qtbot, window, first)
    assert close(live(window).points, ((x0, y0), (x1, y1)))
    undo(qtbot, window)
    expect(qtbot, window, None)
    assert live(window) is None and not window.drawing.shapes.overlay.handles.isVisible()
    redo(qtbot, window)
    redo(qtbot, window)
    expect(qtbot, window, corner)
    assert close(live(window).points, ((x0, y0), (x1 + dx, y1 + dy)))


def test_polygon_vertex_drag_insert_and_remove(qtbot, window):
    key(qtbot, window.canvas, Qt.Key.Key_P)
    clicks = [viewport_point(window, x, y) for x, y in ((10, 10), (50, 12), (40, 40))]
    for point in clicks:
        click(window, point)
    key(qtbot, window.canvas, Qt.Key.Key_Return)
    vertices = [image_point(window, p) for p in clicks]
    triangle = rasterize_polygon(vertices, IMAGE_SHAPE)
    expect(qtbot, window, triangle)
    assert live(window).kind == "polygon" and len(live(window).points) == 3

    # drag vertex 2
    grab, to = handle_point(window, 2), viewport_point(window, 30, 46)
    drag(qtbot, window, grab, to)
    dx, dy = delta(window, grab, to)
    moved = [vertices[0], vertices[1], (vertices[2][0] + dx, vertices[2][1] + dy)]
    dragged = rasterize_polygon(moved, IMAGE_SHAPE)
    expect(qtbot, window, dragged)
    assert not np.array_equal(dragged, triangle)

    # Ctrl+click on side 0 (vertex 0 -> 1): a vertex on the side, the pixels unchanged
    middle = viewport_point(window, (moved[0][0] + moved[1][0]) / 2,
                            (moved[0][1] + moved[1][1]) / 2)
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, CTRL, middle)
    points = live(window).points
    assert len(points) == 4
    assert points[1] == pytest.approx(image_point(window, middle), abs=0.6)
    expect(qtbot, window, rasterize_polygon(points, IMAGE_SHAPE))
    # ... then dragged outwards: a fourth corner
    grab, to = handle_point(window, 1), viewport_point(window, 30, 2)
    drag(qtbot, window, grab, to)
    dx, dy = delta(window, grab, to)
    four = [points[0], (points[1][0] + dx, points[1][1] + dy), *points[2:]]
    quad = rasterize_polygon(four, IMAGE_SHAPE)
    expect(qtbot, window, quad)
    assert quad.sum() > dragged.sum()

    # a double-click on side 3 (last vertex -> first) inserts a vertex too
    side = viewport_point(window, (four[3][0] + four[0][0]) / 2, (four[3][1] + four[0][1]) / 2)
    click(window, side, double=True)
    assert len(live(window).points) == 5
    five = live(window).points
    expect(qtbot, window, rasterize_polygon(five, IMAGE_SHAPE))

    # Shift+click removes that vertex again
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, SHIFT,
                     handle_point(window, 4))
    assert close(live(window).points, four)
    expect(qtbot, window, quad)

    undo(qtbot, window)     # the removal
    assert close(live(window).points, five)
    undo(qtbot, window)     # the double-click insert
    assert close(live(window).points, four)
    expect(qtbot, window, quad)
    undo(qtbot, window)     # the drag of the inserted vertex
    assert close(live(window).points, points)
    undo(qtbot, window)     # the Ctrl+click insert
    assert close(live(window).points, moved)
    expect(qtbot, window, dragged)
    undo(qtbot, window)     # the vertex drag
    assert close(live(window).points, vertices)
    expect(qtbot, window, triangle)


def test_move_shape_then_delete_keeps_the_base(qtbot, window):
    (bx0, by0), (bx1, by1) = draw_box(qtbot, window, Qt.Key.Key_R, (2, 30), (14, 44))
    key(qtbot, window.canvas, Qt.Key.Key_Return)          # committed: the base of the next
    base = rasterize_rectangle(bx0, by0, bx1, by1, IMAGE_SHAPE)
    assert live(window) is None
    expect(qtbot, window, base)

    (x0, y0), (x1, y1) = draw_box(qtbot, window, Qt.Key.Key_E, (24, 6), (50, 26))
    ellipse = rasterize_ellipse((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2,
                                IMAGE_SHAPE)
    expect(qtbot, window, base | ellipse)

    grab, to = viewport_point(window, 37, 16), viewport_point(window, 44, 26)
    drag(qtbot, window, grab, to)
    dx, dy = delta(window, grab, to)
    moved = rasterize_ellipse((x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy, (x1 - x0) / 2,
                              (y1 - y0) / 2, IMAGE_SHAPE)
    expect(qtbot, window, base | moved)
    assert close(live(window).points, ((x0 + dx, y0 + dy), (x1 + dx, y1 + dy)))

    key(qtbot, window.canvas, Qt.Key.Key_Delete)          # the shape, not the whole mask
    assert live(window) is None
    expect(qtbot, window, base)

    undo(qtbot, window)
    expect(qtbot, window, base | moved)
    assert close(live(window).points, ((x0 + dx, y0 + dy), (x1 + dx, y1 + dy)))
    undo(qtbot, window)
    expect(qtbot, window, base | ellipse)
    assert close(live(window).points, ((x0, y0), (x1, y1)))


def test_alt_drag_and_alt_click_subtract(qtbot, window):
    (x0, y0), (x1, y1) = draw_box(qtbot, window, Qt.Key.Key_R, (4, 4), (60, 44))
    big = rasterize_rectangle(x0, y0, x1, y1, IMAGE_SHAPE)
    # Alt+drag inside the rectangle: a new, subtractive rectangle (the first is committed)
    (h0, k0), (h1, k1) = draw_box(qtbot, window, Qt.Key.Key_R, (10, 10), (24, 20), ALT)
    hole = rasterize_rectangle(h0, k0, h1, k1, IMAGE_SHAPE)
    assert live(window).subtractive
    expect(qtbot, window, big & ~hole)
    pen = window.drawing.shapes.overlay.outline.pen()
    assert pen.style() == Qt.PenStyle.DashLine and pen.color().red() > pen.color().green()

    # the hole moves with its shape
    grab, to = viewport_point(window, 17, 15), viewport_point(window, 30, 25)
    drag(qtbot, window, grab, to)
    dx, dy = delta(window, grab, to)
    moved = rasterize_rectangle(h0 + dx, k0 + dy, h1 + dx, k1 + dy, IMAGE_SHAPE)
    expect(qtbot, window, big & ~moved)

    # Alt+click polygon vertices: a subtractive triangle
    key(qtbot, window.canvas, Qt.Key.Key_P)
    clicks = [viewport_point(window, x, y) for x, y in ((44, 8), (56, 8), (50, 20))]
    for point in clicks:
        QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, ALT, point)
    key(qtbot, window.canvas, Qt.Key.Key_Return)
    cut = rasterize_polygon([image_point(window, p) for p in clicks], IMAGE_SHAPE)
    assert live(window).subtractive and (big & cut).any()
    expect(qtbot, window, big & ~moved & ~cut)

    undo(qtbot, window)
    expect(qtbot, window, big & ~moved)
    undo(qtbot, window)
    expect(qtbot, window, big & ~hole)
    assert live(window).subtractive
    undo(qtbot, window)
    expect(qtbot, window, big)


def test_enter_tool_image_and_new_shape_commit(qtbot, window):
    (x0, y0), (x1, y1) = draw_box(qtbot, window, Qt.Key.Key_R, (4, 4), (20, 16))
    first = rasterize_rectangle(x0, y0, x1, y1, IMAGE_SHAPE)
    key(qtbot, window.canvas, Qt.Key.Key_Return)
    assert live(window) is None and not window.drawing.shapes.overlay.handles.isVisible()
    expect(qtbot, window, first)
    # a drag inside the committed rectangle draws a new one: nothing moves
    (a0, b0), (a1, b1) = draw_box(qtbot, window, Qt.Key.Key_R, (10, 8), (40, 30))
    second = rasterize_rectangle(a0, b0, a1, b1, IMAGE_SHAPE)
    expect(qtbot, window, first | second)
    # drawing another one commits the second
    (c0, d0), (c1, d1) = draw_box(qtbot, window, Qt.Key.Key_R, (46, 30), (60, 44))
    third = rasterize_rectangle(c0, d0, c1, d1, IMAGE_SHAPE)
    assert close(live(window).points, ((c0, d0), (c1, d1)))
    expect(qtbot, window, first | second | third)
    # another tool commits; Delete is then Draw > Clear mask again
    key(qtbot, window.canvas, Qt.Key.Key_B)
    assert live(window) is None
    # an undo brings the last shape back as it was, with its tool
    undo(qtbot, window)
    expect(qtbot, window, first | second)
    redo(qtbot, window)
    assert close(live(window).points, ((c0, d0), (c1, d1)))
    assert window.drawing.tool.value == "rectangle"
    # another image commits
    shown = document(window)
    key(qtbot, window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: document(window) is not shown, timeout=10000)
    assert shown.live_shape is None
    assert not window.drawing.shapes.overlay.handles.isVisible()
    key(qtbot, window.canvas, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: document(window) is shown, timeout=10000)
    key(qtbot, window.canvas, Qt.Key.Key_Delete)          # no shape: clears the mask
    expect(qtbot, window, None)


def test_shapes_edit_whatever_document_the_controller_has(qtbot, window, folder):
    """The regions' kind selector points the controller at another region's document: the
    shape and its undo steps go there, the expected region is untouched."""
    from leakview.gui.mask_doc import MaskDocument

    expected = document(window)
    suspect = MaskDocument(expected.image_path,
                           region_path(folder, expected.image_path, SUSPECT), IMAGE_SHAPE,
                           None, window.store, image_root=folder)
    window.drawing.set_document(suspect)
    (x0, y0), (x1, y1) = draw_box(qtbot, window, Qt.Key.Key_R, (30, 20), (50, 40))
    drawn = rasterize_rectangle(x0, y0, x1, y1, IMAGE_SHAPE)
    grab, to = handle_point(window, 0), viewport_point(window, 24, 12)
    drag(qtbot, window, grab, to)
    dx, dy = delta(window, grab, to)
    expect(qtbot, window, rasterize_rectangle(x0 + dx, y0 + dy, x1, y1, IMAGE_SHAPE), suspect)
    assert suspect.mask_file.is_file() and ".suspect" in suspect.mask_file.parts
    assert suspect.stack.count() == 2 and expected.stack.count() == 0
    assert expected.mask is None and not expected.mask_file.exists()
    suspect.stack.undo()
    expect(qtbot, window, drawn, suspect)
    window.drawing.set_document(expected)           # switching region commits
    assert suspect.live_shape is None
