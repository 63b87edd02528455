"""The study's leak-injection experiment as a repeatable check (``leakview canary``).

From an honest ImageFolder tree ``DATA`` the canary

1. writes a *leaky copy* ``OUT/leaky-data``: every image with a class-specific marker painted
   on it (:mod:`leakview.synth` markers: corner-rect, stripe, watermark; the colour of class
   ``k`` is ``class_colors[k]``, ``k`` = the class's position in the sorted class folders), the
   marker masks under ``OUT/leaky-data/.leakview/markers`` and a copy of any expected-region
   masks of ``DATA/.leakview/masks``. Non-PNG images are written as PNG (``x.jpg`` ->
   ``x.jpg.png``: a lossy format would smear the marker's colour);
2. holds out a stratified split (:func:`leakview.train.split_indices`, the SAME images for both
   models) that no model ever sees, trains (or fine-tunes ``init``) one model on the honest
   training images and one on the leaky ones, with the same seed (same initial weights, batch
   order and augmentation: random shifts and brightness/contrast; horizontal flips only with
   ``flip=True``, since a flip moves a corner marker to the other corner), and writes both as
   bundles (``OUT/clean.pt``, ``OUT/leaky.pt``).
   With ``select_fraction > 0`` a part of the training images picks the best epoch; by
   default the last epoch is kept;
3. measures both models on the held-out images:

   * the **counterfactual test**: each held-out image with the marker (the leaky copy) and
     without it (the original), which differ only in the marker's pixels:
     ``accuracy_with_marker``, ``accuracy_without_marker`` and ``prediction_change_rate``
     (share of images whose predicted class changes when the marker is removed); and the
     **swap test**: the same image with the marker of another class (class ``k`` gets class
     ``k+1 mod C``'s marker, in the same place): ``swap_follow_rate`` = share of images
     predicted as that other class (see :class:`CanaryRule` for why both are needed);
   * for each attribution method, on the image WITH the marker and for the predicted class:
     ``marker_mass`` (mean ``mass_in_mask`` against the marker mask), ``marker_pointing_rate``
     (pointing game on the marker), ``marker_area_frac`` (the marker's share of the image: what
     a uniform map would put on it), ``marker_concentration`` (``marker_mass /
     marker_area_frac``), ``marker_box_mass`` (mass in the marker's bounding box: a sparse
     watermark's glyphs are thinner than the map's resolution), and, where ``DATA`` has
     expected-region masks, ``expected_mass`` and ``expected_pointing_rate``;
4. writes ``OUT/canary.csv`` (one row per model x method), ``OUT/canary-images.csv`` (one row
   per held-out image x model x method), ``OUT/canary.json`` (everything, with the config and
   the verdict) and ``OUT/report.html`` (static and self-contained: figures embedded as base64
   PNG, no external resources), plus the figures as ``OUT/figures/<model>/<image>.png``.

**Verdict** (:class:`CanaryRule`, documented there): first whether the planted leak *took*
(the leaky model changes at least ``leak_took_min_change`` of its predictions when the marker
is removed) and whether the clean model ignores the marker (at most ``clean_max_change``);
then per method whether it *found* the leak, by how much more mass it puts on the marker for
the leaky model than for the clean one (``mass_ratio``) and than a uniform map would
(``leaky_concentration``).

**Interruption.** The reports are rewritten atomically after every phase with ``"status":
"partial"`` (``"complete"`` at the end). Ctrl-C (``KeyboardInterrupt``) or ``should_stop()``
(raising :class:`leakview.attribution.Cancelled`, checked between phases, training batches and
images, and inside LIME) leaves a valid partial report and re-raises. Headless: never imports Qt.
"""

from __future__ import annotations

import base64
import colorsys
import html
import io
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from PIL import Image

from leakview import __version__
from leakview.atomic import atomic_write_bytes, atomic_write_text
from leakview.attribution import Cancelled, explain_batch, method_names, resolve_options
from leakview.csvio import render_csv
from leakview.images import ImageLoadError, discover_images, load_image, relative_name
from leakview.masks import (LEAKVIEW_DIR, MARKERS_SUBDIR, MaskError, default_masks_root,
                            find_mask, mask_path, read_mask, write_mask)
from leakview.metrics import overlap_metrics
from leakview.models import LoadedModel, load_model, resize_uint8
from leakview.pngio import png_bytes
from leakview.synth import DEFAULT_CLASS_COLORS, MARKERS, Marker, get_marker

CANARY_FORMAT = "leakview-canary/1"
LEAKY_DATA_FORMAT = "leakview-canary-data/1"
LEAKY_DIR = "leaky-data"
MODELS = ("clean", "leaky")
PHASES = ("prepare", "train-clean", "train-leaky", "evaluate-clean", "evaluate-leaky",
          "figures")

#: canary.csv, in this order: one row per model x method.
CSV_COLUMNS: tuple[str, ...] = (
    "model", "method", "images", "accuracy_with_marker", "accuracy_without_marker",
    "prediction_change_rate", "marker_mass", "expected_mass", "marker_pointing_rate",
    "marker_area_frac", "marker_concentration", "marker_box_mass", "expected_pointing_rate",
    "swap_follow_rate", "expected_images", "errors",
)
#: canary-images.csv: one row per held-out image x model x method.
IMAGE_COLUMNS: tuple[str, ...] = (
    "image", "label", "model", "method", "predicted_with_marker", "predicted_without_marker",
    "confidence_with_marker", "changed", "swap_class", "predicted_with_swapped_marker",
    "marker_mass", "marker_pointing_hit",
    "marker_area_frac", "marker_box_mass", "expected_mass", "expected_pointing_hit", "error",
)

ProgressFn = Callable[[str, int, int, str], None]


class CanaryConfigError(ValueError):
    """Bad settings, found before anything is written."""

StopFn = Callable[[], bool]


