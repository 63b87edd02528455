"""Summaries and figures of scan results: per-class/per-method tables and the study's triptych
(original | saliency overlay | LIME top superpixels), with the mask outline when there is one."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leakview.csvio import parse_number
from leakview.masks import mask_boundary
from leakview.pngio import write_png
from leakview.resources import model_identity
from leakview.verdict import VerdictRule, VerdictTally

MASK_OUTLINE_COLOR = (0, 255, 255)


#: Folders named before "and N more" in :func:`labels_text`.
SHOWN_FOLDERS = 5
#: How :func:`labels_text` names an image directly in the root (it has no class folder).
TOP_LEVEL = "(top level)"


class LabelTally:
    """Which images have a true label (an ImageFolder class folder the model knows, see
    :func:`leakview.layout.true_label`), the folders that matched no class, and the accuracy
    over the labelled images only. Counts one row per image: the rows of the first method
    seen (every image has a row for every scanned method)."""

    def __init__(self) -> None:
        self._method: str | None = None
        self.images = 0
        self.labelled = 0
        self.predicted = 0  #: labelled images with a prediction (no error)
        self.correct = 0
        self.unmatched: dict[str, int] = {}  #: folder (relative, "/"-separated) -> images

    def add(self, row: Mapping[str, Any]) -> None:
        method = str(row.get("method", ""))
        if self._method is None:
            self._method = method
        if method != self._method:
            return
        self.images += 1
        label = row.get("label")
        if not label:
            folder = str(row.get("image", "")).rpartition("/")[0] or TOP_LEVEL
            self.unmatched[folder] = self.unmatched.get(folder, 0) + 1
            return
        self.labelled += 1
        if row.get("predicted") and not row.get("error"):
            self.predicted += 1
            self.correct += row.get("predicted") == label

    def result(self) -> dict[str, Any]:
        """``images``, ``labelled``, ``unlabelled``, ``unmatched_folders`` (folder -> images,
        sorted by name), ``accuracy`` (correct / labelled images with a prediction; None
        without any)."""
        return {"images": self.images, "labelled": self.labelled,
                "unlabelled": self.images - self.labelled,
                "unmatched_folders": dict(sorted(self.unmatched.items())),
                "accuracy": self.correct / self.predicted if self.predicted else None}


def labels_text(labels: Mapping[str, Any]) -> str:
    """One line on the true labels of a summary's ``labels``: the accuracy and what it rests
    on, and the folders that matched no class of the model (a few named, with their image
    counts), so an accuracy over the labelled images is never read as the folder's."""
    images, labelled = labels["images"], labels["labelled"]
    accuracy = ("n/a" if labels["accuracy"] is None else f"{labels['accuracy']:.1%}")
    text = f"labels: accuracy {accuracy} over {labelled} of {images} images with a true label"
    folders = labels["unmatched_folders"]
    if folders:
        named = ", ".join(f"{name} ({count})" for name, count in
                          list(folders.items())[:SHOWN_FOLDERS])
        more = len(folders) - SHOWN_FOLDERS
        count = len(folders)
        text += (f"; {labels['unlabelled']} have none: {count} folder"
                 f"{'s match' if count != 1 else ' matches'} no class of the model: {named}"
                 + (f" and {more} more" if more > 0 else ""))
    return text


