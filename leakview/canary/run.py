"""A canary run from start to end: :func:`run_canary` drives the phases of :class:`Run`
(:data:`PHASES`) and writes the reports after each; an interrupted, cancelled or failed run
leaves them as a valid partial report before the exception propagates."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leakview.attribution import Cancelled
from leakview.canary.config import MODELS, CanaryConfig, resolve_config
from leakview.canary.control import ProgressFn, RunControl, StopFn
from leakview.canary.evaluate import Evaluator
from leakview.canary.figures import make_figures
from leakview.canary.judge import judge
from leakview.canary.leaky_copy import (
    LEAKY_DIR,
    CanaryData,
    data_info,
    marker_info,
    write_leaky_copy,
)
from leakview.canary.report import RunRecord, write_reports
from leakview.canary.training import model_info, split, train_model
from leakview.errors import exception_reason
from leakview.markers import build_marker
from leakview.models import LoadedModel

PHASES = ("prepare", "train-clean", "train-leaky", "evaluate-clean", "evaluate-leaky",
          "figures")


@dataclass
class CanaryResult:
    """What a complete run produced (an interrupted run raises instead and leaves its partial
    reports on disk, see :func:`run_canary`)."""

    status: str
    out: Path
    rows: list[dict[str, Any]]
    verdict: dict[str, Any] | None
    report: dict[str, Any]
    csv_path: Path
    json_path: Path
    html_path: Path
    model_paths: dict[str, Path]


class Run:
    """The phases of one canary run, in order; :meth:`write_reports` can be called at any
    point (``record`` holds what the reports say)."""

    def __init__(self, config: CanaryConfig, progress: ProgressFn | None = None,
                 should_stop: StopFn | None = None) -> None:
        self.config = config
        self.out = Path(config.out)
        self.leaky_root = self.out / LEAKY_DIR
        self.control = RunControl(progress, should_stop)
        self.record = RunRecord(config, arch=config.arch, input_size=config.input_size)
        self.evaluator: Evaluator | None = None
        self.figure_items: dict[str, dict[str, Any]] = {}

    def begin(self, phase: str) -> float:
        self.control.check()
        self.control.phase = self.record.phase = phase
        return time.monotonic()

    def end(self, phase: str, started: float) -> None:
        self.record.timings[phase] = round(time.monotonic() - started, 3)
        self.record.phases_done.append(phase)
        self.write_reports()

    def write_reports(self) -> dict[str, Any]:
        return write_reports(self.out, self.record)

    @property
    def input_size(self) -> tuple[int, int]:
        assert self.record.input_size is not None, "validate() first"
        return self.record.input_size

    # -- phase 0: checks ----------------------------------------------------------------
    def validate(self) -> None:
        """The config's checks (:func:`resolve_config`); settles the arch and input size."""
        self.record.arch, self.record.input_size = resolve_config(self.config)

    # -- phase 1: the leaky copy --------------------------------------------------------
    def prepare(self) -> CanaryData:
        from leakview.train import find_classes

        started = self.begin("prepare")
        classes = find_classes(self.config.data)
        marker = build_marker(self.config.marker, self.config.marker_params, classes)
        self.record.marker_info = marker_info(marker, classes)
        # An earlier run's files (validate() checked that OUT holds a canary run and --force).
        if self.leaky_root.exists():
            shutil.rmtree(self.leaky_root)
        if (self.out / "figures").is_dir():
            shutil.rmtree(self.out / "figures")
        for which in MODELS:
            (self.out / f"{which}.pt").unlink(missing_ok=True)
        data = write_leaky_copy(self.config, marker, classes, self.input_size,
                                self.leaky_root, self.control)
        self.record.data_info = data_info(data)
        self.end("prepare", started)
        return data

    # -- phase 2: training --------------------------------------------------------------
    def split(self, data: CanaryData) -> tuple[np.ndarray, np.ndarray]:
        train_idx, held_idx = split(data, self.config)
        self.record.data_info.update({
            "train_images": int(len(train_idx)), "held_out_images": int(len(held_idx)),
            "held_out": [data.names[i] for i in held_idx],
        })
        return train_idx, held_idx

    def train_model(self, which: str, data: CanaryData, train_idx: np.ndarray) -> LoadedModel:
        phase = f"train-{which}"
        started = self.begin(phase)
        path = self.out / f"{which}.pt"
        result = train_model(which, data, train_idx, self.config, self.record.arch or "",
                             self.input_size, self.record.marker_info.get("params"), path,
                             self.control)
        self.record.arch = result.model.arch
        self.record.model_paths[which] = path
        self.record.models_info[which] = model_info(result, path, self.config, len(train_idx),
                                                    time.monotonic() - started)
        if result.interrupted:  # train() caught Ctrl-C and kept the best model so far
            self.record.timings[phase] = round(time.monotonic() - started, 3)
            raise KeyboardInterrupt
        self.end(phase, started)
        return result.model

    # -- phase 3: evaluation ------------------------------------------------------------
    def evaluate(self, which: str, model: LoadedModel, data: CanaryData, held_idx: np.ndarray
                 ) -> None:
        started = self.begin(f"evaluate-{which}")
        if self.evaluator is None:  # one for both models: each image is loaded once
            self.evaluator = Evaluator(data, held_idx, self.config, self.control)
        rows, per_class = self.evaluator.evaluate(which, model, self.record.image_rows,
                                                  self.figure_items)
        self.record.rows.extend(rows)
        self.record.per_class.extend(per_class)
        self.end(f"evaluate-{which}", started)

    # -- phase 4: verdict and figures -------------------------------------------------
    def decide(self) -> None:
        self.record.verdict = judge(self.record.rows, self.config.rule)

    def make_figures(self) -> None:
        started = self.begin("figures")
        self.evaluator = None  # the held-out images are no longer needed
        make_figures(self.figure_items, Path(self.config.data), self.leaky_root, self.out,
                     self.control, self.record.figures)
        self.end("figures", started)


