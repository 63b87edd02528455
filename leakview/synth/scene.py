"""One scene of the demo world: :func:`render_scene` (layout, cargo, occluders, lighting and
camera) and the :class:`Scene` it returns, with its cargo mask."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from leakview.demo_world import CLASSES, DEFAULT_SIZE, MAX_SIDE, MIN_SIDE
from leakview.synth.canvas import Canvas
from leakview.synth.occluders import OCCLUDER_PROBABILITY, OCCLUDERS, occlude
from leakview.synth.textures import cargo_texture
from leakview.synth.views import side_view, top_view

VIEWS: tuple[str, ...] = ("top", "side")


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
    w, h = check_size(size)
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
        names = [n for n, p in zip(OCCLUDERS, draws) if p < OCCLUDER_PROBABILITY[n]]
    else:
        names = list(dict.fromkeys(occluders))
        bad = [n for n in names if n not in OCCLUDERS]
        if bad:
            raise ValueError(f"unknown occluder {bad[0]!r}; occluders: {', '.join(OCCLUDERS)}")
    k = min(w, h) / 240.0
    cv = Canvas(w, h)
    geo = (top_view if view == "top" else side_view)(cv, layout_rng, k)
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
    shadows = occlude(cv, layout_rng, k, view, geo, names)
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
    tb = _pixel_box(geo["truck_box"])
    bb = _pixel_box(geo["body_box"])
    return Scene(image=image, cargo_mask=cargo_mask, label=label, view=view,
                 truck_box=tb, body_box=bb, cargo_box=(x0, y0, x1, y1), cargo_painted=painted,
                 occluders=tuple(names), facing=geo["facing"])


def _pixel_box(box: Sequence[float]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return x0, y0, x1, y1


def check_size(size: Sequence[int]) -> tuple[int, int]:
    """``size`` as ``(W, H)`` ints; ValueError unless both are in [MIN_SIDE, MAX_SIDE]."""
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height), got {size!r}") from None
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise ValueError(f"size must be between {MIN_SIDE} and {MAX_SIDE} pixels per side, "
                         f"got {w}x{h}")
    return w, h

