"""Class atlas: where a model looks, on average, for each class it predicts (folder level).

For every image of a folder the attribution map of the predicted class is computed at the
model's input resolution (the common *frame*, ``h x w``; another ``frame`` resizes the maps
bilinearly), its positive part is normalised to sum 1 (so a bright, high-gradient image does not
outweigh a dim one), and the maps are averaged per **predicted** class: the class's *mean map*
(sums to 1). The mean image of the class (the images resized to the frame) is kept as the
background of the figure. Images whose map has no positive evidence count as ``empty_maps`` and
are left out of the mean. No masks are needed.

Where expected-region masks exist (``ROOT/.leakview/masks`` or ``masks_root``), each mask is
resized to the frame by area (a frame pixel is *inside* when at least half of it is covered)
and the atlas measures, per class:

* ``mass_outside_masks``: the mean over the class's masked images of the share of the image's
  own normalised map outside its own mask (= 1 - mean ``mass_in_mask`` at frame resolution);
* ``mass_outside_union``: the share of the mean map outside the union of the class's masks
  (strict: only what no mask ever covers);
* ``mask_coverage``: per frame pixel, the share of masked images whose mask covers it.

**Hot spot rule.** The frame is divided into square *cells* of ``cell`` pixels (default: about
1/24 of the frame's short side, 4 px at 96 x 128; pixel-level gradient maps are too speckled
-- strided convolutions leave a checkerboard -- for single pixels to mean anything). With
``hot_fraction`` f = 1%, ``outside_share`` X = 90%, ``min_concentration`` C = 3 and
``min_images`` = 3 by default:

1. the *hot spot* is the top ``k = max(1, round(f * cells))`` cells by the mean map's mass
   (ties broken by position, row-major);
2. a hot cell lies *outside* when it is outside the mask (less than half of its pixels inside)
   in at least X of the class's masked images;
3. the class gets ``hot_spot_outside = True`` when at least half of its hot cells lie outside
   AND the hot spot is *consistent*: it holds at least C times its area share of the mean
   map's mass (``hot_concentration = hot_mass / area share >= C``). A diffuse mean map has no
   real hot spot (its top 1% of cells hold little more than 1% of the mass and land wherever
   noise puts them), so it is not flagged. Without masks, or with fewer than ``min_images``
   masked images in the class (one image is trivially "consistent"), the flag is None
   (undetermined), but the hot spot, its mass and its location are still reported.

Measured on the bundled demo (saliency, 4-px cells): demo-leaky's hot spots sit on the corner
marker for wheat, sunflower and empty with a concentration of 5.2-5.5 and 100% of their cells
outside every cargo mask; for corn -- demo-leaky's fallback class, predicted for every image
without a marker, so its evidence is "no other marker" -- the map is diffuse (2.0). demo-clean's
hot spots concentrate 2.5-4.2x, all on the cargo (0% of their cells outside). C = 3 keeps a margin
below the leaky corner spots; the location test (X) is what separates clean from leaky.

Headless: numpy, torch (through the model), Pillow and matplotlib's colormaps; never Qt.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from leakview.atomic import atomic_open, atomic_write_text
from leakview.attribution import resolve_options
from leakview.models import LoadedModel, resize_uint8
from leakview.resources import model_name
from leakview.scan import ImageResult, ScanOptions, scan

ATLAS_FORMAT = "leakview-atlas/1"

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


@dataclass
class ClassAtlas:
    """The atlas of one predicted class (maps at the atlas frame, ``h x w``)."""

    name: str
    index: int
    count: int = 0                      #: images predicted as this class with a usable map
    labelled: int = 0                   #: of those, images with a known true label
    correct: int = 0                    #: of those, true label == this class
    empty_maps: int = 0                 #: predicted as this class but no positive evidence
    mean_map: np.ndarray | None = None  #: h x w float64, sums to 1
    mean_image: np.ndarray | None = None  #: h x w x 3 uint8
    masked: int = 0                     #: images of this class with a mask
    mask_coverage: np.ndarray | None = None  #: h x w: share of masked images covering a cell
    mask_union: np.ndarray | None = None     #: h x w bool
    mass_outside_masks: float = math.nan
    mass_outside_union: float = math.nan
    hot_cells: np.ndarray | None = None      #: h x w bool: the pixels of the hot cells
    hot_mass: float = math.nan
    hot_concentration: float = math.nan
    hot_outside_cells: float = math.nan      #: share of hot cells outside in >= X of images
    hot_outside_rate: float = math.nan       #: mean over hot cells of the outside share
    hot_spot_outside: bool | None = None
    hot_box: tuple[int, int, int, int] | None = None    #: (y0, x0, y1, x1), end-exclusive
    hot_centre: tuple[float, float] | None = None       #: (y, x) as fractions of the frame

    def summary(self) -> dict[str, Any]:
        """Plain data (no arrays)."""
        def number(value: float) -> float | None:
            return None if value is None or not math.isfinite(value) else round(float(value), 6)

        return {
            "class": self.name, "index": self.index, "images": self.count,
            "labelled": self.labelled, "correct": self.correct, "empty_maps": self.empty_maps,
            "masked": self.masked, "mass_outside_masks": number(self.mass_outside_masks),
            "mass_outside_union": number(self.mass_outside_union),
            "hot_mass": number(self.hot_mass), "hot_concentration": number(self.hot_concentration),
            "hot_outside_cells": number(self.hot_outside_cells),
            "hot_outside_rate": number(self.hot_outside_rate),
            "hot_spot_outside": self.hot_spot_outside,
            "hot_box": list(self.hot_box) if self.hot_box else None,
            "hot_centre": ([round(v, 4) for v in self.hot_centre] if self.hot_centre
                           else None),
        }


@dataclass
class Atlas:
    """Per-class mean attribution maps of one model on one folder (see the module docs)."""

    method: str
    frame: tuple[int, int]
    classes: list[ClassAtlas]
    root: Path
    images: int
    errors: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    rule: dict[str, float] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)

    def by_name(self, name: str) -> ClassAtlas:
        for entry in self.classes:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def flagged(self) -> list[str]:
        """Classes whose hot spot lies outside the expected region."""
        return [entry.name for entry in self.classes if entry.hot_spot_outside]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ATLAS_FORMAT, "method": self.method, "method_options": self.method_options,
            "frame": list(self.frame), "root": str(self.root), "images": self.images,
            "errors": list(self.errors), "model": self.model, "rule": self.rule,
            "flagged": self.flagged(), "classes": [entry.summary() for entry in self.classes],
        }

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def save_npz(self, path: str | os.PathLike[str]) -> Path:
        """Every class's mean map, mean image, mask coverage and hot cells as arrays
        (``<class>/mean_map`` ...; missing arrays are left out)."""
        arrays: dict[str, np.ndarray] = {}
        for entry in self.classes:
            for key in ("mean_map", "mean_image", "mask_coverage", "hot_cells"):
                value = getattr(entry, key)
                if value is not None:
                    arrays[f"{entry.name}/{key}"] = value
        path = Path(path)
        with atomic_open(path, "wb") as stream:
            np.savez_compressed(stream, **arrays)  # type: ignore[arg-type]  # keys name arrays, never allow_pickle
        return path

    def figure(self, columns: int = 4) -> np.ndarray:
        """One panel per class: the mean map as a heat map over the class's mean image, the
        hot spot outlined in yellow, the mask coverage (>= 50% of images) in cyan."""
        from leakview.atlas_figure import atlas_figure

        return atlas_figure(self, columns)


# ------------------------------------------------------------------------------- computing

def _frame_mask(mask: np.ndarray, frame: tuple[int, int]) -> np.ndarray:
    """A full-resolution bool mask -> frame pixels covered at least half (area resize)."""
    image = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")
    small = np.asarray(image.resize((frame[1], frame[0]), Image.Resampling.BOX))
    return small >= 128


def _normalised(map_model: np.ndarray, frame: tuple[int, int]) -> np.ndarray | None:
    array = np.nan_to_num(np.asarray(map_model, dtype=np.float32), nan=0.0, posinf=0.0,
                          neginf=0.0)
    if tuple(array.shape) != tuple(frame):
        tensor = torch.from_numpy(array)[None, None]
        array = F.interpolate(tensor, size=frame, mode="bilinear", align_corners=False,
                              antialias=array.shape[0] > frame[0] or array.shape[1] > frame[1]
                              )[0, 0].numpy()
    positive = np.maximum(array.astype(np.float64), 0.0)
    total = float(positive.sum())
    if not total > 0 or not math.isfinite(total):
        return None
    return positive / total


class _Accumulator:
    """Running sums of one class: memory stays flat however many images are added (a mask
    adds to the coverage sum, the union and the per-cell inside counts, nothing is kept)."""

    def __init__(self, frame: tuple[int, int], cell: int | None = None) -> None:
        self.frame = frame
        self.cell = cell = default_cell(frame) if cell is None else max(1, int(cell))
        self.map_sum = np.zeros(frame, np.float64)
        self.image_sum = np.zeros((*frame, 3), np.float64)
        self.count = 0
        self.labelled = 0
        self.correct = 0
        self.empty = 0
        self.masked = 0                        # images with a mask
        self.coverage_sum = np.zeros(frame, np.float64)
        self.union = np.zeros(frame, bool)
        self.pixels = block_sum(np.ones(frame), cell)   # pixels per cell
        self.inside_count = np.zeros(self.pixels.shape, np.int64)  # per cell: masks covering
        self.outside: list[float] = []         # own map outside own mask

    def add(self, normalised: np.ndarray | None, image: np.ndarray, label: int | None,
            predicted: int, mask: np.ndarray | None) -> None:
        if normalised is None:
            self.empty += 1
            return
        self.count += 1
        self.map_sum += normalised
        self.image_sum += resize_uint8(image, self.frame)
        if label is not None:
            self.labelled += 1
            self.correct += int(label == predicted)
        if mask is not None:
            cells = _frame_mask(mask, self.frame)
            self.masked += 1
            self.coverage_sum += cells
            self.union |= cells
            # a cell is inside the mask when at least half of its pixels are
            covered = block_sum(cells.astype(np.float64), self.cell) / self.pixels
            self.inside_count += covered >= 0.5
            self.outside.append(float(normalised[~cells].sum()))


def default_cell(frame: Sequence[int]) -> int:
    """Side of the hot-spot cells in frame pixels: about 1/24 of the frame's short side."""
    return max(1, int(round(min(frame) / 24)))


