"""Leak markers: the one vocabulary of planted leaks, for the demo data and the canary.

A marker is a class-dependent overlay painted onto the finished 8-bit image, as the study did:
a digital overlay, not part of the scene. :data:`MARKERS` names the kinds (corner-rect, stripe,
watermark), :func:`get_marker` builds one from its parameters, :func:`build_marker` builds one
for a data set's own classes (a colour and a text per class, :func:`palette` beyond the six
default colours). The ``demo-data`` and ``canary`` commands and the canary dialog take their
choices (:data:`MARKER_NAMES`, :data:`CORNERS`, :data:`EDGES`, :func:`placement`,
:func:`size_defaults`) and parse a colour list (:func:`parse_colours`) here.
Headless: numpy and Pillow only.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leakview.demo_world import CLASSES

#: Strong colours that never occur in the demo scenes (no pure primaries are painted there).
DEFAULT_CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255))
CORNERS: tuple[str, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")
EDGES: tuple[str, ...] = ("top", "bottom", "left", "right")


class Marker:
    """A leak marker: a class-dependent overlay painted onto the finished image.

    ``apply(image, label_index, rng)`` paints **in place** on ``image`` (H x W x 3 uint8) and
    returns the H x W bool mask of exactly the pixels it painted. ``label_index`` indexes the
    classes (and so ``class_colors``). Random choices, if any, come only from ``rng``, which
    callers draw from a stream of its own. ``placement`` names the parameter that says where
    the marker sits (``corner`` or ``edge``); ``default_size`` is its size when none is given.
    """

    name: ClassVar[str] = ""
    placement: ClassVar[str] = "corner"
    default_size: ClassVar[float] = 0.1

    def __init__(self, *, size: float | None = None,
                 class_colors: Sequence[Sequence[int]] | None = None) -> None:
        size = float(self.default_size if size is None else size)
        if not (0 < size <= 0.5):
            raise ValueError(f"marker size must be a fraction of the short side in (0, 0.5], "
                             f"got {size}")
        self.size = size
        colors = DEFAULT_CLASS_COLORS if class_colors is None else class_colors
        checked: list[tuple[int, int, int]] = []
        for color in colors:
            rgb = tuple(int(v) for v in color)
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise ValueError(f"class colours must be RGB triples 0..255, got {rgb}")
            checked.append((rgb[0], rgb[1], rgb[2]))
        self.class_colors = tuple(checked)

    def color(self, label_index: int) -> tuple[int, int, int]:
        if not 0 <= label_index < len(self.class_colors):
            raise ValueError(f"no marker colour for class index {label_index} "
                             f"({len(self.class_colors)} colours)")
        return self.class_colors[label_index]

    def params(self) -> dict[str, Any]:
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
    default_size = 0.14

    def __init__(self, *, corner: str = "top-left", size: float | None = None,
                 aspect: float = 1.0, margin: float = 0.0, jitter: float = 0.0,
                 class_colors: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(size=size, class_colors=class_colors)
        self.corner = _check_corner(corner)
        self.aspect, self.margin, self.jitter = float(aspect), float(margin), float(jitter)
        if not (0.1 <= self.aspect <= 10) or not (0 <= self.margin <= 0.4) or not (
                0 <= self.jitter <= 0.4):
            raise ValueError("corner-rect: aspect must be in [0.1, 10], margin and jitter in "
                             "[0, 0.4]")

    def params(self) -> dict[str, Any]:
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
    placement = "edge"
    default_size = 0.04

    def __init__(self, *, edge: str = "top", size: float | None = None,
                 class_colors: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(size=size, class_colors=class_colors)
        if edge not in EDGES:
            raise ValueError(f"unknown edge {edge!r}; edges: {', '.join(EDGES)}")
        self.edge = edge

    def params(self) -> dict[str, Any]:
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

    Without ``texts`` class ``k`` gets :func:`class_text` of the demo class ``k``. Drawn with
    Pillow's built-in bitmap font, scaled up by a whole factor (nearest neighbour) so that the
    text is about ``size`` x the short side tall. The region mask is exactly the glyph pixels
    painted (not the text's box).
    """

    name = "watermark"
    default_size = 0.08

    def __init__(self, *, corner: str = "bottom-right", size: float | None = None,
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
        return class_text(CLASSES[label_index] if label_index < len(CLASSES) else "",
                          label_index)

    def params(self) -> dict[str, Any]:
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
MARKER_NAMES: tuple[str, ...] = tuple(MARKERS)
DEFAULT_MARKER = CornerRect.name


def _marker_class(name: str) -> type[Marker]:
    try:
        return MARKERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown leak marker {name!r}; available: "
                         f"{', '.join(sorted(MARKERS))}") from None


