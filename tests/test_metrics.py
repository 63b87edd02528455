"""Tests of leakview.metrics against the DESIGN.md check and plain reference loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from leakview.metrics import (
    METRIC_DESCRIPTIONS,
    METRIC_NAMES,
    overlap_metrics,
    superpixel_topk_share,
)

DESIGN_A = np.array([[.9, .1, 0, -.2],
                     [.5, .8, .1, 0],
                     [0, .3, .6, .1],
                     [-.1, 0, .2, .4]])
DESIGN_S = np.zeros((4, 4), dtype=bool)
DESIGN_S[:2, :2] = True

FUZZ = settings(max_examples=200, deadline=None, derandomize=True)


# --------------------------------------------------------------------------- reference loops

def ref_metrics(a: list[list[float]], s: list[list[bool]], f: float = 0.05) -> dict[str, float]:
    """Straightforward pure-Python definitions (fractional ties at cut-offs)."""
    p = [max(v, 0.0) for row in a for v in row]
    m = [bool(v) for row in s for v in row]
    n = len(p)
    n_pos = sum(m)
    n_neg = n - n_pos
    total = sum(p)
    out = dict.fromkeys(METRIC_NAMES, math.nan)
    out["mask_area_frac"] = n_pos / n
    if n_pos == 0 or total == 0:
        return out

    inside = 0.0
    for value, member in zip(p, m):
        if member:
            inside += value
    out["mass_in_mask"] = inside / total

    def topk(k: int) -> float:
        ranked = sorted(p, reverse=True)
        cut = ranked[k - 1]
        above = sum(1 for v in p if v > cut)
        tied = sum(1 for v in p if v == cut)
        hits = sum(1 for v, mm in zip(p, m) if v > cut and mm)
        hits += (k - above) * sum(1 for v, mm in zip(p, m) if v == cut and mm) / tied
        return hits / k

    out["rank_accuracy"] = topk(n_pos)
    top = max(p)
    out["pointing_hit"] = 1.0 if any(v == top and mm for v, mm in zip(p, m)) else 0.0
    out["topk_intersection"] = topk(min(n, max(1, math.floor(f * n + 0.5))))
    if n_neg:
        pairs = 0.0
        for vp, mp in zip(p, m):
            if not mp:
                continue
            for vn, mn in zip(p, m):
                if mn:
                    continue
                pairs += 1.0 if vp > vn else 0.5 if vp == vn else 0.0
        out["auc"] = pairs / (n_pos * n_neg)
    out["concentration"] = out["mass_in_mask"] / out["mask_area_frac"]
    return out


def assert_metrics_equal(got: dict[str, float], want: dict[str, float]) -> None:
    assert list(got) == list(METRIC_NAMES)
    for name in METRIC_NAMES:
        if math.isnan(want[name]):
            assert math.isnan(got[name]), name
        else:
            assert got[name] == pytest.approx(want[name], rel=1e-9, abs=1e-12), name


# --------------------------------------------------------------------------- fixed examples

def test_names_and_descriptions() -> None:
    assert METRIC_NAMES == ("mask_area_frac", "mass_in_mask", "rank_accuracy", "pointing_hit",
                            "topk_intersection", "auc", "concentration")
    assert list(METRIC_DESCRIPTIONS) == list(METRIC_NAMES)
    assert all(isinstance(v, str) and v and "\n" not in v for v in METRIC_DESCRIPTIONS.values())


def test_design_4x4_check() -> None:
    got = overlap_metrics(DESIGN_A, DESIGN_S)
    assert list(got) == list(METRIC_NAMES)
    assert got["mask_area_frac"] == 0.25
    assert got["mass_in_mask"] == pytest.approx(2.3 / 4.0)
    assert got["rank_accuracy"] == 0.75                # top 4: .9 .8 .6 .5 -> 3 inside
    assert got["pointing_hit"] == 1.0                  # .9 is inside
    assert got["topk_intersection"] == 1.0             # k = max(1, round(.05*16)) = 1 -> .9
    assert got["auc"] == 0.875                         # 42 of 48 pairs (tie .1 vs .1 twice = 1)
    assert got["concentration"] == pytest.approx(0.575 / 0.25)
    assert all(type(v) is float for v in got.values())
    assert_metrics_equal(got, ref_metrics(DESIGN_A.tolist(), DESIGN_S.tolist()))


def test_topk_fraction_changes_k() -> None:
    # f = 0.25 -> k = 4 -> same cut as rank_accuracy here.
    assert overlap_metrics(DESIGN_A, DESIGN_S, topk_fraction=0.25)["topk_intersection"] == 0.75
    # f = 1 -> every pixel: share = |s| / N.
    assert overlap_metrics(DESIGN_A, DESIGN_S, topk_fraction=1.0)["topk_intersection"] == 0.25


def test_fractional_ties_at_cutoff() -> None:
    a = np.array([[1.0, 0.5, 0.5, 0.5]])
    s = np.array([[True, True, False, False]])
    got = overlap_metrics(a, s)
    # K = 2: 1.0 (inside) then one of three tied .5 (1 of 3 inside) -> (1 + 1/3) / 2.
    assert got["rank_accuracy"] == pytest.approx(2 / 3)
    # Pixel order must not matter.
    permuted = overlap_metrics(a[:, ::-1], s[:, ::-1])
    assert_metrics_equal(permuted, got)


def test_pointing_hit_any_maximal_pixel() -> None:
    a = np.array([[0.7, 0.2], [0.1, 0.7]])
    assert overlap_metrics(a, np.array([[False, False], [False, True]]))["pointing_hit"] == 1.0
    assert overlap_metrics(a, np.array([[False, True], [True, False]]))["pointing_hit"] == 0.0


@pytest.mark.parametrize("case", ["empty", "full", "zero", "negative"])
def test_nan_cases_never_raise(case: str) -> None:
    a = DESIGN_A.copy()
    s = DESIGN_S.copy()
    if case == "empty":
        s[:] = False
    elif case == "full":
        s[:] = True
    elif case == "zero":
        a[:] = 0
    else:
        a = -np.abs(a) - 0.1
    got = overlap_metrics(a, s)
    assert list(got) == list(METRIC_NAMES)
    nan = {k for k, v in got.items() if math.isnan(v)}
    if case == "empty":
        assert got["mask_area_frac"] == 0.0
        assert nan == set(METRIC_NAMES) - {"mask_area_frac"}
    elif case == "full":
        assert nan == {"auc"}
        assert all(got[k] == 1.0 for k in METRIC_NAMES if k != "auc")
    else:
        assert got["mask_area_frac"] == 0.25
        assert nan == set(METRIC_NAMES) - {"mask_area_frac"}


def test_non_finite_attribution() -> None:
    a = DESIGN_A.copy()
    a[3, 3] = np.nan                          # counts as 0
    a[0, 3] = -np.inf                         # counts as 0
    expected = DESIGN_A.copy()
    expected[3, 3] = 0
    assert_metrics_equal(overlap_metrics(a, DESIGN_S), overlap_metrics(expected, DESIGN_S))

    a = DESIGN_A.copy()
    a[0, 0] = np.inf
    a[3, 3] = np.inf                          # two +inf: one inside, one outside
    got = overlap_metrics(a, DESIGN_S)
    assert got["mass_in_mask"] == 0.5
    assert got["pointing_hit"] == 1.0
    assert all(not math.isnan(v) for v in got.values())

    huge = np.full((3, 3), 1e308)             # finite values whose sum overflows
    s = np.zeros((3, 3), dtype=bool)
    s[0] = True
    assert overlap_metrics(huge, s)["mass_in_mask"] == pytest.approx(1 / 3)


def test_errors() -> None:
    with pytest.raises(ValueError, match="does not match"):
        overlap_metrics(np.zeros((4, 4)), np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        overlap_metrics(np.zeros((4, 4, 1)), np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        overlap_metrics(np.zeros(4), np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        overlap_metrics(np.zeros((4, 4)), np.zeros((1, 4, 4), dtype=bool))
    for bad in (0.0, -0.1, 1.5, float("nan"), "x"):
        with pytest.raises(ValueError, match="topk_fraction"):
            overlap_metrics(DESIGN_A, DESIGN_S, topk_fraction=bad)


def test_degenerate_inputs() -> None:
    got = overlap_metrics(np.zeros((0, 5)), np.zeros((0, 5), dtype=bool))
    assert all(math.isnan(v) for v in got.values())
    # Integer masks: non-zero = inside; integer maps accepted.
    integer_mask = DESIGN_S.astype(np.uint8) * 255
    assert_metrics_equal(overlap_metrics((DESIGN_A * 10).astype(int), integer_mask),
                         overlap_metrics(np.trunc(DESIGN_A * 10), DESIGN_S))


def test_full_hd_map_runs() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(1080, 1920)).astype(np.float32)
    s = np.zeros((1080, 1920), dtype=bool)
    s[300:700, 500:1400] = True
    got = overlap_metrics(a, s)
    assert 0.0 <= got["auc"] <= 1.0
    assert got["auc"] == pytest.approx(0.5, abs=0.01)


# --------------------------------------------------------------------------- property tests

maps = st.integers(1, 12).flatmap(lambda h: st.integers(1, 12).flatmap(lambda w: st.tuples(
    hnp.arrays(np.float64, (h, w), elements=st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0])
               | st.floats(-3, 3, allow_nan=False, width=32)),
    hnp.arrays(np.bool_, (h, w)))))


@FUZZ
@given(maps, st.sampled_from([0.05, 0.1, 0.3, 1.0]))
def test_against_reference_loops(case: tuple[np.ndarray, np.ndarray], f: float) -> None:
    a, s = case
    got = overlap_metrics(a, s, topk_fraction=f)
    assert_metrics_equal(got, ref_metrics(a.tolist(), s.tolist(), f))
    for name in ("mask_area_frac", "mass_in_mask", "rank_accuracy", "pointing_hit",
                 "topk_intersection", "auc"):
        assert math.isnan(got[name]) or 0.0 <= got[name] <= 1.0
    assert math.isnan(got["concentration"]) or got["concentration"] >= 0.0


@FUZZ
@given(maps, st.sampled_from([1e-3, 0.5, 3.0, 1e4]))
def test_invariant_to_positive_scaling(case: tuple[np.ndarray, np.ndarray], c: float) -> None:
    a, s = case
    base = overlap_metrics(a, s)
    scaled = overlap_metrics(a * c, s)
    assert_metrics_equal(scaled, base)


# --------------------------------------------------------------------------- superpixels

def test_superpixel_topk_share() -> None:
    segments = np.array([[0, 0, 1, 1],
                         [0, 0, 1, 1],
                         [2, 2, 3, 3],
                         [2, 2, 3, 4]])
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :] = True                                        # segments 0 and 1 inside
    weights = {0: 0.5, 1: -1.0, 2: 0.9, 3: 0.1, 4: 0.0}
    # Positive: 2 (.9, 4 px, 0 inside), 0 (.5, 4 px, 4 inside), 3 (.1, 3 px, 0 inside).
    assert superpixel_topk_share(segments, weights, mask, k=1) == 0.0
    assert superpixel_topk_share(segments, weights, mask, k=2) == 0.5
    assert superpixel_topk_share(segments, weights, mask, k=5) == pytest.approx(4 / 11)
    array_weights = np.array([0.5, -1.0, 0.9, 0.1, 0.0])
    assert superpixel_topk_share(segments, array_weights, mask, k=2) == 0.5
    # Ties broken by ascending id: 0 before 2.
    assert superpixel_topk_share(segments, {0: 1.0, 2: 1.0}, mask, k=1) == 1.0
    # Missing / NaN / out-of-range weights are not candidates.
    assert superpixel_topk_share(segments, {2: float("nan"), 0: 0.2}, mask, k=1) == 1.0
    assert math.isnan(superpixel_topk_share(segments, np.array([0.0, 0.0]), mask))
    assert math.isnan(superpixel_topk_share(segments, {1: -1.0}, mask))
    assert math.isnan(superpixel_topk_share(segments, weights, np.zeros((4, 4), dtype=bool)))
    with pytest.raises(ValueError):
        superpixel_topk_share(segments, weights, np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError):
        superpixel_topk_share(segments, weights, mask, k=0)
