"""A scan from folder to files: model choice, resume, shards, CSV, maps, figures and summary.

The CLI's ``leakview scan`` is this function plus argument parsing; the GUI's "Analyze folder"
uses :func:`leakview.scan.scan` directly and exports through the same CSV writer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from leakview.atomic import atomic_write_text
from leakview.csvio import CSV_COLUMNS, IncrementalCsv, format_cell, partial_path, read_csv
from leakview.models import LoadedModel, load_model
from leakview.progress import ProgressBar
from leakview.report import SummaryTally, save_png, study_figure
from leakview.resources import demo_model_path
from leakview.scan import SUPERPIXEL_SHARE_COLUMN, ImageResult, ScanOptions, scan, select_images
from leakview.verdict import VerdictRule

SCAN_COLUMNS = (*CSV_COLUMNS, SUPERPIXEL_SHARE_COLUMN)


@dataclass
class ScanJob:
    """Everything ``leakview scan`` was asked to do."""

    folder: Path
    csv: Path
    model: str | os.PathLike[str] | LoadedModel | None = None
    methods: Sequence[str] = ("saliency",)
    masks: Path | None = None
    maps: Path | None = None
    figures: Path | None = None
    summary: Path | None = None
    resume: bool = False
    shard: tuple[int, int] | None = None
    device: str | None = None
    batch_size: int = 16
    lime_samples: int | None = None
    seed: int | None = None
    min_topk_share: float | None = None
    max_flag_rate: float | None = None

    def rule(self) -> VerdictRule:
        defaults = VerdictRule()
        return VerdictRule(
            min_topk_share=(self.min_topk_share if self.min_topk_share is not None
                            else defaults.min_topk_share),
            max_flag_rate=(self.max_flag_rate if self.max_flag_rate is not None
                           else defaults.max_flag_rate))

    def method_options(self) -> dict[str, dict[str, Any]]:
        from leakview.attribution import METHODS

        options: dict[str, dict[str, Any]] = {}
        for method in self.methods:
            names = {spec.name for spec in METHODS[method].options} if method in METHODS else set()
            chosen = {}
            if self.seed is not None and "seed" in names:
                chosen["seed"] = self.seed
            if method == "lime" and self.lime_samples is not None:
                chosen["samples"] = self.lime_samples
            if chosen:
                options[method] = chosen
        return options


@dataclass
class ScanOutcome:
    images: int
    rows_written: int
    errors: int
    skipped: int
    verdict: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)


def resolve_model(model: str | os.PathLike[str] | LoadedModel | None,
                  device: str | None = None) -> LoadedModel:
    """A loaded model: the given one, a bundle path, or the bundled demo-clean model."""
    if isinstance(model, LoadedModel):
        return model
    return load_model(model if model is not None else demo_model_path("clean"), device=device)


def _resumable_rows(job: ScanJob) -> list[dict[str, str]]:
    for candidate in (partial_path(job.csv), job.csv):
        if candidate.is_file():
            return read_csv(candidate)
    return []


def run_scan_to_files(job: ScanJob, stream: TextIO | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      on_result: Callable[[ImageResult], None] | None = None) -> ScanOutcome:
    """Run the scan of ``job`` and write its files; returns counts and the folder verdict.

    The CSV grows in ``CSV.partial`` (flushed every batch) and is renamed into place at the end,
    so an interrupted scan leaves the previous CSV untouched and ``resume=True`` continues it.
    """
    options = ScanOptions(methods=tuple(job.methods), method_options=job.method_options(),
                          masks_root=job.masks, batch_size=job.batch_size, rule=job.rule(),
                          maps_dir=job.maps)
    model = resolve_model(job.model, job.device)
    problems: list[str] = []
    paths = select_images(job.folder, job.shard,
                          on_error=lambda path, reason: problems.append(f"{path}: {reason}"))
    for problem in problems:
        print(f"skipped folder {problem}", file=stream or open(os.devnull, "w"))

    kept: list[dict[str, str]] = []
    done_images: set[str] = set()
    if job.resume:
        previous = _resumable_rows(job)
        wanted = set(options.methods)
        by_image: dict[str, set[str]] = {}
        for row in previous:
            by_image.setdefault(row["image"], set()).add(row["method"])
        done_images = {image for image, methods in by_image.items() if wanted <= methods}
        kept = [row for row in previous if row["image"] in done_images
                and row["method"] in wanted]
    todo = [path for path in paths
            if format_cell(path.relative_to(job.folder).as_posix()) not in done_images]

    writer = IncrementalCsv(job.csv, SCAN_COLUMNS, kept)
    bar = ProgressBar(len(todo), "scan", unit="img", stream=stream) if stream else None
    # The summary is tallied as rows come (counts and sums), not kept: memory stays flat.
    tally = SummaryTally()
    tally.add_all(kept)
    rows_written = len(kept)
    errors = 0
    try:
        for result in scan(model, job.folder, todo, options,
                           progress=(lambda done, total: bar.update(done)) if bar else None,
                           should_stop=should_stop, keep_attributions=job.figures is not None):
            writer.write(result.rows)
            tally.add_all(result.rows)
            rows_written += len(result.rows)
            errors += result.error is not None
            if job.figures is not None and result.error is None:
                _save_figure(job, model, result)
            if on_result:
                on_result(result)
    finally:
        writer.close()
    writer.finish()
    if bar:
        bar.close()
    summary = tally.result(options.rule)
    if job.summary is not None:
        atomic_write_text(job.summary, json.dumps(
            {**summary, "model": str(model.source), "folder": str(job.folder),
             "scanned_methods": list(options.methods), "shard": job.shard}, indent=2, default=str)
            + "\n")
    return ScanOutcome(images=len(todo), rows_written=rows_written, errors=errors,
                       skipped=len(done_images), verdict=summary, summary=summary)


def _save_figure(job: ScanJob, model: LoadedModel, result: ImageResult) -> None:
    image = result.image
    predicted = model.classes[result.predicted] if result.predicted is not None else "?"
    title = (f"{result.name}  label: {result.label or '-'}  predicted: {predicted} "
             f"({float(result.probabilities[result.predicted]):.0%})")
    save_png(job.figures / f"{result.name}.png",
             study_figure(image, result.attributions, result.mask, title))
