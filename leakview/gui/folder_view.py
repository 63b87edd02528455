"""The folder-analysis panel: methods to scan, Analyze / Cancel / Export buttons, the folder
verdict and the per-class summary (``report.summarize`` output, shown as it is)."""

from __future__ import annotations

from typing import Any, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from leakview.attribution import METHODS
from leakview.verdict import LEAK, OK
from leakview.gui.results_panel import fmt

VERDICT_STYLE = {
    LEAK: "background: #c62828; color: white;",
    OK: "background: #2e7d32; color: white;",
}
SUMMARY_COLUMNS = ("class", "method", "images", "errors", "mass_in_mask", "flag rate",
                   "accuracy")


class FolderPanel(QWidget):
    analyzeRequested = Signal()
    cancelRequested = Signal()
    exportCsvRequested = Signal()
    exportSummaryRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        left = QVBoxLayout()
        methods = QGridLayout()
        methods.addWidget(QLabel("Methods:"), 0, 0)
        self.method_boxes: dict[str, QCheckBox] = {}
        for number, (method, info) in enumerate(METHODS.items()):
            box = QCheckBox(info.label)
            box.setToolTip(info.description)
            box.setChecked(method == "saliency")
            self.method_boxes[method] = box
            methods.addWidget(box, number // 3, 1 + number % 3)
        left.addLayout(methods)
        buttons = QHBoxLayout()
        self.analyze = QPushButton("Analyze folder")
        self.analyze.clicked.connect(self.analyzeRequested)
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancelRequested)
        self.export_csv = QPushButton("Export CSV…")
        self.export_csv.clicked.connect(self.exportCsvRequested)
        self.export_summary = QPushButton("Summary JSON…")
        self.export_summary.clicked.connect(self.exportSummaryRequested)
        for button in (self.analyze, self.cancel, self.export_csv, self.export_summary):
            buttons.addWidget(button)
        left.addLayout(buttons)
        self.verdict = QLabel("Not analysed yet")
        self.verdict.setObjectName("verdict")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setStyleSheet("font-size: 15px; font-weight: bold; padding: 6px;")
        left.addWidget(self.verdict)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        left.addWidget(self.details)
        left.addStretch(1)
        layout.addLayout(left, 2)
        self.table = QTableWidget(0, len(SUMMARY_COLUMNS))
        self.table.setObjectName("summary")
        self.table.setHorizontalHeaderLabels(list(SUMMARY_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(20)
        layout.addWidget(self.table, 3)
        self.set_exportable(False)

    def methods(self) -> tuple[str, ...]:
        return tuple(method for method, box in self.method_boxes.items() if box.isChecked())

    def set_methods(self, methods: tuple[str, ...]) -> None:
        for method, box in self.method_boxes.items():
            box.setChecked(method in methods)

    def set_running(self, running: bool, done: int = 0, total: int = 0) -> None:
        self.analyze.setEnabled(not running)
        self.cancel.setEnabled(running)
        if running:
            self.verdict.setText(f"Analyzing… {done}/{total}")
            self.verdict.setStyleSheet("font-size: 15px; font-weight: bold; padding: 6px;")

    def set_exportable(self, exportable: bool) -> None:
        self.export_csv.setEnabled(exportable)
        self.export_summary.setEnabled(exportable)

    def show_summary(self, summary: Mapping[str, Any], complete: bool, images: int,
                     total: int) -> None:
        verdict = summary["verdict"]
        suffix = "" if complete else f" (partial: {images}/{total})"
        self.verdict.setText(f"Verdict: {verdict.upper()}{suffix}")
        self.verdict.setStyleSheet("font-size: 15px; font-weight: bold; padding: 6px; "
                                   + VERDICT_STYLE.get(verdict, "background: #757575; "
                                                                "color: white;"))
        rule = summary.get("rule", {})
        lines = []
        for method, stats in summary.get("methods", {}).items():
            judged = stats["images"] - stats["errors"] - stats["undefined"]
            rate = "n/a" if stats["flag_rate"] is None else f"{stats['flag_rate']:.0%}"
            lines.append(f"<b>{method}</b>: flagged {stats['flagged']} of {judged} judged "
                         f"({rate}), {stats['undefined']} without mask/undefined, "
                         f"{stats['errors']} errors → {stats['verdict']}")
        lines.append(f"<span style='color: gray'>leak flag when the top-5% share &lt; "
                     f"{rule.get('min_topk_share', '')}; folder leak when ≥ "
                     f"{rule.get('max_flag_rate', 0):.0%} of judged images are flagged</span>")
        self.details.setText("<br>".join(lines))
        entries = summary.get("per_class", [])
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            values = (entry["label"], entry["method"], str(entry["images"]),
                      str(entry["errors"]), fmt(entry["mean_mass_in_mask"]),
                      fmt(entry["flag_rate"]), fmt(entry["accuracy"]))
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.set_exportable(True)