def block_sum(array: np.ndarray, cell: int) -> np.ndarray:
    """Sum over ``cell x cell`` blocks (the last row/column of blocks may be smaller)."""
    rows = np.arange(0, array.shape[0], cell)
    cols = np.arange(0, array.shape[1], cell)
    return np.add.reduceat(np.add.reduceat(array, rows, axis=0), cols, axis=1)


def _finish(name: str, index: int, acc: _Accumulator, hot_fraction: float,
            outside_share: float, min_concentration: float, cell: int | None = None,
            min_images: int = 1) -> ClassAtlas:
    """The class's atlas from its running sums (``cell``, if given, must be the accumulator's:
    the per-cell counts were taken with it)."""
    if cell is not None and int(cell) != acc.cell:
        raise ValueError(f"cell {cell} differs from the accumulator's {acc.cell}")
    entry = ClassAtlas(name=name, index=index, count=acc.count, labelled=acc.labelled,
                       correct=acc.correct, empty_maps=acc.empty, masked=acc.masked)
    if acc.count == 0:
        return entry
    h, w = acc.frame
    cell = acc.cell
    mean_map = acc.map_sum / acc.count
    entry.mean_map = mean_map
    entry.mean_image = np.clip(np.round(acc.image_sum / acc.count), 0, 255).astype(np.uint8)
    grid = block_sum(mean_map, cell)                      # mass per cell
    pixels = acc.pixels                                     # pixels per cell
    k = min(grid.size, max(1, int(math.floor(hot_fraction * grid.size + 0.5))))
    order = np.argsort(-grid.ravel(), kind="stable")[:k]
    hot_flat = np.zeros(grid.size, bool)
    hot_flat[order] = True
    hot_grid = hot_flat.reshape(grid.shape)
    hot = np.repeat(np.repeat(hot_grid, cell, 0), cell, 1)[:h, :w]
    entry.hot_cells = hot
    entry.hot_mass = float(grid[hot_grid].sum())
    entry.hot_concentration = entry.hot_mass / (float(pixels[hot_grid].sum()) / (h * w))
    rows, cols = np.nonzero(hot)
    entry.hot_box = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    weights = mean_map[hot]
    if not weights.sum() > 0:
        weights = None
    entry.hot_centre = (float(np.average(rows + 0.5, weights=weights) / h),
                        float(np.average(cols + 0.5, weights=weights) / w))
    if acc.masked:
        entry.mask_coverage = acc.coverage_sum / acc.masked
        union = acc.union.copy()
        entry.mask_union = union
        entry.mass_outside_masks = float(np.mean(acc.outside))
        entry.mass_outside_union = float(mean_map[~union].sum())
        # per hot cell: the share of masked images whose mask misses it
        outside_rate = 1.0 - (acc.inside_count / acc.masked)[hot_grid]
        entry.hot_outside_rate = float(outside_rate.mean())
        entry.hot_outside_cells = float(np.mean(outside_rate >= outside_share))
        if acc.masked >= min_images:
            entry.hot_spot_outside = bool(entry.hot_outside_cells >= 0.5
                                          and entry.hot_concentration >= min_concentration)
    return entry


