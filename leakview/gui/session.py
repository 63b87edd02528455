"""The current image, the current model and everything computed for them.

:class:`Session` is Qt-aware glue, not a computation: it asks the core to load images
(``images.load_image``), masks (``masks.read_mask``), models (``models.load_model``),
predictions (``LoadedModel.predict``), attributions (``attribution.explain``) and per-image
CSV rows (``scan.score_attribution`` = overlap metrics + leak flag), each as a :class:`Job`.

The folder, masks root, model, target, verdict rule and automatic layers are read from the
window's :class:`leakview.appstate.AppState` (the session writes the model it loaded and the
image it shows there); a new target restarts the layers, a new rule re-judges the image.

Generation ids: every change of image, model or target bumps :attr:`generation`; a job
created under an older generation is stale, so it stops at its next ``should_stop`` check and
its result is dropped. Every result is emitted with the image path and generation it belongs
to, and the view stamps them on its layers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from leakview.appstate import AppState
from leakview.attribution import METHODS, Attribution, explain
from leakview.gui.mask_doc import MaskDocument, MaskStore
from leakview.gui.workers import Job, JobRunner, Progress
from leakview.images import load_image, relative_name, true_label
from leakview.masks import MaskError, find_mask, mask_path, read_mask
from leakview.models import LoadedModel, ModelLoadError, load_model
from leakview.scan import ScanRow, score_attribution

# Bounded caches (least recently used first out), so paging through a 10,000-image folder
# keeps memory flat: mask documents (with their undo history) of the last MAX_DOCUMENTS images
# -- a document whose newest edit is not on disk yet (write queued or failed) is never dropped
# -- and computed results (predictions, maps) up to CACHE_BYTES / CACHE_ENTRIES.
MAX_DOCUMENTS = 32
CACHE_BYTES = 256 * 2 ** 20
CACHE_ENTRIES = 4096


def _nbytes(value: Any) -> int:
    """Approximate memory of a cached result: its arrays (an Attribution's maps and extras)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    total = 0
    for part in (getattr(value, "map", None), getattr(value, "map_model", None),
                 *getattr(value, "extras", {}).values()):
        if isinstance(part, np.ndarray):
            total += int(part.nbytes)
    return total


@dataclass
class ShownImage:
    """The image on screen: its pixels and where it came from."""

    path: Path
    name: str
    pixels: np.ndarray
    generation: int


@dataclass
class FigureInputs:
    """The image on screen, its maps, its mask and a title: a study figure's inputs."""

    shown: ShownImage
    attributions: dict[str, Attribution]
    mask: np.ndarray | None
    title: str


class Session(QObject):
    imageShown = Signal(object)              # ShownImage
    imageFailed = Signal(str, str)           # path, reason
    maskChanged = Signal(object)             # MaskDocument
    modelChanged = Signal(object)            # LoadedModel | None
    modelFailed = Signal(str, str)           # path, reason
    predictionReady = Signal(str, object)    # image path, probabilities
    layerStarted = Signal(str)               # method
    layerReady = Signal(str, object, bool, str, int)  # method, Attribution, provisional,
    #                                                   image path, generation
    layerFailed = Signal(str, str)           # method, reason
    layerCancelled = Signal(str)             # method
    overlapReady = Signal(str, list)         # image path, rows (scan.ScanRow)
    message = Signal(str)

    def __init__(self, state: AppState, runner: JobRunner, store: MaskStore,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runner = runner
        self.store = store
        self.generation = 0
        self.image: ShownImage | None = None
        self.document: MaskDocument | None = None
        self.documents: OrderedDict[Path, MaskDocument] = OrderedDict()
        self.probabilities: np.ndarray | None = None
        self.attributions: dict[str, Attribution] = {}
        self.running: dict[str, Job] = {}
        self.device: str | None = None
        self._overlap_version = 0
        self._model_generation = 0
        self._loaded_model = 0  # the model generation whose model is self.model
        self.cache: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._cache_bytes = 0
        state.events.target.connect(self._restart_layers)
        state.events.rule.connect(self.schedule_overlap)

    # -- the shared state, read here ----------------------------------------------------
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

    # -- generations ---------------------------------------------------------------------
    def _bump(self) -> int:
        self.generation += 1
        self.attributions = {}
        self.running = {}
        return self.generation

    def _stale_after(self, generation: int):
        return lambda: self.generation != generation

    def current(self, generation: int) -> bool:
        return generation == self.generation

    # -- folder and images ---------------------------------------------------------------
    def set_folder(self, root: Path) -> None:
        """A folder was opened (again): forget every image's documents and results."""
        if self.document is not None:
            self.document.changed.disconnect(self._on_mask_changed)
        for document in self.documents.values():
            document.deleteLater()
        self.documents.clear()
        self.document = None
        self.image = None
        self.state.image = None
        self.state.root = Path(root).absolute()
        self._bump()

    def open_image(self, path: Path) -> None:
        path = Path(path)
        generation = self._bump()
        self.state.image = path
        self.image = None
        self.probabilities = None
        root = self.root or path.parent
        cached = self.documents.get(path)
        masks_root = self.state.masks_root
        mask_file = mask_path(root, path, masks_root)
        store = self.store

        def load(ctx) -> tuple[np.ndarray, Any, str]:
            pixels = load_image(path)
            ctx.check()
            shape = pixels.shape[:2]
            if cached is not None and cached.shape == shape:
                return pixels, cached, ""
            pending = store.pending(mask_file)
            if not store.is_absent(pending):
                return pixels, pending, ""
            mask, problem = find_mask(root, path, masks_root, shape)
            return pixels, mask, f"mask ignored: {problem.reason}" if problem else ""

        def loaded(result: tuple[np.ndarray, Any, str]) -> None:
            pixels, mask, problem = result
            self._show(path, pixels, mask, mask_file, generation)
            if problem:
                self.message.emit(f"{path.name}: {problem} (drawing replaces it)")

        def failed(reason: str) -> None:
            self.imageFailed.emit(str(path), reason)

        self.runner.run(load, f"Loading {path.name}", lane="io",
                        stale=self._stale_after(generation), on_done=loaded,
                        on_error=failed)

    def _show(self, path: Path, pixels: np.ndarray, mask: Any, mask_file: Path,
              generation: int) -> None:
        if isinstance(mask, MaskDocument):
            document = mask
        else:
            document = MaskDocument(path, mask_file, pixels.shape[:2], mask, self.store, self,
                                    image_root=self.root or path.parent,
                                    masks_root=self.state.masks_root)
            self.documents[path] = document
        self.documents.move_to_end(path)
        self._evict_documents(keep=document)
        if self.document is not None:
            self.document.changed.disconnect(self._on_mask_changed)
        self.document = document
        document.changed.connect(self._on_mask_changed)
        name = relative_name(path, self.root) if self.root else path.name
        self.image = ShownImage(path, name, pixels, generation)
        self.imageShown.emit(self.image)
        self.maskChanged.emit(document)
        self.start_model_work()

    def _evict_documents(self, keep: MaskDocument | None = None) -> None:
        """Drop the least recently shown documents beyond MAX_DOCUMENTS. Edits are autosaved
        as they happen, so a dropped document loses only its undo history; one whose newest
        state is not on disk (write still queued, or failed) is kept."""
        excess = len(self.documents) - MAX_DOCUMENTS
        if excess <= 0:
            return
        for path in list(self.documents):
            if excess <= 0:
                break
            document = self.documents[path]
            if document is keep or document is self.document or document.unsaved():
                continue
            del self.documents[path]
            document.deleteLater()
            excess -= 1

    def _on_mask_changed(self) -> None:
        self.maskChanged.emit(self.document)
        self.schedule_overlap()

    def forget_documents(self) -> None:
        """Drop the cached masks of the other images (after an import wrote new files); the
        current image takes the file's mask as one undoable step."""
        for path in list(self.documents):
            if self.documents[path] is not self.document:
                self.documents.pop(path).deleteLater()
        document = self.document
        if document is None:
            return
        try:
            mask = read_mask(document.mask_file, document.shape) \
                if document.mask_file.is_file() else None
        except MaskError as error:
            self.message.emit(f"{document.image_path.name}: mask ignored: {error.reason}")
            return
        if mask is not None:
            document.edit(mask, "Import masks")

    # -- model -----------------------------------------------------------------------------
    def open_model(self, path: str) -> None:
        path = str(path)
        self.state.model_path = path
        device = self.device
        self._model_generation += 1
        model_generation = self._model_generation

        def done(model: LoadedModel) -> None:
            self.state.model = model
            self._loaded_model = model_generation
            self.modelChanged.emit(model)
            self._restart_layers()

        def failed(reason: str) -> None:
            self.state.model = None
            self._loaded_model = model_generation
            self.modelChanged.emit(None)
            self._restart_layers()
            self.modelFailed.emit(path, reason)

        def load(ctx) -> LoadedModel:
            try:
                return load_model(path, device=device)
            except ModelLoadError as error:
                raise RuntimeError(error.reason) from None

        self.runner.run(load, f"Loading model {Path(path).name}", lane="model",
                        stale=lambda: self._model_generation != model_generation,
                        visible=True, on_done=done, on_error=failed)

    def _restart_layers(self) -> None:
        """Forget the shown image's results and compute them again (new model or target).
        An image still loading is left alone: it starts its own work when it arrives."""
        if self.image is None:
            return
        self._bump()
        self.image.generation = self.generation
        self.probabilities = None
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
        probabilities = self.probabilities
        title = shown.name
        if model is not None and probabilities is not None:
            best = int(probabilities.argmax())
            title += (f"  label: {self.label() or '-'}  predicted: "
                      f"{model.classes[best]} ({float(probabilities[best]):.0%})")
        mask = document.mask if document is not None else None
        return FigureInputs(shown, dict(self.attributions), mask, title)

    # -- model work ------------------------------------------------------------------------
    def _cache_key(self, method: str, path: Path | None = None) -> tuple:
        path = path if path is not None else (self.image.path if self.image else None)
        return (str(path), self._loaded_model, self.target, method)

    def _remember(self, key: tuple, value: Any) -> None:
        size = _nbytes(value) + 256   # + the key, the entry and the object around the arrays
        if key in self.cache:
            self._cache_bytes -= self.cache.pop(key)[1]
        self.cache[key] = (value, size)
        self._cache_bytes += size
        while (self._cache_bytes > CACHE_BYTES or len(self.cache) > CACHE_ENTRIES) \
                and len(self.cache) > 1:
            _, (_, dropped) = self.cache.popitem(last=False)
            self._cache_bytes -= dropped

    def _recall(self, key: tuple) -> Any:
        entry = self.cache.get(key)
        if entry is None:
            return None
        self.cache.move_to_end(key)
        return entry[0]

    def start_model_work(self, methods: tuple[str, ...] | None = None) -> None:
        """Predict the current image and compute ``methods`` (default: the auto layers);
        results already computed for this image, model and target come from the cache."""
        if self.model is None or self.image is None:
            return
        model, shown, generation = self.model, self.image, self.generation
        key = str(shown.path)
        predict_key = self._cache_key("__predict__")

        def predicted(probabilities: np.ndarray) -> None:
            self._remember(predict_key, probabilities)
            self.probabilities = probabilities
            self.predictionReady.emit(key, probabilities)
            self.schedule_overlap()

        cached = self._recall(predict_key)
        if cached is not None:
            predicted(cached)
        else:
            self.runner.run(lambda ctx: model.predict([shown.pixels])[0],
                            f"Predicting {shown.name}", lane="model",
                            stale=self._stale_after(generation), on_done=predicted,
                            on_error=lambda reason: self.message.emit(
                                f"prediction failed: {reason}"))
        for method in METHODS:
            attribution = self._recall(self._cache_key(method))
            if attribution is not None:
                self.attributions[method] = attribution
                self.layerReady.emit(method, attribution, False, key, generation)
        if self.attributions:
            self.schedule_overlap()
        for method in (methods if methods is not None else self.auto_methods):
            self.compute(method)

    def compute(self, method: str, options: dict[str, Any] | None = None) -> Job | None:
        """Start ``method`` on the current image (no-op if it is done or running)."""
        if self.model is None or self.image is None or method not in METHODS:
            return None
        if method in self.attributions and options is None:
            return None
        if method in self.running and not self.running[method].should_stop():
            if options is None:
                return self.running[method]
            self.running[method].cancel()
        model, shown, generation, target = self.model, self.image, self.generation, self.target
        key = str(shown.path)
        options = dict(options or {})
        long = method != "saliency" and method != "gradcam"

        def work(ctx) -> Attribution:
            def progress(done: int, total: int, provisional: Attribution | None) -> None:
                ctx.progress(done, total, provisional)
            return explain(model, shown.pixels, method, target=target, progress=progress,
                           should_stop=ctx.should_stop, **options)

        def on_progress(progress: Progress) -> None:
            done, total, provisional = progress.done, progress.total, progress.detail
            if provisional is not None and done < total:
                self.layerReady.emit(method, provisional, True, key, generation)

        cache_key = self._cache_key(method)

        def finished(attribution: Attribution) -> None:
            self.running.pop(method, None)
            self._remember(cache_key, attribution)
            self.attributions[method] = attribution
            self.layerReady.emit(method, attribution, False, key, generation)
            self.schedule_overlap()

        def failed(reason: str) -> None:
            self.running.pop(method, None)
            self.layerFailed.emit(method, reason)

        def cancelled() -> None:
            if self.running.get(method) is job:
                self.running.pop(method, None)
            self.layerCancelled.emit(method)

        job = Job(work, f"{METHODS[method].label} for {shown.name}", lane="model",
                  stale=self._stale_after(generation), visible=True, cancellable=long,
                  on_done=finished, on_progress=on_progress, on_error=failed,
                  on_cancel=cancelled)
        self.running[method] = job
        self.layerStarted.emit(method)
        return self.runner.submit(job)

    def cancel(self, method: str) -> None:
        job = self.running.get(method)
        if job is not None:
            job.cancel()

    # -- overlap metrics ---------------------------------------------------------------------
    def schedule_overlap(self) -> None:
        """Recompute this image's rows (metrics only, no model run) off the GUI thread."""
        if self.image is None or self.model is None or self.probabilities is None:
            return
        self._overlap_version += 1
        version, generation = self._overlap_version, self.generation
        shown, model = self.image, self.model
        probabilities = self.probabilities
        mask = self.document.mask if self.document is not None else None
        attributions = dict(self.attributions)
        label, topk_fraction, rule = self.label(), self.state.topk_fraction, self.state.rule

        def work(ctx) -> list[ScanRow]:
            return [score_attribution(shown.name, label, model.classes, probabilities, method,
                                      attribution, mask, topk_fraction, rule)
                    for method, attribution in attributions.items()]

        self.runner.run(work, "Overlap metrics", lane="io",
                        stale=lambda: (self.generation != generation
                                       or self._overlap_version != version),
                        on_done=lambda rows: self.overlapReady.emit(str(shown.path), rows),
                        on_error=lambda reason: self.message.emit(f"metrics failed: {reason}"))
