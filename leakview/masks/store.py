"""Mask storage: where an image's mask lives, and reading and writing it.

Canonical storage: an 8-bit single-channel PNG of the loaded image's width and height,
0 = outside, 255 = expected region (any non-zero reads as inside). For image ``ROOT/a/b.jpg``
the mask lives at ``ROOT/.leakview/masks/a/b.jpg.png`` unless a masks root is given
(``DIR/a/b.jpg.png``; :func:`mask_path`, re-exported from :mod:`leakview.layout`). Writes are
atomic (:func:`write_mask`); :func:`read_mask` checks the size against the image's and
:func:`find_mask` is the one lookup "this image's mask, if any" of scan, atlas, canary and GUI;
:func:`check_mask_destination` is the containment (security) rule of every writer.

"No mask" is no file. An all-zero mask file is a mask with an empty region: ``mask_area_frac``
0 and every other overlap metric undefined, so its image has no defined leak flag either; the
app never writes one (clearing or erasing the whole region removes the file).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from leakview.errors import PathError
from leakview.layout import EXPECTED, default_masks_root, mask_path, region_path
from leakview.pngio import write_png

__all__ = ["MaskError", "check_mask_destination", "default_masks_root", "find_mask",
           "mask_path", "read_mask", "write_mask"]


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
    inside: np.ndarray = array != 0
    return inside


def find_mask(root: str | os.PathLike[str], image: str | os.PathLike[str],
              masks_root: str | os.PathLike[str] | None = None,
              shape: tuple[int, int] | None = None, kind: str = EXPECTED
              ) -> tuple[np.ndarray | None, MaskError | None]:
    """The stored ``kind`` region mask of ``image`` (a path inside ``root``, absolute or
    relative), if any: the expected region by default, ``kind="suspect"`` for the suspect one.

    Returns ``(mask, None)`` when a usable mask exists, ``(None, None)`` when the image has no
    mask file, and ``(None, error)`` when the file exists but cannot be used (unreadable, or
    not ``shape`` = the loaded image's ``(H, W)``).
    """
    path = region_path(root, image, kind, masks_root)
    if not path.is_file():
        return None, None
    try:
        return read_mask(path, shape), None
    except MaskError as error:
        return None, error


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
