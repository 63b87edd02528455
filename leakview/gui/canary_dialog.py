"""Tools > Run canary…: the options dialog of ``leakview canary`` and the background run.

:class:`CanaryDialog` offers the options of the CLI (data folder, architecture or a model to
fine-tune, marker and its options, methods, epochs, output folder, seed) and builds a
:class:`leakview.canary.CanaryConfig`, checked before the dialog closes by the checks the CLI
runs too (:func:`leakview.canary.check_config`: the folder is an ImageFolder tree, the files
exist, the marker fits the classes, the output is not inside the data ...); loading the start
model is left to :func:`leakview.canary.run_canary` itself. :class:`CanaryRun` runs it on the
runner's ``batch`` lane (progress and Cancel in the status bar); when it completes,
``report.html`` is opened with :class:`QDesktopServices` and the verdict is shown in the
message bar. A cancelled or failed run leaves the canary's partial report (rewritten
atomically after every phase).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from leakview.attribution import METHODS, sampling_options
from leakview.canary import LEAKY_DATA_FORMAT, CanaryConfig, check_config
from leakview.gui.model_loader import model_file_filter
from leakview.layout import dataset_description
from leakview.markers import MARKER_NAMES, parse_colours, placement, size_defaults
from leakview.resources import is_honest_demo

DEFAULT_ARCH = "shufflenet_v2_x1_0"


def image_folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be a canary's data (None when it can): it must be an ImageFolder
    tree with at least two class sub-folders."""
    from leakview.train import find_classes

    try:
        find_classes(folder)
    except (OSError, ValueError) as error:
        return str(error)
    return None


def planted_leak(folder: Path) -> str | None:
    """The leak a leakview-generated folder already carries (from its
    ``.leakview/dataset.json``: ``leakview demo-data --leak`` or a canary's leaky copy), else
    None. Such data is no canary's honest data: the clean model would learn the leak too."""
    import json

    try:
        description = json.loads(dataset_description(folder).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(description, dict):
        return None
    if description.get("format") == LEAKY_DATA_FORMAT:
        return "a canary's marker"
    leak = description.get("leak")
    return str(leak) if leak else None


def default_data_folder(current: Path | None) -> Path:
    """The open folder when it is an honest ImageFolder tree, else the marker-free demo images
    (generated when the canary starts, see :func:`leakview.resources.ensure_honest_demo`)."""
    from leakview.resources import honest_demo_dir

    if (current is not None and image_folder_problem(current) is None
            and planted_leak(current) is None):
        return current
    return honest_demo_dir()


def default_output(data: Path) -> Path:
    """A new folder under the user's leakview data folder, named after the data and the time."""
    from leakview.resources import user_data_dir

    base = user_data_dir() / "canary" / f"{data.name or 'data'}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, number = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{number}")
        number += 1
    return candidate


