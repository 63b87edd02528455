"""The model: opening one (picker, Model menu, Ctrl+M, a Hugging Face folder with
Ctrl+Shift+M), asking for what a file does not say (:class:`ModelSpecDialog`) and showing
what was loaded."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import ImageCanvas
from leakview.gui.inspector import demo_models
from leakview.gui.model_loader import model_file_filter
from leakview.gui.model_spec_dialog import SPEC_FIELDS, ModelSpecDialog
from leakview.gui.results_panel import ResultsPanel
from leakview.gui.session import Session
from leakview.gui.settings import AppSettings
from leakview.gui.status import MessageBar, Notify
from leakview.models import LoadedModel, ModelLoadError, ModelSpec, ModelSpecNeeded


def merge_specs(base: ModelSpec | None, answer: ModelSpec) -> ModelSpec:
    """``answer`` with the fields it leaves None taken from ``base`` (an earlier answer)."""
    if base is None:
        return answer
    given = {name: value for name, value in dataclasses.asdict(answer).items()
             if value is not None}
    return dataclasses.replace(base, **given)


@dataclass(eq=False, repr=False)
class ModelController:
    """Loads models through the session; a new model starts the folder analysis over. A
    file that needs the user's answers opens :class:`ModelSpecDialog`; OK loads it again
    with them, Cancel leaves the window as it was. The answers are remembered per file for
    the session (:attr:`specs`), so asking again starts from them."""

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
    open_folder_action: QAction | None = None
    spec_dialog: ModelSpecDialog | None = field(default=None, init=False)
    specs: dict[str, ModelSpec] = field(default_factory=dict, init=False)
    _questions: dict[str, ModelSpecNeeded] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.results.model_picker.set_recent(self.settings.recent("recent_models"))
        self.results.model_picker.chosen.connect(self.open_model)
        self.results.model_picker.openRequested.connect(self.choose_model)
        self.results.model_picker.openFolderRequested.connect(self.choose_model_folder)
        self.model_menu.aboutToShow.connect(self.fill_model_menu)
        self.session.modelChanged.connect(self._model_changed)
        self.session.modelFailed.connect(self._model_failed)
        self.session.modelSpecNeeded.connect(self.ask_spec)

    def handlers(self) -> Handlers:
        return {"open_model": self.choose_model, "open_model_folder": self.choose_model_folder}

    def open_model(self, path: str | Path, spec: ModelSpec | None = None) -> None:
        """Load the model at ``path`` (again), with the user's ``spec`` for a file that does
        not describe itself; the settings remember it once it loaded."""
        path = str(path)
        self.session.open_model(path, spec)   # the state's model path (the settings save it)
        self.results.show_model_loading(path, self.settings.recent("recent_models"))

    def _start_folder(self) -> str:
        last = self.settings.last_model
        return "" if not last else str(Path(last) if Path(last).is_dir() else Path(last).parent)

    def choose_model(self) -> None:
        """Ctrl+M: a model file of any accepted form."""
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open model",
                                              self.settings.last_model, model_file_filter())
        if path:
            self.open_model(path)

    def choose_model_folder(self) -> None:
        """Ctrl+Shift+M: a model saved as a folder (Hugging Face ``save_pretrained``)."""
        path = QFileDialog.getExistingDirectory(
            self.parent, "Open model folder (Hugging Face save_pretrained)",
            self._start_folder())
        if path:
            self.open_model(path)

    # -- a file that does not say everything ----------------------------------------------
    def ask_spec(self, path: str, error: ModelLoadError, tried: ModelSpec | None) -> None:
        """``path`` needs the user's answers (``error`` is a ModelSpecNeeded), or refused the
        answers ``tried`` (``error`` says why): ask in the dialog, the window unchanged."""
        self.results.show_model(self.state.model, self.state.model_path)
        if isinstance(error, ModelSpecNeeded):
            self._questions[path] = error
        question = self._questions.get(path)
        if question is not None:
            missing, reason, guessed = question.missing, question.reason, question.guessed_arch
        else:   # a spec given from the start (leakview gui --arch ...) was refused
            missing = tuple(name for name in SPEC_FIELDS
                            if tried is not None and getattr(tried, name) is not None)
            reason, guessed = "", None
        if self.spec_dialog is not None:
            self.spec_dialog.close()
        dialog = ModelSpecDialog(
            path, missing, reason=reason, guessed_arch=guessed,
            initial=merge_specs(self.specs.get(path), tried) if tried else self.specs.get(path),
            error="" if isinstance(error, ModelSpecNeeded) else error.reason,
            parent=self.parent)
        dialog.setModal(True)
        dialog.accepted.connect(lambda: self._answered(path, tried, dialog.spec()))
        self.spec_dialog = dialog
        dialog.open()

    def _answered(self, path: str, tried: ModelSpec | None, answer: ModelSpec) -> None:
        spec = merge_specs(merge_specs(self.specs.get(path), tried) if tried
                           else self.specs.get(path), answer)
        self.specs[path] = spec
        self.spec_dialog = None
        self.open_model(path, spec)

    # -- the model loaded ------------------------------------------------------------------
    def _model_changed(self, model: LoadedModel | None) -> None:
        self.analysis.reset()
        self.results.set_model(model, self.state.model_path)
        self.canvas.clear_layers()
        self.image_list.model.set_classes(model.classes if model is not None else ())
        if model is not None:
            self.messages.dismiss("error", "model")

    def _model_failed(self, path: str, reason: str) -> None:
        """``path`` cannot be loaded: the window keeps the model it had (picker, summary,
        layers), the message bar says why, and the settings forget ``path``."""
        self.settings.forget_model(path)
        self.results.model_picker.set_recent(self.settings.recent("recent_models"))
        self.results.show_model(self.state.model, self.state.model_path)
        model = self.state.model
        kept = (f" Still using {Path(self.state.model_path).name}." if model is not None
                else " No model loaded.")
        ending = "" if str(reason).rstrip().endswith((".", "!", "?")) else "."
        self.notify(f"Cannot load model {path}: {reason}{ending}{kept}", "error")

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
        if self.open_folder_action is not None:
            menu.addAction(self.open_folder_action)
