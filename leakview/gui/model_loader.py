"""Loading the model off the GUI thread: the newest request wins, and the state's model is
the one it loaded. A file that fails to load changes nothing: the state keeps the model (and
its path) it had, the layers keep working, and ``modelFailed`` says why.

A file that does not say everything (:class:`leakview.models.ModelSpecNeeded`: a bare
state_dict without its classes ...) is not a failure: the state keeps the model it had and
``modelSpecNeeded`` asks the window to ask the user; :meth:`ModelLoader.open` with the
user's :class:`ModelSpec` tries again. A refusal of a file loaded *with* a spec comes back the
same way (the user's answer was wrong: ask again, saying why)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from leakview.appstate import AppState
from leakview.gui.session_signals import SessionSignals
from leakview.gui.workers import JobRunner
from leakview.models import LoadedModel, ModelLoadError, ModelSpec, ModelSpecNeeded, load_model

MODEL_EXTENSIONS = (".pt", ".pth", ".pt2", ".safetensors", ".onnx", ".bin", ".ckpt")
"""The file endings Open model lists (a Hugging Face folder: Open model folder)."""


def model_file_filter() -> str:
    """The Open model dialog's filter: every accepted model file, then all files."""
    patterns = " ".join(f"*{extension}" for extension in MODEL_EXTENSIONS)
    return f"Models ({patterns});;All files (*)"


LoadFunction = Callable[..., LoadedModel]
"""``load(path, device=..., spec=...) -> LoadedModel``, raising ModelLoadError (or its
subclass ModelSpecNeeded): :func:`leakview.models.load_model` unless a test gives another."""


class ModelLoader:
    """Loads models into ``state.model``; emits ``modelChanged``, then calls ``loaded()``;
    emits ``modelFailed`` (the state as it was) when the file cannot be loaded, and
    ``modelSpecNeeded`` when it needs the user's answers. :attr:`loaded_generation` numbers
    the load whose model is on the state (results computed by an older model are told apart
    by it), :attr:`loaded_path` is the path it was loaded from."""

    def __init__(self, state: AppState, runner: JobRunner, signals: SessionSignals,
                 loaded: Callable[[], None], load: LoadFunction = load_model) -> None:
        self.state = state
        self.runner = runner
        self.signals = signals
        self.device: str | None = None
        self.load = load
        self.generation = 0           # the newest load asked for
        self.loaded_generation = 0    # the load whose model is state.model
        self.loaded_path = state.model_path if state.model is not None else ""
        self._loaded = loaded

    def open(self, path: str, spec: ModelSpec | None = None) -> None:
        """Load ``path`` (the state's model path at once, its model when loaded; the path of
        the model kept when it fails), with the user's ``spec`` for a file that does not
        describe itself."""
        path = str(path)
        self.state.model_path = path
        device, load = self.device, self.load
        self.generation += 1
        generation = self.generation

        def done(result: LoadedModel | ModelLoadError) -> None:
            if isinstance(result, ModelLoadError):   # ask the user: nothing changes meanwhile
                self.state.model_path = self.loaded_path
                self.signals.modelSpecNeeded.emit(path, result, spec)
                return
            self.loaded_path = path
            self.state.model = result
            self.loaded_generation = generation
            self.signals.modelChanged.emit(result)
            self._loaded()

        def failed(reason: str) -> None:   # the working model stays, and its path
            self.state.model_path = self.loaded_path
            self.signals.modelFailed.emit(path, reason)

        def work(ctx) -> LoadedModel | ModelLoadError:
            try:
                return load(path, device=device, spec=spec)
            except ModelLoadError as error:
                if spec is not None or isinstance(error, ModelSpecNeeded):
                    return error
                raise RuntimeError(error.reason) from None

        self.runner.run(work, f"Loading model {Path(path).name}", lane="model",
                        stale=lambda: self.generation != generation,
                        visible=True, on_done=done, on_error=failed)

