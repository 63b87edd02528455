"""The model: opening one (picker, Model menu, Ctrl+M) and showing what was loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import ImageCanvas
from leakview.gui.inspector import demo_models
from leakview.gui.results_panel import ResultsPanel
from leakview.gui.session import Session
from leakview.gui.settings import AppSettings
from leakview.gui.status import MessageBar, Notify
from leakview.models import LoadedModel

MODEL_FILTER = "Model bundles (*.pt *.pth *.ckpt *.bin);;All files (*)"


@dataclass(eq=False, repr=False)
class ModelController:
    """Loads models through the session; a new model starts the folder analysis over."""

    state: AppState
    session: Session
    analysis: FolderAnalysis
    results: ResultsPanel
    image_list: ImageList
    canvas: ImageCanvas
    settings: AppSettings
    model_menu: QMenu
    open_action: QAction
    messages: MessageBar
    notify: Notify
    parent: QWidget

    def __post_init__(self) -> None:
        self.results.model_picker.set_recent(self.settings.recent("recent_models"))
        self.results.model_picker.chosen.connect(self.open_model)
        self.results.model_picker.openRequested.connect(self.choose_model)
        self.model_menu.aboutToShow.connect(self.fill_model_menu)
        self.session.modelChanged.connect(self._model_changed)
        self.session.modelFailed.connect(
            lambda path, reason: self.notify(f"Cannot load model {path}: {reason}", "error"))

    def handlers(self) -> Handlers:
        return {"open_model": self.choose_model}

    def open_model(self, path: str | Path) -> None:
        """Load the model at ``path`` (again); the settings remember it."""
        path = str(path)
        self.analysis.reset()
        self.session.open_model(path)     # the state's model path (the settings save it)
        self.results.show_model_loading(path, self.settings.recent("recent_models"))

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open model",
                                              self.settings.last_model, MODEL_FILTER)
        if path:
            self.open_model(path)

    def _model_changed(self, model: LoadedModel | None) -> None:
        self.analysis.reset()
        self.results.set_model(model, self.state.model_path)
        self.canvas.clear_layers()
        self.image_list.model.set_classes(model.classes if model is not None else ())
        if model is not None:
            self.messages.dismiss("error", "model")

    def fill_model_menu(self) -> None:
        menu = self.model_menu
        menu.clear()
        for label, path in demo_models():
            action = menu.addAction(label, lambda p=path: self.open_model(p))
            action.setCheckable(True)
            action.setChecked(path == self.state.model_path)
        recent = [p for p in self.settings.recent("recent_models")
                  if p not in {path for _, path in demo_models()}]
        if recent:
            menu.addSeparator()
            for path in recent:
                action = menu.addAction(Path(path).name, lambda p=path: self.open_model(p))
                action.setToolTip(path)
                action.setCheckable(True)
                action.setChecked(path == self.state.model_path)
        menu.addSeparator()
        menu.addAction(self.open_action)
