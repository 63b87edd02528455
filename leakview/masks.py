"""Expected-region masks: storage, rasterising shapes, LabelMe / COCO import.

Headless (numpy, Pillow; never Qt).

**Storage.** Canonical storage: an 8-bit single-channel PNG of the loaded image's width and
height, 0 = outside, 255 = expected region (any non-zero reads as inside). For image
``ROOT/a/b.jpg`` the mask lives at ``ROOT/.leakview/masks/a/b.jpg.png`` unless a masks root is
given (``DIR/a/b.jpg.png``). Writes are atomic (:func:`write_mask`, :func:`read_mask`).

**Rasterising** (:func:`rasterize_polygon`, :func:`rasterize_rectangle`,
:func:`rasterize_ellipse`, :func:`rasterize_stroke`). Coordinates are image pixels, ``x`` to the
right, ``y`` down, with pixel centres at integer coordinates: pixel ``(row r, column c)`` is the
point ``(x=c, y=r)``. A pixel is inside when its *centre* lies inside the *closed* shape
(boundary included, with a tolerance of 1e-7 px). So the rectangle ``(0, 0)-(2, 2)`` covers the
3 x 3 pixels of columns 0..2 and rows 0..2, the triangle ``(0,0) (2,0) (0,2)`` covers 6 pixels
(its hypotenuse passes through the centres of ``(0,2) (1,1) (2,0)``), and a shape thinner than
the spacing of pixel centres may cover nothing. For integer vertices this is what LabelMe's own
converter (Pillow's ``ImageDraw.polygon`` with a 1-px outline) gives. Polygons are filled with
the even-odd rule (a self-intersecting polygon has holes where it overlaps itself). Everything
is clipped to the image: shapes partly or wholly outside (even at coordinates like ``1e300``)
never raise. Non-finite coordinates raise :class:`ValueError`.

**LabelMe import** (:func:`labelme_to_mask`): union of the ``polygon`` (also when
``shape_type`` is missing or null), ``rectangle`` (two opposite corners), ``circle`` (centre,
then a point on the circumference) and ``mask`` shapes; LabelMe coordinates are used as they
are (integer = pixel centre). A ``mask`` shape carries ``points = [[x1, y1], [x2, y2]]`` (its
bounding box, truncated to integers, both ends inclusive, as LabelMe does) and ``mask`` = a
base64 PNG of exactly ``(x2-x1+1) x (y2-y1+1)`` pixels (any non-zero = inside), pasted at
``(x1, y1)`` and clipped. ``line``, ``linestrip``, ``point``, ``points`` and unknown shape types
have no area and are ignored. Polygons need >= 3 points, the others exactly 2.

**COCO import** (:func:`coco_to_masks`): per image, the union of its instances: polygon
segmentations (lists of flat ``[x, y, ...]`` lists) and RLE (``{"counts": [...] | "string",
"size": [h, w]}``, column-major; compressed strings are decoded here, no pycocotools). COCO puts
pixel ``(c, r)`` on the square ``[c, c+1] x [r, r+1]``, so polygon coordinates are shifted by
-0.5 before the centre rule above (``[0,0, 2,0, 2,2, 0,2]`` covers 2 x 2 pixels, as in
pycocotools). Crowd annotations (``iscrowd: 1``) are part of the union unless
``include_crowd=False``.

**Errors.** Every problem with an annotation file -- unreadable, not JSON, wrong types, missing
keys, NaN/inf coordinates, bad base64 or PNG, inconsistent RLE, a size over
:data:`MAX_MASK_PIXELS` -- raises :class:`MaskError` (path + reason) and nothing else. Huge
finite coordinates are clipped (to +-1e300, then to the image), not an error.

**Folder import** (:func:`import_masks`): see its docstring for how annotation files are paired
with images and for the containment (security) rules.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np
from PIL import Image

from leakview.errors import PathError
from leakview.layout import (LEAKVIEW_DIR, MARKERS_SUBDIR, MASKS_SUBDIR, default_masks_root,
                             has_image_extension, mask_path)
from leakview.pngio import write_png

class MaskError(PathError):
    """A mask file that cannot be used; carries the path and a human-readable reason."""


def write_mask(path: str | os.PathLike[str], mask: np.ndarray) -> Path:
    """Save a boolean (or 0/non-zero) ``H x W`` mask as an 8-bit 0/255 PNG, atomically."""
    array = np.asarray(mask)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"a mask must be a non-empty 2-D array, got shape {array.shape}")
    return write_png(path, np.where(array != 0, 255, 0).astype(np.uint8))


def read_mask(path: str | os.PathLike[str], shape: tuple[int, int] | None = None) -> np.ndarray:
    """Load a mask PNG as a boolean ``H x W`` array (any non-zero is inside).

    ``shape`` = the loaded image's ``(H, W)``: a mask of another size raises :class:`MaskError`.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(image if image.mode in ("L", "1", "I", "I;16")
                               else image.convert("L"))
    except FileNotFoundError:
        raise MaskError(path, "no such mask file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise MaskError(path, f"unreadable mask ({error})") from None
    if array.ndim != 2:
        raise MaskError(path, f"a mask must have one channel, got shape {array.shape}")
    if shape is not None and tuple(array.shape) != tuple(shape):
        raise MaskError(path, f"mask is {array.shape[1]}x{array.shape[0]} but the image is "
                              f"{shape[1]}x{shape[0]} (width x height)")
    return array != 0


def find_mask(root: str | os.PathLike[str], image: str | os.PathLike[str],
              masks_root: str | os.PathLike[str] | None = None,
              shape: tuple[int, int] | None = None
              ) -> tuple[np.ndarray | None, MaskError | None]:
    """The stored mask of ``image`` (a path inside ``root``, absolute or relative), if any.

    Returns ``(mask, None)`` when a usable mask exists, ``(None, None)`` when the image has no
    mask file, and ``(None, error)`` when the file exists but cannot be used (unreadable, or
    not ``shape`` = the loaded image's ``(H, W)``).
    """
    path = mask_path(root, image, masks_root)
    if not path.is_file():
        return None, None
    try:
        return read_mask(path, shape), None
    except MaskError as error:
        return None, error


def mask_boundary(region: np.ndarray, border_is_edge: bool = True) -> np.ndarray:
    """The boundary pixels of a boolean ``region``: inside pixels with an outside 4-neighbour.
    ``border_is_edge``: whether the image's border counts as outside (a region touching it is
    outlined there too)."""
    region = np.asarray(region, dtype=bool)
    padded = (np.pad(region, 1, mode="constant", constant_values=False) if border_is_edge
              else np.pad(region, 1, mode="edge"))
    interior = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    return region & ~interior


# =============================================================================================
# Rasterising shapes (pixel centres at integer coordinates; closed shapes; clipped)
# =============================================================================================

MAX_MASK_PIXELS = 1 << 28
"""Masks (and LabelMe ``mask`` patches) with more pixels than this are refused (MaskError)."""

MAX_BRUSH_RADIUS = 1e7
"""Brush radii above this are treated as this (a brush larger than any image)."""

_EPS = 1e-7          # boundary tolerance in pixels


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
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


def _fill_polygon(out: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
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
    height, width = _check_shape(shape)
    array = _as_points(points)
    out = np.zeros((height, width), dtype=bool)
    _fill_polygon(out, array[:, 0].copy(), array[:, 1].copy())
    return out


def rasterize_rectangle(x0: float, y0: float, x1: float, y1: float,
                        shape: Sequence[int]) -> np.ndarray:
    """Boolean mask of the closed axis-aligned rectangle with opposite corners ``(x0, y0)``,
    ``(x1, y1)`` (any order): ``(0, 0)-(2, 2)`` covers columns 0..2 and rows 0..2."""
    height, width = _check_shape(shape)
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
    height, width = _check_shape(shape)
    cx, cy, rx, ry = _finite(cx, cy, rx, ry)
    rx, ry = abs(rx), abs(ry)
    out = np.zeros((height, width), dtype=bool)
    if height == 0 or width == 0:
        return out
    if rx == 0 or ry == 0:
        _fill_polygon(out, np.array([cx - rx, cx + rx]), np.array([cy - ry, cy + ry]))
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
                   box: tuple[float, float, float, float]):
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
    height, width = _check_shape(shape)
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


# =============================================================================================
# Parsing helpers: every problem becomes MaskError(path, reason)
# =============================================================================================

_HUGE = 1e300


def _source_path(source: Any) -> Path:
    return Path(source) if isinstance(source, (str, os.PathLike)) else Path("<dict>")


def _load_json(path: Path) -> Any:
    try:
        if not path.is_file():
            raise MaskError(path, "is a folder, not an annotation file" if path.is_dir()
                            else "not a regular file" if path.exists()
                            else "no such annotation file")
        with open(path, "rb") as stream:
            raw = stream.read()
    except MaskError:
        raise
    except FileNotFoundError:
        raise MaskError(path, "no such annotation file") from None
    except OSError as error:
        raise MaskError(path, f"cannot read annotation file ({error.strerror or error})") from None
    except ValueError as error:                       # e.g. a NUL byte in the path
        raise MaskError(path, f"invalid path ({error})") from None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise MaskError(path, "not a UTF-8 JSON file") from None
    except (ValueError, RecursionError) as error:
        raise MaskError(path, f"not valid JSON ({error})") from None


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null", int: "integer", float: "number"}.get(type(value),
                                                                    type(value).__name__)


