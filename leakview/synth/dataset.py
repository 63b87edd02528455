"""The demo data set: sample ``(seed, class, index)`` as an image with its cargo mask and,
optionally, a planted leak marker (:func:`render_sample`), and a whole ImageFolder tree with
masks and a description (:func:`generate_dataset`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from leakview import __version__
from leakview.atomic import atomic_write_bytes, atomic_write_text
from leakview.demo_world import CLASSES, DEFAULT_SIZE
from leakview.layout import (
    CLEAN_SUBDIR,
    LEAKVIEW_DIR,
    MASKS_SUBDIR,
    SUSPECT,
    dataset_description,
    region_path,
    region_root,
)
from leakview.markers import Marker, get_marker
from leakview.masks import default_masks_root, mask_path, write_mask
from leakview.pngio import png_bytes
from leakview.synth.scene import VIEWS, Scene, check_size, render_scene

DATASET_FORMAT = "leakview-demo-data/1"


def sample_name(label: str, index: int) -> str:
    """File name of sample ``index`` (0-based) of ``label``: ``wheat_0001.png`` for index 0."""
    return f"{label}_{index + 1:04d}.png"


def _streams(label: str, index: int, seed: int) -> tuple[np.random.Generator,
                                                         np.random.Generator]:
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}")
    if int(seed) < 0 or int(index) < 0:
        raise ValueError("seed and index must be >= 0")
    scene, marker = np.random.SeedSequence([int(seed), CLASSES.index(label), int(index)]).spawn(2)
    return np.random.default_rng(scene), np.random.default_rng(marker)


def _resolve_marker(leak: str | Marker | None,
                    marker_params: Mapping[str, Any] | None) -> Marker | None:
    if leak is None:
        if marker_params:
            raise ValueError("marker parameters were given without a leak marker")
        return None
    if isinstance(leak, Marker):
        if marker_params:
            raise ValueError("marker parameters were given with a ready-made marker")
        return leak
    return get_marker(leak, **dict(marker_params or {}))


def render_sample_scene(label: str, index: int, seed: int = 0,
                        size: tuple[int, int] = DEFAULT_SIZE, leak: str | Marker | None = None,
                        marker_params: Mapping[str, Any] | None = None, cargo_contrast: float = 1.0
                        ) -> tuple[Scene, np.ndarray | None]:
    """Like :func:`render_sample` but returns the :class:`Scene` (with the marker painted)."""
    marker = _resolve_marker(leak, marker_params)
    scene_rng, marker_rng = _streams(label, index, seed)
    scene = render_scene(scene_rng, label, size, cargo_contrast=cargo_contrast)
    marker_mask = None
    if marker is not None:
        marker_mask = marker.apply(scene.image, CLASSES.index(label), marker_rng)
    return scene, marker_mask


def render_sample(label: str, index: int, seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE,
                  leak: str | Marker | None = None, marker_params: Mapping[str, Any] | None = None,
                  cargo_contrast: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sample ``index`` (0-based) of class ``label``: ``(image, cargo_mask, marker_mask)``.

    Deterministic in ``(seed, label, index, size, cargo_contrast)``. ``leak=None`` gives the
    pixel-identical scene without the marker (``marker_mask`` is then None): this is how to
    "remove" a marker from a leaky sample.
    """
    scene, marker_mask = render_sample_scene(label, index, seed, size, leak, marker_params,
                                             cargo_contrast)
    return scene.image, scene.cargo_mask, marker_mask


