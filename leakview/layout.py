"""Where things live in an image folder: which files are images, their order, their relative
names and true labels, and the ``.leakview/`` folder beside them (the region masks).

The one place these rules are written (DESIGN.md, "Data formats"). Nothing here opens an image.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_FORMATS: dict[str, tuple[str, ...]] = {
    "PNG": ("png", "apng"),
    "JPEG": ("jpg", "jpeg", "jpe", "jfif"),
    "BMP": ("bmp",),
    "DIB": ("dib",),
    "TIFF": ("tif", "tiff"),
    "WEBP": ("webp",),
    "GIF": ("gif",),
    "PPM": ("ppm", "pgm", "pbm", "pnm", "pfm"),
}
"""The one list of image formats: the Pillow decoders :func:`leakview.images.load_image` lets
near a file, each with the extensions (lower case, no dot) Pillow registers for it, which
:func:`discover_images` lists."""
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    extension for extensions in IMAGE_FORMATS.values() for extension in extensions)
"""Extensions (lower case, no dot) that :func:`discover_images` lists (case-insensitive)."""

LEAKVIEW_DIR = ".leakview"
"""leakview's own folder inside an image folder (hidden, so never scanned as images)."""
MASKS_SUBDIR = "masks"
LEGACY_MARKERS_SUBDIR = "markers"
"""``ROOT/.leakview/markers``: where leakview before the region kinds wrote leak-marker masks
(now suspect regions); only :mod:`leakview.masks.legacy` reads it, to move them."""
EXPECTED, SUSPECT = "expected", "suspect"
REGION_KINDS: tuple[str, ...] = (EXPECTED, SUSPECT)
"""Region kinds: the *expected* region (where the evidence should be: the cargo) and the
*suspect* region (where a shortcut may hide: a corner tag, a timestamp, a watermark)."""
SUSPECT_SUBDIR = ".suspect"
"""Suspect regions live in the masks root's hidden ``.suspect/`` folder, same layout."""
CLEAN_SUBDIR = "clean"
"""A generated data set's marker-free twin (``demo-data --leak``): ``ROOT/.leakview/clean``."""
DATASET_JSON = "dataset.json"
"""How a generated folder was made (demo data, a canary's leaky copy): ``ROOT/.leakview/...``."""

_DIGITS = re.compile(r"([0-9]+)")

# text runs (casefolded) and digit runs as (length, digits), then the text itself
NaturalKey = tuple[tuple[str | tuple[int, str], ...], str]


def natural_sort_key(text: str) -> NaturalKey:
    """Sort key for "human" order: ``img2 < img10``, case-insensitive, ties broken by ``text``.

    Digit runs compare by numeric value (without converting huge runs to int); the original
    string is the last element so the order is total and stable across runs.
    """
    parts = _DIGITS.split(text)
    key: list[str | tuple[int, str]] = []
    for index, part in enumerate(parts):
        if index % 2:  # a run of ASCII digits
            stripped = part.lstrip("0") or "0"
            key.append((len(stripped), stripped))
        else:
            key.append(part.casefold())
    return (tuple(key), text)


def _path_sort_key(relative: str) -> tuple[NaturalKey, ...]:
    """Natural sort key of a ``/``-separated relative path, component by component."""
    return tuple(natural_sort_key(part) for part in relative.split("/"))


def has_image_extension(name: str) -> bool:
    """Whether a file name ends in one of :data:`IMAGE_EXTENSIONS` (and is not only one)."""
    dot = name.rfind(".")
    return dot > 0 and name[dot + 1:].lower() in IMAGE_EXTENSIONS


