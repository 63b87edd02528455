"""COCO instance annotations to masks (:func:`coco_to_masks`), and COCO's RLE strings.

Per image, the union of its instances: polygon segmentations (lists of flat ``[x, y, ...]``
lists) and RLE (``{"counts": [...] | "string", "size": [h, w]}``, column-major; compressed
strings are decoded here, no pycocotools). COCO puts pixel ``(c, r)`` on the square
``[c, c+1] x [r, r+1]``, so polygon coordinates are shifted by -0.5 before the pixel-centre rule
of :mod:`leakview.masks.raster` (``[0,0, 2,0, 2,2, 0,2]`` covers 2 x 2 pixels, as in
pycocotools). Crowd annotations (``iscrowd: 1``) are part of the union unless
``include_crowd=False``. Each instance carries its category's name (``""`` when it names no
known category), which a :class:`~leakview.masks.kindmap.KindMap` sends to a region kind
(:func:`coco_image_masks`). An inconsistent RLE, and every other problem of the file, raises
:class:`~leakview.masks.store.MaskError`.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leakview.layout import EXPECTED
from leakview.masks.jsonvalid import (
    checked_mask_shape,
    json_dimension,
    json_number,
    json_type_name,
    label_set,
    load_json,
    source_path,
)
from leakview.masks.kindmap import ALL_EXPECTED, KindMap
from leakview.masks.raster import fill_polygon
from leakview.masks.store import MaskError

__all__ = ["CocoImage", "coco_image_mask", "coco_image_masks", "coco_to_masks",
           "mask_to_rle", "parse_coco_images",
           "rle_string_decode", "rle_string_encode"]


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


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """A boolean ``H x W`` mask as COCO compressed RLE: ``{"size": [H, W], "counts": str}``
    (column-major runs starting with a run of 0s, as pycocotools' ``mask.encode``)."""
    array = np.asarray(mask, dtype=bool)
    flat = array.ravel(order="F")
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return {"size": [int(array.shape[0]), int(array.shape[1])],
            "counts": rle_string_encode(runs)}


def _rle_to_mask(segmentation: dict[str, Any], shape: tuple[int, int], path: Path,
                 what: str) -> np.ndarray:
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
                              f"got {json_type_name(counts)}")
    height, width = shape
    if sum(runs) != height * width:
        raise MaskError(path, f"{what}: RLE counts sum to {sum(runs)}, not {height}*{width}")
    values = np.arange(len(runs)) % 2 == 1                 # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    return flat.reshape(width, height).T                    # column-major


def _coco_polygons(segmentation: list[Any], shape: tuple[int, int], path: Path,
                   what: str) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for index, polygon in enumerate(segmentation):
        if not isinstance(polygon, list):
            raise MaskError(path, f"{what}[{index}] must be a flat [x, y, ...] array, "
                                  f"got {json_type_name(polygon)}")
        if len(polygon) < 6 or len(polygon) % 2:
            raise MaskError(path, f"{what}[{index}] must have an even number (>= 6) of "
                                  f"coordinates, got {len(polygon)}")
        values = np.array([json_number(v, path, f"{what}[{index}]") for v in polygon])
        # COCO: pixel (c, r) is the square [c, c+1] x [r, r+1]; centres at +0.5.
        fill_polygon(out, values[0::2] - 0.5, values[1::2] - 0.5)
    return out


@dataclass
class CocoImage:
    """One image of a COCO file with its selected ``(index, segmentation, category name)``
    annotations."""

    image_id: Any
    file_name: str
    height: int
    width: int
    annotations: list[tuple[int, Any, str]] = field(default_factory=list)

    def kinds(self, kind_map: KindMap) -> set[str]:
        """The region kinds ``kind_map`` sends this image's annotations to."""
        return {kind for kind in (kind_map.kind_of(name) for _, _, name in self.annotations)
                if kind is not None}


def _coco_key(value: Any) -> bool:
    return (isinstance(value, (int, str)) and not isinstance(value, bool))


