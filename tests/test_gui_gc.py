"""Garbage collection never runs on a worker thread (CI once crashed when a collection started
in a model-loading job destroyed a closed window's widgets off the GUI thread)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable

import pytest

pytest.importorskip("PySide6")


class _Node:
    def __init__(self) -> None:
        self.me = self                      # a reference cycle: only the collector frees it


def _collections_by_thread() -> tuple[list[int], Callable[[str, dict], None]]:
    threads: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            threads.append(threading.get_ident())
    return threads, record


def test_worker_garbage_is_collected_on_the_gui_thread(qtbot):
    from PySide6.QtWidgets import QWidget

    from leakview.gui.workers import JobRunner

    main_thread = threading.get_ident()
    assert gc.isenabled()
    runner = JobRunner()
    threads, record = _collections_by_thread()
    gc.callbacks.append(record)
    try:
        assert not gc.isenabled()
        results = []

        def churn(ctx):
            refs = []
            for _ in range(20000):       # crosses the generation-0 threshold ~30 times
                node = _Node()
                refs.append(weakref.ref(node))
            return threading.get_ident(), refs[::500]

        runner.run(churn, lane="model", on_done=results.append)
        qtbot.waitUntil(lambda: bool(results), timeout=30000)
        worker_thread, refs = results[0]
        assert worker_thread != main_thread
        qtbot.waitUntil(lambda: all(ref() is None for ref in refs), timeout=10000)

        # A closed widget kept alive by a cycle: freed by the GUI thread's timer.
        widget = QWidget()
        widget.me = widget
        widget_ref = weakref.ref(widget)
        del widget
        padding = [_Node() for _ in range(2000)]
        del padding
        qtbot.waitUntil(lambda: widget_ref() is None, timeout=10000)
    finally:
        gc.callbacks.remove(record)
        assert runner.shutdown()
    assert threads, "nothing was collected"
    assert set(threads) == {main_thread}
    assert gc.isenabled()


def test_collector_nests_and_restores_the_previous_state(qapp):
    from leakview.gui.gc_guard import MainThreadCollector

    collector = MainThreadCollector()
    gc.disable()
    try:
        collector.acquire()
        collector.acquire()
        collector.release()
        assert collector.timer.isActive() and not gc.isenabled()
        collector.release()
        assert not collector.timer.isActive()
        assert not gc.isenabled()           # it was off before: it stays off
        collector.release()                 # an extra release is harmless
    finally:
        gc.enable()
    collector.acquire()
    assert not gc.isenabled()
    collector.release()
    assert gc.isenabled()


def test_full_collections_only_after_the_old_generation_grew_by_a_quarter(qapp):
    """What exists at the start is frozen out (a full collection of torch + Qt + the window
    takes ~200 ms, too long for the GUI thread), and the oldest generation is collected only
    when it has grown by a quarter since the last full collection, as CPython does."""
    from leakview.gui.gc_guard import MainThreadCollector

    collector = MainThreadCollector()
    before = gc.get_freeze_count()
    full = []

    def record(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    def age_into_the_oldest_generation() -> None:
        for _ in range(gc.get_threshold()[2] + 1):
            gc.collect(1)                    # survivors move on; counts the oldest generation up

    collector.acquire()
    gc.callbacks.append(record)
    try:
        assert gc.get_freeze_count() > before
        assert len(gc.get_objects(2)) < gc.get_freeze_count()
        keep = [_Node() for _ in range(4000)]
        age_into_the_oldest_generation()
        collector.collect_due()
        assert len(full) == 1                # grew from (almost) nothing: collected
        long_lived = collector.long_lived
        assert long_lived >= 4000
        keep += [_Node() for _ in range(long_lived // 10)]
        age_into_the_oldest_generation()
        collector.collect_due()
        assert len(full) == 1                # +10%: not yet
        keep += [_Node() for _ in range(long_lived // 5)]
        age_into_the_oldest_generation()
        collector.collect_due()
        assert len(full) == 2                # +30% in all: collected
    finally:
        gc.callbacks.remove(record)
        collector.release()
    assert gc.get_freeze_count() == before and gc.isenabled()
    del keep
