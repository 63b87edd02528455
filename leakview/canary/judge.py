"""The canary's verdict: did the planted leak take, does the clean model ignore the marker,
and which attribution methods found the leak (the rule is :class:`CanaryRule`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from leakview.canary.config import CanaryRule

Row = Mapping[str, Any]


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (False for None and for text)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _number(row: Row, key: str) -> float:
    return float(row[key]) if finite(row[key]) else math.nan


def judge(rows: Sequence[Row], rule: CanaryRule = CanaryRule()) -> dict[str, Any]:
    """The verdict from canary.csv rows (see :class:`CanaryRule`)."""
    by = {(row["model"], row["method"]): row for row in rows}
    methods = list(dict.fromkeys(row["method"] for row in rows))

    def model_value(model: str, key: str) -> float:
        for (name, _), row in by.items():
            if name == model:
                return float(row[key]) if finite(row.get(key)) else math.nan
        return math.nan

    leaky_change = model_value("leaky", "prediction_change_rate")
    clean_change = model_value("clean", "prediction_change_rate")
    leaky_follow = model_value("leaky", "swap_follow_rate")
    clean_follow = model_value("clean", "swap_follow_rate")
    leak_took = bool((finite(leaky_change) and leaky_change >= rule.leak_took_min_change)
                     or (finite(leaky_follow) and leaky_follow >= rule.leak_took_min_follow))
    clean_blind = bool(finite(clean_change) and clean_change <= rule.clean_max_change
                       and (not finite(clean_follow) or clean_follow <= rule.clean_max_follow))
    per_method: dict[str, dict[str, Any]] = {}
    for method in methods:
        leaky, clean = by.get(("leaky", method)), by.get(("clean", method))
        if leaky is not None and clean is not None:
            per_method[method] = _judge_method(leaky, clean, rule)
    found = [m for m, v in per_method.items() if v["found"]]
    if not leak_took:
        outcome = "leak did not take"
    elif per_method and len(found) == len(per_method):
        outcome = "found"
    elif found:
        outcome = "partly found"
    else:
        outcome = "missed"
    lines = _model_lines(leak_took, clean_blind, leaky_change, clean_change, leaky_follow,
                         clean_follow, rule)
    lines += [_method_line(method, value) for method, value in per_method.items()]
    if not leak_took and per_method:
        lines.append("The methods cannot be judged on a leak the model did not learn: try a "
                     "larger marker, more epochs or data with a weaker true cue.")
    return {"outcome": outcome, "leak_took": bool(leak_took),
            "clean_ignores_marker": bool(clean_blind),
            "leaky_change_rate": leaky_change, "clean_change_rate": clean_change,
            "leaky_swap_follow_rate": leaky_follow, "clean_swap_follow_rate": clean_follow,
            "methods": per_method, "found_by": found, "summary": lines,
            "rule": rule.as_dict()}


def _judge_method(leaky: Row, clean: Row, rule: CanaryRule) -> dict[str, Any]:
    """Whether one method found the leak, from its leaky and clean canary.csv rows."""
    leaky_mass = _number(leaky, "marker_mass")
    clean_mass = _number(clean, "marker_mass")
    area = _number(leaky, "marker_area_frac")
    if finite(leaky_mass) and finite(clean_mass):
        ratio = leaky_mass / clean_mass if clean_mass > 0 else (
            math.inf if leaky_mass > 0 else math.nan)
    else:
        ratio = math.nan
    concentration = leaky_mass / area if finite(area) and area > 0 else math.nan
    pointing = _number(leaky, "marker_pointing_rate")
    found = (not math.isnan(ratio) and ratio >= rule.found_min_ratio
             and finite(concentration) and concentration >= rule.found_min_concentration)
    clear = found and ratio >= rule.clear_min_ratio and finite(pointing) and (
        pointing >= rule.clear_min_pointing)
    return {
        "found": bool(found), "strength": "clearly" if clear else ("weakly" if found
                                                                    else "missed"),
        "leaky_marker_mass": leaky_mass, "clean_marker_mass": clean_mass,
        "mass_ratio": ratio if not math.isinf(ratio) else "inf",
        "marker_area_frac": area, "leaky_concentration": concentration,
        "clean_concentration": (clean_mass / area if finite(area) and area > 0
                                else math.nan),
        "leaky_pointing_rate": pointing,
        "clean_pointing_rate": _number(clean, "marker_pointing_rate"),
        "leaky_expected_mass": leaky.get("expected_mass"),
        "clean_expected_mass": clean.get("expected_mass"),
    }


def _model_lines(leak_took: bool, clean_blind: bool, leaky_change: float, clean_change: float,
                 leaky_follow: float, clean_follow: float, rule: CanaryRule) -> list[str]:
    lines = []
    if finite(leaky_change):
        follow = (f"; with another class's marker it predicts that class for "
                  f"{leaky_follow:.0%}" if finite(leaky_follow) else "")
        lines.append(
            f"The planted leak {'took' if leak_took else 'did NOT take'}: removing the marker "
            f"changes {leaky_change:.0%} of the leaky model's held-out predictions{follow} "
            f"(needed: {rule.leak_took_min_change:.0%} either way).")
    if finite(clean_change):
        follow = (f", another class's marker is followed for {clean_follow:.0%}"
                  if finite(clean_follow) else "")
        lines.append(
            f"The clean model {'ignores' if clean_blind else 'does NOT ignore'} the marker: "
            f"removing it changes {clean_change:.0%} of its predictions{follow} "
            f"(allowed: {rule.clean_max_change:.0%}).")
    return lines


def _method_line(method: str, value: Mapping[str, Any]) -> str:
    ratio = value["mass_ratio"]
    ratio_text = "inf" if ratio == "inf" else (f"{ratio:.1f}x" if finite(ratio) else "n/a")
    verb = {"clearly": "found the leak clearly", "weakly": "found the leak weakly",
            "missed": "missed the leak"}[value["strength"]]
    return (f"{method} {verb}: {_pct(value['leaky_marker_mass'])} of its mass on the marker for "
            f"the leaky model vs {_pct(value['clean_marker_mass'])} for the clean one "
            f"({ratio_text}); the marker covers {_pct(value['marker_area_frac'], 2)} of the "
            f"image ({_num(value['leaky_concentration'])}x a uniform map); the hottest pixel "
            f"is on the marker in {_pct(value['leaky_pointing_rate'])} of the leaky model's "
            f"images.")


def _pct(value: Any, digits: int = 0) -> str:
    return f"{float(value):.{digits}%}" if finite(value) else "n/a"


def _num(value: Any) -> str:
    return f"{float(value):.1f}" if finite(value) else "n/a"
