"""The method registry and the one call shape shared by every attribution method.

``METHODS`` maps a method name to a self-describing :class:`MethodInfo` (label, whether the
map is signed, a description and its :class:`OptionSpec` options); the CLI builds its
``--methods`` help and the GUI its menus and option widgets from it. :func:`explain` validates
everything and runs one method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from leakview.attribution.core import (
    Attribution,
    OptionSpec,
    ProgressFn,
    Reporter,
    StopFn,
    check_image,
    check_target,
)
from leakview.attribution.gradcam import gradcam
from leakview.attribution.integrated_gradients import integrated_gradients
from leakview.attribution.lime_superpixels import FEATURE_SELECTIONS, FILLS, SEGMENTATIONS, lime
from leakview.attribution.saliency import saliency, saliency_batch, smoothgrad
from leakview.method_names import METHOD_NAMES
from leakview.models import GRADIENTS, HOOKS, LoadedModel

_SEED = OptionSpec("seed", "int", 0, "Random seed (same seed -> identical map).",
                   minimum=0, maximum=2 ** 32 - 1)


@dataclass(frozen=True)
class MethodInfo:
    """One registered method. ``function(model, image, target, reporter, **options)`` receives
    every option (defaults filled in and validated)."""

    name: str
    label: str
    signed: bool
    description: str
    options: tuple[OptionSpec, ...]
    function: Callable[..., Attribution]
    needs: tuple[str, ...] = (GRADIENTS,)

    def option(self, name: str) -> OptionSpec:
        for spec in self.options:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {spec.name: spec.default for spec in self.options}


METHODS: dict[str, MethodInfo] = {
    "saliency": MethodInfo(
        name="saliency", label="Saliency", signed=False,
        description="Gradient saliency (Simonyan et al. 2013): max over colour channels of "
                    "|d logit / d input|. One forward and backward pass.",
        options=(), function=saliency),
    "smoothgrad": MethodInfo(
        name="smoothgrad", label="SmoothGrad", signed=False,
        description="SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies of "
                    "the input.",
        options=(
            OptionSpec("noise", "float", 0.15, "Noise standard deviation as a fraction of the "
                       "input's value range.", minimum=0.0, maximum=1.0),
            OptionSpec("samples", "int", 25, "Number of noisy copies.", minimum=1,
                       maximum=10000),
            OptionSpec("batch_size", "int", 25, "Noisy copies per forward/backward batch.",
                       minimum=1, maximum=4096),
            _SEED,
        ),
        function=smoothgrad),
    "integrated_gradients": MethodInfo(
        name="integrated_gradients", label="Integrated gradients", signed=True,
        description="Integrated gradients (Sundararajan et al. 2017) of the target logit from "
                    "a baseline image; map = sum over channels (signed). Completeness check "
                    "in extras.",
        options=(
            OptionSpec("baseline", "choice", "black", "Baseline image: black pixels or a "
                       "Gaussian-blurred copy of the input.", choices=("black", "blurred")),
            OptionSpec("sigma", "float", 10.0, "Blur sigma of the blurred baseline, in "
                       "model-input pixels.", minimum=0.1, maximum=1000.0),
            OptionSpec("steps", "int", 50, "Integration steps.", minimum=1, maximum=10000),
            OptionSpec("rule", "choice", "trapezoid", "Riemann rule: trapezoid (steps + 1 "
                       "points) or midpoint (steps points).", choices=("trapezoid", "midpoint")),
            OptionSpec("batch_size", "int", 25, "Interpolated images per forward/backward "
                       "batch.", minimum=1, maximum=4096),
        ),
        function=integrated_gradients),
    "gradcam": MethodInfo(
        name="gradcam", label="Grad-CAM", signed=False,
        description="Grad-CAM (Selvaraju et al. 2017) on the last convolutional feature map "
                    "-- or, when that is coarser than 7 x 7 at the model's input size, the "
                    "deepest block output of at least 7 x 7 -- or for a vision transformer "
                    "on the patch-token grid of the last block's first norm (detected "
                    "automatically, or the bundle's gradcam_layer, or the 'layer' option).",
        options=(
            OptionSpec("layer", "str", "", "Module name of the feature-map layer (as in "
                       "named_modules(), e.g. 'layer4' or 'blocks.11.norm1'), used as given; "
                       "empty = the bundle's gradcam_layer or automatic detection."),
        ),
        function=gradcam, needs=(GRADIENTS, HOOKS)),
    "lime": MethodInfo(
        name="lime", label="LIME", signed=True,
        description="LIME (Ribeiro et al. 2016): superpixels switched on and off, a weighted "
                    "linear surrogate fitted by the lime package; each superpixel painted with "
                    "its weight (signed).",
        options=(
            OptionSpec("samples", "int", 1000, "Perturbed samples.", minimum=2,
                       maximum=1_000_000),
            OptionSpec("superpixels", "int", 50, "Target number of superpixels (slic, "
                       "felzenszwalb, grid; quickshift uses lime's defaults).", minimum=2,
                       maximum=100_000),
            OptionSpec("segmentation", "choice", "slic", "Superpixel algorithm "
                       "(scikit-image; grid = regular cells).", choices=SEGMENTATIONS),
            OptionSpec("compactness", "float", 10.0, "SLIC compactness (higher = squarer "
                       "superpixels).", minimum=1e-3, maximum=1e4),
            OptionSpec("fill", "choice", "blur", "What replaces a hidden superpixel: a blurred "
                       "copy (default), its mean colour (the lime package's default), or a "
                       "constant colour. The mean colour keeps colour cues, so hiding a "
                       "superpixel may not hide its evidence: on the demo world it left LIME "
                       "unable to tell the clean model from the leaky one.", choices=FILLS),
            OptionSpec("fill_value", "str", "0", "Colour for fill=constant: one grey level or "
                       "'r,g,b', 0..255."),
            OptionSpec("blur_sigma", "float", 10.0, "Blur sigma for fill=blur, in model-input "
                       "pixels.", minimum=0.1, maximum=1000.0),
            OptionSpec("kernel_width", "float", 0.25, "Width of lime's exponential kernel on "
                       "the cosine distance.", minimum=1e-6, maximum=100.0),
            OptionSpec("feature_selection", "choice", "auto", "lime's feature selection.",
                       choices=FEATURE_SELECTIONS),
            OptionSpec("num_features", "int", 0, "Superpixels kept in the surrogate "
                       "(0 = all).", minimum=0, maximum=100_000),
            OptionSpec("batch_size", "int", 100, "Perturbed images per forward batch.",
                       minimum=1, maximum=100_000),
            _SEED,
            OptionSpec("early_stop", "bool", False, "Stop sampling once the top-5 positive "
                       "superpixels stop changing."),
            OptionSpec("early_stop_tolerance", "float", 0.0, "Early stop counts a check as "
                       "unchanged when the top-5 Jaccard overlap is >= 1 - tolerance.",
                       minimum=0.0, maximum=1.0),
            OptionSpec("early_stop_patience", "int", 3, "Consecutive unchanged checks "
                       "(one every ~10% of samples) before an early stop.", minimum=1,
                       maximum=1000),
        ),
        function=lime, needs=()),
}
if tuple(METHODS) != METHOD_NAMES:  # the parsers list METHOD_NAMES without importing this
    raise ImportError(f"leakview.method_names.METHOD_NAMES {METHOD_NAMES} must be the "
                      f"registry's methods in order, {tuple(METHODS)}")


def method_names() -> list[str]:
    """Registered method names in registry order."""
    return list(METHODS)


def unavailable_reason(model: LoadedModel, method: str) -> str | None:
    """Why ``method`` cannot run on ``model`` (one line), or None when it can. Checked before
    a run, so a method that cannot work is refused up front instead of failing half-way."""
    info = _info(method)
    for need in info.needs:
        reason = model.unavailable.get(need)
        if reason:
            return f"{info.label} is unavailable for this model: {reason}"
    return None


def available_methods(model: LoadedModel) -> dict[str, str | None]:
    """Every registered method -> None (available) or the reason it is not."""
    return {name: unavailable_reason(model, name) for name in METHODS}


def sampling_options(methods: Sequence[str], seed: int | None = None,
                     lime_samples: int | None = None) -> dict[str, dict[str, Any]]:
    """Per-method options from the command lines' shared switches: ``seed`` for every method
    that takes one, ``lime_samples`` for LIME. Methods given neither are left out (they run
    with their defaults)."""
    options: dict[str, dict[str, Any]] = {}
    for method in methods:
        names = {spec.name for spec in METHODS[method].options} if method in METHODS else set()
        chosen: dict[str, Any] = {}
        if seed is not None and "seed" in names:
            chosen["seed"] = seed
        if method == "lime" and lime_samples is not None:
            chosen["samples"] = lime_samples
        if chosen:
            options[method] = chosen
    return options


def resolve_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The effective options of ``method``: defaults plus ``options``, validated and coerced.
    Raises ValueError for an unknown method or option or a bad value."""
    info = _info(method)
    valid = [spec.name for spec in info.options]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        allowed = ", ".join(valid) if valid else "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for method {method!r}; "
                         f"valid options: {allowed}")
    return {spec.name: spec.validate(options.get(spec.name, spec.default), method)
            for spec in info.options}


