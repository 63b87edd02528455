"""Model bundles: round trips, safe loading, clear errors."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from leakview.models import (
    BUNDLE_FORMAT,
    LoadedModel,
    ModelLoadError,
    ModelSpecNeeded,
    build_architecture,
    choose_device,
    load_model,
    resize_uint8,
    save_bundle,
    sidecar_path,
)
from model_checks import assert_saliency_matches_captum

CLASSES = ["wheat", "corn", "empty"]


def _images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = [(40, 60), (32, 32), (71, 53)]
    return [rng.integers(0, 256, size=(*sizes[i % 3], 3), dtype=np.uint8) for i in range(count)]


@pytest.mark.parametrize("arch,input_size", [
    ("resnet18", (32, 32)),
    ("mobilenet_v3_small", (48, 48)),
    ("efficientnet_b0", (32, 32)),
    ("squeezenet1_1", (48, 40)),
])
def test_bundle_round_trip_predicts_identically(tmp_path: Path, arch: str, input_size) -> None:
    module = build_architecture(arch, len(CLASSES), input_size).eval()
    path = save_bundle(tmp_path / f"{arch}.pt", module, arch, CLASSES, input_size,
                       trained_on={"folder": "demo"}, gradcam_layer="features")
    original = LoadedModel(module=module, classes=CLASSES, input_size=input_size, arch=arch)
    loaded = load_model(path, device="cpu")

    assert loaded.classes == CLASSES
    assert loaded.input_size == tuple(input_size)
    assert loaded.arch == arch
    assert loaded.extra["trained_on"] == {"folder": "demo"}
    assert loaded.gradcam_layer == "features"
    images = _images(5)
    expected = original.predict(images, batch_size=2)
    probabilities = loaded.predict(images, batch_size=3)
    assert probabilities.shape == (5, len(CLASSES))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    if arch != "squeezenet1_1":  # its untrained final ReLU zeroes the logit: no gradient at all
        assert_saliency_matches_captum(loaded)


def test_preprocess_resizes_and_normalises() -> None:
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))
    model = LoadedModel(module=module, classes=["a", "b"], input_size=(8, 6),
                        mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 1.0))
    image = np.full((30, 20, 3), 255, dtype=np.uint8)
    tensor = model.preprocess(image)
    assert tensor.shape == (3, 8, 6)
    np.testing.assert_allclose(tensor[:, 0, 0].numpy(), [1.0, 2.0, 0.5], atol=1e-6)
    with pytest.raises(ValueError, match="RGB uint8"):
        model.preprocess(np.zeros((4, 4), dtype=np.uint8))


def test_predict_of_no_images_is_empty() -> None:
    module = build_architecture("mobilenet_v3_small", 3).eval()
    model = LoadedModel(module=module, classes=CLASSES, input_size=(32, 32))
    assert model.predict([]).shape == (0, 3)


class _Exploit:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_checkpoint_that_runs_code_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": BUNDLE_FORMAT, "payload": _Exploit()}, path)
    with pytest.raises(ModelLoadError, match="never runs pickled code") as info:
        load_model(path)
    assert info.value.path == path
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_pickle_file_is_refused(tmp_path: Path, monkeypatch, protocol: int) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Exploit(), protocol=protocol))
    with pytest.raises(ModelLoadError, match="never runs pickled code"):
        load_model(path)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def _valid_bundle(tmp_path: Path) -> dict:
    module = build_architecture("mobilenet_v3_small", len(CLASSES), (32, 32))
    path = save_bundle(tmp_path / "ok.pt", module, "mobilenet_v3_small", CLASSES, (32, 32))
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("change,message", [
    (lambda b: b.pop("classes"), "missing key\\(s\\) classes"),
    (lambda b: b.pop("state_dict"), "missing key\\(s\\) state_dict"),
    (lambda b: b.update(format="other/9"), "unsupported bundle format"),
    (lambda b: b.update(arch="not_a_net"), "unknown architecture 'not_a_net'"),
    (lambda b: b.update(classes=["only"]), "at least two class names"),
    (lambda b: b.update(classes=["a", "a", "b"]), "duplicate"),
    (lambda b: b.update(input_size=[32]), "'input_size' must be a list of 2"),
    (lambda b: b.update(std=[0.1, 0.0, 0.1]), "'std' must be positive"),
    (lambda b: b.update(classes=["a", "b", "c", "d"]), "wrong shape"),
    (lambda b: b.update(arch="resnet18"), "does not fit architecture 'resnet18'"),
    (lambda b: b["state_dict"].pop(next(iter(b["state_dict"]))), "missing"),
])
def test_broken_bundles_name_the_problem(tmp_path: Path, change, message: str) -> None:
    bundle = _valid_bundle(tmp_path)
    change(bundle)
    path = tmp_path / "broken.pt"
    torch.save(bundle, path)
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_bare_state_dict_without_classes_does_not_load(tmp_path: Path) -> None:
    """A bare state_dict names no classes: it never loads silently, the error says what is
    missing (the command line turns that into its flags, the window into a dialog) and the
    architecture it guessed from the weights."""
    path = tmp_path / "weights.pth"
    torch.save(build_architecture("mobilenet_v3_small", 3).state_dict(), path)
    with pytest.raises(ModelSpecNeeded, match="names no classes") as caught:
        load_model(path)
    assert caught.value.missing == ("classes",)
    assert caught.value.guessed_arch == "mobilenet_v3_small"


@pytest.mark.parametrize("content,message", [
    (b"", "not a PyTorch checkpoint"),
    (b"this is a text file\n", "not a PyTorch checkpoint"),
    (bytes(range(256)) * 10, "not a PyTorch checkpoint"),
])
def test_non_model_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        load_model(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(tmp_path / "absent.pt")
    with pytest.raises(ModelLoadError, match="is a folder"):
        load_model(tmp_path)


def test_non_bundle_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelLoadError):
        load_model(path)


def test_torchscript_with_sidecar(tmp_path: Path) -> None:
    module = build_architecture("mobilenet_v3_small", 3, (32, 32)).eval()
    path = tmp_path / "scripted.pt"
    torch.jit.trace(module, torch.zeros(1, 3, 32, 32)).save(str(path))
    with pytest.raises(ModelLoadError, match="without class names"):
        load_model(path)
    sidecar_path(path).write_text(json.dumps({"classes": CLASSES, "input_size": [32, 32]}))
    loaded = load_model(path)
    assert loaded.classes == CLASSES and loaded.arch == "torchscript"
    reference = LoadedModel(module=module, classes=CLASSES, input_size=(32, 32))
    images = _images(3)
    np.testing.assert_allclose(loaded.predict(images), reference.predict(images), atol=1e-5)


def test_torchscript_sidecar_with_wrong_class_count(tmp_path: Path) -> None:
    module = build_architecture("mobilenet_v3_small", 3, (32, 32)).eval()
    path = tmp_path / "scripted.pt"
    torch.jit.trace(module, torch.zeros(1, 3, 32, 32)).save(str(path))
    sidecar_path(path).write_text(json.dumps({"classes": ["a", "b"], "input_size": [32, 32]}))
    with pytest.raises(ModelLoadError, match="outputs 3 scores"):
        load_model(path)


def test_save_refuses_non_plain_extras_and_keeps_the_old_file(tmp_path: Path) -> None:
    module = build_architecture("mobilenet_v3_small", 3, (32, 32))
    path = save_bundle(tmp_path / "m.pt", module, "mobilenet_v3_small", CLASSES, (32, 32))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="'bad' must hold plain data"):
        save_bundle(path, module, "mobilenet_v3_small", CLASSES, (32, 32), bad=object())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_device_choice() -> None:
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(None).type in ("cpu", "cuda")
    with pytest.raises(ValueError):
        choose_device("nonsense-device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            choose_device("cuda")


@pytest.mark.parametrize("shape, size", [((72, 128, 3), (24, 32)), ((20, 30, 3), (96, 128)),
                                         ((1, 1, 3), (5, 7)), ((33, 3, 3), (8, 8))])
def test_resize_uint8_matches_plain_torch_resize(shape: tuple, size: tuple) -> None:
    """Any memory layout trick inside resize_uint8 must leave its pixels those of the plain
    NCHW antialiased bilinear resize, in uint8 (training, prediction and attribution share it)."""
    image = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(image).permute(2, 0, 1)[None].contiguous(), size=size,
        mode="bilinear", align_corners=False, antialias=True)[0].permute(1, 2, 0).numpy()
    resized = resize_uint8(image, size)
    assert resized.dtype == np.uint8 and resized.shape == (*size, 3)
    assert resized.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(resized, reference)


def test_resize_uint8_same_size_keeps_pixels_and_bad_input_is_refused() -> None:
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    same = resize_uint8(image, (2, 3))
    np.testing.assert_array_equal(same, image)
    with pytest.raises(ValueError, match="RGB uint8"):
        resize_uint8(image.astype(np.float32), (4, 4))
