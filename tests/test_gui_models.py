"""The window opens every accepted model form: the Open model dialogs (every extension, a
model folder), the dialog that asks what a file does not say (ModelSpecDialog) and the load
retried with the answer, the methods a model cannot run greyed out with the reason, and the
model info (source kind, notes). Real mouse and keyboard events (pytest-qt, offscreen)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

from leakview.attribution import METHODS, unavailable_reason  # noqa: E402
from leakview.gui.actions import ACTIONS, layer_action, shortcut_rows  # noqa: E402
from leakview.gui.model_loader import MODEL_EXTENSIONS, model_file_filter  # noqa: E402
from leakview.gui.model_spec_dialog import ModelSpecDialog  # noqa: E402
from leakview.models import (  # noqa: E402
    LoadedModel,
    ModelLoadError,
    ModelSpec,
    ModelSpecNeeded,
    load_model,
    sidecar_path,
)
from test_gui_support import (  # noqa: E402,F401
    CLASSES,
    folder,
    image_template,
    make_window,
    settings,
    tiny_model,
    wait_layer,
)

ALL_FIELDS = ("arch", "classes", "input_size", "mean", "std")


def mouse(widget, point: QPoint | None = None) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     point if point is not None else widget.rect().center())


def retype(qtbot, widget, text: str) -> None:
    """Select what the field holds and type ``text`` over it, as a user would."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    qtbot.keyClicks(widget, text)


def method_number(method: str) -> int:
    return list(METHODS).index(method) + 1


@pytest.fixture(scope="module")
def torchscript_model(tmp_path_factory) -> Path:
    """A traced tiny CNN that is no torchvision architecture (32 x 32, two classes; Grad-CAM
    cannot run on it) with its sidecar JSON."""
    import torch

    from model_checks import opaque_cnn

    module = opaque_cnn(len(CLASSES))
    path = tmp_path_factory.mktemp("torchscript") / "traced.pt"
    torch.jit.trace(module, torch.zeros(1, 3, 32, 32)).save(str(path))
    sidecar_path(path).write_text(json.dumps({"classes": list(CLASSES), "input_size": [32, 32]}))
    return path


def test_open_model_filter_lists_every_accepted_form_and_the_folder_action():
    models, everything = model_file_filter().split(";;")
    for extension in (".pt", ".pth", ".pt2", ".safetensors", ".onnx", ".bin", ".ckpt"):
        assert f"*{extension}" in models.split("(")[1].rstrip(")").split()
    assert set(MODEL_EXTENSIONS) == {".pt", ".pth", ".pt2", ".safetensors", ".onnx", ".bin",
                                     ".ckpt"}
    assert everything == "All files (*)"
    specs = {spec.name: spec for spec in ACTIONS}
    assert specs["open_model"].shortcuts == ("Ctrl+M",)
    assert specs["open_model_folder"].shortcuts == ("Ctrl+Shift+M",)
    assert specs["open_model_folder"].menu == specs["open_model"].menu
    keys = [key for spec in ACTIONS for key in spec.shortcuts]
    assert len(keys) == len(set(keys)), "two actions share a key"
    assert ("Ctrl+Shift+M", "Open model folder") in shortcut_rows()


def _answer_file_dialog(qtbot, answer, seen: dict) -> None:
    """When the file dialog opens (a nested event loop), record its filters and choose
    ``answer`` in it, as a user would."""
    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(50, act)
            return
        seen["filters"] = dialog.nameFilters()
        seen["mode"] = dialog.fileMode()
        if Path(answer).is_dir():
            dialog.setDirectory(str(answer))
        else:
            dialog.selectFile(str(answer))
        dialog.accept()
    QTimer.singleShot(50, act)


