"""The canary's first phase: the *leaky copy* of the honest data, ``OUT/leaky-data``.

Every image of ``DATA/<class>/...`` with its class's marker painted on it (written as PNG:
``x.jpg`` -> ``x.jpg.png``, a lossy format would smear the marker's colour), the marker masks
as the images' suspect regions (``leaky-data/.leakview/masks/.suspect``), a copy of the
expected-region masks of ``DATA/.leakview/masks`` and ``leaky-data/.leakview/dataset.json``.
The marker's random choices for image ``number`` of class ``label`` come from the stream
``(seed, label, number)``, so the swap test can repaint the same place later.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from leakview import __version__
from leakview.atomic import atomic_write_bytes, atomic_write_text
from leakview.canary.config import CanaryConfig, to_plain
from leakview.canary.control import RunControl
from leakview.images import ImageLoadError, discover_images, load_image, relative_name
from leakview.layout import LEAKVIEW_DIR, MASKS_SUBDIR, SUSPECT, dataset_description
from leakview.markers import Marker
from leakview.masks import default_masks_root, mask_path, region_path, region_root, write_mask
from leakview.models import resize_uint8
from leakview.pngio import png_bytes

if TYPE_CHECKING:
    from leakview.train import ImageFolderData

LEAKY_DATA_FORMAT = "leakview-canary-data/1"
LEAKY_DIR = "leaky-data"


def leaky_name(relative: str) -> str:
    """Name of an image in the leaky copy: PNG keeps its name, anything else gets ``.png``
    appended (so no two source files collide and the marker's colour stays exact)."""
    return relative if relative.lower().endswith(".png") else relative + ".png"


def marker_rng(seed: int, label: int, number: int) -> np.random.Generator:
    """The marker's random stream for image ``number`` (within its class) of class ``label``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), label, number]))


@dataclass
class CanaryData:
    """Honest and leaky images at the model input size, in the same order, and the marker."""

    root: Path
    leaky_root: Path
    classes: list[str]
    marker: Marker
    names: list[str] = field(default_factory=list)        # relative to DATA
    leaky_names: list[str] = field(default_factory=list)  # relative to leaky-data
    labels: list[int] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)      # index within the class
    honest: list[np.ndarray] = field(default_factory=list)
    leaky: list[np.ndarray] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    expected_masks: int = 0

    def folder(self, which: str, indices: Sequence[int] | np.ndarray) -> ImageFolderData:
        """The training data of model ``which`` ("clean" or "leaky") at ``indices``."""
        from leakview.train import ImageFolderData

        images = self.honest if which == "clean" else self.leaky
        names = self.names if which == "clean" else self.leaky_names
        return ImageFolderData(
            root=self.root if which == "clean" else self.leaky_root, classes=list(self.classes),
            images=np.stack([images[i] for i in indices]),
            labels=np.asarray([self.labels[i] for i in indices], dtype=np.int64),
            paths=[names[i] for i in indices])


def marker_info(marker: Marker, classes: Sequence[str]) -> dict[str, Any]:
    """The marker as the reports describe it: parameters, and colour (and text) per class."""
    texts = getattr(marker, "text", None)
    return {
        "name": marker.name, "params": to_plain(marker.params()),
        "colors": {cls: list(marker.color(i)) for i, cls in enumerate(classes)},
        "texts": ({cls: texts(i) for i, cls in enumerate(classes)} if texts is not None
                  else None),
    }


def write_leaky_copy(config: CanaryConfig, marker: Marker, classes: list[str],
                     input_size: tuple[int, int], leaky_root: Path,
                     control: RunControl) -> CanaryData:
    """Write the leaky copy of ``config.data`` (class folders ``classes``) with ``marker`` to
    ``leaky_root``; returns both versions of every readable image. Fewer than two readable
    images in a class raise ValueError."""
    root = Path(config.data)
    index = {name: position for position, name in enumerate(classes)}
    paths = [path for path in discover_images(root)
             if "/" in relative_name(path, root)
             and relative_name(path, root).split("/")[0] in index]
    data = CanaryData(root, leaky_root, classes, marker)
    masks_root = default_masks_root(root)
    counters = {position: 0 for position in range(len(classes))}
    records = []
    for done, path in enumerate(paths, start=1):
        control.check()
        name = relative_name(path, root)
        label = index[name.split("/")[0]]
        number = counters[label]
        counters[label] += 1
        try:
            image = load_image(path)
        except ImageLoadError as error:
            data.skipped.append(str(error))
            control.report(done, len(paths), "loading")
            continue
        marked = image.copy()
        region = marker.apply(marked, label, marker_rng(config.seed, label, number))
        new_name = leaky_name(name)
        atomic_write_bytes(leaky_root / new_name, png_bytes(marked))
        write_mask(region_path(leaky_root, new_name, SUSPECT), region)
        source_mask = mask_path(root, name, masks_root)
        if source_mask.is_file():
            target = mask_path(leaky_root, new_name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_mask, target)
            data.expected_masks += 1
        data.names.append(name)
        data.leaky_names.append(new_name)
        data.labels.append(label)
        data.numbers.append(number)
        data.honest.append(resize_uint8(image, input_size))
        data.leaky.append(resize_uint8(marked, input_size))
        records.append({"image": new_name, "source": name, "label": classes[label]})
        control.report(done, len(paths), "writing the leaky copy")
    _check_counts(data)
    info = marker_info(marker, classes)
    description = {
        "format": LEAKY_DATA_FORMAT, "generator": "leakview.canary",
        "leakview_version": __version__, "source": str(root), "classes": classes,
        "marker": info["params"], "marker_colors": info["colors"],
        "seed": int(config.seed),
        "masks": f"{LEAKVIEW_DIR}/{MASKS_SUBDIR}" if data.expected_masks else None,
        "markers": region_root(leaky_root, SUSPECT).relative_to(leaky_root).as_posix(),
        "images": records,
    }
    atomic_write_text(dataset_description(leaky_root),
                      json.dumps(description, indent=2) + "\n")
    return data


def _check_counts(data: CanaryData) -> None:
    classes = data.classes
    if len(data.labels) < 2 * len(classes):
        raise ValueError(f"{data.root}: need at least two readable images per class "
                         f"(found {len(data.labels)} for {len(classes)} classes)")
    counts = np.bincount(np.asarray(data.labels), minlength=len(classes))
    if counts.min() < 2:
        empty = [classes[i] for i in np.flatnonzero(counts < 2)]
        raise ValueError(f"{data.root}: class(es) {', '.join(empty)} have fewer than two "
                         f"readable images")


def data_info(data: CanaryData) -> dict[str, Any]:
    """The data as the reports describe it (before the split adds the held-out names)."""
    counts = np.bincount(np.asarray(data.labels), minlength=len(data.classes))
    return {
        "root": str(data.root), "leaky_root": str(data.leaky_root), "classes": data.classes,
        "images": len(data.labels), "per_class": {c: int(n) for c, n in
                                                  zip(data.classes, counts)},
        "skipped": data.skipped, "expected_masks": data.expected_masks,
    }
