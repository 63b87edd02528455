"""Model > Open model on a file that does not describe itself (a bare state_dict has no class
names, ...): :class:`ModelSpecDialog` asks for exactly the :class:`leakview.models.ModelSpec`
fields that :class:`leakview.models.ModelSpecNeeded` names (``missing``), the way the command
line takes ``--arch``, ``--classes`` / ``--classes-file``, ``--input-size``, ``--mean`` and
``--std``. Every edit is validated at once: a one-line message under the fields says what is
wrong, and OK stays disabled until nothing is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from leakview.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ModelSpec,
    classification_architectures,
    read_classes_file,
)

SPEC_FIELDS = ("arch", "classes", "input_size", "mean", "std")
"""The ModelSpec fields the dialog can ask for, in the order it shows them."""
TIMM_PREFIX = "timm/"
DEFAULT_SIZE = 224
MIN_SIZE, MAX_SIZE = 8, 4096
ERROR_STYLE = "color: #c62828;"


def parse_classes(text: str) -> tuple[str, ...]:
    """``"a, b, c"`` -> ``("a", "b", "c")``; ValueError saying what is wrong."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if len(names) < 2:
        raise ValueError("Classes: give at least two names, separated by commas")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Classes: {', '.join(repeated)} appears more than once")
    return names


def parse_numbers(text: str, label: str, positive: bool = False) -> tuple[float, ...]:
    """``"0.5, 0.5, 0.5"`` -> floats: one per input channel (3, or 1 for a gray model)."""
    try:
        numbers = tuple(float(item) for item in text.replace(";", ",").split(",")
                        if item.strip())
    except ValueError:
        raise ValueError(f"{label}: numbers separated by commas, e.g. 0.5, 0.5, 0.5") from None
    if len(numbers) not in (1, 3) or not all(abs(value) < float("inf") for value in numbers):
        raise ValueError(f"{label}: one number per channel (3, or 1 for a grayscale model)")
    if positive and any(value <= 0 for value in numbers):
        raise ValueError(f"{label}: every number must be positive")
    return numbers


def check_arch(text: str, known: Sequence[str]) -> str:
    """A torchvision name from ``known`` or ``timm/NAME``; ValueError otherwise."""
    arch = text.strip()
    if not arch:
        raise ValueError("Architecture: choose one (a torchvision name, or timm/NAME)")
    if arch.startswith(TIMM_PREFIX):
        if not arch[len(TIMM_PREFIX):].strip():
            raise ValueError("Architecture: write the timm model's name after timm/")
        return arch
    if arch not in known:
        raise ValueError(f"Architecture: {arch!r} is not a torchvision classification model "
                         f"(for a timm model write timm/{arch})")
    return arch


def _numbers_text(values: Sequence[float]) -> str:
    return ", ".join(f"{value:g}" for value in values)


