"""The attribution methods' names, in registry order, importable without torch.

The command line's parsers list them (``scan --methods``, ``atlas --method``, ``merge``'s row
order) and must answer ``--help`` and usage errors in a fraction of a second, before the
registry (:mod:`leakview.attribution`, which imports torch) is loaded. The registry checks at
import that its methods are these.
"""

from __future__ import annotations

METHOD_NAMES: tuple[str, ...] = ("saliency", "smoothgrad", "integrated_gradients", "gradcam",
                                 "lime")
