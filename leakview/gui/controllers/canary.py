"""Tools > Run canary…: the options dialog and the background run of
:mod:`leakview.gui.canary_dialog`, with the verdict shown in the window."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import QWidget

from leakview.appstate import AppState
from leakview.canary import CanaryConfig
from leakview.gui.actions import Handlers
from leakview.gui.canary_dialog import CanaryDialog, default_data_folder
from leakview.gui.canary_run import CanaryRun, verdict_text
from leakview.gui.status import Notify, StatusPanel


@dataclass(eq=False, repr=False)
class CanaryController:
    """One canary at a time; its dialog starts on the open folder when that is honest data."""

    state: AppState
    canary: CanaryRun
    status: StatusPanel
    notify: Notify
    parent: QWidget
    dialog: CanaryDialog | None = field(default=None, init=False)
    """The last options dialog opened."""

    def __post_init__(self) -> None:
        self.canary.finished.connect(self._finished)
        self.canary.stopped.connect(self.notify)   # (message, level): cancelled or failed

    def handlers(self) -> Handlers:
        return {"run_canary": self.open_dialog}

    def open_dialog(self) -> None:
        """The options dialog, then the run in the background."""
        if self.canary.running():
            self.notify("A canary is already running: cancel it (status bar) first", "warning")
            return
        dialog = CanaryDialog(default_data_folder(self.state.root), self.parent)
        dialog.accepted.connect(lambda: self.start(dialog.result_config))
        self.dialog = dialog
        dialog.open()

    def start(self, config: CanaryConfig) -> None:
        self.status.set_extra("")
        self.notify(f"Canary started: writing to {config.out} (progress and Cancel in the "
                    f"status bar)", "info")
        self.canary.start(config)

    def _finished(self, result) -> None:
        text, level = verdict_text(result)
        self.notify(text, level)
        outcome = (result.verdict or {}).get("outcome", "")
        self.status.set_extra(f"Canary: {outcome} - {result.html_path}")
