"""The model picker: the bundled demos, the recent models, "Open model…" and "Open model
folder…" (a Hugging Face ``save_pretrained`` folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from leakview.resources import demo_model_path

OPEN_MODEL = "__open__"
OPEN_MODEL_FOLDER = "__open_folder__"


NO_MODEL_LABEL = "No model loaded"


def demo_models() -> list[tuple[str, str]]:
    return [("Demo: clean", str(demo_model_path("clean"))),
            ("Demo: leaky", str(demo_model_path("leaky")))]


class ModelPicker(QComboBox):
    """Bundled demos, recent models, Open model..., Open model folder...; ``chosen(path)`` /
    ``openRequested`` / ``openFolderRequested``."""

    chosen = Signal(str)
    openRequested = Signal()
    openFolderRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)
        self._recent: list[str] = []
        self._current = ""
        self.activated.connect(self._activated)
        self._rebuild()

    def set_recent(self, recent: Sequence[str]) -> None:
        self._recent = list(recent)
        self._rebuild()

    def set_current(self, path: str) -> None:
        self._current = str(path)
        self._rebuild()

    def _rebuild(self) -> None:
        self.blockSignals(True)
        self.clear()
        entries = demo_models()
        known = {path for _, path in entries}
        for path in [self._current] + self._recent:
            if path and path not in known:
                entries.append((Path(path).name, path))
                known.add(path)
        for label, path in entries:
            if not Path(path).exists():
                label += " (missing)"
            self.addItem(label, path)
            self.setItemData(self.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem("Open model…", OPEN_MODEL)
        self.addItem("Open model folder…", OPEN_MODEL_FOLDER)
        index = self.findData(self._current) if self._current else -1
        if index < 0:   # no model loaded: say so rather than show a demo model as chosen
            self.insertItem(0, NO_MODEL_LABEL, "")
            index = 0
        self.setCurrentIndex(index)
        self.blockSignals(False)

    def _activated(self, index: int) -> None:
        data = self.itemData(index)
        if data in (OPEN_MODEL, OPEN_MODEL_FOLDER):
            self.set_current(self._current)
            (self.openRequested if data == OPEN_MODEL else self.openFolderRequested).emit()
        elif data and data != self._current:
            self.chosen.emit(str(data))
