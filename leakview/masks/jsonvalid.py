"""Reading and validating annotation JSON: every problem becomes ``MaskError(path, reason)``.

Every problem with an annotation file -- unreadable, not JSON, wrong types, missing keys,
NaN/inf coordinates, a size over :data:`~leakview.masks.raster.MAX_MASK_PIXELS` -- raises
:class:`~leakview.masks.store.MaskError` (path + reason) and nothing else. Huge finite
coordinates are clipped (to +-1e300, then to the image), not an error. Shared by the LabelMe
and COCO readers and the folder importer.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from leakview.masks.raster import MAX_MASK_PIXELS
from leakview.masks.store import MaskError

__all__ = ["checked_mask_shape", "json_dimension", "json_number", "json_points",
           "json_type_name", "label_set", "load_json", "source_path"]

_HUGE = 1e300


def source_path(source: Any) -> Path:
    """The path an error names: the file itself, or ``<dict>`` for already-parsed data."""
    return Path(source) if isinstance(source, (str, os.PathLike)) else Path("<dict>")


def load_json(path: Path) -> Any:
    """The parsed JSON of the annotation file ``path``; any problem raises :class:`MaskError`."""
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


def json_type_name(value: Any) -> str:
    """JSON's name for the type of ``value`` (for error messages): object, array, ..."""
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null", int: "integer", float: "number"}.get(type(value),
                                                                    type(value).__name__)


def json_number(value: Any, path: Path, what: str) -> float:
    """A JSON number as a finite float; huge integers are clipped to +-1e300."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MaskError(path, f"{what} must be a number, got {json_type_name(value)}")
    if isinstance(value, int):
        return float(max(-_HUGE, min(_HUGE, value)))
    if not math.isfinite(value):
        raise MaskError(path, f"{what} is not finite ({value})")
    return float(max(-_HUGE, min(_HUGE, value)))


def json_dimension(value: Any, path: Path, what: str) -> int:
    """A positive integer image dimension (integral floats accepted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MaskError(path, f"{what} must be a positive integer, got {json_type_name(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise MaskError(path, f"{what} must be a positive integer, got {value}")
        value = int(value)
    if value <= 0:
        raise MaskError(path, f"{what} must be a positive integer, got {value}")
    dimension: int = value
    return dimension


def checked_mask_shape(height: int, width: int, path: Path) -> tuple[int, int]:
    """``(height, width)``, or :class:`MaskError` when it is over :data:`MAX_MASK_PIXELS`."""
    if height * width > MAX_MASK_PIXELS:
        raise MaskError(path, f"image size {width}x{height} is over the limit of "
                              f"{MAX_MASK_PIXELS} pixels")
    return height, width


def json_points(value: Any, path: Path, what: str) -> np.ndarray:
    """A JSON array of ``[x, y]`` pairs as an ``N x 2`` float array (see :func:`json_number`)."""
    if not isinstance(value, list):
        raise MaskError(path, f"{what} must be an array of [x, y] points, "
                              f"got {json_type_name(value)}")
    out = np.empty((len(value), 2))
    for index, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 2:
            raise MaskError(path, f"{what}[{index}] must be an [x, y] pair")
        out[index, 0] = json_number(point[0], path, f"{what}[{index}][0]")
        out[index, 1] = json_number(point[1], path, f"{what}[{index}][1]")
    return out


def label_set(labels: Collection[str] | None) -> frozenset[str] | None:
    """The labels to keep as a set (a single string is one label); None keeps all."""
    if labels is None:
        return None
    if isinstance(labels, str):
        return frozenset([labels])
    return frozenset(str(label) for label in labels)

