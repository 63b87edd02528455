"""The model's work on the image on screen: its prediction and one attribution job per
method (``attribution.explain``), with finished results kept in a :class:`ResultCache`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from leakview.attribution import METHODS, Attribution, explain
from leakview.gui.result_cache import ResultCache
from leakview.gui.session_signals import SessionSignals, ShownImage
from leakview.gui.workers import Job, JobRunner, Progress
from leakview.models import LoadedModel

PREDICT = "__predict__"     # the cache key's "method" of the prediction


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


class LayerJobs:
    """The prediction and the layers of the image on screen: :attr:`probabilities`,
    :attr:`attributions` (finished, by method) and :attr:`running` (jobs, by method).

    Results are emitted on ``signals`` with the image path and generation they belong to;
    ``changed()`` is called when the prediction or a layer is new (the overlap is stale).
    A job whose generation is no longer ``current`` stops and its result is dropped."""

    def __init__(self, runner: JobRunner, signals: SessionSignals, cache: ResultCache,
                 current: Callable[[int], bool], changed: Callable[[], None]) -> None:
        self.runner = runner
        self.signals = signals
        self.cache = cache
        self.probabilities: np.ndarray | None = None
        self.attributions: dict[str, Attribution] = {}
        self.running: dict[str, Job] = {}
        self._current = current
        self._changed = changed

    def reset(self) -> None:
        """A new generation: no layers yet, none running."""
        self.attributions = {}
        self.running = {}

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
            if options is None:
                return self.running[method]
            self.running[method].cancel()
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

    def cancel(self, method: str) -> None:
        job = self.running.get(method)
        if job is not None:
            job.cancel()
