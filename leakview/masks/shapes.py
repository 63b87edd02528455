"""Editable shapes: a polygon, rectangle or ellipse kept as geometry until it becomes pixels.

A :class:`Shape` is immutable (every edit returns a new one, so an undo step can keep the
geometry before and after). ``points`` are image coordinates with pixel centres at integers
(the convention of :mod:`leakview.masks.raster`, which rasterises them):

- ``polygon``: the vertices, in order (closed automatically; >= 3 for an area);
- ``rectangle`` and ``ellipse``: two opposite corners of the (bounding) box, kept normalised
  (``x0 <= x1``, ``y0 <= y1``).

Handles (what the user drags): a polygon's vertices; a box's four corners (top-left, top-right,
bottom-right, bottom-left) then the midpoints of its four sides (top, right, bottom, left).

A *subtractive* shape removes its pixels from the region instead of adding them
(:meth:`Shape.apply`). :meth:`Shape.to_labelme` / :meth:`Shape.from_labelme` convert to and
from a LabelMe shape dict (``label``, ``points``, ``group_id``, ``description``,
``shape_type``, ``flags``): a rectangle is a ``rectangle``, a polygon a ``polygon``, an
ellipse with equal radii a ``circle`` (centre, then a point on the circle); LabelMe has no
ellipse, so another ellipse is written as a ``polygon`` along it. What LabelMe cannot say (an
ellipse's box, a subtractive shape) goes in the extra key ``"leakview"``, which LabelMe keeps
as its shape's other data and :meth:`Shape.from_labelme` reads back.

Headless (numpy; never Qt).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from leakview.masks.raster import rasterize_ellipse, rasterize_polygon, rasterize_rectangle

__all__ = ["SHAPE_KINDS", "LiveShape", "Point", "Shape", "ShapeKind"]

ShapeKind = Literal["polygon", "rectangle", "ellipse"]
SHAPE_KINDS: tuple[ShapeKind, ...] = ("polygon", "rectangle", "ellipse")
Point = tuple[float, float]

ELLIPSE_POLYGON_POINTS = 64
"""Vertices of the polygon that stands for a non-circular ellipse in a LabelMe file."""

_BOX_CORNERS = ((0, 0), (1, 0), (1, 1), (0, 1))   # (x index, y index) into (lo, hi)


def _point(value: Any) -> Point:
    x, y = value
    x, y = float(x), float(y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"shape points must be finite, got {value!r}")
    return (x, y)


@dataclass(frozen=True)
class Shape:
    """One editable shape: its kind, its points (see the module docstring), whether it
    subtracts, and its label (the LabelMe label it is written with)."""

    kind: ShapeKind
    points: tuple[Point, ...]
    subtractive: bool = False
    label: str = "region"

    def __post_init__(self) -> None:
        if self.kind not in SHAPE_KINDS:
            raise ValueError(f"unknown shape kind {self.kind!r} (one of {SHAPE_KINDS})")
        points = tuple(_point(p) for p in self.points)
        if self.kind != "polygon":
            if len(points) != 2:
                raise ValueError(f"a {self.kind} needs 2 corners, got {len(points)}")
            (x0, y0), (x1, y1) = points
            points = ((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1)))
        object.__setattr__(self, "points", points)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def polygon(cls, points: Sequence[Sequence[float]], subtractive: bool = False,
                label: str = "region") -> Shape:
        return cls("polygon", tuple(_point(p) for p in points), subtractive, label)

    @classmethod
    def box(cls, kind: ShapeKind, start: Sequence[float], end: Sequence[float],
            subtractive: bool = False, label: str = "region") -> Shape:
        """A rectangle or ellipse dragged from ``start`` to ``end`` (any two opposite
        corners)."""
        return cls(kind, (_point(start), _point(end)), subtractive, label)

    # -- geometry --------------------------------------------------------------------------
    def handles(self) -> list[Point]:
        """The points the user can drag (see the module docstring for their order)."""
        if self.kind == "polygon":
            return list(self.points)
        (x0, y0), (x1, y1) = self.points
        xs, ys = (x0, x1), (y0, y1)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        corners = [(xs[i], ys[j]) for i, j in _BOX_CORNERS]
        return [*corners, (cx, y0), (x1, cy), (cx, y1), (x0, cy)]

    def edges(self) -> list[tuple[Point, Point]]:
        """A polygon's sides (side ``i`` runs from vertex ``i`` to vertex ``i + 1``)."""
        if self.kind != "polygon":
            return []
        points = self.points
        return [(points[i], points[(i + 1) % len(points)]) for i in range(len(points))]

    def dragged(self, handle: int, to: Sequence[float]) -> Shape:
        """The shape with handle number ``handle`` moved to ``to`` (a box keeps the opposite
        corner or side where it is; dragged past it, the box flips)."""
        x, y = _point(to)
        if self.kind == "polygon":
            points = list(self.points)
            points[handle] = (x, y)
            return replace(self, points=tuple(points))
        (x0, y0), (x1, y1) = self.points
        if handle < 4:
            i, j = _BOX_CORNERS[handle]
            xs, ys = [x0, x1], [y0, y1]
            xs[i], ys[j] = x, y
            return replace(self, points=((xs[0], ys[0]), (xs[1], ys[1])))
        side = handle - 4      # top, right, bottom, left
        if side == 0:
            y0 = y
        elif side == 1:
            x1 = x
        elif side == 2:
            y1 = y
        elif side == 3:
            x0 = x
        else:
            raise IndexError(f"a {self.kind} has 8 handles, got {handle}")
        return replace(self, points=((x0, y0), (x1, y1)))

    def moved(self, dx: float, dy: float) -> Shape:
        """The shape translated by ``(dx, dy)``."""
        return replace(self, points=tuple((x + dx, y + dy) for x, y in self.points))

    def with_vertex(self, edge: int, at: Sequence[float]) -> Shape:
        """The polygon with a new vertex ``at`` on its side ``edge`` (it becomes vertex
        ``edge + 1``)."""
        if self.kind != "polygon":
            raise ValueError(f"a {self.kind} has no vertices to insert")
        points = list(self.points)
        points.insert(edge + 1, _point(at))
        return replace(self, points=tuple(points))

    def without_vertex(self, index: int) -> Shape:
        """The polygon without vertex ``index``; a triangle stays as it is."""
        if self.kind != "polygon" or len(self.points) <= 3:
            return self
        return replace(self, points=self.points[:index] + self.points[index + 1:])

    def contains(self, x: float, y: float) -> bool:
        """Whether the point lies inside the shape (a polygon by the even-odd rule, as it is
        filled)."""
        if self.kind == "polygon":
            if len(self.points) < 3:
                return False
            from skimage.measure import points_in_poly

            return bool(points_in_poly(np.array([[x, y]]), np.array(self.points))[0])
        (x0, y0), (x1, y1) = self.points
        if self.kind == "rectangle":
            return x0 <= x <= x1 and y0 <= y <= y1
        rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
        if rx <= 0 or ry <= 0:
            return False
        return ((x - (x0 + x1) / 2) / rx) ** 2 + ((y - (y0 + y1) / 2) / ry) ** 2 <= 1

    # -- pixels ----------------------------------------------------------------------------
    def rasterize(self, shape: Sequence[int]) -> np.ndarray:
        """The shape's pixels in an image of ``shape`` (height, width), by the core
        rasterisers."""
        if self.kind == "polygon":
            return rasterize_polygon(self.points, shape)
        (x0, y0), (x1, y1) = self.points
        if self.kind == "rectangle":
            return rasterize_rectangle(x0, y0, x1, y1, shape)
        return rasterize_ellipse((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2,
                                 shape)

    def apply(self, base: np.ndarray | None, shape: Sequence[int]) -> np.ndarray | None:
        """``base`` (None: empty) with the shape added (or, subtractive, removed); None when
        no pixel is left."""
        region = self.rasterize(shape)
        before = np.zeros(region.shape, dtype=bool) if base is None else np.asarray(base, bool)
        after = before & ~region if self.subtractive else before | region
        return after if after.any() else None

    # -- LabelMe ---------------------------------------------------------------------------
    def to_labelme(self) -> dict[str, Any]:
        """The LabelMe shape dict (see the module docstring)."""
        extra: dict[str, Any] = {}
        points: list[list[float]] = [[x, y] for x, y in self.points]
        shape_type: str = self.kind
        if self.kind == "ellipse":
            (x0, y0), (x1, y1) = self.points
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
            if math.isclose(rx, ry, rel_tol=0, abs_tol=1e-9):
                shape_type, points = "circle", [[cx, cy], [cx + rx, cy]]
            else:
                angles = np.linspace(0, 2 * np.pi, ELLIPSE_POLYGON_POINTS, endpoint=False)
                shape_type = "polygon"
                points = [[float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))]
                          for a in angles]
                extra["ellipse"] = [[x0, y0], [x1, y1]]
        if self.subtractive:
            extra["subtractive"] = True
        data: dict[str, Any] = {"label": self.label, "points": points, "group_id": None,
                                "description": "", "shape_type": shape_type, "flags": {}}
        if extra:
            data["leakview"] = extra
        return data

    @classmethod
    def from_labelme(cls, data: Mapping[str, Any]) -> Shape:
        """The shape of a LabelMe shape dict (polygon, rectangle or circle; ValueError for
        another type or bad points)."""
        extra = data.get("leakview") or {}
        if not isinstance(extra, Mapping):
            raise ValueError("'leakview' must be an object")
        subtractive = bool(extra.get("subtractive", False))
        label = str(data.get("label") or "region")
        shape_type = data.get("shape_type") or "polygon"
        try:
            points = [_point(p) for p in data["points"]]
        except (KeyError, TypeError, ValueError):
            raise ValueError("'points' must be a list of finite [x, y] pairs") from None
        if "ellipse" in extra:
            start, end = extra["ellipse"]
            return cls.box("ellipse", start, end, subtractive, label)
        if shape_type == "polygon":
            return cls.polygon(points, subtractive, label)
        if shape_type in ("rectangle", "circle") and len(points) != 2:
            raise ValueError(f"a {shape_type} needs 2 points, got {len(points)}")
        if shape_type == "rectangle":
            return cls.box("rectangle", points[0], points[1], subtractive, label)
        if shape_type == "circle":
            (cx, cy), (px, py) = points
            r = math.hypot(px - cx, py - cy)
            return cls.box("ellipse", (cx - r, cy - r), (cx + r, cy + r), subtractive, label)
        raise ValueError(f"shape_type {shape_type!r} is not an editable shape "
                         f"(polygon, rectangle or circle)")


@dataclass(frozen=True, eq=False)
class LiveShape:
    """A shape being edited over a mask: the document shows ``shape.apply(base)``; ``base``
    (None: no mask) is the mask the shape was drawn on, never modified."""

    shape: Shape
    base: np.ndarray | None

    def mask(self, image_shape: Sequence[int]) -> np.ndarray | None:
        return self.shape.apply(self.base, image_shape)

    def with_shape(self, shape: Shape) -> LiveShape:
        return LiveShape(shape, self.base)
