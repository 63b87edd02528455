"""LabelMe annotations to masks (:func:`labelme_to_mask`).

The union of the ``polygon`` (also when ``shape_type`` is missing or null), ``rectangle`` (two
opposite corners), ``circle`` (centre, then a point on the circumference) and ``mask`` shapes;
LabelMe coordinates are used as they are (integer = pixel centre, the rule of
:mod:`leakview.masks.raster`). A ``mask`` shape carries ``points = [[x1, y1], [x2, y2]]`` (its
bounding box, truncated to integers, both ends inclusive, as LabelMe does) and ``mask`` = a
base64 PNG of exactly ``(x2-x1+1) x (y2-y1+1)`` pixels (any non-zero = inside), pasted at
``(x1, y1)`` and clipped; its box may not hold more pixels than the image (LabelMe never writes
one larger), so a small file cannot make the reader decode a huge PNG. ``line``,
``linestrip``, ``point``, ``points`` and unknown shape types have no area and are ignored.
Polygons need >= 3 points, the others exactly 2. Bad base64 or PNG, and every other problem of
the file, raise :class:`~leakview.masks.store.MaskError`. With a
:class:`~leakview.masks.kindmap.KindMap` (:func:`parse_labelme`) each label's shapes go to its
region kind.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from leakview.layout import EXPECTED
from leakview.masks.jsonvalid import (
    checked_mask_shape,
    json_dimension,
    json_points,
    json_type_name,
    label_set,
    load_json,
    source_path,
)
from leakview.masks.kindmap import ALL_EXPECTED, KindMap
from leakview.masks.raster import (
    MAX_MASK_PIXELS,
    check_shape,
    fill_polygon,
    rasterize_ellipse,
    rasterize_rectangle,
)
from leakview.masks.store import MaskError

__all__ = ["LABELME_AREA_TYPES", "LabelmeResult", "labelme_recorded_shape", "labelme_to_mask",
           "parse_labelme"]

LABELME_AREA_TYPES: tuple[str, ...] = ("polygon", "rectangle", "circle", "mask")
"""LabelMe shape types that become mask pixels; every other type is ignored."""


@dataclass
class LabelmeResult:
    """A parsed LabelMe file: a mask per region kind that got a shape, how many area shapes
    it used, ignored shape types and the labels the kind map does not import (shape counts)."""

    shape: tuple[int, int]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    used: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)

    @property
    def mask(self) -> np.ndarray:
        """The union of every kind's mask (all False when no shape was used)."""
        out = np.zeros(self.shape, dtype=bool)
        for mask in self.masks.values():
            out |= mask
        return out

    def region(self, kind: str) -> np.ndarray:
        """The mask shapes of ``kind`` are drawn into (made on first use)."""
        if kind not in self.masks:
            self.masks[kind] = np.zeros(self.shape, dtype=bool)
        return self.masks[kind]


def labelme_recorded_shape(data: Mapping[str, Any], path: Path) -> tuple[int, int] | None:
    """``(imageHeight, imageWidth)`` recorded in the file, or None when absent."""
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if height is None and width is None:
        return None
    if height is None or width is None:
        raise MaskError(path, "imageHeight and imageWidth must be given together")
    return (json_dimension(height, path, "imageHeight"), json_dimension(width, path, "imageWidth"))


def _paste_mask_shape(out: np.ndarray, shape: dict[str, Any], corners: np.ndarray, path: Path,
                      what: str) -> None:
    x1, y1 = int(corners[0, 0]), int(corners[0, 1])      # truncation, as LabelMe does
    x2, y2 = int(corners[1, 0]), int(corners[1, 1])
    if x2 < x1 or y2 < y1:
        raise MaskError(path, f"{what}: mask bounding box has x2 < x1 or y2 < y1")
    box_w, box_h = x2 - x1 + 1, y2 - y1 + 1
    if box_w * box_h > min(MAX_MASK_PIXELS, out.size):
        raise MaskError(path, f"{what}: mask box of {box_w}x{box_h} pixels is larger than the "
                              f"image ({out.shape[1]}x{out.shape[0]})")
    encoded = shape.get("mask")
    if not isinstance(encoded, str) or not encoded:
        raise MaskError(path, f"{what}: 'mask' must be a base64 PNG string, "
                              f"got {json_type_name(encoded)}")
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


def parse_labelme(data: Any, path: Path, shape: Sequence[int] | None,
                  labels: Collection[str] | None,
                  kind_map: KindMap = ALL_EXPECTED) -> LabelmeResult:
    """The masks of the parsed LabelMe ``data`` at ``shape`` (default: the recorded size), one
    per region kind ``kind_map`` sends a used shape's label to, with the count of shapes used,
    ignored and not mapped; see :func:`labelme_to_mask`."""
    if not isinstance(data, Mapping):
        raise MaskError(path, f"a LabelMe file must be a JSON object, got {json_type_name(data)}")
    if shape is None:
        recorded = labelme_recorded_shape(data, path)
        if recorded is None:
            raise MaskError(path, "no imageHeight/imageWidth in the file and no shape given")
        height, width = recorded
    else:
        height, width = check_shape(shape)
    checked_mask_shape(height, width, path)
    shapes = data.get("shapes")
    if "shapes" not in data:
        raise MaskError(path, "missing key 'shapes'")
    if not isinstance(shapes, list):
        raise MaskError(path, f"'shapes' must be an array, got {json_type_name(shapes)}")
    selected = label_set(labels)
    result = LabelmeResult((height, width))
    for index, item in enumerate(shapes):
        what = f"shapes[{index}]"
        if not isinstance(item, dict):
            raise MaskError(path, f"{what} must be an object, got {json_type_name(item)}")
        label = item.get("label")
        if label is None:
            label = ""
        if not isinstance(label, str):
            raise MaskError(path, f"{what}.label must be a string, got {json_type_name(label)}")
        kind = item.get("shape_type")
        if kind is None:
            kind = "polygon"
        if not isinstance(kind, str):
            raise MaskError(path, f"{what}.shape_type must be a string, got {json_type_name(kind)}")
        if kind not in LABELME_AREA_TYPES:
            result.ignored[kind] = result.ignored.get(kind, 0) + 1
            continue
        if selected is not None and label not in selected:
            continue
        region = kind_map.kind_of(label)
        if region is None:
            result.unmapped[label] = result.unmapped.get(label, 0) + 1
            continue
        out = result.region(region)
        if "points" not in item:
            raise MaskError(path, f"{what} has no 'points'")
        points = json_points(item["points"], path, f"{what}.points")
        if kind == "polygon":
            if len(points) < 3:
                raise MaskError(path, f"{what}: a polygon needs at least 3 points, "
                                      f"got {len(points)}")
            fill_polygon(out, points[:, 0].copy(), points[:, 1].copy())
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
    path = source_path(json_path_or_dict)
    data = (load_json(path) if isinstance(json_path_or_dict, (str, os.PathLike))
            else json_path_or_dict)
    if shape is not None:
        try:
            shape = check_shape(shape)
        except ValueError as error:
            raise MaskError(path, str(error)) from None
    result = parse_labelme(data, path, shape, labels)
    return result.masks.get(EXPECTED, result.mask)

