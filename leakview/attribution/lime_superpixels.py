"""LIME for images (Ribeiro et al. 2016), vectorised, at the model's input resolution.

The ``lime`` package fits the surrogate (``lime.lime_base.LimeBase``, with lime_image's own
kernel ``sqrt(exp(-d^2 / kernel_width^2))``, kernel width 0.25 and the cosine distance of each
binary row to the all-ones row); everything else is done here, fast:

* the image is resized to the model's input size ONCE (the model's own preprocessing) and
  segmented once (SLIC by default, ``start_label=0``, relabelled to ``0..n-1``; a regular grid
  when the segmentation collapses to a handful of superpixels, as SLIC does on pure noise);
* binary rows are drawn from ``numpy.random.default_rng(seed)`` (row 0 all ones, as lime
  does); a whole batch of rows becomes a ``B x h x w`` keep-mask with ONE lookup
  ``rows[:, segments]``, and the perturbed batch is built directly in normalised space on the
  device: ``where(mask, image_norm, fill_norm)`` (:func:`build_perturbations`);
* hidden superpixels are filled with each superpixel's mean colour (``mean``, lime's
  ``hide_color=None``), a Gaussian-blurred copy (``blur``) or a constant colour
  (``constant``);
* the model runs in large batches under ``torch.inference_mode`` (one reused input buffer);
  the surrogate regresses the target class's softmax probability (what lime's
  ``classifier_fn`` returns), fitted with one BLAS thread (a 1000 x 50 problem: extra threads
  only fight the model for the cores).

Progressive: every ~10% of the samples (at least once per batch when a batch is larger) and
at the end the surrogate is refitted on the rows so far and passed to ``progress`` as a
provisional :class:`Attribution` (built only when a ``progress`` callback is given).
Stability = Jaccard overlap of the top-5 positive superpixels of consecutive fits
(1.0 = unchanged). With ``early_stop=True`` sampling stops once
that overlap has been ``>= 1 - early_stop_tolerance`` for ``early_stop_patience`` consecutive
fits; ``extras['samples_used']`` records how many samples the result used (the final
``progress`` call then reports ``done == total == samples_used``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from leakview.attribution.core import (
    Attribution,
    Reporter,
    check_image,
    denormalise,
    gaussian_blur,
    make_attribution,
    module_dtype,
    normalised_constant,
    prepare_input,
)
from leakview.models import LoadedModel

SEGMENTATIONS = ("slic", "quickshift", "felzenszwalb", "grid")
FILLS = ("mean", "blur", "constant")
FEATURE_SELECTIONS = ("auto", "none", "highest_weights", "forward_selection", "lasso_path")
TOP_K = 5


def lime_kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """lime_image's default kernel."""
    return np.sqrt(np.exp(-(distances ** 2) / kernel_width ** 2))


def cosine_distances_to_ones(rows: np.ndarray) -> np.ndarray:
    """Cosine distance of each binary row to the all-ones row: ``1 - sqrt(k / n)`` with ``k``
    ones out of ``n`` (an all-zero row gets 1, as scikit-learn's ``pairwise_distances``)."""
    n = rows.shape[1]
    ones = rows.sum(axis=1, dtype=np.float64)
    distances: np.ndarray = 1.0 - np.sqrt(ones / n)
    return distances