def parse_coco_images(data: Any, path: Path, category_names: Collection[str] | None,
                      include_crowd: bool) -> list[CocoImage]:
    """Parse the file structure (file-level errors raise) and group selected annotations."""
    if not isinstance(data, Mapping):
        raise MaskError(path, f"a COCO file must be a JSON object, got {json_type_name(data)}")
    for key in ("images", "annotations"):
        if key not in data:
            raise MaskError(path, f"missing key '{key}'")
        if not isinstance(data[key], list):
            raise MaskError(path, f"'{key}' must be an array, got {json_type_name(data[key])}")
    names = label_set(category_names)
    category_of = _category_names(data.get("categories"), path, strict=names is not None)
    wanted: set[Any] | None = None
    if names is not None:
        wanted = {cat_id for cat_id, name in category_of.items() if name in names}
        if not wanted:
            known = sorted(set(category_of.values()))
            raise MaskError(path, f"no category named {', '.join(sorted(names))} "
                                  f"(the file has: {', '.join(known) or 'none'})")

    images: dict[Any, CocoImage] = {}
    for index, entry in enumerate(data["images"]):
        what = f"images[{index}]"
        if not isinstance(entry, dict):
            raise MaskError(path, f"{what} must be an object, got {json_type_name(entry)}")
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
        images[image_id] = CocoImage(image_id, file_name,
                                      json_dimension(entry["height"], path, f"{what}.height"),
                                      json_dimension(entry["width"], path, f"{what}.width"))

    for index, ann in enumerate(data["annotations"]):
        what = f"annotations[{index}]"
        if not isinstance(ann, dict):
            raise MaskError(path, f"{what} must be an object, got {json_type_name(ann)}")
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
            category = ann.get("category_id")
            name = category_of.get(category, "") if _coco_key(category) else ""
            image.annotations.append((index, ann["segmentation"], name))

    selected = [image for image in images.values() if image.annotations]
    seen: set[str] = set()
    for image in selected:
        if image.file_name in seen:
            raise MaskError(path, f"file_name {image.file_name!r} is used by several images")
        seen.add(image.file_name)
    return selected


def _category_names(categories: Any, path: Path, strict: bool) -> dict[Any, str]:
    """``{category id: name}``; a malformed ``categories`` raises when ``strict`` (a category
    filter needs it), else the unusable entries are left out."""
    if not isinstance(categories, list):
        if strict:
            raise MaskError(path, "a category filter needs a 'categories' array")
        return {}
    out: dict[Any, str] = {}
    for index, category in enumerate(categories):
        cat_id = category.get("id") if isinstance(category, dict) else None
        name = category.get("name") if isinstance(category, dict) else None
        if _coco_key(cat_id) and isinstance(name, str):
            out[cat_id] = name
        elif strict:
            raise MaskError(path, f"categories[{index}] must be an object with an integer "
                                  "'id' and a string 'name'")
    return out


def coco_image_masks(image: CocoImage, path: Path, kind_map: KindMap = ALL_EXPECTED
                     ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per region kind, the union of ``image``'s annotations ``kind_map`` sends there (a
    ``height x width`` boolean mask), and the category names it does not import (counts)."""
    shape = checked_mask_shape(image.height, image.width, path)
    masks: dict[str, np.ndarray] = {}
    unmapped: dict[str, int] = {}
    for index, segmentation, name in image.annotations:
        kind = kind_map.kind_of(name)
        if kind is None:
            unmapped[name] = unmapped.get(name, 0) + 1
            continue
        out = masks.setdefault(kind, np.zeros(shape, dtype=bool))
        what = f"annotations[{index}].segmentation"
        if isinstance(segmentation, list):
            out |= _coco_polygons(segmentation, shape, path, what)
        elif isinstance(segmentation, dict):
            out |= _rle_to_mask(segmentation, shape, path, what)
        else:
            raise MaskError(path, f"{what} must be polygons or RLE, "
                                  f"got {json_type_name(segmentation)}")
    return masks, unmapped


def coco_image_mask(image: CocoImage, path: Path) -> np.ndarray:
    """The union of ``image``'s annotations as a ``height x width`` boolean mask."""
    masks, _ = coco_image_masks(image, path)
    return masks.get(EXPECTED, np.zeros(checked_mask_shape(image.height, image.width, path),
                                        dtype=bool))


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
    path = source_path(json_path)
    data = load_json(path) if isinstance(json_path, (str, os.PathLike)) else json_path
    return {image.file_name: coco_image_mask(image, path)
            for image in parse_coco_images(data, path, category_names, include_crowd)}

