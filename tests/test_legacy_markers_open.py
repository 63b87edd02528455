"""Opening a folder whose marker masks are in the old place (``ROOT/.leakview/markers``): the
app's Open folder and ``leakview scan`` move them to the suspect regions and say so."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from leakview.masks import SUSPECT, legacy_markers_root, read_mask, region_path  # noqa: E402
from test_gui_support import make_window, settings, tiny_model  # noqa: E402,F401
from test_legacy_markers import legacy_masks, old_layout_folder  # noqa: E402


def test_leakview_scan_moves_them_and_says_so(tmp_path: Path, tiny_model: Path) -> None:
    from leakview.pipeline import ScanJob, run_scan_to_files

    root = old_layout_folder(tmp_path / "old")
    stream = io.StringIO()
    run_scan_to_files(ScanJob(folder=root, csv=tmp_path / "scan.csv", model=str(tiny_model),
                              methods=("saliency",)), stream=stream)
    assert "Moved 4 marker mask(s)" in stream.getvalue()
    assert region_path(root, "wheat/wheat_0001.png", SUSPECT).is_file()
    assert not legacy_markers_root(root).exists()


def test_opening_an_old_folder_in_the_app_moves_them(qtbot, make_window,
                                                     tmp_path: Path) -> None:
    root = old_layout_folder(tmp_path / "old")
    before = legacy_masks(root)
    window = make_window()
    assert window.open_folder(root)
    level, text = next((level, text) for level, text in window.messages.history
                       if "marker mask" in text)
    assert level == "info" and text.startswith("Moved 4 marker mask(s)")
    for image, mask in before.items():
        np.testing.assert_array_equal(read_mask(region_path(root, image, SUSPECT)), mask)
    assert not legacy_markers_root(root).exists()
