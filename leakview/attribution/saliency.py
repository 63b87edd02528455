"""Gradient saliency (Simonyan et al. 2013) and SmoothGrad (Smilkov et al. 2017).

Both differentiate the target class's LOGIT with respect to the preprocessed input, through a
fresh leaf tensor and ``torch.autograd.grad``, so the module's parameter ``.grad`` fields are
never touched. The saliency map is ``max_c |d y_t / d x_c|`` at model resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from leakview.attribution.core import (
    Attribution,
    Reporter,
    check_image,
    check_target,
    make_attribution,
    module_dtype,
    prepare_input,
    softmax_numpy,
)
from leakview.models import LoadedModel


def grad_context() -> AbstractContextManager[None]:
    """Gradients on, even when the caller sits inside ``no_grad``/``inference_mode``."""
    return _Both(torch.inference_mode(False), torch.enable_grad())


class _Both:
    def __init__(self, *contexts: Any) -> None:
        self._contexts = contexts

    def __enter__(self) -> None:
        for context in self._contexts:
            context.__enter__()

    def __exit__(self, *exc: Any) -> None:
        for context in reversed(self._contexts):
            context.__exit__(*exc)


def _image_size(image: np.ndarray) -> tuple[int, int]:
    return int(image.shape[0]), int(image.shape[1])


def input_gradient(model: LoadedModel, inputs: torch.Tensor, target: int | Sequence[int] | None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(gradient, logits, targets)`` of the target logits w.r.t. a preprocessed batch.

    One forward and one backward: the gradient of ``sum_i y_{t_i}(x_i)`` w.r.t. the batch,
    which equals each sample's own gradient because samples do not interact in eval mode
    (BatchNorm uses its running statistics then). ``target`` None means each sample's argmax.
    """
    with grad_context():
        leaf = inputs.detach()
        if leaf.is_inference():  # made under inference_mode: autograd needs a normal tensor
            leaf = leaf.clone()
        leaf.requires_grad_(True)
        logits = model.module(leaf)
        if target is None:
            targets = logits.detach().argmax(dim=1)
        elif isinstance(target, (int, np.integer)):
            targets = torch.full((leaf.shape[0],), int(target), dtype=torch.long,
                                 device=logits.device)
        else:
            targets = torch.as_tensor(list(target), dtype=torch.long, device=logits.device)
        chosen = logits.gather(1, targets.view(-1, 1)).sum()
        (gradient,) = torch.autograd.grad(chosen, leaf)
    return gradient.detach(), logits.detach(), targets


def saliency(model: LoadedModel, image: np.ndarray, target: int | None, reporter: Reporter,
             **options: Any) -> Attribution:
    """Simonyan saliency ``max_c |d y_t / d x_c|``; unsigned. ``extras``: none."""
    inputs = prepare_input(model, image)
    reporter.check()
    gradient, logits, targets = input_gradient(model, inputs, target)
    result = make_attribution(model, _image_size(image), "saliency", int(targets[0]),
                              gradient[0].abs().amax(dim=0), signed=False, options=options,
                              probabilities=softmax_numpy(logits)[0])
    reporter.report(1, 1, result)
    return result


def saliency_batch(model: LoadedModel, images: Sequence[np.ndarray],
                   targets: Sequence[int | None] | None = None) -> list[Attribution]:
    """Saliency for several images (of any sizes) in ONE forward and ONE backward pass.

    ``targets`` (one per image, None entries = predicted class) defaults to the predicted
    classes. Each map comes back at its own image's resolution. Valid because samples are
    independent in eval mode (BatchNorm in eval mode uses running statistics; a module in
    training mode would couple the samples).
    """
    images = [check_image(image) for image in images]
    if not images:
        return []
    checked: list[int | None] | None = None
    if targets is not None:
        wanted = list(targets)
        if len(wanted) != len(images):
            raise ValueError(f"{len(wanted)} targets for {len(images)} images")
        checked = [check_target(model, target) for target in wanted]
    inputs = model.preprocess_batch(images).to(dtype=module_dtype(model)).detach()
    resolved: list[int] | None = None
    if checked is not None:
        predicted: list[int] = []
        if any(target is None for target in checked):
            with torch.inference_mode():
                predicted = model.module(inputs).argmax(dim=1).tolist()
        resolved = [predicted[i] if target is None else target
                    for i, target in enumerate(checked)]
    gradient, logits, chosen = input_gradient(model, inputs, resolved)
    maps = gradient.abs().amax(dim=1)
    probabilities = softmax_numpy(logits)
    return [make_attribution(model, _image_size(image), "saliency", int(chosen[i]), maps[i],
                             signed=False, options={}, probabilities=probabilities[i])
            for i, image in enumerate(images)]


def smoothgrad(model: LoadedModel, image: np.ndarray, target: int | None, reporter: Reporter,
               *, noise: float, samples: int, batch_size: int, seed: int) -> Attribution:
    """SmoothGrad: the mean of the saliency maps of ``samples`` noisy copies of the input.

    The noise is Gaussian in preprocessed space with standard deviation
    ``noise * (x.max() - x.min())`` (Smilkov et al.'s sigma as a fraction of the input range),
    drawn from a CPU generator seeded with ``seed`` batch by batch, so the result is
    deterministic for the same options on any device. Unsigned. ``extras``: ``sigma``.
    """
    options = dict(noise=noise, samples=samples, batch_size=batch_size, seed=seed)
    inputs = prepare_input(model, image)
    reporter.check()
    with torch.inference_mode():
        clean_logits = model.module(inputs)
    chosen = int(clean_logits.argmax(dim=1)[0]) if target is None else int(target)
    sigma = float(noise) * float(inputs.max() - inputs.min())
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    total = torch.zeros(inputs.shape[-2:], dtype=torch.float64, device=inputs.device)
    done = 0
    result: Attribution | None = None
    while done < samples:
        reporter.check()
        count = min(batch_size, samples - done)
        draw = torch.randn((count, *inputs.shape[1:]), generator=generator, dtype=torch.float32)
        noisy = inputs + sigma * draw.to(device=inputs.device, dtype=inputs.dtype)
        gradient, _, _ = input_gradient(model, noisy, chosen)
        total += gradient.abs().amax(dim=1).sum(dim=0).to(torch.float64)
        done += count
        if done >= samples:
            result = make_attribution(model, _image_size(image), "smoothgrad", chosen,
                                      total / samples, signed=False, options=options,
                                      extras={"sigma": sigma},
                                      probabilities=softmax_numpy(clean_logits)[0])
        reporter.report(done, samples, result)
    assert result is not None
    return result
