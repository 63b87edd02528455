"""Loading the model off the GUI thread: the newest request wins, and the state's model is
the one it loaded (None when it failed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from leakview.appstate import AppState
from leakview.gui.session_signals import SessionSignals
from leakview.gui.workers import JobRunner
from leakview.models import LoadedModel, ModelLoadError, load_model


class ModelLoader:
    """Loads models into ``state.model``; emits ``modelChanged`` (and ``modelFailed``), then
    calls ``loaded()``. :attr:`loaded_generation` numbers the load whose model is on the
    state (results computed by an older model are told apart by it)."""

    def __init__(self, state: AppState, runner: JobRunner, signals: SessionSignals,
                 loaded: Callable[[], None]) -> None:
        self.state = state
        self.runner = runner
        self.signals = signals
        self.device: str | None = None
        self.generation = 0           # the newest load asked for
        self.loaded_generation = 0    # the load whose model is state.model
        self._loaded = loaded

    def open(self, path: str) -> None:
        """Load ``path`` (the state's model path at once, its model when loaded)."""
        path = str(path)
        self.state.model_path = path
        device = self.device
        self.generation += 1
        generation = self.generation

        def done(model: LoadedModel) -> None:
            self.state.model = model
            self.loaded_generation = generation
            self.signals.modelChanged.emit(model)
            self._loaded()

        def failed(reason: str) -> None:
            self.state.model = None
            self.loaded_generation = generation
            self.signals.modelChanged.emit(None)
            self._loaded()
            self.signals.modelFailed.emit(path, reason)

        def load(ctx) -> LoadedModel:
            try:
                return load_model(path, device=device)
            except ModelLoadError as error:
                raise RuntimeError(error.reason) from None

        self.runner.run(load, f"Loading model {Path(path).name}", lane="model",
                        stale=lambda: self.generation != generation,
                        visible=True, on_done=done, on_error=failed)