@dataclass
class FolderListing:
    """Every entry under an image folder, accounted for: the images, the files that are not
    images (their extension is no format's of :data:`IMAGE_FORMATS`) and the hidden entries
    (name starting with ``.``, ``.leakview/`` among them: not entered, each counted once)."""

    root: Path
    images: list[Path] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    """Relative ``/``-separated names, naturally sorted."""
    hidden: list[str] = field(default_factory=list)
    """Relative names of the hidden files and folders, naturally sorted."""

    def skipped_text(self, examples: int = 3) -> str:
        """``"2 files that are not images (notes.txt, a/labels.csv)"`` (a few named), or ``""``
        when every file is an image; hidden entries are not mentioned."""
        count = len(self.not_images)
        if not count:
            return ""
        named = ", ".join(self.not_images[:examples])
        more = f" and {count - examples} more" if count > examples else ""
        what = "files that are not images" if count != 1 else "file that is not an image"
        return f"{count} {what} ({named}{more})"

    def accounting(self, examples: int = 5) -> dict[str, Any]:
        """The counts as plain data (the scan summary's ``files``)."""
        return {"images": len(self.images), "not_images": len(self.not_images),
                "not_images_examples": self.not_images[:examples],
                "hidden": len(self.hidden), "hidden_examples": self.hidden[:examples]}


def discover_images(root: str | os.PathLike[str],
                    on_error: Callable[[Path, str], None] | None = None) -> list[Path]:
    """All image files under ``root`` (recursive), naturally sorted by relative path: the
    ``images`` of :func:`list_folder`, which says what the other entries are."""
    return list_folder(root, on_error).images


