"""Rasterising shapes into boolean masks, and the outline of a mask.

Coordinates are image pixels, ``x`` to the right, ``y`` down, with pixel centres at integer
coordinates: pixel ``(row r, column c)`` is the point ``(x=c, y=r)``. A pixel is inside when its
*centre* lies inside the *closed* shape (boundary included, with a tolerance of 1e-7 px). So the
rectangle ``(0, 0)-(2, 2)`` covers the 3 x 3 pixels of columns 0..2 and rows 0..2, the triangle
``(0,0) (2,0) (0,2)`` covers 6 pixels (its hypotenuse passes through the centres of
``(0,2) (1,1) (2,0)``), and a shape thinner than the spacing of pixel centres may cover nothing.
For integer vertices this is what LabelMe's own converter (Pillow's ``ImageDraw.polygon`` with a
1-px outline) gives. Polygons are filled with the even-odd rule (a self-intersecting polygon has
holes where it overlaps itself). Everything is clipped to the image: shapes partly or wholly
outside (even at coordinates like ``1e300``) never raise. Non-finite coordinates raise
:class:`ValueError`.

Headless (numpy only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_BRUSH_RADIUS", "MAX_MASK_PIXELS", "check_shape", "fill_polygon", "mask_boundary",
           "rasterize_ellipse", "rasterize_polygon", "rasterize_rectangle", "rasterize_stroke"]


def mask_boundary(region: np.ndarray, border_is_edge: bool = True) -> np.ndarray:
    """The boundary pixels of a boolean ``region``: inside pixels with an outside 4-neighbour.
    ``border_is_edge``: whether the image's border counts as outside (a region touching it is
    outlined there too)."""
    region = np.asarray(region, dtype=bool)
    padded = (np.pad(region, 1, mode="constant", constant_values=False) if border_is_edge
              else np.pad(region, 1, mode="edge"))
    interior = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    boundary: np.ndarray = region & ~interior
    return boundary


MAX_MASK_PIXELS = 1 << 28
"""Masks (and LabelMe ``mask`` patches) with more pixels than this are refused (MaskError)."""

MAX_BRUSH_RADIUS = 1e7
"""Brush radii above this are treated as this (a brush larger than any image)."""

_EPS = 1e-7          # boundary tolerance in pixels


def check_shape(shape: Sequence[int]) -> tuple[int, int]:
    """``shape`` as a non-negative ``(height, width)`` of ints; ValueError otherwise."""
    try:
        height, width = shape[0], shape[1]
        if len(shape) != 2:
            raise ValueError
        height, width = int(height), int(width)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"shape must be (height, width), got {shape!r}") from None
    if height < 0 or width < 0:
        raise ValueError(f"shape must be non-negative, got {shape!r}")
    return height, width


def _as_points(points: Any) -> np.ndarray:
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("points must be a sequence of (x, y) pairs") from None
    if array.size == 0:
        return np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must be a sequence of (x, y) pairs, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("points must be finite (no NaN or inf)")
    return array


def _finite(*values: Any) -> list[float]:
    out = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"coordinates must be finite, got {value!r}")
        out.append(number)
    return out


def _fill_intervals(out: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Set ``out[row, c]`` for every integer ``c`` in the closed ``[lo, hi]`` (tolerance eps)."""
    height, width = out.shape
    if rows.size == 0 or width == 0:
        return
    ok = (lo <= hi) & (rows >= 0) & (rows < height)          # NaN compares False
    lo = np.where(ok, lo, 0.0)
    hi = np.where(ok, hi, 0.0)
    start = np.clip(np.ceil(lo - _EPS), 0, width).astype(np.int64)
    stop = np.clip(np.floor(hi + _EPS), -1, width - 1).astype(np.int64) + 1
    ok &= start < stop
    if not ok.any():
        return
    diff = np.zeros((height, width + 1), dtype=np.int32)
    np.add.at(diff, (rows[ok], start[ok]), 1)
    np.add.at(diff, (rows[ok], stop[ok]), -1)
    out |= np.cumsum(diff, axis=1)[:, :width] > 0


