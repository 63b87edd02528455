"""Progress and cancellation of a canary run, handed to each phase."""

from __future__ import annotations

from collections.abc import Callable

from leakview.attribution import Cancelled

ProgressFn = Callable[[str, int, int, str], None]
StopFn = Callable[[], bool]


class RunControl:
    """``progress(phase, done, total, text)`` and ``should_stop()`` of one run, with the phase
    that is running."""

    def __init__(self, progress: ProgressFn | None = None,
                 should_stop: StopFn | None = None) -> None:
        self.progress = progress
        self.should_stop = should_stop
        self.phase: str | None = None

    def check(self) -> None:
        """Raise :class:`leakview.attribution.Cancelled` once ``should_stop()`` is true."""
        if self.should_stop is not None and self.should_stop():
            raise Cancelled("canary cancelled")

    def report(self, done: int, total: int, text: str = "") -> None:
        if self.progress is not None:
            self.progress(self.phase or "", int(done), int(total), text)
