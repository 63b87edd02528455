"""Any loaded model -> a leakview bundle (``leakview convert``): one safe file that says
everything about the model, checked by loading it back.

A bundle is rebuilt from its architecture name and a state_dict, so a model is convertible
when the bundle loader can rebuild its architecture (torchvision, timm and Hugging Face models,
whatever file they came from), not an ONNX graph, nor a TorchScript or ``torch.export``
archive without a recognised architecture. Whatever the source, the bundle is loaded back and
must give the same logits before it is kept.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import torch

from leakview.models import load_model
from leakview.models.build import build_model
from leakview.models.bundle import REQUIRED_KEYS, save_bundle
from leakview.models.checks import ModelLoadError, is_plain_data
from leakview.models.loaded import LoadedModel
from leakview.models.twin import TWIN_ARCH, rebuild_arch

#: Sources that run a compiled graph: their ``arch`` may name no rebuildable architecture.
_COMPILED = frozenset({"torchscript", "torch.export"})
#: save_bundle's own parameters: extras of these names cannot be passed through.
_BUNDLE_PARAMETERS = frozenset({"path", "module", *REQUIRED_KEYS})
#: How closely the bundle's logits must match the source's on the probe.
RTOL = 1e-4
ATOL = 1e-5
PROBE_SEED = 0
PROBE_BATCH = 2


def bundle_extras(model: LoadedModel) -> dict[str, Any]:
    """The optional bundle keys for ``model``: its plain-data extras (``gradcam_layer``,
    ``trained_on``, ``hf_config``, ...; others are dropped) and ``converted_from`` (the source
    form and file name)."""
    extras = {key: value for key, value in model.extra.items()
              if key not in _BUNDLE_PARAMETERS and key != TWIN_ARCH and is_plain_data(value)}
    extras["converted_from"] = {"kind": model.kind,
                                "file": model.source.name if model.source else None}
    return extras


def _refusal(model: LoadedModel) -> str | None:
    """Why ``model`` cannot become a bundle, before anything is written (None: it can)."""
    if model.kind == "onnx":
        return ("an ONNX graph holds no PyTorch module to rebuild: convert the PyTorch "
                "state_dict or checkpoint it was exported from instead (with --arch and "
                "--classes where it does not name them)")
    if model.kind in _COMPILED:
        try:
            build_model(rebuild_arch(model), model.num_classes, model.input_size,
                        model.channels)
        except (ValueError, TypeError):
            return (f"a {model.kind} archive is compiled code without a recognised "
                    f"architecture (arch {model.arch!r}): convert the state_dict or checkpoint "
                    f"it was made from instead (leakview convert WEIGHTS --arch NAME "
                    f"--classes a,b,c)")
    return None


def probe_logits(model: LoadedModel) -> torch.Tensor:
    """Logits of ``model`` on a seeded random batch in its input space (on the CPU)."""
    generator = torch.Generator().manual_seed(PROBE_SEED)
    batch = torch.randn((PROBE_BATCH, model.channels, *model.input_size), generator=generator)
    with torch.inference_mode():
        return model.logits(batch.to(model.device)).float().cpu()


def to_bundle(model: LoadedModel, path: str | os.PathLike[str], *,
              overwrite: bool = False) -> Path:
    """Write ``model`` as a leakview bundle at ``path`` and return the path.

    Keeps the classes, input size, normalisation (1 or 3 channels), ``gradcam_layer`` and
    the plain-data extras (:func:`bundle_extras`). The bundle is written next to ``path``,
    loaded back and its logits compared with ``model``'s on a seeded probe (allclose, rtol
    :data:`RTOL`); only then does it take ``path``'s place. Raises ModelLoadError (naming the
    source, or ``path``) when the model cannot be rebuilt, when ``path`` exists and
    ``overwrite`` is false, or when the bundle does not reproduce the model; nothing is left
    behind then.
    """
    path = Path(path)
    source = model.source or path
    reason = _refusal(model)
    if reason:
        raise ModelLoadError(source, f"cannot convert to a bundle: {reason}")
    if path.exists() and not overwrite:
        raise ModelLoadError(path, "already exists (pass --force to replace it)")
    if path.is_dir():
        raise ModelLoadError(path, "is a folder")
    # A sibling, so the final rename stays on one file system; a name no user file has.
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.converting")
    try:
        save_bundle(staged, model.module, rebuild_arch(model), model.classes, model.input_size,
                    model.mean, model.std, **bundle_extras(model))
        try:
            written = load_model(staged, device=model.device)
        except ModelLoadError as error:
            raise ModelLoadError(source, f"cannot convert to a bundle: the written bundle "
                                         f"does not load back ({error.reason})") from None
        _check_same_logits(source, model, written)
        if path.exists() and not overwrite:
            raise ModelLoadError(path, "already exists (pass --force to replace it)")
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return path


def _check_same_logits(source: Path, model: LoadedModel, written: LoadedModel) -> None:
    expected, actual = probe_logits(model), probe_logits(written)
    if expected.shape != actual.shape or not torch.allclose(
            actual, expected, rtol=RTOL, atol=ATOL * max(1.0, float(expected.abs().max()))):
        difference = ((actual - expected).abs().max().item()
                      if expected.shape == actual.shape else float("nan"))
        raise ModelLoadError(source, f"cannot convert to a bundle: the bundle's logits differ "
                                     f"from the model's on a probe input (largest difference "
                                     f"{difference:.3g}); nothing written")
