"""File > Import masks of a leakview export: both region kinds land in their files (the labels
``expected`` / ``suspect`` map to their kinds with no option), with real mouse and keyboard
events; Ctrl+Z undoes the image's expected-region import."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from leakview.masks import (  # noqa: E402
    EXPECTED,
    SUSPECT,
    export_masks,
    find_mask,
    rasterize_ellipse,
    rasterize_rectangle,
    region_path,
    write_mask,
)
from test_gui_masks_import import (  # noqa: E402
    import_through_the_menu,
    shown_window,
    tick,
    undo,
    wait_imported,
)
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    folder,
    image_template,
    make_window,
    settings,
    tiny_model,
)


def exported_elsewhere(folder: Path, tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The same images in another folder with an expected region (a ring) and a suspect one
    (a corner tag) on cat/cat_0.png, exported as LabelMe; the source and both regions."""
    other = tmp_path / "other"
    shutil.copytree(folder, other, ignore=shutil.ignore_patterns(".leakview"))
    ring = rasterize_ellipse(30, 24, 12, 9, IMAGE_SHAPE) & ~rasterize_ellipse(30, 24, 4, 3,
                                                                                IMAGE_SHAPE)
    tag = rasterize_rectangle(0, 0, 5, 3, IMAGE_SHAPE)
    write_mask(region_path(other, "cat/cat_0.png", EXPECTED), ring)
    write_mask(region_path(other, "cat/cat_0.png", SUSPECT), tag)
    source = tmp_path / "labelme"
    export_masks(other, "labelme", source)
    return source, ring, tag


def test_the_app_imports_an_export_with_both_kinds(qtbot, make_window, folder, tmp_path):
    source, ring, tag = exported_elsewhere(folder, tmp_path)
    window = shown_window(qtbot, make_window, folder)
    import_through_the_menu(qtbot, window, source, None)      # nothing to replace: no question
    wait_imported(qtbot, window)
    assert "written 2 masks (1 expected, 1 suspect) of 1 image" in window.messages.text()
    np.testing.assert_array_equal(find_mask(folder, "cat/cat_0.png", kind=EXPECTED)[0], ring)
    np.testing.assert_array_equal(find_mask(folder, "cat/cat_0.png", kind=SUSPECT)[0], tag)
    np.testing.assert_array_equal(window.session.document.mask, ring)
    np.testing.assert_array_equal(window.session.suspect_document.mask, tag)  # shown at once
    np.testing.assert_array_equal(window.canvas.region_items[SUSPECT].image > 0, tag)
    assert tick(window, 0) == "✓"

    undo(qtbot, window)                       # one import step per region file: each undone
    undo(qtbot, window)
    assert find_mask(folder, "cat/cat_0.png", kind=EXPECTED) == (None, None)
    assert find_mask(folder, "cat/cat_0.png", kind=SUSPECT) == (None, None)
    assert window.session.document.mask is None
    assert window.session.suspect_document.mask is None
