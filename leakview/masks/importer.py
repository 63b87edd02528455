"""Folder import of LabelMe / COCO annotations as leakview masks (:func:`import_masks`), and the
containment (security) rules of every mask writer (:func:`check_mask_destination`).

:func:`import_masks`'s docstring says how annotation files are paired with images and why no
annotation can make leakview read or write outside the image and masks roots.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leakview.images import ImageLoadError, image_size
from leakview.layout import default_masks_root, has_image_extension, mask_path
from leakview.masks.coco import coco_image_mask, parse_coco_images
from leakview.masks.jsonvalid import json_type_name, load_json
from leakview.masks.labelme import labelme_recorded_shape, parse_labelme
from leakview.masks.raster import MAX_MASK_PIXELS
from leakview.masks.store import MaskError, write_mask

__all__ = ["ImportReport", "check_mask_destination", "import_masks"]


@dataclass
class ImportReport:
    """What :func:`import_masks` did: images whose mask was written, items skipped and why."""

    masks_root: Path
    written: list[str] = field(default_factory=list)          # image paths relative to root
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source item, reason)

    @property
    def n_written(self) -> int:
        return len(self.written)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        """Human-readable multi-line summary (what the CLI prints)."""
        lines = [f"written {self.n_written} mask{'s' if self.n_written != 1 else ''} "
                 f"under {self.masks_root}"]
        if self.skipped:
            lines.append(f"skipped {self.n_skipped}:")
            lines.extend(f"  {item}: {reason}" for item, reason in self.skipped)
        return "\n".join(lines)


class _Skip(Exception):
    """Internal: this item is skipped for ``reason``."""


class _Roots:
    """The image root, lexically absolute and resolved, with containment checks."""

    def __init__(self, image_root: Path) -> None:
        self.lexical = Path(os.path.abspath(image_root))
        self.real = Path(os.path.realpath(image_root))
        self._by_name: dict[str, list[str]] | None = None

    def contain(self, candidate: Path) -> str | None:
        """``/``-relative path if ``candidate`` (absolute, normalised) is inside the root both
        lexically and after resolving links; None otherwise."""
        try:
            relative = candidate.relative_to(self.lexical)
            Path(os.path.realpath(candidate)).relative_to(self.real)
        except (ValueError, OSError):          # outside, NUL byte in the name, link loop ...
            return None
        if not relative.parts:
            return None
        return relative.as_posix()

    def usable(self, relative: str) -> str | None:
        """None if the image at ``relative`` can carry a mask, else the reason it cannot."""
        parts = relative.split("/")
        if any(part.startswith(".") for part in parts):
            return "the image is in a hidden folder (not scanned)"
        if not has_image_extension(parts[-1]):
            return f"{parts[-1]!r} is not an image leakview scans"
        if not (self.lexical / relative).is_file():
            return f"no image file {relative}"
        return None

    def by_name(self, name: str) -> list[str]:
        if self._by_name is None:
            self._by_name = {}
            for folder, dirs, files in os.walk(self.lexical):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file in files:
                    if not file.startswith(".") and has_image_extension(file):
                        relative = Path(folder, file).relative_to(self.lexical).as_posix()
                        self._by_name.setdefault(file, []).append(relative)
        return self._by_name.get(name, [])


def _normalised(base: Path, reference: str) -> Path:
    """``reference`` (``/`` or ``\\`` separated, relative to ``base`` or absolute), normalised."""
    text = reference.replace("\\", "/")
    return Path(os.path.normpath(os.path.join(base, text)))


def _image_hw(path: Path) -> tuple[int, int]:
    """``(H, W)`` of the image as leakview loads it (EXIF orientation applied), header only."""
    try:
        width, height = image_size(path)
    except ImageLoadError as error:
        raise _Skip(f"unreadable image {path.name}: {error.reason}") from None
    if width <= 0 or height <= 0:
        raise _Skip(f"image {path.name} has zero size")
    if width * height > MAX_MASK_PIXELS:
        raise _Skip(f"image {path.name} ({width}x{height}) is over the mask pixel limit")
    return height, width


def _labelme_target(data: dict[str, Any], json_file: Path, src_dir: Path, roots: _Roots) -> str:
    """Relative path (inside the image root) of the image a LabelMe file annotates."""
    refused = ""
    image_path = data.get("imagePath")
    if image_path is not None and not isinstance(image_path, str):
        raise _Skip(f"imagePath must be a string, got {json_type_name(image_path)}")
    if image_path:
        candidate = _normalised(json_file.parent, image_path)
        relative = roots.contain(candidate)
        if relative is None:
            refused = f"imagePath {image_path!r} is outside the image root (refused); "
        elif roots.usable(relative) is None:
            return relative
    # Fallback: an image named like the JSON file, in the same relative folder.
    folder = json_file.parent.relative_to(src_dir)
    search = roots.lexical / folder
    matches: list[str] = []
    try:
        entries = sorted(search.iterdir()) if search.is_dir() else []
    except OSError:
        entries = []
    if entries:
        for entry in entries:
            if entry.stem == json_file.stem and has_image_extension(entry.name):
                relative = roots.contain(Path(os.path.normpath(entry)))
                if relative is not None and roots.usable(relative) is None:
                    matches.append(relative)
    if len(matches) == 1:
        return matches[0]
    where = (folder / json_file.stem).as_posix()
    if matches:
        raise _Skip(f"{refused}several images named {where}.* ({', '.join(matches)})")
    if image_path and not refused:
        raise _Skip(f"imagePath {image_path!r} not found in the image root, and no image "
                    f"named {where}.*")
    raise _Skip(f"{refused}no image named {where}.* in the image root")


def _coco_target(file_name: str, roots: _Roots) -> str:
    candidate = _normalised(roots.lexical, file_name)
    relative = roots.contain(candidate)
    if relative is not None and roots.usable(relative) is None:
        return relative
    refused = "" if relative is not None else "file_name is outside the image root (refused); "
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    matches = [m for m in roots.by_name(name)
               if roots.contain(roots.lexical / m) is not None] if name else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise _Skip(f"{refused}not found at its path and several images are named {name!r}")
    raise _Skip(f"{refused}no image {file_name!r} in the image root")


def _json_files(src: Path) -> tuple[Path, list[Path]]:
    if src.is_file():
        return src.parent, [src]
    if not src.is_dir():
        raise MaskError(src, "no such file or folder")
    found: list[Path] = []
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder, f) for f in sorted(files)
                     if f.lower().endswith(".json") and not f.startswith("."))
    return src, found


def check_mask_destination(destination: str | os.PathLike[str],
                           image_root: str | os.PathLike[str],
                           masks_root: str | os.PathLike[str] | None = None) -> None:
    """Refuse (:class:`MaskError`) a mask destination that symbolic links lead out of its masks
    root -- or, for the default ``ROOT/.leakview/masks``, out of the image root: a
    ``.leakview`` link shipped in a downloaded data set must not make leakview write (or
    delete) files elsewhere. Every writer of masks calls this first: ``leakview masks import``
    and the app's autosave."""
    destination = Path(destination)
    base = Path(masks_root) if masks_root is not None else default_masks_root(image_root)
    real_base = Path(os.path.realpath(base))
    real = Path(os.path.realpath(destination))
    if not real.is_relative_to(real_base) or (
            masks_root is None
            and not real_base.is_relative_to(Path(os.path.realpath(image_root)))):
        raise MaskError(destination, f"refused: the mask path {destination} leads outside "
                        f"{'the masks root' if masks_root is not None else 'the image root'} "
                        "through a symbolic link")


