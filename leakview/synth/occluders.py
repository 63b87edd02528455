"""Occluders painted over the cargo (tarp bows, a partly rolled tarp, a person, a pole or
the sampling probe's boom) and the shadow that only darkens it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from leakview.synth.canvas import Canvas, pick, smoothstep, tint

OCCLUDERS: tuple[str, ...] = ("bows", "tarp", "person", "pole", "shadow")
# Per-view occluder probabilities when render_scene(..., occluders=None).
OCCLUDER_PROBABILITY = {"bows": 0.3, "tarp": 0.25, "person": 0.15, "pole": 0.2, "shadow": 0.3}

_TARP_COLORS = ((0.16, 0.26, 0.18), (0.12, 0.18, 0.34), (0.22, 0.22, 0.24), (0.34, 0.30, 0.40))
_VEST_COLORS = ((0.98, 0.42, 0.05), (0.80, 0.95, 0.15))
_HAT_COLORS = ((0.95, 0.95, 0.93), (0.96, 0.80, 0.10), (0.95, 0.45, 0.08), (0.20, 0.35, 0.75))


def occlude(cv: Canvas, rng: np.random.Generator, k: float, view: str, geo: dict[str, Any],
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
            col = tint(rng, (0.20, 0.20, 0.22), 0.03)
            th = max(1.0, 0.012 * Lt)
            for i in range(n):
                bx = x0 + cw * (i + 1) / (n + 1) + rng.uniform(-0.05, 0.05) * cw
                cv.paint(cv.rect(bx - th / 2, y0, bx + th / 2, y1), col)
        elif name == "tarp":
            frac = rng.uniform(0.15, 0.4)
            col = tint(rng, pick(rng, _TARP_COLORS), 0.03)
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
            vest = tint(rng, pick(rng, _VEST_COLORS), 0.03)
            hat = tint(rng, pick(rng, _HAT_COLORS), 0.03)
            if view == "top":
                px, py = rng.uniform(x0, x1), rng.uniform(y0, y1)
                s = 0.045 * Lt
                cv.paint(cv.ellipse(px, py, 1.0 * s, 0.55 * s), vest)
                cv.paint(cv.ellipse(px - 0.15 * s, py, 0.25 * s, 0.5 * s),
                         tint(rng, (0.62, 0.64, 0.60)))
                cv.paint(cv.ellipse(px + 0.1 * s, py, 0.4 * s, 0.4 * s), hat)
            else:
                feet = min(H - 1.0, geo["yg"] + rng.uniform(0.0, 0.08) * H)
                height = (feet - geo["band_top"]) * rng.uniform(0.78, 1.05)
                px = rng.uniform(x0, x1)
                u = height / 7.5
                skin = tint(rng, pick(rng, ((0.85, 0.66, 0.52), (0.55, 0.38, 0.27))), 0.03)
                trousers = tint(rng, (0.18, 0.20, 0.28), 0.03)
                cv.paint(cv.rect(px - 0.85 * u, feet - 3.6 * u, px - 0.1 * u, feet), trousers)
                cv.paint(cv.rect(px + 0.1 * u, feet - 3.6 * u, px + 0.85 * u, feet), trousers)
                cv.paint(cv.rect(px - 1.0 * u, feet - 6.3 * u, px + 1.0 * u, feet - 3.5 * u),
                         vest)
                cv.paint(cv.rect(px - 1.0 * u, feet - 4.4 * u, px + 1.0 * u, feet - 4.1 * u),
                         tint(rng, (0.78, 0.80, 0.80)))
                cv.paint(cv.rect(px - 1.35 * u, feet - 6.1 * u, px - 1.0 * u, feet - 3.8 * u),
                         vest * 0.85)
                cv.paint(cv.rect(px + 1.0 * u, feet - 6.1 * u, px + 1.35 * u, feet - 3.8 * u),
                         vest * 0.85)
                cv.paint(cv.ellipse(px, feet - 6.85 * u, 0.55 * u, 0.62 * u), skin)
                cv.paint(cv.rect(px - 0.7 * u, feet - 7.55 * u, px + 0.7 * u, feet - 7.1 * u), hat)
        elif name == "pole":
            col = tint(rng, (0.58, 0.59, 0.60), 0.05)
            if view == "top":  # the sampling probe's boom reaching over the body
                from_top = rng.random() < 0.5
                px = rng.uniform(x0 + 0.1 * cw, x1 - 0.1 * cw)
                th = max(2.0, 0.025 * Lt)
                tip = rng.uniform(y0 + 0.2 * ch, y1 - 0.2 * ch)
                ya, yb = (0, tip) if from_top else (tip, H)
                cv.paint(cv.rect(px - th / 2, ya, px + th / 2, yb), col)
                cv.paint(cv.rect(px - th / 2, ya, px + th / 2, yb) & (
                    (np.arange(H) // max(2, int(6 * k))) % 2 == 0)[:, None],
                    tint(rng, (0.92, 0.75, 0.12), 0.03) if rng.random() < 0.5 else col * 0.8)
                cv.paint(cv.ellipse(px, tip, 1.2 * th, 1.2 * th), tint(rng, (0.25, 0.25, 0.27)))
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
            factor = 1 - rng.uniform(0.25, 0.45) * smoothstep((width / 2 - d) / soft + 0.5)
            if view == "side":  # cast by a gantry onto the truck and the yard, not the sky
                factor[: max(0, int(geo["band_top"] - 0.1 * geo["hw"]))] = 1.0
            shadows.append(factor.astype(np.float32))
        else:  # pragma: no cover - validated by render_scene
            raise ValueError(name)
    return shadows

