"""Which attribution methods can run on the loaded model, shown wherever a method is picked
(the layer rows, the View menu's layer toggles, the folder panel's method boxes, Run LIME):
an unavailable one is disabled (greyed) with the registry's one-line reason as its tooltip
and status tip, so hovering it says why in the status bar and choosing it is impossible."""

from __future__ import annotations

from typing import Protocol

from leakview.attribution import METHODS, unavailable_reason
from leakview.models import LoadedModel


class Pickable(Protocol):
    """A QWidget or a QAction: what :func:`mark_available` sets."""

    def setEnabled(self, enabled: bool) -> None: ...  # noqa: N802 (Qt API)
    def setToolTip(self, text: str) -> None: ...  # noqa: N802 (Qt API)
    def setStatusTip(self, text: str) -> None: ...  # noqa: N802 (Qt API)


def unavailable_methods(model: LoadedModel | None) -> dict[str, str]:
    """``{method: the registry's one-line reason}`` for the registered methods that cannot
    run on ``model`` (none without a model: nothing runs then, and the window says so)."""
    if model is None:
        return {}
    reasons = {method: unavailable_reason(model, method) for method in METHODS}
    return {method: reason for method, reason in reasons.items() if reason}


def mark_available(item: Pickable, reason: str | None, tip: str = "") -> None:
    """Enable ``item`` with its usual ``tip``, or disable it with ``reason`` (the registry's
    line: "Grad-CAM is unavailable for this model: ...") as its tooltip and status tip."""
    item.setEnabled(reason is None)
    item.setToolTip(reason or tip)
    item.setStatusTip(reason or "")
