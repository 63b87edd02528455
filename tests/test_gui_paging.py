"""Paging through a large folder keeps the app's caches bounded (mask documents, computed
results), and masks edited along the way survive eviction: on disk when their write landed, in
memory (document kept) when it did not. Counts and sizes only, never wall-clock times.
benchmarks/bench_gui_paging.py measures the same on 10,000 images (RSS and stalls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from leakview.gui import session as session_module  # noqa: E402
from leakview.masks import read_mask  # noqa: E402
from test_gui_support import (  # noqa: E402,F401
    IMAGE_SHAPE,
    make_window,
    settings,
    tiny_model,
    wait_layer,
    write_images,
)

MAX_DOCUMENTS = 6
CACHE_ENTRIES = 10


@pytest.fixture
def many(tmp_path) -> Path:
    return write_images(tmp_path / "images", per_class=150)        # 300 images


@pytest.fixture
def small_caches(monkeypatch):
    monkeypatch.setattr(session_module, "MAX_DOCUMENTS", MAX_DOCUMENTS)
    monkeypatch.setattr(session_module, "CACHE_ENTRIES", CACHE_ENTRIES)


def _shown(window) -> str | None:
    image = window.session.image
    return str(image.path) if image is not None else None


def _region(seed: int) -> np.ndarray:
    region = np.zeros(IMAGE_SHAPE, dtype=bool)
    region[seed:seed + 10, 2 * seed:2 * seed + 15] = True
    return region


def test_paging_keeps_caches_bounded_and_edited_masks_survive(
        qtbot, make_window, many, tiny_model, small_caches, monkeypatch):
    import leakview.gui.mask_doc as mask_doc

    window = make_window(many, tiny_model)
    wait_layer(qtbot, window)
    session = window.session
    assert window.image_list.model.rowCount() == 300

    # Edit the masks of the first three images; the third one's write fails (disk full, say).
    real_write = mask_doc.write_mask
    failing: set[Path] = set()

    def write(path, mask):
        if Path(path) in failing:
            raise OSError(28, "No space left on device")
        return real_write(path, mask)
    monkeypatch.setattr(mask_doc, "write_mask", write)

    edited: dict[str, np.ndarray] = {}
    for number in range(3):
        if number:
            QTest.keyClick(window.canvas, Qt.Key.Key_D)
        path = window.image_list.current_path()
        qtbot.waitUntil(lambda path=path: _shown(window) == path and session.document is not None
                        and session.document.image_path == Path(path), timeout=15000)
        if number == 2:
            failing.add(session.document.mask_file)
        assert session.document.add(_region(number + 1), "test edit")
        edited[path] = _region(number + 1)
    failed_path = window.image_list.current_path()
    qtbot.waitUntil(lambda: "Cannot save mask" in window.messages.text(), timeout=10000)

    # Hold D: auto-repeated presses, each waits for its image to be shown (so every image
    # gets a document and its results are computed and cached).
    shown: set[str] = set()
    for _ in range(120):
        QTest.keyPress(window.canvas, Qt.Key.Key_D)
        path = window.image_list.current_path()
        qtbot.waitUntil(lambda path=path: _shown(window) == path and session.document is not None,
                        timeout=15000)
        shown.add(path)
        # Never more documents than the bound plus the one whose write failed.
        assert len(session.documents) <= MAX_DOCUMENTS + 1
        assert len(session.cache) <= CACHE_ENTRIES
        assert session.cache.nbytes <= session_module.CACHE_BYTES
    QTest.keyRelease(window.canvas, Qt.Key.Key_D)
    wait_layer(qtbot, window)
    assert len(shown) == 120
    assert len(session.cache) <= CACHE_ENTRIES

    # The saved edits were evicted with their documents and are on disk; the failed one was
    # kept (with its undo history), not dropped.
    window.store.flush()
    kept = {str(document.image_path) for document in session.documents.values()}
    assert failed_path in kept
    for path, region in edited.items():
        if path == failed_path:
            continue
        assert path not in kept
        mask_file = window.session.root / ".leakview" / "masks" / (
            Path(path).relative_to(window.session.root).as_posix() + ".png")
        np.testing.assert_array_equal(read_mask(mask_file), region)

    # Going back shows every edit: from disk, and from the kept document.
    for path, region in edited.items():
        assert window.image_list.select_path(path)
        qtbot.waitUntil(lambda path=path: _shown(window) == path and session.document is not None
                        and session.document.image_path == Path(path), timeout=15000)
        np.testing.assert_array_equal(session.document.mask, region)
    assert session.document.stack.count() == 1      # the failed one's undo history survived
    assert len(session.documents) <= MAX_DOCUMENTS + 1

    # Finished jobs are released (regression: QThreadPool kept every Job, with its closure's
    # pixels and maps, for the life of the window: ~7 per image shown).
    import gc

    from leakview.gui.workers import Job

    window.runner.wait()
    qtbot.wait(50)
    gc.collect()
    assert sum(type(thing) is Job for thing in gc.get_objects()) < 20



def test_a_long_session_of_signals_and_jobs_does_not_abort() -> None:
    """Regression: PySide6 6.12.0 on Python 3.11 drops a reference to True on every
    ``signal.emit()`` and to None on every job a QThreadPool runs; ~30,000 of them (paging ~850
    images) aborted the app with "Fatal Python error: bool_dealloc" / "none_dealloc".
    leakview depends on a PySide6 without the bug, and where one with it is installed anyway the
    start-up check of make_application() makes True, False and None immortal."""
    import subprocess
    import sys

    code = ("from leakview.gui.app import make_application\n"
            "make_application()\n"
            "from PySide6.QtCore import QObject, QThreadPool, Signal\n"
            "class A(QObject):\n"
            "    ping = Signal(str, object, bool, str, int)\n"
            "a = A()\n"
            "a.ping.connect(lambda *args: None)\n"
            "for _ in range(200_000):\n"
            "    a.ping.emit('m', None, True, 'k', 1)\n"
            "pool = QThreadPool()\n"
            "for _ in range(100_000):\n"
            "    pool.start(lambda: None)\n"
            "pool.waitForDone()\n"
            "print('survived')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]