def _number(value: Any, path: Path, what: str) -> float:
    """A JSON number as a finite float; huge integers are clipped to +-1e300."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MaskError(path, f"{what} must be a number, got {_type_name(value)}")
    if isinstance(value, int):
        return float(max(-_HUGE, min(_HUGE, value)))
    if not math.isfinite(value):
        raise MaskError(path, f"{what} is not finite ({value})")
    return float(max(-_HUGE, min(_HUGE, value)))


def _dimension(value: Any, path: Path, what: str) -> int:
    """A positive integer image dimension (integral floats accepted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MaskError(path, f"{what} must be a positive integer, got {_type_name(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise MaskError(path, f"{what} must be a positive integer, got {value}")
        value = int(value)
    if value <= 0:
        raise MaskError(path, f"{what} must be a positive integer, got {value}")
    return value


def _checked_shape(height: int, width: int, path: Path) -> tuple[int, int]:
    if height * width > MAX_MASK_PIXELS:
        raise MaskError(path, f"image size {width}x{height} is over the limit of "
                              f"{MAX_MASK_PIXELS} pixels")
    return height, width


def _point_list(value: Any, path: Path, what: str) -> np.ndarray:
    if not isinstance(value, list):
        raise MaskError(path, f"{what} must be an array of [x, y] points, got {_type_name(value)}")
    out = np.empty((len(value), 2))
    for index, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 2:
            raise MaskError(path, f"{what}[{index}] must be an [x, y] pair")
        out[index, 0] = _number(point[0], path, f"{what}[{index}][0]")
        out[index, 1] = _number(point[1], path, f"{what}[{index}][1]")
    return out


def _label_set(labels: Collection[str] | None) -> frozenset[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        return frozenset([labels])
    return frozenset(str(label) for label in labels)


# =============================================================================================
# LabelMe
# =============================================================================================

LABELME_AREA_TYPES: tuple[str, ...] = ("polygon", "rectangle", "circle", "mask")
"""LabelMe shape types that become mask pixels; every other type is ignored."""


@dataclass
class _LabelmeResult:
    mask: np.ndarray
    used: int = 0
    ignored: dict[str, int] = field(default_factory=dict)


def _labelme_shape_of(data: dict, path: Path) -> tuple[int, int] | None:
    """``(imageHeight, imageWidth)`` recorded in the file, or None when absent."""
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if height is None and width is None:
        return None
    if height is None or width is None:
        raise MaskError(path, "imageHeight and imageWidth must be given together")
    return (_dimension(height, path, "imageHeight"), _dimension(width, path, "imageWidth"))


def _paste_mask_shape(out: np.ndarray, shape: dict, corners: np.ndarray, path: Path,
                      what: str) -> None:
    x1, y1 = int(corners[0, 0]), int(corners[0, 1])      # truncation, as LabelMe does
    x2, y2 = int(corners[1, 0]), int(corners[1, 1])
    if x2 < x1 or y2 < y1:
        raise MaskError(path, f"{what}: mask bounding box has x2 < x1 or y2 < y1")
    box_w, box_h = x2 - x1 + 1, y2 - y1 + 1
    if box_w * box_h > MAX_MASK_PIXELS:
        raise MaskError(path, f"{what}: mask of {box_w}x{box_h} pixels is over the limit")
    encoded = shape.get("mask")
    if not isinstance(encoded, str) or not encoded:
        raise MaskError(path, f"{what}: 'mask' must be a base64 PNG string, "
                              f"got {_type_name(encoded)}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MaskError(path, f"{what}: 'mask' is not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            if image.size != (box_w, box_h):
                raise MaskError(path, f"{what}: mask PNG is {image.size[0]}x{image.size[1]} but "
                                      f"its bounding box is {box_w}x{box_h}")
            image.load()
            patch = np.asarray(image if image.mode in ("1", "L") else image.convert("L")) != 0
    except MaskError:
        raise
    except Exception as error:            # Pillow raises many types on corrupt data
        raise MaskError(path, f"{what}: 'mask' is not a readable PNG "
                              f"({type(error).__name__})") from None
    height, width = out.shape
    top, left = max(y1, 0), max(x1, 0)
    bottom, right = min(y2 + 1, height), min(x2 + 1, width)
    if top < bottom and left < right:
        out[top:bottom, left:right] |= patch[top - y1:bottom - y1, left - x1:right - x1]


def _labelme_mask(data: Any, path: Path, shape: Sequence[int] | None,
                  labels: Collection[str] | None) -> _LabelmeResult:
    if not isinstance(data, Mapping):
        raise MaskError(path, f"a LabelMe file must be a JSON object, got {_type_name(data)}")
    if shape is None:
        recorded = _labelme_shape_of(data, path)
        if recorded is None:
            raise MaskError(path, "no imageHeight/imageWidth in the file and no shape given")
        height, width = recorded
    else:
        height, width = _check_shape(shape)
    _checked_shape(height, width, path)
    shapes = data.get("shapes")
    if "shapes" not in data:
        raise MaskError(path, "missing key 'shapes'")
    if not isinstance(shapes, list):
        raise MaskError(path, f"'shapes' must be an array, got {_type_name(shapes)}")
    selected = _label_set(labels)
    result = _LabelmeResult(np.zeros((height, width), dtype=bool))
    out = result.mask
    for index, item in enumerate(shapes):
        what = f"shapes[{index}]"
        if not isinstance(item, dict):
            raise MaskError(path, f"{what} must be an object, got {_type_name(item)}")
        label = item.get("label")
        if label is None:
            label = ""
        if not isinstance(label, str):
            raise MaskError(path, f"{what}.label must be a string, got {_type_name(label)}")
        kind = item.get("shape_type")
        if kind is None:
            kind = "polygon"
        if not isinstance(kind, str):
            raise MaskError(path, f"{what}.shape_type must be a string, got {_type_name(kind)}")
        if kind not in LABELME_AREA_TYPES:
            result.ignored[kind] = result.ignored.get(kind, 0) + 1
            continue
        if selected is not None and label not in selected:
            continue
        if "points" not in item:
            raise MaskError(path, f"{what} has no 'points'")
        points = _point_list(item["points"], path, f"{what}.points")
        if kind == "polygon":
            if len(points) < 3:
                raise MaskError(path, f"{what}: a polygon needs at least 3 points, "
                                      f"got {len(points)}")
            _fill_polygon(out, points[:, 0].copy(), points[:, 1].copy())
        else:
            if len(points) != 2:
                raise MaskError(path, f"{what}: a {kind} needs exactly 2 points, "
                                      f"got {len(points)}")
            if kind == "rectangle":
                out |= rasterize_rectangle(points[0, 0], points[0, 1], points[1, 0],
                                           points[1, 1], (height, width))
            elif kind == "circle":
                (cx, cy), (px, py) = points
                radius = 2.0 * math.hypot(cx * 0.5 - px * 0.5, cy * 0.5 - py * 0.5)
                if not math.isfinite(radius):
                    radius = float(np.finfo(np.float64).max)
                out |= rasterize_ellipse(cx, cy, radius, radius, (height, width))
            else:
                _paste_mask_shape(out, item, points, path, what)
        result.used += 1
    return result


def labelme_to_mask(json_path_or_dict: str | os.PathLike[str] | Mapping[str, Any],
                    shape: tuple[int, int] | None = None,
                    labels: Collection[str] | None = None) -> np.ndarray:
    """Boolean ``H x W`` mask: the union of a LabelMe file's area shapes.

    ``json_path_or_dict``: a LabelMe ``.json`` path or its already-parsed dict. ``shape``:
    ``(H, W)`` of the mask; by default ``(imageHeight, imageWidth)`` from the file (when given,
    it wins and the recorded size is not checked -- :func:`import_masks` checks it). ``labels``:
    only shapes with one of these labels (default: all). Shape types: see the module docstring
    (polygon / rectangle / circle / mask; line, linestrip, point(s) and unknown types ignored).
    A file with no selected area shape gives an all-False mask. Raises :class:`MaskError` only.
    """
    path = _source_path(json_path_or_dict)
    data = (_load_json(path) if isinstance(json_path_or_dict, (str, os.PathLike))
            else json_path_or_dict)
    if shape is not None:
        try:
            shape = _check_shape(shape)
        except ValueError as error:
            raise MaskError(path, str(error)) from None
    return _labelme_mask(data, path, shape, labels).mask


# =============================================================================================
# COCO
# =============================================================================================

def rle_string_decode(counts: str) -> list[int]:
    """Decode a COCO compressed RLE string into run lengths (as pycocotools' rleFrString).

    Each count is a little-endian base-32 varint of characters ``chr(48 + c)`` (``0x20`` =
    continuation, ``0x10`` of the last group = sign); from the third count on, the value is a
    delta to the count two places back. Raises ValueError on malformed input.
    """
    values: list[int] = []
    position, length = 0, len(counts)
    while position < length:
        value, shift, more = 0, 0, True
        while more:
            if position >= length:
                raise ValueError("truncated RLE string")
            c = ord(counts[position]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"invalid character {counts[position]!r} in RLE string")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            position += 1
            shift += 5
            if not more and c & 0x10:
                value -= 1 << shift                       # sign-extend
        if len(values) > 2:
            value += values[-2]
        if value < 0:
            raise ValueError("negative run length in RLE string")
        values.append(value)
    return values


def rle_string_encode(counts: Sequence[int]) -> str:
    """Encode run lengths as a COCO compressed RLE string (inverse of :func:`rle_string_decode`)."""
    chars: list[str] = []
    for index, count in enumerate(counts):
        value = int(count) - (int(counts[index - 2]) if index > 2 else 0)
        more = True
        while more:
            c = value & 0x1F
            value >>= 5
            more = value != -1 if c & 0x10 else value != 0
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return "".join(chars)


def _rle_to_mask(segmentation: dict, shape: tuple[int, int], path: Path, what: str) -> np.ndarray:
    size = segmentation.get("size")
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in size)):
        raise MaskError(path, f"{what}: RLE 'size' must be [height, width] integers")
    if tuple(size) != tuple(shape):
        raise MaskError(path, f"{what}: RLE size {size[1]}x{size[0]} does not match the image "
                              f"{shape[1]}x{shape[0]} (width x height)")
    counts = segmentation.get("counts")
    if isinstance(counts, str):
        try:
            runs = rle_string_decode(counts)
        except ValueError as error:
            raise MaskError(path, f"{what}: {error}") from None
    elif isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts):
            raise MaskError(path, f"{what}: RLE counts must be non-negative integers")
        runs = counts
    else:
        raise MaskError(path, f"{what}: RLE 'counts' must be a string or an array, "
                              f"got {_type_name(counts)}")
    height, width = shape
    if sum(runs) != height * width:
        raise MaskError(path, f"{what}: RLE counts sum to {sum(runs)}, not {height}*{width}")
    values = np.arange(len(runs)) % 2 == 1                 # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    return flat.reshape(width, height).T                    # column-major


def _coco_polygons(segmentation: list, shape: tuple[int, int], path: Path,
                   what: str) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for index, polygon in enumerate(segmentation):
        if not isinstance(polygon, list):
            raise MaskError(path, f"{what}[{index}] must be a flat [x, y, ...] array, "
                                  f"got {_type_name(polygon)}")
        if len(polygon) < 6 or len(polygon) % 2:
            raise MaskError(path, f"{what}[{index}] must have an even number (>= 6) of "
                                  f"coordinates, got {len(polygon)}")
        values = np.array([_number(v, path, f"{what}[{index}]") for v in polygon])
        # COCO: pixel (c, r) is the square [c, c+1] x [r, r+1]; centres at +0.5.
        _fill_polygon(out, values[0::2] - 0.5, values[1::2] - 0.5)
    return out


@dataclass
class _CocoImage:
    image_id: Any
    file_name: str
    height: int
    width: int
    annotations: list[tuple[int, Any]] = field(default_factory=list)


def _coco_key(value: Any) -> bool:
    return (isinstance(value, (int, str)) and not isinstance(value, bool))


def _coco_images(data: Any, path: Path, category_names: Collection[str] | None,
                 include_crowd: bool) -> list[_CocoImage]:
    """Parse the file structure (file-level errors raise) and group selected annotations."""
    if not isinstance(data, Mapping):
        raise MaskError(path, f"a COCO file must be a JSON object, got {_type_name(data)}")
    for key in ("images", "annotations"):
        if key not in data:
            raise MaskError(path, f"missing key '{key}'")
        if not isinstance(data[key], list):
            raise MaskError(path, f"'{key}' must be an array, got {_type_name(data[key])}")
    wanted: set | None = None
    names = _label_set(category_names)
    if names is not None:
        categories = data.get("categories")
        if not isinstance(categories, list):
            raise MaskError(path, "a category filter needs a 'categories' array")
        wanted = set()
        known: list[str] = []
        for index, category in enumerate(categories):
            if not isinstance(category, dict):
                raise MaskError(path, f"categories[{index}] must be an object")
            cat_id, name = category.get("id"), category.get("name")
            if not _coco_key(cat_id) or not isinstance(name, str):
                raise MaskError(path, f"categories[{index}] needs an integer 'id' and a "
                                      f"string 'name'")
            known.append(name)
            if name in names:
                wanted.add(cat_id)
        if not wanted:
            raise MaskError(path, f"no category named {', '.join(sorted(names))} "
                                  f"(the file has: {', '.join(sorted(set(known))) or 'none'})")

    images: dict[Any, _CocoImage] = {}
    for index, entry in enumerate(data["images"]):
        what = f"images[{index}]"
        if not isinstance(entry, dict):
            raise MaskError(path, f"{what} must be an object, got {_type_name(entry)}")
        for key in ("id", "file_name", "height", "width"):
            if key not in entry:
                raise MaskError(path, f"{what} has no '{key}'")
        image_id, file_name = entry["id"], entry["file_name"]
        if not _coco_key(image_id):
            raise MaskError(path, f"{what}.id must be an integer or a string")
        if not isinstance(file_name, str) or not file_name:
            raise MaskError(path, f"{what}.file_name must be a non-empty string")
        if image_id in images:
            raise MaskError(path, f"{what}: duplicate image id {image_id!r}")
        images[image_id] = _CocoImage(image_id, file_name,
                                      _dimension(entry["height"], path, f"{what}.height"),
                                      _dimension(entry["width"], path, f"{what}.width"))

    for index, ann in enumerate(data["annotations"]):
        what = f"annotations[{index}]"
        if not isinstance(ann, dict):
            raise MaskError(path, f"{what} must be an object, got {_type_name(ann)}")
        if "image_id" not in ann or "segmentation" not in ann:
            raise MaskError(path, f"{what} needs 'image_id' and 'segmentation'")
        if not _coco_key(ann["image_id"]):
            raise MaskError(path, f"{what}.image_id must be an integer or a string")
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1):
            raise MaskError(path, f"{what}.iscrowd must be 0 or 1")
        if crowd and not include_crowd:
            continue
        if wanted is not None:
            category = ann.get("category_id")
            if not _coco_key(category):
                raise MaskError(path, f"{what}.category_id must be an integer")
            if category not in wanted:
                continue
        image = images.get(ann["image_id"])
        if image is not None:                # annotations of unknown images are ignored
            image.annotations.append((index, ann["segmentation"]))

    selected = [image for image in images.values() if image.annotations]
    seen: set[str] = set()
    for image in selected:
        if image.file_name in seen:
            raise MaskError(path, f"file_name {image.file_name!r} is used by several images")
        seen.add(image.file_name)
    return selected


