"""``leakview info MODEL``: what a model file is, and which attribution methods can run on it.

Starts as fast as loading the model allows: it imports the model adapters and the method
registry, nothing else (no figures, no LIME fitting, no other command's parser)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from leakview.commands import argtypes

if TYPE_CHECKING:
    from leakview.models import LoadedModel

#: Class names listed before "... (N more)".
SHOWN_CLASSES = 8


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "info", help="describe a model file (architecture, classes, input size, methods)",
        description="Load MODEL safely (no pickled code runs) and print what it is: the form "
                    "it was saved in, architecture, classes, input size and channels, "
                    "normalisation, device, parameter count, how it was read, and which "
                    "attribution methods can run on it (or why not).")
    parser.add_argument("model", help="model file (bundle, state_dict, checkpoint, "
                                      "safetensors, TorchScript, ONNX, .pt2) or Hugging Face "
                                      "folder")
    parser.add_argument("--device", type=argtypes.device,
                        help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--json", action="store_true",
                        help="print the description as JSON")
    argtypes.add_model_spec_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = argtypes.load_described_model(args, args.device)
    description = model_description(model)
    if args.json:
        print(json.dumps(description, indent=2, default=str))
    else:
        print(format_description(description))
    return 0


def model_description(model: LoadedModel) -> dict[str, Any]:
    """:func:`leakview.models.describe` plus ``methods``: each registered method ->
    ``{"available": true}`` or ``{"available": false, "reason": ...}``; an available
    Grad-CAM also gives the layer it uses (``gradcam_layer_info``), or ``layer_error``."""
    from leakview.attribution import available_methods
    from leakview.attribution.gradcam import gradcam_layer_info
    from leakview.models import describe

    methods: dict[str, dict[str, Any]] = {
        name: {"available": True} if reason is None else {"available": False, "reason": reason}
        for name, reason in available_methods(model).items()}
    if methods.get("gradcam", {}).get("available"):
        try:
            methods["gradcam"].update(gradcam_layer_info(model))
        except ValueError as error:
            methods["gradcam"]["layer_error"] = str(error)
    return {**describe(model), "methods": methods}


def _numbers(values: Any) -> str:
    return ", ".join(f"{float(value):g}" for value in values)


def _classes(classes: list[str]) -> str:
    shown = ", ".join(classes[:SHOWN_CLASSES])
    more = len(classes) - SHOWN_CLASSES
    return f"{len(classes)}: {shown}" + (f", ... ({more} more)" if more > 0 else "")


_LISTED = frozenset({"source", "kind", "arch", "classes", "input_size", "channels", "mean",
                     "std", "parameters", "device", "notes", "methods", "gradcam_layer"})


def format_description(description: dict[str, Any]) -> str:
    """The human-readable ``leakview info``: one fact a line, then the notes and the methods."""
    height, width = description["input_size"]
    channels = description["channels"]
    rows = [
        ("model", description["source"]),
        ("source", description["kind"]),
        ("architecture", description["arch"]),
        ("classes", _classes(description["classes"])),
        ("input size", f"{height} x {width} (H x W)"),
        ("channels", f"{channels} ({'RGB' if channels == 3 else 'gray'})"),
        ("normalisation", f"mean {_numbers(description['mean'])}; "
                          f"std {_numbers(description['std'])}"),
        ("device", description["device"]),
        ("parameters", f"{description['parameters']:,}"),
    ]
    if description.get("gradcam_layer"):
        rows.append(("Grad-CAM layer", description["gradcam_layer"]))
    others = sorted(key for key in description if key not in _LISTED)
    if others:
        rows.append(("other keys", ", ".join(others)))
    wide = max(len(name) for name, _ in rows)
    lines = [f"{name:<{wide}}  {value}" for name, value in rows]
    if description["notes"]:
        lines.append("notes")
        lines.extend(f"  - {note}" for note in description["notes"])
    lines.append("methods")
    methods = description["methods"]
    wide = max(len(name) for name in methods)
    for name, state in methods.items():
        lines.append(f"  {name:<{wide}}  "
                     + ("available" if state["available"] else f"unavailable: {state['reason']}")
                     + _layer_text(state))
    return "\n".join(lines)


def _cells(grid: Any) -> str:
    return f"{grid[0]} x {grid[1]}"


def _layer_text(state: dict[str, Any]) -> str:
    """`` (layer stage2, 12 x 16 cells; ...)`` for Grad-CAM, empty for the other methods."""
    from leakview.attribution.gradcam_layers import MIN_GRID

    if state.get("layer_error"):
        return f" (no layer: {state['layer_error']})"
    if not state.get("layer"):
        return ""
    source = {"bundle": "the bundle's", "auto": "detected"}.get(state["layer_source"], "")
    text = f" ({source} layer {state['layer']}"
    if state.get("feature_size"):
        text += f", {_cells(state['feature_size'])} cells"
    if state.get("last_layer"):
        text += (f"; the last feature map, {state['last_layer']}, is "
                 f"{_cells(state['last_feature_size'])}: coarser than {MIN_GRID} x {MIN_GRID}")
    return text + ")"