@dataclass(frozen=True)
class CanaryRule:
    """When the planted leak counts as taken, and a method as having found it.

    * The leak **took** when the leaky model's ``prediction_change_rate`` is at least
      ``leak_took_min_change`` (it changes its mind on that share of held-out images when
      nothing but the marker is removed) OR its ``swap_follow_rate`` is at least
      ``leak_took_min_follow`` (it predicts the class of ANOTHER class's marker painted in the
      same place). Both are reported; the swap test is needed because the change rate has a
      ceiling: a model that reads only the marker falls back on one class when the marker is
      gone, and the images of that class do not change (with C balanced classes the change
      rate of a perfect shortcut model is about 1 - 1/C: 75% for the four demo classes). If
      the leak did not take, no method can be blamed for not finding it: the outcome is
      ``leak did not take``.
    * The clean model **ignores the marker** when its change rate is at most
      ``clean_max_change`` and its swap-follow rate at most ``clean_max_follow``.
    * A method **found** the leak when, on the held-out images with the marker,
      ``mass_ratio`` = leaky ``marker_mass`` / clean ``marker_mass`` >= ``found_min_ratio`` AND
      ``leaky_concentration`` = leaky ``marker_mass`` / ``marker_area_frac`` >=
      ``found_min_concentration`` (the leaky model's map is denser on the marker than a
      uniform map would be, and denser than the clean model's). It found it **clearly** when
      additionally ``mass_ratio >= clear_min_ratio`` and the leaky model's
      ``marker_pointing_rate >= clear_min_pointing`` (the single hottest pixel is on the
      marker for most images). A clean ``marker_mass`` of 0 counts as an infinite ratio.
    """

    leak_took_min_change: float = 0.8
    leak_took_min_follow: float = 0.8
    clean_max_change: float = 0.1
    clean_max_follow: float = 0.1
    found_min_ratio: float = 2.0
    found_min_concentration: float = 3.0
    clear_min_ratio: float = 4.0
    clear_min_pointing: float = 0.5

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class CanaryConfig:
    """Everything a canary run needs. ``arch`` may be None with ``init`` (its arch is used);
    ``input_size`` None means ``init``'s input size or 128 x 128. ``marker_params`` go to
    :func:`leakview.synth.get_marker` (``corner``, ``edge``, ``size``, ``class_colors``,
    ``aspect``, ``margin``, ``jitter``, ``texts``); without ``class_colors`` the default
    colours are used (a generated palette beyond six classes), without ``texts`` a watermark
    writes the class name's initial and position (``C1``, ``E2``, ...). ``method_options``
    maps a method to its options (e.g. ``{"lime": {"samples": 500}}``)."""

    data: Path
    out: Path
    arch: str | None = None
    init: Path | None = None
    marker: str = "corner-rect"
    marker_params: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = ("saliency", "lime")
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    epochs: int = 10
    input_size: tuple[int, int] | None = None
    seed: int = 0
    device: str | None = None
    holdout: float = 0.2
    select_fraction: float = 0.0
    batch_size: int = 16
    learning_rate: float = 5e-3
    flip: bool = False
    figures_per_class: int = 2
    eval_batch_size: int = 16
    force: bool = False
    rule: CanaryRule = field(default_factory=CanaryRule)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for canary.json)."""
        return {
            "data": str(self.data), "out": str(self.out), "arch": self.arch,
            "init": str(self.init) if self.init else None, "marker": self.marker,
            "marker_params": _plain(self.marker_params), "methods": list(self.methods),
            "method_options": _plain(self.method_options), "epochs": self.epochs,
            "input_size": list(self.input_size) if self.input_size else None,
            "seed": self.seed, "device": self.device, "holdout": self.holdout,
            "select_fraction": self.select_fraction, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "flip": self.flip,
            "figures_per_class": self.figures_per_class,
            "eval_batch_size": self.eval_batch_size, "rule": self.rule.as_dict(),
        }


@dataclass
class CanaryResult:
    """What a complete run produced (an interrupted run raises instead and leaves its partial
    reports on disk, see :func:`run_canary`)."""

    status: str
    out: Path
    rows: list[dict[str, Any]]
    verdict: dict[str, Any] | None
    report: dict[str, Any]
    csv_path: Path
    json_path: Path
    html_path: Path
    model_paths: dict[str, Path]


# ------------------------------------------------------------------------------ small helpers

def _plain(value: Any) -> Any:
    """JSON-able copy (tuples -> lists, numpy scalars -> Python, paths -> str)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mean(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(finite)) if finite else math.nan


def palette(count: int) -> list[tuple[int, int, int]]:
    """``count`` distinct marker colours: synth's defaults, then evenly spaced saturated hues."""
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


def build_marker(name: str, params: Mapping[str, Any], classes: Sequence[str]) -> Marker:
    """The synth marker for ``classes`` (colours/texts indexed by class position)."""
    if name not in MARKERS:
        raise ValueError(f"unknown marker {name!r}; available: {', '.join(sorted(MARKERS))}")
    params = dict(params)
    if params.get("class_colors") is None:
        params["class_colors"] = palette(len(classes))
    if name == "watermark" and params.get("texts") is None:
        params["texts"] = [f"{(cls[:1] or 'K').upper()}{index + 1}"
                           for index, cls in enumerate(classes)]
    marker = get_marker(name, **params)
    if len(marker.class_colors) < len(classes):
        raise ValueError(f"{len(marker.class_colors)} marker colours for {len(classes)} "
                         f"classes; give one colour per class")
    colours = [tuple(c) for c in marker.class_colors[:len(classes)]]
    if len(set(colours)) < len(colours):
        raise ValueError("marker colours must differ between classes")
    return marker


def leaky_name(relative: str) -> str:
    """Name of an image in the leaky copy: PNG keeps its name, anything else gets ``.png``
    appended (so no two source files collide and the marker's colour stays exact)."""
    return relative if relative.lower().endswith(".png") else relative + ".png"


