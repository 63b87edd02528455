"""Marker masks in their old place (``ROOT/.leakview/markers``, where demo-data and the canary
wrote them before the region kinds) become suspect regions when the folder is opened: by
:func:`migrate_legacy_markers`, the app's Open folder and ``leakview scan``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from leakview.images import discover_images, relative_name
from leakview.masks import (
    SUSPECT,
    find_mask,
    legacy_markers_root,
    migrate_legacy_markers,
    read_mask,
    region_path,
    region_root,
    write_mask,
)
from leakview.synth import generate_dataset

SIZE = (64, 48)  # W, H


def old_layout_folder(root: Path, per_class: int = 1) -> Path:
    """A folder as ``leakview demo-data --leak`` wrote it before the region kinds: the same
    bytes (checked when the demo was regenerated), the marker masks under
    ``.leakview/markers`` and ``dataset.json`` naming that place."""
    generate_dataset(root, per_class, size=SIZE, leak="corner-rect", seed=3)
    os.replace(region_root(root, SUSPECT), legacy_markers_root(root))
    description_path = root / ".leakview" / "dataset.json"
    description = json.loads(description_path.read_text())
    description["markers"] = ".leakview/markers"
    description_path.write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    return root


def legacy_masks(root: Path) -> dict[str, np.ndarray]:
    legacy = legacy_markers_root(root)
    return {path.relative_to(legacy).as_posix()[:-len(".png")]: read_mask(path)
            for path in sorted(legacy.rglob("*.png"))}


def test_the_old_place_is_moved_to_the_suspect_regions(tmp_path: Path) -> None:
    root = old_layout_folder(tmp_path / "old", per_class=2)
    before = legacy_masks(root)
    images = [relative_name(path, root) for path in discover_images(root)]
    assert sorted(before) == sorted(images) and len(images) == 8
    assert all(find_mask(root, image, kind=SUSPECT) == (None, None) for image in images)

    migration = migrate_legacy_markers(root)
    assert (migration.moved, migration.kept, migration.error) == (8, (), None)
    for image in images:
        suspect, problem = find_mask(root, image, kind=SUSPECT)
        assert problem is None and suspect is not None
        np.testing.assert_array_equal(suspect, before[image])
    assert not (root / ".leakview" / "markers").exists()
    description = json.loads((root / ".leakview" / "dataset.json").read_text())
    assert description["markers"] == ".leakview/masks/.suspect"
    message = migration.message()
    assert message is not None and message.startswith("Moved 8 marker mask(s)")
    assert str(legacy_markers_root(root)) in message and str(region_root(root, SUSPECT)) in message
    # once: a second open finds nothing to do and says nothing
    again = migrate_legacy_markers(root)
    assert (again.moved, again.kept, again.error, again.message()) == (0, (), None, None)


def test_a_suspect_region_already_there_is_never_overwritten(tmp_path: Path) -> None:
    root = old_layout_folder(tmp_path / "old")
    drawn = np.zeros(SIZE[::-1], dtype=bool)
    drawn[40:, 50:] = True
    write_mask(region_path(root, "corn/corn_0001.png", SUSPECT), drawn)
    migration = migrate_legacy_markers(root)
    assert migration.moved == 3 and migration.kept == ("corn/corn_0001.png.png",)
    np.testing.assert_array_equal(read_mask(region_path(root, "corn/corn_0001.png", SUSPECT)),
                                  drawn)
    assert list(legacy_masks(root)) == ["corn/corn_0001.png"]  # left where it was
    description = json.loads((root / ".leakview" / "dataset.json").read_text())
    assert description["markers"] == ".leakview/markers"  # still names where one mask is
    message = migration.message()
    assert message is not None and "left 1 in" in message and "corn/corn_0001.png.png" in message


def test_a_move_that_fails_is_reported_and_loses_nothing(tmp_path: Path) -> None:
    root = old_layout_folder(tmp_path / "old")
    before = legacy_masks(root)
    region_root(root, SUSPECT).write_text("a file where the suspect folder should be")
    migration = migrate_legacy_markers(root)
    assert migration.moved == 0 and migration.error
    assert sorted(legacy_masks(root)) == sorted(before)
    message = migration.message()
    assert message is not None and message.startswith("Cannot move the marker masks of")
    assert message.endswith("they are not used as suspect regions")


def test_an_old_place_linked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = old_layout_folder(tmp_path / "elsewhere")
    root = tmp_path / "downloaded"
    (root / "corn").mkdir(parents=True)
    (root / ".leakview").mkdir()
    os.symlink(legacy_markers_root(outside), legacy_markers_root(root))
    migration = migrate_legacy_markers(root)
    assert migration.moved == 0 and "symbolic link" in (migration.error or "")
    assert len(legacy_masks(outside)) == 4  # the linked files stay where they are
    assert not region_root(root, SUSPECT).exists()
