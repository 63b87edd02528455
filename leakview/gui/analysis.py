"""'Analyze folder': ``scan.scan`` over every image of the folder, off the GUI thread, with
progress and Cancel; rows are collected as they arrive and summarised with
``report.summarize`` (folder verdict + per-class table). The same job also builds the **class
atlas** of every scanned method (:class:`leakview.atlas.AtlasSet`, fed the maps the scan
has just computed, so it costs no extra attribution): mean map per predicted class with the
hot-spot flag. After Cancel the atlas covers the images analysed so far.

The scan runs on the ``batch`` lane on its own deep copy of the model, so it never shares
hooks or gradients with the interactive layers computed meanwhile. Its rows are exactly the
rows ``leakview scan`` writes for the same folder, model, methods and options (same function,
same options, same batch size); :mod:`leakview.gui.exporting` writes them with the same CSV
writer and columns.

The folder, model, masks root, rule and top-k fraction come from the window's
:class:`leakview.appstate.AppState`, and the rows and summary go there (``state.rows``,
``state.summary``). A new rule in the state re-judges a finished analysis at once;
:meth:`FolderAnalysis.reset` drops a running one and its results: it runs whenever the state's
folder changes (``AppState.open_folder``: another folder, or the same one opened again) and
when a new model is loaded.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from leakview.appstate import AppState
from leakview.atlas import Atlas, AtlasSet
from leakview.gui.workers import Job, JobRunner, Progress
from leakview.report import summarize
from leakview.scan import ImageResult, ScanOptions, ScanRow, scan
from leakview.verdict import VerdictRule, rejudge


class FolderAnalysis(QObject):
    started = Signal(int)          # number of images
    resultReady = Signal(object)   # ImageResult (rows only)
    finished = Signal(object)      # summary dict (complete or, after Cancel, partial)
    failed = Signal(str)
    atlasReady = Signal(object)    # {method: Atlas}, after finished (complete or partial)
    resultJudged = Signal(object, object)  # image path, its rows flagged under a new rule
    cleared = Signal()             # results dropped (reset): nothing analysed

    def __init__(self, state: AppState, runner: JobRunner, parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self.state = state
        self.runner = runner
        self.complete = False
        self.methods: tuple[str, ...] = ()
        self.model_source = ""
        self.total = 0
        self.done = 0
        self.job: Job | None = None
        self.atlases: dict[str, Atlas] = {}
        self._run = 0
        state.events.rule.connect(self._rule_changed)
        state.events.root.connect(self.reset)   # another folder: none of these results

    # -- the results, kept in the state ---------------------------------------------------
    @property
    def rows(self) -> list[ScanRow]:
        return self.state.rows

    @property
    def summary(self) -> dict[str, Any] | None:
        return self.state.summary

    @property
    def rule(self) -> VerdictRule:
        return self.state.rule

    def _rule_changed(self) -> None:
        """New thresholds: flags and verdict of a finished analysis are judged again at once
        (a running one is judged under the new rule when it ends)."""
        if self.running() or self.summary is None:
            return
        self._rejudge()
        for path, rows in self.rows_by_image().items():
            self.resultJudged.emit(path, rows)
        self.finished.emit(self.summary)

    def _rejudge(self) -> None:
        rule = self.state.rule
        rows = rejudge(self.state.rows, rule, self.state.topk_fraction)
        self.state.rows = rows
        self.state.summary = summarize(rows, rule)

    def rows_by_image(self) -> dict[Path, list[ScanRow]]:
        root = self.state.root or Path()
        grouped: dict[Path, list[ScanRow]] = {}
        for row in self.state.rows:
            grouped.setdefault(root / row["image"], []).append(row)
        return grouped

    def reset(self) -> None:
        """Drop the running analysis (its late results are ignored) and every result."""
        self._run += 1
        if self.job is not None:
            self.job.cancel()
        self.job = None
        self.complete = False
        self.atlases = {}
        self.total = self.done = 0
        self.state.clear_results()
        self.cleared.emit()

    def running(self) -> bool:
        return self.job is not None and not self.job.should_stop()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def start(self, paths: Sequence[Path], methods: Sequence[str],
              method_options: dict[str, dict[str, Any]] | None = None,
              batch_size: int = 16) -> Job:
        """Scan ``paths`` (images of the state's folder) with the state's model, masks root,
        rule and top-k fraction."""
        state = self.state
        model, root = state.model, state.root
        if model is None or root is None:
            raise ValueError("Analyze folder needs an open folder and a loaded model")
        self.cancel()
        self._run += 1
        run = self._run
        options = ScanOptions(methods=tuple(methods), method_options=dict(method_options or {}),
                              masks_root=state.masks_root, batch_size=batch_size,
                              rule=state.rule, topk_fraction=state.topk_fraction)
        state.clear_results()
        self.complete = False
        self.atlases = {}
        self.methods = tuple(methods)
        self.model_source = str(model.source) if model.source else ""
        self.total, self.done = len(paths), 0
        paths = list(paths)

        atlases: dict[str, Atlas] = {}

        def work(ctx) -> int:
            local = copy.deepcopy(model)
            atlas_set = AtlasSet(local, root, options.methods, options.method_options)
            count = 0
            try:
                for result in scan(local, root, paths, options, should_stop=ctx.should_stop,
                                   keep_attributions=True):
                    count += 1
                    atlas_set.add_result(result)
                    # the GUI thread needs the rows only: drop the pixels and maps here
                    result.image, result.mask, result.attributions = None, None, {}
                    ctx.progress(count, len(paths), result)
            finally:  # complete or cancelled: the atlas of what was analysed
                if run == self._run:
                    atlases.update(atlas_set.finish())
            return count

        def progress(report: Progress) -> None:
            self.done = report.done
            result: ImageResult = report.detail
            self.state.add_rows(result.rows)
            self.resultReady.emit(result)

        def finish(complete: bool) -> None:
            if run != self._run:
                return
            self.job = None
            self.complete = complete
            self._rejudge()         # under the rule of now, if it changed while running
            self.atlases = dict(atlases)
            self.finished.emit(self.summary)
            self.atlasReady.emit(self.atlases)

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