def _compact_png(pixels: np.ndarray) -> bytes:
    """A smaller PNG for embedding in the HTML report: 256 adaptive colours, no dithering
    (about half the size; the full-colour figure is written beside it)."""
    image = Image.fromarray(pixels).quantize(256, method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _bbox_mask(mask: np.ndarray) -> np.ndarray:
    box = np.zeros_like(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size:
        box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    return box


class _Data:
    """Honest and leaky images at the model input size, in the same order."""

    def __init__(self, root: Path, leaky_root: Path, classes: list[str]) -> None:
        self.root, self.leaky_root, self.classes = root, leaky_root, classes
        self.names: list[str] = []          # relative to DATA
        self.leaky_names: list[str] = []    # relative to leaky-data
        self.labels: list[int] = []
        self.numbers: list[int] = []        # index within the class (seeds the marker)
        self.honest: list[np.ndarray] = []
        self.leaky: list[np.ndarray] = []
        self.skipped: list[str] = []
        self.expected_masks = 0

    def folder(self, which: str, indices: np.ndarray):
        from leakview.train import ImageFolderData

        images = self.honest if which == "clean" else self.leaky
        names = self.names if which == "clean" else self.leaky_names
        return ImageFolderData(
            root=self.root if which == "clean" else self.leaky_root, classes=list(self.classes),
            images=np.stack([images[i] for i in indices]),
            labels=np.asarray([self.labels[i] for i in indices], dtype=np.int64),
            paths=[names[i] for i in indices])


# ------------------------------------------------------------------------------------- run

class _Run:
    """State of one canary run; :meth:`write_reports` can be called at any point."""

    def __init__(self, config: CanaryConfig, progress: ProgressFn | None,
                 should_stop: StopFn | None) -> None:
        self.config = config
        self.progress = progress
        self.should_stop = should_stop
        self.out = Path(config.out)
        self.leaky_root = self.out / LEAKY_DIR
        self.status = "partial"
        self.stopped: str | None = None
        self.error: str | None = None
        self.phase: str | None = None
        self.phases_done: list[str] = []
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()
        self.data_info: dict[str, Any] = {}
        self.marker_info: dict[str, Any] = {}
        self.models_info: dict[str, dict[str, Any]] = {}
        self.model_paths: dict[str, Path] = {}
        self.rows: list[dict[str, Any]] = []
        self.image_rows: list[dict[str, Any]] = []
        self.per_class: list[dict[str, Any]] = []
        self.verdict: dict[str, Any] | None = None
        self.figures: list[dict[str, Any]] = []  # {"model", "image", "path", "png"}
        self.figure_items: dict[str, dict[str, Any]] = {}
        self.arch = config.arch
        self.input_size: tuple[int, int] | None = config.input_size
        self.marker: Marker | None = None

    # -- plumbing -----------------------------------------------------------------------
    def check(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Cancelled("canary cancelled")

    def report(self, done: int, total: int, text: str = "") -> None:
        if self.progress is not None:
            self.progress(self.phase or "", int(done), int(total), text)

    def begin(self, phase: str) -> float:
        self.check()
        self.phase = phase
        return time.monotonic()

    def end(self, phase: str, started: float) -> None:
        self.timings[phase] = round(time.monotonic() - started, 3)
        self.phases_done.append(phase)
        self.write_reports()

    # -- phase 0: checks ----------------------------------------------------------------
    def validate(self) -> None:
        try:
            self._validate()
        except CanaryConfigError:
            raise
        except ValueError as error:
            raise CanaryConfigError(str(error)) from None

    def _validate(self) -> None:
        config = self.config
        data = Path(config.data)
        if not data.is_dir():
            raise ValueError(f"{data}: no such folder")
        if config.arch is None and config.init is None:
            raise ValueError("give an architecture (arch) or a model to fine-tune (init)")
        if config.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if not 0 < config.holdout < 1:
            raise ValueError("holdout must be a fraction in (0, 1)")
        if not 0 <= config.select_fraction < 1:
            raise ValueError("select_fraction must be in [0, 1)")
        if config.batch_size < 2 or config.eval_batch_size < 1:
            raise ValueError("batch size must be at least 2 (evaluation batch size 1)")
        if config.figures_per_class < 0:
            raise ValueError("figures_per_class must be 0 or more")
        methods = list(config.methods)
        if not methods:
            raise ValueError("give at least one attribution method")
        unknown = [m for m in methods if m not in method_names()]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(method_names())}")
        for method, options in config.method_options.items():
            if method not in methods:
                raise ValueError(f"options given for method {method!r}, which is not run")
            resolve_options(method, options)
        if config.marker not in MARKERS:
            raise ValueError(f"unknown marker {config.marker!r}; available: "
                             f"{', '.join(sorted(MARKERS))}")
        from leakview.models import choose_device
        from leakview.train import find_classes

        choose_device(config.device)  # ValueError for an unknown or missing device
        build_marker(config.marker, config.marker_params, find_classes(data))
        out = Path(config.out).resolve()
        root = data.resolve()
        if out == root or root in out.parents:
            raise ValueError(f"the output folder {config.out} must not be inside the data "
                             f"folder {config.data} (it would become a class folder)")
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"{self.out} exists and is not a folder")
        if self.out.is_dir() and any(self.out.iterdir()):
            if not (self.out / "canary.json").is_file():
                raise ValueError(f"{self.out} is not empty and holds no earlier canary run; "
                                 f"choose a new folder")
            if not config.force:
                raise ValueError(f"{self.out} holds an earlier canary run; pass force "
                                 f"(--force) to replace it")
        if config.init is not None:
            start = load_model(config.init, device="cpu")  # raises ModelLoadError
            self.arch = start.arch
            if self.input_size is None:
                self.input_size = tuple(start.input_size)
        if self.input_size is None:
            self.input_size = (128, 128)
        self.input_size = tuple(int(v) for v in self.input_size)
        if len(self.input_size) != 2 or min(self.input_size) < 8:
            raise ValueError("input size must be two numbers >= 8 (H W)")
        if config.init is None:
            from leakview.models import classification_architectures

            if self.arch not in classification_architectures():
                raise ValueError(f"unknown architecture {self.arch!r}: expected a torchvision "
                                 f"classification model such as resnet18 or "
                                 f"shufflenet_v2_x1_0")

    # -- phase 1: the leaky copy --------------------------------------------------------
    def prepare(self) -> _Data:
        from leakview.train import find_classes

        started = self.begin("prepare")
        config = self.config
        root = Path(config.data)
        classes = find_classes(root)
        marker = build_marker(config.marker, config.marker_params, classes)
        self.marker = marker
        self.marker_info = {
            "name": marker.name, "params": _plain(marker.params()),
            "colors": {cls: list(marker.color(i)) for i, cls in enumerate(classes)},
            "texts": ({cls: marker.text(i) for i, cls in enumerate(classes)}
                      if hasattr(marker, "text") else None),
        }
        # An earlier run's files (validate() checked that OUT holds a canary run and --force).
        if self.leaky_root.exists():
            shutil.rmtree(self.leaky_root)
        if (self.out / "figures").is_dir():
            shutil.rmtree(self.out / "figures")
        for which in MODELS:
            (self.out / f"{which}.pt").unlink(missing_ok=True)
        index = {name: position for position, name in enumerate(classes)}
        paths = [path for path in discover_images(root)
                 if "/" in relative_name(path, root)
                 and relative_name(path, root).split("/")[0] in index]
        data = _Data(root, self.leaky_root, classes)
        masks_root = default_masks_root(root)
        markers_root = default_masks_root(self.leaky_root, MARKERS_SUBDIR)
        counters = {position: 0 for position in range(len(classes))}
        records = []
        for done, path in enumerate(paths, start=1):
            self.check()
            name = relative_name(path, root)
            label = index[name.split("/")[0]]
            number = counters[label]
            counters[label] += 1
            try:
                image = load_image(path)
            except ImageLoadError as error:
                data.skipped.append(str(error))
                self.report(done, len(paths), "loading")
                continue
            marked = image.copy()
            rng = np.random.default_rng(np.random.SeedSequence(
                [int(config.seed), label, number]))
            region = marker.apply(marked, label, rng)
            new_name = leaky_name(name)
            atomic_write_bytes(self.leaky_root / new_name, png_bytes(marked))
            write_mask(mask_path(self.leaky_root, new_name, markers_root), region)
            source_mask = mask_path(root, name, masks_root)
            if source_mask.is_file():
                target = mask_path(self.leaky_root, new_name)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source_mask, target)
                data.expected_masks += 1
            data.names.append(name)
            data.leaky_names.append(new_name)
            data.labels.append(label)
            data.numbers.append(number)
            data.honest.append(resize_uint8(image, self.input_size))
            data.leaky.append(resize_uint8(marked, self.input_size))
            records.append({"image": new_name, "source": name, "label": classes[label]})
            self.report(done, len(paths), "writing the leaky copy")
        if len(data.labels) < 2 * len(classes):
            raise ValueError(f"{root}: need at least two readable images per class "
                             f"(found {len(data.labels)} for {len(classes)} classes)")
        counts = np.bincount(np.asarray(data.labels), minlength=len(classes))
        if counts.min() < 2:
            empty = [classes[i] for i in np.flatnonzero(counts < 2)]
            raise ValueError(f"{root}: class(es) {', '.join(empty)} have fewer than two "
                             f"readable images")
        description = {
            "format": LEAKY_DATA_FORMAT, "generator": "leakview.canary",
            "leakview_version": __version__, "source": str(root), "classes": classes,
            "marker": self.marker_info["params"], "marker_colors": self.marker_info["colors"],
            "seed": int(config.seed), "masks": ".leakview/masks" if data.expected_masks else None,
            "markers": ".leakview/markers", "images": records,
        }
        atomic_write_text(self.leaky_root / LEAKVIEW_DIR / "dataset.json",
                          json.dumps(description, indent=2) + "\n")
        self.data_info = {
            "root": str(root), "leaky_root": str(self.leaky_root), "classes": classes,
            "images": len(data.labels), "per_class": {c: int(n) for c, n in
                                                      zip(classes, counts)},
            "skipped": data.skipped, "expected_masks": data.expected_masks,
        }
        self.end("prepare", started)
        return data

    # -- phase 2: training --------------------------------------------------------------
    def split(self, data: _Data) -> tuple[np.ndarray, np.ndarray]:
        from leakview.train import split_indices

        labels = np.asarray(data.labels, dtype=np.int64)
        train_idx, held_idx = split_indices(labels, self.config.holdout, self.config.seed)
        self.data_info.update({
            "train_images": int(len(train_idx)), "held_out_images": int(len(held_idx)),
            "held_out": [data.names[i] for i in held_idx],
        })
        return train_idx, held_idx

    def train_model(self, which: str, data: _Data, train_idx: np.ndarray) -> LoadedModel:
        from leakview.train import train

        phase = f"train-{which}"
        started = self.begin(phase)
        config = self.config
        folder = data.folder(which, train_idx)
        path = self.out / f"{which}.pt"
        steps_per_epoch = max(1, math.ceil(
            (len(train_idx) - int(round(len(train_idx) * config.select_fraction)))
            / config.batch_size))
        total = steps_per_epoch * config.epochs

        def on_step(step) -> None:
            done = min(total, (step.epoch - 1) * steps_per_epoch + step.batch)
            text = f"epoch {step.epoch}/{step.epochs} loss {step.loss:.3f} acc {step.accuracy:.3f}"
            if step.val_accuracy is not None:
                text += f" val_acc {step.val_accuracy:.3f}"
            self.report(done, total, text)
            self.check()  # Cancelled propagates out of train(): no bundle is written

        result = train(folder, self.arch or "", self.input_size, epochs=config.epochs,
                       seed=config.seed, device=config.device,
                       val_split=config.select_fraction, batch_size=config.batch_size,
                       learning_rate=config.learning_rate, init=config.init, out=path,
                       progress=on_step, augmentation={"flip": bool(config.flip)},
                       extra={"canary": {"role": which, "marker": self.marker_info.get("params"),
                                         "held_out_images": int(len(data.labels)
                                                                - len(train_idx))}})
        self.arch = result.model.arch
        self.model_paths[which] = path
        self.models_info[which] = {
            "path": str(path), "arch": result.model.arch, "epochs": config.epochs,
            "best_epoch": result.best_epoch, "select_accuracy": result.best_val_accuracy,
            "train_images": int(len(train_idx)), "interrupted": result.interrupted,
            "final_train_accuracy": (result.history[-1]["accuracy"] if result.history
                                     else None),
            "history": result.history, "seconds": round(time.monotonic() - started, 3),
        }
        if result.interrupted:  # train() caught Ctrl-C and kept the best model so far
            self.timings[phase] = round(time.monotonic() - started, 3)
            raise KeyboardInterrupt
        self.end(phase, started)
        return result.model

    # -- phase 3: evaluation ------------------------------------------------------------
    def evaluate(self, which: str, model: LoadedModel, data: _Data, held_idx: np.ndarray
                 ) -> None:
        phase = f"evaluate-{which}"
        started = self.begin(phase)
        config = self.config
        model.module.eval()
        methods = list(config.methods)
        classes = data.classes
        figure_set = self._figure_indices(data, held_idx)
        total = len(held_idx) * len(methods)
        done = 0
        predicted_with: dict[int, int] = {}
        predicted_without: dict[int, int] = {}
        followed: dict[int, float] = {}
        per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for start in range(0, len(held_idx), config.eval_batch_size):
            self.check()
            chunk = [int(i) for i in held_idx[start:start + config.eval_batch_size]]
            items = [self._load_held_out(data, i) for i in chunk]
            ok = [item for item in items if item["error"] is None]
            if ok:
                with_probs = model.predict([item["marked"] for item in ok])
                without_probs = model.predict([item["original"] for item in ok])
                swap_probs = model.predict([item["swapped"] for item in ok])
                for item, p_with, p_without, p_swap in zip(ok, with_probs, without_probs,
                                                           swap_probs):
                    item["pred_with"] = int(np.argmax(p_with))
                    item["pred_without"] = int(np.argmax(p_without))
                    item["pred_swap"] = int(np.argmax(p_swap))
                    item["conf_with"] = float(p_with[item["pred_with"]])
                    predicted_with[item["index"]] = item["pred_with"]
                    predicted_without[item["index"]] = item["pred_without"]
                    followed[item["index"]] = float(item["pred_swap"] == item["swap"])
            for method in methods:
                attributions = self._attribute(model, method, ok)
                for item in items:
                    row = self._image_row(item, which, method, classes,
                                          attributions.get(item["index"]))
                    per_method[method].append(row)
                    self.image_rows.append(row)
                    if item["index"] in figure_set and item["index"] in attributions:
                        key = f"{which}:{item['index']}"
                        entry = self.figure_items.setdefault(key, {
                            "model": which, "index": item["index"], "name": item["name"],
                            "label": classes[item["label"]], "attributions": {},
                            "pred_with": classes[item["pred_with"]],
                            "pred_without": classes[item["pred_without"]]})
                        entry["attributions"][method] = attributions[item["index"]]
                    done += 1
                    self.report(done, total, f"{method}")
        labels = {int(i): data.labels[int(i)] for i in held_idx}
        judged = sorted(predicted_with)
        acc_with = _mean([float(predicted_with[i] == labels[i]) for i in judged])
        acc_without = _mean([float(predicted_without[i] == labels[i]) for i in judged])
        change = _mean([float(predicted_with[i] != predicted_without[i]) for i in judged])
        follow = _mean([followed[i] for i in judged])
        for method in methods:
            rows = per_method[method]
            good = [row for row in rows if not row["error"]]
            expected = [row for row in good if _finite(row["expected_mass"])]
            marker_mass = _mean([row["marker_mass"] for row in good])
            area = _mean([row["marker_area_frac"] for row in good])
            self.rows.append({
                "model": which, "method": method, "images": len(good),
                "accuracy_with_marker": acc_with, "accuracy_without_marker": acc_without,
                "prediction_change_rate": change, "marker_mass": marker_mass,
                "expected_mass": _mean([row["expected_mass"] for row in expected]),
                "marker_pointing_rate": _mean([row["marker_pointing_hit"] for row in good]),
                "marker_area_frac": area,
                "marker_concentration": (marker_mass / area if area and area > 0
                                         and math.isfinite(marker_mass) else math.nan),
                "marker_box_mass": _mean([row["marker_box_mass"] for row in good]),
                "expected_pointing_rate": _mean([row["expected_pointing_hit"]
                                                 for row in expected]),
                "swap_follow_rate": follow,
                "expected_images": len(expected),
                "errors": len(rows) - len(good),
            })
        for position, cls in enumerate(classes):
            members = [i for i in judged if labels[i] == position]
            self.per_class.append({
                "model": which, "class": cls, "images": len(members),
                "accuracy_with_marker": _mean([float(predicted_with[i] == position)
                                               for i in members]),
                "accuracy_without_marker": _mean([float(predicted_without[i] == position)
                                                  for i in members]),
                "prediction_change_rate": _mean([float(predicted_with[i] != predicted_without[i])
                                                 for i in members]),
                "swap_follow_rate": _mean([followed[i] for i in members]),
            })
        self.end(phase, started)

    def _figure_indices(self, data: _Data, held_idx: np.ndarray) -> set[int]:
        chosen: set[int] = set()
        per_class: dict[int, int] = {}
        for i in held_idx:
            label = data.labels[int(i)]
            if per_class.get(label, 0) < self.config.figures_per_class:
                per_class[label] = per_class.get(label, 0) + 1
                chosen.add(int(i))
        return chosen

    def _load_held_out(self, data: _Data, index: int) -> dict[str, Any]:
        item: dict[str, Any] = {"index": index, "name": data.names[index],
                                "leaky_name": data.leaky_names[index],
                                "label": data.labels[index], "error": None,
                                "expected": None, "expected_error": None}
        try:
            item["original"] = load_image(data.root / data.names[index])
            item["marked"] = load_image(self.leaky_root / data.leaky_names[index])
            shape = item["marked"].shape[:2]
            item["marker"] = read_mask(mask_path(self.leaky_root, data.leaky_names[index],
                                                 default_masks_root(self.leaky_root,
                                                                    MARKERS_SUBDIR)), shape)
        except (ImageLoadError, MaskError) as error:
            item["error"] = str(error)
            return item
        if item["original"].shape != item["marked"].shape:
            item["error"] = "the image changed since the leaky copy was written"
            return item
        # The swap test: the same image with ANOTHER class's marker (class k -> k+1 mod C),
        # drawn from the same marker stream, so it sits where the true marker would.
        item["swap"] = (item["label"] + 1) % len(data.classes)
        swapped = item["original"].copy()
        rng = np.random.default_rng(np.random.SeedSequence(
            [int(self.config.seed), item["label"], data.numbers[index]]))
        assert self.marker is not None
        self.marker.apply(swapped, item["swap"], rng)
        item["swapped"] = swapped
        item["expected"], problem = find_mask(data.root, data.names[index], shape=shape)
        if problem is not None:
            item["expected_error"] = f"expected-region mask: {problem.reason}"
        return item

    def _attribute(self, model: LoadedModel, method: str, items: list[dict[str, Any]]
                   ) -> dict[int, Any]:
        if not items:
            return {}
        attributions = explain_batch(model, [item["marked"] for item in items], method,
                                     [item["pred_with"] for item in items],
                                     should_stop=self.should_stop,
                                     **self.config.method_options.get(method, {}))
        return {item["index"]: attribution for item, attribution in zip(items, attributions)}

    def _image_row(self, item: dict[str, Any], which: str, method: str, classes: list[str],
                   attribution: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "image": item["name"], "label": classes[item["label"]], "model": which,
            "method": method, "predicted_with_marker": "", "predicted_without_marker": "",
            "confidence_with_marker": math.nan, "changed": None, "swap_class": "",
            "predicted_with_swapped_marker": "", "marker_mass": math.nan,
            "marker_pointing_hit": math.nan, "marker_area_frac": math.nan,
            "marker_box_mass": math.nan, "expected_mass": math.nan,
            "expected_pointing_hit": math.nan,
            "error": item["error"] or item.get("expected_error") or "",
        }
        if item["error"] is not None or attribution is None:
            row["error"] = row["error"] or "no attribution"
            return row
        row.update({
            "predicted_with_marker": classes[item["pred_with"]],
            "predicted_without_marker": classes[item["pred_without"]],
            "confidence_with_marker": item["conf_with"],
            "changed": int(item["pred_with"] != item["pred_without"]),
            "swap_class": classes[item["swap"]],
            "predicted_with_swapped_marker": classes[item["pred_swap"]],
        })
        marker = overlap_metrics(attribution.map, item["marker"])
        box = overlap_metrics(attribution.map, _bbox_mask(item["marker"]))
        row.update({"marker_mass": marker["mass_in_mask"],
                    "marker_pointing_hit": marker["pointing_hit"],
                    "marker_area_frac": marker["mask_area_frac"],
                    "marker_box_mass": box["mass_in_mask"]})
        if item["expected"] is not None:
            expected = overlap_metrics(attribution.map, item["expected"])
            row.update({"expected_mass": expected["mass_in_mask"],
                        "expected_pointing_hit": expected["pointing_hit"]})
        return row

    # -- phase 4: verdict and figures -------------------------------------------------
    def decide(self) -> None:
        self.verdict = judge(self.rows, self.config.rule)

    def make_figures(self) -> None:
        from leakview.report import study_figure

        started = self.begin("figures")
        items = sorted(self.figure_items.values(),
                       key=lambda entry: (entry["label"], entry["index"],
                                          MODELS.index(entry["model"])))
        for done, entry in enumerate(items, start=1):
            self.check()
            data_root = Path(self.config.data)
            name = entry["name"]
            try:
                image = load_image(self.leaky_root / leaky_name(name))
            except ImageLoadError:
                continue
            outline, _ = find_mask(data_root, name, shape=image.shape[:2])
            title = (f"{entry['model']} model | {name} | label {entry['label']} | predicted "
                     f"{entry['pred_with']} (without marker: {entry['pred_without']})")
            pixels = study_figure(image, entry["attributions"], outline, title)
            path = self.out / "figures" / entry["model"] / (name + ".png")
            atomic_write_bytes(path, png_bytes(pixels))
            self.figures.append({"model": entry["model"], "image": name,
                                 "label": entry["label"], "path": str(path),
                                 "png": _compact_png(pixels),
                                 "pred_with": entry["pred_with"],
                                 "pred_without": entry["pred_without"]})
            self.report(done, len(items), name)
        self.end("figures", started)

    # -- reports ------------------------------------------------------------------------
    def report_dict(self) -> dict[str, Any]:
        return _plain({
            "format": CANARY_FORMAT,
            "status": self.status,
            "stopped": self.stopped,
            "error": self.error,
            "phase": self.phase,
            "phases_done": list(self.phases_done),
            "timings": {**self.timings,
                        "total": round(time.monotonic() - self.started, 3)},
            "leakview_version": __version__,
            "config": {**self.config.as_dict(), "arch": self.arch,
                       "input_size": list(self.input_size) if self.input_size else None},
            "data": self.data_info,
            "marker": self.marker_info,
            "models": self.models_info,
            "results": self.rows,
            "per_class": self.per_class,
            "verdict": self.verdict,
            "figures": [{key: value for key, value in figure.items() if key != "png"}
                        for figure in self.figures],
            "files": {"csv": "canary.csv", "images_csv": "canary-images.csv",
                      "json": "canary.json", "html": "report.html",
                      "leaky_data": LEAKY_DIR,
                      "models": {k: Path(v).name for k, v in self.model_paths.items()}},
            "images": self.image_rows,
        })

    def write_reports(self) -> dict[str, Any]:
        """canary.csv, canary-images.csv, canary.json and report.html, each atomically."""
        report = self.report_dict()
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.out / "canary.csv",
                           render_csv(self.rows, CSV_COLUMNS).encode("utf-8"))
        atomic_write_bytes(self.out / "canary-images.csv",
                           render_csv(self.image_rows, IMAGE_COLUMNS).encode("utf-8"))
        atomic_write_text(self.out / "canary.json", json.dumps(report, indent=2,
                                                               allow_nan=False) + "\n")
        atomic_write_text(self.out / "report.html", render_html(report, self.figures))
        return report


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------- verdict

