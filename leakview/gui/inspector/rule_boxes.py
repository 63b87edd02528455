"""The verdict rule's boxes (image: top-5% share in the expected region, and in the suspect
region; folder: flagged share; how many judged images a verdict needs), which show and set the
state's ``rule``."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QLabel, QSpinBox, QWidget

from leakview.appstate import AppState
from leakview.gui.inspector.overlap_table import IMAGE_RULE_TIP, SUSPECT_RULE_TIP
from leakview.verdict import VerdictRule

FOLDER_RULE_TIP = ("A method calls the folder leaky when at least this share of the images it "
                   "could judge (those with a mask) is flagged; applies to Analyze folder")
COVERAGE_TIP = ("A folder verdict rests on enough images when at least max(this many, this "
                "share of the images) were judged (read, with a mask and a non-zero map); "
                "with fewer it is marked 'too few' (leakview scan --min-judged, "
                "--min-judged-share)")


def _add_labelled(grid: QGridLayout, row: int, text: str, box: QWidget, name: str, tip: str
                  ) -> None:
    """Add ``box`` (object name ``name``) after a label on ``row`` of ``grid``, both with the
    tooltip ``tip``."""
    label = QLabel(text)
    label.setToolTip(tip)
    box.setObjectName(name)
    box.setToolTip(tip)
    grid.addWidget(label, row, 0)
    grid.addWidget(box, row, 1)


class RuleBoxes(QWidget):
    """``min_topk_share``, ``max_suspect_share``, ``max_flag_rate`` (in percent) and
    ``min_judged`` / ``min_judged_share`` (in percent), one row each (a narrow inspector has
    room for them)."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(2, 1)
        self.min_topk_share = QDoubleSpinBox()
        self.min_topk_share.setRange(0.0, 1.0)
        self.min_topk_share.setSingleStep(0.05)
        _add_labelled(grid, 0, "Leak when top-5% share <", self.min_topk_share, "min_topk_share",
                      IMAGE_RULE_TIP)
        self.max_suspect_share = QDoubleSpinBox()
        self.max_suspect_share.setRange(0.0, 1.0)
        self.max_suspect_share.setSingleStep(0.05)
        _add_labelled(grid, 1, "or suspect top-5% share >", self.max_suspect_share,
                      "max_suspect_share", SUSPECT_RULE_TIP)
        self.max_flag_rate = QSpinBox()
        self.max_flag_rate.setRange(1, 100)
        self.max_flag_rate.setSuffix(" % flagged")
        _add_labelled(grid, 2, "Folder leak at ≥", self.max_flag_rate, "max_flag_rate",
                      FOLDER_RULE_TIP)
        self.min_judged = QSpinBox()
        self.min_judged.setRange(0, 99_999)
        self.min_judged.setSuffix(" images")
        self.min_judged_share = QSpinBox()
        self.min_judged_share.setRange(0, 100)
        self.min_judged_share.setSuffix(" % of images")
        _add_labelled(grid, 3, "Verdict needs judged ≥", self.min_judged, "min_judged",
                      COVERAGE_TIP)
        _add_labelled(grid, 4, "and judged ≥", self.min_judged_share, "min_judged_share",
                      COVERAGE_TIP)
        self.show_rule(state.rule)
        for box in self.boxes():
            box.valueChanged.connect(self._typed)
        state.events.rule.connect(self.show_rule)

    def boxes(self) -> tuple[QDoubleSpinBox | QSpinBox, ...]:
        return (self.min_topk_share, self.max_suspect_share, self.max_flag_rate,
                self.min_judged, self.min_judged_share)

    def rule(self) -> VerdictRule:
        """The state's rule with the boxes' values (a field without a box is kept)."""
        return replace(self.state.rule, min_topk_share=self.min_topk_share.value(),
                       max_suspect_share=self.max_suspect_share.value(),
                       max_flag_rate=self.max_flag_rate.value() / 100,
                       min_judged=self.min_judged.value(),
                       min_judged_share=self.min_judged_share.value() / 100)

    def show_rule(self, rule: VerdictRule) -> None:
        """Show ``rule`` in the boxes (a box already showing its value is left alone, so
        that typing in it is not disturbed)."""
        for box, value in ((self.min_topk_share, rule.min_topk_share),
                           (self.max_suspect_share, rule.max_suspect_share),
                           (self.max_flag_rate, round(rule.max_flag_rate * 100)),
                           (self.min_judged, rule.min_judged),
                           (self.min_judged_share, round(rule.min_judged_share * 100))):
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)

    def _typed(self) -> None:
        self.state.rule = self.rule()