class SummaryTally:
    """:func:`summarize` one row at a time, in memory that does not grow with the rows (counts
    and sums per class and method): ``leakview scan`` keeps its summary this way."""

    def __init__(self) -> None:
        self.verdict = VerdictTally()
        self.labels = LabelTally()
        self._groups: dict[tuple[str, str], list[float]] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        self.verdict.add(row)
        self.labels.add(row)
        # images, errors, mass sum, masses, flag sum, flags, labelled, correct
        group = self._groups.setdefault((row.get("label") or "(unlabelled)", str(row["method"])),
                                        [0, 0, 0.0, 0, 0.0, 0, 0, 0])
        group[0] += 1
        group[1] += bool(row.get("error"))
        mass = parse_number(row.get("mass_in_mask"))
        if mass is not None:
            group[2] += mass
            group[3] += 1
        flag = parse_number(row.get("leak_flag"))
        if flag is not None:
            group[4] += flag
            group[5] += 1
        if row.get("label") and not row.get("error"):
            group[6] += 1
            group[7] += row.get("predicted") == row.get("label")

    def add_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def result(self, rule: VerdictRule = VerdictRule()) -> dict[str, Any]:
        per_class = []
        for (label, method), group in sorted(self._groups.items()):
            images, errors, mass, masses, flag, flags, labelled, correct = group
            per_class.append({
                "label": label, "method": method, "images": images, "errors": errors,
                "mean_mass_in_mask": mass / masses if masses else None,
                "judged": flags,
                "flag_rate": flag / flags if flags else None,
                "accuracy": correct / labelled if labelled else None,
            })
        return {**self.verdict.result(rule), "per_class": per_class,
                "labels": self.labels.result()}


def summarize(rows: Iterable[Mapping[str, Any]], rule: VerdictRule = VerdictRule()
              ) -> dict[str, Any]:
    """Folder summary: the verdict (see :mod:`leakview.verdict`), and per class (true label,
    else ``(unlabelled)``) and method: image count, errors, judged images (a defined flag),
    mean mass_in_mask, flag rate, accuracy where labels are known; and ``labels``
    (:class:`LabelTally`: the images with a true label, the folders that matched no class and
    the accuracy over the labelled images)."""
    tally = SummaryTally()
    tally.add_all(rows)
    return tally.result(rule)


def summary_document(summary: Mapping[str, Any], model: str, folder: str,
                     methods: Sequence[str], shard: tuple[int, int] | None = None,
                     files: Mapping[str, Any] | None = None) -> str:
    """The summary JSON of ``leakview scan --summary`` (and the app's "Export summary"): the
    folder summary (the verdict with its coverage: ``judged``, ``images``, ``needed``,
    ``coverage``, ``coverage_ok``, folder-wide and per method, see :mod:`leakview.verdict`)
    plus where it came from: ``model`` is ``{"name", "source"}``
    (:func:`leakview.resources.model_identity` of the model file ``model``) and, given
    ``files`` (``FolderListing.accounting``), what the folder holds besides images."""
    document = {**summary, "model": model_identity(model), "folder": folder,
                "scanned_methods": list(methods), "shard": shard}
    if files is not None:
        document["files"] = dict(files)
    return json.dumps(document, indent=2, default=str) + "\n"


def figure_title(name: str, label: str | None, classes: Sequence[str],
                 probabilities: np.ndarray | None) -> str:
    """A figure's title: the image name, and with a prediction its true label (``-`` when
    unknown) and the predicted class with its probability."""
    if probabilities is None:
        return name
    best = int(np.argmax(probabilities))
    return (f"{name}  label: {label or '-'}  predicted: {classes[best]} "
            f"({float(probabilities[best]):.0%})")


