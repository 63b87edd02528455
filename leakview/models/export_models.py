"""``torch.export`` archives (``torch.export.save``, ``.pt2``), described by a sidecar JSON file
as TorchScript archives are (``model.pt2`` -> ``model.pt2.json`` or ``model.json``).

``torch.export.load`` can unpickle data and run code from the file (see
:mod:`leakview.models.export_archive` for where, with torch's source lines), so the archive's
bytes are checked first and exactly those bytes are loaded; the program is unlifted with
``module(check_guards=False)``, so no guard code from the file runs. Gradients flow through the
exported graph (saliency, SmoothGrad, integrated gradients, LIME run); it is one flat graph of
operators, so forward hooks on its layers never fire and Grad-CAM is refused
(:data:`NO_HOOKS`).
"""

from __future__ import annotations

import io
import logging
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from leakview.models.checkpoint import SUPPORTED_FORMATS
from leakview.models.checks import ModelLoadError, check_output_width
from leakview.models.export_archive import check_exported_archive
from leakview.models.graph_input import describe_graph_input, run_in_fixed_batches
from leakview.models.loaded import HOOKS, LoadedModel
from leakview.models.spec import ModelSpec
from leakview.models.twin import TWIN_ARCH, use_eager_twin

NO_HOOKS = ("torch.export flattens the model into one graph of operators: forward hooks on its "
            "layers never fire, so Grad-CAM cannot see a feature map; save the original model "
            "as a leakview bundle to use Grad-CAM")


def is_exported_program(path: Path) -> bool:
    """Whether ``path`` is to be read as a ``torch.export`` archive: a zip holding
    ``archive_format`` = ``pt2``, or any file named ``.pt2`` (so a broken one is reported as
    one)."""
    if path.suffix.lower() == ".pt2":
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/", 1)[-1] == "archive_format"
                       and archive.read(name) == b"pt2" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, KeyError):
        return False


class ExportedClassifier(torch.nn.Module):
    """The unlifted exported program as a module. ``train()``/``eval()`` only set this
    wrapper's flag (the graph keeps the mode it was exported in; torch refuses to switch it).
    A graph exported with a fixed batch size is run that many images at a time."""

    def __init__(self, program: torch.nn.Module, fixed_batch: int | None) -> None:
        super().__init__()
        self.program = program
        self.fixed_batch = fixed_batch

    def train(self, mode: bool = True) -> ExportedClassifier:
        self.training = mode
        return self

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
               ) -> ExportedClassifier:
        """``.to()``/``.cuda()``/... also move the graph's lifted tensor constants, which the
        unlifted module keeps as plain attributes (not buffers)."""
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        for module in self.program.modules():
            for name, value in list(vars(module).items()):
                if isinstance(value, torch.Tensor):
                    setattr(module, name, fn(value))
        return self

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return run_in_fixed_batches(self.program, batch, self.fixed_batch)


def load_exported(path: Path, device: torch.device, spec: ModelSpec | None = None
                  ) -> LoadedModel:
    """Load a ``torch.export`` archive and its sidecar JSON. Raises ModelLoadError naming the
    file: unreadable, refused by the safety check, or not an image classifier."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelLoadError(path, f"unreadable ({error})") from None
    check_exported_archive(path, data)
    program = _load_program(path, data)
    user_inputs = [node for node in program.graph.nodes if node.op == "placeholder"
                   and node.name in program.graph_signature.user_inputs]
    if len(user_inputs) != 1 or len(program.graph_signature.user_outputs) != 1:
        raise ModelLoadError(path, f"the exported program takes {len(user_inputs)} inputs and "
                                   f"returns {len(program.graph_signature.user_outputs)} "
                                   "outputs; leakview needs one image batch in, logits out")
    value = user_inputs[0].meta.get("val")
    shape = [dim if isinstance(dim, int) else None for dim in getattr(value, "shape", ())]
    described = describe_graph_input(path, "exported program", shape, spec)
    module = ExportedClassifier(program.module(check_guards=False), described.fixed_batch)
    module.to(device)
    operators = sum(1 for node in program.graph.nodes if node.op == "call_function")
    loaded = LoadedModel(module=module, classes=described.classes,
                         input_size=described.input_size, mean=described.mean,
                         std=described.std, arch="torch.export", device=device,
                         extra=described.extra, source=path, kind="torch.export",
                         channels=described.channels, unavailable={HOOKS: NO_HOOKS},
                         notes=[f"torch.export program of {operators} operators"
                                f"{_traced_from(program)}", *described.notes])
    check_output_width(path, loaded)
    use_eager_twin(loaded, source="torch.export")
    if TWIN_ARCH in loaded.extra and described.fixed_batch is not None:
        # the eager module takes any batch: the graph's fixed-batch note no longer applies
        loaded.notes = [note for note in loaded.notes if "per call" not in note]
    return loaded


def _load_program(path: Path, data: bytes) -> Any:
    """``torch.export.load`` of the checked bytes, its warnings and error log silenced."""
    export_log = logging.getLogger("torch.export")
    level = export_log.level
    export_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.load(io.BytesIO(data))
    except Exception as error:  # deserialisation raises many types on a bad archive
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise ModelLoadError(path, f"unreadable torch.export archive ({detail}); "
                                   f"{SUPPORTED_FORMATS}") from None
    finally:
        export_log.setLevel(level)


def _traced_from(program: Any) -> str:
    """``, traced from torchvision.models.resnet.ResNet`` (the class of the exported root
    module, from the graph's module stacks), or ``""``."""
    for node in program.graph.nodes:
        for module_path, class_name in (node.meta.get("nn_module_stack") or {}).values():
            if module_path == "" and isinstance(class_name, str) and "." in class_name:
                return f", traced from {class_name}"
    return ""