def list_folder(root: str | os.PathLike[str],
                on_error: Callable[[Path, str], None] | None = None) -> FolderListing:
    """The :class:`FolderListing` of ``root``: its images (recursive), naturally sorted by
    relative path, and the entries that are not.

    Files are recognised by extension only (:data:`IMAGE_EXTENSIONS`, case-insensitive);
    nothing is opened or decoded, and no file is stat-ed beyond what ``os.scandir`` gives.
    Entries whose name starts with ``.`` (files and folders, e.g. ``.leakview/``) are
    hidden: listed in ``hidden``, not entered. Other files without an image extension are
    listed in ``not_images``. Directory symlinks are followed, but a folder already visited
    (same real path) is not entered again, so link loops end. Broken symlinks with an image
    extension are listed (they fail in :func:`leakview.images.load_image` with a clear
    reason). A sub-folder that cannot be read is skipped and reported through
    ``on_error(folder, reason)`` when given.

    Raises FileNotFoundError / NotADirectoryError / PermissionError for a bad ``root``.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"image folder does not exist: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    try:
        with os.scandir(root):
            pass
    except PermissionError:
        raise PermissionError(f"cannot read image folder {root}: permission denied") from None

    found: list[str] = []
    not_images: list[str] = []
    hidden: list[str] = []
    visited = {os.path.normcase(os.path.realpath(root))}
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as exc:
            if on_error is not None:
                reason = ("permission denied" if isinstance(exc, PermissionError)
                          else f"cannot read folder ({exc.strerror or exc})")
                on_error(Path(folder), reason)
            continue
        subfolders: list[tuple[str, str]] = []
        for entry in listing:
            name = entry.name
            if name.startswith("."):
                hidden.append(prefix + name)
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks; no stat for plain entries
            except OSError:
                is_dir = False
            if is_dir:
                real = os.path.normcase(os.path.realpath(entry.path))
                if real in visited:
                    continue
                visited.add(real)
                subfolders.append((entry.path, prefix + name + "/"))
            elif has_image_extension(name):
                found.append(prefix + name)
            else:
                not_images.append(prefix + name)
        # Depth-first in natural order, so "first visit wins" is deterministic for links.
        subfolders.sort(key=lambda item: natural_sort_key(item[1]), reverse=True)
        stack.extend(subfolders)
    for names in (found, not_images, hidden):
        names.sort(key=_path_sort_key)
    return FolderListing(root, [root.joinpath(*relative.split("/")) for relative in found],
                         not_images, hidden)


def normalise_root(root: str | os.PathLike[str]) -> Path:
    """``root`` absolute and lexically normalised (``os.path.abspath``: ``data``,
    ``./data/`` and ``sub/../data`` are one folder), so every core function gets the same
    root however the user spelled it. Called once, where a root enters: the command line's
    folder arguments and the window's open folder. Symbolic links are kept, not resolved: a
    folder opened through a link keeps its masks under the link's ``.leakview/``, and
    :func:`leakview.masks.check_mask_destination` judges where links lead."""
    return Path(os.path.abspath(os.fspath(root)))


def relative_name(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """``path`` relative to ``root``, ``/``-separated (the CSV ``image`` column).

    Raises ValueError when ``path`` is not under ``root``.
    """
    path, root = Path(path), Path(root)
    try:
        relative = path.relative_to(root)
    except ValueError:
        try:
            relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
        except ValueError:
            raise ValueError(f"{path} is not inside {root}") from None
    return relative.as_posix()


def true_label(path: str | os.PathLike[str], root: str | os.PathLike[str],
               classes: Collection[str]) -> str | None:
    """ImageFolder rule: the image's parent folder name if it is one of ``classes``, else None.

    An image directly in ``root`` has no label. Raises ValueError when ``path`` is not under
    ``root``.
    """
    parts = relative_name(path, root).split("/")
    if len(parts) < 2:
        return None
    parent = parts[-2]
    return parent if parent in classes else None


def dataset_description(root: str | os.PathLike[str]) -> Path:
    """``ROOT/.leakview/dataset.json``: the description of a generated image folder."""
    return Path(root) / LEAKVIEW_DIR / DATASET_JSON


def default_masks_root(image_root: str | os.PathLike[str], kind: str = MASKS_SUBDIR) -> Path:
    """``ROOT/.leakview/masks`` (or ``ROOT/.leakview/<kind>``)."""
    return Path(image_root) / LEAKVIEW_DIR / kind


def mask_path(image_root: str | os.PathLike[str], image_path: str | os.PathLike[str],
              masks_root: str | os.PathLike[str] | None = None) -> Path:
    """Where the mask of ``image_path`` (inside ``image_root``, absolute or relative to it) is
    stored: ``MASKS_ROOT/<relative path>.png``, the masks root defaulting to
    ``ROOT/.leakview/masks``. Raises ValueError for a path outside the root."""
    root = Path(image_root)
    relative = Path(image_path)
    if relative.is_absolute():
        try:
            relative = relative.relative_to(root)
        except ValueError:
            raise ValueError(f"{image_path} is not inside the image root {root}") from None
    if ".." in relative.parts:
        raise ValueError(f"{image_path} escapes the image root {root}")
    base = Path(masks_root) if masks_root is not None else default_masks_root(root)
    return base / relative.parent / (relative.name + ".png")


def check_region_kind(kind: str) -> str:
    """``kind`` when it is one of :data:`REGION_KINDS`; ValueError naming them otherwise."""
    if kind not in REGION_KINDS:
        raise ValueError(f"unknown region kind {kind!r} (expected one of "
                         f"{', '.join(REGION_KINDS)})")
    return kind


def region_root(image_root: str | os.PathLike[str], kind: str = EXPECTED,
                masks_root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the ``kind`` region masks: the masks root (default
    ``ROOT/.leakview/masks``) for the expected region, its ``.suspect/`` for the suspect one."""
    base = Path(masks_root) if masks_root is not None else default_masks_root(image_root)
    return base if check_region_kind(kind) == EXPECTED else base / SUSPECT_SUBDIR


def region_path(image_root: str | os.PathLike[str], image_path: str | os.PathLike[str],
                kind: str = EXPECTED, masks_root: str | os.PathLike[str] | None = None) -> Path:
    """Where the ``kind`` region mask of ``image_path`` is stored (:func:`mask_path` under
    :func:`region_root`): ``ROOT/.leakview/masks/a/b.jpg.png`` (expected),
    ``ROOT/.leakview/masks/.suspect/a/b.jpg.png`` (suspect)."""
    return mask_path(image_root, image_path, region_root(image_root, kind, masks_root))


def region_names(image_root: str | os.PathLike[str], kind: str = EXPECTED,
                 masks_root: str | os.PathLike[str] | None = None) -> set[str]:
    """The relative names (``/``-separated) of the images whose ``kind`` region file exists:
    one walk of :func:`region_root` (hidden folders skipped), the inverse of
    :func:`region_path`, so that a list of 10,000 images knows which have a mask without a
    file check per image."""
    base = region_root(image_root, kind, masks_root)
    names: set[str] = set()
    for folder, subfolders, files in os.walk(base):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        prefix = Path(folder).relative_to(base).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        names.update(prefix + name[:-4] for name in files if name.endswith(".png"))
    return names
