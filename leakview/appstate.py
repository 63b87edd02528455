"""The desktop app's application state, headless: one object, one copy of every value.

:class:`AppState` holds what the window's parts share -- the open folder and masks root, the
model (its path and the loaded model), the verdict rule and top-k fraction, the class to
explain, the methods of "Analyze folder" and of the automatic layers, the image on screen, the
region kind being drawn and the folder-analysis results. Every field has a change signal
(psygnal, the way napari's models work, no Qt): ``state.events.rule.connect(callback)`` calls
``callback(new, old)`` after ``state.rule = new``; setting a field to the value it already
has emits nothing. The model is compared by identity (a reloaded file is a new model),
everything else by ``==``.

The session, the folder analysis, the panels and the settings persistence read and write this
object; tests drive it with no window and no Qt.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from psygnal import SignalGroupDescriptor

from leakview.layout import EXPECTED, normalise_root
from leakview.verdict import VerdictRule

if TYPE_CHECKING:
    from leakview.models import LoadedModel
    from leakview.scanrow import ScanRow

DEFAULT_METHODS: tuple[str, ...] = ("saliency",)
"""Methods ticked for "Analyze folder" until the user chooses."""
DEFAULT_LAYERS: tuple[str, ...] = ("saliency", "gradcam")
"""Layers visible (and so computed automatically) until the user decides otherwise."""


def default_topk_fraction() -> float:
    """The scan's top-k fraction (``ScanOptions.topk_fraction``), the one default."""
    from leakview.scan import ScanOptions  # imported late: the scan pulls in torch

    return ScanOptions().topk_fraction


@dataclass
class AppState:
    """What the window shows and works on; see the module docstring for the signals."""

    root: Path | None = None
    """The open image folder (absolute), None before one is opened."""
    masks_root: Path | None = None
    """Where masks live; None = ``ROOT/.leakview/masks``."""
    model_path: str = ""
    """The model file being loaded, else the one ``model`` was loaded from (a file that
    fails to load leaves both as they were)."""
    model: LoadedModel | None = None
    """The loaded model, None while none is (or it failed to load)."""
    rule: VerdictRule = field(default_factory=VerdictRule)
    topk_fraction: float = field(default_factory=default_topk_fraction)
    target: int | None = None
    """The class index to explain; None = the predicted class."""
    methods: tuple[str, ...] = DEFAULT_METHODS
    """The methods "Analyze folder" runs."""
    layer_methods: tuple[str, ...] = DEFAULT_LAYERS
    """The layers computed automatically for every image shown (LIME never is)."""
    image: Path | None = None
    """The image on screen (being loaded or shown)."""
    region_kind: str = EXPECTED
    """The region kind the drawing tools edit (``layout.REGION_KINDS``)."""
    rows: list[ScanRow] = field(default_factory=list)
    """The folder analysis's rows so far (assign a new list: appending emits nothing)."""
    summary: dict[str, Any] | None = None
    """The folder summary (``report.summarize``) once an analysis ended, else None."""

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor(
        equality_operators={"model": operator.is_})

    def open_folder(self, root: Path) -> None:
        """``root`` is opened (again): ``root`` emits even for the folder already open (it
        passes through None), so that everything holding the previous folder's results --
        the analysis, the images' documents and layers, the panels -- forgets them."""
        self.image = None
        self.root = None
        self.root = normalise_root(root)

    def clear_results(self) -> None:
        """Forget the folder-analysis results (a new folder or model)."""
        self.rows = []
        self.summary = None

    def add_rows(self, rows: Sequence[ScanRow]) -> None:
        """Append one image's rows (a new list, so ``rows`` emits)."""
        if rows:
            self.rows = self.rows + list(rows)
