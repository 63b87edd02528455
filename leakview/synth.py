"""Synthetic grain-terminal images with optional planted leak markers (demo data, canary).

The demo world: a grain truck at a terminal, seen from above (``view="top"``) or from an
elevated side position (``view="side"``), classified by what its body carries
(:data:`CLASSES`). Each scene comes with its *expected region*: the cargo mask.

Expected region (cargo mask)
    Exactly the pixels where cargo was painted and is still visible. Opaque occluders painted
    after the cargo (tarp bows, a partly rolled tarp, a person, a pole / the sampling probe's
    boom) are removed from the mask. A *shadow* only darkens the cargo, it does not hide it, so
    shadowed cargo stays in the mask. For ``"empty"`` the expected region is the body's visible
    inside (the metal floor seen from above; the inner far wall and floor seen from the side):
    the same place a load would be, so every image has a non-empty expected region. The mask is
    taken before the camera stage (a blur of at most ~1 px at 320x240), so a cargo pixel's colour
    may bleed one pixel past the mask edge, as it would in a real photograph.

Geometry and layout never depend on the class: only the texture and colour inside the cargo
region do. With ``cargo_contrast=0`` every class gets the same neutral fill, so the cargo carries
no class information at all; ``1.0`` is the default, honest look; values in between fade the
class-specific colour and texture towards the neutral fill (useful to make a leak marker win).

Randomness: :func:`render_scene` splits the generator it is given into independent streams
(layout, texture, camera), so the cargo contrast or the debug ``sentinel`` fill never changes
the layout. :func:`render_sample` derives everything from ``(seed, class index, index)`` and
draws a marker's own random choices (if any) from a separate stream, so the sample rendered
with ``leak=None`` is pixel-identical to the leaky one outside the marker region.

Leak markers (:data:`MARKERS`, :func:`get_marker`) are applied to the finished 8-bit image, as
the study did: a digital overlay, not part of the scene. Headless: numpy, Pillow, scipy only.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leakview import __version__
from leakview.atomic import atomic_write_bytes, atomic_write_text
from leakview.masks import MARKERS_SUBDIR, default_masks_root, mask_path, write_mask
from leakview.pngio import png_bytes

CLASSES: tuple[str, ...] = ("wheat", "corn", "sunflower", "empty")
VIEWS: tuple[str, ...] = ("top", "side")
OCCLUDERS: tuple[str, ...] = ("bows", "tarp", "person", "pole", "shadow")
DEFAULT_SIZE: tuple[int, int] = (320, 240)  # (W, H)
MIN_SIDE = 32
MAX_SIDE = 4096
DATASET_FORMAT = "leakview-demo-data/1"

#: Strong colours that never occur in the scenes (no pure primaries are painted there).
DEFAULT_CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255))
CORNERS: tuple[str, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")
EDGES: tuple[str, ...] = ("top", "bottom", "left", "right")

# Per-view occluder probabilities when render_scene(..., occluders=None).
_OCCLUDER_P = {"bows": 0.3, "tarp": 0.25, "person": 0.15, "pole": 0.2, "shadow": 0.3}


@dataclass
class Scene:
    """One rendered scene. Boxes are ``(x0, y0, x1, y1)`` pixel boxes, end-exclusive."""

    image: np.ndarray            #: H x W x 3 uint8
    cargo_mask: np.ndarray       #: H x W bool: visible cargo (visible floor for "empty")
    label: str
    view: str                    #: "top" or "side"
    truck_box: tuple[int, int, int, int]
    body_box: tuple[int, int, int, int]
    cargo_box: tuple[int, int, int, int]  #: where cargo was painted (before occlusion)
    cargo_painted: np.ndarray    #: H x W bool: cargo painted, before occluders were drawn
    occluders: tuple[str, ...] = ()
    facing: str = "right"        #: where the cab is

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


# --------------------------------------------------------------------------- small helpers

def _color(rng: np.random.Generator, base: Sequence[float], jitter: float = 0.04) -> np.ndarray:
    return np.clip(np.asarray(base, np.float32) + rng.uniform(-jitter, jitter, 3), 0, 1).astype(
        np.float32)


def _pick(rng: np.random.Generator, options: Sequence) -> object:
    return options[int(rng.integers(len(options)))]


def _noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth value noise (about N(0, 1) amplitude) with features of ``cell`` pixels."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC),
                      dtype=np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class _Canvas:
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


def _cells(rng: np.random.Generator, h: int, w: int, cell: float, aspect: float,
           angle_spread: float = math.pi) -> dict[str, np.ndarray]:
    """Jittered-grid Worley cells (one seed per grid cell), vectorised over 3x3 neighbours.

    Distances are in cell units, anisotropic: a seed's shape is ``aspect`` times longer along
    its own random direction ``u`` than across it (``v``). Returns per-pixel nearest distance
    ``d1``, second distance ``d2``, local coordinates ``u``, ``v`` and seed value ``val`` in
    [0, 1), plus a second independent seed value ``val2``.
    """
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    jx = rng.random((gh, gw), dtype=np.float32)
    jy = rng.random((gh, gw), dtype=np.float32)
    ang = (rng.uniform(-angle_spread / 2, angle_spread / 2, (gh, gw))).astype(np.float32)
    cos, sin = np.cos(ang), np.sin(ang)
    val = rng.random((gh, gw), dtype=np.float32)
    val2 = rng.random((gh, gw), dtype=np.float32)
    ys = (np.arange(h, dtype=np.float32) / cell + 1.0)[:, None]
    xs = (np.arange(w, dtype=np.float32) / cell + 1.0)[None, :]
    iy, ix = ys.astype(np.int64), xs.astype(np.int64)
    d1 = np.full((h, w), np.inf, np.float32)
    d2 = np.full((h, w), np.inf, np.float32)
    bu = np.zeros((h, w), np.float32)
    bv = np.zeros((h, w), np.float32)
    by = np.zeros((h, w), np.int64)
    bx = np.zeros((h, w), np.int64)
    inv_aspect = np.float32(1.0 / aspect)
    for dy in (-1, 0, 1):
        ny = np.broadcast_to(iy + dy, (h, w))
        for dx in (-1, 0, 1):
            nx = np.broadcast_to(ix + dx, (h, w))
            ddx = xs - (nx + jx[ny, nx])
            ddy = ys - (ny + jy[ny, nx])
            c, s = cos[ny, nx], sin[ny, nx]
            u = ddx * c + ddy * s
            v = ddy * c - ddx * s
            d = np.sqrt((u * inv_aspect) ** 2 + v * v)
            closer = d < d1
            d2 = np.where(closer, d1, np.minimum(d2, d))
            d1 = np.where(closer, d, d1)
            bu = np.where(closer, u, bu)
            bv = np.where(closer, v, bv)
            by = np.where(closer, ny, by)
            bx = np.where(closer, nx, bx)
    return {"d1": d1, "d2": d2, "u": bu, "v": bv, "val": val[by, bx], "val2": val2[by, bx]}


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    t = np.asarray(t, np.float32)
    if t.ndim == 2:
        t = t[..., None]
    return a + (b - a) * t


# ------------------------------------------------------------------------- cargo textures

def _wheat(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    c = _cells(rng, h, w, max(2.2, 3.2 * k), aspect=1.7)
    base = _color(rng, (0.80, 0.63, 0.33), 0.04)
    pale = _color(rng, (0.88, 0.76, 0.48), 0.04)
    grain = _mix(base, pale, c["val"] * 0.8)
    r = 0.55
    inside = c["d1"] < r
    dome = np.sqrt(np.clip(1 - (c["d1"] / r) ** 2, 0, 1))
    light = 0.72 + 0.38 * dome - 0.12 * (np.abs(c["v"]) < 0.07)
    out = grain * np.where(inside, light, 0.48)[..., None]
    return out


def _corn(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    c = _cells(rng, h, w, max(3.0, 6.5 * k), aspect=1.2)
    yellow = _color(rng, (0.97, 0.77, 0.16), 0.03)
    orange = _color(rng, (0.93, 0.55, 0.07), 0.03)
    kernel = _mix(yellow, orange, c["val"] ** 1.5)
    r = 0.6
    dome = np.sqrt(np.clip(1 - (c["d1"] / r) ** 2, 0, 1))
    out = kernel * (0.62 + 0.45 * dome)[..., None]
    # the pale dent at the kernel's crown
    crown = np.clip(1 - np.hypot(c["u"] / 1.2 + 0.18, c["v"] + 0.12) / 0.22, 0, 1)
    out = _mix(out, np.array([1.0, 0.93, 0.70], np.float32), crown * 0.7)
    gap = np.array([0.42, 0.26, 0.06], np.float32)
    edge = _smoothstep((c["d2"] - c["d1"]) / 0.12)
    out = _mix(gap, out, np.where(c["d1"] < r, edge, 0.0))
    return out


def _sunflower(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    c = _cells(rng, h, w, max(3.0, 6.0 * k), aspect=2.0)
    black = _color(rng, (0.08, 0.08, 0.09), 0.02)
    grey = _color(rng, (0.26, 0.26, 0.27), 0.03)
    stripe_col = _color(rng, (0.66, 0.66, 0.63), 0.04)
    seed = _mix(black, grey, (c["val"] > 0.75).astype(np.float32))
    r = 0.55
    phase = c["val2"] * math.pi
    stripes = np.cos(c["v"] / r * math.pi * 3.2 + phase) > 0.62
    stripes &= np.abs(c["u"]) < 1.7 * r  # stripes stop before the tip
    seed = _mix(seed, stripe_col, stripes * 0.85)
    dome = np.sqrt(np.clip(1 - (c["d1"] / r) ** 2, 0, 1))
    out = seed * (0.75 + 0.45 * dome)[..., None] + (0.05 * dome)[..., None]
    gap = np.array([0.035, 0.035, 0.04], np.float32)
    edge = _smoothstep((c["d2"] - c["d1"]) / 0.1)
    return _mix(gap, out, np.where(c["d1"] < r, edge, 0.0))


def _empty(rng: np.random.Generator, h: int, w: int, k: float, view: str) -> np.ndarray:
    steel = _color(rng, (0.52, 0.53, 0.55), 0.05)
    out = np.broadcast_to(steel, (h, w, 3)).copy()
    out *= (1 + 0.06 * _noise(rng, h, w, 18 * k))[..., None]
    # ribs / cross members: periodic along the truck's length (x)
    period = rng.uniform(9, 14) * k
    x = np.arange(w, dtype=np.float32)
    prof = np.cos(2 * math.pi * (x / period + rng.random()))
    out *= (1 + 0.10 * prof)[None, :, None]
    out[:, prof < -0.93] *= 0.62  # weld seams
    if view == "side":  # far wall in the upper part, floor in shadow below
        y = np.arange(h, dtype=np.float32) / max(h - 1, 1)
        out *= (1.05 - 0.35 * y)[:, None, None]
    # rust patches
    n = _noise(rng, h, w, 12 * k) + 0.5 * _noise(rng, h, w, 4 * k)
    thresh = rng.uniform(0.5, 1.4)
    rust = _smoothstep((n - thresh) / 0.35)
    rust_col = _color(rng, (0.50, 0.28, 0.13), 0.04)
    out = _mix(out, rust_col * (0.85 + 0.25 * rng.random((h, w, 1), dtype=np.float32)), rust)
    # dirt specks, scratches, a few leftover grains
    specks = rng.random((h, w), dtype=np.float32)
    out[specks < 0.04] *= 0.7
    out[specks > 0.997] = _color(rng, (0.78, 0.62, 0.32), 0.05)
    scratch = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(scratch)
    for _ in range(int(rng.integers(1, 5))):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        ang, length = rng.uniform(0, math.pi), rng.uniform(0.1, 0.4) * w
        draw.line([(x0, y0), (x0 + length * math.cos(ang), y0 + length * math.sin(ang))],
                  fill=1)
    out[np.asarray(scratch, bool)] *= 1.3
    return out


_TEXTURES = {"wheat": _wheat, "corn": _corn, "sunflower": _sunflower}


def _neutral(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    """The class-free fill that ``cargo_contrast`` fades towards."""
    base = _color(rng, (0.50, 0.46, 0.38), 0.02)
    out = np.broadcast_to(base, (h, w, 3)).copy()
    out *= (1 + 0.06 * _noise(rng, h, w, 5 * k) + 0.05 * rng.standard_normal(
        (h, w), dtype=np.float32))[..., None]
    return out


def cargo_texture(rng: np.random.Generator, label: str, h: int, w: int, k: float = 1.0,
                  view: str = "top", cargo_contrast: float = 1.0) -> np.ndarray:
    """The ``h x w x 3`` float fill of a cargo region of class ``label``.

    ``k`` is the pixel scale (1.0 at 240 px short side). Loaded classes get a heap shading
    (a ridge along the body from above, lighter towards the far rim from the side).
    """
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}")
    # The neutral fill is drawn first, so with cargo_contrast=0 the result does not depend on
    # the label at all (same generator state -> identical pixels).
    neutral = _neutral(rng, h, w, k)
    c = np.float32(cargo_contrast)
    if c == 0:
        return np.clip(neutral, 0, 1)
    if label == "empty":
        tex = _empty(rng, h, w, k, view)
    else:
        tex = _TEXTURES[label](rng, h, w, k)
        y = (np.arange(h, dtype=np.float32) + 0.5) / h
        if view == "top":
            side = rng.choice([-1.0, 1.0])
            heap = 1 + 0.16 * side * np.sin(math.pi * (y - 0.5)) - 0.08 * (2 * y - 1) ** 2
        else:
            heap = 1.1 - 0.22 * y
        lumps = 1 + 0.07 * _noise(rng, h, w, 16 * k)
        tex = tex * (heap[:, None] * lumps)[..., None]
    return np.clip(neutral + c * (tex - neutral), 0, 1)


# ---------------------------------------------------------------------------- the scene

_CAB_COLORS = ((0.60, 0.14, 0.12), (0.15, 0.26, 0.55), (0.90, 0.90, 0.88), (0.20, 0.40, 0.26),
               (0.25, 0.25, 0.27), (0.56, 0.58, 0.62), (0.45, 0.10, 0.22))
_BODY_COLORS = ((0.62, 0.64, 0.66), (0.86, 0.86, 0.84), (0.60, 0.15, 0.12), (0.18, 0.30, 0.52),
                (0.22, 0.40, 0.28), (0.40, 0.42, 0.44))
_TARP_COLORS = ((0.16, 0.26, 0.18), (0.12, 0.18, 0.34), (0.22, 0.22, 0.24), (0.34, 0.30, 0.40))
_VEST_COLORS = ((0.98, 0.42, 0.05), (0.80, 0.95, 0.15))
_HAT_COLORS = ((0.95, 0.95, 0.93), (0.96, 0.80, 0.10), (0.95, 0.45, 0.08), (0.20, 0.35, 0.75))


def _ground(cv: _Canvas, rng: np.random.Generator, k: float, y0: int = 0) -> None:
    """Concrete or asphalt from row ``y0`` down, with stains, grit and slab joints."""
    h, w = cv.h - y0, cv.w
    if h <= 0:
        return
    concrete = rng.random() < 0.55
    grey = rng.uniform(0.55, 0.66) if concrete else rng.uniform(0.25, 0.36)
    base = _color(rng, (grey * 1.02, grey, grey * 0.96), 0.012)
    tex = (1 + 0.06 * _noise(rng, h, w, 50 * k) + 0.035 * _noise(rng, h, w, 7 * k)
           + 0.045 * rng.standard_normal((h, w), dtype=np.float32))
    region = cv.img[y0:]
    region[:] = base * tex[..., None]
    if concrete:  # slab joints
        step = rng.uniform(70, 120) * k
        off = rng.uniform(0, step, 2)
        xs = np.arange(w, dtype=np.float32)
        ys = np.arange(h, dtype=np.float32)
        region[:, ((xs + off[0]) % step) < max(1.0, k)] *= 0.7
        region[((ys + off[1]) % (step * 0.8)) < max(1.0, k)] *= 0.7
    for _ in range(int(rng.integers(0, 4))):  # oil / water stains
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(6, 30) * k, rng.uniform(4, 18) * k
        yy, xx = np.ogrid[:h, :w]
        d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        region *= (1 - 0.25 * _smoothstep(1.2 - d)).astype(np.float32)[..., None]


def _top_scene(cv: _Canvas, rng: np.random.Generator, k: float) -> dict:
    W, H = cv.w, cv.h
    _ground(cv, rng, k)
    Lt = rng.uniform(0.62, 0.86) * W
    Bw = min(Lt * rng.uniform(0.27, 0.33), 0.55 * H)
    tx0 = rng.uniform(0.03 * W, 0.97 * W - Lt)
    cy = rng.uniform(0.12 * H + Bw / 2, 0.88 * H - Bw / 2)
    facing = "right" if rng.random() < 0.5 else "left"

    def span(s0: float, s1: float) -> tuple[float, float]:
        return (tx0 + s0, tx0 + s1) if facing == "right" else (tx0 + Lt - s1, tx0 + Lt - s0)

    # terminal features under and around the truck
    lane = _color(rng, _pick(rng, ((0.92, 0.78, 0.20), (0.90, 0.90, 0.88))), 0.03)
    lw = max(1.0, 3 * k)
    for ly in (cy - Bw * rng.uniform(0.8, 1.1), cy + Bw * rng.uniform(0.8, 1.1)):
        if rng.random() < 0.75:
            m = cv.rect(0, ly - lw / 2, W, ly + lw / 2)
            if rng.random() < 0.4:  # dashed
                dash = rng.uniform(14, 26) * k
                m &= ((np.arange(W) // dash) % 2 == 0)[None, :]
            cv.paint(m, lane * (0.9 + 0.1 * rng.random()))
    if rng.random() < 0.55:  # the receiving pit's grate
        gw_ = rng.uniform(0.18, 0.32) * W
        gx = rng.uniform(tx0, tx0 + Lt - gw_)
        gh_ = Bw * rng.uniform(1.25, 1.6)
        grate = cv.rect(gx, cy - gh_ / 2, gx + gw_, cy + gh_ / 2)
        cv.paint(grate, _color(rng, (0.16, 0.16, 0.17), 0.02))
        bars = grate & ((np.arange(W) % max(2, int(round(4 * k)))) == 0)[None, :]
        cv.paint(bars, _color(rng, (0.45, 0.45, 0.46), 0.04))
    # the truck's shadow on the ground
    sdx, sdy = rng.uniform(-0.05, 0.05) * Lt, rng.uniform(0.03, 0.08) * Lt
    cv.shade(cv.rect(tx0 + sdx, cy - Bw / 2 + sdy, tx0 + Lt + sdx, cy + Bw / 2 + sdy), 0.55)

    cab_len, gap = 0.19 * Lt, 0.03 * Lt
    body_len = Lt - cab_len - gap
    # body (rear) at s in [0, body_len), cab at the front
    bx0, bx1 = span(0, body_len)
    by0, by1 = cy - Bw / 2, cy + Bw / 2
    wall = _color(rng, _pick(rng, _BODY_COLORS), 0.04)
    cv.paint(cv.rect(bx0, by0, bx1, by1), wall)
    cv.paint(cv.rect(bx0, by0, bx1, by0 + max(1, 0.02 * Bw)), np.minimum(wall * 1.25, 1))
    t = max(2.0, 0.075 * Bw)
    ix0, ix1 = span(t * 1.4, body_len - t)  # rear wall (tailgate) a bit thicker
    iy0, iy1 = by0 + t, by1 - t
    # stakes along the long walls
    stake = wall * 0.72
    for s in np.arange(0.06, 1.0, rng.uniform(0.09, 0.13)):
        sx0, _ = span(s * body_len, s * body_len)
        cv.paint(cv.rect(sx0 - max(1, 0.5 * k), by0, sx0 + max(1, 0.5 * k), iy0), stake)
        cv.paint(cv.rect(sx0 - max(1, 0.5 * k), iy1, sx0 + max(1, 0.5 * k), by1), stake)
    # hitch / gap and cab
    hx0, hx1 = span(body_len, body_len + gap)
    cv.paint(cv.rect(hx0, cy - 0.2 * Bw, hx1, cy + 0.2 * Bw), _color(rng, (0.12, 0.12, 0.13)))
    cx0, cx1 = span(body_len + gap, Lt)
    cab = _color(rng, _pick(rng, _CAB_COLORS), 0.04)
    cw = Bw * 0.92
    cv.paint(cv.rect(cx0, cy - cw / 2, cx1, cy + cw / 2), cab)
    cv.paint(cv.rect(cx0, cy - cw * 0.3, cx1, cy + cw * 0.3), np.minimum(cab * 1.12 + 0.03, 1))
    wx0, wx1 = span(Lt - 0.32 * cab_len, Lt - 0.08 * cab_len)  # windscreen
    cv.paint(cv.rect(wx0, cy - cw * 0.44, wx1, cy + cw * 0.44), _color(rng, (0.22, 0.30, 0.38)))
    mx0, mx1 = span(Lt - 0.42 * cab_len, Lt - 0.3 * cab_len)  # mirrors
    for my in (cy - cw / 2 - 0.08 * Bw, cy + cw / 2):
        cv.paint(cv.rect(mx0, my, mx1, my + 0.08 * Bw), _color(rng, (0.10, 0.10, 0.11)))
    ex0, ex1 = span(body_len + gap, body_len + gap + 0.06 * cab_len)  # exhaust / deflector
    cv.paint(cv.rect(ex0, cy - cw * 0.45, ex1, cy + cw * 0.45), cab * 0.6)

    cargo_box = (ix0, iy0, ix1, iy1)
    body_box = (min(bx0, bx1), by0, max(bx0, bx1), by1)
    truck_box = (tx0, cy - Bw / 2 - 0.08 * Bw, tx0 + Lt, cy + Bw / 2 + 0.08 * Bw)
    return {"cargo_box": cargo_box, "body_box": body_box, "truck_box": truck_box,
            "facing": facing, "Lt": Lt, "Bw": Bw, "wall": wall}


def _side_scene(cv: _Canvas, rng: np.random.Generator, k: float) -> dict:
    W, H = cv.w, cv.h
    horizon = int(rng.uniform(0.38, 0.55) * H)
    # sky
    overcast = rng.random() < 0.35
    top = _color(rng, (0.66, 0.69, 0.72) if overcast else (0.45, 0.62, 0.86), 0.04)
    low = _color(rng, (0.82, 0.83, 0.84) if overcast else (0.80, 0.86, 0.92), 0.03)
    t = (np.arange(horizon, dtype=np.float32) / max(horizon, 1))[:, None, None]
    cv.img[:horizon] = top + (low - top) * t
    if horizon > 0:
        cv.img[:horizon] *= (1 + 0.04 * _noise(rng, horizon, W, 30 * k))[..., None]
    # terminal: silos, an elevator house, a gallery
    n_silos = int(rng.integers(1, 5))
    silo_col = _color(rng, _pick(rng, ((0.78, 0.77, 0.73), (0.70, 0.72, 0.75))), 0.03)
    x = rng.uniform(-0.05, 0.2) * W
    tops = []
    for _ in range(n_silos):
        sw = rng.uniform(0.07, 0.12) * W
        sh = rng.uniform(0.45, 0.85) * horizon
        xs = np.arange(W, dtype=np.float32)
        shade = 0.78 + 0.3 * np.cos(np.clip((xs - x - sw * 0.4) / (sw / 2), -1.6, 1.6))
        body = cv.rect(x, horizon - sh, x + sw, horizon)
        col = silo_col[None, None, :] * shade[None, :, None]
        cv.paint(body, np.broadcast_to(col, (H, W, 3)))
        cv.paint(cv.poly([(x, horizon - sh), (x + sw, horizon - sh),
                          (x + sw / 2, horizon - sh - 0.25 * sw)]), silo_col * 0.8)
        tops.append((x + sw / 2, horizon - sh - 0.25 * sw))
        x += sw + rng.uniform(0.0, 0.06) * W
    if rng.random() < 0.7:
        ew, eh = rng.uniform(0.08, 0.14) * W, rng.uniform(0.85, 1.0) * horizon
        ex = rng.uniform(0.55, 0.9) * W
        house = cv.rect(ex, horizon - eh, ex + ew, horizon)
        col = _color(rng, (0.74, 0.75, 0.76), 0.04)
        ribs = 1 - 0.08 * ((np.arange(W) % max(2, int(round(3 * k)))) == 0)
        cv.paint(house, np.broadcast_to(col[None, None] * ribs[None, :, None], (H, W, 3)))
        for wy in np.arange(horizon - eh + 0.1 * eh, horizon - 0.1 * eh, 0.18 * eh):
            cv.paint(cv.rect(ex + 0.3 * ew, wy, ex + 0.7 * ew, wy + 0.06 * eh),
                     _color(rng, (0.25, 0.30, 0.36)))
        if tops:
            cv.paint(cv.line([tops[-1], (ex, horizon - eh + 0.1 * eh)], 3 * k),
                     _color(rng, (0.55, 0.56, 0.57)))
    # ground
    _ground(cv, rng, k, y0=horizon)
    cv.paint(cv.rect(0, horizon, W, horizon + max(1, 2 * k)), _color(rng, (0.70, 0.70, 0.68)))

    # the truck
    Lt = rng.uniform(0.66, 0.9) * W
    tx0 = rng.uniform(0.03 * W, 0.97 * W - Lt)
    facing = "right" if rng.random() < 0.5 else "left"

    def span(s0: float, s1: float) -> tuple[float, float]:
        return (tx0 + s0, tx0 + s1) if facing == "right" else (tx0 + Lt - s1, tx0 + Lt - s0)

    r = 0.055 * Lt
    yg = min(H - 2.0, rng.uniform(0.80, 0.94) * H)
    hw = Lt * rng.uniform(0.13, 0.17)           # near wall height
    hb = hw * rng.uniform(0.7, 1.0)             # visible inside band (elevated camera)
    rim = max(1.0, 0.08 * hw)
    chassis_top = yg - 2.1 * r
    wall_top = chassis_top - hw
    band_top = wall_top - hb
    cab_len, gap = 0.2 * Lt, 0.02 * Lt
    body_len = Lt - cab_len - gap
    wall = _color(rng, _pick(rng, _BODY_COLORS), 0.04)
    cv.shade(cv.rect(tx0 - 0.02 * Lt, yg - 0.25 * r, tx0 + Lt * 1.02, yg + 0.35 * r), 0.5)
    # chassis
    cx0, cx1 = span(0.02 * Lt, Lt - 0.05 * Lt)
    dark = _color(rng, (0.10, 0.10, 0.11), 0.02)
    cv.paint(cv.rect(cx0, chassis_top, cx1, chassis_top + 0.9 * r), dark)
    # body: far rim, inside band (cargo), near wall, end posts
    bx0, bx1 = span(0, body_len)
    post = max(2.0, 0.022 * Lt)
    cv.paint(cv.rect(bx0, band_top - rim, bx1, band_top), wall * 0.8)
    cv.paint(cv.rect(bx0, band_top, bx1, chassis_top), wall * 0.55)  # placeholder inside
    ix0, ix1 = bx0 + post, bx1 - post
    cv.paint(cv.rect(bx0, wall_top, bx1, chassis_top), wall)
    cv.paint(cv.rect(bx0, wall_top, bx1, wall_top + rim), np.minimum(wall * 1.25 + 0.05, 1))
    cv.paint(cv.rect(bx0, chassis_top - 1.5 * rim, bx1, chassis_top), wall * 0.7)
    for s in np.arange(0.0, 1.0001, 1 / int(rng.integers(4, 8))):
        sx = bx0 + post / 2 + s * (bx1 - bx0 - post)
        cv.paint(cv.rect(sx - max(1, 0.4 * post), wall_top + rim, sx + max(1, 0.4 * post),
                         chassis_top - 1.5 * rim), wall * 0.8)
    for px in (bx0, bx1 - post):
        cv.paint(cv.rect(px, band_top - rim, px + post, chassis_top), wall * 0.85)
    # cab
    kx0, kx1 = span(body_len + gap, Lt)
    cab = _color(rng, _pick(rng, _CAB_COLORS), 0.04)
    cab_top = band_top - rim - rng.uniform(-0.05, 0.15) * hw
    front_x = kx1 if facing == "right" else kx0
    back_x = kx0 if facing == "right" else kx1
    sgn = 1 if facing == "right" else -1
    cab_poly = [(back_x, cab_top), (front_x - sgn * 0.18 * cab_len, cab_top),
                (front_x, cab_top + 0.3 * (chassis_top - cab_top)), (front_x, chassis_top + r),
                (back_x, chassis_top + r)]
    cv.paint(cv.poly(cab_poly), cab)
    ch = chassis_top - cab_top
    win = [(back_x + sgn * 0.35 * cab_len, cab_top + 0.1 * ch),
           (front_x - sgn * 0.2 * cab_len, cab_top + 0.1 * ch),
           (front_x - sgn * 0.06 * cab_len, cab_top + 0.42 * ch),
           (back_x + sgn * 0.35 * cab_len, cab_top + 0.42 * ch)]
    cv.paint(cv.poly(win), _color(rng, (0.35, 0.45, 0.55)))
    cv.paint(cv.line([(back_x + sgn * 0.3 * cab_len, cab_top + 0.05 * ch),
                      (back_x + sgn * 0.3 * cab_len, chassis_top + 0.8 * r)], max(1, k)),
             cab * 0.55)
    cv.paint(cv.rect(min(front_x, front_x - sgn * 0.1 * cab_len), chassis_top + 0.2 * r,
                     max(front_x, front_x - sgn * 0.1 * cab_len), chassis_top + r), dark)
    hl = front_x - sgn * 0.05 * cab_len
    cv.paint(cv.rect(min(hl, front_x), chassis_top - 0.5 * r, max(hl, front_x),
                     chassis_top - 0.1 * r), _color(rng, (0.92, 0.90, 0.78)))
    ex = back_x - sgn * 0.02 * Lt  # exhaust stack
    cv.paint(cv.rect(min(ex, ex + sgn * 0.012 * Lt), cab_top - 0.3 * hw,
                     max(ex, ex + sgn * 0.012 * Lt), chassis_top), _color(rng, (0.62, 0.63, 0.64)))
    # wheels: one axle under the cab, a tandem under the body's rear
    tyre, hub = _color(rng, (0.07, 0.07, 0.08), 0.01), _color(rng, (0.62, 0.62, 0.62), 0.05)
    for s in (Lt - 0.1 * Lt, 0.12 * Lt, 0.12 * Lt + 2.2 * r):
        wx, _ = span(s, s)
        cv.paint(cv.ellipse(wx, yg - r, r, r), tyre)
        cv.paint(cv.ellipse(wx, yg - r, 0.55 * r, 0.55 * r), hub)
        cv.paint(cv.ellipse(wx, yg - r, 0.18 * r, 0.18 * r), dark)
    cargo_box = (ix0, band_top, ix1, wall_top)
    body_box = (bx0, band_top - rim, bx1, chassis_top)
    truck_box = (tx0, min(cab_top - 0.3 * hw, band_top - rim), tx0 + Lt, yg)
    return {"cargo_box": cargo_box, "body_box": body_box, "truck_box": truck_box,
            "facing": facing, "Lt": Lt, "Bw": hb, "wall": wall, "yg": yg,
            "hw": hw, "band_top": band_top, "wall_top": wall_top}


def _occlude(cv: _Canvas, rng: np.random.Generator, k: float, view: str, geo: dict,
             names: Sequence[str]) -> list[np.ndarray]:
    """Paint the opaque occluders; returns the shadow factors for the lighting stage."""
    W, H = cv.w, cv.h
    x0, y0, x1, y1 = geo["cargo_box"]
    cw, ch = x1 - x0, y1 - y0
    Lt = geo["Lt"]
    shadows: list[np.ndarray] = []
    for name in names:
        if name == "bows":
            n = int(rng.integers(1, 4))
            col = _color(rng, (0.20, 0.20, 0.22), 0.03)
            th = max(1.0, 0.012 * Lt)
            for i in range(n):
                bx = x0 + cw * (i + 1) / (n + 1) + rng.uniform(-0.05, 0.05) * cw
                cv.paint(cv.rect(bx - th / 2, y0, bx + th / 2, y1), col)
        elif name == "tarp":
            frac = rng.uniform(0.15, 0.4)
            col = _color(rng, _pick(rng, _TARP_COLORS), 0.03)
            from_front = rng.random() < 0.5
            if from_front == (geo["facing"] == "right"):
                tx0, tx1 = x1 - frac * cw, x1
            else:
                tx0, tx1 = x0, x0 + frac * cw
            m = cv.rect(tx0, y0 - 0.5 * (view == "side") * ch, tx1, y1)
            xs = np.arange(W, dtype=np.float32)
            folds = 0.85 + 0.15 * np.sin(xs / max(2.0, 4 * k) + rng.uniform(0, 6))
            cv.paint(m, np.broadcast_to(col[None, None] * folds[None, :, None], (H, W, 3)))
            roll_x = tx0 if tx1 == x1 else tx1
            rw = max(2.0, 0.03 * Lt)
            cv.paint(cv.rect(roll_x - rw / 2, y0 - 0.5 * (view == "side") * ch, roll_x + rw / 2,
                             y1), col * 1.3)
        elif name == "person":
            vest = _color(rng, _pick(rng, _VEST_COLORS), 0.03)
            hat = _color(rng, _pick(rng, _HAT_COLORS), 0.03)
            if view == "top":
                px, py = rng.uniform(x0, x1), rng.uniform(y0, y1)
                s = 0.045 * Lt
                cv.paint(cv.ellipse(px, py, 1.0 * s, 0.55 * s), vest)
                cv.paint(cv.ellipse(px - 0.15 * s, py, 0.25 * s, 0.5 * s),
                         _color(rng, (0.62, 0.64, 0.60)))
                cv.paint(cv.ellipse(px + 0.1 * s, py, 0.4 * s, 0.4 * s), hat)
            else:
                feet = min(H - 1.0, geo["yg"] + rng.uniform(0.0, 0.08) * H)
                height = (feet - geo["band_top"]) * rng.uniform(0.78, 1.05)
                px = rng.uniform(x0, x1)
                u = height / 7.5
                skin = _color(rng, _pick(rng, ((0.85, 0.66, 0.52), (0.55, 0.38, 0.27))), 0.03)
                trousers = _color(rng, (0.18, 0.20, 0.28), 0.03)
                cv.paint(cv.rect(px - 0.85 * u, feet - 3.6 * u, px - 0.1 * u, feet), trousers)
                cv.paint(cv.rect(px + 0.1 * u, feet - 3.6 * u, px + 0.85 * u, feet), trousers)
                cv.paint(cv.rect(px - 1.0 * u, feet - 6.3 * u, px + 1.0 * u, feet - 3.5 * u),
                         vest)
                cv.paint(cv.rect(px - 1.0 * u, feet - 4.4 * u, px + 1.0 * u, feet - 4.1 * u),
                         _color(rng, (0.78, 0.80, 0.80)))
                cv.paint(cv.rect(px - 1.35 * u, feet - 6.1 * u, px - 1.0 * u, feet - 3.8 * u),
                         vest * 0.85)
                cv.paint(cv.rect(px + 1.0 * u, feet - 6.1 * u, px + 1.35 * u, feet - 3.8 * u),
                         vest * 0.85)
                cv.paint(cv.ellipse(px, feet - 6.85 * u, 0.55 * u, 0.62 * u), skin)
                cv.paint(cv.rect(px - 0.7 * u, feet - 7.55 * u, px + 0.7 * u, feet - 7.1 * u), hat)
        elif name == "pole":
            col = _color(rng, (0.58, 0.59, 0.60), 0.05)
            if view == "top":  # the sampling probe's boom reaching over the body
                from_top = rng.random() < 0.5
                px = rng.uniform(x0 + 0.1 * cw, x1 - 0.1 * cw)
                th = max(2.0, 0.025 * Lt)
                tip = rng.uniform(y0 + 0.2 * ch, y1 - 0.2 * ch)
                ya, yb = (0, tip) if from_top else (tip, H)
                cv.paint(cv.rect(px - th / 2, ya, px + th / 2, yb), col)
                cv.paint(cv.rect(px - th / 2, ya, px + th / 2, yb) & (
                    (np.arange(H) // max(2, int(6 * k))) % 2 == 0)[:, None],
                    _color(rng, (0.92, 0.75, 0.12), 0.03) if rng.random() < 0.5 else col * 0.8)
                cv.paint(cv.ellipse(px, tip, 1.2 * th, 1.2 * th), _color(rng, (0.25, 0.25, 0.27)))
            else:  # a lamp post in front of the truck
                px = rng.uniform(x0, x1)
                th = max(2.0, 0.015 * W)
                cv.paint(cv.rect(px - th / 2, 0, px + th / 2, H), col)
                cv.paint(cv.rect(px - th / 2, 0, px - th / 4, H), col * 1.2)
        elif name == "shadow":
            ang = rng.uniform(0, math.pi)
            cxs, cys = rng.uniform(x0, x1), rng.uniform(y0, y1)
            width = rng.uniform(0.1, 0.35) * max(cw, ch)
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            d = np.abs((xx - cxs) * math.sin(ang) - (yy - cys) * math.cos(ang))
            soft = max(1.0, 1.5 * k)
            factor = 1 - rng.uniform(0.25, 0.45) * _smoothstep((width / 2 - d) / soft + 0.5)
            if view == "side":  # cast by a gantry onto the truck and the yard, not the sky
                factor[: max(0, int(geo["band_top"] - 0.1 * geo["hw"]))] = 1.0
            shadows.append(factor.astype(np.float32))
        else:  # pragma: no cover - validated by render_scene
            raise ValueError(name)
    return shadows


def render_scene(rng: np.random.Generator, label: str, size: tuple[int, int] = DEFAULT_SIZE,
                 view: str | None = None, cargo_contrast: float = 1.0, *,
                 occluders: Iterable[str] | None = None,
                 sentinel: Sequence[int] | None = None) -> Scene:
    """Render one grain-terminal scene of class ``label`` at ``size = (W, H)``.

    ``view``: "top", "side" or None (random). ``occluders``: None draws them at random;
    otherwise exactly these (names from :data:`OCCLUDERS`; ``()`` = none).
    ``sentinel``: a testing aid; an RGB triple painted flat as the cargo instead of the texture,
    with the lighting, shadow and camera stages skipped, so that the pixels of that colour are
    exactly ``cargo_mask``. The layout (and so the mask) is the same as without it.
    """
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}")
    w, h = _check_size(size)
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    cargo_contrast = float(cargo_contrast)
    if not math.isfinite(cargo_contrast) or cargo_contrast < 0:
        raise ValueError(f"cargo_contrast must be a finite number >= 0, got {cargo_contrast}")
    layout_rng, texture_rng, camera_rng = rng.spawn(3)
    if view is None:
        view = VIEWS[int(layout_rng.integers(2))]
    else:
        layout_rng.integers(2)  # keep the stream aligned with view=None
    draws = layout_rng.random(len(OCCLUDERS))
    if occluders is None:
        names = [n for n, p in zip(OCCLUDERS, draws) if p < _OCCLUDER_P[n]]
    else:
        names = list(dict.fromkeys(occluders))
        bad = [n for n in names if n not in OCCLUDERS]
        if bad:
            raise ValueError(f"unknown occluder {bad[0]!r}; occluders: {', '.join(OCCLUDERS)}")
    k = min(w, h) / 240.0
    cv = _Canvas(w, h)
    geo = (_top_scene if view == "top" else _side_scene)(cv, layout_rng, k)
    x0, y0, x1, y1 = (int(round(v)) for v in geo["cargo_box"])
    x0, y0 = max(0, min(x0, x1 - 1)), max(0, min(y0, y1 - 1))
    x1, y1 = min(w, max(x1, x0 + 1)), min(h, max(y1, y0 + 1))
    painted = np.zeros((h, w), bool)
    painted[y0:y1, x0:x1] = True
    if sentinel is not None:
        cv.img[y0:y1, x0:x1] = np.asarray(sentinel, np.float32) / 255.0
    else:
        tex = cargo_texture(texture_rng, label, y1 - y0, x1 - x0, k, view, cargo_contrast)
        # ambient occlusion next to the walls (class-independent)
        yy = np.minimum(np.arange(y1 - y0), np.arange(y1 - y0)[::-1])[:, None]
        xx = np.minimum(np.arange(x1 - x0), np.arange(x1 - x0)[::-1])[None, :]
        ao = 1 - 0.25 * np.exp(-np.minimum(yy, xx) / max(1.0, 2.5 * k))
        cv.img[y0:y1, x0:x1] = tex * ao[..., None].astype(np.float32)
    cv.occ_active = True
    shadows = _occlude(cv, layout_rng, k, view, geo, names)
    cargo_mask = painted & ~cv.occluded
    img = cv.img
    # lighting and camera: drawn always (stream alignment), applied unless sentinel
    ang = camera_rng.uniform(0, 2 * math.pi)
    amp = camera_rng.uniform(0.0, 0.18)
    gains = camera_rng.uniform(0.965, 1.035, 3).astype(np.float32)
    brightness = camera_rng.uniform(0.85, 1.15)
    contrast = camera_rng.uniform(0.9, 1.1)
    blur = camera_rng.uniform(0.3, 0.9) * k if camera_rng.random() < 0.6 else 0.0
    noise_sigma = camera_rng.uniform(0.004, 0.025)
    if sentinel is None:
        gx = (np.arange(w, dtype=np.float32) / w - 0.5) * np.float32(2 * amp * math.cos(ang))
        gy = (np.arange(h, dtype=np.float32) / h - 0.5) * np.float32(2 * amp * math.sin(ang))
        light = 1 + gy[:, None] + gx[None, :]
        for factor in shadows:
            light *= factor
        img *= light[..., None] * (gains * np.float32(brightness * contrast))
        img += np.float32(0.5 - 0.5 * contrast)
        if blur > 0.05:
            from scipy import ndimage  # lazy: keeps `import leakview.synth` light

            img = ndimage.gaussian_filter(img, sigma=(blur, blur, 0), mode="nearest")
        img = img + camera_rng.standard_normal((h, w, 3), dtype=np.float32) * noise_sigma
    image = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    tb = tuple(int(round(v)) for v in geo["truck_box"])
    bb = tuple(int(round(v)) for v in geo["body_box"])
    return Scene(image=image, cargo_mask=cargo_mask, label=label, view=view,
                 truck_box=tb, body_box=bb, cargo_box=(x0, y0, x1, y1), cargo_painted=painted,
                 occluders=tuple(names), facing=geo["facing"])


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height), got {size!r}") from None
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise ValueError(f"size must be between {MIN_SIDE} and {MAX_SIDE} pixels per side, "
                         f"got {w}x{h}")
    return w, h


# --------------------------------------------------------------------------- leak markers

class Marker:
    """A leak marker: a class-dependent overlay painted onto the finished image.

    ``apply(image, label_index, rng)`` paints **in place** on ``image`` (H x W x 3 uint8) and
    returns the H x W bool mask of exactly the pixels it painted. ``label_index`` indexes
    :data:`CLASSES` (and so ``class_colors``). Random choices, if any, come only from ``rng``,
    which callers draw from a stream of its own.
    """

    name: ClassVar[str] = ""

    def __init__(self, *, size: float, class_colors: Sequence[Sequence[int]] | None = None
                 ) -> None:
        size = float(size)
        if not (0 < size <= 0.5):
            raise ValueError(f"marker size must be a fraction of the short side in (0, 0.5], "
                             f"got {size}")
        self.size = size
        colors = DEFAULT_CLASS_COLORS if class_colors is None else class_colors
        checked = []
        for c in colors:
            c = tuple(int(v) for v in c)
            if len(c) != 3 or not all(0 <= v <= 255 for v in c):
                raise ValueError(f"class colours must be RGB triples 0..255, got {c}")
            checked.append(c)
        self.class_colors = tuple(checked)

    def color(self, label_index: int) -> tuple[int, int, int]:
        if not 0 <= label_index < len(self.class_colors):
            raise ValueError(f"no marker colour for class index {label_index} "
                             f"({len(self.class_colors)} colours)")
        return self.class_colors[label_index]

    def params(self) -> dict:
        """A JSON-able description (name and every parameter)."""
        return {"name": self.name, "size": self.size,
                "class_colors": [list(c) for c in self.class_colors]}

    def apply(self, image: np.ndarray, label_index: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _paint(self, image: np.ndarray, mask: np.ndarray, label_index: int) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("markers paint on H x W x 3 uint8 images")
        image[mask] = self.color(label_index)
        return mask


def _corner_origin(corner: str, shape: tuple[int, int], bw: int, bh: int, margin: int,
                   dx: int = 0, dy: int = 0) -> tuple[int, int]:
    h, w = shape
    x = margin + dx if corner.endswith("left") else w - margin - bw - dx
    y = margin + dy if corner.startswith("top") else h - margin - bh - dy
    return max(0, min(x, w - bw)), max(0, min(y, h - bh))


def _check_corner(corner: str) -> str:
    if corner not in CORNERS:
        raise ValueError(f"unknown corner {corner!r}; corners: {', '.join(CORNERS)}")
    return corner


class CornerRect(Marker):
    """The study's leak: a filled rectangle of the class colour in a fixed corner.

    ``size``: the rectangle's height as a fraction of the image's short side (default 0.14:
    34 px at 320x240, still ~13x18 px after resizing to 128x128); ``aspect`` = width/height;
    ``margin``: gap to the image edges (fraction of the short side, default 0 = flush);
    ``jitter``: random extra offset up to this fraction (default 0 = fixed position).
    """

    name = "corner-rect"

    def __init__(self, *, corner: str = "top-left", size: float = 0.14, aspect: float = 1.0,
                 margin: float = 0.0, jitter: float = 0.0,
                 class_colors: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(size=size, class_colors=class_colors)
        self.corner = _check_corner(corner)
        self.aspect, self.margin, self.jitter = float(aspect), float(margin), float(jitter)
        if not (0.1 <= self.aspect <= 10) or not (0 <= self.margin <= 0.4) or not (
                0 <= self.jitter <= 0.4):
            raise ValueError("corner-rect: aspect must be in [0.1, 10], margin and jitter in "
                             "[0, 0.4]")

    def params(self) -> dict:
        return {**super().params(), "corner": self.corner, "aspect": self.aspect,
                "margin": self.margin, "jitter": self.jitter}

    def apply(self, image: np.ndarray, label_index: int, rng: np.random.Generator) -> np.ndarray:
        h, w = image.shape[:2]
        short = min(h, w)
        bh = max(1, int(round(self.size * short)))
        bw = max(1, min(w, int(round(bh * self.aspect))))
        dx = dy = 0
        if self.jitter > 0:
            j = int(round(self.jitter * short))
            dx, dy = (int(v) for v in rng.integers(0, j + 1, 2))
        x, y = _corner_origin(self.corner, (h, w), bw, bh, int(round(self.margin * short)), dx,
                              dy)
        mask = np.zeros((h, w), bool)
        mask[y:y + bh, x:x + bw] = True
        return self._paint(image, mask, label_index)


class Stripe(Marker):
    """A thin stripe of the class colour along one whole edge (``size`` = its thickness)."""

    name = "stripe"

    def __init__(self, *, edge: str = "top", size: float = 0.04,
                 class_colors: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(size=size, class_colors=class_colors)
        if edge not in EDGES:
            raise ValueError(f"unknown edge {edge!r}; edges: {', '.join(EDGES)}")
        self.edge = edge

    def params(self) -> dict:
        return {**super().params(), "edge": self.edge}

    def apply(self, image: np.ndarray, label_index: int, rng: np.random.Generator) -> np.ndarray:
        h, w = image.shape[:2]
        t = max(1, int(round(self.size * min(h, w))))
        mask = np.zeros((h, w), bool)
        index = {"top": np.s_[:t, :], "bottom": np.s_[h - t:, :], "left": np.s_[:, :t],
                 "right": np.s_[:, w - t:]}[self.edge]
        mask[index] = True
        return self._paint(image, mask, label_index)


class Watermark(Marker):
    """A small class-specific text (default "W1", "C2", "S3", "E4") in the class colour.

    Drawn with Pillow's built-in bitmap font, scaled up by a whole factor (nearest neighbour)
    so that the text is about ``size`` x the short side tall. The region mask is exactly the
    glyph pixels painted (not the text's box).
    """

    name = "watermark"

    def __init__(self, *, corner: str = "bottom-right", size: float = 0.08,
                 margin: float = 0.03, texts: Sequence[str] | None = None,
                 class_colors: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(size=size, class_colors=class_colors)
        self.corner = _check_corner(corner)
        self.margin = float(margin)
        if not 0 <= self.margin <= 0.4:
            raise ValueError("watermark: margin must be in [0, 0.4]")
        self.texts = tuple(str(t) for t in texts) if texts is not None else None
        if self.texts is not None and not all(t.strip() for t in self.texts):
            raise ValueError("watermark texts must not be blank")

    def text(self, label_index: int) -> str:
        if self.texts is not None:
            if not 0 <= label_index < len(self.texts):
                raise ValueError(f"no watermark text for class index {label_index}")
            return self.texts[label_index]
        initial = CLASSES[label_index][0].upper() if label_index < len(CLASSES) else "K"
        return f"{initial}{label_index + 1}"

    def params(self) -> dict:
        return {**super().params(), "corner": self.corner, "margin": self.margin,
                "texts": list(self.texts) if self.texts is not None else
                [self.text(i) for i in range(len(CLASSES))]}

    def glyphs(self, text: str, height: int) -> np.ndarray:
        """The text as a bool array about ``height`` pixels tall."""
        font = ImageFont.load_default_imagefont()
        left, top, right, bottom = font.getbbox(text)
        canvas = Image.new("L", (right + 2, bottom + 2), 0)
        ImageDraw.Draw(canvas).text((0, 0), text, fill=255, font=font)
        bits = np.asarray(canvas) > 127
        rows, cols = np.flatnonzero(bits.any(1)), np.flatnonzero(bits.any(0))
        bits = bits[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        scale = max(1, int(round(height / bits.shape[0])))
        return np.repeat(np.repeat(bits, scale, 0), scale, 1)

    def apply(self, image: np.ndarray, label_index: int, rng: np.random.Generator) -> np.ndarray:
        h, w = image.shape[:2]
        short = min(h, w)
        bits = self.glyphs(self.text(label_index), max(1, int(round(self.size * short))))
        bits = bits[:h, :w]
        bh, bw = bits.shape
        x, y = _corner_origin(self.corner, (h, w), bw, bh, int(round(self.margin * short)))
        mask = np.zeros((h, w), bool)
        mask[y:y + bh, x:x + bw] = bits
        return self._paint(image, mask, label_index)


MARKERS: dict[str, type[Marker]] = {
    CornerRect.name: CornerRect,
    Stripe.name: Stripe,
    Watermark.name: Watermark,
}
DEFAULT_MARKER = CornerRect.name


def get_marker(name: str, **params) -> Marker:
    """Build the marker ``name`` with ``params``; bad names or parameters raise ValueError."""
    try:
        factory = MARKERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown leak marker {name!r}; available: "
                         f"{', '.join(sorted(MARKERS))}") from None
    try:
        return factory(**params)
    except TypeError as error:
        raise ValueError(f"bad parameters for marker {name!r}: {error}") from None


# ----------------------------------------------------------------------- samples, datasets

def sample_name(label: str, index: int) -> str:
    """File name of sample ``index`` (0-based) of ``label``: ``wheat_0001.png`` for index 0."""
    return f"{label}_{index + 1:04d}.png"


def _streams(label: str, index: int, seed: int) -> tuple[np.random.Generator,
                                                         np.random.Generator]:
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}")
    if int(seed) < 0 or int(index) < 0:
        raise ValueError("seed and index must be >= 0")
    scene, marker = np.random.SeedSequence([int(seed), CLASSES.index(label), int(index)]).spawn(2)
    return np.random.default_rng(scene), np.random.default_rng(marker)


def _resolve_marker(leak: str | Marker | None, marker_params: Mapping | None) -> Marker | None:
    if leak is None:
        if marker_params:
            raise ValueError("marker parameters were given without a leak marker")
        return None
    if isinstance(leak, Marker):
        if marker_params:
            raise ValueError("marker parameters were given with a ready-made marker")
        return leak
    return get_marker(leak, **dict(marker_params or {}))


def render_sample_scene(label: str, index: int, seed: int = 0,
                        size: tuple[int, int] = DEFAULT_SIZE, leak: str | Marker | None = None,
                        marker_params: Mapping | None = None, cargo_contrast: float = 1.0
                        ) -> tuple[Scene, np.ndarray | None]:
    """Like :func:`render_sample` but returns the :class:`Scene` (with the marker painted)."""
    marker = _resolve_marker(leak, marker_params)
    scene_rng, marker_rng = _streams(label, index, seed)
    scene = render_scene(scene_rng, label, size, cargo_contrast=cargo_contrast)
    marker_mask = None
    if marker is not None:
        marker_mask = marker.apply(scene.image, CLASSES.index(label), marker_rng)
    return scene, marker_mask


def render_sample(label: str, index: int, seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE,
                  leak: str | Marker | None = None, marker_params: Mapping | None = None,
                  cargo_contrast: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sample ``index`` (0-based) of class ``label``: ``(image, cargo_mask, marker_mask)``.

    Deterministic in ``(seed, label, index, size, cargo_contrast)``. ``leak=None`` gives the
    pixel-identical scene without the marker (``marker_mask`` is then None): this is how to
    "remove" a marker from a leaky sample.
    """
    scene, marker_mask = render_sample_scene(label, index, seed, size, leak, marker_params,
                                             cargo_contrast)
    return scene.image, scene.cargo_mask, marker_mask


def generate_dataset(out_dir: str | os.PathLike[str], n_per_class: int,
                     size: tuple[int, int] = DEFAULT_SIZE, leak: str | Marker | None = None,
                     seed: int = 0, marker_params: Mapping | None = None,
                     cargo_contrast: float = 1.0,
                     progress: Callable[[int, int], None] | None = None,
                     write_clean_twin: bool = False) -> dict:
    """Write an ImageFolder tree of ``n_per_class`` images per class under ``out_dir``.

    Layout: ``OUT/<class>/<class>_0001.png`` ..., the cargo masks at
    ``OUT/.leakview/masks/<class>/<name>.png.png``, with a leak the marker masks at
    ``OUT/.leakview/markers/<class>/<name>.png.png``, and ``OUT/.leakview/dataset.json``.
    With ``write_clean_twin`` (and a leak) the marker-free twin of every image is written as a
    second, self-contained ImageFolder tree at ``OUT/.leakview/clean/`` (its own cargo masks
    under ``OUT/.leakview/clean/.leakview/masks/``). Same arguments give byte-identical files.
    Returns a summary dict.
    """
    n_per_class = int(n_per_class)
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    w, h = _check_size(size)
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    marker = _resolve_marker(leak, marker_params)
    if write_clean_twin and marker is None:
        raise ValueError("write_clean_twin needs a leak marker")
    root = Path(out_dir)
    masks_root = default_masks_root(root)
    markers_root = default_masks_root(root, MARKERS_SUBDIR) if marker is not None else None
    clean_root = root / ".leakview" / "clean" if write_clean_twin else None
    total = n_per_class * len(CLASSES)
    done = 0
    views = {v: 0 for v in VIEWS}
    records = []
    for class_index, label in enumerate(CLASSES):
        for index in range(n_per_class):
            scene_rng, marker_rng = _streams(label, index, seed)
            scene = render_scene(scene_rng, label, (w, h), cargo_contrast=cargo_contrast)
            relative = Path(label) / sample_name(label, index)
            if clean_root is not None:
                atomic_write_bytes(clean_root / relative, png_bytes(scene.image))
                write_mask(mask_path(clean_root, relative), scene.cargo_mask)
            if marker is not None:
                region = marker.apply(scene.image, class_index, marker_rng)
                write_mask(mask_path(root, relative, markers_root), region)
            atomic_write_bytes(root / relative, png_bytes(scene.image))
            write_mask(mask_path(root, relative, masks_root), scene.cargo_mask)
            views[scene.view] += 1
            records.append({"image": relative.as_posix(), "label": label, "index": index,
                            "view": scene.view, "occluders": list(scene.occluders)})
            done += 1
            if progress is not None:
                progress(done, total)
    description = {
        "format": DATASET_FORMAT,
        "generator": "leakview.synth.generate_dataset",
        "leakview_version": __version__,
        "classes": list(CLASSES),
        "n_per_class": n_per_class,
        "size": [w, h],
        "seed": int(seed),
        "cargo_contrast": float(cargo_contrast),
        "leak": marker.name if marker is not None else None,
        "marker": marker.params() if marker is not None else None,
        "marker_colors": ({label: list(marker.color(i)) for i, label in enumerate(CLASSES)}
                          if marker is not None else None),
        "masks": ".leakview/masks",
        "markers": ".leakview/markers" if marker is not None else None,
        "clean_twin": ".leakview/clean" if clean_root is not None else None,
        "images": records,
    }
    dataset_json = root / ".leakview" / "dataset.json"
    atomic_write_text(dataset_json, json.dumps(description, indent=2, sort_keys=True) + "\n")
    return {
        "out_dir": str(root), "classes": list(CLASSES), "n_per_class": n_per_class,
        "images": total, "size": [w, h], "seed": int(seed), "leak": description["leak"],
        "marker": description["marker"], "cargo_contrast": float(cargo_contrast),
        "views": views, "masks_root": str(masks_root),
        "markers_root": str(markers_root) if markers_root is not None else None,
        "clean_root": str(clean_root) if clean_root is not None else None,
        "dataset_json": str(dataset_json),
    }
