"""One job abstraction for background work (napari/superqt style).

A :class:`Job` wraps a function ``fn(ctx)`` that runs on a worker thread. ``ctx.should_stop()``
is true once the job was cancelled or became *stale* (its ``stale()`` predicate, typically
"the image or model generation moved on"); the core's long functions take it as their
``should_stop`` and raise :class:`leakview.attribution.Cancelled` between batches.
``ctx.progress(done, total, detail)`` sends a :class:`Progress` back to the GUI thread (the
status bar shows ``done / total``; ``detail`` is the job's own, e.g. a provisional map).
Callbacks (``on_done``, ``on_progress``, ``on_error``, ``on_cancel``) always run on the GUI
thread and never for a stale job, so a late result can never land on the wrong image.

:class:`JobRunner` owns one single-thread pool per lane: ``model`` (interactive torch work,
serialised so hooks and gradients never interleave), ``batch`` (folder analysis, on its own
copy of the model), ``io`` (image decoding, metrics, figures, imports), ``masks`` (ordered
mask writes) and ``lime`` (LIME runs, on their own copy of the model, that go on in the
background while the user looks at other images: :mod:`leakview.gui.layer_jobs`).
"""

from __future__ import annotations

import itertools
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from leakview.attribution import Cancelled
from leakview.gui import gc_guard

LANES = ("model", "batch", "io", "masks", "lime")

PENDING, RUNNING, DONE, FAILED, CANCELLED = "pending", "running", "done", "failed", "cancelled"


@dataclass(frozen=True)
class Progress:
    """A job's progress report: ``done`` of ``total`` steps, and what the job wants its
    ``on_progress`` to see besides (a provisional result, a phase name ...)."""

    done: int
    total: int
    detail: Any = None


class JobContext:
    """What a job's function sees: cancellation and progress."""

    def __init__(self, job: Job) -> None:
        self._job = job

    def should_stop(self) -> bool:
        return self._job.should_stop()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job should stop."""
        if self.should_stop():
            raise Cancelled()

    def progress(self, done: int, total: int, detail: Any = None) -> None:
        if not self.should_stop():
            self._job.signals.progress.emit(self._job, Progress(done, total, detail))


class _Signals(QObject):
    progress = Signal(object, object)  # job, payload
    finished = Signal(object)          # job


class Job(QRunnable):
    """A unit of background work; see the module docstring."""

    _ids = itertools.count(1)

    def __init__(self, fn: Callable[[JobContext], Any], label: str = "", *,
                 lane: str = "model", stale: Callable[[], bool] | None = None,
                 visible: bool = False, cancellable: bool = False,
                 on_done: Callable[[Any], None] | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_error: Callable[[str], None] | None = None,
                 on_cancel: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.setAutoDelete(False)
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}")
        self.id = next(self._ids)
        self.fn = fn
        self.label = label
        self.lane = lane
        self.visible = visible          # shown in the status bar
        self.cancellable = cancellable  # stopped by the status bar's Cancel button
        self.stale = stale
        self.on_done, self.on_progress = on_done, on_progress
        self.on_error, self.on_cancel = on_error, on_cancel
        self.state = PENDING
        self.result: Any = None
        self.error = ""
        self.details = ""
        self.progress_value: tuple[int, int] | None = None
        self.started_at = 0.0
        self._cancelled = False
        self.signals = _Signals()

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def is_stale(self) -> bool:
        return self.stale is not None and bool(self.stale())

    def should_stop(self) -> bool:
        return self._cancelled or self.is_stale()

    def run(self) -> None:  # worker thread
        self.started_at = time.monotonic()
        try:
            if self.should_stop():
                raise Cancelled()
            self.state = RUNNING
            self.result = self.fn(JobContext(self))
            self.state = DONE
        except Cancelled:
            self.state = CANCELLED
        except Exception as error:  # every failure becomes a message, never a crash
            self.state = FAILED
            self.error = str(error) or type(error).__name__
            self.details = traceback.format_exc()
        self.signals.finished.emit(self)


class JobRunner(QObject):
    """Starts jobs on their lane and dispatches their callbacks on the GUI thread."""

    activityChanged = Signal()
    jobFailed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pools: dict[str, QThreadPool] = {}
        for lane in LANES:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(1)
            pool.setExpiryTimeout(-1)
            self.pools[lane] = pool
        self.active: dict[int, Job] = {}
        self.closed = False
        # Garbage collection stays on the GUI thread while this runner's threads may run.
        self._gc_held = True
        gc_guard.collector().acquire()

    def submit(self, job: Job) -> Job:
        job.signals.progress.connect(self._on_progress)
        job.signals.finished.connect(self._on_finished)
        self.active[job.id] = job
        # Start the bound method, not the QRunnable: PySide keeps every QRunnable passed to
        # QThreadPool.start referenced by the pool for the pool's lifetime, so each job (with
        # its closure: pixels, maps) leaked; a started callable is released when it has run.
        self.pools[job.lane].start(job.run)
        if job.visible:
            self.activityChanged.emit()
        return job

    def run(self, fn: Callable[[JobContext], Any], label: str = "", **kwargs: Any) -> Job:
        return self.submit(Job(fn, label, **kwargs))

    @Slot(object, object)
    def _on_progress(self, job: Job, progress: Progress) -> None:
        if job.should_stop():
            return
        job.progress_value = (progress.done, progress.total)
        if job.on_progress is not None:
            job.on_progress(progress)
        if job.visible:
            self.activityChanged.emit()

    @Slot(object)
    def _on_finished(self, job: Job) -> None:
        self.active.pop(job.id, None)
        try:
            if job.is_stale() or self.closed:
                return
            if job.state == DONE and job.on_done is not None:
                job.on_done(job.result)
            elif job.state == FAILED:
                if job.on_error is not None:
                    job.on_error(job.error)
                else:
                    self.jobFailed.emit(job)
            elif job.state == CANCELLED and job.on_cancel is not None:
                job.on_cancel()
        finally:
            if job.visible:
                self.activityChanged.emit()

    def visible_jobs(self) -> list[Job]:
        return [job for job in self.active.values() if job.visible and not job.should_stop()]

    def cancel(self, predicate: Callable[[Job], bool] = lambda job: True) -> int:
        count = 0
        for job in list(self.active.values()):
            if predicate(job) and not job.cancelled:
                job.cancel()
                count += 1
        if count:
            self.activityChanged.emit()
        return count

    def cancel_user_jobs(self) -> int:
        """The status bar's Cancel: long jobs (LIME, folder analysis, imports)."""
        return self.cancel(lambda job: job.cancellable)

    def busy(self) -> bool:
        return bool(self.active)

    def wait(self, lane: str | None = None, timeout_ms: int = -1) -> bool:
        lanes = [lane] if lane else list(self.pools)
        return all(self.pools[name].waitForDone(timeout_ms) for name in lanes)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything but mask writes, then wait (mask writes always finish)."""
        self.closed = True
        self.cancel(lambda job: job.lane != "masks")
        ok = self.pools["masks"].waitForDone(-1)
        deadline = time.monotonic() + timeout_ms / 1000
        for pool in self.pools.values():
            left = max(0, int((deadline - time.monotonic()) * 1000))
            ok = pool.waitForDone(left) and ok
        if ok and self._gc_held:
            self._gc_held = False
            gc_guard.collector().release()
        return ok