def judge(rows: Sequence[Mapping[str, Any]], rule: CanaryRule = CanaryRule()) -> dict[str, Any]:
    """The verdict from canary.csv rows (see :class:`CanaryRule`)."""
    by = {(row["model"], row["method"]): row for row in rows}
    methods = list(dict.fromkeys(row["method"] for row in rows))

    def model_value(model: str, key: str) -> float:
        for (name, _), row in by.items():
            if name == model:
                return float(row[key]) if _finite(row.get(key)) else math.nan
        return math.nan

    leaky_change = model_value("leaky", "prediction_change_rate")
    clean_change = model_value("clean", "prediction_change_rate")
    leaky_follow = model_value("leaky", "swap_follow_rate")
    clean_follow = model_value("clean", "swap_follow_rate")
    leak_took = bool((_finite(leaky_change) and leaky_change >= rule.leak_took_min_change)
                     or (_finite(leaky_follow) and leaky_follow >= rule.leak_took_min_follow))
    clean_blind = bool(_finite(clean_change) and clean_change <= rule.clean_max_change
                       and (not _finite(clean_follow) or clean_follow <= rule.clean_max_follow))
    per_method: dict[str, dict[str, Any]] = {}
    for method in methods:
        leaky, clean = by.get(("leaky", method)), by.get(("clean", method))
        if leaky is None or clean is None:
            continue
        leaky_mass = float(leaky["marker_mass"]) if _finite(leaky["marker_mass"]) else math.nan
        clean_mass = float(clean["marker_mass"]) if _finite(clean["marker_mass"]) else math.nan
        area = float(leaky["marker_area_frac"]) if _finite(leaky["marker_area_frac"]) else math.nan
        if _finite(leaky_mass) and _finite(clean_mass):
            ratio = leaky_mass / clean_mass if clean_mass > 0 else (
                math.inf if leaky_mass > 0 else math.nan)
        else:
            ratio = math.nan
        concentration = leaky_mass / area if _finite(area) and area > 0 else math.nan
        pointing = (float(leaky["marker_pointing_rate"])
                    if _finite(leaky["marker_pointing_rate"]) else math.nan)
        found = (not math.isnan(ratio) and ratio >= rule.found_min_ratio
                 and _finite(concentration) and concentration >= rule.found_min_concentration)
        clear = found and ratio >= rule.clear_min_ratio and _finite(pointing) and (
            pointing >= rule.clear_min_pointing)
        strength = "clearly" if clear else ("weakly" if found else "missed")
        per_method[method] = {
            "found": bool(found), "strength": strength,
            "leaky_marker_mass": leaky_mass, "clean_marker_mass": clean_mass,
            "mass_ratio": ratio if not math.isinf(ratio) else "inf",
            "marker_area_frac": area, "leaky_concentration": concentration,
            "clean_concentration": (clean_mass / area if _finite(area) and area > 0
                                    else math.nan),
            "leaky_pointing_rate": pointing,
            "clean_pointing_rate": (float(clean["marker_pointing_rate"])
                                    if _finite(clean["marker_pointing_rate"]) else math.nan),
            "leaky_expected_mass": leaky.get("expected_mass"),
            "clean_expected_mass": clean.get("expected_mass"),
        }
    found = [m for m, v in per_method.items() if v["found"]]
    if not leak_took:
        outcome = "leak did not take"
    elif per_method and len(found) == len(per_method):
        outcome = "found"
    elif found:
        outcome = "partly found"
    else:
        outcome = "missed"
    lines = []
    if _finite(leaky_change):
        follow = (f"; with another class's marker it predicts that class for "
                  f"{leaky_follow:.0%}" if _finite(leaky_follow) else "")
        lines.append(
            f"The planted leak {'took' if leak_took else 'did NOT take'}: removing the marker "
            f"changes {leaky_change:.0%} of the leaky model's held-out predictions{follow} "
            f"(needed: {rule.leak_took_min_change:.0%} either way).")
    if _finite(clean_change):
        follow = (f", another class's marker is followed for {clean_follow:.0%}"
                  if _finite(clean_follow) else "")
        lines.append(
            f"The clean model {'ignores' if clean_blind else 'does NOT ignore'} the marker: "
            f"removing it changes {clean_change:.0%} of its predictions{follow} "
            f"(allowed: {rule.clean_max_change:.0%}).")
    for method, value in per_method.items():
        ratio = value["mass_ratio"]
        ratio_text = "inf" if ratio == "inf" else (f"{ratio:.1f}x" if _finite(ratio) else "n/a")
        verb = {"clearly": "found the leak clearly", "weakly": "found the leak weakly",
                "missed": "missed the leak"}[value["strength"]]
        lines.append(
            f"{method} {verb}: {_pct(value['leaky_marker_mass'])} of its mass on the marker for "
            f"the leaky model vs {_pct(value['clean_marker_mass'])} for the clean one "
            f"({ratio_text}); the marker covers {_pct(value['marker_area_frac'], 2)} of the "
            f"image ({_num(value['leaky_concentration'])}x a uniform map); the hottest pixel "
            f"is on the marker in {_pct(value['leaky_pointing_rate'])} of the leaky model's "
            f"images.")
    if not leak_took and per_method:
        lines.append("The methods cannot be judged on a leak the model did not learn: try a "
                     "larger marker, more epochs or data with a weaker true cue.")
    return {"outcome": outcome, "leak_took": bool(leak_took),
            "clean_ignores_marker": bool(clean_blind),
            "leaky_change_rate": leaky_change, "clean_change_rate": clean_change,
            "leaky_swap_follow_rate": leaky_follow, "clean_swap_follow_rate": clean_follow,
            "methods": per_method, "found_by": found, "summary": lines,
            "rule": rule.as_dict()}


