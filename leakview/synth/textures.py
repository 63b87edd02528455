"""Cargo textures: wheat, corn and sunflower kernels (anisotropic Worley cells), the empty
body's steel floor, and the class-free neutral fill that ``cargo_contrast`` fades towards."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from leakview.demo_world import CLASSES
from leakview.synth.canvas import smoothstep, tint, value_noise


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
    return np.asarray(a + (b - a) * t)


# ------------------------------------------------------------------------- cargo textures

def _wheat(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    c = _cells(rng, h, w, max(2.2, 3.2 * k), aspect=1.7)
    base = tint(rng, (0.80, 0.63, 0.33), 0.04)
    pale = tint(rng, (0.88, 0.76, 0.48), 0.04)
    grain = _mix(base, pale, c["val"] * 0.8)
    r = 0.55
    inside = c["d1"] < r
    dome = np.sqrt(np.clip(1 - (c["d1"] / r) ** 2, 0, 1))
    light = 0.72 + 0.38 * dome - 0.12 * (np.abs(c["v"]) < 0.07)
    out = grain * np.where(inside, light, 0.48)[..., None]
    return out


def _corn(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    c = _cells(rng, h, w, max(3.0, 6.5 * k), aspect=1.2)
    yellow = tint(rng, (0.97, 0.77, 0.16), 0.03)
    orange = tint(rng, (0.93, 0.55, 0.07), 0.03)
    kernel = _mix(yellow, orange, c["val"] ** 1.5)
    r = 0.6
    dome = np.sqrt(np.clip(1 - (c["d1"] / r) ** 2, 0, 1))
    out = kernel * (0.62 + 0.45 * dome)[..., None]
    # the pale dent at the kernel's crown
    crown = np.clip(1 - np.hypot(c["u"] / 1.2 + 0.18, c["v"] + 0.12) / 0.22, 0, 1)
    out = _mix(out, np.array([1.0, 0.93, 0.70], np.float32), crown * 0.7)
    gap = np.array([0.42, 0.26, 0.06], np.float32)
    edge = smoothstep((c["d2"] - c["d1"]) / 0.12)
    out = _mix(gap, out, np.where(c["d1"] < r, edge, 0.0))
    return out


def _sunflower(rng: np.random.Generator, h: int, w: int, k: float) -> np.ndarray:
    c = _cells(rng, h, w, max(3.0, 6.0 * k), aspect=2.0)
    black = tint(rng, (0.08, 0.08, 0.09), 0.02)
    grey = tint(rng, (0.26, 0.26, 0.27), 0.03)
    stripe_col = tint(rng, (0.66, 0.66, 0.63), 0.04)
    seed = _mix(black, grey, (c["val"] > 0.75).astype(np.float32))
    r = 0.55
    phase = c["val2"] * math.pi
    stripes = np.cos(c["v"] / r * math.pi * 3.2 + phase) > 0.62
    stripes &= np.abs(c["u"]) < 1.7 * r  # stripes stop before the tip
    seed = _mix(seed, stripe_col, stripes * 0.85)
    dome = np.sqrt(np.clip(1 - (c["d1"] / r) ** 2, 0, 1))
    out = seed * (0.75 + 0.45 * dome)[..., None] + (0.05 * dome)[..., None]
    gap = np.array([0.035, 0.035, 0.04], np.float32)
    edge = smoothstep((c["d2"] - c["d1"]) / 0.1)
    return _mix(gap, out, np.where(c["d1"] < r, edge, 0.0))


def _empty(rng: np.random.Generator, h: int, w: int, k: float, view: str) -> np.ndarray:
    steel = tint(rng, (0.52, 0.53, 0.55), 0.05)
    out = np.broadcast_to(steel, (h, w, 3)).copy()
    out *= (1 + 0.06 * value_noise(rng, h, w, 18 * k))[..., None]
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
    n = value_noise(rng, h, w, 12 * k) + 0.5 * value_noise(rng, h, w, 4 * k)
    thresh = rng.uniform(0.5, 1.4)
    rust = smoothstep((n - thresh) / 0.35)
    rust_col = tint(rng, (0.50, 0.28, 0.13), 0.04)
    out = _mix(out, rust_col * (0.85 + 0.25 * rng.random((h, w, 1), dtype=np.float32)), rust)
    # dirt specks, scratches, a few leftover grains
    specks = rng.random((h, w), dtype=np.float32)
    out[specks < 0.04] *= 0.7
    out[specks > 0.997] = tint(rng, (0.78, 0.62, 0.32), 0.05)
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
    base = tint(rng, (0.50, 0.46, 0.38), 0.02)
    out = np.broadcast_to(base, (h, w, 3)).copy()
    out *= (1 + 0.06 * value_noise(rng, h, w, 5 * k) + 0.05 * rng.standard_normal(
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
        return np.asarray(np.clip(neutral, 0, 1))
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
        lumps = 1 + 0.07 * value_noise(rng, h, w, 16 * k)
        tex = tex * (heap[:, None] * lumps)[..., None]
    return np.asarray(np.clip(neutral + c * (tex - neutral), 0, 1))

