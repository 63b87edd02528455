"""``leakview masks import SRC --format labelme|coco --root DIR``: annotations to region masks;
``leakview masks export --root DIR --format labelme|coco --out OUT``: region masks back to
annotation files."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from leakview.cli import CommandError
from leakview.commands import argtypes

if TYPE_CHECKING:
    from leakview.masks import ExistingMasks, KindMap
    from leakview.progress import ProgressBar


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "masks", help="manage region masks (import / export LabelMe and COCO annotations)",
        description="Manage the region masks (expected and suspect) stored under "
                    "DIR/.leakview/masks.")
    actions = parser.add_subparsers(dest="masks_action", metavar="ACTION", required=True)

    importer = actions.add_parser(
        "import", help="turn LabelMe or COCO annotations into mask PNGs",
        description=(
            "Read LabelMe JSON files (SRC = a file or a folder, searched recursively) or COCO "
            "instance JSON files, rasterise the selected shapes and write one mask PNG per image "
            "of DIR (atomically). Annotations that point outside DIR are refused. Prints what "
            "was written and what was skipped, with reasons. When images the annotations cover "
            "already have a mask (hand-drawn in the app, or imported before), nothing is "
            "written unless --existing says what to do with them: the command names how many "
            "and exits with status 1. Exit status 0 when at least one mask was written, 1 "
            "otherwise."))
    importer.add_argument("src", help="annotation file, or folder of annotation files")
    importer.add_argument("--format", dest="fmt", required=True, choices=("labelme", "coco"),
                          help="annotation format")
    importer.add_argument("--root", required=True, type=argtypes.root,
                          help="image folder the annotations belong to")
    importer.add_argument("--masks", type=argtypes.root,
                          help="masks root (default: ROOT/.leakview/masks)")
    importer.add_argument("--labels",
                          help="comma-separated LabelMe labels / COCO category names to keep "
                               "(default: all)")
    importer.add_argument(
        "--kind-map", type=kind_map, metavar="LABEL=KIND,...",
        help="which region kind (expected, suspect) each label / category goes to, e.g. "
             "cargo=expected,tag=suspect; labels not listed are not imported (counted), "
             "'expected' and 'suspect' go to themselves (default: 'suspect' to suspect, "
             "everything else to expected)")
    importer.add_argument(
        "--existing", choices=("overwrite", "skip", "merge"),
        help="what to do with an image that already has a mask: overwrite = replace it, "
             "skip = keep it (the image is skipped), merge = the union of both "
             "(default: write nothing and say how many have one)")
    importer.add_argument("--no-overwrite", dest="existing", action="store_const",
                          const="skip", help="the same as --existing skip")
    importer.set_defaults(func=run_import)

    exporter = actions.add_parser(
        "export", help="write the region masks as LabelMe or COCO annotations",
        description=(
            "Write the region masks of DIR (both kinds unless --kinds says) as annotations: "
            "LabelMe = one JSON per image under OUT (OUT/<folder>/<stem>.json, each region as "
            "pixel-exact 'mask' shapes, imagePath pointing at the image), COCO = one instances "
            "JSON file OUT (RLE segmentations, one category per kind). A region's label is its "
            "kind's name unless --kind-map gives the kind one. Existing output is not "
            "replaced unless --overwrite. Exit status 0 when a region was exported, 1 "
            "otherwise."))
    exporter.add_argument("--root", required=True, type=argtypes.root,
                          help="image folder whose masks to export")
    exporter.add_argument("--masks", type=argtypes.root,
                          help="masks root (default: ROOT/.leakview/masks)")
    exporter.add_argument("--format", dest="fmt", required=True, choices=("labelme", "coco"),
                          help="annotation format")
    exporter.add_argument("--out", required=True,
                          help="output folder (labelme) or JSON file (coco)")
    exporter.add_argument("--kinds", type=region_kinds, default=None, metavar="KIND,...",
                          help="region kinds to export (default: expected,suspect)")
    exporter.add_argument("--kind-map", type=kind_map, metavar="LABEL=KIND,...",
                          help="the label each kind is written under, e.g. "
                               "cargo=expected,tag=suspect (default: the kind's name)")
    exporter.add_argument("--overwrite", action="store_true",
                          help="replace existing output files")
    exporter.set_defaults(func=run_export, parser=exporter)


def kind_map(text: str) -> KindMap:
    """``--kind-map``: :meth:`leakview.masks.KindMap.parse` as an argparse type."""
    from leakview.masks import KindMap

    try:
        return KindMap.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def region_kinds(text: str) -> list[str]:
    """``--kinds``: a comma-separated list of region kinds."""
    from leakview.masks import REGION_KINDS

    kinds = [part.strip() for part in text.split(",") if part.strip()]
    for kind in kinds:
        if kind not in REGION_KINDS:
            raise argparse.ArgumentTypeError(f"unknown region kind {kind!r} (expected one of "
                                             f"{', '.join(REGION_KINDS)})")
    if not kinds:
        raise argparse.ArgumentTypeError("no region kind given")
    return kinds


class _Progress:
    """A ProgressBar on stderr, made at the first call (when the total is known)."""

    def __init__(self, label: str, unit: str) -> None:
        self.label, self.unit = label, unit
        self.bar: ProgressBar | None = None

    def __call__(self, done: int, total: int) -> None:
        from leakview.progress import ProgressBar

        if self.bar is None:
            self.bar = ProgressBar(total, self.label, unit=self.unit)
        self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def parse_labels(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None or only blanks -> None (all labels)."""
    if text is None:
        return None
    labels = [part.strip() for part in text.split(",") if part.strip()]
    return labels or None


def existing_masks_message(error: ExistingMasks) -> str:
    """The refusal of an import that would replace masks, naming them and the choices."""
    count = len(error.images)
    names = ", ".join(error.images[:5]) + (f" and {count - 5} more" if count > 5 else "")
    return (f"{count} image{'s' if count != 1 else ''} already "
            f"{'have masks' if count != 1 else 'has a mask'} under {error.path} ({names}); "
            "nothing was written. Choose --existing overwrite (replace them), skip (keep them) "
            "or merge (the union of both).")


def run_import(args: argparse.Namespace) -> int:
    from leakview.masks import ExistingMasks, MaskError, import_masks

    progress = _Progress("import", "file")
    try:
        report = import_masks(args.src, args.fmt, args.root, masks_root=args.masks,
                              labels=parse_labels(args.labels),
                              existing=args.existing or "refuse", progress=progress,
                              kind_map=args.kind_map)
    except ExistingMasks as error:
        raise CommandError(existing_masks_message(error)) from None
    except MaskError as error:
        raise CommandError(str(error)) from None
    finally:
        progress.close()
    print(report.summary())
    sys.stdout.flush()
    if report.n_written == 0:
        raise CommandError("no mask could be imported")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from leakview.masks import DEFAULT_KIND_MAP, REGION_KINDS, MaskError, export_masks

    kinds = args.kinds or list(REGION_KINDS)
    try:
        labels = (args.kind_map or DEFAULT_KIND_MAP).export_labels(kinds)
    except ValueError as error:
        args.parser.error(f"argument --kind-map: {error}")
    progress = _Progress("export", "img")
    try:
        report = export_masks(args.root, args.fmt, args.out, masks_root=args.masks,
                              kinds=kinds, labels=labels, overwrite=args.overwrite,
                              progress=progress)
    except MaskError as error:
        raise CommandError(str(error)) from None
    finally:
        progress.close()
    print(report.summary())
    sys.stdout.flush()
    if not report.images:
        raise CommandError("no region could be exported")
    return 0
