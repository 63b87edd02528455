"""A scan from folder to files: model choice, resume, shards, CSV, maps, figures, summary and
class atlas.

The CLI's ``leakview scan`` and ``leakview atlas`` are :func:`run_scan_to_files` plus argument
parsing; the GUI's "Analyze folder" uses :func:`leakview.scan.scan` directly and exports
through the same CSV writer. Every consumer (CSV, figures, atlas) is fed by the one scan, so
no map is computed twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from leakview.atlas import Atlas, AtlasSet
from leakview.atomic import atomic_write_text
from leakview.attribution import sampling_options
from leakview.csvio import IncrementalCsv, neutralise, partial_path
from leakview.layout import FolderListing, list_folder
from leakview.masks import migrate_legacy_markers
from leakview.models import LoadedModel, ModelSpec, load_model
from leakview.progress import ProgressBar
from leakview.report import SummaryTally, save_png, study_figure, summary_document
from leakview.resources import demo_model_named, model_identity, model_name
from leakview.scan import ImageResult, ScanOptions, check_runnable, in_shard, scan
from leakview.scanrow import SCAN_COLUMNS, ScanRow, read_scan_rows
from leakview.verdict import VerdictRule, coverage

__all__ = ["SCAN_COLUMNS", "UNAVAILABLE", "AtlasOutput", "ScanJob", "ScanOutcome",
           "mark_unavailable", "resolve_model", "run_scan_to_files"]

#: The verdict of a requested method that could not run on the model (it judged nothing).
UNAVAILABLE = "unavailable"


@dataclass
class AtlasOutput:
    """The class atlas files a scan writes (see :mod:`leakview.atlas`): the figure, and
    optionally the numbers as JSON and the arrays as NPZ. With one method the files are the
    given paths; with several, each gets the method's name before its suffix
    (``atlas.png`` -> ``atlas.saliency.png``). ``rule`` holds :class:`AtlasBuilder`'s hot-spot
    parameters (``hot_fraction``, ``outside_share``, ``min_concentration``, ``min_images``,
    ``cell``); missing ones take their defaults."""

    figure: Path | None = None
    json: Path | None = None
    npz: Path | None = None
    columns: int = 4
    rule: dict[str, Any] = field(default_factory=dict)

    def path(self, path: Path | None, method: str, methods: Sequence[str]) -> Path | None:
        if path is None or len(methods) == 1:
            return path
        return path.with_name(f"{path.stem}.{method}{path.suffix}")

    def write(self, atlas: Atlas, methods: Sequence[str]) -> None:
        figure = self.path(self.figure, atlas.method, methods)
        if figure is not None:
            save_png(figure, atlas.figure(columns=self.columns))
        json_path = self.path(self.json, atlas.method, methods)
        if json_path is not None:
            atlas.save_json(json_path)
        npz = self.path(self.npz, atlas.method, methods)
        if npz is not None:
            atlas.save_npz(npz)


@dataclass
class ScanJob:
    """Everything ``leakview scan`` was asked to do. ``model_spec`` describes a model file
    that does not describe itself (see :func:`leakview.models.load_model`)."""

    folder: Path
    csv: Path | None  #: None: no CSV (``leakview atlas`` writes only the atlas)
    model: str | os.PathLike[str] | LoadedModel | None = None
    model_spec: ModelSpec | None = None
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
    atlas: AtlasOutput | None = None
    min_judged: int | None = None
    min_judged_share: float | None = None
    max_suspect_share: float | None = None

    def rule(self) -> VerdictRule:
        """The verdict rule: the job's thresholds, the defaults where it sets none."""
        given: dict[str, Any] = {
            "min_topk_share": self.min_topk_share, "max_flag_rate": self.max_flag_rate,
            "min_judged": self.min_judged, "min_judged_share": self.min_judged_share,
            "max_suspect_share": self.max_suspect_share}
        return replace(VerdictRule(), **{name: value for name, value in given.items()
                                         if value is not None})

    def method_options(self) -> dict[str, dict[str, Any]]:
        return sampling_options(self.methods, self.seed, self.lime_samples)


