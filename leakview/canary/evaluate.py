"""The canary's evaluation phases: both models measured on the same held-out images.

:class:`HeldOutSet` loads each held-out image once for both models: the original, its leaky
copy, the marker mask, the *swapped* version (another class's marker in the same place: class
``k`` gets class ``k+1 mod C``'s) and the expected-region mask where ``DATA`` has one.
:class:`Evaluator` runs one model over them: the counterfactual and swap predictions, the
attribution of each method on the image with the marker (for the predicted class) and its
overlap with the marker, the marker's bounding box and the expected region.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from leakview.attribution import explain_batch
from leakview.canary.config import CanaryConfig
from leakview.canary.control import RunControl
from leakview.canary.figures import figure_indices
from leakview.canary.judge import finite
from leakview.canary.leaky_copy import CanaryData, marker_rng
from leakview.images import ImageLoadError, load_image
from leakview.masks import SUSPECT, MaskError, find_mask, read_mask, region_path
from leakview.metrics import overlap_metrics
from leakview.models import LoadedModel

#: Held-out images kept in memory for the second model up to about this many bytes; past it
#: the rest are loaded again (a large held-out set at full resolution would not fit).
HELD_OUT_CACHE_BYTES = 256 << 20


@dataclass
class HeldOutImage:
    """One held-out image in every version the evaluation needs (``error`` when unusable)."""

    index: int
    name: str
    label: int
    original: np.ndarray | None = None
    marked: np.ndarray | None = None
    marker: np.ndarray | None = None       # the marker's mask on ``marked``
    swap: int = 0                          # the class whose marker ``swapped`` carries
    swapped: np.ndarray | None = None
    expected: np.ndarray | None = None     # the expected-region mask, where there is one
    error: str | None = None
    expected_error: str | None = None

    def nbytes(self) -> int:
        arrays = (self.original, self.marked, self.marker, self.swapped, self.expected)
        return sum(array.nbytes for array in arrays if array is not None)


class Prediction(NamedTuple):
    """One model's classes for the three versions of a held-out image."""

    with_marker: int
    without_marker: int
    swapped: int
    confidence: float   # of ``with_marker``
    follows_swap: bool  # ``swapped`` is the class of the marker painted in the swap test


def load_held_out(data: CanaryData, index: int, seed: int) -> HeldOutImage:
    """Image ``index`` of ``data`` in every version (see the module docstring)."""
    item = HeldOutImage(index=index, name=data.names[index], label=data.labels[index])
    try:
        item.original = load_image(data.root / data.names[index])
        item.marked = load_image(data.leaky_root / data.leaky_names[index])
        shape = item.marked.shape[:2]
        item.marker = read_mask(region_path(data.leaky_root, data.leaky_names[index],
                                            SUSPECT), shape)
    except (ImageLoadError, MaskError) as error:
        item.error = str(error)
        return item
    if item.original.shape != item.marked.shape:
        item.error = "the image changed since the leaky copy was written"
        return item
    # The swap test: the same image with ANOTHER class's marker (class k -> k+1 mod C),
    # drawn from the same marker stream, so it sits where the true marker would.
    item.swap = (item.label + 1) % len(data.classes)
    item.swapped = item.original.copy()
    data.marker.apply(item.swapped, item.swap,
                      marker_rng(seed, item.label, data.numbers[index]))
    item.expected, problem = find_mask(data.root, data.names[index], shape=shape)
    if problem is not None:
        item.expected_error = f"expected-region mask: {problem.reason}"
    return item


class HeldOutSet:
    """The held-out images in chunks; each is loaded once and kept for the second model
    (up to ``cache_bytes``)."""

    def __init__(self, data: CanaryData, indices: Sequence[int] | np.ndarray, seed: int,
                 cache_bytes: int = HELD_OUT_CACHE_BYTES) -> None:
        self.data, self.seed, self.cache_bytes = data, seed, cache_bytes
        self.indices = [int(i) for i in indices]
        self.kept: dict[int, HeldOutImage] = {}
        self.kept_bytes = 0
        self.loads = 0  # images loaded from disk so far

    def chunks(self, size: int, control: RunControl) -> Iterator[list[HeldOutImage]]:
        for start in range(0, len(self.indices), size):
            control.check()
            yield [self._get(i) for i in self.indices[start:start + size]]

    def _get(self, index: int) -> HeldOutImage:
        if index in self.kept:
            return self.kept[index]
        item = load_held_out(self.data, index, self.seed)
        self.loads += 1
        if self.kept_bytes + item.nbytes() <= self.cache_bytes:
            self.kept[index] = item
            self.kept_bytes += item.nbytes()
        return item