def _coco_image_mask(image: _CocoImage, path: Path) -> np.ndarray:
    shape = _checked_shape(image.height, image.width, path)
    out = np.zeros(shape, dtype=bool)
    for index, segmentation in image.annotations:
        what = f"annotations[{index}].segmentation"
        if isinstance(segmentation, list):
            out |= _coco_polygons(segmentation, shape, path, what)
        elif isinstance(segmentation, dict):
            out |= _rle_to_mask(segmentation, shape, path, what)
        else:
            raise MaskError(path, f"{what} must be polygons or RLE, "
                                  f"got {_type_name(segmentation)}")
    return out


def coco_to_masks(json_path: str | os.PathLike[str] | Mapping[str, Any],
                  category_names: Collection[str] | None = None,
                  include_crowd: bool = True) -> dict[str, np.ndarray]:
    """``{file_name: H x W bool mask}`` from a COCO instance JSON (path or parsed dict).

    Each mask (of the recorded ``height x width``) is the union of the image's instances;
    only images with at least one selected instance appear. ``category_names``: keep only
    these categories (a name the file lacks entirely raises). Polygons, uncompressed and
    compressed RLE are decoded; crowd instances are included unless ``include_crowd=False``;
    annotations of unknown ``image_id`` are ignored. Raises :class:`MaskError` only.
    """
    path = _source_path(json_path)
    data = _load_json(path) if isinstance(json_path, (str, os.PathLike)) else json_path
    return {image.file_name: _coco_image_mask(image, path)
            for image in _coco_images(data, path, category_names, include_crowd)}