class AtlasBuilder:
    """Accumulates an atlas one image at a time (what :func:`compute_atlas` does for a folder;
    the app's *Analyze folder* feeds it the maps its scan already computed, so the atlas costs
    no extra attribution). ``add`` takes an image's attribution at model resolution for its
    predicted class; :meth:`finish` may be called at any point (a cancelled scan gives the atlas
    of the images seen so far). Parameters as :func:`compute_atlas`."""

    def __init__(self, model: LoadedModel, root: str | os.PathLike[str], method: str = "saliency",
                 method_options: dict[str, Any] | None = None,
                 frame: Sequence[int] | None = None, hot_fraction: float = 0.01,
                 outside_share: float = 0.9, min_concentration: float = 3.0,
                 min_images: int = 3, cell: int | None = None) -> None:
        if not 0 < hot_fraction <= 1 or not 0 < outside_share <= 1 or min_concentration < 0:
            raise ValueError("hot_fraction and outside_share must be in (0, 1], "
                             "min_concentration >= 0")
        if min_images < 1:
            raise ValueError("min_images must be at least 1")
        frame_hw = tuple(int(v) for v in (frame or model.input_size))
        if len(frame_hw) != 2 or min(frame_hw) < 2:
            raise ValueError(f"frame must be (h, w) with sides >= 2, got {frame!r}")
        cell = default_cell(frame_hw) if cell is None else int(cell)
        if not 1 <= cell <= min(frame_hw):
            raise ValueError(f"cell must be between 1 and the frame's short side, got {cell}")
        self.model_info = {"name": model_name(model.source),
                           "source": str(model.source) if model.source else None,
                           "arch": model.arch, "classes": list(model.classes),
                           "input_size": list(model.input_size)}
        self.classes = list(model.classes)
        self.root = Path(root)
        self.method = method
        self.method_options = dict(method_options or {})
        self.frame: tuple[int, int] = (frame_hw[0], frame_hw[1])
        self.cell = cell
        self.hot_fraction, self.outside_share = hot_fraction, outside_share
        self.min_concentration, self.min_images = min_concentration, min_images
        self.accumulators = [_Accumulator(self.frame, cell) for _ in self.classes]
        self.errors: list[str] = []
        self.images = 0

    def add(self, image: np.ndarray, map_model: np.ndarray, predicted: int,
            label: int | None = None, mask: np.ndarray | None = None) -> None:
        """One image (RGB uint8), its map at model resolution for class ``predicted``, its true
        label index (or None) and its expected-region mask at image resolution (or None)."""
        self.images += 1
        self.accumulators[int(predicted)].add(_normalised(map_model, self.frame), image, label,
                                              int(predicted), mask)

    def add_result(self, result: ImageResult) -> None:
        """One image as the scan saw it (:func:`leakview.scan.scan` with
        ``keep_attributions=True``): its map of this builder's method, its true label and mask.
        An unreadable image, or one without this method's map, is counted as an error; a mask
        file that cannot be used is listed in ``errors`` and the image is added without it."""
        if result.image is None or result.predicted is None:
            self.add_error(f"{result.name}: {result.error or 'not analysed'}")
            return
        attribution = result.attributions.get(self.method)
        if attribution is None:
            self.add_error(f"{result.name}: no {self.method} map")
            return
        if result.mask_problem is not None:
            self.errors.append(f"{result.name}: mask: {result.mask_problem.reason}")
        label = self.classes.index(result.label) if result.label in self.classes else None
        self.add(result.image, attribution.map_model, result.predicted, label, result.mask)

    def add_error(self, text: str) -> None:
        """An image that could not be used (counted in ``images``, listed in ``errors``)."""
        self.images += 1
        self.errors.append(text)

    def finish(self) -> Atlas:
        classes = [_finish(name, index, self.accumulators[index], self.hot_fraction,
                           self.outside_share, self.min_concentration, self.cell,
                           self.min_images)
                   for index, name in enumerate(self.classes)]
        return Atlas(method=self.method, frame=self.frame, classes=classes, root=self.root,
                     images=self.images, errors=list(self.errors), model=dict(self.model_info),
                     rule={"hot_fraction": self.hot_fraction,
                           "outside_share": self.outside_share,
                           "min_concentration": self.min_concentration,
                           "min_images": self.min_images, "cell": self.cell},
                     method_options=dict(self.method_options))