@dataclass
class ScanOutcome:
    images: int
    rows_written: int
    errors: int
    skipped: int
    verdict: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)
    atlases: dict[str, Atlas] = field(default_factory=dict)  #: per method, with ``job.atlas``
    unavailable: dict[str, str] = field(default_factory=dict)  #: method -> why it did not run
    #: the model that ran: ``{"name", "source"}`` (:func:`leakview.resources.model_identity`)
    model: dict[str, str | None] = field(default_factory=dict)
    listing: FolderListing | None = None  #: every entry of the folder, images or not


def resolve_model(model: str | os.PathLike[str] | LoadedModel | None,
                  device: str | None = None, spec: ModelSpec | None = None) -> LoadedModel:
    """A loaded model: the given one, a model file (described by ``spec`` where it does not
    describe itself), or a bundled demo model by name (``demo-clean``, ``demo-leaky``). No
    model is a ValueError: a scan never falls back on a model nobody chose."""
    if isinstance(model, LoadedModel):
        return model
    if model is None:
        raise ValueError("no model given: name a model file, or demo-clean / demo-leaky for "
                         "the bundled demo models")
    return load_model(demo_model_named(model) or model, device=device, spec=spec)


def mark_unavailable(summary: dict[str, Any], unavailable: dict[str, str]) -> dict[str, Any]:
    """``summary`` (a folder verdict) with each method of ``unavailable`` given the verdict
    :data:`UNAVAILABLE` and its ``reason``. Such a method judged no image (its rows carry the
    reason as their error), so it never counts towards the folder verdict."""
    rule = VerdictRule(**summary.get("rule", {}))
    for method, reason in unavailable.items():
        stats = summary["methods"].setdefault(method, {
            "images": 0, "flagged": 0, "undefined": 0, "errors": 0, "suspect_judged": 0,
            "suspect_flagged": 0, "mean_mass_in_mask": None, "mean_suspect_topk_share": None,
            "flag_rate": None, **coverage(0, 0, rule)})
        stats.update(verdict=UNAVAILABLE, reason=reason)
    return summary


def _resumable_rows(job: ScanJob) -> list[ScanRow]:
    assert job.csv is not None
    for candidate in (partial_path(job.csv), job.csv):
        if candidate.is_file():
            return read_scan_rows(candidate)
    return []


def _resume(job: ScanJob, methods: Sequence[str]) -> tuple[list[ScanRow], set[str]]:
    """The rows an earlier run of ``job`` completed (every requested method of an image), and
    those images' names as CSV cells."""
    wanted = set(methods)
    previous = _resumable_rows(job)
    # names compared as the CSV writes them: exact even for a name that starts with "'="
    by_image: dict[str, set[str]] = {}
    for row in previous:
        by_image.setdefault(neutralise(row.image), set()).add(row.method)
    done = {image for image, done_methods in by_image.items() if wanted <= done_methods}
    return [row for row in previous
            if neutralise(row.image) in done and row.method in wanted], done


def _check_same_model(job: ScanJob, kept: Sequence[ScanRow], name: str) -> None:
    """A resumed CSV's rows must come from the model this run uses (their ``model`` cell;
    rows of a CSV written before that column existed are taken on trust)."""
    others = sorted({row.model for row in kept if row.model and row.model != name})
    if others:
        raise ValueError(f"--resume: {job.csv} holds rows of model {others[0]}, this scan runs "
                         f"{name}; scan to a new CSV or drop --resume")


def _check(job: ScanJob) -> None:
    if job.csv is None and (job.resume or job.atlas is None):
        raise ValueError("a scan without a CSV must write an atlas, and cannot resume")
    if job.atlas is not None and job.resume:
        raise ValueError("--atlas needs the map of every image: it cannot be combined with "
                         "--resume (rows taken over from an earlier run have no maps)")


