"""Attribution methods with one call shape.

``explain(model, image, method, target=None, progress=None, should_stop=None, **options)``
returns an :class:`Attribution` for every registered method (``method_names()``: saliency,
smoothgrad, integrated_gradients, gradcam, lime). ``METHODS`` describes each method and its
options for the CLI and the GUI. ``explain_batch`` explains several images at once (the one
batch path of scan, atlas and canary; plain saliency runs as one forward/backward pass). See
DESIGN.md, "Attribution conventions".
"""

from leakview.attribution.core import Attribution, Cancelled, OptionSpec
from leakview.attribution.gradcam import find_gradcam_layer
from leakview.attribution.lime_superpixels import build_perturbations, segment
from leakview.attribution.registry import (
    METHODS,
    MethodInfo,
    available_methods,
    explain,
    explain_batch,
    method_names,
    resolve_options,
    sampling_options,
    unavailable_reason,
)
from leakview.attribution.saliency import saliency_batch

__all__ = [
    "Attribution",
    "Cancelled",
    "METHODS",
    "MethodInfo",
    "available_methods",
    "OptionSpec",
    "build_perturbations",
    "explain",
    "explain_batch",
    "find_gradcam_layer",
    "method_names",
    "resolve_options",
    "saliency_batch",
    "sampling_options",
    "segment",
    "unavailable_reason",
]
