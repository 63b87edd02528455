"""``leakview masks import SRC --format labelme|coco --root DIR``: import expected regions."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from leakview.cli import CommandError
from leakview.commands import argtypes

if TYPE_CHECKING:
    from leakview.masks import ExistingMasks


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "masks", help="manage expected-region masks (import LabelMe / COCO annotations)",
        description="Manage the expected-region masks stored under DIR/.leakview/masks.")
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
        "--existing", choices=("overwrite", "skip", "merge"),
        help="what to do with an image that already has a mask: overwrite = replace it, "
             "skip = keep it (the image is skipped), merge = the union of both "
             "(default: write nothing and say how many have one)")
    importer.add_argument("--no-overwrite", dest="existing", action="store_const",
                          const="skip", help="the same as --existing skip")
    importer.set_defaults(func=run_import)


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

    try:
        report = import_masks(args.src, args.fmt, args.root, masks_root=args.masks,
                              labels=parse_labels(args.labels),
                              existing=args.existing or "refuse")
    except ExistingMasks as error:
        raise CommandError(existing_masks_message(error)) from None
    except MaskError as error:
        raise CommandError(str(error)) from None
    print(report.summary())
    sys.stdout.flush()
    if report.n_written == 0:
        raise CommandError("no mask could be imported")
    return 0
