"""The bottom status bar (what runs, a progress bar, Cancel) and the in-window message bar
(errors such as a bad image or a bad model appear here, never as a crash or a modal box)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStatusBar,
    QToolButton,
    QWidget,
)

from leakview.gui.workers import JobRunner

Notify = Callable[[str, str], None]
"""Shows a message in the window: ``notify(text, level)``, level "error", "warning" or
"info" (the window's :meth:`show_message`, given to the controllers)."""

LEVEL_STYLES = {
    "error": "background: #5c1e1e; color: #ffdede; border: 1px solid #a33;",
    "warning": "background: #5a4a12; color: #fff4cc; border: 1px solid #a98c20;",
    "info": "background: #1e3a5c; color: #dcebff; border: 1px solid #3a6aa3;",
}


class MessageBar(QFrame):
    """A dismissable one-line message above the image."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 4, 3)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(close)
        self.level = ""
        self.history: list[tuple[str, str]] = []
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        self.level = level
        self.history.append((level, text))
        self.label.setText(text)
        self.setStyleSheet(f"MessageBar {{{LEVEL_STYLES.get(level, '')}}} "
                           f"QLabel {{ border: none; background: transparent; }}")
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def dismiss(self, level: str, containing: str) -> None:
        """Hide the message shown if it is a ``level`` one mentioning ``containing`` (the
        problem it reported is gone)."""
        if self.level == level and containing in self.text():
            self.hide()


class StatusPanel(QWidget):
    """Status bar content tracking the runner's visible jobs."""

    cancelRequested = Signal()

    def __init__(self, runner: JobRunner, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.runner = runner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.activity = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setMaximumHeight(16)
        self.progress.setVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancelRequested)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel)
        bar.addWidget(self.activity, 1)
        bar.addPermanentWidget(self)
        self.extra = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self.refresh)
        runner.activityChanged.connect(self._timer.start)

    def set_extra(self, text: str) -> None:
        self.extra = text
        self.refresh()

    def refresh(self) -> None:
        jobs = self.runner.visible_jobs()
        if not jobs:
            self.activity.setText(self.extra or "Ready")
            self.progress.setVisible(False)
            self.cancel.setEnabled(False)
            return
        job = next((job for job in reversed(jobs) if job.cancellable), jobs[-1])
        text = job.label
        if len(jobs) > 1:
            text += f"  (+{len(jobs) - 1} more)"
        self.activity.setText(text)
        self.progress.setVisible(True)
        if job.progress_value is not None and job.progress_value[1] > 0:
            done, total = job.progress_value
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"{done}/{total}")
        else:
            self.progress.setRange(0, 0)
        self.cancel.setEnabled(any(job.cancellable for job in jobs))
