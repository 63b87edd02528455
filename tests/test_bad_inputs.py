"""A folder of hostile and unusual files (tests/bad_corpus.py): the loader, ``leakview scan``
and the desktop app all get through it without an exception."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from bad_corpus import FORMULA_NAMES, build_corpus, restore_permissions
from leakview.csvio import CSV_COLUMNS
from leakview.images import ImageLoadError, discover_images, load_image
from permissions import where_permissions_hold


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad") / "corpus"
    expected = build_corpus(root)
    yield root, expected
    restore_permissions(root)


@pytest.fixture(scope="module")
def corpus_model(tmp_path_factory) -> Path:
    import torch

    from leakview.models import build_architecture, save_bundle

    torch.manual_seed(0)
    module = build_architecture("mobilenet_v3_small", 2, (32, 32))
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_bundle(path, module, "mobilenet_v3_small", ("cat", "dog"), (32, 32))
    return path


def test_discovery_lists_the_corpus_and_ends_despite_link_loops(corpus) -> None:
    root, expected = corpus
    found = [path.relative_to(root).as_posix() for path in discover_images(root)]
    assert sorted(found) == sorted(expected)          # animated.gif among them
    assert len(found) == len(set(found))              # link loops never list a file twice


def test_every_file_loads_as_rgb_or_raises_image_load_error(corpus) -> None:
    root, expected = corpus
    for name, expectation in expected.items():
        try:
            array = load_image(root / name)
        except ImageLoadError as error:
            assert expectation.startswith("error"), (name, error.reason)
            for word in expectation.split(":", 1)[1].split():
                assert word in error.reason.lower(), (name, error.reason)
        else:
            assert expectation == "ok", name
            assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3, name
            assert array.flags.c_contiguous, name


def test_pixels_of_the_unusual_modes(corpus) -> None:
    root, _ = corpus
    assert load_image(root / "one_by_10000.png").shape == (10_000, 1, 3)
    palette = load_image(root / "palette_transparent.png")
    assert (palette[0, 0] == 0).all() and tuple(palette[8, 8]) == (255, 0, 0)
    assert tuple(load_image(root / "animated.webp")[5, 5]) == (255, 0, 0)       # first frame
    assert tuple(load_image(root / "animated_gif_named.png")[5, 5]) == (255, 0, 0)
    sixteen = load_image(root / "sixteen_bit.tif")
    assert sixteen.min() == 0 and sixteen.max() == round(383 * 170 / 257)
    assert load_image(root / "float.tiff").max() == 255
    assert (load_image(root / "float_nan.tif") == 0).all()
    cmyk = load_image(root / "cmyk.jpg")
    assert cmyk[..., 0].mean() > 200 and cmyk[..., 1:].mean() < 60              # red
    upright = load_image(root / "exif/orientation_1.jpg").shape
    for orientation in range(2, 9):
        shape = load_image(root / f"exif/orientation_{orientation}.jpg").shape
        assert shape == (upright if orientation < 5 else (upright[1], upright[0], 3))


@where_permissions_hold
def test_unreadable_file_is_a_permission_error(corpus) -> None:
    root, _ = corpus
    assert not os.access(root / "locked.png", os.R_OK)
    with pytest.raises(ImageLoadError, match="permission"):
        load_image(root / "locked.png")


@where_permissions_hold
def test_cli_scan_writes_a_well_formed_csv(corpus, corpus_model, tmp_path, capsys) -> None:
    import torch

    from leakview.cli import main

    root, expected = corpus
    out = tmp_path / "scan.csv"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)       # much faster than 2 threads on a small shared machine
    try:
        status = main(["scan", str(root), "--model", str(corpus_model), "--csv", str(out),
                       "--batch-size", "16", "--device", "cpu"])
    finally:
        torch.set_num_threads(threads)
    assert status == 0, capsys.readouterr().err
    with open(out, encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    assert tuple(header[:len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert all(len(row) == len(header) for row in body)
    by_image = {row[0]: dict(zip(header, row)) for row in body}
    assert len(body) == len(expected)
    neutral = {("'" + name if name[0] in "=+-@" else name): name for name in expected}
    assert set(by_image) == set(neutral)
    for cell, name in neutral.items():
        row = by_image[cell]
        if expected[name] == "ok":
            assert row["error"] == "" and row["predicted"] in ("cat", "dog"), row
            assert 0.0 <= float(row["confidence"]) <= 1.0
        else:
            assert row["error"] and row["predicted"] == "", row
            for word in expected[name].split(":", 1)[1].split():
                assert word in row["error"].lower(), row
    for name in FORMULA_NAMES:
        assert "'" + name in by_image
    assert "sub dir/=nested.png" in by_image          # only the cell's first character counts
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def _reason_words(expectation: str) -> list[str]:
    return expectation.split(":", 1)[1].split()


@where_permissions_hold
def test_gui_steps_through_every_file(qtbot, corpus, corpus_model, tmp_path) -> None:
    """Stepping with D through every file: a good one is shown, a bad one gives a message
    naming the file and the reason (and an error row in the list); then "Analyze folder"
    finishes with one row per file, the bad ones as error rows with their reasons."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from leakview.gui.image_list import PREDICTED
    from leakview.gui.main_window import MainWindow
    from leakview.gui.settings import AppSettings, open_settings

    root, expected = corpus
    window = MainWindow(folder=root, model=str(corpus_model),
                        settings=AppSettings(open_settings(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.resize(1100, 750)
    window.show()
    qtbot.waitExposed(window)
    assert window.image_list.proxy.rowCount() == len(expected)
    table = window.image_list.model
    seen = []
    for step in range(len(expected)):
        if step:
            qtbot.keyClick(window.canvas, Qt.Key.Key_D)
        path = window.image_list.current_path()
        assert path is not None
        name = Path(path).relative_to(root).as_posix()
        seen.append(name)
        if expected[name] == "ok":
            qtbot.waitUntil(lambda path=path: window.session.image is not None
                            and str(window.session.image.path) == path, timeout=15000)
        else:
            qtbot.waitUntil(lambda path=path: f"Cannot open {Path(path).name}"
                            in window.messages.text(), timeout=15000)
            message = window.messages.text().lower()
            for word in _reason_words(expected[name]):
                assert word in message, (name, message)
            row = table.index(table.row_for(path), PREDICTED)
            assert row.data() == "error"
            tooltip = row.data(Qt.ItemDataRole.ToolTipRole)
            assert tooltip.startswith(name) and len(tooltip) > len(name) + 2, tooltip
    assert sorted(seen) == sorted(expected)

    # Analyze folder over the same files: completes, one row per file, bad ones as errors.
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=15000)
    window.folder_panel.set_methods(("saliency",))
    window.actions["analyze_folder"].trigger()
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=120000)
    assert window.analysis.complete
    rows = {row["image"]: row for row in window.analysis.rows}
    assert sorted(rows) == sorted(expected)
    for name, expectation in expected.items():
        row = rows[name]
        if expectation == "ok":
            assert not row["error"] and row["predicted"] in ("cat", "dog"), row
        else:
            assert row["error"] and not row["predicted"], row
            for word in _reason_words(expectation):
                assert word in row["error"].lower(), (name, row["error"])
    summary = window.analysis.summary
    assert sum(entry["errors"] for entry in summary["per_class"]) == sum(
        expectation != "ok" for expectation in expected.values())
    window.close()
