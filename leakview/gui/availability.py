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
    """``{method: reason}`` for the registered methods that cannot run on ``model`` (none
    without a model: nothing runs then anyway, and the window says to open one)."""
    if model is None:
        return {}
    reasons = {method: unavailable_reason(model, method) for method in METHODS}
    return {method: reason for method, reason in reasons.items() if reason}


def unavailable_text(method: str, reason: str) -> str:
    """The one line shown for an unavailable method: ``"Grad-CAM is unavailable: ..."``."""
    return f"{METHODS[method].label} is unavailable for this model: {reason}"


def mark_available(item: Pickable, method: str, reason: str | None, tip: str = "") -> None:
    """Enable ``item`` with its usual ``tip``, or disable it with the reason ``method``
    cannot run as its tooltip and status tip."""
    item.setEnabled(reason is None)
    text = unavailable_text(method, reason) if reason else ""
    item.setToolTip(text or tip)
    item.setStatusTip(text)
