"""The current image, the current model and everything computed for them.

:class:`Session` is Qt-aware glue, not a computation: a thin facade over its parts, each with
one job, which ask the core for the work, each as a :class:`Job`:

- :class:`ImageDocuments`: the mask documents of the images shown lately (``masks``);
- :class:`ModelLoader`: the model (``models.load_model``);
- :class:`LayerJobs` with its :class:`ResultCache`: the prediction (``LoadedModel.predict``)
  and the attributions (``attribution.explain``) of the image on screen;
- :class:`OverlapJobs`: its CSV rows (``scan.score_attribution`` = overlap metrics against
  the expected and the suspect region + flag).

The session loads the images (``images.load_image``) and emits every part's signals (it is
their :class:`SessionSignals` hub). The folder, masks root, model, target, verdict rule and
automatic layers are read from the window's :class:`leakview.appstate.AppState` (the session
writes the model it loaded and the image it shows there); a new target restarts the layers, a
new rule re-judges the image.

Generation ids: every change of image, model or target bumps :attr:`generation`; a job
created under an older generation is stale, so it stops at its next ``should_stop`` check and
its result is dropped. Every result is emitted with the image path and generation it belongs
to, and the view stamps them on its layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from leakview.appstate import AppState
from leakview.attribution import Attribution
from leakview.gui.image_documents import ImageDocuments
from leakview.gui.layer_jobs import LayerJobs, LayerSubject
from leakview.gui.mask_doc import MaskDocument, MaskStore
from leakview.gui.model_loader import ModelLoader
from leakview.gui.overlap_jobs import OverlapInputs, OverlapJobs
from leakview.gui.result_cache import ResultCache
from leakview.gui.session_signals import SessionSignals, ShownImage
from leakview.gui.workers import Job, JobRunner
from leakview.images import load_image, relative_name, true_label
from leakview.masks import SUSPECT, mask_path, region_path
from leakview.models import LoadedModel, ModelSpec
from leakview.report import figure_title

__all__ = ["FigureInputs", "Session", "ShownImage"]

# Bounds read when a session is made, so paging through a 10,000-image folder keeps memory
# flat: mask documents of the last MAX_DOCUMENTS images (see ImageDocuments) and computed
# results (predictions, maps) up to CACHE_BYTES / CACHE_ENTRIES.
MAX_DOCUMENTS = 32
CACHE_BYTES = 256 * 2 ** 20
CACHE_ENTRIES = 4096


@dataclass
class FigureInputs:
    """The image on screen, its maps, its mask and a title: a study figure's inputs."""

    shown: ShownImage
    attributions: dict[str, Attribution]
    mask: np.ndarray | None
    title: str