class AtlasSet:
    """The atlases of one scan, one :class:`AtlasBuilder` per method, all fed the same results
    (what ``leakview scan --atlas``, ``leakview atlas`` and the app's *Analyze folder* use).
    ``rule``: the builders' hot-spot parameters."""

    def __init__(self, model: LoadedModel, root: str | os.PathLike[str],
                 methods: Sequence[str],
                 method_options: Mapping[str, dict[str, Any]] | None = None,
                 **rule: Any) -> None:
        options = method_options or {}
        self.builders = {method: AtlasBuilder(model, root, method, options.get(method), **rule)
                         for method in methods}

    def add_result(self, result: ImageResult) -> None:
        for builder in self.builders.values():
            builder.add_result(result)

    def finish(self) -> dict[str, Atlas]:
        """Each method's atlas of the images added so far."""
        return {method: builder.finish() for method, builder in self.builders.items()}


def compute_atlas(model: LoadedModel, root: str | os.PathLike[str], method: str = "saliency",
                  method_options: dict[str, Any] | None = None,
                  masks_root: str | os.PathLike[str] | None = None,
                  paths: Sequence[Path] | None = None, batch_size: int = 16,
                  frame: Sequence[int] | None = None, hot_fraction: float = 0.01,
                  outside_share: float = 0.9, min_concentration: float = 3.0,
                  min_images: int = 3, cell: int | None = None,
                  progress: ProgressFn | None = None, should_stop: StopFn | None = None
                  ) -> Atlas:
    """The class atlas of ``model`` on the images of ``root`` (see the module docstring).

    ``paths`` restricts the images (default: every image of ``root``); unreadable images are
    listed in ``errors``. ``frame`` = ``(h, w)`` of the common frame (default: the model's input
    size). ``hot_fraction``, ``outside_share``, ``min_concentration``, ``min_images`` and
    ``cell`` (default: :func:`default_cell`) are the hot-spot rule's parameters (module
    docstring). ``progress(done, total)`` after each batch; ``should_stop()`` is checked between
    batches (and inside LIME) and raises :class:`leakview.attribution.Cancelled`.
    Raises ValueError for an unknown method or option or bad rule parameters.
    """
    explicit = dict(method_options or {})
    resolve_options(method, explicit)  # a bad method or option fails before any image is read
    options = ScanOptions(methods=(method,), method_options={method: explicit} if explicit else {},
                          masks_root=Path(masks_root) if masks_root is not None else None,
                          batch_size=batch_size)
    builder = AtlasBuilder(model, root, method, explicit, frame, hot_fraction, outside_share,
                           min_concentration, min_images, cell)
    model.module.eval()
    for result in scan(model, root, paths, options, progress=progress, should_stop=should_stop,
                       keep_attributions=True):
        builder.add_result(result)
    return builder.finish()