def run_canary(config: CanaryConfig, progress: ProgressFn | None = None,
               should_stop: StopFn | None = None) -> CanaryResult:
    """Run the canary of ``config`` (see :mod:`leakview.canary`); returns a complete result.

    ``progress(phase, done, total, text)`` is called within every phase (phases:
    :data:`PHASES`). ``should_stop()`` is checked between phases, training batches, images
    and inside LIME; when it turns true :class:`leakview.attribution.Cancelled` is raised.
    On Ctrl-C (``KeyboardInterrupt``), cancellation or an error after the checks, the reports
    are written with ``"status": "partial"`` (and ``"stopped"``: ``interrupted``,
    ``cancelled`` or ``error``) before the exception propagates. Bad settings raise
    :class:`CanaryConfigError` (or :class:`leakview.models.ModelLoadError`) before anything
    is written.
    """
    run = Run(config, progress, should_stop)
    run.validate()
    record = run.record
    try:
        run.write_reports()
        data = run.prepare()
        train_idx, held_idx = run.split(data)
        models = {which: run.train_model(which, data, train_idx) for which in MODELS}
        for which in MODELS:
            run.evaluate(which, models[which], data, held_idx)
        run.decide()
        run.write_reports()
        run.make_figures()
        record.status = "complete"
        record.phase = None
        report = run.write_reports()
    except KeyboardInterrupt:
        record.stopped = "interrupted"
        _safe_write(run)
        raise
    except Cancelled:
        record.stopped = "cancelled"
        _safe_write(run)
        raise
    except Exception as error:
        record.stopped = "error"
        record.error = exception_reason(error)
        _safe_write(run)
        raise
    return CanaryResult(status=record.status, out=run.out, rows=record.rows,
                        verdict=record.verdict, report=report,
                        csv_path=run.out / "canary.csv", json_path=run.out / "canary.json",
                        html_path=run.out / "report.html", model_paths=dict(record.model_paths))


def _safe_write(run: Run) -> None:
    """Write the partial reports; a second failure must not hide the first one."""
    try:
        if run.record.verdict is None and run.record.rows:
            run.decide()
        run.write_reports()
    except Exception:  # noqa: BLE001 - the original exception is what the caller needs
        pass