class Session(SessionSignals):
    """The image on screen, its mask document, the model and the layers computed for them."""

    def __init__(self, state: AppState, runner: JobRunner, store: MaskStore,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runner = runner
        self.store = store
        self.generation = 0
        self.image: ShownImage | None = None
        self.cache = ResultCache(CACHE_BYTES, CACHE_ENTRIES)
        self.documents = ImageDocuments(store, self, self, MAX_DOCUMENTS,
                                        changed=self.schedule_overlap)
        self.models = ModelLoader(state, runner, self, loaded=self._restart_layers)
        self.layers = LayerJobs(runner, self, self.cache, self.current,
                                changed=self.schedule_overlap, model_now=lambda: state.model)
        self.overlap = OverlapJobs(runner, self, self.current)
        state.events.root.connect(self._folder_changed)
        state.events.target.connect(self._restart_layers)
        state.events.rule.connect(self.schedule_overlap)

    # -- the shared state and the parts' state, read here ---------------------------------
    @property
    def root(self) -> Path | None:
        return self.state.root

    @property
    def model(self) -> LoadedModel | None:
        return self.state.model

    @property
    def target(self) -> int | None:
        return self.state.target

    @property
    def auto_methods(self) -> tuple[str, ...]:
        """The layers computed for every image shown (``AppState.layer_methods``)."""
        return self.state.layer_methods

    @property
    def document(self) -> MaskDocument | None:
        """The mask document of the image on screen."""
        return self.documents.current

    @property
    def suspect_document(self) -> MaskDocument | None:
        """The suspect-region document of the image on screen."""
        return self.documents.current_suspect

    @property
    def probabilities(self) -> np.ndarray | None:
        return self.layers.probabilities

    @property
    def attributions(self) -> dict[str, Attribution]:
        """The finished layers of the image on screen, by method."""
        return self.layers.attributions

    @property
    def running(self) -> dict[str, Job]:
        """The layer jobs running for the image on screen, by method."""
        return self.layers.running

    # -- generations ---------------------------------------------------------------------
    def _bump(self) -> int:
        self.generation += 1
        self.layers.reset()
        return self.generation

    def current(self, generation: int) -> bool:
        return generation == self.generation

    # -- folder and images ---------------------------------------------------------------
    def set_folder(self, root: Path) -> None:
        """Open ``root`` (again): the state's folder (see :meth:`_folder_changed`)."""
        self.state.open_folder(root)

    def _folder_changed(self) -> None:
        """Another folder (or the same one again): forget every image's documents and
        computed results, and stop the work for the previous folder's images."""
        self.documents.clear()
        self.cache.clear()
        self.layers.forget()
        self.image = None
        self._bump()

    def open_image(self, path: Path) -> None:
        path = Path(path)
        generation = self._bump()
        self.state.image = path
        self.image = None
        self.layers.probabilities = None
        root = self.root or path.parent
        masks_root = self.state.masks_root
        mask_file = mask_path(root, path, masks_root)
        suspect_file = region_path(root, path, SUSPECT, masks_root)
        find_mask = self.documents.lookup(path, root, masks_root, mask_file)
        find_suspect = self.documents.lookup(path, root, masks_root, suspect_file, SUSPECT)

        def load(ctx) -> tuple[np.ndarray, Any, str, Any, str]:
            pixels = load_image(path)
            ctx.check()
            return (pixels, *find_mask(pixels.shape[:2]), *find_suspect(pixels.shape[:2]))

        def loaded(result: tuple[np.ndarray, Any, str, Any, str]) -> None:
            pixels, mask, problem, suspect, suspect_problem = result
            self._show(path, pixels, mask, mask_file, generation, suspect, suspect_file)
            if problem:
                self.message.emit(f"{path.name}: {problem} (drawing replaces it)")
            if suspect_problem:
                self.message.emit(f"{path.name}: suspect region: {suspect_problem} (drawing "
                                  f"replaces it)")

        def failed(reason: str) -> None:
            self.imageFailed.emit(str(path), reason)

        self.runner.run(load, f"Loading {path.name}", lane="io",
                        stale=lambda: not self.current(generation), on_done=loaded,
                        on_error=failed)

    def _show(self, path: Path, pixels: np.ndarray, mask: Any, mask_file: Path,
              generation: int, suspect: Any, suspect_file: Path) -> None:
        document = self.documents.show(path, pixels, mask, mask_file,
                                       image_root=self.root or path.parent,
                                       masks_root=self.state.masks_root, suspect=suspect,
                                       suspect_file=suspect_file)
        name = relative_name(path, self.root) if self.root else path.name
        self.image = ShownImage(path, name, pixels, generation)
        self.imageShown.emit(self.image)
        self.maskChanged.emit(document)
        self.suspectChanged.emit(self.documents.current_suspect)
        self.start_model_work()

    # -- model -----------------------------------------------------------------------------
    def open_model(self, path: str, spec: ModelSpec | None = None) -> None:
        self.models.open(path, spec)

    def _restart_layers(self) -> None:
        """Forget the shown image's results and compute them again (new model or target).
        An image still loading is left alone: it starts its own work when it arrives."""
        if self.image is None:
            return
        self._bump()
        self.image.generation = self.generation
        self.layers.probabilities = None
        self.imageShown.emit(self.image)
        self.start_model_work()

    def label(self) -> str | None:
        if self.image is None or self.model is None or self.root is None:
            return None
        return true_label(self.image.path, self.root, self.model.classes)

    def figure_inputs(self) -> FigureInputs | None:
        """What the study figure of the image on screen shows (None: no image)."""
        shown, document, model = self.image, self.document, self.model
        if shown is None:
            return None
        probabilities = self.probabilities if model is not None else None
        title = figure_title(shown.name, self.label(), model.classes if model else (),
                             probabilities)
        mask = document.mask if document is not None else None
        return FigureInputs(shown, dict(self.attributions), mask, title)

    # -- model work ------------------------------------------------------------------------
    def _subject(self) -> LayerSubject | None:
        if self.model is None or self.image is None:
            return None
        return LayerSubject(self.model, self.image, self.generation, self.target,
                            self.models.loaded_generation)

    def start_model_work(self, methods: tuple[str, ...] | None = None) -> None:
        """Predict the current image and compute ``methods`` (default: the auto layers);
        results already computed for this image, model and target come from the cache."""
        subject = self._subject()
        if subject is not None:
            self.layers.start(subject, methods if methods is not None else self.auto_methods)

    def compute(self, method: str, options: dict[str, Any] | None = None) -> Job | None:
        """Start ``method`` on the current image (no-op if it is done or running)."""
        subject = self._subject()
        return self.layers.compute(subject, method, options) if subject is not None else None

    def cancel(self, method: str) -> None:
        self.layers.cancel(method)

    def lime_runs(self) -> list[str]:
        """The images a LIME run goes on for (on screen or in the background)."""
        runs = (self.layers.shown_run, self.layers.background)
        return [run.subject.shown.name for run in runs
                if run is not None and not run.job.should_stop()]

    # -- overlap metrics ---------------------------------------------------------------------
    def schedule_overlap(self) -> None:
        """Recompute this image's rows (metrics only, no model run) off the GUI thread."""
        if self.image is None or self.model is None or self.probabilities is None:
            return
        document, suspect = self.document, self.suspect_document
        self.overlap.schedule(OverlapInputs(
            self.image, self.generation, self.model, self.probabilities,
            dict(self.attributions), document.mask if document is not None else None,
            self.label(), self.state.topk_fraction, self.state.rule,
            suspect.mask if suspect is not None else None))
