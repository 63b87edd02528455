"""Drawing helpers of the demo world: a float RGB canvas that tracks what occluders cover,
smooth value noise and jittered colours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw


def tint(rng: np.random.Generator, base: Sequence[float], jitter: float = 0.04) -> np.ndarray:
    """The RGB colour ``base`` with each channel moved by up to ``jitter`` (float32, 0..1)."""
    return np.clip(np.asarray(base, np.float32) + rng.uniform(-jitter, jitter, 3), 0, 1).astype(
        np.float32)


T = TypeVar("T")


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of ``options``, drawn uniformly."""
    return options[int(rng.integers(len(options)))]


def value_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth value noise (about N(0, 1) amplitude) with features of ``cell`` pixels."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC),
                      dtype=np.float32)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """The smooth 0..1 ramp ``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.asarray(x * x * (3 - 2 * x))


class Canvas:
    """A float RGB frame in [0, 1] plus the pixels covered by occluders so far."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.img = np.zeros((h, w, 3), np.float32)
        self.occluded = np.zeros((h, w), bool)
        self.occ_active = False  # once the cargo is painted, opaque paint counts as occlusion

    # masks ----------------------------------------------------------------------------
    def rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        m = np.zeros((self.h, self.w), bool)
        xa, xb = max(0, int(round(x0))), min(self.w, int(round(x1)))
        ya, yb = max(0, int(round(y0))), min(self.h, int(round(y1)))
        if xb > xa and yb > ya:
            m[ya:yb, xa:xb] = True
        return m

    def poly(self, points: Iterable[tuple[float, float]]) -> np.ndarray:
        im = Image.new("L", (self.w, self.h), 0)
        ImageDraw.Draw(im).polygon([(float(x), float(y)) for x, y in points], fill=1)
        return np.asarray(im, dtype=bool)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        im = Image.new("L", (self.w, self.h), 0)
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        ImageDraw.Draw(im).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=1)
        return np.asarray(im, dtype=bool)

    def line(self, points: Sequence[tuple[float, float]], width: float) -> np.ndarray:
        im = Image.new("L", (self.w, self.h), 0)
        ImageDraw.Draw(im).line([(float(x), float(y)) for x, y in points], fill=1,
                                width=max(1, int(round(width))))
        return np.asarray(im, dtype=bool)

    # painting -------------------------------------------------------------------------
    def paint(self, mask: np.ndarray, color: np.ndarray | Sequence[float]) -> None:
        """Opaque paint; ``color`` is an RGB triple or a full H x W x 3 array."""
        color = np.asarray(color, np.float32)
        self.img[mask] = color[mask] if color.ndim == 3 else color
        if self.occ_active:
            self.occluded |= mask

    def shade(self, mask: np.ndarray, factor: float | np.ndarray) -> None:
        """Multiply (darken / lighten) without covering: not an occlusion."""
        f = np.asarray(factor, np.float32)
        self.img[mask] *= (f[mask][:, None] if f.ndim == 2 else f)

