"""File > Export: the folder analysis's CSV (as ``leakview scan`` writes it), its summary JSON
and the study figure of the image on screen. Each ``*_to(path)`` is the dialog-free twin of
the menu entry, for tests and scripts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.exporting import export_csv, export_figure, export_summary, figure
from leakview.gui.session import Session
from leakview.gui.status import Notify, StatusPanel
from leakview.gui.workers import Job, JobRunner


@dataclass(eq=False, repr=False)
class ExportController:
    """Writes the exports through :mod:`leakview.gui.exporting`."""

    state: AppState
    analysis: FolderAnalysis
    session: Session
    runner: JobRunner
    status: StatusPanel
    notify: Notify
    parent: QWidget

    def handlers(self) -> Handlers:
        return {"export_csv": self.choose_csv, "export_summary": self.choose_summary,
                "export_figure": self.choose_figure}

    def _save_name(self, title: str, suffix: str, pattern: str) -> str:
        start = str((self.state.root or Path.home()) / f"leakview{suffix}")
        path, _ = QFileDialog.getSaveFileName(self.parent, title, start, pattern)
        return path

    def export_csv_to(self, path: str | Path) -> Path | None:
        rows = self.state.rows
        if not rows:
            self.notify("Nothing to export yet: run Analysis > Analyze folder (Ctrl+R) first",
                        "warning")
            return None
        try:
            written = export_csv(path, rows)
        except OSError as error:
            self.notify(f"Cannot write {path}: {error}", "error")
            return None
        self.status.set_extra(f"Wrote {len(rows)} rows to {written}")
        return written

    def choose_csv(self) -> None:
        if not self.state.rows:
            self.export_csv_to("")
            return
        path = self._save_name("Export CSV", ".csv", "CSV (*.csv)")
        if path:
            self.export_csv_to(path)

    def export_summary_to(self, path: str | Path) -> Path | None:
        summary = self.state.summary
        if summary is None:
            self.notify("No folder summary yet: run Analyze folder first", "warning")
            return None
        try:
            return export_summary(path, summary, self.analysis.model_source,
                                  str(self.state.root), self.analysis.methods)
        except OSError as error:
            self.notify(f"Cannot write {path}: {error}", "error")
            return None

    def choose_summary(self) -> None:
        path = self._save_name("Export summary", "-summary.json", "JSON (*.json)")
        if path:
            self.export_summary_to(path)

    def export_figure_to(self, path: str | Path) -> Job | None:
        inputs = self.session.figure_inputs()
        if inputs is None:
            self.notify("No image to export", "warning")
            return None
        return self.runner.run(
            lambda ctx: export_figure(path, figure(inputs.shown.pixels, inputs.attributions,
                                                   inputs.mask, inputs.title)),
            "Saving figure", lane="io", visible=True,
            on_done=lambda written: self.status.set_extra(f"Saved {written}"),
            on_error=lambda reason: self.notify(f"Cannot save figure: {reason}", "error"))

    def choose_figure(self) -> None:
        path = self._save_name("Export figure", ".png", "PNG (*.png)")
        if path:
            self.export_figure_to(path)
