"""Overlap metrics between an attribution map and an expected-region mask.

Headless: numpy only (no Qt, no torch). Every metric works on the *positive evidence*
``p = max(a, 0)`` of the attribution map ``a`` (``H x W``) and a boolean mask ``s`` (``H x W``,
any non-zero = inside). ``N`` is the number of pixels, ``|s|`` the number of mask pixels.
Metrics are named and documented after their papers, Quantus style.

=====================  ========================================================  ============
name                   formula                                                    source
=====================  ========================================================  ============
``mask_area_frac``     ``|s| / N``                                               --
``mass_in_mask``       ``Σ p·s / Σ p`` (relevance mass accuracy)                 Arras 2022
``rank_accuracy``      ``K = |s|``; share of the K highest-``p`` pixels in ``s`` Arras 2022
``pointing_hit``       1.0 if some pixel of maximal ``p`` is in ``s``, else 0.0  Zhang 2018
``topk_intersection``  ``k = max(1, round(f·N))``; share of the top-k in ``s``   Theiner 2021
``auc``                ROC AUC of ``p`` as a score for ``s`` (ties count ½)      Fawcett 2006
``concentration``      ``mass_in_mask / mask_area_frac`` (1.0 = uniform map)     --
=====================  ========================================================  ============

References: L. Arras, A. Osman, W. Samek, "CLEVR-XAI: A benchmark dataset for the ground truth
evaluation of neural network explanations", Information Fusion 81 (2022) -- relevance mass and
relevance rank accuracy. J. Zhang et al., "Top-down neural attention by excitation backprop",
IJCV 126 (2018) -- pointing game. J. Theiner, E. Müller-Budack, R. Ewerth, "Interpretable
semantic photo geolocation", WACV 2022 (arXiv 2021) -- top-k intersection. T. Fawcett, "An
introduction to ROC analysis", Pattern Recognition Letters 27 (2006) -- ROC AUC.

Ties at a cut-off (``rank_accuracy``, ``topk_intersection``)
    When the K-th (k-th) largest value of ``p`` is shared by pixels that straddle the cut-off,
    the tied pixels are counted *fractionally*: each of the ``n_tie`` tied pixels counts
    ``(K - n_above) / n_tie`` where ``n_above`` pixels are strictly larger. The result is the
    expected value under uniformly random tie-breaking, so it never depends on pixel order.
    ``pointing_hit`` is not fractional: it is 1 if ANY pixel of maximal ``p`` lies in ``s``.
    ``auc`` counts each tied (inside, outside) pair as ½ (Mann-Whitney U with average ranks).

``round`` in ``k = max(1, round(f·N))`` rounds halves up (``floor(f·N + 0.5)``); ``k <= N``.

Undefined values are NaN, never an exception:

=====================  ===========  ===========  ==========  =========================
name                   empty mask   full mask    Σ p = 0     otherwise
=====================  ===========  ===========  ==========  =========================
``mask_area_frac``     0.0          1.0          defined     defined
``mass_in_mask``       NaN          1.0          NaN         defined
``rank_accuracy``      NaN          1.0          NaN         defined
``pointing_hit``       NaN          1.0          NaN         defined
``topk_intersection``  NaN          1.0          NaN         defined
``auc``                NaN          NaN          NaN         defined
``concentration``      NaN          1.0          NaN         defined
=====================  ===========  ===========  ==========  =========================

Why: an empty mask means no expected region was drawn, so "how much evidence falls inside" has
no meaning (and a 0 would read as a leak); the CSV contract leaves it empty. ``Σ p = 0`` (an
all-zero or all-negative map) carries no positive evidence, so every pixel ties and no metric
about it means anything. A full mask makes every statement about "inside" trivially true (1.0);
only ``auc`` needs both classes. A map with no pixels (``0 x W``) gives NaN everywhere.

Non-finite attribution values (never an exception)
    NaN counts as 0 (no evidence); ``-inf`` becomes 0 like every negative value. ``+inf`` is
    taken as the limit of a huge value: it ranks above every finite value (ranking metrics),
    and if any ``+inf`` is present the ``+inf`` pixels share all the mass equally
    (``mass_in_mask`` = share of the ``+inf`` pixels inside ``s``). Finite values whose sum
    overflows are rescaled by their maximum first, so huge maps do not produce NaN.

Errors: :class:`ValueError` only for a non-2-D attribution or mask, a shape mismatch, a
non-numeric attribution, or a ``topk_fraction`` outside ``(0, 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

METRIC_NAMES: tuple[str, ...] = (
    "mask_area_frac",
    "mass_in_mask",
    "rank_accuracy",
    "pointing_hit",
    "topk_intersection",
    "auc",
    "concentration",
)

METRIC_DESCRIPTIONS: dict[str, str] = {
    "mask_area_frac": "Share of the image covered by the expected region (|s| / N).",
    "mass_in_mask": "Share of the positive attribution that falls inside the expected region "
                    "(relevance mass accuracy, Arras et al. 2022).",
    "rank_accuracy": "Share of the |s| most-attributed pixels that lie inside the expected region "
                     "(relevance rank accuracy, Arras et al. 2022).",
    "pointing_hit": "1 if the most-attributed pixel lies inside the expected region, else 0 "
                    "(pointing game, Zhang et al. 2018).",
    "topk_intersection": "Share of the top 5% most-attributed pixels that lie inside the expected "
                         "region (top-k intersection, Theiner et al. 2021).",
    "auc": "ROC AUC of the attribution as a score for 'inside the expected region'; 0.5 = chance "
           "(Fawcett 2006).",
    "concentration": "mass_in_mask / mask_area_frac: how much denser the evidence is inside the "
                     "region than a uniform map would be (1.0 = no better than uniform).",
}

_NAN = float("nan")


def _check_2d(name: str, array: np.ndarray) -> None:
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H x W) array, got shape {array.shape}")


def _as_mask(mask: np.ndarray) -> np.ndarray:
    array = np.asarray(mask)
    _check_2d("mask", array)
    return array if array.dtype == np.bool_ else array != 0


def _positive_evidence(attribution: np.ndarray) -> np.ndarray:
    """``max(a, 0)`` as float64 with NaN -> 0 (``+inf`` kept)."""
    try:
        array = np.asarray(attribution, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("attribution must be a numeric array") from None
    _check_2d("attribution", array)
    p = np.nan_to_num(array, nan=0.0, posinf=np.inf, neginf=0.0)
    np.maximum(p, 0.0, out=p)
    return p


def _topk_share(p: np.ndarray, s: np.ndarray, k: int) -> float:
    """Expected share of the k largest values of ``p`` lying in ``s`` (ties fractional)."""
    n = p.size
    threshold = np.partition(p, n - k)[n - k]          # the k-th largest value
    above = p > threshold
    tied = p == threshold
    n_above = int(np.count_nonzero(above))
    n_tied = int(np.count_nonzero(tied))
    hits = np.count_nonzero(above & s) + (k - n_above) * np.count_nonzero(tied & s) / n_tied
    return float(hits / k)


def _roc_auc(p: np.ndarray, s: np.ndarray, n_pos: int, n_neg: int) -> float:
    """Mann-Whitney U / (n_pos·n_neg), ties ½, exact in integers; O(N log N)."""
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    sorted_s = s[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_p[1:] != sorted_p[:-1])))
    pos_per_group = np.add.reduceat(sorted_s.astype(np.int64), starts)
    size_per_group = np.diff(np.append(starts, p.size))
    neg_per_group = size_per_group - pos_per_group
    neg_below = np.cumsum(neg_per_group) - neg_per_group
    twice_u = int(np.sum(pos_per_group * (2 * neg_below + neg_per_group)))
    return twice_u / (2 * n_pos * n_neg)


def _mass_share(p: np.ndarray, s: np.ndarray) -> float:
    positive_inf = np.isposinf(p)
    n_inf = int(np.count_nonzero(positive_inf))
    if n_inf:
        return np.count_nonzero(positive_inf & s) / n_inf
    with np.errstate(over="ignore"):
        total = float(p.sum())
    if not math.isfinite(total):                    # finite values whose sum overflows
        p = p / p.max()
        total = float(p.sum())
    return float(p[s].sum()) / total


def overlap_metrics(attribution: np.ndarray, mask: np.ndarray,
                    topk_fraction: float = 0.05) -> dict[str, float]:
    """All overlap metrics of ``attribution`` against ``mask``, keyed by :data:`METRIC_NAMES`.

    ``attribution``: ``H x W`` numeric map (signed; only ``p = max(a, 0)`` is used).
    ``mask``: ``H x W`` boolean (any non-zero = inside). ``topk_fraction``: the ``f`` of
    ``topk_intersection``, in ``(0, 1]``. See the module docstring for the formulas, the tie
    rule and when a value is NaN. Values are Python floats (``pointing_hit`` is 0.0 or 1.0).
    """
    p = _positive_evidence(attribution)
    s = _as_mask(mask)
    if p.shape != s.shape:
        raise ValueError(f"attribution shape {p.shape} does not match mask shape {s.shape}")
    try:
        fraction = float(topk_fraction)
    except (TypeError, ValueError):
        fraction = _NAN
    if isinstance(topk_fraction, bool) or not 0.0 < fraction <= 1.0:
        raise ValueError(f"topk_fraction must be in (0, 1], got {topk_fraction!r}")

    result = dict.fromkeys(METRIC_NAMES, _NAN)
    n = p.size
    if n == 0:
        return result
    p = p.ravel()
    s = s.ravel()
    n_pos = int(np.count_nonzero(s))
    n_neg = n - n_pos
    area = n_pos / n
    result["mask_area_frac"] = float(area)
    if n_pos == 0 or not np.any(p > 0):
        return result

    mass = _mass_share(p, s)
    result["mass_in_mask"] = float(mass)
    result["rank_accuracy"] = _topk_share(p, s, n_pos)
    result["pointing_hit"] = 1.0 if bool(np.any(s & (p == p.max()))) else 0.0
    k = min(n, max(1, math.floor(fraction * n + 0.5)))
    result["topk_intersection"] = _topk_share(p, s, k)
    if n_neg > 0:
        result["auc"] = _roc_auc(p, s, n_pos, n_neg)
    result["concentration"] = float(mass / area)
    return result


def superpixel_topk_share(segments: np.ndarray, weights: Mapping[int, float] | np.ndarray,
                          mask: np.ndarray, k: int = 5) -> float:
    """For LIME: share of the area of the top-``k`` positive-weight superpixels inside ``mask``.

    ``segments``: ``H x W`` integer superpixel ids. ``weights``: the surrogate weight of each
    superpixel, as a mapping ``id -> weight`` or an array indexed by id. Only superpixels that
    occur in ``segments`` and have a finite or ``+inf`` weight ``> 0`` are candidates (ids
    missing from ``weights``, out of the array's range, negative, or with a NaN weight are not).
    The ``k`` largest weights are taken (fewer if fewer are positive); equal weights are broken
    by ascending id, so the result is deterministic. Returns ``Σ area(top ∩ mask) /
    Σ area(top)``, or NaN when no superpixel is positive or the mask is empty.
    Raises :class:`ValueError` for non-2-D inputs, a shape mismatch or ``k < 1``.
    """
    segs = np.asarray(segments)
    _check_2d("segments", segs)
    s = _as_mask(mask)
    if segs.shape != s.shape:
        raise ValueError(f"segments shape {segs.shape} does not match mask shape {s.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if segs.size == 0 or not s.any():
        return _NAN
    if not np.issubdtype(segs.dtype, np.integer):
        raise ValueError(f"segments must be an integer array, got dtype {segs.dtype}")

    ids, inverse = np.unique(segs.ravel(), return_inverse=True)
    area = np.bincount(inverse, minlength=ids.size)
    inside = np.bincount(inverse, weights=s.ravel(), minlength=ids.size)

    weight = np.full(ids.size, np.nan)
    if isinstance(weights, Mapping):
        for index, segment_id in enumerate(ids.tolist()):
            value = weights.get(segment_id)
            if value is not None:
                weight[index] = float(value)
    else:
        table = np.asarray(weights, dtype=np.float64).ravel()
        valid = (ids >= 0) & (ids < table.size)
        weight[valid] = table[ids[valid]]

    candidates = np.flatnonzero(weight > 0)          # NaN compares False
    if candidates.size == 0:
        return _NAN
    # Sort by weight descending, then id ascending (ids are already ascending: stable sort).
    order = candidates[np.argsort(-weight[candidates], kind="stable")][:k]
    return float(inside[order].sum() / area[order].sum())
