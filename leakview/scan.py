"""The batch pipeline behind both ``leakview scan`` and the app's "Analyze folder".

For each image: load it, predict (in batches), compute the requested attribution methods, look up
its expected-region mask, compute the overlap metrics and the leak flag, and yield the result.
Unreadable images become results whose rows carry the ``error`` column; the scan goes on.
Cancellation (``should_stop``) is honoured between images and inside long methods.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from leakview.atomic import atomic_open
from leakview.attribution import Attribution, Cancelled, explain_batch, method_names
from leakview.images import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    discover_images,
    load_image,
    relative_name,
    true_label,
)
from leakview.masks import find_mask
from leakview.metrics import METRIC_NAMES, overlap_metrics, superpixel_topk_share
from leakview.models import LoadedModel
from leakview.verdict import VerdictRule, leak_flag

SUPERPIXEL_SHARE_COLUMN = "lime_top5_superpixel_share"


@dataclass
class ScanOptions:
    """What to compute. ``method_options`` maps a method name to its options (see the method
    registry); ``target`` is a class index to explain instead of each image's prediction."""

    methods: Sequence[str] = ("saliency",)
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    masks_root: Path | None = None
    batch_size: int = 16
    topk_fraction: float = 0.05
    rule: VerdictRule = field(default_factory=VerdictRule)
    maps_dir: Path | None = None
    target: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        known = method_names()
        unknown = [name for name in self.methods if name not in known]
        if unknown or not self.methods:
            raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
                             f"choose from {', '.join(known)}")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")


@dataclass
class ImageResult:
    """Everything the scan learned about one image."""

    path: Path
    name: str  # relative to the root, "/"-separated
    label: str | None
    probabilities: np.ndarray | None = None
    predicted: int | None = None
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    attributions: dict[str, Attribution] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def shard_of(name: str, shards: int) -> int:
    """Deterministic shard (0-based) of an image's relative name; stable when images are added."""
    return zlib.crc32(name.encode("utf-8")) % shards


def select_images(root: str | os.PathLike[str], shard: tuple[int, int] | None = None,
                  on_error: Callable[[Path, str], None] | None = None) -> list[Path]:
    """The images of ``root`` (natural order), restricted to shard ``(k, n)`` (1-based k)."""
    paths = discover_images(root, on_error=on_error)
    if shard is None:
        return paths
    index, count = shard
    return [path for path in paths if shard_of(relative_name(path, root), count) == index - 1]


def _empty_metrics() -> dict[str, float]:
    return {name: math.nan for name in METRIC_NAMES}


def metrics_row(result: ImageResult, attribution: Attribution | None, method: str,
                classes: Sequence[str], options: ScanOptions, mask_error: str | None = None
                ) -> dict[str, Any]:
    """One CSV row (DESIGN.md column order) for an image and a method."""
    row: dict[str, Any] = {
        "image": result.name,
        "label": result.label or "",
        "predicted": classes[result.predicted] if result.predicted is not None else "",
        "confidence": (float(result.probabilities[result.predicted])
                       if result.predicted is not None else None),
        "method": method,
        "target": classes[attribution.target] if attribution is not None else "",
    }
    metrics = _empty_metrics()
    share = math.nan
    if attribution is not None and result.mask is not None:
        metrics = overlap_metrics(attribution.map, result.mask, options.topk_fraction)
        if "segments" in attribution.extras:
            share = _superpixel_share(attribution, result.mask)
    row.update(metrics)
    row["leak_flag"] = (leak_flag(metrics, options.rule, options.topk_fraction)
                        if attribution is not None else None)
    row["error"] = result.error or mask_error or ""
    row[SUPERPIXEL_SHARE_COLUMN] = share
    return row