def _path_row(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    layout.addWidget(button)
    return row


class MarkerFields:
    """The marker rows of the canary dialog: the kind, its corner or edge (the choices follow
    the kind, :func:`leakview.markers.placement`), its size and its colours."""

    def __init__(self, form: QFormLayout) -> None:
        self.marker = QComboBox()
        self.marker.setObjectName("canary_marker")
        self.marker.addItems(MARKER_NAMES)
        self.marker.currentTextChanged.connect(self.marker_changed)
        form.addRow("Marker:", self.marker)
        self.place = QComboBox()
        self.place.setObjectName("canary_place")
        self.place_label = QLabel("Corner:")
        form.addRow(self.place_label, self.place)
        self.size = QDoubleSpinBox()
        self.size.setObjectName("canary_size")
        self.size.setRange(0.0, 0.5)
        self.size.setSingleStep(0.01)
        self.size.setDecimals(2)
        self.size.setSpecialValueText("default")
        self.size.setToolTip("Marker size as a fraction of each image's short side "
                             f"({size_defaults()} by default)")
        form.addRow("Marker size:", self.size)
        self.colors = QLineEdit()
        self.colors.setObjectName("canary_colors")
        self.colors.setPlaceholderText("optional: R,G,B;R,G,B;… one per class, in sorted "
                                       "class-folder order")
        form.addRow("Marker colours:", self.colors)
        self.marker_changed(self.marker.currentText())

    def marker_changed(self, marker: str) -> None:
        key, choices = placement(marker)
        self.place_label.setText(f"{key.capitalize()}:")
        self.place.clear()
        self.place.addItem("default", None)
        for name in choices:
            self.place.addItem(name, name)

    def params(self) -> dict[str, Any]:
        """The marker parameters that differ from the defaults; ValueError for bad colours."""
        params: dict[str, Any] = {}
        place = self.place.currentData()
        if place is not None:
            params[placement(self.marker.currentText())[0]] = place
        if self.size.value() > 0:
            params["size"] = float(self.size.value())
        if self.colors.text().strip():
            try:
                params["class_colors"] = parse_colours(self.colors.text().strip())
            except ValueError as error:
                raise ValueError(f"marker colours: {error}") from None
        return params


def _input_size_row() -> tuple[QWidget, QSpinBox, QSpinBox]:
    """The model input size: H and W spin boxes, 0 = auto."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    height, width = QSpinBox(), QSpinBox()
    for spin, name in ((height, "H"), (width, "W")):
        spin.setRange(0, 2048)
        spin.setSpecialValueText("auto")
        spin.setObjectName(f"canary_input_{name.lower()}")
        layout.addWidget(QLabel(name))
        layout.addWidget(spin)
    layout.addWidget(QLabel("(auto: the start model's, else 128 x 128)"), 1)
    return row, height, width


def _method_boxes(changed: Callable[[], None]) -> tuple[QWidget, dict[str, QCheckBox]]:
    """One check box per registered method (saliency and LIME ticked), three to a row."""
    grid_widget = QWidget()
    grid = QGridLayout(grid_widget)
    grid.setContentsMargins(0, 0, 0, 0)
    boxes: dict[str, QCheckBox] = {}
    for number, (method, info) in enumerate(METHODS.items()):
        box = QCheckBox(info.label)
        box.setObjectName(f"canary_method_{method}")
        box.setToolTip(info.description)
        box.setChecked(method in ("saliency", "lime"))
        box.toggled.connect(changed)
        boxes[method] = box
        grid.addWidget(box, number // 3, number % 3)
    return grid_widget, boxes


class CanaryDialog(QDialog):
    """The options of a canary run; :meth:`config` turns them into a CanaryConfig."""

    def __init__(self, data: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run canary: plant a leak and check that the methods find it")
        self.setObjectName("canary_dialog")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Writes a copy of the data with a class-coloured marker on every image, trains one "
            "model on the honest images and one on the marked ones, and measures on held-out "
            "images whether the predictions follow the marker and whether each attribution "
            "method puts its mass on it. Training two models takes minutes on a CPU; the "
            "report opens when it is done.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        layout.addLayout(form)

        self.data = QLineEdit(str(data))
        self.data.setObjectName("canary_data")
        self.data.textEdited.connect(self._data_edited)
        form.addRow("Data (ImageFolder):", _path_row(self.data, self._browse_data))
        self.data_warning = QLabel("")
        self.data_warning.setObjectName("canary_data_warning")
        self.data_warning.setWordWrap(True)
        form.addRow("", self.data_warning)
        self.data.textChanged.connect(self._check_data)
        self._check_data(self.data.text())

        from leakview.models import classification_architectures

        self.arch = QComboBox()
        self.arch.setObjectName("canary_arch")
        self.arch.setEditable(True)
        self.arch.addItems(classification_architectures())
        self.arch.setCurrentText(DEFAULT_ARCH)
        form.addRow("Architecture:", self.arch)
        self.init = QLineEdit()
        self.init.setObjectName("canary_init")
        self.init.setPlaceholderText("optional: a model bundle to fine-tune")
        self.init.setToolTip("Both models start from this bundle; its architecture (and, unless "
                             "given, its input size) are used")
        self.init.textChanged.connect(lambda text: self.arch.setEnabled(not text.strip()))
        form.addRow("Start from model:", _path_row(self.init, self._browse_init))
        size, self.input_h, self.input_w = _input_size_row()
        form.addRow("Input size:", size)

        self.markers = MarkerFields(form)
        self.marker, self.place, self.place_label = (self.markers.marker, self.markers.place,
                                                     self.markers.place_label)
        self.size, self.colors = self.markers.size, self.markers.colors

        methods, self.method_boxes = _method_boxes(self._methods_changed)
        form.addRow("Methods:", methods)
        self.lime_samples = QSpinBox()
        self.lime_samples.setObjectName("canary_lime_samples")
        self.lime_samples.setRange(0, 100000)
        self.lime_samples.setSingleStep(100)
        self.lime_samples.setSpecialValueText("default")
        form.addRow("LIME samples:", self.lime_samples)
        self.epochs = QSpinBox()
        self.epochs.setObjectName("canary_epochs")
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(10)
        form.addRow("Epochs:", self.epochs)
        self.seed = QSpinBox()
        self.seed.setObjectName("canary_seed")
        self.seed.setRange(0, 2_000_000_000)
        form.addRow("Seed:", self.seed)
        self.out = QLineEdit(str(default_output(data)))
        self.out.setObjectName("canary_out")
        self.out.textEdited.connect(lambda _: setattr(self, "_out_edited", True))
        self._out_edited = False
        form.addRow("Output folder:", _path_row(self.out, self._browse_out))
        self.force = QCheckBox("Replace an earlier canary run in the output folder")
        self.force.setObjectName("canary_force")
        form.addRow("", self.force)

        self.error = QLabel("")
        self.error.setObjectName("canary_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828; font-weight: bold;")
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.run_button.setText("Run canary")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._methods_changed()
        self.result_config: CanaryConfig | None = None
        self.resize(640, self.sizeHint().height())

    # -- reactions ---------------------------------------------------------------------------
    def _methods_changed(self) -> None:
        self.lime_samples.setEnabled(self.method_boxes["lime"].isChecked())

    def _check_data(self, text: str) -> None:
        from leakview.demo_world import CLASSES
        from leakview.resources import HONEST_DEMO_PER_CLASS

        folder = Path(text.strip()) if text.strip() else None
        leak = planted_leak(folder) if folder is not None else None
        if leak is not None:
            note, colour = (
                f"⚠ This folder already carries a planted leak ({leak}, recorded in "
                f".leakview/dataset.json): the clean model learns it too, so the canary will "
                f"probably report that its leak did not take. Use honest images (e.g. "
                f"leakview demo-data OUT without --leak).", "#8a5a00")
        elif folder is not None and is_honest_demo(folder) and not folder.is_dir():
            note, colour = (
                f"Marker-free demo images ({len(CLASSES) * HONEST_DEMO_PER_CLASS}, with cargo "
                f"masks), generated when the canary starts.", "#505050")
        else:
            note, colour = "", ""
        self.data_warning.setText(note)
        self.data_warning.setStyleSheet(f"color: {colour};" if colour else "")
        self.data_warning.setVisible(bool(note))

    def _data_edited(self, text: str) -> None:
        if not self._out_edited and text.strip():
            self.out.setText(str(default_output(Path(text.strip()))))

    def _browse_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data: an ImageFolder tree",
                                                  self.data.text())
        if folder:
            self.data.setText(folder)
            self._data_edited(folder)

    def _browse_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model to fine-tune", self.init.text(),
                                              model_file_filter())
        if path:
            self.init.setText(path)

    def _browse_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder (new or empty)",
                                                  str(Path(self.out.text()).parent))
        if folder:
            self.out.setText(folder)
            self._out_edited = True

    # -- result ------------------------------------------------------------------------------
    def config(self) -> CanaryConfig:
        """The CanaryConfig of the current options; ValueError with a clear reason when they
        cannot work (:func:`leakview.canary.check_config`: no model is loaded, no image read)."""
        from leakview.models import ModelLoadError

        text = self.data.text().strip()
        if not text:
            raise ValueError("choose a data folder")
        data = Path(text).expanduser()
        init_text = self.init.text().strip()
        init = Path(init_text).expanduser() if init_text else None
        arch = None if init is not None else (self.arch.currentText().strip() or None)
        out_text = self.out.text().strip()
        if not out_text:
            raise ValueError("choose an output folder")
        methods = tuple(m for m, box in self.method_boxes.items() if box.isChecked())
        params = self.markers.params()
        options = sampling_options(methods, lime_samples=int(self.lime_samples.value()) or None)
        size = (self.input_h.value(), self.input_w.value())
        if any(size) and min(size) < 8:
            raise ValueError("input size: give both H and W (at least 8), or leave both auto")
        config = CanaryConfig(
            data=data, out=Path(out_text).expanduser(), arch=arch, init=init,
            marker=self.marker.currentText(), marker_params=params, methods=methods,
            method_options=options, epochs=int(self.epochs.value()),
            input_size=(int(size[0]), int(size[1])) if any(size) else None,
            seed=int(self.seed.value()), force=self.force.isChecked())
        try:  # the honest demo images are generated when the run starts
            check_config(config, data_ready=not is_honest_demo(data))
        except (ModelLoadError, OSError) as error:  # a missing start model, an unreadable folder
            raise ValueError(str(error)) from None
        return config

    def accept(self) -> None:
        try:
            self.result_config = self.config()
        except ValueError as error:
            self.error.setText(str(error))
            self.error.show()
            return
        self.error.hide()
        super().accept()