# =============================================================================================
# Folder import
# =============================================================================================

@dataclass
class ImportReport:
    """What :func:`import_masks` did: images whose mask was written, items skipped and why."""

    masks_root: Path
    written: list[str] = field(default_factory=list)          # image paths relative to root
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source item, reason)

    @property
    def n_written(self) -> int:
        return len(self.written)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        """Human-readable multi-line summary (what the CLI prints)."""
        lines = [f"written {self.n_written} mask{'s' if self.n_written != 1 else ''} "
                 f"under {self.masks_root}"]
        if self.skipped:
            lines.append(f"skipped {self.n_skipped}:")
            lines.extend(f"  {item}: {reason}" for item, reason in self.skipped)
        return "\n".join(lines)


class _Skip(Exception):
    """Internal: this item is skipped for ``reason``."""


class _Roots:
    """The image root, lexically absolute and resolved, with containment checks."""

    def __init__(self, image_root: Path) -> None:
        self.lexical = Path(os.path.abspath(image_root))
        self.real = Path(os.path.realpath(image_root))
        self._by_name: dict[str, list[str]] | None = None

    def contain(self, candidate: Path) -> str | None:
        """``/``-relative path if ``candidate`` (absolute, normalised) is inside the root both
        lexically and after resolving links; None otherwise."""
        try:
            relative = candidate.relative_to(self.lexical)
            Path(os.path.realpath(candidate)).relative_to(self.real)
        except (ValueError, OSError):          # outside, NUL byte in the name, link loop ...
            return None
        if not relative.parts:
            return None
        return relative.as_posix()

    def usable(self, relative: str) -> str | None:
        """None if the image at ``relative`` can carry a mask, else the reason it cannot."""
        parts = relative.split("/")
        if any(part.startswith(".") for part in parts):
            return "the image is in a hidden folder (not scanned)"
        if not has_image_extension(parts[-1]):
            return f"{parts[-1]!r} is not an image leakview scans"
        if not (self.lexical / relative).is_file():
            return f"no image file {relative}"
        return None

    def by_name(self, name: str) -> list[str]:
        if self._by_name is None:
            self._by_name = {}
            for folder, dirs, files in os.walk(self.lexical):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file in files:
                    if not file.startswith(".") and has_image_extension(file):
                        relative = Path(folder, file).relative_to(self.lexical).as_posix()
                        self._by_name.setdefault(file, []).append(relative)
        return self._by_name.get(name, [])