def _info(method: str) -> MethodInfo:
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; valid methods: "
                         f"{', '.join(METHODS)}")
    return METHODS[method]


def explain(model: LoadedModel, image: np.ndarray, method: str, target: int | None = None,
            progress: ProgressFn | None = None, should_stop: StopFn | None = None,
            **options: Any) -> Attribution:
    """Run attribution ``method`` on one RGB uint8 image for class ``target`` (default: the
    predicted class).

    ``progress(done, total, provisional)`` is called after each batch (at least once, at the
    end, with the final result); ``should_stop()`` is checked between batches and raises
    :class:`Cancelled` when true. Unknown methods/options, bad values or an out-of-range
    target raise ValueError.
    """
    info = _info(method)
    effective = resolve_options(method, options)
    reason = unavailable_reason(model, method)
    if reason:
        raise ValueError(reason)
    chosen = check_target(model, target)
    image = check_image(image)
    return info.function(model, image, chosen, Reporter(progress, should_stop), **effective)


def explain_batch(model: LoadedModel, images: Sequence[np.ndarray], method: str,
                  targets: Sequence[int | None] | None = None,
                  should_stop: StopFn | None = None, **options: Any) -> list[Attribution]:
    """:func:`explain` for several images: one attribution per image, in order.

    ``targets`` has one class index per image (None entries, or no list: each image's
    predicted class). Plain saliency (no options) runs as one batched forward and backward
    pass (:func:`leakview.attribution.saliency.saliency_batch`, the same maps); every other
    method runs image by image, checking ``should_stop`` inside each.
    """
    if targets is not None and len(targets) != len(images):
        raise ValueError(f"{len(targets)} targets for {len(images)} images")
    reason = unavailable_reason(model, method)
    if reason:
        raise ValueError(reason)
    if method == "saliency" and not options:
        # no targets: saliency_batch takes the predicted classes from its own forward pass
        return saliency_batch(model, images, list(targets) if targets is not None else None)
    chosen = list(targets) if targets is not None else [None] * len(images)
    return [explain(model, image, method, target=target, should_stop=should_stop, **options)
            for image, target in zip(images, chosen)]
