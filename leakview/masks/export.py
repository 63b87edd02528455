"""Region masks back to annotation files (:func:`export_masks`): LabelMe JSON or COCO.

What is exported: every image of the root (as :func:`~leakview.layout.discover_images` lists
them) that has a region file of one of the chosen kinds (``region_path``, read with
``find_mask`` against the image's size); a file that cannot be used, and an all-zero one (an
empty region has no shape), is skipped with the reason. Each region is written pixel-exactly,
under its kind's label (the kind's name unless ``labels`` says otherwise):

* **LabelMe**: one JSON per image at ``OUT/<folder>/<stem>.json`` (``<name>.json`` when two
  images of a folder share a stem), as LabelMe 5 writes it: ``version``, ``flags``,
  ``shapes``, ``imagePath`` (relative to the JSON), ``imageData: null``, ``imageHeight``,
  ``imageWidth``. A region is one ``"shape_type": "mask"`` shape per 8-connected component
  (one for the whole region when it has more than :data:`MAX_COMPONENT_SHAPES`): ``points`` =
  its bounding box ``[[x1, y1], [x2, y2]]`` (inclusive) and ``mask`` = a base64 PNG of the
  box (0/1, what LabelMe writes), holes included.
* **COCO**: one instances JSON: ``images`` (``id``, ``file_name`` relative to the root,
  ``height``, ``width``), ``categories`` (one per chosen kind, ``id`` = its place in
  :data:`~leakview.layout.REGION_KINDS` + 1), ``annotations`` (one per region: compressed RLE
  ``segmentation``, ``area``, ``bbox`` ``[x, y, w, h]``, ``iscrowd: 0``).

Every file is written atomically; existing output is refused (:class:`ExistingOutput`, nothing
written) unless ``overwrite``.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage.measure import label as label_components
from skimage.measure import regionprops

from leakview import __version__
from leakview.atomic import atomic_write_text
from leakview.layout import REGION_KINDS, check_region_kind, discover_images, region_path
from leakview.masks.coco import mask_to_rle
from leakview.masks.pairing import SkipItem, image_hw
from leakview.masks.store import MaskError, find_mask

__all__ = ["EXPORT_FORMATS", "LABELME_VERSION", "MAX_COMPONENT_SHAPES", "ExistingOutput",
           "ExportReport", "export_masks", "labelme_mask_shapes"]

EXPORT_FORMATS: tuple[str, ...] = ("labelme", "coco")
LABELME_VERSION = "5.5.0"
"""The LabelMe file version written (mask shapes exist since LabelMe 5.3)."""
MAX_COMPONENT_SHAPES = 256
"""A region with more 8-connected components than this is one LabelMe mask shape."""


class ExistingOutput(MaskError):
    """:func:`export_masks` would replace existing files; nothing was written."""

    def __init__(self, out: str | os.PathLike[str], files: Collection[Path]) -> None:
        self.files = list(files)
        count = len(self.files)
        names = ", ".join(str(f) for f in self.files[:3]) + (", ..." if count > 3 else "")
        super().__init__(out, f"{count} output file{'s' if count != 1 else ''} "
                         f"{'exist' if count != 1 else 'exists'} already ({names}); nothing "
                         "was written (--overwrite replaces them)")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.files))


@dataclass
class ExportReport:
    """What :func:`export_masks` wrote: the files, the images and regions per kind in them,
    and what was skipped (item, reason)."""

    out: Path
    fmt: str
    files: list[Path] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    regions: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """Human-readable multi-line summary (what the CLI prints)."""
        count = sum(self.regions.values())
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.regions.items() if n)
        where = (f"{len(self.files)} LabelMe file{'s' if len(self.files) != 1 else ''} "
                 f"under {self.out}" if self.fmt == "labelme" else str(self.out))
        lines = [f"exported {count} region{'s' if count != 1 else ''}"
                 + (f" ({kinds})" if kinds else "")
                 + f" of {len(self.images)} image{'s' if len(self.images) != 1 else ''} "
                 f"to {where}"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines.extend(f"  {item}: {reason}" for item, reason in self.skipped)
        return "\n".join(lines)


def _png_b64(patch: np.ndarray) -> str:
    stream = io.BytesIO()
    Image.fromarray(patch.astype(np.uint8), mode="L").save(stream, format="PNG", optimize=True)
    return base64.b64encode(stream.getvalue()).decode("ascii")


def _mask_shape(label: str, patch: np.ndarray, top: int, left: int) -> dict[str, Any]:
    """A LabelMe mask shape: ``patch`` (its bounding box's pixels) at row ``top``, column
    ``left``."""
    return {"label": label,
            "points": [[float(left), float(top)],
                       [float(left + patch.shape[1] - 1), float(top + patch.shape[0] - 1)]],
            "group_id": None, "description": "", "shape_type": "mask", "flags": {},
            "mask": _png_b64(patch)}


def labelme_mask_shapes(mask: np.ndarray, label: str) -> list[dict[str, Any]]:
    """LabelMe ``mask`` shapes whose union is exactly ``mask`` (boolean ``H x W``): one per
    8-connected component, or one for the whole region above :data:`MAX_COMPONENT_SHAPES`."""
    components = label_components(mask, connectivity=2)
    props = regionprops(components)
    if len(props) > MAX_COMPONENT_SHAPES:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return [_mask_shape(label, mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1],
                            int(rows[0]), int(cols[0]))]
    return [_mask_shape(label, components[prop.slice] == prop.label,
                        int(prop.slice[0].start), int(prop.slice[1].start))
            for prop in props]


def _bbox(mask: np.ndarray) -> list[float]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
            float(rows[-1] - rows[0] + 1)]


def _labelme_destinations(out: Path, images: list[str]) -> dict[str, Path]:
    """``OUT/<folder>/<stem>.json`` per image; ``<name>.json`` where a folder has several
    images of that stem. MaskError when even that collides."""
    by_stem: dict[tuple[str, str], list[str]] = {}
    for relative in images:
        folder, _, name = relative.rpartition("/")
        by_stem.setdefault((folder, Path(name).stem), []).append(relative)
    chosen: dict[str, Path] = {}
    taken: dict[Path, str] = {}
    for (folder, stem), group in by_stem.items():
        for relative in group:
            name = relative.rpartition("/")[2]
            json_name = f"{stem}.json" if len(group) == 1 else f"{name}.json"
            destination = out.joinpath(*folder.split("/"), json_name) if folder \
                else out / json_name
            if destination in taken:
                raise MaskError(destination, f"both {taken[destination]} and {relative} "
                                             "would be exported to this file")
            taken[destination] = relative
            chosen[relative] = destination
    return chosen


def _image_path(image: Path, json_file: Path) -> str:
    try:
        return Path(os.path.relpath(image, json_file.parent)).as_posix()
    except ValueError:                      # another drive (Windows): absolute
        return image.as_posix()


def _check_out(out: Path, fmt: str, files: list[Path], overwrite: bool) -> None:
    if fmt == "coco" and out.is_dir():
        raise MaskError(out, "is a folder: a COCO export is one JSON file")
    if fmt == "labelme" and out.exists() and not out.is_dir():
        raise MaskError(out, "is a file: a LabelMe export is a folder of JSON files")
    for file in files:
        if file.is_dir():
            raise MaskError(file, "is a folder, not a file the export can write")
    existing = [file for file in files if file.exists()]
    if existing and not overwrite:
        raise ExistingOutput(out, existing)


def export_masks(image_root: str | os.PathLike[str], fmt: str, out: str | os.PathLike[str],
                 masks_root: str | os.PathLike[str] | None = None,
                 kinds: Collection[str] = REGION_KINDS,
                 labels: Mapping[str, str] | None = None, overwrite: bool = False,
                 progress: Callable[[int, int], Any] | None = None) -> ExportReport:
    """Write the region masks of ``image_root`` to ``out`` as LabelMe (a folder) or COCO (a
    file); see the module docstring for the files. ``kinds``: the region kinds to export;
    ``labels``: kind -> label / category name (default: the kind's name); ``overwrite``:
    replace existing output instead of raising :class:`ExistingOutput`. ``progress(done,
    total)`` is called after each image. Raises :class:`MaskError` (a bad root or output),
    ValueError (unknown ``fmt`` or kind, two kinds under one label)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"fmt must be 'labelme' or 'coco', got {fmt!r}")
    chosen = [kind for kind in REGION_KINDS if kind in {check_region_kind(k) for k in kinds}]
    if not chosen:
        raise ValueError("no region kind to export")
    names = {kind: (labels or {}).get(kind, kind) for kind in chosen}
    if len(set(names.values())) != len(names):
        raise ValueError("two region kinds would be exported under one label")
    root, out = Path(image_root), Path(out)
    if not root.is_dir():
        raise MaskError(root, "the image root is not a folder")
    relatives = [path.relative_to(root).as_posix() for path in discover_images(root)]
    images = [relative for relative in relatives
              if any(region_path(root, relative, kind, masks_root).is_file()
                     for kind in chosen)]
    destinations = _labelme_destinations(out, images) if fmt == "labelme" else {}
    _check_out(out, fmt, list(destinations.values()) if fmt == "labelme" else [out],
               overwrite)
    report = ExportReport(out, fmt, regions={kind: 0 for kind in chosen})
    coco: dict[str, Any] = {
        "info": {"description": "leakview region masks", "version": f"leakview {__version__}"},
        "licenses": [], "images": [],
        "categories": [{"id": REGION_KINDS.index(kind) + 1, "name": names[kind],
                        "supercategory": "region"} for kind in chosen],
        "annotations": []}
    for number, relative in enumerate(images, start=1):
        regions = _read_regions(root, relative, chosen, masks_root, report.skipped)
        if regions:
            height, width = next(iter(regions.values())).shape
            if fmt == "labelme":
                destination = destinations[relative]
                shapes = [shape for kind, mask in regions.items()
                          for shape in labelme_mask_shapes(mask, names[kind])]
                document = {"version": LABELME_VERSION, "flags": {}, "shapes": shapes,
                            "imagePath": _image_path(root / relative, destination),
                            "imageData": None, "imageHeight": height, "imageWidth": width}
                _write(destination, json.dumps(document, indent=2, ensure_ascii=False))
                report.files.append(destination)
            else:
                image_id = len(coco["images"]) + 1
                coco["images"].append({"id": image_id, "file_name": relative,
                                       "height": height, "width": width})
                for kind, mask in regions.items():
                    coco["annotations"].append({
                        "id": len(coco["annotations"]) + 1, "image_id": image_id,
                        "category_id": REGION_KINDS.index(kind) + 1,
                        "segmentation": mask_to_rle(mask), "area": int(mask.sum()),
                        "bbox": _bbox(mask), "iscrowd": 0})
            report.images.append(relative)
            for kind in regions:
                report.regions[kind] += 1
        if progress is not None:
            progress(number, len(images))
    if fmt == "coco" and report.images:
        _write(out, json.dumps(coco, ensure_ascii=False))
        report.files.append(out)
    return report


def _read_regions(root: Path, relative: str, kinds: list[str],
                  masks_root: str | os.PathLike[str] | None,
                  skipped: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The usable, non-empty regions of ``relative`` by kind (the others go to ``skipped``)."""
    try:
        shape = image_hw(root / relative)
    except SkipItem as skip:
        skipped.append((relative, str(skip)))
        return {}
    regions: dict[str, np.ndarray] = {}
    for kind in kinds:
        mask, error = find_mask(root, relative, masks_root, shape, kind=kind)
        if error is not None:
            skipped.append((f"{relative} ({kind})", error.reason))
        elif mask is not None and not mask.any():
            skipped.append((f"{relative} ({kind})", "the region is empty (no pixel): "
                                                    "nothing to export"))
        elif mask is not None:
            regions[kind] = mask
    return regions


def _write(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as error:
        raise MaskError(path, f"cannot write ({error.strerror or error})") from None
