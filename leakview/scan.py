"""The batch pipeline behind both ``leakview scan`` and the app's "Analyze folder".

For each image: load it, predict (in batches), compute the requested attribution methods, look up
its expected-region mask and its suspect region, compute the overlap metrics against each and
the flags (:mod:`leakview.verdict`), and yield the result. Unreadable images, and mask or
suspect-region files that exist but cannot be used, become results whose rows carry the
``error`` column; the scan goes on. A
requested method that cannot run on the model (the registry says why before the run,
:func:`unavailable_methods`) is not run: its rows carry the reason in ``error`` and the other
methods run as usual. Cancellation (``should_stop``) is honoured between images and inside
long methods.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leakview.atomic import atomic_open
from leakview.attribution import (
    Attribution,
    Cancelled,
    explain_batch,
    method_names,
    unavailable_reason,
)
from leakview.images import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    discover_images,
    load_image,
    relative_name,
    true_label,
)
from leakview.layout import normalise_root
from leakview.masks import SUSPECT, MaskError, find_mask
from leakview.metrics import overlap_metrics, superpixel_topk_share
from leakview.models import LoadedModel
from leakview.report import figure_title
from leakview.resources import model_name
from leakview.scanrow import SCAN_COLUMNS, SUPERPIXEL_SHARE_COLUMN, ScanRow
from leakview.verdict import VerdictRule, leak_flag, suspect_flag

__all__ = ["SCAN_COLUMNS", "SUPERPIXEL_SHARE_COLUMN", "ImageResult", "NoMethodCanRun",
           "ScanOptions", "ScanRow", "check_runnable", "save_map", "scan", "score_attribution",
           "in_shard", "select_images", "shard_of", "unavailable_methods"]


class NoMethodCanRun(ValueError):
    """None of the requested methods can run on the model; the message gives each reason."""


def unavailable_methods(model: LoadedModel, methods: Sequence[str]) -> dict[str, str]:
    """The methods of ``methods`` that cannot run on ``model``, each with the registry's
    one-line reason (:func:`leakview.attribution.unavailable_reason`)."""
    reasons = {method: unavailable_reason(model, method) for method in methods}
    return {method: reason for method, reason in reasons.items() if reason}


def check_runnable(model: LoadedModel, methods: Sequence[str]) -> dict[str, str]:
    """:func:`unavailable_methods`, raising :class:`NoMethodCanRun` when that is all of
    them."""
    unavailable = unavailable_methods(model, methods)
    if methods and len(unavailable) == len(methods):
        raise NoMethodCanRun("no requested method can run on this model: "
                             + "; ".join(unavailable.values()))
    return unavailable


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
    rows: list[ScanRow] = field(default_factory=list)
    error: str | None = None
    mask_problem: MaskError | None = None  #: a mask file that exists but cannot be used
    suspect: np.ndarray | None = None  #: the suspect region, if the image has one
    suspect_problem: MaskError | None = None  #: a suspect-region file that cannot be used

    def title(self, classes: Sequence[str]) -> str:
        """The figure title: name, true label, predicted class and its probability."""
        return figure_title(self.name, self.label, classes, self.probabilities)


def shard_of(name: str, shards: int) -> int:
    """Deterministic shard (0-based) of an image's relative name; stable when images are added."""
    return zlib.crc32(name.encode("utf-8")) % shards


def select_images(root: str | os.PathLike[str], shard: tuple[int, int] | None = None,
                  on_error: Callable[[Path, str], None] | None = None) -> list[Path]:
    """The images of ``root`` (natural order), restricted to shard ``(k, n)`` (1-based k)."""
    return in_shard(discover_images(root, on_error=on_error), root, shard)


def in_shard(paths: Sequence[Path], root: str | os.PathLike[str],
             shard: tuple[int, int] | None = None) -> list[Path]:
    """The images of ``paths`` (under ``root``) in shard ``(k, n)`` (1-based k); all of them
    without a shard."""
    if shard is None:
        return list(paths)
    index, count = shard
    return [path for path in paths if shard_of(relative_name(path, root), count) == index - 1]


