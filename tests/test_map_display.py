"""How a signed map is displayed (``report.display_map`` / ``normalise_map`` with ``sign``):
positive part, negative part as magnitudes, or both signs on levels symmetric about zero.
Headless: no Qt."""

from __future__ import annotations

import numpy as np
import pytest

from leakview.metrics import overlap_metrics
from leakview.report import SIGN_MODES, display_map, normalise_map, overlay


def signed_map() -> np.ndarray:
    """Left half negative (down to -3), right half positive (up to +2), a zero column."""
    values = np.zeros((20, 41), dtype=np.float32)
    values[:, :20] = -np.linspace(0.5, 3.0, 20)
    values[:, 21:] = np.linspace(0.1, 2.0, 20)
    return values


def test_positive_mode_is_zero_where_the_map_is_negative():
    values = signed_map()
    shown = display_map(values, "positive")
    assert shown.sign == "positive"
    assert np.all(shown.values[values <= 0] == 0)
    assert np.array_equal(shown.values[values > 0], values[values > 0])
    assert shown.levels[0] == 0 and shown.levels[1] == pytest.approx(
        np.percentile(np.maximum(values, 0), 99.5))
    scaled = normalise_map(values, signed=True, sign="positive")
    assert scaled.min() == 0 and scaled.max() == 1
    assert np.all(scaled[values <= 0] == 0)


def test_negative_mode_shows_negative_evidence_as_magnitudes():
    values = signed_map()
    shown = display_map(values, "negative")
    assert np.all(shown.values[values >= 0] == 0)
    assert np.array_equal(shown.values[values < 0], -values[values < 0])
    assert shown.levels[0] == 0 and shown.levels[1] > 0
    scaled = normalise_map(values, signed=True, sign="negative")
    assert scaled.min() == 0 and scaled.max() == 1
    # the most negative pixel is the brightest
    assert scaled[0, 0] < scaled[0, 19] == 1


def test_both_mode_has_symmetric_levels_centred_on_zero():
    values = signed_map()
    shown = display_map(values, "both")
    low, high = shown.levels
    assert low == -high and high == pytest.approx(np.percentile(np.abs(values), 99.5))
    assert np.array_equal(shown.values, values)       # the signed map itself
    scaled = normalise_map(values, signed=True, sign="both")
    assert scaled.min() == -1 and scaled.max() <= 1
    assert np.all(scaled[:, 20] == 0)                  # zero stays at the centre
    assert np.all(np.sign(scaled) == np.sign(values))
    # symmetric: a positive and a negative value of the same size sit equally far from 0
    pair = display_map(np.array([[-1.0, 1.0, 0.0, 0.0]], dtype=np.float32), "both").normalised()
    assert pair[0, 0] == -pair[0, 1]


def test_unsigned_maps_are_always_shown_positive():
    magnitude = np.abs(signed_map())
    for sign in SIGN_MODES:
        shown = display_map(magnitude, sign, signed=False)
        assert shown.sign == "positive"
        assert np.array_equal(shown.values, magnitude)
    # the default (and the old call) is unchanged: the positive part in [0, 1]
    assert np.array_equal(normalise_map(signed_map(), signed=True),
                          normalise_map(signed_map()))


def test_empty_all_zero_and_bad_inputs():
    zero = display_map(np.zeros((4, 4)), "both")
    assert zero.levels == (-1.0, 1.0) and not zero.normalised().any()
    assert display_map(np.zeros((4, 4)), "negative").levels == (0.0, 1.0)
    nan = display_map(np.array([[np.nan, -2.0], [1.0, 0.0]]), "both")
    assert np.isfinite(nan.values).all()
    with pytest.raises(ValueError, match="sign must be one of"):
        display_map(signed_map(), "absolute")


def test_display_does_not_change_the_metrics():
    values = signed_map()
    mask = np.zeros(values.shape, dtype=bool)
    mask[:, 30:] = True
    before = overlap_metrics(values, mask)
    for sign in SIGN_MODES:
        display_map(values, sign).normalised()
    assert overlap_metrics(values, mask) == before


def test_overlay_stays_in_range_with_hot_pixels():
    """Values above the 99.5th percentile are clipped to the top of the scale (they used to
    push the blend weight past 1 and wrap the uint8 pixels)."""
    image = np.full((20, 20, 3), 200, dtype=np.uint8)
    heat = np.ones((20, 20), dtype=np.float32)
    heat[0, 0] = 50.0
    blended = overlay(image, heat, alpha=0.9)
    assert blended[0, 0].tolist() == blended[5, 5].tolist()


def test_an_infinite_value_does_not_blank_the_rest_of_the_map():
    from leakview.report import display_map

    values = np.array([[0.0, 0.5], [1.0, np.inf]], dtype=np.float32)
    shown = display_map(values, "positive", True)
    assert np.isfinite(shown.values).all()
    assert shown.levels[1] == pytest.approx(1.0, rel=0.02)    # the finite top, not 3.4e38
    both = display_map(-values, "both", True)
    assert both.levels == (pytest.approx(-1.0, rel=0.02), pytest.approx(1.0, rel=0.02))