def _pct(value: Any, digits: int = 0) -> str:
    return f"{float(value):.{digits}%}" if _finite(value) else "n/a"


def _num(value: Any) -> str:
    return f"{float(value):.1f}" if _finite(value) else "n/a"


# ------------------------------------------------------------------------------------ HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1d1d1f;max-width:1200px}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.banner{padding:10px 14px;border-radius:6px;margin:10px 0}
.partial{background:#fff3cd;border:1px solid #e0c36c}
.found{background:#e3f4e3;border:1px solid #8cc68c}
.missed{background:#fbe3e3;border:1px solid #d99}
.neutral{background:#eef1f6;border:1px solid #b9c3d6}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #555;
vertical-align:middle;margin-right:4px}
figure{margin:10px 0}figcaption{font-size:0.88em;color:#444}
img{max-width:100%;image-rendering:auto}
code{background:#f5f5f5;padding:1px 4px}
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.3f}"
    if value is None:
        return ""
    return html.escape(str(value))


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
           left: Sequence[str] = ()) -> str:
    head = "".join(f"<th class=\"{'l' if c in left else ''}\">{html.escape(c)}</th>"
                   for c in columns)
    body = []
    for row in rows:
        cells = "".join(f"<td class=\"{'l' if c in left else ''}\">{_cell(row.get(c))}</td>"
                        for c in columns)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: Mapping[str, Any], figures: Sequence[Mapping[str, Any]] = ()) -> str:
    """The static, self-contained report (figures as base64 PNG ``data:`` URIs)."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>leakview canary report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>leakview canary: leak-injection check</h1>"]
    config = report.get("config", {})
    data = report.get("data", {})
    marker = report.get("marker", {})
    parts.append(
        f"<p>Data <code>{esc(str(config.get('data')))}</code>, model "
        f"<code>{esc(str(config.get('arch')))}</code> at "
        f"{esc(' x '.join(str(v) for v in (config.get('input_size') or [])))}, "
        f"{esc(str(config.get('epochs')))} epochs, seed {esc(str(config.get('seed')))}; marker "
        f"<code>{esc(str(marker.get('name', config.get('marker'))))}</code>; methods "
        f"{esc(', '.join(config.get('methods') or []))}.</p>")
    if report.get("status") != "complete":
        why = {"interrupted": "it was interrupted (Ctrl-C)", "cancelled": "it was cancelled",
               "error": f"it failed: {report.get('error')}"}.get(
            str(report.get("stopped")), "it is still running")
        done = ", ".join(report.get("phases_done") or []) or "none"
        parts.append(f"<div class=\"banner partial\"><b>Partial report</b>: {esc(why)}. "
                     f"Phases done: {esc(done)}.</div>")
    verdict = report.get("verdict")
    if verdict:
        kind = {"found": "found", "partly found": "neutral", "missed": "missed",
                "leak did not take": "neutral"}.get(verdict.get("outcome"), "neutral")
        lines = "".join(f"<li>{esc(line)}</li>" for line in verdict.get("summary", []))
        parts.append(f"<h2>Verdict</h2><div class=\"banner {kind}\"><b>Outcome: "
                     f"{esc(str(verdict.get('outcome')))}</b><ul>{lines}</ul></div>")
        method_rows = []
        for method, value in verdict.get("methods", {}).items():
            method_rows.append({"method": method, "verdict": value["strength"],
                                "leaky marker mass": value["leaky_marker_mass"],
                                "clean marker mass": value["clean_marker_mass"],
                                "ratio leaky/clean": value["mass_ratio"],
                                "marker area share": value["marker_area_frac"],
                                "leaky concentration": value["leaky_concentration"],
                                "leaky pointing rate": value["leaky_pointing_rate"],
                                "clean pointing rate": value["clean_pointing_rate"]})
        parts.append(_table(method_rows, ["method", "verdict", "leaky marker mass",
                                          "clean marker mass", "ratio leaky/clean",
                                          "marker area share", "leaky concentration",
                                          "leaky pointing rate", "clean pointing rate"],
                            left=("method", "verdict")))
    if report.get("results"):
        parts.append("<h2>Measurements on the held-out images (canary.csv)</h2>")
        parts.append(f"<p>{esc(str(data.get('held_out_images', '?')))} held-out images that "
                     f"neither model saw in training, each with the marker and without it. "
                     f"Attribution on the image with the marker, for the predicted class.</p>")
        parts.append(_table(report["results"], CSV_COLUMNS, left=("model", "method")))
    if report.get("per_class"):
        parts.append("<h2>Per class: the counterfactual test</h2>")
        parts.append(_table(report["per_class"], ["model", "class", "images",
                                                  "accuracy_with_marker",
                                                  "accuracy_without_marker",
                                                  "prediction_change_rate",
                                                  "swap_follow_rate"],
                            left=("model", "class")))
    if marker.get("colors"):
        swatches = "".join(
            f"<li><span class=\"swatch\" style=\"background:rgb("
            f"{','.join(str(int(v)) for v in rgb)})\">"
            f"</span>{esc(cls)}: rgb{esc(str(tuple(rgb)))}"
            + (f", text {esc(str(marker['texts'][cls]))}" if marker.get("texts") else "")
            + "</li>" for cls, rgb in marker["colors"].items())
        params = {k: v for k, v in (marker.get("params") or {}).items() if k != "class_colors"}
        parts.append(f"<h2>The planted marker</h2><p><code>{esc(json.dumps(params))}</code></p>"
                     f"<ul>{swatches}</ul>")
    if figures:
        parts.append("<h2>Figures: original | saliency | LIME (held-out images with the "
                     "marker)</h2><p>Cyan outline: the expected region, where masks exist.</p>")
        for figure in figures:
            encoded = base64.b64encode(figure["png"]).decode("ascii")
            caption = (f"{figure['model']} model - {figure['image']} (label {figure['label']}, "
                       f"predicted {figure['pred_with']}, without marker "
                       f"{figure['pred_without']})")
            parts.append(f"<figure><img alt=\"{esc(caption)}\" "
                         f"src=\"data:image/png;base64,{encoded}\"><figcaption>{esc(caption)}"
                         f"</figcaption></figure>")
    models = report.get("models") or {}
    if models:
        rows = [{"model": name, "arch": info.get("arch"), "epochs": info.get("epochs"),
                 "kept epoch": info.get("best_epoch"), "train images": info.get("train_images"),
                 "final train accuracy": info.get("final_train_accuracy"),
                 "seconds": info.get("seconds"), "bundle": Path(str(info.get("path"))).name}
                for name, info in models.items()]
        parts.append("<h2>Models</h2>" + _table(rows, ["model", "arch", "epochs", "kept epoch",
                                                       "train images", "final train accuracy",
                                                       "seconds", "bundle"],
                                                left=("model", "arch", "bundle")))
    timings = report.get("timings") or {}
    if timings:
        parts.append("<h2>Timings (seconds)</h2>" + _table(
            [{"phase": k, "seconds": float(v)} for k, v in timings.items()],
            ["phase", "seconds"], left=("phase",)))
    parts.append(
        "<h2>How to read this</h2><ul>"
        "<li><b>prediction_change_rate</b>: share of held-out images whose predicted class "
        "changes when only the marker is removed (the counterfactual test). "
        "<b>swap_follow_rate</b>: share of held-out images for which the model predicts the "
        "class of another class's marker painted in the same place (class k gets class "
        "k+1's marker). A model that reads only the marker falls back on one class without "
        "it, so its change rate stays near 1 - 1/C; the swap test has no such ceiling.</li>"
        "<li><b>marker_mass</b>: share of the positive attribution on the marker's pixels "
        "(relevance mass accuracy); <b>marker_area_frac</b>: the marker's share of the image, "
        "what a uniform map would give; <b>marker_concentration</b> = their ratio.</li>"
        "<li><b>marker_pointing_rate</b>: share of images whose most-attributed pixel lies on "
        "the marker (pointing game). <b>expected_mass</b>: share on the expected region "
        "(DATA/.leakview/masks), where masks exist.</li>"
        "<li>A method <b>found</b> the leak when the leaky model's marker mass is at least "
        f"{esc(str(config.get('rule', {}).get('found_min_ratio')))}x the clean model's and "
        f"{esc(str(config.get('rule', {}).get('found_min_concentration')))}x the marker's area "
        "share; <b>clearly</b> when the ratio is at least "
        f"{esc(str(config.get('rule', {}).get('clear_min_ratio')))} and the hottest pixel is "
        "on the marker for at least "
        f"{esc(str(config.get('rule', {}).get('clear_min_pointing')))} of the images.</li></ul>")
    parts.append(f"<p style=\"color:#777;font-size:0.85em\">status {esc(str(report.get('status')))}"
                 f" - leakview {esc(str(report.get('leakview_version')))}</p></body></html>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------ entry point

def run_canary(config: CanaryConfig, progress: ProgressFn | None = None,
               should_stop: StopFn | None = None) -> CanaryResult:
    """Run the canary of ``config`` (see the module docstring); returns a complete result.

    ``progress(phase, done, total, text)`` is called within every phase (phases:
    :data:`PHASES`). ``should_stop()`` is checked between phases, training batches, images
    and inside LIME; when it turns true :class:`leakview.attribution.Cancelled` is raised.
    On Ctrl-C (``KeyboardInterrupt``), cancellation or an error after the checks, the reports
    are written with ``"status": "partial"`` (and ``"stopped"``: ``interrupted``,
    ``cancelled`` or ``error``) before the exception propagates. Bad settings raise
    ValueError (or :class:`leakview.models.ModelLoadError`) before anything is written.
    """
    run = _Run(config, progress, should_stop)
    run.validate()
    try:
        run.write_reports()
        data = run.prepare()
        train_idx, held_idx = run.split(data)
        models = {}
        for which in MODELS:
            models[which] = run.train_model(which, data, train_idx)
        for which in MODELS:
            run.evaluate(which, models[which], data, held_idx)
        run.decide()
        run.write_reports()
        run.make_figures()
        run.status = "complete"
        run.phase = None
        report = run.write_reports()
    except KeyboardInterrupt:
        run.stopped = "interrupted"
        _safe_write(run)
        raise
    except Cancelled:
        run.stopped = "cancelled"
        _safe_write(run)
        raise
    except Exception as error:
        run.stopped = "error"
        run.error = f"{type(error).__name__}: {error}"
        _safe_write(run)
        raise
    return CanaryResult(status=run.status, out=run.out, rows=run.rows, verdict=run.verdict,
                        report=report, csv_path=run.out / "canary.csv",
                        json_path=run.out / "canary.json", html_path=run.out / "report.html",
                        model_paths=dict(run.model_paths))


def _safe_write(run: _Run) -> None:
    """Write the partial reports; a second failure must not hide the first one."""
    try:
        if run.verdict is None and run.rows:
            run.decide()
        run.write_reports()
    except Exception:  # noqa: BLE001 - the original exception is what the caller needs
        pass


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """canary.json of an earlier run (``OUT`` or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "canary.json"
    return json.loads(path.read_text(encoding="utf-8"))