class ModelSpecDialog(QDialog):
    """Asks for the ``missing`` fields of ``path`` (see the module docstring).

    ``reason`` is why the file needs them, ``guessed_arch`` the architecture the weights point
    to (preselected), ``initial`` the values given last time for this file (they win) and
    ``error`` why the last answer was refused. After OK, :meth:`spec` is the answer: the
    asked fields set, the others None."""

    def __init__(self, path: str | Path, missing: Sequence[str], *, reason: str = "",
                 guessed_arch: str | None = None, initial: ModelSpec | None = None,
                 error: str = "", architectures: Sequence[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.fields = tuple(name for name in SPEC_FIELDS if name in missing) or SPEC_FIELDS
        self.architectures = list(architectures if architectures is not None
                                  else classification_architectures())
        initial = initial or ModelSpec()
        self.setWindowTitle(f"Open model {self.path.name}")
        self.setObjectName("model_spec_dialog")

        layout = QVBoxLayout(self)
        intro = QLabel(f"<b>{self.path.name}</b> does not say everything leakview needs to "
                       f"open it. Please give:")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if reason:
            why = QLabel(reason)
            why.setWordWrap(True)
            why.setStyleSheet("color: gray")
            layout.addWidget(why)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(form)

        self.arch = QComboBox()
        self.arch.setObjectName("spec_arch")
        self.arch.setEditable(True)
        self.arch.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.arch.addItems(self.architectures)
        self.arch.setCurrentText(initial.arch or guessed_arch or "")
        self.arch.lineEdit().setPlaceholderText("resnet18, or timm/NAME")
        self.arch.setToolTip("A torchvision classification model, or timm/NAME for any timm "
                             "model (e.g. timm/vit_tiny_patch16_224)")
        self.arch_note = QLabel(f"guessed from the weights: {guessed_arch}" if guessed_arch
                                else "")
        self.arch_note.setStyleSheet("color: gray")

        self.classes = QLineEdit(", ".join(initial.classes or ()))
        self.classes.setObjectName("spec_classes")
        self.classes.setPlaceholderText("cat, dog, bird  (in the model's output order)")
        self.classes_button = QPushButton("From file…")
        self.classes_button.setObjectName("spec_classes_from")
        from_menu = QMenu(self.classes_button)
        from_menu.addAction("Classes file (one name a line)…", self._choose_classes_file)
        from_menu.addAction("ImageFolder root (its sub-folders, sorted)…",
                            self._choose_classes_folder)
        self.classes_button.setMenu(from_menu)

        height, width = initial.input_size or (DEFAULT_SIZE, DEFAULT_SIZE)
        self.height, self.width = QSpinBox(), QSpinBox()
        for spin, value, name in ((self.height, height, "height"), (self.width, width, "width")):
            spin.setObjectName(f"spec_{name}")
            spin.setRange(MIN_SIZE, MAX_SIZE)
            spin.setValue(value)
            spin.setSuffix(" px")
            spin.setToolTip(f"Input {name} the model was trained at")

        self.mean = QLineEdit(_numbers_text(initial.mean or IMAGENET_MEAN))
        self.mean.setObjectName("spec_mean")
        self.std = QLineEdit(_numbers_text(initial.std or IMAGENET_STD))
        self.std.setObjectName("spec_std")
        for edit in (self.mean, self.std):
            edit.setToolTip("One number per input channel (3 for RGB, 1 for a grayscale "
                            "model); the defaults are ImageNet's")

        if "arch" in self.fields:
            form.addRow("&Architecture:", self._column(self.arch, self.arch_note))
        if "classes" in self.fields:
            form.addRow("&Classes:", self._row(self.classes, self.classes_button))
        if "input_size" in self.fields:
            form.addRow("&Input size (H × W):", self._row(self.height, QLabel("×"),
                                                          self.width, stretch=True))
        if "mean" in self.fields:
            form.addRow("&Mean:", self.mean)
        if "std" in self.fields:
            form.addRow("&Std:", self.std)

        self.refused = QLabel(f"Not opened with the last answer: {error}" if error else "")
        self.refused.setObjectName("spec_refused")
        self.refused.setWordWrap(True)
        self.refused.setStyleSheet(ERROR_STYLE)
        self.refused.setVisible(bool(error))
        layout.addWidget(self.refused)
        self.message = QLabel("")
        self.message.setObjectName("spec_message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Open")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.arch.currentTextChanged.connect(self.validate)
        for edit in (self.classes, self.mean, self.std):
            edit.textChanged.connect(self.validate)
        self.validate()
        self.setMinimumWidth(520)

    @staticmethod
    def _row(*widgets: QWidget, stretch: bool = False) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            row.addWidget(widget, 0 if stretch else int(isinstance(widget, QLineEdit)))
        if stretch:
            row.addStretch(1)
        return box

    @staticmethod
    def _column(*widgets: QWidget) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        for widget in widgets:
            column.addWidget(widget)
        return box

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    # -- the answer ------------------------------------------------------------------------
    def spec(self) -> ModelSpec:
        """The asked fields as typed; ValueError (the message shown) when one is invalid."""
        arch = (check_arch(self.arch.currentText(), self.architectures)
                if "arch" in self.fields else None)
        classes = parse_classes(self.classes.text()) if "classes" in self.fields else None
        size = ((self.height.value(), self.width.value()) if "input_size" in self.fields
                else None)
        mean = parse_numbers(self.mean.text(), "Mean") if "mean" in self.fields else None
        std = (parse_numbers(self.std.text(), "Std", positive=True) if "std" in self.fields
               else None)
        if mean is not None and std is not None and len(mean) != len(std):
            raise ValueError(f"Mean has {len(mean)} numbers but Std has {len(std)}: give one "
                             f"per channel in both")
        return ModelSpec(arch=arch, classes=classes, input_size=size, mean=mean, std=std)

    def problem(self) -> str:
        """What is wrong with the answer ("" when nothing is)."""
        try:
            self.spec()
        except ValueError as error:
            return str(error)
        return ""

    def validate(self) -> bool:
        """Show the first problem and enable OK only without one."""
        problem = self.problem()
        self.message.setText(problem)
        self.message.setVisible(bool(problem))
        self.ok_button.setEnabled(not problem)
        return not problem

    def accept(self) -> None:
        if self.validate():
            super().accept()

    # -- classes from a file -------------------------------------------------------------------
    def load_classes_from(self, path: str | Path) -> bool:
        """Fill the classes from a classes file or an ImageFolder root (the file dialog's
        twin); a file that cannot give them is said inline."""
        try:
            names = read_classes_file(path)
        except ValueError as error:
            self.message.setText(f"Classes: {error}")
            self.message.setVisible(True)
            self.ok_button.setEnabled(False)
            return False
        self.classes.setText(", ".join(names))
        self.validate()
        return True

    def _choose_classes_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Classes file (one name a line)",
                                              str(self.path.parent),
                                              "Text files (*.txt *.names *.csv);;All files (*)")
        if path:
            self.load_classes_from(path)

    def _choose_classes_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "ImageFolder root (one sub-folder per "
                                                "class)", str(self.path.parent))
        if path:
            self.load_classes_from(path)

