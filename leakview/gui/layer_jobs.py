"""The model's work on the image on screen: its prediction and one attribution job per
method (``attribution.explain``), with finished results kept in a :class:`ResultCache`.

LIME, the one long run a user starts by hand, is never thrown away when the user moves on:
it runs on its own lane (``lime``) with its own hook-free copy of the model (so the next
image's prediction and maps never wait for it, and no Grad-CAM hook sees its batches); when
the image on screen changes it goes on *in the background* (at most one such run: a second
one leaving the screen stops the older), its result is cached under its image, model and
class, and coming back shows it (or, still running, its progress) without recomputing. It
stops only when cancelled (LIME's Cancel, the status bar's), for another model or folder.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leakview.attribution import METHODS, Attribution, explain, resolve_options
from leakview.gui.result_cache import ResultCache
from leakview.gui.session_signals import SessionSignals, ShownImage
from leakview.gui.workers import Job, JobRunner, Progress
from leakview.models import LoadedModel
from leakview.models.loaded import HOOKS

PREDICT = "__predict__"     # the cache key's "method" of the prediction
BACKGROUND = "lime"
"""The method whose runs go on in the background when the image changes."""


@dataclass(frozen=True)
class LayerSubject:
    """What the layers are computed for: a model (``model_generation``: the load it came
    from), the image on screen (``generation``: when it was shown) and the class to explain."""

    model: LoadedModel
    shown: ShownImage
    generation: int
    target: int | None
    model_generation: int

    def cache_key(self, method: str) -> tuple:
        return (str(self.shown.path), self.model_generation, self.target, method)


@dataclass(eq=False)
class BackgroundRun:
    """A LIME run and the image it is for: ``generation`` is the one it shows on (None: in
    the background); ``provisional`` its latest partial map."""

    job: Job
    subject: LayerSubject
    options: dict[str, Any]
    generation: int | None
    provisional: Attribution | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return str(self.subject.shown.path)


COPY_ATTEMPTS = 5


def hook_free_copy(model: LoadedModel) -> LoadedModel:
    """A copy of ``model`` for LIME on its own thread: no forward or backward hook of the
    original (a Grad-CAM running meanwhile) comes with it. A model that cannot be copied and
    takes no hooks anyway (ONNX) is shared: its forward passes are independent."""
    for attempt in range(COPY_ATTEMPTS):
        try:
            twin = copy.deepcopy(model)
            break
        except RuntimeError as error:
            # a Grad-CAM on the model lane adding or removing its hooks while the copy walks
            # the module's hook dicts ("dictionary changed size during iteration"): the hooks
            # live only for one forward/backward pass, so copying again succeeds
            if "changed size during iteration" not in str(error) \
                    or attempt == COPY_ATTEMPTS - 1:
                if HOOKS in model.unavailable:
                    return model
                raise
            time.sleep(0.05)
        except Exception:
            if HOOKS in model.unavailable:
                return model
            raise
    modules = getattr(twin.module, "modules", None)
    for module in modules() if callable(modules) else ():
        for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                     "_backward_pre_hooks", "_forward_hooks_with_kwargs",
                     "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called"):
            hooks = getattr(module, name, None)
            if hasattr(hooks, "clear"):
                hooks.clear()
    return twin


class LayerJobs:
    """The prediction and the layers of the image on screen: :attr:`probabilities`,
    :attr:`attributions` (finished, by method) and :attr:`running` (jobs, by method).

    Results are emitted on ``signals`` with the image path and generation they belong to;
    ``changed()`` is called when the prediction or a layer is new (the overlap is stale).
    A job whose generation is no longer ``current`` stops and its result is dropped."""

    def __init__(self, runner: JobRunner, signals: SessionSignals, cache: ResultCache,
                 current: Callable[[int], bool], changed: Callable[[], None],
                 model_now: Callable[[], LoadedModel | None] = lambda: None) -> None:
        self.runner = runner
        self.signals = signals
        self.cache = cache
        self.probabilities: np.ndarray | None = None
        self.attributions: dict[str, Attribution] = {}
        self.running: dict[str, Job] = {}
        self.shown_run: BackgroundRun | None = None
        """The LIME run of the image on screen."""
        self.background: BackgroundRun | None = None
        """The LIME run going on for an image no longer on screen."""
        self._current = current
        self._changed = changed
        self._model_now = model_now
        self._twin: tuple[LoadedModel, LoadedModel] | None = None   # (model, its copy)

    def reset(self) -> None:
        """A new generation: no layers yet, none running; a LIME run of the image that was
        on screen goes on in the background (stopping an older background run)."""
        run, self.shown_run = self.shown_run, None
        if run is not None and not run.job.should_stop():
            self._to_background(run)
        self.attributions = {}
        self.running = {}

    def forget(self) -> None:
        """Another folder: stop every LIME run (on screen or in the background)."""
        for run in (self.shown_run, self.background):
            if run is not None:
                run.job.cancel()
        self.shown_run = self.background = None
        self._twin = None

    def _to_background(self, run: BackgroundRun) -> None:
        older = self.background
        if older is not None and older is not run and not older.job.should_stop():
            older.job.cancel()
            self.signals.message.emit(
                f"LIME for {older.subject.shown.name} stopped: LIME for "
                f"{run.subject.shown.name} goes on in the background (one at a time)")
        run.generation = None
        run.job.label = f"LIME for {run.subject.shown.name} (in the background)"
        self.background = run
        self.runner.activityChanged.emit()

    def _attach(self, subject: LayerSubject) -> None:
        """The image of the background run is on screen again: it shows there."""
        run = self.background
        if run is None or run.subject.cache_key(BACKGROUND) != subject.cache_key(BACKGROUND) \
                or run.job.should_stop():
            return
        self.background = None
        run.generation = subject.generation
        run.job.label = f"{METHODS[BACKGROUND].label} for {subject.shown.name}"
        self.shown_run = run
        self.running[BACKGROUND] = run.job
        self.signals.layerStarted.emit(BACKGROUND)
        if run.provisional is not None:
            self.signals.layerReady.emit(BACKGROUND, run.provisional, True, run.key,
                                         subject.generation)
        self.runner.activityChanged.emit()

    def _lime_model(self, model: LoadedModel) -> LoadedModel:
        """The LIME lane's copy of ``model`` (made there, once per model)."""
        twin = self._twin
        if twin is None or twin[0] is not model:
            twin = (model, hook_free_copy(model))
            self._twin = twin
        return twin[1]

    def _stale_after(self, generation: int) -> Callable[[], bool]:
        return lambda: not self._current(generation)

    def start(self, subject: LayerSubject, methods: tuple[str, ...]) -> None:
        """Predict the image and compute ``methods``; results already computed for this
        image, model and target come from the cache."""
        model, shown, generation = subject.model, subject.shown, subject.generation
        key = str(shown.path)
        predict_key = subject.cache_key(PREDICT)

        def predicted(probabilities: np.ndarray) -> None:
            self.cache.remember(predict_key, probabilities)
            self.probabilities = probabilities
            self.signals.predictionReady.emit(key, probabilities)
            self._changed()

        cached = self.cache.recall(predict_key)
        if cached is not None:
            predicted(cached)
        else:
            self.runner.run(lambda ctx: model.predict([shown.pixels])[0],
                            f"Predicting {shown.name}", lane="model",
                            stale=self._stale_after(generation), on_done=predicted,
                            on_error=lambda reason: self.signals.message.emit(
                                f"prediction failed: {reason}"))
        for method in METHODS:
            attribution = self.cache.recall(subject.cache_key(method))
            if attribution is not None:
                self.attributions[method] = attribution
                self.signals.layerReady.emit(method, attribution, False, key, generation)
        if self.attributions:
            self._changed()
        self._attach(subject)
        for method in methods:
            self.compute(subject, method)

    def compute(self, subject: LayerSubject, method: str,
                options: dict[str, Any] | None = None) -> Job | None:
        """Start ``method`` (no-op if it is done or running; new ``options`` restart it)."""
        if method not in METHODS:
            return None
        if method in self.attributions and options is None:
            return None
        if method in self.running and not self.running[method].should_stop():
            run = self.shown_run if method == BACKGROUND else None
            if options is None or (run is not None and run.job is self.running[method]
                                   and resolve_options(method, options)
                                   == resolve_options(method, run.options)):
                return self.running[method]
            self.running[method].cancel()
        if method == BACKGROUND:
            return self._start_background(subject, dict(options or {}))
        model, shown, generation, target = (subject.model, subject.shown, subject.generation,
                                            subject.target)
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
                self.signals.layerReady.emit(method, provisional, True, key, generation)

        cache_key = subject.cache_key(method)

        def finished(attribution: Attribution) -> None:
            self.running.pop(method, None)
            self.cache.remember(cache_key, attribution)
            self.attributions[method] = attribution
            self.signals.layerReady.emit(method, attribution, False, key, generation)
            self._changed()

        def failed(reason: str) -> None:
            self.running.pop(method, None)
            self.signals.layerFailed.emit(method, reason)

        def cancelled() -> None:
            if self.running.get(method) is job:
                self.running.pop(method, None)
            self.signals.layerCancelled.emit(method)

        job = Job(work, f"{METHODS[method].label} for {shown.name}", lane="model",
                  stale=self._stale_after(generation), visible=True, cancellable=long,
                  on_done=finished, on_progress=on_progress, on_error=failed,
                  on_cancel=cancelled)
        self.running[method] = job
        self.signals.layerStarted.emit(method)
        return self.runner.submit(job)

    def _start_background(self, subject: LayerSubject, options: dict[str, Any]) -> Job:
        """LIME on its lane and model copy, for ``subject``'s image wherever the user goes
        (see the module docstring); stale only once the window's model is another one."""
        method, model, shown = BACKGROUND, subject.model, subject.shown
        cache_key = subject.cache_key(method)

        def work(ctx) -> Attribution:
            local = self._lime_model(model)
            return explain(local, shown.pixels, method, target=subject.target,
                           progress=lambda done, total, provisional: ctx.progress(
                               done, total, provisional),
                           should_stop=ctx.should_stop, **options)

        def shown_generation() -> int | None:
            generation = run.generation
            return generation if generation is not None and self._current(generation) \
                else None

        def on_progress(progress: Progress) -> None:
            if progress.detail is None or progress.done >= progress.total \
                    or (run is not self.shown_run and run is not self.background):
                return
            run.provisional = progress.detail
            generation = shown_generation()
            if generation is not None:
                self.signals.layerReady.emit(method, progress.detail, True, run.key,
                                             generation)

        def ended() -> int | None:
            """The run is over: no longer on screen or in the background; the generation
            it shows on (None: it was in the background, or replaced by another run)."""
            shown = self.shown_run is run
            if shown:
                self.shown_run = None
                if self.running.get(method) is job:
                    self.running.pop(method, None)
            if self.background is run:
                self.background = None
            return shown_generation() if shown else None

        def finished(attribution: Attribution) -> None:
            if run is not self.shown_run and run is not self.background:
                return      # forgotten meanwhile (another folder or model): nothing to keep
            self.cache.remember(cache_key, attribution)
            generation = ended()
            if generation is not None:
                self.attributions[method] = attribution
                self.signals.layerReady.emit(method, attribution, False, run.key, generation)
                self._changed()

        def failed(reason: str) -> None:
            if ended() is not None:
                self.signals.layerFailed.emit(method, reason)
            else:
                self.signals.message.emit(f"LIME for {shown.name} failed: {reason}")

        def cancelled() -> None:
            if ended() is not None:
                self.signals.layerCancelled.emit(method)

        job = Job(work, f"{METHODS[method].label} for {shown.name}", lane="lime",
                  stale=lambda: self._model_now() is not model, visible=True,
                  cancellable=True, on_done=finished, on_progress=on_progress,
                  on_error=failed, on_cancel=cancelled)
        run = BackgroundRun(job, subject, options, subject.generation)
        if self.shown_run is not None:
            self.shown_run.job.cancel()
        self.shown_run = run
        self.running[method] = job
        self.signals.layerStarted.emit(method)
        return self.runner.submit(job)

    def cancel(self, method: str) -> None:
        job = self.running.get(method)
        if job is not None:
            job.cancel()