def _normalised(base: Path, reference: str) -> Path:
    """``reference`` (``/`` or ``\\`` separated, relative to ``base`` or absolute), normalised."""
    text = reference.replace("\\", "/")
    return Path(os.path.normpath(os.path.join(base, text)))


def _image_hw(path: Path) -> tuple[int, int]:
    """``(H, W)`` of the image as leakview loads it (EXIF orientation applied), header only."""
    from leakview.images import ImageLoadError, image_size

    try:
        width, height = image_size(path)
    except ImageLoadError as error:
        raise _Skip(f"unreadable image {path.name}: {error.reason}") from None
    if width <= 0 or height <= 0:
        raise _Skip(f"image {path.name} has zero size")
    if width * height > MAX_MASK_PIXELS:
        raise _Skip(f"image {path.name} ({width}x{height}) is over the mask pixel limit")
    return height, width


def _labelme_target(data: dict, json_file: Path, src_dir: Path, roots: _Roots) -> str:
    """Relative path (inside the image root) of the image a LabelMe file annotates."""
    refused = ""
    image_path = data.get("imagePath")
    if image_path is not None and not isinstance(image_path, str):
        raise _Skip(f"imagePath must be a string, got {_type_name(image_path)}")
    if image_path:
        candidate = _normalised(json_file.parent, image_path)
        relative = roots.contain(candidate)
        if relative is None:
            refused = f"imagePath {image_path!r} is outside the image root (refused); "
        elif roots.usable(relative) is None:
            return relative
    # Fallback: an image named like the JSON file, in the same relative folder.
    folder = json_file.parent.relative_to(src_dir)
    search = roots.lexical / folder
    matches: list[str] = []
    try:
        entries = sorted(search.iterdir()) if search.is_dir() else []
    except OSError:
        entries = []
    if entries:
        for entry in entries:
            if entry.stem == json_file.stem and has_image_extension(entry.name):
                relative = roots.contain(Path(os.path.normpath(entry)))
                if relative is not None and roots.usable(relative) is None:
                    matches.append(relative)
    if len(matches) == 1:
        return matches[0]
    where = (folder / json_file.stem).as_posix()
    if matches:
        raise _Skip(f"{refused}several images named {where}.* ({', '.join(matches)})")
    if image_path and not refused:
        raise _Skip(f"imagePath {image_path!r} not found in the image root, and no image "
                    f"named {where}.*")
    raise _Skip(f"{refused}no image named {where}.* in the image root")


