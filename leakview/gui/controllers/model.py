"""The model: opening one (picker, Model menu, Ctrl+M) and showing what was loaded."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from leakview.appstate import AppState
from leakview.models import LoadedModel
from leakview.gui.actions import Handlers
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import ImageCanvas
from leakview.gui.results_panel import ResultsPanel, demo_models
from leakview.gui.session import Session
from leakview.gui.settings import AppSettings
from leakview.gui.status import MessageBar, Notify

MODEL_FILTER = "Model bundles (*.pt *.pth *.ckpt *.bin);;All files (*)"


class ModelController:
    """Loads models through the session; a new model starts the folder analysis over."""

    def __init__(self, state: AppState, session: Session, analysis: FolderAnalysis,
                 results: ResultsPanel, image_list: ImageList, canvas: ImageCanvas,
                 settings: AppSettings, model_menu: QMenu, open_action: QAction,
                 messages: MessageBar, notify: Notify, parent: QWidget) -> None:
        self.state = state
        self.session = session
        self.analysis = analysis
        self.results = results
        self.image_list = image_list
        self.canvas = canvas
        self.settings = settings
        self.model_menu = model_menu
        self.open_action = open_action
        self.messages = messages
        self.notify = notify
        self.parent = parent
        results.model_picker.set_recent(settings.recent("recent_models"))
        results.model_picker.chosen.connect(self.open_model)
        results.model_picker.openRequested.connect(self.choose_model)
        model_menu.aboutToShow.connect(self.fill_model_menu)
        session.modelChanged.connect(self._model_changed)
        session.modelFailed.connect(
            lambda path, reason: notify(f"Cannot load model {path}: {reason}", "error"))

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