def score_attribution(name: str, label: str | None, classes: Sequence[str],
                      probabilities: np.ndarray | None, method: str,
                      attribution: Attribution | None, mask: np.ndarray | None,
                      topk_fraction: float = 0.05, rule: VerdictRule = VerdictRule(),
                      error: str = "", suspect: np.ndarray | None = None) -> ScanRow:
    """The row of one image and method: prediction, overlap metrics against ``mask`` (the
    expected region; NaN without one) and against ``suspect`` (the suspect region, the
    ``suspect_*`` columns; NaN without one), the flags under ``rule`` and ``error`` (an
    unreadable image has no ``probabilities`` and no ``attribution``). A row with an ``error``
    has no flags: what could be measured is kept, but it is not judged. The one scoring of
    ``leakview scan`` and the window."""
    predicted = int(np.argmax(probabilities)) if probabilities is not None else None
    row = ScanRow(
        image=name, label=label or "",
        predicted=classes[predicted] if predicted is not None else "",
        confidence=(float(probabilities[predicted]) if probabilities is not None
                    and predicted is not None else None),
        method=method,
        target=classes[attribution.target] if attribution is not None else "",
        error=error)
    if attribution is None:
        return row
    if mask is not None:
        row = row.with_metrics(overlap_metrics(attribution.map, mask, topk_fraction))
        if "segments" in attribution.extras:
            row.lime_top5_superpixel_share = _superpixel_share(attribution, mask)
    if suspect is not None:
        row = row.with_suspect_metrics(overlap_metrics(attribution.map, suspect, topk_fraction))
    if error:
        return row
    return row.with_flag(leak_flag(row, rule, topk_fraction),
                         suspect_flag(row, rule, topk_fraction))


def _result_row(result: ImageResult, method: str, model: LoadedModel,
                options: ScanOptions, unavailable: dict[str, str]) -> ScanRow:
    problems = [f"{what}: {problem}" for what, problem in (
        ("mask", result.mask_problem), ("suspect region", result.suspect_problem))
        if problem is not None]
    error = result.error or unavailable.get(method) or "; ".join(problems)
    row = score_attribution(result.name, result.label, model.classes, result.probabilities,
                            method, result.attributions.get(method), result.mask,
                            options.topk_fraction, options.rule, error, result.suspect)
    row.model = model_name(model.source)
    return row


def _superpixel_share(attribution: Attribution, mask: np.ndarray) -> float:
    """LIME: share of the top-5 positive superpixels' area inside the mask, measured at image
    resolution (segments resized with nearest neighbour)."""
    segments = np.asarray(attribution.extras["segments"])
    height, width = mask.shape
    rows = (np.arange(height) * segments.shape[0] // height).clip(0, segments.shape[0] - 1)
    cols = (np.arange(width) * segments.shape[1] // width).clip(0, segments.shape[1] - 1)
    return superpixel_topk_share(segments[rows][:, cols], attribution.extras["weights"], mask)


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
    already yielded stay valid. A method that cannot run on ``model`` is skipped (its rows
    carry the reason in ``error``); :class:`NoMethodCanRun` when none of them can.
    ``keep_attributions`` keeps the image, its regions and its maps in the results (the GUI and
    figures want them; a CSV-only scan does not: memory stays flat).
    """
    # Normalised alike, so image paths and the root agree however the caller spelled them.
    root = normalise_root(root)
    options = options or ScanOptions()
    paths = ([normalise_root(path) for path in paths] if paths is not None
             else select_images(root))
    stop = should_stop or (lambda: False)
    unavailable = check_runnable(model, options.methods)
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
            _analyse_batch(model, root, readable, images, options, stop, unavailable)
        for result in batch:
            if result.error is not None:
                result.rows = [_result_row(result, method, model, options, unavailable)
                               for method in options.methods]
            if not keep_attributions:
                result.attributions = {}
                result.mask = None
                result.suspect = None
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
                   stop: Callable[[], bool], unavailable: dict[str, str]) -> None:
    probabilities = model.predict(images, batch_size=len(images))
    for result, row in zip(results, probabilities):
        result.probabilities = row
        result.predicted = int(np.argmax(row))
    for result, image in zip(results, images):
        result.mask, result.mask_problem = find_mask(root, result.path, options.masks_root,
                                                     image.shape[:2])
        result.suspect, result.suspect_problem = find_mask(
            root, result.path, options.masks_root, image.shape[:2], kind=SUSPECT)
    targets = [options.target if options.target is not None else result.predicted
               for result in results]
    for method in options.methods:
        if method in unavailable:
            continue
        attributions = explain_batch(model, images, method, targets, should_stop=stop,
                                     **options.method_options.get(method, {}))
        for result, attribution in zip(results, attributions):
            result.attributions[method] = attribution
            if options.maps_dir is not None:
                save_map(options.maps_dir, result.name, method, attribution)
    for result in results:
        result.rows = [_result_row(result, method, model, options, unavailable)
                       for method in options.methods]
