"""The canary run behind the dialog: :func:`leakview.canary.run_canary` in a background job,
with its phase in the status bar, the verdict as a message and the report opened at the end."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from leakview.canary import CanaryConfig
from leakview.gui.workers import Job, JobRunner, Progress
from leakview.resources import is_honest_demo

OUTCOME_LEVEL = {"found": "info", "partly found": "warning", "missed": "warning",
                 "leak did not take": "warning"}


class CanaryRun(QObject):
    """Runs canaries on the runner's batch lane; the window connects its signals."""

    finished = Signal(object)   # CanaryResult
    stopped = Signal(str, str)  # message, level (cancelled or failed)

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.job: Job | None = None
        self.config: CanaryConfig | None = None
        self.phase = ""
        self.result = None
        self.started = 0.0

    def running(self) -> bool:
        return self.job is not None and not self.job.should_stop()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def start(self, config: CanaryConfig) -> Job:
        from leakview.canary import run_canary

        self.config, self.phase, self.result = config, "", None
        self.started = time.time()

        def work(ctx) -> Any:
            if is_honest_demo(config.data):
                from leakview.resources import ensure_honest_demo

                ensure_honest_demo(lambda done, total: ctx.progress(
                    done, total, ("demo images", f"{done}/{total}")))
            return run_canary(config, progress=lambda phase, done, total, text:
                              ctx.progress(done, total, (phase, text)),
                              should_stop=ctx.should_stop)

        job = Job(work, f"Canary on {config.data.name}: starting", lane="batch", visible=True,
                  cancellable=True, on_progress=self._progress, on_done=self._done,
                  on_error=self._failed, on_cancel=self._cancelled)
        self.job = job
        return self.runner.submit(job)

    def _progress(self, progress: Progress) -> None:
        phase, text = progress.detail
        self.phase = phase
        if self.job is not None:
            detail = f" - {text}" if text else ""
            self.job.label = f"Canary: {phase}{detail}"

    def _report_note(self) -> str:
        assert self.config is not None
        report = Path(self.config.out) / "report.html"
        # a report older than this run belongs to an earlier run (e.g. refused: not --force)
        if report.is_file() and report.stat().st_mtime >= self.started - 2:
            return f"partial report in {report}"
        return "no report was written"

    def _done(self, result) -> None:
        self.job = None
        self.result = result
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(result.html_path)))
        self.finished.emit(result)

    def _failed(self, reason: str) -> None:
        self.job = None
        self.stopped.emit(f"Canary failed: {reason} ({self._report_note()})", "error")

    def _cancelled(self) -> None:
        self.job = None
        self.stopped.emit(f"Canary cancelled during {self.phase or 'start-up'}: "
                          f"{self._report_note()}", "warning")


def verdict_text(result) -> tuple[str, str]:
    """The message-bar text and level of a finished canary."""
    verdict = result.verdict or {}
    outcome = str(verdict.get("outcome", "unknown"))
    verbs = {"clearly": "found it clearly", "weakly": "found it weakly", "missed": "missed it"}
    methods = "; ".join(f"{method} {verbs.get(value.get('strength'), value.get('strength'))}"
                        for method, value in verdict.get("methods", {}).items())
    change = verdict.get("leaky_change_rate")
    follow = verdict.get("leaky_swap_follow_rate")
    learned = "not measured"
    if _finite(change):
        learned = f"{change:.0%} of the leaky model's predictions change without the marker"
        if _finite(follow):
            learned += f", {follow:.0%} follow another class's marker"
    if verdict.get("leak_took"):
        text = f"Canary: {outcome.upper()}: {methods} ({learned})."
    else:
        text = f"Canary: {outcome.upper()} ({learned}): the methods cannot be judged."
    return f"{text} Report: {result.html_path}", OUTCOME_LEVEL.get(outcome, "warning")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
