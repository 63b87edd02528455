"""'Analyze folder': ``scan.scan`` over every image of the folder, off the GUI thread, with
progress and Cancel; rows are collected as they arrive and summarised with
``report.summarize`` (folder verdict + per-class table).

The scan runs on the ``batch`` lane on its own deep copy of the model, so it never shares
hooks or gradients with the interactive layers computed meanwhile. Its rows are exactly the
rows ``leakview scan`` writes for the same folder, model, methods and options (same function,
same options, same batch size); :mod:`leakview.gui.exporting` writes them with the same CSV
writer and columns.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from PySide6.QtCore import QObject, Signal

from leakview.models import LoadedModel
from leakview.report import summarize
from leakview.scan import ImageResult, ScanOptions, scan
from leakview.verdict import VerdictRule
from leakview.gui.workers import Job, JobRunner


class FolderAnalysis(QObject):
    started = Signal(int)          # number of images
    resultReady = Signal(object)   # ImageResult (rows only)
    finished = Signal(object)      # summary dict (complete or, after Cancel, partial)
    failed = Signal(str)

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.rows: list[dict[str, Any]] = []
        self.summary: dict[str, Any] | None = None
        self.complete = False
        self.root: Path | None = None
        self.methods: tuple[str, ...] = ()
        self.model_source = ""
        self.rule = VerdictRule()
        self.total = 0
        self.done = 0
        self.job: Job | None = None
        self._run = 0

    def running(self) -> bool:
        return self.job is not None and not self.job.should_stop()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def start(self, model: LoadedModel, root: Path, paths: Sequence[Path],
              methods: Sequence[str], method_options: dict[str, dict[str, Any]] | None = None,
              rule: VerdictRule | None = None, masks_root: Path | None = None,
              batch_size: int = 16) -> Job:
        self.cancel()
        self._run += 1
        run = self._run
        self.rule = rule or VerdictRule()
        options = ScanOptions(methods=tuple(methods), method_options=dict(method_options or {}),
                              masks_root=masks_root, batch_size=batch_size, rule=self.rule)
        self.rows, self.summary, self.complete = [], None, False
        self.root, self.methods = Path(root), tuple(methods)
        self.model_source = str(model.source) if model.source else ""
        self.total, self.done = len(paths), 0
        paths = list(paths)

        def work(ctx) -> int:
            local = copy.deepcopy(model)
            count = 0
            for result in scan(local, root, paths, options, should_stop=ctx.should_stop):
                count += 1
                ctx.progress((count, len(paths), result))
            return count

        def progress(payload: tuple) -> None:
            self.done = payload[0]
            result: ImageResult = payload[2]
            self.rows.extend(result.rows)
            self.resultReady.emit(result)

        def finish(complete: bool) -> None:
            if run != self._run:
                return
            self.job = None
            self.complete = complete
            self.summary = summarize(self.rows, self.rule)
            self.finished.emit(self.summary)

        def failed(reason: str) -> None:
            if run == self._run:
                self.job = None
                self.failed.emit(reason)

        self.job = Job(work, f"Analyzing folder ({len(paths)} images)", lane="batch",
                       stale=lambda: run != self._run, visible=True, cancellable=True,
                       on_progress=progress, on_done=lambda _: finish(True),
                       on_cancel=lambda: finish(False), on_error=failed)
        self.job.progress_value = (0, len(paths))
        self.started.emit(len(paths))
        return self.runner.submit(self.job)
