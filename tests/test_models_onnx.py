"""ONNX models: a tiny torchvision resnet18 exported with torch.onnx, run by ONNX Runtime behind
the LoadedModel interface; LIME runs, the gradient methods are refused before a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torchvision

from leakview.attribution.registry import available_methods, explain, unavailable_reason
from leakview.models import (
    GRADIENTS,
    HOOKS,
    LoadedModel,
    ModelLoadError,
    ModelSpec,
    ModelSpecNeeded,
    describe,
    load_model,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning",
    "ignore:The feature will be removed:DeprecationWarning")

CLASSES = ["wheat", "corn", "empty"]
SIZE = (32, 32)


def _resnet(channels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    module = torchvision.models.resnet18(num_classes=len(CLASSES))
    if channels != 3:
        module.conv1 = torch.nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    # random running statistics, so BatchNorm is not the identity in the exported graph
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 1.5)
    return module.eval()


def _export(module: torch.nn.Module, path: Path, channels: int = 3, batch: int | None = None,
            sidecar: dict | None = None) -> Path:
    """torch.onnx.export (the TorchScript-based exporter: much faster than dynamo here);
    ``batch`` None = a dynamic batch dimension."""
    example = torch.zeros((batch or 2, channels, *SIZE))
    torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["image"],
                      output_names=["logits"],
                      dynamic_axes=None if batch else {"image": {0: "n"}, "logits": {0: "n"}})
    if sidecar is not None:
        path.with_name(path.name + ".json").write_text(json.dumps(sidecar))
    return path


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    return _resnet()


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory: pytest.TempPathFactory, resnet: torch.nn.Module) -> Path:
    return _export(resnet, tmp_path_factory.mktemp("onnx") / "model.onnx",
                   sidecar={"classes": CLASSES})


def _images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, size=(40 + 3 * i, 36, 3), dtype=np.uint8) for i in range(count)]


def _torch_model(module: torch.nn.Module, channels: int = 3, mean: tuple[float, ...] = (),
                 std: tuple[float, ...] = ()) -> LoadedModel:
    extra = {"mean": mean, "std": std} if mean else {}
    return LoadedModel(module=module, classes=CLASSES, input_size=SIZE, arch="resnet18",
                       channels=channels, **extra)


def test_onnx_predictions_equal_the_torch_module(onnx_path: Path, resnet: torch.nn.Module
                                                 ) -> None:
    model = load_model(onnx_path, device="cpu")
    assert (model.kind, model.arch, model.classes, model.input_size, model.channels) == \
        ("onnx", "onnx", CLASSES, SIZE, 3)
    images = _images(5)
    expected = _torch_model(resnet).predict(images)
    np.testing.assert_allclose(model.predict(images, batch_size=2), expected, atol=1e-4)
    batch = _torch_model(resnet).preprocess_batch(images)
    with torch.inference_mode():
        np.testing.assert_allclose(model.module(batch).numpy(), resnet(batch).numpy(),
                                   atol=1e-4)
    info = describe(model)
    assert info["kind"] == "onnx" and info["input_size"] == [32, 32]
    assert any("initializers" in note for note in info["notes"])
    assert any("read from the graph" in note for note in info["notes"])
    model.to("cpu")  # no parameters to move: must not fail


def test_onnx_refuses_gradient_methods_before_the_run(onnx_path: Path) -> None:
    model = load_model(onnx_path, device="cpu")
    assert set(model.unavailable) == {GRADIENTS, HOOKS}
    for method in ("saliency", "smoothgrad", "integrated_gradients", "gradcam"):
        reason = unavailable_reason(model, method)
        assert reason and "ONNX Runtime computes no gradients" in reason
        with pytest.raises(ValueError, match="ONNX Runtime computes no gradients"):
            explain(model, _images(1)[0], method)
    assert available_methods(model)["lime"] is None


def test_lime_on_onnx_equals_lime_on_the_torch_module(onnx_path: Path, resnet: torch.nn.Module
                                                      ) -> None:
    image = _images(1)[0]
    options = {"samples": 50, "superpixels": 12, "seed": 3, "batch_size": 16}
    on_onnx = explain(load_model(onnx_path, device="cpu"), image, "lime", target=1, **options)
    on_torch = explain(_torch_model(resnet), image, "lime", target=1, **options)
    np.testing.assert_array_equal(on_onnx.extras["segments"], on_torch.extras["segments"])
    np.testing.assert_allclose(on_onnx.extras["weights"], on_torch.extras["weights"],
                               atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(on_onnx.map_model, on_torch.map_model, atol=1e-4, rtol=1e-3)
    assert np.abs(on_torch.map_model).max() > 1e-3  # the maps compared are not both zero


def test_fixed_batch_of_one_predicts_batches(tmp_path: Path, resnet: torch.nn.Module) -> None:
    path = _export(resnet, tmp_path / "single.onnx", batch=1, sidecar={"classes": CLASSES})
    model = load_model(path, device="cpu")
    assert any("exactly 1 image" in note for note in model.notes)
    images = _images(5)
    np.testing.assert_allclose(model.predict(images, batch_size=4),
                               _torch_model(resnet).predict(images), atol=1e-4)
    assert model.predict([]).shape == (0, len(CLASSES))


def test_external_data_and_content_detection(tmp_path: Path, onnx_path: Path,
                                             resnet: torch.nn.Module) -> None:
    """Weights in a separate file (as the dynamo exporter writes large models), and a file
    recognised as ONNX by its content whatever its name."""
    path = tmp_path / "weights_apart.bin"
    onnx.save_model(onnx.load(str(onnx_path)), str(path), save_as_external_data=True,
                    location="weights_apart.data", size_threshold=0)
    assert (tmp_path / "weights_apart.data").stat().st_size > 1_000_000
    path.with_suffix(".json").write_text(json.dumps({"classes": CLASSES, "input_size": [32, 32]}))
    model = load_model(path, device="cpu")
    assert model.kind == "onnx"
    images = _images(2)
    np.testing.assert_allclose(model.predict(images), _torch_model(resnet).predict(images),
                               atol=1e-4)


def test_grayscale_onnx_model(tmp_path: Path) -> None:
    module = _resnet(channels=1)
    gray = {"classes": CLASSES, "mean": [0.45], "std": [0.25]}
    model = load_model(_export(module, tmp_path / "gray.onnx", channels=1, sidecar=gray),
                       device="cpu")
    assert model.channels == 1 and model.mean == (0.45,) and model.std == (0.25,)
    images = _images(3)
    np.testing.assert_allclose(
        model.predict(images),
        _torch_model(module, channels=1, mean=(0.45,), std=(0.25,)).predict(images), atol=1e-4)
    image = _images(1)[0]
    options = {"samples": 30, "superpixels": 10, "seed": 1}
    on_onnx = explain(model, image, "lime", target=0, **options)
    on_torch = explain(_torch_model(module, channels=1, mean=(0.45,), std=(0.25,)), image,
                       "lime", target=0, **options)
    np.testing.assert_allclose(on_onnx.map_model, on_torch.map_model, atol=1e-4, rtol=1e-3)
    (tmp_path / "gray.onnx.json").write_text(json.dumps({"classes": CLASSES}))
    with pytest.raises(ModelLoadError, match="1 input channel.*'mean' and 'std' with one entry"):
        load_model(tmp_path / "gray.onnx")


def test_refusals(tmp_path: Path, onnx_path: Path, resnet: torch.nn.Module) -> None:
    no_sidecar = tmp_path / "alone.onnx"
    no_sidecar.write_bytes(onnx_path.read_bytes())
    with pytest.raises(ModelSpecNeeded, match="without class names.*alone.onnx.json") as caught:
        load_model(no_sidecar)
    assert caught.value.missing == ("classes",)    # the CLI names --classes, the window asks
    # what the user gives (--classes ...) stands for the sidecar; a contradiction is refused
    given = load_model(no_sidecar, spec=ModelSpec(classes=tuple(CLASSES)))
    assert given.classes == CLASSES and given.input_size == SIZE
    with pytest.raises(ModelLoadError, match="the given classes .* contradicts"):
        load_model(onnx_path, spec=ModelSpec(classes=("a", "b", "c")))

    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_path.read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="not a readable ONNX model.*truncated.*ONNX"):
        load_model(truncated)
    png = tmp_path / "picture.onnx"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(ModelLoadError, match="not a readable ONNX model.*torch.export"):
        load_model(png)

    four = _export(_resnet(channels=4), tmp_path / "four.onnx", channels=4,
                   sidecar={"classes": CLASSES})
    with pytest.raises(ModelLoadError, match="takes 4 input channels"):
        load_model(four)

    wrong_size = tmp_path / "wrong_size.onnx"
    wrong_size.write_bytes(onnx_path.read_bytes())
    wrong_size.with_suffix(".json").write_text(json.dumps({"classes": CLASSES,
                                                           "input_size": [64, 64]}))
    with pytest.raises(ModelLoadError, match=r"'input_size' is \[64, 64\] but .* \[32, 32\]"):
        load_model(wrong_size)
    wrong_size.with_suffix(".json").write_text(json.dumps({"classes": CLASSES[:2]}))
    with pytest.raises(ModelLoadError, match="outputs 3 scores but the sidecar names 2"):
        load_model(wrong_size)


def test_missing_onnxruntime_names_the_extra(onnx_path: Path) -> None:
    """A real interpreter in which onnxruntime cannot be imported (None in sys.modules)."""
    script = ("import sys; sys.modules['onnxruntime'] = None\n"
              "from leakview.models import ModelLoadError, load_model\n"
              "try:\n"
              f"    load_model({str(onnx_path)!r}, device='cpu')\n"
              "except ModelLoadError as error:\n"
              "    print('REFUSED', error)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout
    assert "pip install 'leakview[onnx]'" in result.stdout and str(onnx_path) in result.stdout
