"""Marker masks in their old place, moved to where they belong now.

Before the region kinds, ``leakview demo-data --leak`` and the canary's leaky copy wrote the
leak-marker masks to ``ROOT/.leakview/markers/<image>.png``. They are the images' *suspect*
regions now, at ``ROOT/.leakview/masks/.suspect/<image>.png``
(:func:`~leakview.layout.region_path`). Opening such a folder (the app, ``leakview scan``)
calls :func:`migrate_legacy_markers`, which moves them there once (a rename: atomic, no copy),
never over a suspect region already there, and says what it did in one line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from leakview.atomic import atomic_write_text
from leakview.layout import (
    LEAKVIEW_DIR,
    LEGACY_MARKERS_SUBDIR,
    SUSPECT,
    dataset_description,
    region_root,
)
from leakview.masks.store import MaskError, check_mask_destination

__all__ = ["MarkerMigration", "legacy_markers_root", "migrate_legacy_markers"]

_LEGACY_ENTRY = f"{LEAKVIEW_DIR}/{LEGACY_MARKERS_SUBDIR}"


def legacy_markers_root(image_root: str | os.PathLike[str]) -> Path:
    """``ROOT/.leakview/markers``: the old place of leak-marker masks."""
    return Path(image_root) / LEAKVIEW_DIR / LEGACY_MARKERS_SUBDIR


@dataclass(frozen=True)
class MarkerMigration:
    """What :func:`migrate_legacy_markers` did in ``root``."""

    root: Path
    moved: int = 0
    kept: tuple[str, ...] = ()
    """Masks left in the old place because the image already has a suspect region."""
    error: str | None = None
    """Why the move stopped (the masks not moved stay in the old place, unused)."""

    def message(self) -> str | None:
        """One line for the user, None when there was nothing to move."""
        old, new = legacy_markers_root(self.root), region_root(self.root, SUSPECT)
        parts = []
        if self.moved:
            parts.append(f"moved {self.moved} marker mask(s) from {old} to the suspect regions "
                         f"in {new}")
        if self.kept:
            parts.append(f"left {len(self.kept)} in {old} (the image already has a suspect "
                         f"region; first: {self.kept[0]})")
        if self.error is not None:
            parts.append(f"cannot move the marker masks of {old} to {new}: {self.error}; "
                         "they are not used as suspect regions")
        if not parts:
            return None
        text = "; ".join(parts)
        return text[0].upper() + text[1:]


def migrate_legacy_markers(image_root: str | os.PathLike[str]) -> MarkerMigration:
    """Move the ``*.png`` masks of ``ROOT/.leakview/markers`` to the suspect regions'
    place (same relative names), skipping an image that already has a suspect region, then
    remove the emptied old folders and point ``dataset.json``'s ``markers`` entry at the new
    place. A folder without the old place costs one ``stat``. Nothing is raised: a move that
    fails (a read-only folder, a symbolic link leading out of the root) stops the migration
    and is reported in :attr:`MarkerMigration.error`."""
    root = Path(image_root)
    legacy = legacy_markers_root(root)
    if not legacy.is_dir():
        return MarkerMigration(root)
    if not Path(os.path.realpath(legacy)).is_relative_to(os.path.realpath(root)):
        return MarkerMigration(root, error=f"refused: {legacy} leads outside the image root "
                                           "through a symbolic link")
    target_root = region_root(root, SUSPECT)
    moved, kept = 0, []
    error: str | None = None
    for source in sorted(legacy.rglob("*.png")):
        if source.is_dir():
            continue
        relative = source.relative_to(legacy)
        target = target_root / relative
        if target.exists():
            kept.append(relative.as_posix())
            continue
        try:
            check_mask_destination(target, root)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except MaskError as problem:
            error = problem.reason
            break
        except FileNotFoundError:
            continue  # moved meanwhile by another process opening the folder (a shard)
        except OSError as problem:
            error = problem.strerror or str(problem)
            break
        moved += 1
    _remove_empty_folders(legacy)
    if not legacy.exists():
        _point_description_at(root, target_root)
    return MarkerMigration(root, moved, tuple(kept), error)


def _remove_empty_folders(folder: Path) -> None:
    for path, _, _ in sorted(os.walk(folder), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(path)
        except OSError:
            pass  # not empty (a mask left in place, a file that is not a mask)


def _point_description_at(root: Path, target_root: Path) -> None:
    """``dataset.json``'s ``markers`` entry names the new place (when it named the old one)."""
    path = dataset_description(root)
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no description, or not one leakview can read: nothing to update
    if not isinstance(description, dict) or description.get("markers") != _LEGACY_ENTRY:
        return
    description["markers"] = target_root.relative_to(root).as_posix()
    try:
        atomic_write_text(path, json.dumps(description, indent=2) + "\n")
    except OSError:
        pass  # the masks moved; a stale description names the old place, nothing is lost