class Evaluator:
    """Measures the clean and the leaky model on the same :class:`HeldOutSet`."""

    def __init__(self, data: CanaryData, held_idx: np.ndarray, config: CanaryConfig,
                 control: RunControl) -> None:
        self.data, self.config, self.control = data, config, control
        self.held = HeldOutSet(data, held_idx, config.seed)
        self.figure_set = figure_indices(data.labels, held_idx, config.figures_per_class)

    def evaluate(self, which: str, model: LoadedModel, image_rows: list[dict[str, Any]],
                 figure_items: dict[str, dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Measure ``model``; its per-image rows are appended to ``image_rows`` as they come
        (a partial report keeps them) and the attributions of the figure images go into
        ``figure_items``. Returns its canary.csv rows and its per-class rows."""
        model.module.eval()
        methods = list(self.config.methods)
        classes = self.data.classes
        total = len(self.held.indices) * len(methods)
        done = 0
        predictions: dict[int, Prediction] = {}
        per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for items in self.held.chunks(self.config.eval_batch_size, self.control):
            ok = [item for item in items if item.error is None]
            predictions.update(_predict(model, ok))
            for method in methods:
                attributions = self._attribute(model, method, ok, predictions)
                for item in items:
                    row = image_row(item, which, method, classes,
                                    attributions.get(item.index), predictions.get(item.index))
                    per_method[method].append(row)
                    image_rows.append(row)
                    if item.index in self.figure_set and item.index in attributions:
                        prediction = predictions[item.index]
                        entry = figure_items.setdefault(f"{which}:{item.index}", {
                            "model": which, "index": item.index, "name": item.name,
                            "label": classes[item.label], "attributions": {},
                            "pred_with": classes[prediction.with_marker],
                            "pred_without": classes[prediction.without_marker]})
                        entry["attributions"][method] = attributions[item.index]
                    done += 1
                    self.control.report(done, total, f"{method}")
        labels = {i: self.data.labels[i] for i in self.held.indices}
        rows = [summary_row(which, method, per_method[method], predictions, labels)
                for method in methods]
        return rows, per_class_rows(which, classes, predictions, labels)

    def _attribute(self, model: LoadedModel, method: str, items: list[HeldOutImage],
                   predictions: dict[int, Prediction]) -> dict[int, Any]:
        if not items:
            return {}
        attributions = explain_batch(model, [_loaded(item.marked) for item in items], method,
                                     [predictions[item.index].with_marker for item in items],
                                     should_stop=self.control.should_stop,
                                     **self.config.method_options.get(method, {}))
        return {item.index: attribution for item, attribution in zip(items, attributions)}


def _loaded(array: np.ndarray | None) -> np.ndarray:
    assert array is not None, "only the images that loaded are measured"
    return array


def _predict(model: LoadedModel, items: list[HeldOutImage]) -> dict[int, Prediction]:
    if not items:
        return {}
    with_probs = model.predict([_loaded(item.marked) for item in items])
    without_probs = model.predict([_loaded(item.original) for item in items])
    swap_probs = model.predict([_loaded(item.swapped) for item in items])
    predictions = {}
    for item, p_with, p_without, p_swap in zip(items, with_probs, without_probs, swap_probs):
        predicted, swapped = int(np.argmax(p_with)), int(np.argmax(p_swap))
        predictions[item.index] = Prediction(predicted, int(np.argmax(p_without)), swapped,
                                             float(p_with[predicted]), swapped == item.swap)
    return predictions


def bbox_mask(mask: np.ndarray) -> np.ndarray:
    """The bounding box of ``mask`` as a mask (empty for an empty mask)."""
    box = np.zeros_like(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size:
        box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    return box


def image_row(item: HeldOutImage, which: str, method: str, classes: list[str],
              attribution: Any, prediction: Prediction | None) -> dict[str, Any]:
    """One canary-images.csv row: ``item`` under model ``which`` and ``method``."""
    row: dict[str, Any] = {
        "image": item.name, "label": classes[item.label], "model": which,
        "method": method, "predicted_with_marker": "", "predicted_without_marker": "",
        "confidence_with_marker": math.nan, "changed": None, "swap_class": "",
        "predicted_with_swapped_marker": "", "marker_mass": math.nan,
        "marker_pointing_hit": math.nan, "marker_area_frac": math.nan,
        "marker_box_mass": math.nan, "expected_mass": math.nan,
        "expected_pointing_hit": math.nan,
        "error": item.error or item.expected_error or "",
    }
    if item.error is not None or attribution is None or prediction is None:
        row["error"] = row["error"] or "no attribution"
        return row
    assert item.marker is not None
    row.update({
        "predicted_with_marker": classes[prediction.with_marker],
        "predicted_without_marker": classes[prediction.without_marker],
        "confidence_with_marker": prediction.confidence,
        "changed": int(prediction.with_marker != prediction.without_marker),
        "swap_class": classes[item.swap],
        "predicted_with_swapped_marker": classes[prediction.swapped],
    })
    marker = overlap_metrics(attribution.map, item.marker)
    box = overlap_metrics(attribution.map, bbox_mask(item.marker))
    row.update({"marker_mass": marker["mass_in_mask"],
                "marker_pointing_hit": marker["pointing_hit"],
                "marker_area_frac": marker["mask_area_frac"],
                "marker_box_mass": box["mass_in_mask"]})
    if item.expected is not None:
        expected = overlap_metrics(attribution.map, item.expected)
        row.update({"expected_mass": expected["mass_in_mask"],
                    "expected_pointing_hit": expected["pointing_hit"]})
    return row


def mean(values: Sequence[float | None]) -> float:
    """The mean of the finite values (NaN when there are none)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(finite)) if finite else math.nan


def summary_row(which: str, method: str, rows: list[dict[str, Any]],
                predictions: dict[int, Prediction], labels: dict[int, int]) -> dict[str, Any]:
    """The canary.csv row of model ``which`` and ``method`` from its per-image ``rows``."""
    judged = sorted(predictions)
    good = [row for row in rows if not row["error"]]
    expected = [row for row in good if finite(row["expected_mass"])]
    marker_mass = mean([row["marker_mass"] for row in good])
    area = mean([row["marker_area_frac"] for row in good])
    return {
        "model": which, "method": method, "images": len(good),
        "accuracy_with_marker": mean([float(predictions[i].with_marker == labels[i])
                                      for i in judged]),
        "accuracy_without_marker": mean([float(predictions[i].without_marker == labels[i])
                                         for i in judged]),
        "prediction_change_rate": mean([float(predictions[i].with_marker
                                              != predictions[i].without_marker)
                                        for i in judged]),
        "marker_mass": marker_mass,
        "expected_mass": mean([row["expected_mass"] for row in expected]),
        "marker_pointing_rate": mean([row["marker_pointing_hit"] for row in good]),
        "marker_area_frac": area,
        "marker_concentration": (marker_mass / area if area and area > 0
                                 and math.isfinite(marker_mass) else math.nan),
        "marker_box_mass": mean([row["marker_box_mass"] for row in good]),
        "expected_pointing_rate": mean([row["expected_pointing_hit"] for row in expected]),
        "swap_follow_rate": _follow_rate(predictions, judged),
        "expected_images": len(expected),
        "errors": len(rows) - len(good),
    }


def _follow_rate(predictions: dict[int, Prediction], members: Sequence[int]) -> float:
    """Share of ``members`` predicted as the class of the swapped marker they carried."""
    return mean([float(predictions[i].follows_swap) for i in members])


def per_class_rows(which: str, classes: list[str], predictions: dict[int, Prediction],
                   labels: dict[int, int]) -> list[dict[str, Any]]:
    """The counterfactual test per class of model ``which``."""
    rows = []
    judged = sorted(predictions)
    for position, cls in enumerate(classes):
        members = [i for i in judged if labels[i] == position]
        rows.append({
            "model": which, "class": cls, "images": len(members),
            "accuracy_with_marker": mean([float(predictions[i].with_marker == position)
                                          for i in members]),
            "accuracy_without_marker": mean([float(predictions[i].without_marker == position)
                                             for i in members]),
            "prediction_change_rate": mean([float(predictions[i].with_marker
                                                  != predictions[i].without_marker)
                                            for i in members]),
            "swap_follow_rate": _follow_rate(predictions, members),
        })
    return rows
