"""The LIME box: its options, Run and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from leakview.attribution import METHODS
from leakview.gui.options_form import OptionsForm

RUN_TEXT, RUNNING_TEXT = "Run LIME  (L)", "LIME running…"


class LimeBox(QGroupBox):
    """LIME's main options; ``requested`` (Run) and ``cancelled`` (Cancel)."""

    requested = Signal()
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("LIME", parent)
        layout = QVBoxLayout(self)
        self.form = OptionsForm("lime", METHODS["lime"].options,
                                primary=("samples", "superpixels", "segmentation", "seed"))
        layout.addWidget(self.form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(RUN_TEXT)
        self.run_button.clicked.connect(self.requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancelled)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

    def set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.run_button.setText(RUNNING_TEXT if running else RUN_TEXT)
