"""An opaque module (TorchScript, torch.export) swapped for the eager torchvision module its
weights are, so Grad-CAM's hooks fire, only when both give the same logits."""

from __future__ import annotations

import torch

from leakview.models.build import build_model
from leakview.models.loaded import HOOKS, LoadedModel
from leakview.models.state_dicts import clean_keys, fitting_architectures

# The bundle/describe key naming the torchvision architecture an opaque model was recognised as.
TWIN_ARCH = "torchvision_arch"


def rebuild_arch(model: LoadedModel) -> str:
    """The architecture name :func:`~leakview.models.build.build_model` rebuilds ``model``'s
    module from (what a bundle of it records): an opaque model's eager twin's torchvision
    name, else ``model.arch``."""
    return str(model.extra.get(TWIN_ARCH, model.arch))


def use_eager_twin(loaded: LoadedModel, source: str = "TorchScript") -> None:
    """Swap an opaque module (TorchScript, ...) for the torchvision module its state_dict
    fits, when both give the same logits on a seeded random probe; a note says which ran."""
    state_dict, _ = clean_keys({key: value for key, value in loaded.module.state_dict().items()
                                if isinstance(value, torch.Tensor)})
    fits = [fit for fit in fitting_architectures(state_dict)
            if fit.num_classes == loaded.num_classes and fit.channels == loaded.channels
            and fit.input_size in (None, loaded.input_size)]
    if len(fits) != 1:
        return
    arch = fits[0].arch
    try:
        twin = build_model(arch, loaded.num_classes, loaded.input_size, loaded.channels)
        twin.load_state_dict(state_dict, strict=True)
        twin.eval().to(loaded.device)
        probe = torch.randn((2, loaded.channels, *loaded.input_size),
                            generator=torch.Generator().manual_seed(0)).to(loaded.device)
        with torch.inference_mode():
            same = torch.allclose(twin(probe), loaded.module(probe), rtol=1e-5, atol=1e-5)
    except (RuntimeError, ValueError):
        return
    what = f"{source} weights recognised as torchvision {arch}"
    if not same:
        loaded.notes.append(f"{what}, but its outputs differ from {arch}'s: the {source} "
                            f"module runs as saved")
        return
    # ``arch`` keeps naming the source kind (``torchscript``); the twin's name is in extra.
    loaded.module = twin
    loaded.extra[TWIN_ARCH] = arch
    loaded.unavailable.pop(HOOKS, None)
    loaded.notes.append(f"{what}: Grad-CAM uses the equivalent eager module (outputs "
                        f"checked equal)")