def _row_span(lo: np.ndarray, hi: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer rows within the closed ``[lo, hi]`` (tolerance eps), clipped to the image."""
    first = np.clip(np.ceil(lo - _EPS), 0, height).astype(np.int64)
    last = np.clip(np.floor(hi + _EPS), -1, height - 1).astype(np.int64)
    return first, np.maximum(last - first + 1, 0)


def _expand_rows(first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with ``count[i]`` rows from ``first[i]``: (item index, row) per pair."""
    total = int(count.sum())
    item = np.repeat(np.arange(count.size), count)
    offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    return item, first[item] + offset


def fill_polygon(out: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
    """OR the closed even-odd polygon ``(xs, ys)`` (finite floats) into ``out``."""
    height, width = out.shape
    if xs.size == 0 or height == 0 or width == 0:
        return
    x0, y0 = xs, ys
    x1, y1 = np.roll(xs, -1), np.roll(ys, -1)
    # Halved coordinates: differences of halves never overflow, even at +-1.7e308.
    hy0, hy1 = y0 * 0.5, y1 * 0.5
    ylo, yhi = np.minimum(y0, y1), np.maximum(y0, y1)
    rows_out: list[np.ndarray] = []
    lo_out: list[np.ndarray] = []
    hi_out: list[np.ndarray] = []

    # Edges that are (nearly) horizontal: their whole x-extent is boundary on a row they touch.
    flat = np.abs(hy1 - hy0) <= _EPS * 0.5
    if flat.any():
        centre = np.round(ylo[flat] * 0.5 + yhi[flat] * 0.5)
        on_row = (ylo[flat] - _EPS <= centre) & (centre <= yhi[flat] + _EPS) \
            & (centre >= 0) & (centre < height)
        rows_out.append(np.where(on_row, centre, -1.0).astype(np.int64))
        lo_out.append(np.minimum(x0[flat], x1[flat]))
        hi_out.append(np.maximum(x0[flat], x1[flat]))

    # Crossings of every non-horizontal edge with the pixel rows it touches.
    edges = np.flatnonzero(hy0 != hy1)
    if edges.size:
        first, count = _row_span(ylo[edges], yhi[edges], height)
        item, row = _expand_rows(first, count)
        e = edges[item]
        t = np.clip((row * 0.5 - hy0[e]) / (hy1[e] - hy0[e]), 0.0, 1.0)
        x = np.clip(x0[e] * (1.0 - t) + x1[e] * t, -2.0, width + 1.0)
        # Boundary: a pixel centre lying on the edge.
        nearest = np.round(x)
        on_edge = np.abs(x - nearest) <= _EPS
        rows_out.append(row[on_edge])
        lo_out.append(nearest[on_edge])
        hi_out.append(nearest[on_edge])
        # Interior: half-open rule (ylo <= row < yhi) pairs the crossings of each row.
        half_open = (ylo[e] <= row) & (row < yhi[e])
        row_h, x_h = row[half_open], x[half_open]
        if row_h.size:
            order = np.lexsort((x_h, row_h))
            row_h, x_h = row_h[order], x_h[order]
            starts = np.flatnonzero(np.concatenate(([True], row_h[1:] != row_h[:-1])))
            sizes = np.diff(np.append(starts, row_h.size))
            rank = np.arange(row_h.size) - np.repeat(starts, sizes)
            size_of = np.repeat(sizes, sizes)
            left = np.flatnonzero((rank % 2 == 0) & (rank + 1 < size_of))
            rows_out.append(row_h[left])
            lo_out.append(x_h[left])
            hi_out.append(x_h[left + 1])

    if rows_out:
        _fill_intervals(out, np.concatenate(rows_out), np.concatenate(lo_out),
                        np.concatenate(hi_out))


def rasterize_polygon(points: Any, shape: Sequence[int]) -> np.ndarray:
    """Boolean ``H x W`` mask of the closed polygon ``points`` = ``[(x, y), ...]``.

    Pixel centres inside the polygon or on its boundary are set (even-odd rule; the polygon is
    closed automatically). Fewer than 3 points give the pixels whose centres lie on the point or
    segment. Clipped to the image; raises ValueError for bad ``shape`` or non-finite points.
    """
    height, width = check_shape(shape)
    array = _as_points(points)
    out = np.zeros((height, width), dtype=bool)
    fill_polygon(out, array[:, 0].copy(), array[:, 1].copy())
    return out


def rasterize_rectangle(x0: float, y0: float, x1: float, y1: float,
                        shape: Sequence[int]) -> np.ndarray:
    """Boolean mask of the closed axis-aligned rectangle with opposite corners ``(x0, y0)``,
    ``(x1, y1)`` (any order): ``(0, 0)-(2, 2)`` covers columns 0..2 and rows 0..2."""
    height, width = check_shape(shape)
    x0, y0, x1, y1 = _finite(x0, y0, x1, y1)
    out = np.zeros((height, width), dtype=bool)
    if height == 0 or width == 0:
        return out
    (r0,), (rows,) = _row_span(np.array([min(y0, y1)]), np.array([max(y0, y1)]), height)
    (c0,), (cols,) = _row_span(np.array([min(x0, x1)]), np.array([max(x0, x1)]), width)
    out[r0:r0 + rows, c0:c0 + cols] = True
    return out


def rasterize_ellipse(cx: float, cy: float, rx: float, ry: float,
                      shape: Sequence[int]) -> np.ndarray:
    """Boolean mask of the closed axis-aligned ellipse with centre ``(cx, cy)`` and semi-axes
    ``rx`` (along x) and ``ry`` (along y): pixels with ``((x-cx)/rx)² + ((y-cy)/ry)² <= 1``.

    (Centre + radii form; for a drag box ``(x0, y0)-(x1, y1)`` use ``cx = (x0+x1)/2``,
    ``rx = |x1-x0|/2``.) Negative radii count as their absolute value; a zero radius gives the
    degenerate segment (pixel centres on it); ``rx = ry = 0`` the centre pixel if ``(cx, cy)``
    is a pixel centre. A circle is ``rx = ry = r``.
    """
    height, width = check_shape(shape)
    cx, cy, rx, ry = _finite(cx, cy, rx, ry)
    rx, ry = abs(rx), abs(ry)
    out = np.zeros((height, width), dtype=bool)
    if height == 0 or width == 0:
        return out
    if rx == 0 or ry == 0:
        fill_polygon(out, np.array([cx - rx, cx + rx]), np.array([cy - ry, cy + ry]))
        return out
    (first,), (count,) = _row_span(np.array([cy - ry]), np.array([cy + ry]), height)
    rows = np.arange(first, first + count)
    v = (rows - cy) / ry
    inside = 1.0 + 1e-12 - v * v
    half = rx * np.sqrt(np.maximum(inside, 0.0))
    keep = inside >= 0
    _fill_intervals(out, rows[keep], cx - half[keep], cx + half[keep])
    return out


def _clip_segments(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                   box: tuple[float, float, float, float]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Liang-Barsky clip of segments to ``box`` = (xmin, ymin, xmax, ymax); overflow-safe.

    A clipped end gets the box coordinate it was clipped at exactly (so a huge horizontal
    or vertical segment keeps its exact row or column); the other coordinate is interpolated.
    """
    xmin, ymin, xmax, ymax = box
    hax, hay, hbx, hby = ax * 0.5, ay * 0.5, bx * 0.5, by * 0.5
    dx, dy = hbx - hax, hby - hay
    t0 = np.zeros(ax.shape)
    t1 = np.ones(ax.shape)
    side0 = np.full(ax.shape, -1)                  # which box side clipped each end (-1: none)
    side1 = np.full(ax.shape, -1)
    keep = np.ones(ax.shape, dtype=bool)
    sides = ((-dx, hax - xmin * 0.5), (dx, xmax * 0.5 - hax),
             (-dy, hay - ymin * 0.5), (dy, ymax * 0.5 - hay))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for number, (p, q) in enumerate(sides):
            parallel = p == 0
            keep &= ~(parallel & (q < 0))
            r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
            enter = ~parallel & (p < 0) & (r > t0)
            leave = ~parallel & (p > 0) & (r < t1)
            t0 = np.where(enter, r, t0)
            side0 = np.where(enter, number, side0)
            t1 = np.where(leave, r, t1)
            side1 = np.where(leave, number, side1)
    keep &= t0 <= t1
    bounds = np.array([xmin, xmax, ymin, ymax])

    def end(t: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = ax * (1 - t) + bx * t
        y = ay * (1 - t) + by * t
        bound = bounds[np.maximum(side, 0)]
        x = np.where((side == 0) | (side == 1), bound, x)
        y = np.where((side == 2) | (side == 3), bound, y)
        return x, y

    nax, nay = end(t0, side0)
    nbx, nby = end(t1, side1)
    return nax[keep], nay[keep], nbx[keep], nby[keep]


def rasterize_stroke(points: Any, radius: float, shape: Sequence[int]) -> np.ndarray:
    """Boolean mask of a round-brush stroke through ``points`` = ``[(x, y), ...]``.

    A pixel is set when its centre lies within ``radius`` of the polyline joining consecutive
    points (a capsule per segment, so there are no gaps however far apart the points are; one
    point gives a disc). ``radius`` below 0.5 counts as 0.5, so a stroke is at least one pixel
    wide and 8-connected; above :data:`MAX_BRUSH_RADIUS` it counts as that. Clipped to the
    image; raises ValueError for a negative or non-finite radius or non-finite points.
    """
    height, width = check_shape(shape)
    array = _as_points(points)
    (radius,) = _finite(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    r = min(max(radius, 0.5), MAX_BRUSH_RADIUS)
    out = np.zeros((height, width), dtype=bool)
    if array.shape[0] == 0 or height == 0 or width == 0:
        return out
    if array.shape[0] == 1:
        array = np.vstack([array, array])
    ax, ay = array[:-1, 0], array[:-1, 1]
    bx, by = array[1:, 0], array[1:, 1]
    ax, ay, bx, by = _clip_segments(ax, ay, bx, by,
                                    (-r - 2.0, -r - 2.0, width + r + 1.0, height + r + 1.0))
    if ax.size == 0:
        return out
    first, count = _row_span(np.minimum(ay, by) - r, np.maximum(ay, by) + r, height)
    seg, y = _expand_rows(first, count)
    y = y.astype(np.float64)
    sax, say, sbx, sby = ax[seg], ay[seg], bx[seg], by[seg]
    r2 = r * r + _EPS
    lo = np.full(y.shape, np.inf)
    hi = np.full(y.shape, -np.inf)
    for px, py in ((sax, say), (sbx, sby)):          # the two end discs
        rest = r2 - (y - py) ** 2
        half = np.sqrt(np.maximum(rest, 0.0))
        hit = rest >= 0
        lo = np.where(hit, np.minimum(lo, px - half), lo)
        hi = np.where(hit, np.maximum(hi, px + half), hi)
    # The band between them: 0 <= (P-A).u <= L and |(P-A).n| <= r, solved for x on row y.
    dx, dy = sbx - sax, sby - say
    length = np.hypot(dx, dy)
    band = length > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = np.where(band, dx / np.where(band, length, 1.0), 0.0)
        uy = np.where(band, dy / np.where(band, length, 1.0), 0.0)
        b_lo = np.full(y.shape, -np.inf)
        b_hi = np.full(y.shape, np.inf)
        for coef, const, low, high in ((ux, (y - say) * uy, 0.0, length),
                                       (-uy, (y - say) * ux, -r, r)):
            # low <= coef*(x - ax) + const <= high
            zero = coef == 0
            band &= ~zero | ((low - _EPS <= const) & (const <= high + _EPS))
            safe = np.where(zero, 1.0, coef)
            e1 = sax + (low - const) / safe
            e2 = sax + (high - const) / safe
            b_lo = np.where(zero, b_lo, np.maximum(b_lo, np.minimum(e1, e2)))
            b_hi = np.where(zero, b_hi, np.minimum(b_hi, np.maximum(e1, e2)))
    band &= b_lo <= b_hi
    lo = np.where(band, np.minimum(lo, b_lo), lo)
    hi = np.where(band, np.maximum(hi, b_hi), hi)
    _fill_intervals(out, y.astype(np.int64), lo, hi)
    return out