def get_marker(name: str, **params: Any) -> Marker:
    """Build the marker ``name`` with ``params``; bad names or parameters raise ValueError."""
    factory = _marker_class(name)
    try:
        return factory(**params)
    except TypeError as error:
        raise ValueError(f"bad parameters for marker {name!r}: {error}") from None


def placement(name: str) -> tuple[str, tuple[str, ...]]:
    """The parameter that places marker ``name`` and its choices: ``("edge", EDGES)`` for the
    stripe, ``("corner", CORNERS)`` for the others."""
    key = _marker_class(name).placement
    return key, (EDGES if key == "edge" else CORNERS)


def size_defaults() -> str:
    """Each marker's default size, for help texts: ``corner-rect 0.14, stripe 0.04, ...``."""
    return ", ".join(f"{name} {kind.default_size}" for name, kind in MARKERS.items())


# ------------------------------------------------------------------- markers for any classes

def palette(count: int) -> list[tuple[int, int, int]]:
    """``count`` distinct marker colours: the defaults, then evenly spaced saturated hues."""
    colours = list(DEFAULT_CLASS_COLORS[:count])
    step = 0
    while len(colours) < count:  # golden-ratio hues at three brightness levels, no repeats
        hue = (0.13 + step * 0.618034) % 1.0
        value = (1.0, 0.7, 0.45)[(step // 7) % 3]
        r, g, b = colorsys.hsv_to_rgb(hue, 1.0 if step < 21 else 0.6, value)
        candidate = (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))
        # keep colours apart (relaxed as the palette fills up)
        spacing = max(0.0, 90.0 - step * 0.5)
        if candidate not in colours and all(
                math.dist(candidate, other) >= spacing for other in colours):
            colours.append(candidate)
        step += 1
    return colours


def class_text(name: str, index: int) -> str:
    """A watermark's text for class ``name`` at position ``index``: its initial and position
    (``C1`` for "cat" first; ``K`` stands in for an empty name)."""
    return f"{(name[:1] or 'K').upper()}{index + 1}"


def build_marker(name: str, params: Mapping[str, Any], classes: Sequence[str]) -> Marker:
    """The marker ``name`` for ``classes`` (colours and texts indexed by class position):
    without ``class_colors`` the :func:`palette`, without ``texts`` a watermark writes
    :func:`class_text` of each class. Too few or repeated colours raise ValueError."""
    if name not in MARKERS:
        raise ValueError(f"unknown marker {name!r}; available: {', '.join(sorted(MARKERS))}")
    params = dict(params)
    if params.get("class_colors") is None:
        params["class_colors"] = palette(len(classes))
    if name == Watermark.name and params.get("texts") is None:
        params["texts"] = [class_text(cls, index) for index, cls in enumerate(classes)]
    marker = get_marker(name, **params)
    if len(marker.class_colors) < len(classes):
        raise ValueError(f"{len(marker.class_colors)} marker colours for {len(classes)} "
                         f"classes; give one colour per class")
    colours = [tuple(c) for c in marker.class_colors[:len(classes)]]
    if len(set(colours)) < len(colours):
        raise ValueError("marker colours must differ between classes")
    return marker


def parse_colours(text: str) -> list[tuple[int, int, int]]:
    """``"r,g,b;r,g,b;..."`` (one colour per class) as RGB triples; ValueError if malformed."""
    colours = []
    for part in text.split(";"):
        try:
            values = tuple(int(v) for v in part.split(","))
        except ValueError:
            raise ValueError(f"expected 'r,g,b;r,g,b;...', got {text!r}") from None
        if len(values) != 3 or not all(0 <= v <= 255 for v in values):
            raise ValueError(f"each colour is three numbers 0..255: {part!r}")
        colours.append((values[0], values[1], values[2]))
    return colours