def run_scan_to_files(job: ScanJob, stream: TextIO | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      on_result: Callable[[ImageResult], None] | None = None) -> ScanOutcome:
    """Run the scan of ``job`` and write its files; returns counts and the folder verdict.

    The CSV grows in ``CSV.partial`` (flushed every batch) and is renamed into place at the end,
    so an interrupted scan leaves the previous CSV untouched and ``resume=True`` continues it.
    A requested method that cannot run on the model is skipped (one line on ``stream``,
    the reason in its rows' ``error`` cell, verdict :data:`UNAVAILABLE`). Marker masks still in
    their old place (``ROOT/.leakview/markers``) are first moved to the suspect regions
    (:func:`~leakview.masks.migrate_legacy_markers`, one line on ``stream``). Raises ValueError for
    a job that contradicts itself or bad atlas parameters, and
    :class:`~leakview.scan.NoMethodCanRun` when no requested method can run (before any
    image is read or file written).
    """
    _check(job)
    options = ScanOptions(methods=tuple(job.methods), method_options=job.method_options(),
                          masks_root=job.masks, batch_size=job.batch_size, rule=job.rule(),
                          maps_dir=job.maps)
    model = resolve_model(job.model, job.device, job.model_spec)
    unavailable = check_runnable(model, options.methods)
    runnable = [method for method in options.methods if method not in unavailable]
    atlases = (AtlasSet(model, job.folder, runnable, options.method_options,
                        **job.atlas.rule) if job.atlas is not None else None)
    if stream is not None:
        for method, reason in unavailable.items():
            print(f"{method} skipped: {reason}", file=stream)
    if job.masks is None:   # old marker masks become the default masks root's suspect regions
        migration = migrate_legacy_markers(job.folder)  # (before the scan reads them)
        if stream is not None and (moved := migration.message()) is not None:
            print(moved, file=stream)
    problems: list[str] = []
    listing = list_folder(job.folder,
                          on_error=lambda path, reason: problems.append(f"{path}: {reason}"))
    paths = in_shard(listing.images, job.folder, job.shard)
    if stream is not None:
        for problem in problems:
            print(f"skipped folder {problem}", file=stream)

    kept, done_images = _resume(job, options.methods) if job.resume else ([], set())
    _check_same_model(job, kept, model_name(model.source))
    todo = [path for path in paths
            if neutralise(path.relative_to(job.folder).as_posix()) not in done_images]

    writer = IncrementalCsv(job.csv, SCAN_COLUMNS, kept) if job.csv is not None else None
    bar = (ProgressBar(len(todo), "scan" if writer is not None else "atlas", unit="img",
                       stream=stream) if stream else None)
    # The summary is tallied as rows come (counts and sums), not kept: memory stays flat.
    tally = SummaryTally()
    tally.add_all(kept)
    rows_written = len(kept)
    errors = 0
    try:
        for result in scan(model, job.folder, todo, options,
                           progress=(lambda done, total: bar.update(done)) if bar else None,
                           should_stop=should_stop,
                           keep_attributions=job.figures is not None or atlases is not None):
            if writer is not None:
                writer.write(result.rows)
            tally.add_all(result.rows)
            rows_written += len(result.rows)
            errors += result.error is not None
            if job.figures is not None and result.error is None:
                _save_figure(job, model, result)
            if atlases is not None:
                atlases.add_result(result)
            if on_result:
                on_result(result)
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        writer.finish()
    if bar:
        bar.close()
    summary = mark_unavailable(tally.result(options.rule), unavailable)
    if job.summary is not None:
        atomic_write_text(job.summary, summary_document(
            summary, str(model.source or ""), str(job.folder), options.methods, job.shard,
            files=listing.accounting()))
    finished = atlases.finish() if atlases is not None else {}
    for atlas in finished.values():
        assert job.atlas is not None
        job.atlas.write(atlas, options.methods)
    return ScanOutcome(images=len(todo), rows_written=rows_written, errors=errors,
                       skipped=len(done_images), verdict=summary, summary=summary,
                       atlases=finished, unavailable=unavailable,
                       model=model_identity(model.source), listing=listing)


def _save_figure(job: ScanJob, model: LoadedModel, result: ImageResult) -> None:
    assert job.figures is not None and result.image is not None
    save_png(job.figures / f"{result.name}.png",
             study_figure(result.image, result.attributions, result.mask,
                          result.title(model.classes)))
