"""Folder import of LabelMe / COCO annotations as leakview region masks (:func:`import_masks`,
with :func:`plan_import` to see first which images already have a mask; labels go to region
kinds by a :class:`~leakview.masks.kindmap.KindMap`; images are found by
:mod:`~leakview.masks.pairing`). Every write is checked
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
from leakview.layout import (
    EXPECTED,
    REGION_KINDS,
    default_masks_root,
    region_path,
)
from leakview.masks.coco import CocoImage, coco_image_masks, parse_coco_images
from leakview.masks.jsonvalid import label_set, load_json
from leakview.masks.kindmap import DEFAULT_KIND_MAP, KindMap
from leakview.masks.labelme import LABELME_AREA_TYPES, labelme_recorded_shape, parse_labelme
from leakview.masks.pairing import (
    ImageRoots,
    SkipItem,
    annotation_files,
    coco_target,
    image_hw,
    labelme_target,
)
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
    """What :func:`import_masks` did: images that got a region file (``written_kinds``: which
    kinds; ``replaced``: those that had that file before), items skipped and why, and the
    labels the kind map did not import (shape counts)."""

    masks_root: Path
    written: list[str] = field(default_factory=list)          # image paths relative to root
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source item, reason)
    replaced: list[str] = field(default_factory=list)         # written over an existing file
    existing: str = "refuse"                                   # the policy it ran with
    written_kinds: dict[str, list[str]] = field(default_factory=dict)   # image -> kinds
    replaced_kinds: dict[str, list[str]] = field(default_factory=dict)  # image -> kinds
    unmapped: dict[str, int] = field(default_factory=dict)    # label -> shapes not imported

    def add(self, relative: str, kind: str, replaced: bool) -> None:
        """Record that the ``kind`` region file of ``relative`` was written."""
        if relative not in self.written_kinds:
            self.written.append(relative)
        self.written_kinds.setdefault(relative, []).append(kind)
        if replaced:
            if relative not in self.replaced_kinds:
                self.replaced.append(relative)
            self.replaced_kinds.setdefault(relative, []).append(kind)

    @property
    def n_written(self) -> int:
        return len(self.written)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        """Human-readable multi-line summary (what the CLI prints)."""
        per_kind = {kind: sum(kind in kinds for kinds in self.written_kinds.values())
                    for kind in REGION_KINDS}
        files = sum(per_kind.values())
        if files == per_kind[EXPECTED]:
            lines = [f"written {files} mask{'s' if files != 1 else ''} under {self.masks_root}"]
        else:
            lines = [f"written {files} mask{'s' if files != 1 else ''} ("
                     + ", ".join(f"{count} {kind}" for kind, count in per_kind.items() if count)
                     + f") of {self.n_written} image{'s' if self.n_written != 1 else ''} "
                     f"under {self.masks_root}"]
        if self.replaced:
            how = "merged into" if self.existing == "merge" else "replacing"
            lines[0] += f" ({how} {len(self.replaced)} existing)"
        if self.unmapped:
            count = sum(self.unmapped.values())
            lines.append(f"not imported: {count} shape{'s' if count != 1 else ''} whose label "
                         "the kind map does not list ("
                         + ", ".join(f"{label or '(no label)'} {n}"
                                     for label, n in sorted(self.unmapped.items())) + ")")
        if self.skipped:
            lines.append(f"skipped {self.n_skipped}:")
            lines.extend(f"  {item}: {reason}" for item, reason in self.skipped)
        return "\n".join(lines)


@dataclass
class ImportPlan:
    """What an import would touch (:func:`plan_import`): the images its annotations give a
    region to (``kinds``: of which kinds), and those of them whose region file of one of those
    kinds exists (``existing_kinds``: which)."""

    covered: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    kinds: dict[str, list[str]] = field(default_factory=dict)
    existing_kinds: dict[str, list[str]] = field(default_factory=dict)


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


Built = tuple[dict[str, np.ndarray], dict[str, int]]
"""What an annotation rasterises to: a mask per region kind, and the labels not imported."""


@dataclass
class _Annotation:
    """One image's annotation: where it came from, the image (relative to the root), the
    region kinds it gives a shape to (known without rasterising) and how to rasterise them
    (raises :class:`SkipItem` or :class:`MaskError`)."""

    item: str
    relative: str
    kinds: tuple[str, ...]
    build: Callable[[], Built]


def _labelme_kinds(data: dict[str, Any], labels: Collection[str] | None,
                   kind_map: KindMap) -> tuple[bool, tuple[str, ...]]:
    """Whether a LabelMe file has an area shape with a selected label, and the region kinds
    those shapes go to, without rasterising (a malformed file: True and every kind the map
    reaches -- parsing it says what is wrong)."""
    shapes = data.get("shapes")
    if not isinstance(shapes, list):
        return True, kind_map.kinds()
    selected = label_set(labels)
    found, kinds = False, set()
    for shape in shapes:
        if not isinstance(shape, dict):
            return True, kind_map.kinds()
        kind = shape.get("shape_type")
        kind = "polygon" if kind is None else kind
        label = shape.get("label")
        label = "" if label is None else label
        if not isinstance(kind, str) or not isinstance(label, str):
            return True, kind_map.kinds()
        if kind in LABELME_AREA_TYPES and (selected is None or label in selected):
            found = True
            region = kind_map.kind_of(label)
            if region is not None:
                kinds.add(region)
    return found, tuple(kind for kind in REGION_KINDS if kind in kinds)


def _no_shape(labels: Collection[str] | None) -> SkipItem:
    return SkipItem("no polygon, rectangle, circle or mask shape"
                 + (" with the selected labels" if labels is not None else ""))


def _labelme_annotation(data: Any, json_file: Path, item: str, src_dir: Path, roots: ImageRoots,
                        labels: Collection[str] | None, kind_map: KindMap) -> _Annotation:
    if not isinstance(data, dict):
        raise MaskError(json_file, "not a LabelMe file (a JSON object is expected)")
    relative = labelme_target(data, json_file, src_dir, roots)
    found, kinds = _labelme_kinds(data, labels, kind_map)
    if not found:
        raise _no_shape(labels)

    def build() -> Built:
        height, width = image_hw(roots.lexical / relative)
        recorded = labelme_recorded_shape(data, json_file)
        if recorded is not None and recorded != (height, width):
            raise SkipItem(f"the file records {recorded[1]}x{recorded[0]} but {relative} "
                        f"is {width}x{height} (width x height)")
        parsed = parse_labelme(data, json_file, (height, width), labels, kind_map)
        if parsed.used == 0 and not parsed.unmapped:
            raise _no_shape(labels)
        return parsed.masks, parsed.unmapped
    return _Annotation(item, relative, kinds, build)


def _coco_annotation(image: CocoImage, json_file: Path, item: str, roots: ImageRoots,
                     kind_map: KindMap) -> _Annotation:
    relative = coco_target(image.file_name, roots)

    def build() -> Built:
        height, width = image_hw(roots.lexical / relative)
        if (image.height, image.width) != (height, width):
            raise SkipItem(f"the file records {image.width}x{image.height} but {relative} is "
                        f"{width}x{height} (width x height)")
        return coco_image_masks(image, json_file, kind_map)
    return _Annotation(item, relative, tuple(k for k in REGION_KINDS
                                             if k in image.kinds(kind_map)), build)


def _annotations(files: list[Path], src_dir: Path, fmt: str, roots: ImageRoots,
                 labels: Collection[str] | None, kind_map: KindMap,
                 skipped: list[tuple[str, str]]) -> Iterator[list[_Annotation]]:
    """Per annotation file, the images it annotates (pairing problems go to ``skipped``)."""
    for json_file in files:
        json_file = Path(os.path.abspath(json_file))
        item = json_file.relative_to(src_dir).as_posix()
        found: list[_Annotation] = []
        try:
            data = load_json(json_file)
            if fmt == "labelme":
                found.append(_labelme_annotation(data, json_file, item, src_dir, roots, labels,
                                                 kind_map))
            else:
                images = parse_coco_images(data, json_file, labels, include_crowd=True)
                if not images:
                    raise SkipItem("no annotated images" + (" with the selected categories"
                                                         if labels is not None else ""))
                for image in images:
                    sub_item = f"{item}: {image.file_name}"
                    try:
                        found.append(_coco_annotation(image, json_file, sub_item, roots,
                                                      kind_map))
                    except SkipItem as skip:
                        skipped.append((sub_item, str(skip)))
        except SkipItem as skip:
            skipped.append((item, str(skip)))
        except MaskError as error:
            skipped.append((item, error.reason))
        yield found


def _sources(src: str | os.PathLike[str], fmt: str,
             image_root: str | os.PathLike[str]) -> tuple[Path, list[Path], ImageRoots]:
    if fmt not in ("labelme", "coco"):
        raise ValueError(f"fmt must be 'labelme' or 'coco', got {fmt!r}")
    if not Path(image_root).is_dir():
        raise MaskError(image_root, "the image root is not a folder")
    src_dir, files = annotation_files(Path(src))
    return Path(os.path.abspath(src_dir)), files, ImageRoots(Path(image_root))


def plan_import(src: str | os.PathLike[str], fmt: str, image_root: str | os.PathLike[str],
                masks_root: str | os.PathLike[str] | None = None,
                labels: Collection[str] | None = None,
                kind_map: KindMap | None = None) -> ImportPlan:
    """Which images an import of ``src`` would give a region to (and of which kinds), and
    which of those region files exist already -- read from the annotations and the file
    system, nothing rasterised or written.

    Pairing is :func:`import_masks`'s; an item that only fails when rasterised (bad geometry,
    a recorded size that differs from the image) still counts as covered. Raises like
    :func:`import_masks`.
    """
    kind_map = DEFAULT_KIND_MAP if kind_map is None else kind_map
    src_dir, files, roots = _sources(src, fmt, image_root)
    plan = ImportPlan()
    for found in _annotations(files, src_dir, fmt, roots, labels, kind_map, []):
        for annotation in found:
            if annotation.kinds and annotation.relative not in plan.kinds:
                plan.kinds[annotation.relative] = list(annotation.kinds)
                plan.covered.append(annotation.relative)
    for relative in plan.covered:
        having = [kind for kind in plan.kinds[relative]
                  if region_path(image_root, relative, kind, masks_root).exists()]
        if having:
            plan.existing.append(relative)
            plan.existing_kinds[relative] = having
    return plan


def import_masks(src: str | os.PathLike[str], fmt: str, image_root: str | os.PathLike[str],
                 masks_root: str | os.PathLike[str] | None = None,
                 labels: Collection[str] | None = None, existing: str = "refuse",
                 backup_dir: str | os.PathLike[str] | None = None,
                 progress: Callable[[int, int], Any] | None = None,
                 kind_map: KindMap | None = None) -> ImportReport:
    """Import LabelMe or COCO annotations under ``src`` as region masks for ``image_root``.

    ``src``: one ``.json`` file, or a folder searched recursively for ``*.json`` (hidden
    folders skipped). ``fmt``: ``"labelme"`` or ``"coco"``. ``labels``: LabelMe labels or COCO
    category names to keep (default: all). ``kind_map``: which region kind each kept label goes
    to (default :data:`~leakview.masks.kindmap.DEFAULT_KIND_MAP`: ``suspect`` to the suspect
    region, the rest to the expected one); a label the map does not import is counted in
    ``ImportReport.unmapped``. Each kind's union is written (atomically, 0/255 PNG) to
    ``region_path(image_root, image, kind, masks_root)``. ``progress(done, total)`` is called
    after each annotation file.

    A region file that exists already (hand-drawn, or imported before), by ``existing`` --
    the same for every kind, each kind's file on its own:

    * ``"refuse"`` (default): if any region file the annotations would write exists
      (:func:`plan_import`), raise :class:`ExistingMasks` naming the images before anything is
      written;
    * ``"skip"``: keep it, skip that region of the item (the reason says so);
    * ``"overwrite"``: replace it with the imported region;
    * ``"merge"``: write the union of both (an existing file that cannot be read, or has
      another size, is kept and that region skipped).

    With ``backup_dir`` every region file that is replaced (overwrite / merge) is first copied
    to ``region_path(image_root, image, kind, backup_dir)`` (atomically; when that fails the
    region is skipped, never replaced without its copy): the app's undo restores it from
    there. ``ImportReport.replaced`` lists the images one of whose files was replaced
    (``replaced_kinds`` which).

    Pairing annotations with images -- never reading or writing outside the roots:

    * LabelMe: ``imagePath`` is relative to the JSON file (``\\`` accepted as a separator). It
      is used when it resolves -- lexically AND after following links -- to an image file inside
      ``image_root``. Otherwise (missing, not found, or outside the root: refused), the image is
      the one inside ``image_root`` whose stem (or whole name: ``x.png.json`` -> ``x.png``)
      equals the JSON's stem, in the folder whose path relative to ``image_root`` equals the
      JSON's folder relative to ``src``; it must be unique.
    * COCO: ``file_name`` relative to ``image_root`` (same containment rule), else the unique
      image in ``image_root`` (recursive, hidden folders skipped) with that base name.
    * Images in hidden folders (e.g. ``.leakview``) or without a scanned extension are skipped.
    * The mask shape is the image's ``(H, W)`` as leakview loads it, read from the header with
      EXIF orientation applied (orientations 5-8 swap width and height; LabelMe records the
      oriented size too). A recorded ``imageHeight/imageWidth`` (COCO ``height/width``) that
      differs skips the item with both sizes in the reason.
    * An item with no selected area shape / instance, or whose annotations are invalid
      (:class:`MaskError`), or whose shapes cover no pixel of the image (no mask is no file),
      is skipped with the reason; a second annotation for a region already written in this
      run is skipped, not merged.

    Raises :class:`MaskError` when ``src`` or ``image_root`` does not exist (its subclass
    :class:`ExistingMasks` as above), ValueError for an unknown ``fmt`` or ``existing``.
    """
    if existing not in EXISTING_POLICIES:
        raise ValueError(f"existing must be one of {', '.join(EXISTING_POLICIES)}, "
                         f"got {existing!r}")
    kind_map = DEFAULT_KIND_MAP if kind_map is None else kind_map
    src_dir, files, roots = _sources(src, fmt, image_root)
    image_root = Path(image_root)
    report = ImportReport(Path(masks_root) if masks_root is not None
                          else default_masks_root(image_root), existing=existing)
    if existing == "refuse":
        plan = plan_import(src, fmt, image_root, masks_root, labels, kind_map)
        if plan.existing:
            raise ExistingMasks(report.masks_root, plan.existing)
    done: dict[tuple[str, str], str] = {}

    def save(annotation: _Annotation) -> None:
        relative = annotation.relative
        todo: list[tuple[str, Path, bool]] = []         # kind, destination, had a file
        for kind in annotation.kinds:
            if (relative, kind) in done:
                report.skipped.append((annotation.item, f"{_region_name(kind, relative)} was "
                                       f"already written from {done[relative, kind]}"))
                continue
            destination = region_path(image_root, relative, kind, masks_root)
            check_mask_destination(destination, image_root, masks_root)
            had_mask = destination.exists()
            if had_mask and existing in ("skip", "refuse"):
                report.skipped.append((annotation.item,
                                       f"{_region_name(kind, relative)} exists (kept)"))
                continue
            todo.append((kind, destination, had_mask))
        if not todo and annotation.kinds:
            return
        masks, unmapped = annotation.build()
        for label, count in unmapped.items():
            report.unmapped[label] = report.unmapped.get(label, 0) + count
        if not masks:
            raise SkipItem("no shape whose label the kind map imports ("
                        + ", ".join(sorted(unmapped)) + ")")
        for kind, destination, had_mask in todo:
            try:
                _save_region(masks.get(kind), kind, relative, destination, had_mask)
            except SkipItem as skip:
                report.skipped.append((annotation.item, str(skip)))
                continue
            done[relative, kind] = annotation.item
            report.add(relative, kind, had_mask)

    def _save_region(mask: np.ndarray | None, kind: str, relative: str, destination: Path,
                     had_mask: bool) -> None:
        what = _region_name(kind, relative)
        if mask is None or not mask.any():
            raise SkipItem(f"the shapes cover no pixel of {relative}" if kind == EXPECTED
                        else f"the {kind} shapes cover no pixel of {relative}")
        if had_mask and existing == "merge":
            try:
                mask = mask | read_mask(destination, mask.shape)
            except MaskError as error:
                raise SkipItem(f"cannot merge into {what}: {error.reason} (kept)") from None
        try:
            if had_mask and backup_dir is not None:
                _back_up(destination, region_path(image_root, relative, kind, backup_dir),
                         image_root, backup_dir)
            write_mask(destination, mask)
        except OSError as error:
            raise SkipItem(f"cannot write {error.filename or destination} "
                        f"({error.strerror or error})") from None

    for number, found in enumerate(_annotations(files, src_dir, fmt, roots, labels, kind_map,
                                                report.skipped), start=1):
        for annotation in found:
            try:
                save(annotation)
            except SkipItem as skip:
                report.skipped.append((annotation.item, str(skip)))
            except MaskError as error:
                report.skipped.append((annotation.item, error.reason))
        if progress is not None:
            progress(number, len(files))
    return report


def _region_name(kind: str, relative: str) -> str:
    """``the mask of a.png`` (expected) / ``the suspect region of a.png``."""
    return f"the mask of {relative}" if kind == EXPECTED else f"the {kind} region of {relative}"


def _back_up(mask_file: Path, copy: Path, image_root: Path,
             backup_dir: str | os.PathLike[str]) -> None:
    """Copy ``mask_file`` to ``copy`` (inside ``backup_dir``, no link leading out)."""
    check_mask_destination(copy, image_root, backup_dir)
    atomic_write_bytes(copy, mask_file.read_bytes())