def _superpixel_share(attribution: Attribution, mask: np.ndarray) -> float:
    """LIME: share of the top-5 positive superpixels' area inside the mask, measured at image
    resolution (segments resized with nearest neighbour)."""
    segments = np.asarray(attribution.extras["segments"])
    height, width = mask.shape
    rows = (np.arange(height) * segments.shape[0] // height).clip(0, segments.shape[0] - 1)
    cols = (np.arange(width) * segments.shape[1] // width).clip(0, segments.shape[1] - 1)
    return superpixel_topk_share(segments[rows][:, cols], attribution.extras["weights"], mask)


def _load_mask(root: Path, result: ImageResult, shape: tuple[int, int],
               options: ScanOptions) -> str | None:
    """Attach the image's mask if it has one; returns an error text for a bad mask file."""
    result.mask, error = find_mask(root, result.path, options.masks_root, shape)
    return f"mask: {error}" if error is not None else None


def save_map(maps_dir: Path, name: str, method: str, attribution: Attribution) -> Path:
    """``DIR/<relative image path>.<method>.npy``, float32 at image resolution, atomically."""
    target = maps_dir / f"{name}.{method}.npy"
    with atomic_open(target, "wb") as stream:
        np.save(stream, attribution.map.astype(np.float32, copy=False))
    return target


def scan(model: LoadedModel, root: str | os.PathLike[str], paths: Sequence[Path] | None = None,
         options: ScanOptions | None = None,
         progress: Callable[[int, int], None] | None = None,
         should_stop: Callable[[], bool] | None = None,
         keep_attributions: bool = False) -> Iterator[ImageResult]:
    """Yield one :class:`ImageResult` per image of ``paths`` (default: every image of ``root``).

    Raises :class:`leakview.attribution.Cancelled` when ``should_stop()`` turns true; results
    already yielded stay valid. ``keep_attributions`` keeps the image, its mask and its maps in
    the results (the GUI and figures want them; a CSV-only scan does not: memory stays flat).
    """
    # Absolute, so image paths and the root agree however the caller spelled the folder.
    root = Path(root).absolute()
    options = options or ScanOptions()
    paths = ([Path(path).absolute() for path in paths] if paths is not None
             else select_images(root))
    stop = should_stop or (lambda: False)
    total = len(paths)
    done = 0
    for start in range(0, total, options.batch_size):
        if stop():
            raise Cancelled()
        batch = [_start_result(root, path, model.classes) for path in
                 paths[start:start + options.batch_size]]
        images: list[np.ndarray] = []
        readable: list[ImageResult] = []
        for result in batch:
            try:
                result.image = load_image(result.path, max_pixels=options.max_pixels)
                images.append(result.image)
                readable.append(result)
            except ImageLoadError as error:
                result.error = error.reason
        if readable:
            _analyse_batch(model, root, readable, images, options, stop)
        for result in batch:
            if result.error is not None:
                result.rows = [metrics_row(result, None, method, model.classes, options)
                               for method in options.methods]
            if not keep_attributions:
                result.attributions = {}
                result.mask = None
                result.image = None
            done += 1
            yield result
            if progress:
                progress(done, total)


def _start_result(root: Path, path: Path, classes: Sequence[str]) -> ImageResult:
    return ImageResult(path=path, name=relative_name(path, root),
                       label=true_label(path, root, classes))


def _analyse_batch(model: LoadedModel, root: Path, results: list[ImageResult],
                   images: list[np.ndarray], options: ScanOptions,
                   stop: Callable[[], bool]) -> None:
    probabilities = model.predict(images, batch_size=len(images))
    for result, row in zip(results, probabilities):
        result.probabilities = row
        result.predicted = int(np.argmax(row))
    mask_errors = [_load_mask(root, result, image.shape[:2], options)
                   for result, image in zip(results, images)]
    targets = [options.target if options.target is not None else result.predicted
               for result in results]
    for method in options.methods:
        attributions = explain_batch(model, images, method, targets, should_stop=stop,
                                     **options.method_options.get(method, {}))
        for result, attribution in zip(results, attributions):
            result.attributions[method] = attribution
            if options.maps_dir is not None:
                save_map(options.maps_dir, result.name, method, attribution)
    for result, mask_error in zip(results, mask_errors):
        result.rows = [metrics_row(result, result.attributions[method], method, model.classes,
                                   options, mask_error) for method in options.methods]