def segment(image01: np.ndarray, method: str = "slic", superpixels: int = 50,
            compactness: float = 10.0, seed: int = 0) -> np.ndarray:
    """Superpixels of an ``h x w x 3`` float image in [0, 1] as ``int32`` labels ``0..n-1``.

    ``slic``: ``n_segments=superpixels``, ``compactness``; ``quickshift``: lime's defaults
    (kernel_size 4, max_dist 200, ratio 0.2; ``superpixels`` is not used);
    ``felzenszwalb``: scale 100, sigma 0.5 and a minimum size of ``h*w / (2*superpixels)``
    pixels so the count lands near ``superpixels``; ``grid``: a regular grid
    (:func:`grid_segments`).
    """
    # scikit-image and lime (scikit-learn) are imported on first use: importing the method
    # registry (``leakview info``, every command's options) stays seconds faster.
    from skimage.segmentation import felzenszwalb, quickshift, slic

    if method == "slic":
        labels = slic(image01, n_segments=int(superpixels), compactness=float(compactness),
                      start_label=0, channel_axis=-1)
    elif method == "quickshift":
        labels = quickshift(image01, kernel_size=4, max_dist=200, ratio=0.2, rng=int(seed),
                            channel_axis=-1)
    elif method == "felzenszwalb":
        size = image01.shape[0] * image01.shape[1]
        labels = felzenszwalb(image01, scale=100, sigma=0.5,
                              min_size=max(1, size // (2 * int(superpixels))), channel_axis=-1)
    elif method == "grid":
        labels = grid_segments(image01.shape[0], image01.shape[1], superpixels)
    else:
        raise ValueError(f"unknown segmentation {method!r}: expected one of "
                         f"{', '.join(SEGMENTATIONS)}")
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int32)


def grid_segments(height: int, width: int, superpixels: int) -> np.ndarray:
    """A regular grid of about ``superpixels`` near-square cells (labels row-major)."""
    rows = max(1, min(height, int(round(math.sqrt(superpixels * height / max(width, 1))))))
    cols = max(1, min(width, int(round(superpixels / rows))))
    row_index = (np.arange(height) * rows // height)[:, None]
    col_index = (np.arange(width) * cols // width)[None, :]
    return (row_index * cols + col_index).astype(np.int32)


def segment_with_fallback(image01: np.ndarray, method: str, superpixels: int,
                          compactness: float, seed: int) -> tuple[np.ndarray, str]:
    """:func:`segment`, but when it yields fewer than ``max(2, superpixels // 4)`` superpixels
    (e.g. a pure-noise image, where SLIC's connectivity step merges everything) a regular
    grid of ``superpixels`` cells is used instead; returns ``(segments, method_used)``."""
    segments = segment(image01, method, superpixels, compactness, seed)
    if int(segments.max()) + 1 < max(2, superpixels // 4):
        return segment(image01, "grid", superpixels), "grid"
    return segments, method


def superpixel_means(image: torch.Tensor, segments: torch.Tensor, count: int) -> torch.Tensor:
    """``C x h x w`` image where each superpixel holds its own mean colour."""
    flat = segments.reshape(-1)
    sums = torch.zeros((image.shape[0], count), dtype=torch.float64, device=image.device)
    sums.index_add_(1, flat, image.reshape(image.shape[0], -1).to(torch.float64))
    sizes = torch.bincount(flat, minlength=count).clamp(min=1).to(torch.float64)
    means = (sums / sizes).to(image.dtype)
    return means[:, flat].reshape(image.shape)


def build_perturbations(image: torch.Tensor, fill: torch.Tensor, segments: torch.Tensor,
                        rows: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """The perturbed batch ``B x C x h x w``: pixel ``p`` of sample ``b`` is
    ``image[:, p]`` when ``rows[b, segments[p]]`` is 1 and ``fill[:, p]`` otherwise.

    ``image``/``fill``: ``C x h x w`` (normalised, C the model's input channels);
    ``segments``: ``h x w`` integer labels;
    ``rows``: ``B x n`` of 0/1. One gather ``rows[:, segments]`` (``torch.gather`` along the
    superpixel axis, the fastest form on CPU) builds all masks. ``out``
    (``B x C x h x w``, the dtype of ``image``) is written in place when given: reusing one
    buffer across batches saves a fresh large allocation (and its page faults) per batch.
    """
    flat = segments.to(torch.long).reshape(1, -1)
    keep = torch.gather(rows.to(torch.bool), 1, flat.expand(rows.shape[0], -1))
    keep = keep.view(rows.shape[0], 1, *segments.shape)
    if out is None:
        return torch.where(keep, image, fill)
    return torch.where(keep, image, fill, out=out)


def parse_colour(text: str) -> tuple[float, float, float]:
    """``"0"`` / ``"128"`` (grey) or ``"255,0,0"`` (RGB), 0..255 -> three floats in 0..1."""
    try:
        values = [float(part) for part in str(text).replace(";", ",").split(",")
                  if part.strip()]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or not all(0 <= value <= 255 for value in values):
        raise ValueError(f"option 'fill_value' must be one grey level or 'r,g,b' in 0..255, "
                         f"got {text!r}")
    return values[0] / 255.0, values[1] / 255.0, values[2] / 255.0


def make_fill(model: LoadedModel, image: torch.Tensor, segments: torch.Tensor, count: int,
              fill: str, fill_value: str, blur_sigma: float) -> torch.Tensor:
    """The ``C x h x w`` normalised replacement image for hidden superpixels."""
    if fill == "mean":
        return superpixel_means(image, segments, count)
    if fill == "blur":
        return gaussian_blur(image[None], blur_sigma)[0]
    if fill == "constant":
        colour = normalised_constant(model, parse_colour(fill_value), image.dtype)[0]
        return colour.expand_as(image).clone()
    raise ValueError(f"unknown fill {fill!r}: expected one of {', '.join(FILLS)}")


def fit_surrogate(rows: np.ndarray, labels: np.ndarray, target: int, kernel_width: float,
                  num_features: int, feature_selection: str, seed: int
                  ) -> tuple[np.ndarray, float, float, float]:
    """Fit lime's surrogate; ``(weights per superpixel, intercept, score, local_pred)``.

    With ``num_features`` >= the superpixel count, ``auto`` selection would keep every
    superpixel anyway ('highest_weights' only reorders them), so ``none`` is used: the same
    fit without the extra selection regression.
    """
    count = rows.shape[1]
    data = rows.astype(np.float64)
    distances = cosine_distances_to_ones(rows)
    selection = feature_selection
    if selection in ("auto", "highest_weights") and num_features >= count:
        selection = "none"
    from lime.lime_base import LimeBase

    base = LimeBase(partial(lime_kernel, kernel_width=kernel_width), verbose=False,
                    random_state=seed)
    # A small problem: one BLAS thread is ~10x faster than several fighting over the cores
    # the model uses.
    with threadpool_limits(limits=1):
        intercept, pairs, score, local_pred = base.explain_instance_with_data(
            data, labels, distances, target, min(num_features, count),
            feature_selection=selection)
    weights = np.zeros(count, dtype=np.float64)
    for feature, weight in pairs:
        weights[int(feature)] = float(weight)
    return (weights, float(intercept), float(score),
            float(np.asarray(local_pred).ravel()[0]))


def top_positive(weights: np.ndarray, k: int = TOP_K) -> frozenset[int]:
    order = np.argsort(-weights, kind="stable")
    return frozenset(int(i) for i in order[:k] if weights[i] > 0)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def lime(model: LoadedModel, image: np.ndarray, target: int | None, reporter: Reporter, *,
         samples: int, superpixels: int, segmentation: str, compactness: float, fill: str,
         fill_value: str, blur_sigma: float, kernel_width: float, feature_selection: str,
         num_features: int, batch_size: int, seed: int, early_stop: bool,
         early_stop_tolerance: float, early_stop_patience: int) -> Attribution:
    """LIME map: each superpixel painted with its surrogate weight for the target (signed).

    ``extras``: ``segments`` (h x w int32), ``weights`` (per superpixel, indexed by segment
    id), ``num_superpixels``, ``segmentation_used`` (``grid`` when the segmentation collapsed,
    see :func:`segment_with_fallback`), ``intercept``, ``score`` (R^2 of the surrogate),
    ``local_pred``, ``stability`` (last top-5 Jaccard, NaN after a single fit),
    ``stability_history`` (``[(samples, jaccard), ...]``), ``samples_used``, ``early_stopped``,
    ``provisional``.
    """
    options: dict[str, Any] = dict(
        samples=samples, superpixels=superpixels, segmentation=segmentation,
        compactness=compactness, fill=fill, fill_value=fill_value, blur_sigma=blur_sigma,
        kernel_width=kernel_width, feature_selection=feature_selection,
        num_features=num_features, batch_size=batch_size, seed=seed, early_stop=early_stop,
        early_stop_tolerance=early_stop_tolerance, early_stop_patience=early_stop_patience)
    image = check_image(image)
    if fill == "constant":
        parse_colour(fill_value)
    image_size = (int(image.shape[0]), int(image.shape[1]))
    normalised = prepare_input(model, image)[0]               # channels x h x w, device
    # What the model sees, segmented as RGB (a gray model's one channel repeated).
    pixels = denormalise(model, normalised[None])[0].clamp(0.0, 1.0).expand(3, -1, -1)
    segments_np, segmentation_used = segment_with_fallback(
        pixels.permute(1, 2, 0).to(torch.float64).cpu().numpy(), segmentation, superpixels,
        compactness, seed)
    count = int(segments_np.max()) + 1
    segments = torch.from_numpy(segments_np.astype(np.int64)).to(model.device)
    replacement = make_fill(model, normalised, segments, count, fill, fill_value, blur_sigma)
    features = count if num_features <= 0 else int(num_features)

    rng = np.random.default_rng(int(seed))
    rows = rng.integers(0, 2, size=(samples, count), dtype=np.uint8)
    rows[0, :] = 1
    rows_device = torch.from_numpy(rows).to(model.device)
    labels = np.zeros((samples, model.num_classes), dtype=np.float64)
    dtype = module_dtype(model)
    normalised, replacement = normalised.to(dtype), replacement.to(dtype)
    buffer = torch.empty((min(batch_size, samples), *normalised.shape), dtype=dtype,
                         device=model.device)
    refit_every = max(1, math.ceil(samples / 10))

    chosen = target
    done = 0
    last_fit = 0
    previous_top: frozenset[int] | None = None
    streak = 0
    history: list[tuple[int, float]] = []
    result: Attribution | None = None
    while done < samples:
        reporter.check()
        stop = min(done + batch_size, samples)
        with torch.inference_mode():
            batch = build_perturbations(normalised, replacement, segments,
                                        rows_device[done:stop], out=buffer[:stop - done])
            logits = model.module(batch)
            labels[done:stop] = torch.softmax(logits.to(torch.float32), dim=1).cpu().numpy()
        if chosen is None:
            chosen = int(labels[0].argmax())
        done = stop
        provisional = None
        if done - last_fit >= refit_every or done >= samples:
            last_fit = done
            weights, intercept, score, local_pred = fit_surrogate(
                rows[:done], labels[:done], chosen, kernel_width, features, feature_selection,
                seed)
            top = top_positive(weights)
            stability = float("nan") if previous_top is None else jaccard(previous_top, top)
            if previous_top is not None:
                history.append((done, stability))
                streak = streak + 1 if stability >= 1.0 - early_stop_tolerance else 0
            previous_top = top
            stopping = bool(early_stop) and streak >= early_stop_patience
            final = done >= samples or stopping
            if not final and not reporter.listening:
                continue  # nobody receives provisional maps: skip building them
            map_model = torch.from_numpy(weights.astype(np.float32))[
                torch.from_numpy(segments_np.astype(np.int64))]
            extras = {
                "segments": segments_np,
                "weights": weights,
                "num_superpixels": count,
                "segmentation_used": segmentation_used,
                "intercept": intercept,
                "score": score,
                "local_pred": local_pred,
                "stability": stability,
                "stability_history": list(history),
                "samples_used": done,
                "early_stopped": stopping and done < samples,
                "provisional": not final,
            }
            provisional = make_attribution(model, image_size, "lime", chosen, map_model,
                                           signed=True, options=options, extras=extras,
                                           probabilities=labels[0].astype(np.float32))
            if final:
                result = provisional
                # An early stop ends the run: report it complete (done == total == used).
                reporter.report(done, done if stopping else samples, provisional)
                break
        reporter.report(done, samples, provisional)
    assert result is not None
    return result
