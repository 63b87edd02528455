"""The canary's last phase: the study figures (original | saliency | LIME) of a few held-out
images per class and model, written to ``OUT/figures/<model>/<image>.png`` and embedded in the
HTML report as smaller PNGs."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from leakview.atomic import atomic_write_bytes
from leakview.canary.config import MODELS
from leakview.canary.control import RunControl
from leakview.canary.leaky_copy import leaky_name
from leakview.images import ImageLoadError, load_image
from leakview.masks import find_mask
from leakview.pngio import png_bytes


def figure_indices(labels: Sequence[int], held_idx: Sequence[int] | np.ndarray,
                   per_class: int) -> set[int]:
    """The first ``per_class`` held-out images of each class: the ones that get figures."""
    chosen: set[int] = set()
    counts: dict[int, int] = {}
    for i in held_idx:
        label = labels[int(i)]
        if counts.get(label, 0) < per_class:
            counts[label] = counts.get(label, 0) + 1
            chosen.add(int(i))
    return chosen


def compact_png(pixels: np.ndarray) -> bytes:
    """A smaller PNG for embedding in the HTML report: 256 adaptive colours, no dithering
    (about half the size; the full-colour figure is written beside it)."""
    image = Image.fromarray(pixels).quantize(256, method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def make_figures(items: Mapping[str, Mapping[str, Any]], data_root: Path, leaky_root: Path,
                 out: Path, control: RunControl, figures: list[dict[str, Any]]) -> None:
    """One figure per entry of ``items`` (the evaluation's figure images with their
    attributions), in class, image and model order; each is appended to ``figures`` as the
    report lists it (with ``png``, the embedded version) once it is written."""
    from leakview.report import study_figure

    ordered = sorted(items.values(), key=lambda entry: (entry["label"], entry["index"],
                                                        MODELS.index(entry["model"])))
    for done, entry in enumerate(ordered, start=1):
        control.check()
        name = entry["name"]
        try:
            image = load_image(leaky_root / leaky_name(name))
        except ImageLoadError:
            continue
        outline, _ = find_mask(data_root, name, shape=image.shape[:2])
        title = (f"{entry['model']} model | {name} | label {entry['label']} | predicted "
                 f"{entry['pred_with']} (without marker: {entry['pred_without']})")
        pixels = study_figure(image, entry["attributions"], outline, title)
        path = out / "figures" / entry["model"] / (name + ".png")
        atomic_write_bytes(path, png_bytes(pixels))
        figures.append({"model": entry["model"], "image": name, "label": entry["label"],
                        "path": str(path), "png": compact_png(pixels),
                        "pred_with": entry["pred_with"], "pred_without": entry["pred_without"]})
        control.report(done, len(ordered), name)
