"""A heartbeat on the GUI thread: how long the event loop went without running a timer.

Shared by the GUI benchmarks. A QTimer ticks every ``interval`` ms; the longest gap between two
ticks while a phase runs is that phase's worst stall (what a user feels as a freeze).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Heartbeat:
    def __init__(self, app, interval_ms: int) -> None:
        from PySide6.QtCore import QTimer

        self.app = app
        self.worst_ms = 0.0
        self.ticks = 0
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.worst_ms = max(self.worst_ms, (now - self._last) * 1000)
        self._last = now
        self.ticks += 1

    def run_until(self, condition: Callable[[], bool], timeout: float = 900.0
                  ) -> tuple[float, float]:
        """Spin the event loop until ``condition()``; returns (worst stall ms, seconds)."""
        self.worst_ms, self.ticks, self._last = 0.0, 0, 0.0
        started = time.perf_counter()
        self._timer.start()
        while not condition():
            self.app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() - started > timeout:
                raise SystemExit("timed out")
        self._timer.stop()
        return self.worst_ms, time.perf_counter() - started
