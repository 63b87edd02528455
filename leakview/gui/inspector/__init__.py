"""The widgets the right-hand inspector (:class:`leakview.gui.results_panel.ResultsPanel`)
is composed of, each self-contained."""

from leakview.gui.inspector.lime_box import LimeBox
from leakview.gui.inspector.model_picker import (
    OPEN_MODEL,
    OPEN_MODEL_FOLDER,
    ModelPicker,
    demo_models,
)
from leakview.gui.inspector.overlap_table import (
    IMAGE_RULE_TIP,
    OverlapTable,
    flag_text,
    fmt,
)
from leakview.gui.inspector.prediction import PredictionTable, TargetPicker
from leakview.gui.inspector.rule_boxes import FOLDER_RULE_TIP, RuleBoxes

__all__ = [
    "FOLDER_RULE_TIP",
    "IMAGE_RULE_TIP",
    "OPEN_MODEL",
    "OPEN_MODEL_FOLDER",
    "LimeBox",
    "ModelPicker",
    "OverlapTable",
    "PredictionTable",
    "RuleBoxes",
    "TargetPicker",
    "demo_models",
    "flag_text",
    "fmt",
]
