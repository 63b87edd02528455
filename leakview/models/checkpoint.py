"""Reading a ``torch.save`` file without running pickled code (``weights_only=True``), with a
message that says why a file was refused."""

from __future__ import annotations

import argparse
import json
import pickle
import pickletools
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from leakview.models.checks import ModelLoadError

# Every model form load_model accepts, for messages about a file that is none of them.
SUPPORTED_FORMATS = ("leakview reads a leakview bundle (.pt), a state_dict or training checkpoint "
                     "(.pt/.pth), .safetensors, TorchScript (.pt + sidecar JSON), torch.export "
                     "(.pt2), ONNX (.onnx) or a Hugging Face save_pretrained folder")


def holds_pickle_data(path: Path) -> bool:
    """Whether the file starts like pickle data (protocol 2+) or is a zip (torch's format)."""
    try:
        with path.open("rb") as stream:
            if stream.read(1) == pickle.PROTO:
                return True
        import zipfile

        return zipfile.is_zipfile(path)
    except OSError:
        return False


_GLOBAL_NAME = re.compile(r"GLOBAL\s+([\w.]+)")
_OPCODE = re.compile(r"Unsupported operand\s+(\d+)")


def refusal_reason(torch_line: str) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file (``torch_line``: torch's error
    text), in leakview's words, to follow "the file ...": the Python object or the pickle
    instruction refused, without torch's advice on how to load the file anyway (allow-listing
    globals, ``weights_only=False``), which leakview never does."""
    name = _GLOBAL_NAME.search(torch_line)
    if name:
        return (f"holds a Python object ({name.group(1)}) that only full pickle "
                f"could rebuild, by importing and running code")
    opcode = _OPCODE.search(torch_line)
    if opcode:
        code = int(opcode.group(1))
        known = {ord(op.code): op.name for op in pickletools.opcodes if len(op.code) == 1}
        instruction = known.get(code, f"opcode {code}")
        return (f"uses a pickle instruction ({instruction}) that weights-only loading does "
                f"not run, as files written by plain pickle.dump do")
    return "needs full pickle to load, which weights-only loading does not allow"


def read_checkpoint(path: Path) -> Any:
    """The object in a ``torch.save`` file, read with ``weights_only=True`` on the CPU.

    Training scripts (timm's train.py, torchvision's references) save their ``args`` as an
    ``argparse.Namespace``: allowed (it only holds attributes) and returned as a plain dict."""
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals([argparse.Namespace]):
            warnings.simplefilter("ignore")
            content = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(content, dict) and any(isinstance(value, argparse.Namespace)
                                             for value in content.values()):
            content = {key: vars(value) if isinstance(value, argparse.Namespace) else value
                       for key, value in content.items()}
        return content
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # weights_only names what it refused: a GLOBAL (a Python object to import) or, in real
        # pickle data (protocol 2+ header or a torch zip), an opcode it does not run (protocol
        # 4+ uses FRAME: any plain pickle.dump). Random bytes also fail on an opcode.
        refused = [line for line in lines if "GLOBAL" in line
                   or (line.startswith("Unsupported") and holds_pickle_data(path))]
        if not refused:
            detail = lines[0] if lines and len(lines[0]) < 120 else ""
            raise ModelLoadError(path, f"not a PyTorch checkpoint (unreadable pickle data"
                                       f"{': ' + detail if detail else ''}); "
                                       f"{SUPPORTED_FORMATS}") from None
        # Everything weights_only refuses arrives here, checkpoints crafted to run code included.
        raise ModelLoadError(
            path,
            f"refused: the file {refusal_reason(refused[0])}, and leakview never runs pickled "
            "code, which could execute anything. Re-save the model as a leakview bundle "
            "(leakview.models.save_bundle) or as .safetensors from a trusted environment.",
        ) from None
    except PermissionError:
        raise ModelLoadError(path, "permission denied") from None
    except Exception as error:  # torch.load raises many types on arbitrary bytes
        detail = str(error).split("\n")[0] or type(error).__name__
        raise ModelLoadError(path, f"not a PyTorch checkpoint ({detail}); "
                                   f"{SUPPORTED_FORMATS}") from None


_MAX_HEADER = 100_000_000  # bytes; safetensors itself refuses larger headers


def safetensors_header(path: Path) -> dict[str, Any] | None:
    """The JSON header of a safetensors file (8-byte little-endian length, then that many
    bytes of JSON), or None when the file does not start like one."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            length = int.from_bytes(stream.read(8), "little")
            if not 2 <= length <= min(size - 8, _MAX_HEADER):
                return None
            text = stream.read(length)
    except OSError:
        return None
    if not text.lstrip().startswith(b"{"):
        return None
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return header if isinstance(header, dict) else None


def is_safetensors(path: Path) -> bool:
    """Whether the file's content is safetensors (whatever its name)."""
    return safetensors_header(path) is not None
