"""Attribution API, registry, and the gradient methods (saliency, SmoothGrad, IG)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from leakview.attribution import (
    METHODS,
    Attribution,
    Cancelled,
    OptionSpec,
    explain,
    method_names,
    resolve_options,
    saliency_batch,
)
from leakview.models import LoadedModel, build_architecture


class TinyNet(nn.Module):
    """A smooth little CNN (tanh, so finite differences behave), any input size."""

    def __init__(self, classes: int = 3, batchnorm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4) if batchnorm else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(4 * 16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.tanh(self.norm(self.conv(x)))
        return self.fc(torch.tanh(self.pool(features * x.mean(dim=1, keepdim=True))).flatten(1))


def tiny_model(size: int = 8, dtype: torch.dtype = torch.float32, batchnorm: bool = False
               ) -> LoadedModel:
    module = TinyNet(batchnorm=batchnorm).to(dtype)
    if batchnorm:  # non-trivial running statistics
        module.norm.running_mean.uniform_(-0.5, 0.5)
        module.norm.running_var.uniform_(0.5, 2.0)
    return LoadedModel(module=module.eval(), classes=["a", "b", "c"], input_size=(size, size),
                       mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def small_torchvision() -> LoadedModel:
    torch.manual_seed(0)
    module = build_architecture("resnet18", 3, (64, 64)).eval()
    return LoadedModel(module=module, classes=["x", "y", "z"], input_size=(64, 64))


def _grads_untouched(model: LoadedModel) -> bool:
    return all(parameter.grad is None for parameter in model.module.parameters())


FAST_OPTIONS = {
    "saliency": {},
    "smoothgrad": {"samples": 4, "batch_size": 2},
    "integrated_gradients": {"steps": 6, "batch_size": 4},
    "gradcam": {},
    "lime": {"samples": 40, "batch_size": 20, "superpixels": 12},
}


# ------------------------------------------------------------------------- registry & API


def test_registry_order_and_self_description() -> None:
    assert method_names() == ["saliency", "smoothgrad", "integrated_gradients", "gradcam", "lime"]
    assert set(FAST_OPTIONS) == set(METHODS)
    for name, info in METHODS.items():
        assert info.name == name and info.label and info.description and callable(info.function)
        assert isinstance(info.signed, bool)
        for spec in info.options:
            assert isinstance(spec, OptionSpec)
            assert spec.kind in ("int", "float", "choice", "bool", "str")
            assert spec.help
            assert spec.validate(spec.default, name) == spec.default
            if spec.kind == "choice":
                assert spec.choices and spec.default in spec.choices
    assert METHODS["integrated_gradients"].signed and METHODS["lime"].signed
    assert not METHODS["saliency"].signed and not METHODS["gradcam"].signed


@pytest.mark.parametrize("method", list(FAST_OPTIONS))
def test_every_method_through_explain(small_torchvision: LoadedModel, method: str) -> None:
    model = small_torchvision
    image = random_image(45, 70)
    calls: list[tuple[int, int, Attribution | None]] = []
    result = explain(model, image, method, target=2, progress=lambda *a: calls.append(a),
                     **FAST_OPTIONS[method])
    assert isinstance(result, Attribution)
    assert result.method == method and result.target == 2 and result.target_name == "z"
    assert result.map.shape == (45, 70) and result.map.dtype == np.float32
    assert result.map_model.shape == (64, 64) and result.map_model.dtype == np.float32
    assert np.isfinite(result.map).all() and np.isfinite(result.map_model).all()
    assert result.signed == METHODS[method].signed
    if not result.signed:
        assert result.map_model.min() >= 0
    assert set(result.options) == {spec.name for spec in METHODS[method].options}
    assert result.probabilities is not None and result.probabilities.shape == (3,)
    assert calls and calls[-1][0] == calls[-1][1] and calls[-1][2] is not None
    assert _grads_untouched(model)
    assert not any(module.training for module in model.module.modules())
    # the default target is the predicted class
    default = explain(model, image, method, **FAST_OPTIONS[method])
    assert default.target == int(model.predict([image])[0].argmax())


def test_options_validated(small_torchvision: LoadedModel) -> None:
    image = random_image(20, 20)
    with pytest.raises(ValueError, match="valid methods: saliency, smoothgrad"):
        explain(small_torchvision, image, "occlusion")
    with pytest.raises(ValueError, match="valid options: noise, samples, batch_size, seed"):
        explain(small_torchvision, image, "smoothgrad", nosie=0.2)
    with pytest.raises(ValueError, match="valid options: none"):
        explain(small_torchvision, image, "saliency", samples=3)
    with pytest.raises(ValueError, match="'samples'.*>= 1"):
        explain(small_torchvision, image, "smoothgrad", samples=0)
    with pytest.raises(ValueError, match="black, blurred"):
        explain(small_torchvision, image, "integrated_gradients", baseline="white")
    with pytest.raises(ValueError, match="'noise'"):
        explain(small_torchvision, image, "smoothgrad", noise="lots")
    with pytest.raises(ValueError, match="out of range"):
        explain(small_torchvision, image, "saliency", target=3)
    with pytest.raises(ValueError, match="class index"):
        explain(small_torchvision, image, "saliency", target=True)
    with pytest.raises(ValueError, match="RGB uint8"):
        explain(small_torchvision, image.astype(np.float32), "saliency")
    # command-line strings are coerced
    effective = resolve_options("lime", {"samples": "200", "early_stop": "true", "seed": 3.0})
    assert effective["samples"] == 200 and effective["early_stop"] is True
    assert effective["seed"] == 3 and effective["superpixels"] == 50


def test_attribution_imports_no_qt() -> None:
    code = ("import sys, leakview.attribution; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------------- saliency


def test_saliency_matches_finite_differences() -> None:
    torch.manual_seed(1)
    model = tiny_model(8, torch.float64)
    image = random_image(8, 8, seed=3)
    result = explain(model, image, "saliency", target=1)
    x = model.preprocess(image).to(torch.float64)
    eps = 1e-6
    expected = np.zeros((3, 8, 8))
    with torch.no_grad():
        for c in range(3):
            for i in range(8):
                for j in range(8):
                    plus, minus = x.clone(), x.clone()
                    plus[c, i, j] += eps
                    minus[c, i, j] -= eps
                    pair = model.module(torch.stack([plus, minus]))[:, 1]
                    expected[c, i, j] = float(pair[0] - pair[1]) / (2 * eps)
    np.testing.assert_allclose(result.map_model, np.abs(expected).max(axis=0), rtol=1e-4,
                               atol=1e-7)
    assert result.map.shape == (8, 8)
    assert _grads_untouched(model)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_saliency_batch_equals_single(batchnorm: bool) -> None:
    model = tiny_model(16, batchnorm=batchnorm)
    images = [random_image(20, 30, 1), random_image(16, 16, 2), random_image(40, 12, 3)]
    batch = saliency_batch(model, images)
    targets = [None, 0, 2]
    mixed = saliency_batch(model, images, targets)
    for index, image in enumerate(images):
        single = explain(model, image, "saliency")
        assert batch[index].target == single.target
        assert batch[index].map.shape == image.shape[:2]
        np.testing.assert_allclose(batch[index].map_model, single.map_model, rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(batch[index].map, single.map, rtol=1e-4, atol=1e-6)
        wanted = single.target if targets[index] is None else targets[index]
        fixed = explain(model, image, "saliency", target=wanted)
        assert mixed[index].target == wanted
        np.testing.assert_allclose(mixed[index].map_model, fixed.map_model, rtol=1e-4,
                                   atol=1e-6)
    assert saliency_batch(model, []) == []
    with pytest.raises(ValueError):
        saliency_batch(model, images, [0])
    assert _grads_untouched(model)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_gradients_work_inside_inference_mode_and_with_torchscript() -> None:
    model = tiny_model(16)
    image = random_image(16, 16)
    reference = explain(model, image, "saliency")
    with torch.inference_mode():
        inside = explain(model, image, "saliency")
    np.testing.assert_array_equal(inside.map_model, reference.map_model)
    scripted = LoadedModel(module=torch.jit.script(model.module), classes=model.classes,
                           input_size=(16, 16), mean=model.mean, std=model.std)
    np.testing.assert_allclose(explain(scripted, image, "saliency").map_model,
                               reference.map_model, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- smoothgrad


def test_smoothgrad_deterministic_and_reduces_to_saliency() -> None:
    model = tiny_model(16)
    image = random_image(24, 18)
    first = explain(model, image, "smoothgrad", samples=6, batch_size=4, seed=5)
    again = explain(model, image, "smoothgrad", samples=6, batch_size=4, seed=5)
    other = explain(model, image, "smoothgrad", samples=6, batch_size=4, seed=6)
    np.testing.assert_array_equal(first.map, again.map)
    assert not np.array_equal(first.map_model, other.map_model)
    assert first.options == {"noise": 0.15, "samples": 6, "batch_size": 4, "seed": 5}
    noiseless = explain(model, image, "smoothgrad", noise=0.0, samples=3, target=first.target)
    plain = explain(model, image, "saliency", target=first.target)
    np.testing.assert_allclose(noiseless.map_model, plain.map_model, rtol=1e-5, atol=1e-7)


# -------------------------------------------------------------------- integrated gradients


@pytest.mark.parametrize("baseline", ["black", "blurred"])
@pytest.mark.parametrize("rule", ["trapezoid", "midpoint"])
def test_integrated_gradients_completeness(baseline: str, rule: str) -> None:
    torch.manual_seed(2)
    model = tiny_model(12, torch.float64)
    image = random_image(12, 12, seed=4)
    result = explain(model, image, "integrated_gradients", target=0, baseline=baseline,
                     rule=rule, steps=64, batch_size=20, sigma=2.0)
    extras = result.extras
    assert abs(extras["delta"]) > 1e-3  # a meaningful difference to explain
    assert extras["completeness_relative"] < 0.02
    assert extras["attribution_sum"] == pytest.approx(float(result.map_model.sum()), rel=1e-4)
    # the reported f(x) - f(x') is the model's own
    x = model.preprocess(image).to(torch.float64)[None]
    with torch.no_grad():
        assert extras["logit_input"] == pytest.approx(float(model.module(x)[0, 0]))
    assert result.signed


def test_integrated_gradients_progress_and_cancel() -> None:
    model = tiny_model(12)
    image = random_image(12, 12)
    calls: list[tuple[int, int, Attribution | None]] = []
    explain(model, image, "integrated_gradients", steps=10, batch_size=4,
            progress=lambda *a: calls.append(a))
    assert [(done, total) for done, total, _ in calls] == [(4, 11), (8, 11), (11, 11)]
    assert [p is None for _, _, p in calls] == [True, True, False]
    seen: list[int] = []
    with pytest.raises(Cancelled):
        explain(model, image, "integrated_gradients", steps=10, batch_size=4,
                progress=lambda done, total, p: seen.append(done),
                should_stop=lambda: bool(seen))
    assert seen == [4]
    with pytest.raises(Cancelled):
        explain(model, image, "saliency", should_stop=lambda: True)
    assert _grads_untouched(model)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_methods_on_cuda() -> None:
    model = tiny_model(16).to("cuda")
    image = random_image(20, 24)
    for method, options in FAST_OPTIONS.items():
        result = explain(model, image, method, **options)
        assert result.map.shape == (20, 24) and result.map_model.shape == (16, 16)
    cpu = tiny_model(16)
    cpu.module.load_state_dict({k: v.cpu() for k, v in model.module.state_dict().items()})
    np.testing.assert_allclose(explain(model, image, "saliency").map_model,
                               explain(cpu, image, "saliency").map_model, rtol=1e-3, atol=1e-5)