def generate_dataset(out_dir: str | os.PathLike[str], n_per_class: int,
                     size: tuple[int, int] = DEFAULT_SIZE, leak: str | Marker | None = None,
                     seed: int = 0, marker_params: Mapping[str, Any] | None = None,
                     cargo_contrast: float = 1.0,
                     progress: Callable[[int, int], None] | None = None,
                     write_clean_twin: bool = False) -> dict[str, Any]:
    """Write an ImageFolder tree of ``n_per_class`` images per class under ``out_dir``.

    Layout: ``OUT/<class>/<class>_0001.png`` ..., the cargo masks at
    ``OUT/.leakview/masks/<class>/<name>.png.png``, with a leak the marker masks as the
    images' suspect regions (:func:`~leakview.layout.region_path`:
    ``OUT/.leakview/masks/.suspect/<class>/<name>.png.png``), and ``OUT/.leakview/dataset.json``.
    With ``write_clean_twin`` (and a leak) the marker-free twin of every image is written as a
    second, self-contained ImageFolder tree at ``OUT/.leakview/clean/`` (its own cargo masks
    under ``OUT/.leakview/clean/.leakview/masks/``). Same arguments give byte-identical files.
    Returns a summary dict.
    """
    n_per_class = int(n_per_class)
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    w, h = check_size(size)
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    marker = _resolve_marker(leak, marker_params)
    if write_clean_twin and marker is None:
        raise ValueError("write_clean_twin needs a leak marker")
    root = Path(out_dir)
    masks_root = default_masks_root(root)
    markers_root = region_root(root, SUSPECT) if marker is not None else None
    clean_root = root / LEAKVIEW_DIR / CLEAN_SUBDIR if write_clean_twin else None
    total = n_per_class * len(CLASSES)
    done = 0
    views = {v: 0 for v in VIEWS}
    records = []
    for class_index, label in enumerate(CLASSES):
        for index in range(n_per_class):
            scene_rng, marker_rng = _streams(label, index, seed)
            scene = render_scene(scene_rng, label, (w, h), cargo_contrast=cargo_contrast)
            relative = Path(label) / sample_name(label, index)
            if clean_root is not None:
                atomic_write_bytes(clean_root / relative, png_bytes(scene.image))
                write_mask(mask_path(clean_root, relative), scene.cargo_mask)
            if marker is not None:
                region = marker.apply(scene.image, class_index, marker_rng)
                write_mask(region_path(root, relative, SUSPECT), region)
            atomic_write_bytes(root / relative, png_bytes(scene.image))
            write_mask(mask_path(root, relative, masks_root), scene.cargo_mask)
            views[scene.view] += 1
            records.append({"image": relative.as_posix(), "label": label, "index": index,
                            "view": scene.view, "occluders": list(scene.occluders)})
            done += 1
            if progress is not None:
                progress(done, total)
    description = {
        "format": DATASET_FORMAT,
        "generator": "leakview.synth.generate_dataset",
        "leakview_version": __version__,
        "classes": list(CLASSES),
        "n_per_class": n_per_class,
        "size": [w, h],
        "seed": int(seed),
        "cargo_contrast": float(cargo_contrast),
        "leak": marker.name if marker is not None else None,
        "marker": marker.params() if marker is not None else None,
        "marker_colors": ({label: list(marker.color(i)) for i, label in enumerate(CLASSES)}
                          if marker is not None else None),
        "masks": f"{LEAKVIEW_DIR}/{MASKS_SUBDIR}",
        "markers": (markers_root.relative_to(root).as_posix() if markers_root is not None
                    else None),
        "clean_twin": f"{LEAKVIEW_DIR}/{CLEAN_SUBDIR}" if clean_root is not None else None,
        "images": records,
    }
    dataset_json = dataset_description(root)
    atomic_write_text(dataset_json, json.dumps(description, indent=2, sort_keys=True) + "\n")
    return {
        "out_dir": str(root), "classes": list(CLASSES), "n_per_class": n_per_class,
        "images": total, "size": [w, h], "seed": int(seed), "leak": description["leak"],
        "marker": description["marker"], "cargo_contrast": float(cargo_contrast),
        "views": views, "masks_root": str(masks_root),
        "markers_root": str(markers_root) if markers_root is not None else None,
        "clean_root": str(clean_root) if clean_root is not None else None,
        "dataset_json": str(dataset_json),
    }
