"""PNG encoding in one place (zlib level 6, no optimisation pass: fast and deterministic).

The one other encoder is on purpose: the canary's HTML report embeds its figures as small
palette PNGs (``leakview.canary.figures.compact_png``: 256 colours, optimised), not for files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from leakview.atomic import atomic_write_bytes


def png_bytes(pixels: np.ndarray) -> bytes:
    """An RGB (H x W x 3) or grey (H x W) uint8 array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels)).save(buffer, format="PNG", optimize=False,
                                             compress_level=6)
    return buffer.getvalue()


def write_png(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    """Write ``pixels`` as PNG at ``path``, atomically (the old file stays until the rename)."""
    return atomic_write_bytes(path, png_bytes(pixels))
