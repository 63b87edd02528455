"""Checks shared by the model-source tests: logits of a loaded model against the original
module, saliency against Captum's, and each attribution method running on the model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from leakview.attribution import explain
from leakview.models import LoadedModel


def images(count: int = 2, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(40 + 7 * i, 36, 3), dtype=np.uint8) for i in range(count)]


def assert_same_logits(loaded: LoadedModel, original: torch.nn.Module) -> None:
    """The loaded module gives the original's logits on the loaded model's own input."""
    batch = loaded.preprocess_batch(images(3))
    with torch.inference_mode():
        expected = original.eval()(batch)
        expected = getattr(expected, "logits", expected)
        got = loaded.module(batch)
    assert got.shape == (3, loaded.num_classes)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def assert_saliency_matches_captum(loaded: LoadedModel) -> None:
    """leakview's saliency map = max over channels of Captum's |d logit / d input|."""
    from captum.attr import Saliency

    image = images(1)[0]
    result = explain(loaded, image, "saliency", target=1)
    batch = loaded.preprocess(image)[None].clone().requires_grad_(True)
    reference = Saliency(loaded.module).attribute(batch, target=1, abs=True)
    expected = reference[0].abs().amax(dim=0).detach().cpu().numpy()
    scale = float(np.abs(expected).max())
    assert scale > 0
    assert np.abs(result.map_model - expected).max() <= 1e-4 * scale


def run_methods(loaded: LoadedModel, methods: tuple[str, ...]) -> None:
    """Each method gives finite maps of the image's size, not constant for every class (the
    Grad-CAM of a random tiny model may be all zero for one class: its ReLU cuts all)."""
    image = images(1, seed=3)[0]
    for method in methods:
        options = {"samples": 24, "superpixels": 8, "batch_size": 24} if method == "lime" else {}
        spreads = []
        for target in range(loaded.num_classes if method == "gradcam" else 1):
            result = explain(loaded, image, method, target=target, **options)
            assert result.map.shape == image.shape[:2], method
            assert np.isfinite(result.map).all(), method
            spreads.append(float(np.ptp(result.map)))
        assert max(spreads) > 0, method


def load_errors_without(package: str, path: Path, specs: tuple[str, ...] = ("None",)
                        ) -> list[str]:
    """The ModelLoadError lines of ``load_model(path, spec=SPEC)`` for each spec (Python
    source) in a fresh Python where importing ``package`` fails for real."""
    code = (f"import sys; sys.modules[{package!r}] = None\n"
            "from leakview.models import ModelLoadError, ModelSpec, load_model\n"
            f"for spec in ({', '.join(specs)},):\n"
            "    try:\n"
            f"        load_model({str(path)!r}, device='cpu', spec=spec)\n"
            "    except ModelLoadError as error:\n"
            "        print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=path.parent, text=True,
                            capture_output=True, timeout=300,
                            env={**os.environ,
                                 "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def opaque_cnn(num_classes: int, seed: int = 0) -> torch.nn.Module:
    """A tiny CNN that is no torchvision architecture, so a TorchScript trace of it has no
    eager twin and Grad-CAM stays unavailable on it."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3),
        torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(8, num_classes)).eval()