def _coco_target(file_name: str, roots: _Roots) -> str:
    candidate = _normalised(roots.lexical, file_name)
    relative = roots.contain(candidate)
    if relative is not None and roots.usable(relative) is None:
        return relative
    refused = "" if relative is not None else "file_name is outside the image root (refused); "
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    matches = [m for m in roots.by_name(name)
               if roots.contain(roots.lexical / m) is not None] if name else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise _Skip(f"{refused}not found at its path and several images are named {name!r}")
    raise _Skip(f"{refused}no image {file_name!r} in the image root")


def _json_files(src: Path) -> tuple[Path, list[Path]]:
    if src.is_file():
        return src.parent, [src]
    if not src.is_dir():
        raise MaskError(src, "no such file or folder")
    found: list[Path] = []
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder, f) for f in sorted(files)
                     if f.lower().endswith(".json") and not f.startswith("."))
    return src, found


def check_mask_destination(destination: str | os.PathLike[str],
                           image_root: str | os.PathLike[str],
                           masks_root: str | os.PathLike[str] | None = None) -> None:
    """Refuse (:class:`MaskError`) a mask destination that symbolic links lead out of its masks
    root -- or, for the default ``ROOT/.leakview/masks``, out of the image root: a
    ``.leakview`` link shipped in a downloaded data set must not make leakview write (or
    delete) files elsewhere. Every writer of masks calls this first: ``leakview masks import``
    and the app's autosave."""
    destination = Path(destination)
    base = Path(masks_root) if masks_root is not None else default_masks_root(image_root)
    real_base = Path(os.path.realpath(base))
    real = Path(os.path.realpath(destination))
    if not real.is_relative_to(real_base) or (
            masks_root is None
            and not real_base.is_relative_to(Path(os.path.realpath(image_root)))):
        raise MaskError(destination, f"refused: the mask path {destination} leads outside "
                        f"{'the masks root' if masks_root is not None else 'the image root'} "
                        "through a symbolic link")


