"""The leak verdict: when an image's explanation, and a folder's, count as a leak.

Rule (thresholds are :class:`VerdictRule` fields, changeable from the CLI and the GUI):

* **Per (image, method)** — ``leak_flag = 1`` when too few of the most-attributed pixels fall
  in the expected region: ``topk_intersection`` (the share of the top 5% pixels by positive
  attribution that lie inside the mask) is below ``min_topk_share`` times the share the mask
  could hold at most, ``min(1, mask_area_frac / topk_fraction)`` (a mask smaller than the top-k
  set cannot contain all of it). With the defaults: fewer than one in five of the hottest 5% of
  pixels on the expected region means the model looks elsewhere. Undefined when the metric is
  (no mask, empty mask, all-zero map): empty flag.
  Chosen on the demo world (``benchmarks/demo_verdicts.py``): it separates demo-clean from
  demo-leaky for saliency and LIME, where the concentration ratio left saliency's pixel-level
  noise on the wrong side for up to 1 image in 8.
* **Per folder and method** — the method calls the folder leaky when the share of flagged images
  (among images with a defined flag) reaches ``max_flag_rate``. The folder verdict is ``leak``
  when any requested method calls it leaky, ``ok`` when all defined methods say no, and
  ``undetermined`` when no image had a defined flag (no masks).
* **Coverage** — a method *judged* an image when the image has a defined flag: it was read, it
  has a non-empty mask and the method's map is not all zero. A verdict rests on enough images
  (``coverage_ok``) when a method judged at least :meth:`VerdictRule.judged_needed` of its
  images: ``max(min_judged, ceil(min_judged_share * images))`` (defaults 5 and 50%), never more
  than all of them and never none. Too few does not change the verdict (a consumer that reads
  ``verdict == "leak"`` stays as strict as before): it is reported next to it, ``judged N of M``
  with ``coverage_ok: false``, and ``leakview scan --fail-on-leak`` fails on it (exit 4) unless
  the verdict is leak (exit 3), so that a gate never passes on a handful of masks. The folder's
  coverage is that of the methods its verdict rests on: for ``leak`` the best-covered leaky
  method (one well-covered leak call is enough), for ``ok`` the least-covered method (every
  method must say no), for ``undetermined`` none judged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from leakview.csvio import parse_number
from leakview.scanrow import ScanRow

LEAK = "leak"
OK = "ok"
UNDETERMINED = "undetermined"

RowT = TypeVar("RowT", bound=Mapping[str, Any])


@dataclass(frozen=True)
class VerdictRule:
    """Thresholds of the leak verdict (see the module docstring)."""

    min_topk_share: float = 0.2
    max_flag_rate: float = 0.5
    min_judged: int = 5
    """A verdict needs at least this many judged images (or all of them, if fewer) ..."""
    min_judged_share: float = 0.5
    """... and at least this share of the images judged."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_topk_share <= 1.0:  # NaN fails too
            raise ValueError(f"min_topk_share must be a share from 0 to 1, got "
                             f"{self.min_topk_share}")
        if not 0.0 < self.max_flag_rate <= 1.0:
            raise ValueError(f"max_flag_rate must be above 0 and at most 1, got "
                             f"{self.max_flag_rate}")
        if isinstance(self.min_judged, bool) or not isinstance(self.min_judged, int) \
                or self.min_judged < 0:
            raise ValueError(f"min_judged must be a whole number of images, 0 or more, got "
                             f"{self.min_judged!r}")
        if not 0.0 <= self.min_judged_share <= 1.0:
            raise ValueError(f"min_judged_share must be a share from 0 to 1, got "
                             f"{self.min_judged_share}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def judged_needed(self, images: int) -> int:
        """How many of ``images`` must be judged for a verdict to rest on enough images:
        ``max(min_judged, ceil(min_judged_share * images))``, capped at ``images`` (every image
        judged is always enough) and at least 1 (no judged image is never enough)."""
        by_share = math.ceil(round(self.min_judged_share * images, 9))
        return max(1, min(images, max(self.min_judged, by_share)))


def leak_flag(metrics: Mapping[str, float], rule: VerdictRule = VerdictRule(),
              topk_fraction: float = 0.05) -> int | None:
    """1 (leak), 0 (no leak) or None (undefined) for one image's metrics."""
    share = parse_number(metrics.get("topk_intersection"))
    threshold = topk_threshold(metrics.get("mask_area_frac"), rule, topk_fraction)
    if share is None or threshold is None:
        return None
    return int(share < threshold)


def topk_threshold(mask_area_frac: Any, rule: VerdictRule = VerdictRule(),
                   topk_fraction: float = 0.05) -> float | None:
    """The ``topk_intersection`` below which an image with a mask of ``mask_area_frac`` is
    flagged: ``min_topk_share`` times the share such a mask can hold at most; None without a
    (non-empty) mask."""
    area = parse_number(mask_area_frac)
    if area is None or area <= 0:
        return None
    return rule.min_topk_share * min(1.0, area / topk_fraction)


def rejudge(rows: Iterable[RowT], rule: VerdictRule, topk_fraction: float = 0.05
            ) -> list[RowT]:
    """Copies of scan rows (:class:`~leakview.scanrow.ScanRow` or dicts) with ``leak_flag`` set
    again under ``rule`` (no model run: the flag depends only on the row's metrics). Rows with
    an error keep their empty flag."""
    judged: list[Any] = []
    for row in rows:
        flag = row.get("leak_flag") if row.get("error") else leak_flag(row, rule, topk_fraction)
        if isinstance(row, ScanRow):   # rows are not changed in place: unchanged ones are shared
            judged.append(row if row.leak_flag == flag else row.with_flag(flag))
        else:
            judged.append({**row, "leak_flag": flag})
    return judged


class VerdictTally:
    """:func:`folder_verdict` one row at a time, in memory that does not grow with the rows
    (counts and sums per method), so a scan of any size can keep its verdict as it goes."""

    def __init__(self) -> None:
        self._methods: dict[str, dict[str, Any]] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        stats = self._methods.setdefault(str(row["method"]), {
            "images": 0, "flagged": 0, "undefined": 0, "errors": 0, "_mass": 0.0, "_n": 0})
        stats["images"] += 1
        if row.get("error"):
            stats["errors"] += 1
            return
        flag = parse_number(row.get("leak_flag"))
        if flag is None:
            stats["undefined"] += 1
        else:
            stats["flagged"] += int(flag >= 0.5)
        mass = parse_number(row.get("mass_in_mask"))
        if mass is not None:
            stats["_mass"] += mass
            stats["_n"] += 1

    def result(self, rule: VerdictRule = VerdictRule()) -> dict[str, Any]:
        per_method: dict[str, dict[str, Any]] = {}
        verdicts = []
        for method, tally in self._methods.items():
            stats = {key: value for key, value in tally.items() if not key.startswith("_")}
            judged = stats["images"] - stats["errors"] - stats["undefined"]
            stats["mean_mass_in_mask"] = tally["_mass"] / tally["_n"] if tally["_n"] else None
            stats["flag_rate"] = stats["flagged"] / judged if judged else None
            if judged == 0:
                stats["verdict"] = UNDETERMINED
            else:
                stats["verdict"] = LEAK if stats["flag_rate"] >= rule.max_flag_rate else OK
            stats.update(coverage(judged, stats["images"], rule))
            verdicts.append(stats["verdict"])
            per_method[method] = stats
        if LEAK in verdicts:
            overall = LEAK
        elif OK in verdicts:
            overall = OK
        else:
            overall = UNDETERMINED
        return {"verdict": overall, **folder_coverage(overall, per_method, rule),
                "rule": rule.as_dict(), "methods": per_method}


def coverage(judged: int, images: int, rule: VerdictRule = VerdictRule()) -> dict[str, Any]:
    """The coverage fields of a verdict that judged ``judged`` of ``images`` images:
    ``judged``, ``images``, ``needed`` (:meth:`VerdictRule.judged_needed`), ``coverage`` (the
    judged share, None without images) and ``coverage_ok``."""
    needed = rule.judged_needed(images)
    return {"judged": judged, "images": images, "needed": needed,
            "coverage": judged / images if images else None, "coverage_ok": judged >= needed}


def folder_coverage(verdict: str, per_method: Mapping[str, Mapping[str, Any]],
                    rule: VerdictRule = VerdictRule()) -> dict[str, Any]:
    """The coverage of the folder ``verdict``: that of the methods it rests on (see the
    module docstring): the best-covered leaky method, the least-covered method that says ok,
    or none judged."""
    deciding = [stats for stats in per_method.values() if stats["verdict"] == verdict]
    if verdict == LEAK:
        chosen = max(deciding, key=lambda stats: (stats["coverage_ok"], stats["judged"]))
    elif verdict == OK:
        chosen = min(deciding, key=lambda stats: (stats["coverage_ok"], stats["judged"]))
    else:
        images = max((stats["images"] for stats in per_method.values()), default=0)
        return coverage(0, images, rule)
    return coverage(chosen["judged"], chosen["images"], rule)


def coverage_text(stats: Mapping[str, Any]) -> str:
    """``judged N of M``, with ``: too few, needs K`` when the verdict rests on too few
    images (``stats``: a folder summary or one method's entry)."""
    text = f"judged {stats['judged']} of {stats['images']}"
    return text if stats["coverage_ok"] else f"{text}: too few, needs {stats['needed']}"


def folder_verdict(rows: Iterable[Mapping[str, Any]], rule: VerdictRule = VerdictRule()
                   ) -> dict[str, Any]:
    """Folder-level verdict from scan rows (dicts, or CSV rows of strings).

    Returns ``{"verdict": "leak"|"ok"|"undetermined", "judged", "images", "needed",
    "coverage", "coverage_ok", "rule": {...}, "methods": {method: {"images", "flagged",
    "undefined", "errors", "flag_rate", "mean_mass_in_mask", "verdict", "judged", "needed",
    "coverage", "coverage_ok"}}}`` (coverage: see the module docstring).
    """
    tally = VerdictTally()
    for row in rows:
        tally.add(row)
    return tally.result(rule)
