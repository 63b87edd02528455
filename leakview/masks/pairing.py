"""Pairing annotation files with the images of an image root, never outside it.

:class:`ImageRoots` is the containment (security) rule: a reference is used only when it lies
inside the image root both lexically and after following links. :func:`labelme_target` and
:func:`coco_target` find the image an annotation names (the rules are in
:func:`~leakview.masks.importer.import_masks`'s docstring); a problem that skips the item
raises :class:`SkipItem` with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from leakview.images import ImageLoadError, image_size
from leakview.layout import has_image_extension
from leakview.masks.jsonvalid import json_type_name
from leakview.masks.raster import MAX_MASK_PIXELS
from leakview.masks.store import MaskError

__all__ = ["ImageRoots", "SkipItem", "annotation_files", "coco_target", "image_hw",
           "labelme_target", "normalised_reference"]


class SkipItem(Exception):
    """This annotation item is skipped, for the reason given."""


class ImageRoots:
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


def normalised_reference(base: Path, reference: str) -> Path:
    """``reference`` (``/`` or ``\\`` separated, relative to ``base`` or absolute), normalised."""
    text = reference.replace("\\", "/")
    return Path(os.path.normpath(os.path.join(base, text)))


def image_hw(path: Path) -> tuple[int, int]:
    """``(H, W)`` of the image as leakview loads it (EXIF orientation applied), header only."""
    try:
        width, height = image_size(path)
    except ImageLoadError as error:
        raise SkipItem(f"unreadable image {path.name}: {error.reason}") from None
    if width <= 0 or height <= 0:
        raise SkipItem(f"image {path.name} has zero size")
    if width * height > MAX_MASK_PIXELS:
        raise SkipItem(f"image {path.name} ({width}x{height}) is over the mask pixel limit")
    return height, width


def labelme_target(data: dict[str, Any], json_file: Path, src_dir: Path, roots: ImageRoots) -> str:
    """Relative path (inside the image root) of the image a LabelMe file annotates."""
    refused = ""
    image_path = data.get("imagePath")
    if image_path is not None and not isinstance(image_path, str):
        raise SkipItem(f"imagePath must be a string, got {json_type_name(image_path)}")
    if image_path:
        candidate = normalised_reference(json_file.parent, image_path)
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
            if json_file.stem in (entry.stem, entry.name) and has_image_extension(entry.name):
                relative = roots.contain(Path(os.path.normpath(entry)))
                if relative is not None and roots.usable(relative) is None:
                    matches.append(relative)
    if len(matches) == 1:
        return matches[0]
    where = (folder / json_file.stem).as_posix()
    if matches:
        raise SkipItem(f"{refused}several images named {where}.* ({', '.join(matches)})")
    if image_path and not refused:
        raise SkipItem(f"imagePath {image_path!r} not found in the image root, and no image "
                    f"named {where}.*")
    raise SkipItem(f"{refused}no image named {where}.* in the image root")


def coco_target(file_name: str, roots: ImageRoots) -> str:
    candidate = normalised_reference(roots.lexical, file_name)
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
        raise SkipItem(f"{refused}not found at its path and several images are named {name!r}")
    raise SkipItem(f"{refused}no image {file_name!r} in the image root")


def annotation_files(src: Path) -> tuple[Path, list[Path]]:
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