def import_masks(src: str | os.PathLike[str], fmt: str, image_root: str | os.PathLike[str],
                 masks_root: str | os.PathLike[str] | None = None,
                 labels: Collection[str] | None = None, overwrite: bool = True,
                 progress: Callable[[int, int], Any] | None = None) -> ImportReport:
    """Import LabelMe or COCO annotations under ``src`` as mask PNGs for ``image_root``.

    ``src``: one ``.json`` file, or a folder searched recursively for ``*.json`` (hidden
    folders skipped). ``fmt``: ``"labelme"`` or ``"coco"``. ``labels``: LabelMe labels or COCO
    category names to keep (default: all). Each mask is written (atomically, 0/255 PNG) to
    ``mask_path(image_root, image, masks_root)``; with ``overwrite=False`` an existing mask is
    kept and the item skipped. ``progress(done, total)`` is called after each annotation file.

    Pairing annotations with images -- never reading or writing outside the roots:

    * LabelMe: ``imagePath`` is relative to the JSON file (``\\`` accepted as a separator). It
      is used when it resolves -- lexically AND after following links -- to an image file inside
      ``image_root``. Otherwise (missing, not found, or outside the root: refused), the image is
      the one inside ``image_root`` whose stem equals the JSON's stem, in the folder whose path
      relative to ``image_root`` equals the JSON's folder relative to ``src``; it must be unique.
    * COCO: ``file_name`` relative to ``image_root`` (same containment rule), else the unique
      image in ``image_root`` (recursive, hidden folders skipped) with that base name.
    * Images in hidden folders (e.g. ``.leakview``) or without a scanned extension are skipped.
    * The mask shape is the image's ``(H, W)`` as leakview loads it, read from the header with
      EXIF orientation applied (orientations 5-8 swap width and height; LabelMe records the
      oriented size too). A recorded ``imageHeight/imageWidth`` (COCO ``height/width``) that
      differs skips the item with both sizes in the reason.
    * An item with no selected area shape / instance, or whose annotations are invalid
      (:class:`MaskError`), is skipped with the reason; a second annotation for an image
      already written in this run is skipped, not merged.

    Raises :class:`MaskError` when ``src`` or ``image_root`` does not exist, ValueError for an
    unknown ``fmt``.
    """
    if fmt not in ("labelme", "coco"):
        raise ValueError(f"fmt must be 'labelme' or 'coco', got {fmt!r}")
    image_root = Path(image_root)
    if not image_root.is_dir():
        raise MaskError(image_root, "the image root is not a folder")
    src = Path(src)
    src_dir, files = _json_files(src)
    src_dir = Path(os.path.abspath(src_dir))
    roots = _Roots(image_root)
    report = ImportReport(Path(masks_root) if masks_root is not None
                          else default_masks_root(image_root))
    done: dict[str, str] = {}

    def save(item: str, relative: str, mask: np.ndarray) -> None:
        if relative in done:
            raise _Skip(f"the mask of {relative} was already written from {done[relative]}")
        destination = mask_path(image_root, relative, masks_root)
        check_mask_destination(destination, image_root, masks_root)
        if not overwrite and destination.exists():
            raise _Skip(f"mask of {relative} exists (not overwritten)")
        try:
            write_mask(destination, mask)
        except OSError as error:
            raise _Skip(f"cannot write {destination} ({error.strerror or error})") from None
        done[relative] = item
        report.written.append(relative)

    for number, json_file in enumerate(files, start=1):
        json_file = Path(os.path.abspath(json_file))
        item = json_file.relative_to(src_dir).as_posix()
        try:
            data = load_json(json_file)
            if fmt == "labelme":
                if not isinstance(data, dict):
                    raise MaskError(json_file, "not a LabelMe file (a JSON object is expected)")
                relative = _labelme_target(data, json_file, src_dir, roots)
                height, width = _image_hw(roots.lexical / relative)
                recorded = labelme_recorded_shape(data, json_file)
                if recorded is not None and recorded != (height, width):
                    raise _Skip(f"the file records {recorded[1]}x{recorded[0]} but {relative} "
                                f"is {width}x{height} (width x height)")
                parsed = parse_labelme(data, json_file, (height, width), labels)
                if parsed.used == 0:
                    raise _Skip("no polygon, rectangle, circle or mask shape"
                                + (" with the selected labels" if labels is not None else ""))
                save(item, relative, parsed.mask)
            else:
                images = parse_coco_images(data, json_file, labels, include_crowd=True)
                if not images:
                    raise _Skip("no annotated images" + (" with the selected categories"
                                                         if labels is not None else ""))
                for image in images:
                    sub_item = f"{item}: {image.file_name}"
                    try:
                        relative = _coco_target(image.file_name, roots)
                        height, width = _image_hw(roots.lexical / relative)
                        if (image.height, image.width) != (height, width):
                            raise _Skip(f"the file records {image.width}x{image.height} but "
                                        f"{relative} is {width}x{height} (width x height)")
                        save(sub_item, relative, coco_image_mask(image, json_file))
                    except _Skip as skip:
                        report.skipped.append((sub_item, str(skip)))
                    except MaskError as error:
                        report.skipped.append((sub_item, error.reason))
        except _Skip as skip:
            report.skipped.append((item, str(skip)))
        except MaskError as error:
            report.skipped.append((item, error.reason))
        if progress is not None:
            progress(number, len(files))
    return report
