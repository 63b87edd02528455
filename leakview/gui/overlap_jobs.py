"""The overlap metrics of the image on screen (``scan.score_attribution``: metrics against
the expected and the suspect region + leak flag per layer), computed off the GUI thread; only
the newest request's rows are emitted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from leakview.attribution import Attribution
from leakview.gui.session_signals import SessionSignals, ShownImage
from leakview.gui.workers import JobRunner
from leakview.models import LoadedModel
from leakview.scan import ScanRow, score_attribution
from leakview.verdict import VerdictRule


@dataclass(frozen=True)
class OverlapInputs:
    """One image's layers with what judging them needs."""

    shown: ShownImage
    generation: int
    model: LoadedModel
    probabilities: np.ndarray
    attributions: dict[str, Attribution]
    mask: np.ndarray | None
    label: str | None
    topk_fraction: float
    rule: VerdictRule
    suspect: np.ndarray | None = None
    """The image's suspect region (None: it has none)."""


class OverlapJobs:
    """Scores layers on the io lane; emits ``signals.overlapReady(path, rows)``. A request
    is dropped when a newer one came or its generation is no longer ``current``."""

    def __init__(self, runner: JobRunner, signals: SessionSignals,
                 current: Callable[[int], bool]) -> None:
        self.runner = runner
        self.signals = signals
        self._current = current
        self._version = 0

    def schedule(self, inputs: OverlapInputs) -> None:
        """Compute the rows of ``inputs`` (metrics only, no model run)."""
        self._version += 1
        version = self._version
        shown, model, probabilities = inputs.shown, inputs.model, inputs.probabilities
        attributions, mask, label = inputs.attributions, inputs.mask, inputs.label
        topk_fraction, rule, suspect = inputs.topk_fraction, inputs.rule, inputs.suspect

        def work(ctx) -> list[ScanRow]:
            return [score_attribution(shown.name, label, model.classes, probabilities, method,
                                      attribution, mask, topk_fraction, rule, suspect=suspect)
                    for method, attribution in attributions.items()]

        self.runner.run(work, "Overlap metrics", lane="io",
                        stale=lambda: (not self._current(inputs.generation)
                                       or self._version != version),
                        on_done=lambda rows: self.signals.overlapReady.emit(str(shown.path),
                                                                            rows),
                        on_error=lambda reason: self.signals.message.emit(
                            f"metrics failed: {reason}"))