def format_summary(summary: Mapping[str, Any]) -> str:
    """The per-class table as aligned plain text (for terminals and reports)."""
    header = ("class", "method", "images", "errors", "judged", "mass_in_mask", "flag_rate",
              "accuracy")
    lines = [header]
    for entry in summary["per_class"]:
        lines.append((entry["label"], entry["method"], str(entry["images"]), str(entry["errors"]),
                      str(entry["judged"]), _fmt(entry["mean_mass_in_mask"]),
                      _fmt(entry["flag_rate"]), _fmt(entry["accuracy"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def colormap(values: np.ndarray, name: str = "inferno") -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with a matplotlib colormap (no pyplot, no GUI)."""
    from matplotlib import colormaps

    table = (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    coloured: np.ndarray = table[np.clip(np.nan_to_num(values) * 255, 0, 255).astype(np.uint8)]
    return coloured


SIGN_MODES = ("positive", "negative", "both")
"""How a signed map is displayed: its positive part, its negative part as magnitudes, or both
signs on a scale centred on zero. An unsigned map is always shown as it is ("positive")."""
DISPLAY_PERCENTILE = 99.5
"""The top of the display scale: this percentile of the shown values (robust to hot pixels)."""


@dataclass(frozen=True)
class MapDisplay:
    """What a layer shows of a map: ``values`` (H x W float32) and the ``levels`` that span the
    colour scale -- ``(0, top)`` for "positive" and "negative" (negative evidence as
    magnitudes), ``(-m, m)`` for "both", so zero is the centre of a diverging colormap."""

    values: np.ndarray
    levels: tuple[float, float]
    sign: str

    @property
    def top(self) -> float:
        """The value at the top of the scale (``m`` of ``-m..m`` for "both")."""
        return self.levels[1]

    def normalised(self) -> np.ndarray:
        """The values scaled by :attr:`top` and clipped: [0, 1], or [-1, 1] for "both"."""
        low = -1.0 if self.sign == "both" else 0.0
        scaled: np.ndarray = np.clip(self.values / self.top, low, 1.0).astype(np.float32)
        return scaled


def _robust_top(values: np.ndarray) -> float:
    """The :data:`DISPLAY_PERCENTILE` of non-negative ``values`` (their maximum when that is 0;
    1.0 for an all-zero map, so the levels never collapse)."""
    if not values.size:
        return 1.0
    top = float(np.percentile(values, DISPLAY_PERCENTILE))
    if top <= 0:
        top = float(values.max())
    return top if top > 0 else 1.0


def display_map(attribution_map: np.ndarray, sign: str = "positive", signed: bool = True
                ) -> MapDisplay:
    """A map as a layer displays it: ``sign`` "positive" (``max(a, 0)``), "negative"
    (``max(-a, 0)``, negative evidence as magnitudes) or "both" (``a`` itself, levels
    symmetric about zero: ``-m..m`` with ``m`` the :data:`DISPLAY_PERCENTILE` of ``|a|``).
    An unsigned map (``signed=False``) is shown "positive" whatever ``sign`` says. Display
    only: the metrics keep using the positive evidence (:mod:`leakview.metrics`)."""
    if sign not in SIGN_MODES:
        raise ValueError(f"sign must be one of {SIGN_MODES}, got {sign!r}")
    values = _finite(np.asarray(attribution_map, dtype=np.float32))
    mode = sign if signed else "positive"
    if mode == "both":
        m = _robust_top(np.abs(values))
        return MapDisplay(values, (-m, m), mode)
    shown = np.maximum(-values if mode == "negative" else values, 0).astype(np.float32)
    return MapDisplay(shown, (0.0, _robust_top(shown)), mode)


def _finite(values: np.ndarray) -> np.ndarray:
    """NaN as 0 and +-inf as the largest finite magnitude (an inf would otherwise become
    the colour scale's top and every other value would show as zero)."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    top = float(np.abs(values[finite]).max()) if finite.any() else 0.0
    return np.asarray(np.nan_to_num(values, nan=0.0, posinf=top, neginf=-top),
                      dtype=np.float32)


def normalise_map(attribution_map: np.ndarray, signed: bool = False, sign: str = "positive"
                  ) -> np.ndarray:
    """Scale a map for display (:func:`display_map`, then scaled by its top and clipped):
    by default the positive evidence in [0, 1] over its 99.5th percentile; a signed map with
    ``sign="negative"`` its negative evidence in [0, 1], with ``sign="both"`` in [-1, 1]."""
    return display_map(attribution_map, sign, signed).normalised()


def overlay(image: np.ndarray, attribution_map: np.ndarray, alpha: float = 0.6,
            cmap: str = "inferno") -> np.ndarray:
    """The image with a heat map blended on top (stronger where the map is higher)."""
    heat = normalise_map(attribution_map)
    colours = colormap(heat, cmap).astype(np.float32)
    weight = (alpha * heat)[..., None]
    return (image.astype(np.float32) * (1 - weight) + colours * weight).round().astype(np.uint8)


def lime_panel(image: np.ndarray, segments: np.ndarray, weights: Sequence[float],
               top: int = 5) -> np.ndarray:
    """LIME as the study showed it: the top positive superpixels kept, the rest dimmed."""
    weight_array = np.asarray(weights, dtype=np.float64)
    order = [int(i) for i in np.argsort(-weight_array) if weight_array[i] > 0][:top]
    segments = _resize_nearest(segments, image.shape[:2])
    keep = np.isin(segments, order)
    panel = (image.astype(np.float32) * 0.25).astype(np.uint8)
    panel[keep] = image[keep]
    return _draw_outline(panel, keep, (255, 255, 0))


def _resize_nearest(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows = (np.arange(shape[0]) * array.shape[0] // shape[0]).clip(0, array.shape[0] - 1)
    cols = (np.arange(shape[1]) * array.shape[1] // shape[1]).clip(0, array.shape[1] - 1)
    resized: np.ndarray = array[rows][:, cols]
    return resized


def _draw_outline(image: np.ndarray, region: np.ndarray, colour: tuple[int, int, int]
                  ) -> np.ndarray:
    """Paint the boundary of ``region`` two pixels thick (the image border is not an edge)."""
    edge = mask_boundary(region, border_is_edge=False)
    thick = edge.copy()
    thick[1:] |= edge[:-1]
    thick[:, 1:] |= edge[:, :-1]
    result = image.copy()
    result[thick] = colour
    return result


def triptych(image: np.ndarray, panels: Sequence[tuple[str, np.ndarray]],
             mask: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """Side-by-side panels (each the image's size) with captions and the mask outline."""
    height, width = image.shape[:2]
    scale = max(1.0, 240 / height)
    panel_w, panel_h = int(round(width * scale)), int(round(height * scale))
    caption_h = 22
    title_h = 22 if title else 0
    canvas = Image.new("RGB", (panel_w * len(panels) + 8 * (len(panels) - 1),
                               panel_h + caption_h + title_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    if title:
        draw.text((4, 4), title, fill=(0, 0, 0), font=font)
    for position, (caption, pixels) in enumerate(panels):
        if mask is not None:
            pixels = outline_mask(pixels, mask)
        tile = Image.fromarray(pixels).resize((panel_w, panel_h), Image.Resampling.NEAREST
                                              if scale > 1 else Image.Resampling.BILINEAR)
        x = position * (panel_w + 8)
        canvas.paste(tile, (x, title_h))
        draw.text((x + 4, title_h + panel_h + 5), caption, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def study_panels(image: np.ndarray, attributions: Mapping[str, Any]
                 ) -> list[tuple[str, np.ndarray]]:
    """The study figure's ``(caption, pixels)`` panels: original | saliency overlay | LIME top
    superpixels, from the maps that were computed (a method other than saliency/LIME fills a
    missing slot). The window's side-by-side view shows the same panels and captions."""
    panels: list[tuple[str, np.ndarray]] = [("original", image)]
    gradient_methods = [name for name in attributions if name != "lime"]
    if gradient_methods:
        first = "saliency" if "saliency" in attributions else gradient_methods[0]
        panels.append((first, overlay(image, attributions[first].map)))
    if "lime" in attributions:
        lime = attributions["lime"]
        panels.append(("lime (top 5 superpixels)",
                       lime_panel(image, lime.extras["segments"], lime.extras["weights"])))
    return panels


def outline_mask(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``pixels`` with the expected region's outline drawn as the figures draw it."""
    return _draw_outline(pixels, mask, MASK_OUTLINE_COLOR)


def study_figure(image: np.ndarray, attributions: Mapping[str, Any],
                 mask: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """The :func:`study_panels` side by side, captioned, under ``title``, with the mask
    outline (a PNG's worth of pixels)."""
    return triptych(image, study_panels(image, attributions), mask, title)


def save_png(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    """Write an RGB uint8 array as PNG, atomically."""
    return write_png(path, pixels)