def test_ctrl_m_lists_every_form_and_ctrl_shift_m_opens_a_model_folder(
        qtbot, make_window, folder, tiny_model, tmp_path):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    seen: dict = {}
    _answer_file_dialog(qtbot, tiny_model, seen)
    qtbot.keyClick(window.canvas, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert seen["filters"] == model_file_filter().split(";;")
    assert window.state.model_path == str(tiny_model)

    hf_folder = tmp_path / "hf_model"
    hf_folder.mkdir()
    seen.clear()
    window.activateWindow()                          # back from the dialog
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    _answer_file_dialog(qtbot, hf_folder, seen)
    qtbot.keyClick(window.canvas, Qt.Key.Key_M,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert seen["mode"] == QFileDialog.FileMode.Directory
    assert window.state.model_path == str(hf_folder)     # the folder reached the loader
    assert window.results.model_picker.currentData() == str(hf_folder)
    assert "(missing)" not in window.results.model_picker.currentText()


def test_torchscript_model_greys_out_gradcam_with_the_reason(
        qtbot, make_window, folder, torchscript_model, tiny_model):
    window = make_window(folder, torchscript_model)
    wait_layer(qtbot, window, "saliency")
    model = window.state.model
    assert model.kind == "torchscript"
    reason = unavailable_reason(model, "gradcam")
    assert reason                                    # what the registry says, before a run
    assert unavailable_reason(model, "saliency") is None

    # the inspector's layer rows
    rows = window.results.layers.rows
    assert not rows["gradcam"].visible.isEnabled()
    assert reason in rows["gradcam"].visible.toolTip()
    assert rows["gradcam"].status.text() == "n/a"
    assert rows["saliency"].visible.isEnabled()
    assert rows["saliency"].visible.toolTip() == METHODS["saliency"].description
    # hovering the greyed row says why in the status bar (Qt shows a widget's status tip
    # there when the pointer enters it; a real hover is not reliable on the offscreen
    # platform once earlier tests have moved windows around)
    assert rows["gradcam"].visible.statusTip() == reason
    # clicking it or pressing its key does nothing: nothing runs, nothing fails
    checked = rows["gradcam"].visible.isChecked()
    mouse(rows["gradcam"].visible)
    qtbot.keyClick(window.canvas, Qt.Key.Key_0 + method_number("gradcam"))
    assert rows["gradcam"].visible.isChecked() == checked
    assert "gradcam" not in window.session.running
    assert "gradcam" not in window.session.auto_methods
    assert not window.canvas.has_layer("gradcam")
    assert "Grad-CAM failed" not in window.messages.text()

    # the image list's badge picker, the View menu's toggle, Run LIME, the folder panel's boxes
    badge = window.image_list.badge
    index = badge.findData("gradcam")
    assert not badge.model().item(index).isEnabled()
    assert badge.itemData(index, Qt.ItemDataRole.ToolTipRole) == reason
    assert badge.model().item(badge.findData("saliency")).isEnabled()
    toggle = window.actions[layer_action(method_number("gradcam"))]
    assert not toggle.isEnabled() and toggle.toolTip() == reason
    assert window.actions[layer_action(method_number("saliency"))].isEnabled()
    assert window.actions["run_lime"].isEnabled() and window.results.lime_button.isEnabled()
    boxes = window.folder_panel.method_boxes
    assert not boxes["gradcam"].isEnabled() and reason in boxes["gradcam"].toolTip()
    assert boxes["saliency"].isEnabled()

    # the model info: the source kind and what cannot run
    info = window.results.model_info.text()
    assert "TorchScript" in info and "Grad-CAM" in info

    # Analyze folder: Grad-CAM alone cannot start; ticked with saliency, it is skipped with a
    # visible note and saliency is analysed
    window.folder_panel.set_methods(("gradcam",))
    mouse(window.folder_panel.analyze)
    assert "None of the ticked methods" in window.messages.text()
    assert reason in window.messages.text() and not window.analysis.running()
    window.folder_panel.set_methods(("saliency", "gradcam"))
    mouse(window.folder_panel.analyze)
    assert "runs Saliency only" in window.messages.text() and reason in window.messages.text()
    qtbot.waitUntil(lambda: window.analysis.summary is not None, timeout=60000)
    assert window.analysis.complete
    assert {row["method"] for row in window.analysis.rows} == {"saliency"}
    assert window.analysis.methods == ("saliency",)

    # a model that can run Grad-CAM brings the row back
    window.open_model(str(tiny_model))
    qtbot.waitUntil(lambda: window.state.model is not None
                    and window.state.model.kind == "bundle", timeout=30000)
    assert rows["gradcam"].visible.isEnabled() and toggle.isEnabled()
    assert boxes["gradcam"].isEnabled() and badge.model().item(index).isEnabled()
    assert rows["gradcam"].status.text() != "n/a"


def test_spec_dialog_asks_the_missing_fields_and_validates_as_you_type(
        qtbot, folder, tmp_path):
    dialog = ModelSpecDialog(tmp_path / "weights.pt", ALL_FIELDS,
                             reason="a bare state_dict: no class names",
                             guessed_arch="resnet18")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.arch.currentText() == "resnet18"          # the guess, preselected
    assert "guessed" in dialog.arch_note.text()
    assert dialog.height.value() == dialog.width.value() == 224
    assert not dialog.ok_button.isEnabled()                   # no classes yet
    assert "Classes" in dialog.message.text()

    retype(qtbot, dialog.classes, "cat, dog, cat")
    assert not dialog.ok_button.isEnabled() and "cat" in dialog.message.text()
    retype(qtbot, dialog.classes, "cat, dog, bird")
    assert dialog.ok_button.isEnabled() and dialog.message.text() == ""

    retype(qtbot, dialog.arch.lineEdit(), "not_a_model")
    assert not dialog.ok_button.isEnabled() and "torchvision" in dialog.message.text()
    retype(qtbot, dialog.arch.lineEdit(), "timm/vit_tiny_patch16_224")
    assert dialog.ok_button.isEnabled()

    retype(qtbot, dialog.mean, "0.5, x")
    assert not dialog.ok_button.isEnabled() and "Mean" in dialog.message.text()
    retype(qtbot, dialog.mean, "0.5")
    assert not dialog.ok_button.isEnabled() and "Std" in dialog.message.text()  # 1 vs 3
    retype(qtbot, dialog.std, "0")
    assert not dialog.ok_button.isEnabled() and "positive" in dialog.message.text()
    retype(qtbot, dialog.std, "0.25")
    assert dialog.ok_button.isEnabled()
    retype(qtbot, dialog.height, "48")
    retype(qtbot, dialog.width, "64")

    # classes from a file, and from an ImageFolder root (sorted sub-folders)
    names = tmp_path / "classes.txt"
    names.write_text("wheat\ncorn\n\nempty\n")
    assert dialog.load_classes_from(names)
    assert dialog.classes.text() == "wheat, corn, empty"
    assert not dialog.load_classes_from(tmp_path / "nothing.txt")
    assert "unreadable" in dialog.message.text() and not dialog.ok_button.isEnabled()
    assert dialog.load_classes_from(folder)
    assert dialog.classes.text() == ", ".join(sorted(CLASSES))

    mouse(dialog.ok_button)
    assert dialog.result() == ModelSpecDialog.DialogCode.Accepted
    assert dialog.spec() == ModelSpec(arch="timm/vit_tiny_patch16_224",
                                      classes=tuple(sorted(CLASSES)), input_size=(48, 64),
                                      mean=(0.5,), std=(0.25,))


def test_spec_dialog_shows_only_what_is_missing(qtbot, tmp_path):
    remembered = ModelSpec(arch="resnet18", classes=("a", "b"))
    dialog = ModelSpecDialog(tmp_path / "weights.pt", ("classes",), initial=remembered)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.classes.isVisible()
    assert not any(widget.isVisible() for widget in (dialog.arch, dialog.height, dialog.mean,
                                                     dialog.std))
    assert dialog.classes.text() == "a, b" and dialog.ok_button.isEnabled()
    qtbot.keyClick(dialog.classes, Qt.Key.Key_Return)         # Enter = Open
    assert dialog.result() == ModelSpecDialog.DialogCode.Accepted
    assert dialog.spec() == ModelSpec(classes=("a", "b"))


def bare_weights_loader(bundle: Path, calls: list):
    """A real loader for a file that does not name its classes: ModelSpecNeeded without a
    spec; with one, the model of ``bundle`` (load_model) given the user's classes, refused
    with the reason when their number does not fit the model's outputs."""
    def load(path, device=None, spec: ModelSpec | None = None) -> LoadedModel:
        calls.append(spec)
        if spec is None or spec.classes is None:
            raise ModelSpecNeeded(Path(path), "a bare state_dict: it names no classes",
                                  ("arch", "classes"), guessed_arch="mobilenet_v3_small")
        model = load_model(bundle, device=device)
        if len(spec.classes) != model.num_classes:
            raise ModelLoadError(Path(path), f"the model outputs {model.num_classes} scores "
                                             f"but {len(spec.classes)} classes were given")
        return dataclasses.replace(model, classes=list(spec.classes), kind="state_dict",
                                   arch=spec.arch or model.arch, source=Path(path),
                                   notes=[f"architecture {spec.arch} guessed from the weights"])
    return load


def wait_dialog(qtbot, window) -> ModelSpecDialog:
    qtbot.waitUntil(lambda: window.models.spec_dialog is not None
                    and window.models.spec_dialog.isVisible(), timeout=30000)
    dialog = window.models.spec_dialog
    qtbot.waitExposed(dialog)
    return dialog


def test_a_file_that_needs_answers_asks_then_loads_and_cancel_changes_nothing(
        qtbot, make_window, folder, tiny_model, tmp_path):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    before = window.state.model
    info, top5 = window.results.model_info.text(), window.results.top5_text()
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"stands for a bare state_dict")
    calls: list = []
    window.session.models.load = bare_weights_loader(tiny_model, calls)

    # asked; Esc cancels: the previous model stays loaded and the window as it was
    window.open_model(weights)
    dialog = wait_dialog(qtbot, window)
    assert dialog.isModal()
    assert dialog.arch.currentText() == "mobilenet_v3_small" and dialog.arch.isVisible()
    assert dialog.classes.isVisible() and not dialog.mean.isVisible()
    assert window.state.model is before
    assert window.state.model_path == str(tiny_model)
    qtbot.keyClick(dialog.classes, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert window.state.model is before and window.state.model_path == str(tiny_model)
    assert window.results.model_info.text() == info and window.results.top5_text() == top5
    assert window.canvas.has_layer("saliency")
    assert window.settings.last_model == str(tiny_model)
    assert calls == [None]

    # a wrong answer is refused and asked again, saying why, the old model still loaded
    window.open_model(weights)
    dialog = wait_dialog(qtbot, window)
    retype(qtbot, dialog.classes, "a, b, c")
    mouse(dialog.ok_button)
    qtbot.waitUntil(lambda: window.models.spec_dialog is not dialog
                    and window.models.spec_dialog is not None
                    and window.models.spec_dialog.isVisible(), timeout=30000)
    again = window.models.spec_dialog
    assert "outputs 2 scores" in again.refused.text() and again.refused.isVisible()
    assert again.classes.text() == "a, b, c"                 # the last answer, to correct
    assert window.state.model is before
    assert calls[-1] == ModelSpec(arch="mobilenet_v3_small", classes=("a", "b", "c"))

    # the right answer loads it: the classes, the source kind and the note are shown
    retype(qtbot, again.classes, "wheat, corn")
    mouse(again.ok_button)
    qtbot.waitUntil(lambda: window.state.model is not before
                    and window.state.model is not None, timeout=30000)
    loaded = window.state.model
    assert loaded.classes == ["wheat", "corn"] and loaded.kind == "state_dict"
    assert window.state.model_path == str(weights)
    info = window.results.model_info.text()
    assert "source: state_dict" in info and "guessed from the weights" in info
    assert "wheat, corn" in info
    wait_layer(qtbot, window)
    assert window.results.top5_text()[0][0] in ("wheat", "corn")

    # opened again in this session: the dialog starts from the last answer
    window.open_model(weights)
    remembered = wait_dialog(qtbot, window)
    assert remembered.classes.text() == "wheat, corn"
    assert remembered.arch.currentText() == "mobilenet_v3_small"
    mouse(remembered.buttons.button(remembered.buttons.StandardButton.Cancel))
    assert window.state.model is loaded and window.state.model_path == str(weights)


def test_ctrl_shift_m_opens_a_hugging_face_folder(qtbot, make_window, folder, tiny_model,
                                                 tmp_path):
    import torch
    import transformers

    torch.manual_seed(0)
    labels = {0: "cat", 1: "dog"}
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32,
                                    num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, id2label=labels,
                                    label2id={name: i for i, name in labels.items()})
    hf_folder = tmp_path / "hf_vit"
    transformers.ViTForImageClassification(config).eval().save_pretrained(hf_folder)
    processor = transformers.ViTImageProcessor(size={"height": 32, "width": 32})
    processor.save_pretrained(hf_folder)

    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    seen: dict = {}
    _answer_file_dialog(qtbot, hf_folder, seen)
    qtbot.keyClick(window.canvas, Qt.Key.Key_M,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.state.model is not None
                    and window.state.model.kind == "huggingface", timeout=60000)
    assert window.state.model.classes == ["cat", "dog"]
    assert "Hugging Face folder" in window.results.model_info.text()
    wait_layer(qtbot, window, "saliency", timeout=60000)
    assert window.results.layers.rows["gradcam"].visible.isEnabled()   # ViT Grad-CAM (wt-vit)


def test_a_bare_state_dict_asks_for_the_classes_and_loads_it(
        qtbot, make_window, folder, tiny_model, tmp_path):
    import torch

    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    classes = list(window.state.model.classes)
    weights = tmp_path / "weights.pth"
    torch.save(window.state.model.module.state_dict(), weights)   # what a training script saves
    window.open_model(weights)        # what Open model does with the chosen file (Ctrl+M above)
    dialog = wait_dialog(qtbot, window)
    assert dialog.arch.currentText() == "mobilenet_v3_small"     # recognised from the weights
    assert dialog.classes.isVisible()
    retype(qtbot, dialog.classes, ", ".join(classes))
    mouse(dialog.ok_button)
    qtbot.waitUntil(lambda: window.state.model is not None
                    and window.state.model.kind == "state_dict", timeout=60000)
    assert window.state.model.classes == classes
    assert window.state.model_path == str(weights)
    assert "guessed from the weights" in window.results.model_info.text()
    wait_layer(qtbot, window, "saliency", timeout=60000)
