"""Python's cyclic garbage collector runs only on the GUI thread while worker threads exist.

CPython starts a collection in whichever thread happens to cross the allocation threshold. When
that is a worker (loading a model, running LIME) and the garbage holds Qt objects -- a closed
window's widgets, pixmaps or undo commands kept alive by a reference cycle -- their C++ side is
destroyed off the GUI thread, and Qt crashes ("Fatal Python error: Segmentation fault ...
Garbage-collecting", seen in CI). While any :class:`~leakview.gui.workers.JobRunner` is alive,
automatic collection is switched off and a timer on the GUI thread collects instead, by the same
thresholds the interpreter would use. The last runner to shut down switches it back on.

A full collection walks every tracked object: about 220 ms with torch and the window loaded,
far too long for the GUI thread. So, while held, the objects that live at the start (modules,
torch, Qt; collected once first, so that no garbage is frozen with them) are frozen out of
collection (``gc.freeze``), and the oldest generation is collected only when it has grown by a
quarter since the last full collection, as CPython does.
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
        self.long_lived = 0             # objects in the oldest generation after a full collection
        self._checked_at = -1           # gen-2 count when the growth was last measured
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect_due)

    def acquire(self) -> None:
        if self.holders == 0:
            self.was_enabled = gc.isenabled()
            gc.disable()
            gc.collect()                # garbage must not be frozen with the living
            gc.freeze()
            self.long_lived = len(gc.get_objects(2))
            self.timer.start()
        self.holders += 1

    def release(self) -> None:
        if self.holders == 0:
            return
        self.holders -= 1
        if self.holders == 0:
            self.timer.stop()
            gc.unfreeze()
            if self.was_enabled:
                gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation that is due; returns the number of unreachable objects
        found (0 when nothing was due)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if thresholds[2] and counts[2] > thresholds[2] and counts[2] != self._checked_at:
            self._checked_at = counts[2]
            if len(gc.get_objects(2)) - self.long_lived > self.long_lived / 4:
                found = gc.collect(2)
                self.long_lived = len(gc.get_objects(2))
                self._checked_at = -1       # the counts start again from 0
                return found
        for generation in (1, 0):
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
