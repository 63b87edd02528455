"""Expected-region masks: where they live, and reading/writing them as PNG.

Canonical storage: an 8-bit single-channel PNG of the loaded image's width and height,
0 = outside, 255 = expected region (any non-zero reads as inside). For image ``ROOT/a/b.jpg``
the mask lives at ``ROOT/.leakview/masks/a/b.jpg.png`` unless a masks root is given
(``DIR/a/b.jpg.png``). Writes are atomic.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from leakview.atomic import atomic_write_bytes

LEAKVIEW_DIR = ".leakview"
MASKS_SUBDIR = "masks"
MARKERS_SUBDIR = "markers"


class MaskError(Exception):
    """A mask file that cannot be used; carries the path and a human-readable reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def default_masks_root(image_root: str | os.PathLike[str], kind: str = MASKS_SUBDIR) -> Path:
    """``ROOT/.leakview/masks`` (or ``.../markers`` for leak-marker masks)."""
    return Path(image_root) / LEAKVIEW_DIR / kind


def mask_path(image_root: str | os.PathLike[str], image_path: str | os.PathLike[str],
              masks_root: str | os.PathLike[str] | None = None) -> Path:
    """Where the mask of ``image_path`` (inside ``image_root``) is stored."""
    root = Path(image_root)
    relative = Path(image_path)
    if relative.is_absolute():
        try:
            relative = relative.relative_to(root)
        except ValueError:
            raise ValueError(f"{image_path} is not inside the image root {root}") from None
    if ".." in relative.parts:
        raise ValueError(f"{image_path} escapes the image root {root}")
    base = Path(masks_root) if masks_root is not None else default_masks_root(root)
    return base / relative.parent / (relative.name + ".png")


def write_mask(path: str | os.PathLike[str], mask: np.ndarray) -> Path:
    """Save a boolean (or 0/non-zero) ``H x W`` mask as an 8-bit 0/255 PNG, atomically."""
    array = np.asarray(mask)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"a mask must be a non-empty 2-D array, got shape {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.where(array != 0, 255, 0).astype(np.uint8), mode="L").save(
        buffer, format="PNG", optimize=False)
    return atomic_write_bytes(path, buffer.getvalue())


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
