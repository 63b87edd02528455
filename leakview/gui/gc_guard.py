"""Python's cyclic garbage collector runs only on the GUI thread while worker threads exist.

CPython starts a collection in whichever thread happens to cross the allocation threshold. When
that is a worker (loading a model, running LIME) and the garbage holds Qt objects -- a closed
window's widgets, pixmaps or undo commands kept alive by a reference cycle -- their C++ side is
destroyed off the GUI thread, and Qt crashes ("Fatal Python error: Segmentation fault ...
Garbage-collecting", seen in CI). While any :class:`~leakview.gui.workers.JobRunner` is alive,
automatic collection is switched off and a timer on the GUI thread collects instead, by the same
thresholds the interpreter would use. The last runner to shut down switches it back on.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Collects on a GUI-thread timer while at least one holder has acquired it."""

    def __init__(self, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__()
        self.holders = 0
        self.was_enabled = True
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect_due)

    def acquire(self) -> None:
        if self.holders == 0:
            self.was_enabled = gc.isenabled()
            gc.disable()
            self.timer.start()
        self.holders += 1

    def release(self) -> None:
        if self.holders == 0:
            return
        self.holders -= 1
        if self.holders == 0:
            self.timer.stop()
            if self.was_enabled:
                gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold; returns the number
        of unreachable objects found (0 when nothing was due)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0


_collector: MainThreadCollector | None = None


def collector() -> MainThreadCollector:
    """The process's collector, living on the GUI thread (created on first use, which must be
    on the GUI thread)."""
    global _collector
    if _collector is None:
        app = QCoreApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            raise RuntimeError("the garbage-collection guard must be created on the GUI thread "
                               "of a running QApplication")
        _collector = MainThreadCollector()
    return _collector