def import_masks(src: str | os.PathLike[str], fmt: str, image_root: str | os.PathLike[str],
                 masks_root: str | os.PathLike[str] | None = None,
                 labels: Collection[str] | None = None, overwrite: bool = True,
                 progress: Callable[[int, int], Any] | None = None) -> ImportReport:
    """Import LabelMe or COCO annotations under ``src`` as mask PNGs for ``image_root``.

    ``src``: one ``.json`` file, or a folder searched recursively for ``*.json`` (hidden
    folders skipped). ``fmt``: ``"labelme"`` or ``"coco"``. ``labels``: LabelMe labels or COCO
    category names to keep (default: all). Each mask is written (atomically, 0/255 PNG) to
    ``mask_path(image_root, image, masks_root)``; with ``overwrite=False`` an existing mask is
    kept and the item skipped. ``progress(done, total)`` is called after each annotation file.

    Pairing annotations with images -- never reading or writing outside the roots:

    * LabelMe: ``imagePath`` is relative to the JSON file (``\\`` accepted as a separator). It
      is used when it resolves -- lexically AND after following links -- to an image file inside
      ``image_root``. Otherwise (missing, not found, or outside the root: refused), the image is
      the one inside ``image_root`` whose stem equals the JSON's stem, in the folder whose path
      relative to ``image_root`` equals the JSON's folder relative to ``src``; it must be unique.
    * COCO: ``file_name`` relative to ``image_root`` (same containment rule), else the unique
      image in ``image_root`` (recursive, hidden folders skipped) with that base name.
    * Images in hidden folders (e.g. ``.leakview``) or without a scanned extension are skipped.
    * The mask shape is the image's ``(H, W)`` as leakview loads it, read from the header with
      EXIF orientation applied (orientations 5-8 swap width and height; LabelMe records the
      oriented size too). A recorded ``imageHeight/imageWidth`` (COCO ``height/width``) that
      differs skips the item with both sizes in the reason.
    * An item with no selected area shape / instance, or whose annotations are invalid
      (:class:`MaskError`), is skipped with the reason; a second annotation for an image
      already written in this run is skipped, not merged.

    Raises :class:`MaskError` when ``src`` or ``image_root`` does not exist, ValueError for an
    unknown ``fmt``.
    """
    if fmt not in ("labelme", "coco"):
        raise ValueError(f"fmt must be 'labelme' or 'coco', got {fmt!r}")
    image_root = Path(image_root)
    if not image_root.is_dir():
        raise MaskError(image_root, "the image root is not a folder")
    src = Path(src)
    src_dir, files = _json_files(src)
    src_dir = Path(os.path.abspath(src_dir))
    roots = _Roots(image_root)
    report = ImportReport(Path(masks_root) if masks_root is not None
                          else default_masks_root(image_root))
    done: dict[str, str] = {}

    def save(item: str, relative: str, mask: np.ndarray) -> None:
        if relative in done:
            raise _Skip(f"the mask of {relative} was already written from {done[relative]}")
        destination = mask_path(image_root, relative, masks_root)
        check_mask_destination(destination, image_root, masks_root)
        if not overwrite and destination.exists():
            raise _Skip(f"mask of {relative} exists (not overwritten)")
        try:
            write_mask(destination, mask)
        except OSError as error:
            raise _Skip(f"cannot write {destination} ({error.strerror or error})") from None
        done[relative] = item
        report.written.append(relative)

    for number, json_file in enumerate(files, start=1):
        json_file = Path(os.path.abspath(json_file))
        item = json_file.relative_to(src_dir).as_posix()
        try:
            data = _load_json(json_file)
            if fmt == "labelme":
                if not isinstance(data, dict):
                    raise MaskError(json_file, "not a LabelMe file (a JSON object is expected)")
                relative = _labelme_target(data, json_file, src_dir, roots)
                height, width = _image_hw(roots.lexical / relative)
                recorded = _labelme_shape_of(data, json_file)
                if recorded is not None and recorded != (height, width):
                    raise _Skip(f"the file records {recorded[1]}x{recorded[0]} but {relative} "
                                f"is {width}x{height} (width x height)")
                parsed = _labelme_mask(data, json_file, (height, width), labels)
                if parsed.used == 0:
                    raise _Skip("no polygon, rectangle, circle or mask shape"
                                + (" with the selected labels" if labels is not None else ""))
                save(item, relative, parsed.mask)
            else:
                images = _coco_images(data, json_file, labels, include_crowd=True)
                if not images:
                    raise _Skip("no annotated images" + (" with the selected categories"
                                                         if labels is not None else ""))
                for image in images:
                    sub_item = f"{item}: {image.file_name}"
                    try:
                        relative = _coco_target(image.file_name, roots)
                        height, width = _image_hw(roots.lexical / relative)
                        if (image.height, image.width) != (height, width):
                            raise _Skip(f"the file records {image.width}x{image.height} but "
                                        f"{relative} is {width}x{height} (width x height)")
                        save(sub_item, relative, _coco_image_mask(image, json_file))
                    except _Skip as skip:
                        report.skipped.append((sub_item, str(skip)))
                    except MaskError as error:
                        report.skipped.append((sub_item, error.reason))
        except _Skip as skip:
            report.skipped.append((item, str(skip)))
        except MaskError as error:
            report.skipped.append((item, error.reason))
        if progress is not None:
            progress(number, len(files))
    return report
