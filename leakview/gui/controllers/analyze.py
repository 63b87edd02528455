"""Analysis > Analyze folder: starting the folder analysis and showing its progress, verdict,
per-class table and class atlas in the folder panel (and its badges in the image list)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QDockWidget

from leakview.appstate import AppState
from leakview.attribution import METHODS
from leakview.gui.actions import Handlers
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.availability import unavailable_methods
from leakview.gui.canary_run import CanaryRun
from leakview.gui.folder_view import FolderPanel
from leakview.gui.image_list import ImageList
from leakview.gui.mask_doc import MaskStore
from leakview.gui.options_form import OptionsForm
from leakview.gui.status import Notify


@dataclass(eq=False, repr=False)
class AnalysisController:
    """Runs :class:`FolderAnalysis` on the listed images with the ticked methods."""

    state: AppState
    analysis: FolderAnalysis
    store: MaskStore
    image_list: ImageList
    panel: FolderPanel
    lime_form: OptionsForm
    canary: CanaryRun
    dock: QDockWidget
    notify: Notify

    def __post_init__(self) -> None:
        self.panel.analyzeRequested.connect(self.analyze_folder)
        self.panel.cancelRequested.connect(self.analysis.cancel)
        self.analysis.started.connect(self._started)
        self.analysis.resultReady.connect(self._result)
        self.analysis.resultJudged.connect(self.image_list.model.set_results)
        self.analysis.finished.connect(self._finished)
        self.analysis.failed.connect(self._failed)
        self.analysis.atlasReady.connect(
            lambda atlases: self.panel.atlas.set_atlases(atlases, self.analysis.complete))
        self.analysis.cleared.connect(self.panel.reset)
        self.state.events.model.connect(
            lambda model: self.panel.set_unavailable(unavailable_methods(model)))
        self.panel.set_unavailable(unavailable_methods(self.state.model))

    def handlers(self) -> Handlers:
        return {"analyze_folder": self.analyze_folder}

    def method_options(self, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The options of the methods that have a form (LIME's); ValueError when invalid."""
        options = {}
        if "lime" in methods:
            options["lime"] = self.lime_form.values()
        return options

    def analyze_folder(self) -> None:
        """Ctrl+R: analyze every listed image with the ticked methods that can run on the
        model (the others are skipped, and the message bar says which and why)."""
        if self.state.root is None or self.state.model is None:
            self.notify("Open a folder and a model first", "warning")
            return
        reasons = unavailable_methods(self.state.model)
        skipped = [method for method in self.state.methods if method in reasons]
        methods = tuple(method for method in self.state.methods if method not in reasons)
        if not self.state.methods:
            self.notify("Tick at least one method to analyze", "warning")
            return
        if skipped:
            note = " ".join(f"{reasons[method]}." for method in skipped)
            if not methods:
                self.notify(f"None of the ticked methods can run on this model. {note}",
                            "warning")
                return
            labels = ", ".join(METHODS[method].label for method in methods)
            self.notify(f"Analyze folder runs {labels} only. {note}", "info")
        try:
            options = self.method_options(methods)
        except ValueError as error:
            self.notify(f"LIME options: {error}", "error")
            return
        self.store.flush()
        self.analysis.start(self.image_list.model.paths(), methods, options)

    def _started(self, total: int) -> None:
        self.panel.set_running(True, 0, total)
        self.panel.atlas.clear()
        if self.canary.running():  # both use the batch lane, one job at a time
            self.notify("Analyze folder starts when the running canary ends (or cancel "
                        "it in the status bar)", "info")

    def _result(self, result) -> None:
        self.image_list.model.set_results(result.path, result.rows)
        self.panel.set_running(True, self.analysis.done, self.analysis.total)

    def _finished(self, summary: dict[str, Any]) -> None:
        self.panel.set_running(False)
        self.panel.show_summary(summary, self.analysis.complete, self.analysis.done,
                                self.analysis.total)
        self.dock.show()

    def _failed(self, reason: str) -> None:
        self.panel.show_failure()
        self.notify(f"Folder analysis failed: {reason}", "error")
