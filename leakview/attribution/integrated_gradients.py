"""Integrated gradients (Sundararajan et al. 2017) of the target logit.

``IG_i(x) = (x_i - x'_i) * integral_0^1 d y_t(x' + a (x - x')) / d x_i da`` on the preprocessed
input, with the integral approximated by the trapezoid rule (``steps + 1`` points, half
weights at both ends) or the midpoint rule (``steps`` points at ``(k + 1/2) / steps``).
Baselines: ``black`` (the preprocessed all-zero-pixel image) or ``blurred`` (the input blurred
with a Gaussian of ``sigma`` model-input pixels). The map is the sum over channels (signed).
Completeness (``sum IG = y_t(x) - y_t(x')``) is checked and stored in ``extras``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from leakview.attribution.core import (
    Attribution,
    Reporter,
    gaussian_blur,
    make_attribution,
    normalised_constant,
    prepare_input,
    softmax_numpy,
)
from leakview.attribution.saliency import input_gradient
from leakview.models import LoadedModel


def quadrature(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Points ``alpha`` in [0, 1] and weights (summing to 1) of the chosen rule."""
    if rule == "trapezoid":
        alphas = np.arange(steps + 1, dtype=np.float64) / steps
        weights = np.full(steps + 1, 1.0 / steps)
        weights[0] = weights[-1] = 0.5 / steps
    elif rule == "midpoint":
        alphas = (np.arange(steps, dtype=np.float64) + 0.5) / steps
        weights = np.full(steps, 1.0 / steps)
    else:
        raise ValueError(f"unknown integration rule {rule!r}: expected trapezoid or midpoint")
    return alphas, weights


def make_baseline(model: LoadedModel, inputs: torch.Tensor, baseline: str, sigma: float
                  ) -> torch.Tensor:
    if baseline == "black":
        return normalised_constant(model, (0.0, 0.0, 0.0), inputs.dtype).expand_as(inputs).clone()
    if baseline == "blurred":
        return gaussian_blur(inputs, sigma)
    raise ValueError(f"unknown baseline {baseline!r}: expected black or blurred")


def integrated_gradients(model: LoadedModel, image: np.ndarray, target: int | None,
                         reporter: Reporter, *, baseline: str, sigma: float, steps: int,
                         rule: str, batch_size: int) -> Attribution:
    """Integrated gradients; signed map = sum over channels of the attributions.

    ``extras``: ``baseline``, ``logit_input``, ``logit_baseline``, ``delta``
    (= f(x) - f(x')), ``attribution_sum``, ``completeness_error`` (absolute) and
    ``completeness_relative`` (absolute error / max(|delta|, 1e-12)).
    """
    options: dict[str, Any] = dict(baseline=baseline, sigma=sigma, steps=steps, rule=rule,
                                   batch_size=batch_size)
    inputs = prepare_input(model, image)
    reference = make_baseline(model, inputs, baseline, sigma)
    reporter.check()
    with torch.inference_mode():
        end_logits = model.module(torch.cat([inputs, reference], dim=0)).clone()
    chosen = int(end_logits[0].argmax()) if target is None else int(target)
    alphas, weights = quadrature(steps, rule)
    difference = inputs - reference
    accumulated = torch.zeros_like(inputs[0], dtype=torch.float64)
    total = len(alphas)
    done = 0
    result: Attribution | None = None
    while done < total:
        reporter.check()
        stop = min(done + batch_size, total)
        alpha = torch.as_tensor(alphas[done:stop], dtype=inputs.dtype,
                                device=inputs.device).view(-1, 1, 1, 1)
        weight = torch.as_tensor(weights[done:stop], dtype=torch.float64,
                                 device=inputs.device).view(-1, 1, 1, 1)
        gradient, _, _ = input_gradient(model, reference + alpha * difference, chosen)
        accumulated += (gradient.to(torch.float64) * weight).sum(dim=0)
        done = stop
        if done >= total:
            attributions = difference[0].to(torch.float64) * accumulated
            logit_input = float(end_logits[0, chosen])
            logit_baseline = float(end_logits[1, chosen])
            delta = logit_input - logit_baseline
            attribution_sum = float(attributions.sum())
            error = abs(attribution_sum - delta)
            extras = {
                "baseline": baseline,
                "logit_input": logit_input,
                "logit_baseline": logit_baseline,
                "delta": delta,
                "attribution_sum": attribution_sum,
                "completeness_error": error,
                "completeness_relative": error / max(abs(delta), 1e-12),
            }
            result = make_attribution(model, (image.shape[0], image.shape[1]),
                                      "integrated_gradients", chosen, attributions.sum(dim=0),
                                      signed=True, options=options, extras=extras,
                                      probabilities=softmax_numpy(end_logits[:1])[0])
        reporter.report(done, total, result)
    assert result is not None
    return result
