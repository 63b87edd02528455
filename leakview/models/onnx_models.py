"""ONNX models (optional extra ``leakview[onnx]``): run by ONNX Runtime, described by a sidecar
JSON file as TorchScript archives are (``model.onnx`` -> ``model.onnx.json`` or ``model.json``).

An ONNX file is protobuf data, never pickle: it is recognised by its content (a ``ModelProto``
whose first field is ``ir_version`` and which holds a graph), the ``.onnx`` suffix only decides
how a file that is not one is reported. ONNX Runtime runs registered operators only and computes
no gradients, so a loaded ONNX model predicts and explains with LIME; the gradient methods and
Grad-CAM are refused before a run with the reasons in :data:`NO_GRADIENTS` and :data:`NO_HOOKS`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from leakview.models.checkpoint import SUPPORTED_FORMATS
from leakview.models.checks import ModelLoadError, check_output_width
from leakview.models.graph_input import describe_graph_input, run_in_fixed_batches
from leakview.models.loaded import GRADIENTS, HOOKS, LoadedModel
from leakview.models.spec import ModelSpec

NO_GRADIENTS = ("ONNX Runtime computes no gradients, so saliency, SmoothGrad, integrated "
                "gradients and Grad-CAM cannot run on an ONNX model (LIME can); open the "
                "original PyTorch model for them")
NO_HOOKS = ("ONNX Runtime runs the graph as one call: leakview cannot hook an inner layer, so "
            "Grad-CAM cannot see a feature map")
INSTALL_HINT = "pip install 'leakview[onnx]'"

# ModelProto's fields (onnx.proto): number -> protobuf wire type (0 varint, 2 length-delimited).
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_GRAPH_FIELD = 7
_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                 "tensor(double)": np.float64}


def onnx_problem(path: Path) -> str | None:
    """None when ``path`` holds an ONNX ``ModelProto`` (its top-level protobuf fields read to
    the end of the file, ``ir_version`` first, a graph among them), else what is wrong."""
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, 2)
            stream.seek(0)
            seen: set[int] = set()
            while stream.tell() < size:
                key = _varint(stream)
                number, wire = key >> 3, key & 7
                if not seen and (number, wire) != (1, 0):
                    return "it does not start like an ONNX model (no ir_version field)"
                if _MODEL_FIELDS.get(number, wire) != wire or wire not in (0, 2) \
                        or not 0 < number < 100:
                    return f"unexpected protobuf field {number} (wire type {wire})"
                value = _varint(stream)
                if wire == 2:
                    if stream.tell() + value > size:
                        return "the file is truncated"
                    stream.seek(value, 1)
                seen.add(number)
    except OSError as error:
        return f"unreadable ({error})"
    except EOFError:
        return "the file is truncated"
    if _GRAPH_FIELD not in seen:
        return "the ONNX model holds no graph"
    return None


def _varint(stream: BinaryIO) -> int:
    value = shift = 0
    while True:
        byte = stream.read(1)
        if not byte:
            raise EOFError
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise EOFError


def is_onnx(path: Path) -> bool:
    """Whether ``path`` is to be read as ONNX: ONNX content, or the ``.onnx`` suffix (so a
    broken ONNX file is reported as one)."""
    return path.suffix.lower() == ".onnx" or onnx_problem(path) is None


class OnnxClassifier(torch.nn.Module):
    """An ONNX Runtime session as a module: float batch ``N x C x H x W`` in, the graph's first
    output (logits) out as a float32 tensor on the input's device. No parameters, no
    gradients; a graph with a fixed batch size is run that many images at a time."""

    def __init__(self, session: Any, fixed_batch: int | None) -> None:
        super().__init__()
        self.session = session
        graph_input = session.get_inputs()[0]
        self.input_name = graph_input.name
        self.input_dtype = _INPUT_DTYPES[graph_input.type]
        self.output_name = session.get_outputs()[0].name
        self.fixed_batch = fixed_batch

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return run_in_fixed_batches(self._run, batch, self.fixed_batch)

    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=self.input_dtype)
        output = self.session.run([self.output_name], {self.input_name: array})[0]
        return torch.from_numpy(np.asarray(output, dtype=np.float32)).to(batch.device)


def load_onnx(path: Path, device: torch.device, spec: ModelSpec | None = None
              ) -> LoadedModel:
    """Load an ONNX model and its sidecar JSON. Raises ModelLoadError naming the file."""
    problem = onnx_problem(path)
    if problem:
        raise ModelLoadError(path, f"not a readable ONNX model ({problem}); {SUPPORTED_FORMATS}")
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError:
        raise ModelLoadError(path, f"an ONNX model needs ONNX Runtime: {INSTALL_HINT}") from None
    session, provider = _session(onnxruntime, path, device)
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelLoadError(path, f"the ONNX graph takes {len(inputs)} inputs "
                                   f"({', '.join(item.name for item in inputs)}); leakview "
                                   "feeds it one image batch")
    if inputs[0].type not in _INPUT_DTYPES:
        raise ModelLoadError(path, f"the ONNX graph takes {inputs[0].type} input; leakview "
                                   "feeds float images")
    shape = [dim if isinstance(dim, int) and dim > 0 else None for dim in inputs[0].shape]
    described = describe_graph_input(path, "ONNX model", shape, spec)
    graph_name = session.get_modelmeta().graph_name
    notes = [f"ONNX graph {graph_name!r} run by ONNX Runtime ({provider})",
             *_weight_count_note(path), *described.notes]
    loaded = LoadedModel(module=OnnxClassifier(session, described.fixed_batch),
                         classes=described.classes, input_size=described.input_size,
                         mean=described.mean, std=described.std, arch="onnx", device=device,
                         extra=described.extra, source=path, kind="onnx",
                         channels=described.channels,
                         unavailable={GRADIENTS: NO_GRADIENTS, HOOKS: NO_HOOKS}, notes=notes)
    check_output_width(path, loaded)
    return loaded


def _session(onnxruntime: Any, path: Path, device: torch.device) -> tuple[Any, str]:
    """An inference session on the CPU, or on CUDA when ``device`` is CUDA and this ONNX
    Runtime has the CUDA provider; and the provider's name."""
    providers: list[Any] = ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index or 0}))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not the user's business
    try:
        session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                               providers=providers)
    except Exception as error:  # ONNX Runtime raises its own types for bad graphs
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(path, f"unreadable ONNX model ({detail})") from None
    return session, session.get_providers()[0]


def _weight_count_note(path: Path) -> list[str]:
    """``["N weights in M initializers"]`` read with the onnx package when installed."""
    try:
        import onnx
    except ImportError:
        return []
    try:
        initializers = onnx.load(str(path), load_external_data=False).graph.initializer
    except Exception:  # already read by ONNX Runtime; a count is only a nicety
        return []
    weights = sum(math.prod(tensor.dims) for tensor in initializers)
    return [f"{weights:,} weights in {len(initializers)} initializers"]
