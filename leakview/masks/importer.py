"""Folder import of LabelMe / COCO annotations as leakview masks (:func:`import_masks`, with
:func:`plan_import` to see first which images already have a mask). Every write is checked
with :func:`~leakview.masks.store.check_mask_destination` (re-exported here), the containment
(security) rule of every mask writer.

:func:`import_masks`'s docstring says how annotation files are paired with images, what
happens to an image that already has a mask (``existing``) and why no annotation can make
leakview read or write outside the image and masks roots.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from leakview.atomic import atomic_write_bytes
from leakview.images import ImageLoadError, image_size
from leakview.layout import default_masks_root, has_image_extension, mask_path
from leakview.masks.coco import CocoImage, coco_image_mask, parse_coco_images
from leakview.masks.jsonvalid import json_type_name, label_set, load_json
from leakview.masks.labelme import LABELME_AREA_TYPES, labelme_recorded_shape, parse_labelme
from leakview.masks.raster import MAX_MASK_PIXELS
from leakview.masks.store import MaskError, check_mask_destination, read_mask, write_mask

__all__ = ["EXISTING_POLICIES", "IMPORT_BACKUPS", "ExistingMasks", "ExistingPolicy",
           "ImportPlan", "ImportReport", "check_mask_destination", "import_masks",
           "plan_import"]

ExistingPolicy = Literal["refuse", "overwrite", "skip", "merge"]
"""What :func:`import_masks` does with an image that already has a mask file."""
EXISTING_POLICIES: tuple[str, ...] = get_args(ExistingPolicy)

IMPORT_BACKUPS = ".import-backups"
"""Hidden folder of a masks root where the app keeps, per import, the masks it replaced (so
that undo can restore them)."""


@dataclass
class ImportReport:
    """What :func:`import_masks` did: images whose mask was written (``replaced``: those of
    them that had a mask before), items skipped and why."""

    masks_root: Path
    written: list[str] = field(default_factory=list)          # image paths relative to root
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source item, reason)
    replaced: list[str] = field(default_factory=list)         # written over an existing mask
    existing: str = "refuse"                                   # the policy it ran with

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
        if self.replaced:
            how = "merged into" if self.existing == "merge" else "replacing"
            lines[0] += f" ({how} {len(self.replaced)} existing)"
        if self.skipped:
            lines.append(f"skipped {self.n_skipped}:")
            lines.extend(f"  {item}: {reason}" for item, reason in self.skipped)
        return "\n".join(lines)


@dataclass
class ImportPlan:
    """What an import would touch (:func:`plan_import`): the images its annotations give a
    mask to, and those of them that already have a mask file."""

    covered: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


class ExistingMasks(MaskError):
    """``import_masks(existing="refuse")`` met images that already have a mask; nothing was
    written. ``images``: their paths relative to the image root."""

    def __init__(self, masks_root: str | os.PathLike[str], images: Collection[str]) -> None:
        self.images = list(images)
        count = len(self.images)
        names = ", ".join(self.images[:3]) + (", ..." if count > 3 else "")
        super().__init__(masks_root, f"{count} image{'s' if count != 1 else ''} already "
                         f"{'have a mask' if count != 1 else 'has a mask'} ({names}); nothing "
                         "was written: choose overwrite, skip or merge")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.images))


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


@dataclass
class _Annotation:
    """One image's annotation: where it came from, the image (relative to the root) and how
    to rasterise its mask (raises :class:`_Skip` or :class:`MaskError`)."""

    item: str
    relative: str
    build: Callable[[], np.ndarray]


def _selects_area_shape(data: dict[str, Any], labels: Collection[str] | None) -> bool:
    """Whether a LabelMe file has an area shape with a selected label, without rasterising
    (True for a malformed file: parsing it says why)."""
    shapes = data.get("shapes")
    if not isinstance(shapes, list):
        return True
    selected = label_set(labels)
    for shape in shapes:
        if not isinstance(shape, dict):
            return True
        kind = shape.get("shape_type")
        kind = "polygon" if kind is None else kind
        label = shape.get("label")
        label = "" if label is None else label
        if not isinstance(kind, str) or not isinstance(label, str):
            return True
        if kind in LABELME_AREA_TYPES and (selected is None or label in selected):
            return True
    return False


def _no_shape(labels: Collection[str] | None) -> _Skip:
    return _Skip("no polygon, rectangle, circle or mask shape"
                 + (" with the selected labels" if labels is not None else ""))


def _labelme_annotation(data: Any, json_file: Path, item: str, src_dir: Path, roots: _Roots,
                        labels: Collection[str] | None) -> _Annotation:
    if not isinstance(data, dict):
        raise MaskError(json_file, "not a LabelMe file (a JSON object is expected)")
    relative = _labelme_target(data, json_file, src_dir, roots)
    if not _selects_area_shape(data, labels):
        raise _no_shape(labels)

    def build() -> np.ndarray:
        height, width = _image_hw(roots.lexical / relative)
        recorded = labelme_recorded_shape(data, json_file)
        if recorded is not None and recorded != (height, width):
            raise _Skip(f"the file records {recorded[1]}x{recorded[0]} but {relative} "
                        f"is {width}x{height} (width x height)")
        parsed = parse_labelme(data, json_file, (height, width), labels)
        if parsed.used == 0:
            raise _no_shape(labels)
        return parsed.mask
    return _Annotation(item, relative, build)


def _coco_annotation(image: CocoImage, json_file: Path, item: str,
                     roots: _Roots) -> _Annotation:
    relative = _coco_target(image.file_name, roots)

    def build() -> np.ndarray:
        height, width = _image_hw(roots.lexical / relative)
        if (image.height, image.width) != (height, width):
            raise _Skip(f"the file records {image.width}x{image.height} but {relative} is "
                        f"{width}x{height} (width x height)")
        return coco_image_mask(image, json_file)
    return _Annotation(item, relative, build)


def _annotations(files: list[Path], src_dir: Path, fmt: str, roots: _Roots,
                 labels: Collection[str] | None,
                 skipped: list[tuple[str, str]]) -> Iterator[list[_Annotation]]:
    """Per annotation file, the images it annotates (pairing problems go to ``skipped``)."""
    for json_file in files:
        json_file = Path(os.path.abspath(json_file))
        item = json_file.relative_to(src_dir).as_posix()
        found: list[_Annotation] = []
        try:
            data = load_json(json_file)
            if fmt == "labelme":
                found.append(_labelme_annotation(data, json_file, item, src_dir, roots, labels))
            else:
                images = parse_coco_images(data, json_file, labels, include_crowd=True)
                if not images:
                    raise _Skip("no annotated images" + (" with the selected categories"
                                                         if labels is not None else ""))
                for image in images:
                    sub_item = f"{item}: {image.file_name}"
                    try:
                        found.append(_coco_annotation(image, json_file, sub_item, roots))
                    except _Skip as skip:
                        skipped.append((sub_item, str(skip)))
        except _Skip as skip:
            skipped.append((item, str(skip)))
        except MaskError as error:
            skipped.append((item, error.reason))
        yield found


def _sources(src: str | os.PathLike[str], fmt: str,
             image_root: str | os.PathLike[str]) -> tuple[Path, list[Path], _Roots]:
    if fmt not in ("labelme", "coco"):
        raise ValueError(f"fmt must be 'labelme' or 'coco', got {fmt!r}")
    if not Path(image_root).is_dir():
        raise MaskError(image_root, "the image root is not a folder")
    src_dir, files = _json_files(Path(src))
    return Path(os.path.abspath(src_dir)), files, _Roots(Path(image_root))


def plan_import(src: str | os.PathLike[str], fmt: str, image_root: str | os.PathLike[str],
                masks_root: str | os.PathLike[str] | None = None,
                labels: Collection[str] | None = None) -> ImportPlan:
    """Which images an import of ``src`` would give a mask to, and which of them already have
    one -- read from the annotations and the file system, nothing rasterised or written.

    Pairing is :func:`import_masks`'s; an item that only fails when rasterised (bad geometry,
    a recorded size that differs from the image) still counts as covered. Raises like
    :func:`import_masks`.
    """
    src_dir, files, roots = _sources(src, fmt, image_root)
    plan = ImportPlan()
    seen: set[str] = set()
    for found in _annotations(files, src_dir, fmt, roots, labels, []):
        for annotation in found:
            if annotation.relative not in seen:
                seen.add(annotation.relative)
                plan.covered.append(annotation.relative)
    plan.existing = [relative for relative in plan.covered
                     if mask_path(image_root, relative, masks_root).exists()]
    return plan


def import_masks(src: str | os.PathLike[str], fmt: str, image_root: str | os.PathLike[str],
                 masks_root: str | os.PathLike[str] | None = None,
                 labels: Collection[str] | None = None, existing: str = "refuse",
                 backup_dir: str | os.PathLike[str] | None = None,
                 progress: Callable[[int, int], Any] | None = None) -> ImportReport:
    """Import LabelMe or COCO annotations under ``src`` as mask PNGs for ``image_root``.

    ``src``: one ``.json`` file, or a folder searched recursively for ``*.json`` (hidden
    folders skipped). ``fmt``: ``"labelme"`` or ``"coco"``. ``labels``: LabelMe labels or COCO
    category names to keep (default: all). Each mask is written (atomically, 0/255 PNG) to
    ``mask_path(image_root, image, masks_root)``. ``progress(done, total)`` is called after
    each annotation file.

    An image that already has a mask file (hand-drawn, or imported before), by ``existing``:

    * ``"refuse"`` (default): if any image the annotations cover has one (:func:`plan_import`),
      raise :class:`ExistingMasks` naming them before anything is written;
    * ``"skip"``: keep its mask, skip the item (the reason says so);
    * ``"overwrite"``: replace it with the imported mask;
    * ``"merge"``: write the union of both (an existing mask that cannot be read, or has
      another size, is kept and the item skipped).

    With ``backup_dir`` every mask that is replaced (overwrite / merge) is first copied to
    ``mask_path(image_root, image, backup_dir)`` (atomically; when that fails the item is
    skipped, never replaced without its copy): the app's undo restores it from there.
    ``ImportReport.replaced`` lists the images whose mask was replaced.

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
      (:class:`MaskError`), or whose shapes cover no pixel of the image (no mask is no file),
      is skipped with the reason; a second annotation for an image already written in this
      run is skipped, not merged.

    Raises :class:`MaskError` when ``src`` or ``image_root`` does not exist (its subclass
    :class:`ExistingMasks` as above), ValueError for an unknown ``fmt`` or ``existing``.
    """
    if existing not in EXISTING_POLICIES:
        raise ValueError(f"existing must be one of {', '.join(EXISTING_POLICIES)}, "
                         f"got {existing!r}")
    src_dir, files, roots = _sources(src, fmt, image_root)
    image_root = Path(image_root)
    report = ImportReport(Path(masks_root) if masks_root is not None
                          else default_masks_root(image_root), existing=existing)
    if existing == "refuse":
        plan = plan_import(src, fmt, image_root, masks_root, labels)
        if plan.existing:
            raise ExistingMasks(report.masks_root, plan.existing)
    done: dict[str, str] = {}

    def save(annotation: _Annotation) -> None:
        relative = annotation.relative
        if relative in done:
            raise _Skip(f"the mask of {relative} was already written from {done[relative]}")
        destination = mask_path(image_root, relative, masks_root)
        check_mask_destination(destination, image_root, masks_root)
        had_mask = destination.exists()
        if had_mask and existing in ("skip", "refuse"):
            raise _Skip(f"the mask of {relative} exists (kept)")
        mask = annotation.build()
        if not mask.any():
            raise _Skip(f"the shapes cover no pixel of {relative}")
        if had_mask and existing == "merge":
            try:
                mask = mask | read_mask(destination, mask.shape)
            except MaskError as error:
                raise _Skip(f"cannot merge into the mask of {relative}: {error.reason} "
                            "(kept)") from None
        try:
            if had_mask and backup_dir is not None:
                _back_up(destination, mask_path(image_root, relative, backup_dir),
                         image_root, backup_dir)
            write_mask(destination, mask)
        except OSError as error:
            raise _Skip(f"cannot write {error.filename or destination} "
                        f"({error.strerror or error})") from None
        done[relative] = annotation.item
        report.written.append(relative)
        if had_mask:
            report.replaced.append(relative)

    for number, found in enumerate(_annotations(files, src_dir, fmt, roots, labels,
                                                report.skipped), start=1):
        for annotation in found:
            try:
                save(annotation)
            except _Skip as skip:
                report.skipped.append((annotation.item, str(skip)))
            except MaskError as error:
                report.skipped.append((annotation.item, error.reason))
        if progress is not None:
            progress(number, len(files))
    return report


def _back_up(mask_file: Path, copy: Path, image_root: Path,
             backup_dir: str | os.PathLike[str]) -> None:
    """Copy ``mask_file`` to ``copy`` (inside ``backup_dir``, no link leading out)."""
    check_mask_destination(copy, image_root, backup_dir)
    atomic_write_bytes(copy, mask_file.read_bytes())
