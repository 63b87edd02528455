"""The right-hand inspector: model picker, top-5 prediction, target class, layers, LIME options
and the overlap table of the image on screen, composed of the widgets of
:mod:`leakview.gui.inspector`. The class to explain and the verdict rule's boxes show and set
the window's :class:`leakview.appstate.AppState` (``target``, ``rule``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from leakview.appstate import AppState
from leakview.attribution import METHODS
from leakview.gui.availability import unavailable_methods
from leakview.gui.inspector import (
    LimeBox,
    ModelPicker,
    OverlapTable,
    PredictionTable,
    RuleBoxes,
    TargetPicker,
)
from leakview.gui.layers import LayerPanel
from leakview.gui.settings import LayerOptions
from leakview.models import LoadedModel
from leakview.verdict import VerdictRule

NO_REGION = ("No expected region yet: draw one (P, R, E, B) or import masks; the metrics "
             "need it.")


def _gray_note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: gray")
    return label


SOURCE_KINDS = {
    "bundle": "leakview bundle", "state_dict": "state_dict", "checkpoint": "training checkpoint",
    "safetensors": "safetensors", "torchscript": "TorchScript", "timm": "timm",
    "huggingface": "Hugging Face folder", "onnx": "ONNX", "torch.export": "torch.export (.pt2)",
}
"""How the inspector names each ``LoadedModel.kind``."""


def model_summary(model: LoadedModel | None, max_classes: int = 6) -> str:
    """The inspector's lines about the loaded model: architecture and where it was read from
    (its source kind), classes, input, device, then the loader's notes (an architecture
    guessed from the weights, a prefix stripped ...) and the methods it cannot run."""
    if model is None:
        return "No model loaded"
    names = ", ".join(model.classes[:max_classes])
    if model.num_classes > max_classes:
        names += f", … (+{model.num_classes - max_classes})"
    channels = "gray" if model.channels == 1 else "RGB"
    source = SOURCE_KINDS.get(model.kind, model.kind)
    lines = [f"source: {source}" if model.arch.lower() == source.lower()
             else f"{model.arch}, source: {source}",
             f"{model.num_classes} classes: {names}",
             f"input {model.input_size[1]}×{model.input_size[0]} {channels}, {model.device}"]
    lines += [f"• {note}" for note in model.notes]
    unavailable = unavailable_methods(model)
    if unavailable:
        lines.append("Cannot run here: " + ", ".join(METHODS[m].label for m in unavailable)
                     + " (hover it for why)")
    return "\n".join(lines)


def model_details(model: LoadedModel) -> str:
    """The model info's tooltip: the file and the normalisation."""
    mean = ", ".join(f"{value:g}" for value in model.mean)
    std = ", ".join(f"{value:g}" for value in model.std)
    return f"{model.source or ''}\nsource kind: {model.kind}\nmean {mean}; std {std}"


class ResultsPanel(QWidget):
    """Everything about the current image and model, on the right."""

    limeRequested = Signal()
    limeCancelled = Signal()
    methodSelected = Signal(str)

    def __init__(self, state: AppState, layer_options: dict[str, LayerOptions],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        self.model_picker = ModelPicker()
        self.model_info = _gray_note("No model")
        model_layout.addWidget(self.model_picker)
        model_layout.addWidget(self.model_info)
        layout.addWidget(model_box)

        prediction_box = QGroupBox("Prediction")
        prediction_layout = QVBoxLayout(prediction_box)
        self.top5 = PredictionTable()
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Explain class"))
        self.target = TargetPicker(state)
        target_row.addWidget(self.target, 1)
        prediction_layout.addWidget(self.top5)
        prediction_layout.addLayout(target_row)
        layout.addWidget(prediction_box)

        layers_box = QGroupBox("Layers")
        layers_layout = QVBoxLayout(layers_box)
        self.layers = LayerPanel(layer_options)
        layers_layout.addWidget(self.layers)

        self.lime = LimeBox()
        self.lime_form, self.lime_button, self.lime_cancel = (
            self.lime.form, self.lime.run_button, self.lime.cancel_button)
        self.lime.requested.connect(self.limeRequested)
        self.lime.cancelled.connect(self.limeCancelled)

        overlap_box = QGroupBox("Overlap with the expected (and suspect) region")
        overlap_layout = QVBoxLayout(overlap_box)
        self.overlap = OverlapTable()
        self.overlap.methodSelected.connect(self.methodSelected)
        overlap_layout.addWidget(self.overlap)
        self.rule_boxes = RuleBoxes(state)
        self.min_topk_share = self.rule_boxes.min_topk_share
        self.max_flag_rate = self.rule_boxes.max_flag_rate
        overlap_layout.addWidget(self.rule_boxes)
        self.mask_note = _gray_note("")
        overlap_layout.addWidget(self.mask_note)
        for box in (overlap_box, layers_box, self.lime):
            layout.addWidget(box)
        layout.addStretch(1)

    def rule(self) -> VerdictRule:
        """The verdict rule the boxes show."""
        return self.rule_boxes.rule()

    # -- model / prediction ---------------------------------------------------------------------
    def show_model_loading(self, path: str, recent: Sequence[str]) -> None:
        """``path`` is being loaded; ``recent``: the recent models, for the picker."""
        self.model_picker.set_recent(recent)
        self.model_picker.set_current(path)
        self.model_info.setText(f"Loading {Path(path).name}…")

    def set_model(self, model: LoadedModel | None, path: str) -> None:
        self.show_model(model, path)
        self.target.set_classes(model.classes if model is not None else ())
        self.set_prediction(None, [])

    def show_model(self, model: LoadedModel | None, path: str) -> None:
        """The picker on ``path`` and what was loaded from it (nothing else changes)."""
        self.model_picker.set_current(path)
        self.model_info.setText(model_summary(model))
        self.model_info.setToolTip(model_details(model) if model is not None else "")

    def set_prediction(self, probabilities: np.ndarray | None, classes: Sequence[str]) -> None:
        self.top5.set_prediction(probabilities, classes)

    def top5_text(self) -> list[tuple[str, str]]:
        return self.top5.texts()

    # -- LIME ---------------------------------------------------------------------------------
    def set_lime_running(self, running: bool) -> None:
        self.lime.set_running(running)

    # -- overlap -------------------------------------------------------------------------------
    def show_region(self, present: bool) -> None:
        """Whether the image has an expected region (without one, say how to make it)."""
        self.mask_note.setText("" if present else NO_REGION)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The overlap rows shown."""
        return self.overlap.rows

    def set_overlap(self, rows: list[dict[str, Any]]) -> None:
        self.overlap.set_rows(rows)

    def overlap_value(self, method: str, metric: str) -> Any:
        return self.overlap.value(method, metric)

    def selected_method(self) -> str | None:
        return self.overlap.selected_method()
