"""Plain PyTorch weights (bare state_dicts, training checkpoints, DataParallel / torch.compile
prefixes, safetensors), the architecture guessed from them, gray models, and TorchScript
archives recognised as torchvision models (so Grad-CAM runs)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from leakview.attribution import explain, unavailable_reason
from leakview.commands.argtypes import spec_needed_message
from leakview.models import (
    HOOKS,
    LoadedModel,
    ModelLoadError,
    ModelSpec,
    ModelSpecNeeded,
    build_architecture,
    load_model,
    recognise_torchvision,
    save_bundle,
    sidecar_path,
)
from leakview.models.build import build_model
from leakview.models.plain import GRAY_MEAN, GRAY_STD, choose_fit
from leakview.models.state_dicts import (
    FAMILY_MARKERS,
    candidate_architectures,
    clean_keys,
    fit_architecture,
    fitting_architectures,
    signature,
)
from leakview.models.torchvision_models import classification_architectures
from model_checks import assert_saliency_matches_captum

CLASSES = ("wheat", "corn", "empty")
SPEC = ModelSpec(classes=CLASSES, input_size=(32, 32))


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: stands for any code a file could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _images(count: int = 3, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(40 + 7 * i, 36, 3), dtype=np.uint8)
            for i in range(count)]


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    torch.manual_seed(1)
    return build_architecture("resnet18", len(CLASSES), (32, 32)).eval()


def _reference(module: torch.nn.Module, channels: int = 3) -> LoadedModel:
    gray = channels == 1
    return LoadedModel(module=module, classes=list(CLASSES), input_size=(32, 32),
                       mean=GRAY_MEAN if gray else (0.485, 0.456, 0.406),
                       std=GRAY_STD if gray else (0.229, 0.224, 0.225), channels=channels)


def _save(form: str, module: torch.nn.Module, path: Path) -> Path:
    state = module.state_dict()
    if form == "state_dict":
        torch.save(state, path)
    elif form == "checkpoint":
        optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
        torch.save({"epoch": 7, "model": state, "optimizer": optimizer.state_dict(),
                    "best_acc": 0.5}, path)
    elif form == "ema-checkpoint":
        torch.save({"state_dict_ema": state, "epoch": 3}, path)
    elif form == "dataparallel":
        torch.save(torch.nn.DataParallel(module).state_dict(), path)
    elif form == "compiled":
        torch.save(torch.compile(module).state_dict(), path)
    elif form == "safetensors":
        save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    return path


@pytest.mark.parametrize("form,name,kind,note", [
    ("state_dict", "weights.pth", "state_dict", "guessed"),
    ("checkpoint", "ckpt.pt", "checkpoint", "checkpoint's 'model' entry (ignored: 'epoch', "
                                            "'optimizer', 'best_acc')"),
    ("ema-checkpoint", "ema.pth.tar", "checkpoint", "checkpoint's 'state_dict_ema' entry"),
    ("dataparallel", "dp.pth", "state_dict", "'module.' stripped (a DataParallel"),
    ("compiled", "compiled.pt", "state_dict", "'_orig_mod.' stripped (a torch.compile"),
    ("safetensors", "model.safetensors", "safetensors", "guessed"),
    ("safetensors", "model.bin", "safetensors", "guessed"),  # recognised by content
])
def test_each_form_loads_and_predicts_like_the_original(tmp_path: Path, resnet, form: str,
                                                       name: str, kind: str, note: str) -> None:
    path = _save(form, resnet, tmp_path / name)
    loaded = load_model(path, device="cpu", spec=SPEC)
    assert (loaded.kind, loaded.arch, loaded.classes) == (kind, "resnet18", list(CLASSES))
    assert loaded.channels == 3 and loaded.input_size == (32, 32)
    assert any(note in line for line in loaded.notes), loaded.notes
    assert "architecture resnet18 guessed from the weights' keys and shapes" in loaded.notes
    images = _images()
    np.testing.assert_allclose(loaded.predict(images), _reference(resnet).predict(images),
                               atol=1e-6)
    assert unavailable_reason(loaded, "gradcam") is None
    assert_saliency_matches_captum(loaded)


def test_wrapper_prefixes_and_auxiliary_heads_are_removed() -> None:
    weight = torch.zeros(2, 2)
    lightning = {"model.module.conv1.weight": weight, "model.module.fc.weight": weight}
    cleaned, notes = clean_keys(lightning)
    assert list(cleaned) == ["conv1.weight", "fc.weight"]
    assert notes == ["key prefix 'model.' stripped (every key had it)",
                     "key prefix 'module.' stripped (a DataParallel/DistributedDataParallel "
                     "state_dict)"]
    googlenet = {"conv1.conv.weight": weight, "aux1.fc2.weight": weight, "fc.weight": weight}
    cleaned, notes = clean_keys(googlenet)
    assert list(cleaned) == ["conv1.conv.weight", "fc.weight"]
    assert notes == ["auxiliary classifier weights (aux1) ignored: leakview uses the main "
                     "output"]
    plain = {"conv1.weight": weight, "fc.weight": weight}
    assert clean_keys(plain) == (plain, [])


def test_defaults_are_noted(tmp_path: Path, resnet) -> None:
    path = _save("state_dict", resnet, tmp_path / "w.pth")
    loaded = load_model(path, device="cpu", spec=ModelSpec(classes=CLASSES))
    assert loaded.input_size == (224, 224)
    assert (loaded.mean, loaded.std) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert any("input size 224x224 assumed" in note for note in loaded.notes)
    assert any("mean and std assumed" in note and "a default" in note for note in loaded.notes)
    given = load_model(path, device="cpu", spec=ModelSpec(
        arch="resnet18", classes=CLASSES, input_size=(32, 32), mean=(0.5,) * 3, std=(0.25,) * 3))
    assert (given.mean, given.std) == ((0.5,) * 3, (0.25,) * 3)
    assert given.notes == []  # everything was said, nothing guessed or assumed


def test_checkpoint_entries_name_arch_and_classes(tmp_path: Path, resnet) -> None:
    """The ImageNet example's checkpoint ({'arch', 'state_dict', ...}) and ImageFolder's
    class_to_idx need no flags."""
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"arch": "resnet18", "state_dict": resnet.state_dict(), "epoch": 90,
                "class_to_idx": {"corn": 1, "wheat": 0, "empty": 2}}, path)
    loaded = load_model(path, device="cpu")
    assert loaded.classes == list(CLASSES) and loaded.arch == "resnet18"
    assert "architecture resnet18 named by the checkpoint's 'arch' entry" in loaded.notes
    assert "class names from the checkpoint's 'class_to_idx' entry" in loaded.notes


def test_without_classes_the_spec_is_needed(tmp_path: Path, resnet) -> None:
    """A file without class names never loads silently: the CLI and the window are told what
    to ask for, and which architecture the weights point to."""
    path = _save("state_dict", resnet, tmp_path / "w.pth")
    with pytest.raises(ModelSpecNeeded) as caught:
        load_model(path, device="cpu")
    error = caught.value
    assert error.missing == ("classes",) and error.guessed_arch == "resnet18"
    line = spec_needed_message(error)
    assert "--classes" in line and "--classes-file" in line and "--" not in error.reason
    assert "3 outputs" in error.reason
    again = pickle.loads(pickle.dumps(error))  # crosses process boundaries (the GUI worker)
    assert (again.missing, again.guessed_arch) == (error.missing, error.guessed_arch)


def test_class_count_must_match_the_weights(tmp_path: Path, resnet) -> None:
    path = _save("state_dict", resnet, tmp_path / "w.pth")
    with pytest.raises(ModelLoadError, match=r"--classes names 2 classes but the weights' "
                                             r"classifier \(fc.weight\) has 3 outputs"):
        load_model(path, device="cpu", spec=ModelSpec(classes=("a", "b")))


def test_named_architecture_that_does_not_fit(tmp_path: Path, resnet) -> None:
    path = _save("state_dict", resnet, tmp_path / "w.pth")
    with pytest.raises(ModelLoadError, match=r"do not fit architecture 'resnet34' \(named by "
                                             r"--arch\): \d+ missing \(e\.g\. layer1\.2"):
        load_model(path, device="cpu", spec=ModelSpec(arch="resnet34", classes=CLASSES))


def test_weights_that_fit_no_architecture(tmp_path: Path, resnet) -> None:
    custom = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(),
                                 torch.nn.LazyLinear(3))
    custom(torch.zeros(1, 3, 8, 8))
    path = tmp_path / "custom.pth"
    torch.save(custom.state_dict(), path)
    with pytest.raises(ModelSpecNeeded, match="fits? no torchvision classification "
                                              "architecture") as caught:
        load_model(path, device="cpu")
    assert caught.value.missing == ("arch", "classes") and caught.value.guessed_arch is None
    assert "--" not in caught.value.reason      # the window asks in a dialog: no flags here
    line = spec_needed_message(caught.value)     # the command line names its flags
    assert "--arch" in line and "--classes" in line
    # a resnet missing a layer: says which it compared
    state = dict(resnet.state_dict())
    del state["layer4.1.conv2.weight"]
    torch.save(state, path)
    with pytest.raises(ModelSpecNeeded, match="compared with resnet101, resnet152, resnet18"
                       ) as caught:
        load_model(path, device="cpu", spec=SPEC)
    assert caught.value.missing == ("arch",)


def test_several_fitting_architectures_ask_for_arch(tmp_path: Path, resnet) -> None:
    """No two torchvision classification models share names and shapes, so a real file never
    fits two; the refusal for that case names both and asks for the architecture."""
    mobilenet = build_architecture("mobilenet_v3_small", 3).state_dict()
    fits = [fit_architecture(resnet.state_dict(), "resnet18"),
            fit_architecture(mobilenet, "mobilenet_v3_small")]
    assert all(fits)
    with pytest.raises(ModelSpecNeeded, match=r"fit several torchvision classification "
                                              r"architectures \(resnet18, mobilenet_v3_small\)"
                                              r"; name the architecture") as caught:
        choose_fit(tmp_path / "w.pth", fits, "", classes_given=False)  # type: ignore[arg-type]
    assert caught.value.missing == ("arch", "classes")


@pytest.mark.parametrize("arch,classes", [("mobilenet_v3_small", 4), ("squeezenet1_1", 2),
                                          ("mnasnet0_5", 5), ("googlenet", 3)])
def test_guessing_recognises_architectures(arch: str, classes: int) -> None:
    state = build_architecture(arch, classes).state_dict()
    assert recognise_torchvision(state) == arch
    assert recognise_torchvision(state, num_classes=classes) == arch
    assert recognise_torchvision(state, num_classes=classes + 1) is None
    (fit,) = fitting_architectures(state)
    assert (fit.num_classes, fit.channels, fit.input_size) == (classes, 3, None)


def test_vit_input_size_comes_from_its_position_embedding(tmp_path: Path) -> None:
    module = build_architecture("vit_b_16", len(CLASSES), (32, 32)).eval()
    path = tmp_path / "vit.safetensors"
    save_file({key: value.contiguous() for key, value in module.state_dict().items()},
              str(path))
    loaded = load_model(path, device="cpu", spec=ModelSpec(classes=CLASSES))
    assert loaded.arch == "vit_b_16" and loaded.input_size == (32, 32)
    assert "input size 32x32 from the ViT's position embedding" in loaded.notes
    images = _images(2)
    np.testing.assert_allclose(loaded.predict(images), _reference(module).predict(images),
                               atol=1e-6)
    with pytest.raises(ModelLoadError, match="fixes the input size to 32x32, but --input-size "
                                             "says 48x48"):
        load_model(path, device="cpu", spec=ModelSpec(classes=CLASSES, input_size=(48, 48)))


def test_family_markers_cover_every_architecture() -> None:
    """Every torchvision classification model belongs to a family the recogniser builds, and
    each family's marker key is in a member's state_dict (one member per family: cheap)."""
    initialiser = torch.nn.init.kaiming_normal_
    families = [family for _, family in FAMILY_MARKERS]
    for arch in classification_architectures():
        assert any(arch.startswith(family) for family in families), arch
    for marker, family in FAMILY_MARKERS:
        member = next(arch for arch in classification_architectures()
                      if arch.startswith(family))
        assert marker in signature(member).shapes, (marker, member)
        assert member in candidate_architectures(signature(member).shapes)
    # signatures are built on the meta device with the initialisers skipped, then restored
    assert torch.nn.init.kaiming_normal_ is initialiser
    assert not torch.nn.Linear(4, 4).weight.is_meta


def test_safetensors_metadata_classes(tmp_path: Path, resnet) -> None:
    path = tmp_path / "m.safetensors"
    save_file({key: value.contiguous() for key, value in resnet.state_dict().items()},
              str(path), metadata={"classes": json.dumps(list(CLASSES))})
    loaded = load_model(path, device="cpu")
    assert loaded.classes == list(CLASSES)
    assert "class names from the safetensors metadata's 'classes' entry" in loaded.notes


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_pickle_named_safetensors_is_refused_unread(tmp_path: Path, resnet, how: str) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "model.safetensors"
    payload = {"state_dict": resnet.state_dict(), "note": _RunsCode(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(ModelLoadError, match="named .safetensors but it holds pickle/zip data"
                       ) as caught:
        load_model(path, device="cpu", spec=SPEC)
    assert "nothing in it was loaded or run" in caught.value.reason
    assert not marker.exists()
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!" + bytes(64))
    with pytest.raises(ModelLoadError, match="not a safetensors file"):
        load_model(path, device="cpu", spec=SPEC)


def _gray_resnet() -> torch.nn.Module:
    torch.manual_seed(2)
    module = build_architecture("resnet18", len(CLASSES), (32, 32))
    module.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return module.eval()


def test_gray_model_loads_and_every_method_runs(tmp_path: Path) -> None:
    module = _gray_resnet()
    path = tmp_path / "gray.pth"
    torch.save(module.state_dict(), path)
    loaded = load_model(path, device="cpu", spec=SPEC)
    assert loaded.channels == 1 and (loaded.mean, loaded.std) == (GRAY_MEAN, GRAY_STD)
    assert any("gray input" in note for note in loaded.notes)
    assert any("mean 0.449 std 0.226" in note for note in loaded.notes)
    images = _images(3)
    np.testing.assert_allclose(loaded.predict(images), _reference(module, 1).predict(images),
                               atol=1e-6)
    assert_saliency_matches_captum(loaded)   # on the gray (1-channel) input
    image = images[0]
    options = {"saliency": {}, "smoothgrad": {"samples": 3},
               "integrated_gradients": {"steps": 4}, "gradcam": {},
               "lime": {"samples": 24, "segmentation": "quickshift"}}
    for method, chosen in options.items():
        attribution = explain(loaded, image, method, target=1, **chosen)
        assert attribution.map.shape == image.shape[:2], method
        assert np.isfinite(attribution.map).all() and np.abs(attribution.map).max() > 0, method


def test_gray_bundle_and_gray_defaults(tmp_path: Path) -> None:
    module = _gray_resnet()
    path = save_bundle(tmp_path / "gray.pt", module, "resnet18", CLASSES, (32, 32),
                       mean=(0.5,), std=(0.25,))
    loaded = load_model(path, device="cpu")
    assert loaded.channels == 1 and loaded.mean == (0.5,)
    reference = LoadedModel(module=module, classes=list(CLASSES), input_size=(32, 32),
                            mean=(0.5,), std=(0.25,), channels=1)
    np.testing.assert_allclose(loaded.predict(_images(2)), reference.predict(_images(2)),
                               atol=1e-6)
    torch.save(module.state_dict(), tmp_path / "gray.pth")
    given = load_model(tmp_path / "gray.pth", device="cpu",
                       spec=ModelSpec(classes=CLASSES, mean=(0.5,), std=(0.25,)))
    assert (given.mean, given.std) == ((0.5,), (0.25,))
    with pytest.raises(ModelLoadError, match="--mean has 3 values but the model takes 1"):
        load_model(tmp_path / "gray.pth", device="cpu",
                   spec=ModelSpec(classes=CLASSES, mean=(0.5,) * 3, std=(0.25,) * 3))


def test_other_channel_counts_are_refused(tmp_path: Path) -> None:
    module = build_architecture("resnet18", len(CLASSES), (32, 32))
    module.conv1 = torch.nn.Conv2d(4, 64, 7, 2, 3, bias=False)
    path = tmp_path / "rgba.pth"
    torch.save(module.state_dict(), path)
    with pytest.raises(ModelLoadError, match=r"first convolution \(conv1.weight\) takes 4 "
                                             r"input channels; leakview feeds RGB \(3\) or "
                                             r"gray \(1\)"):
        load_model(path, device="cpu")  # refused before classes are asked for
    with pytest.raises(ValueError, match="takes 4 input channels"):
        build_model("resnet18", 3, channels=4)
    gray = build_model("mobilenet_v3_small", 3, channels=1)
    assert gray.features[0][0].in_channels == 1
    assert recognise_torchvision(gray.state_dict()) == "mobilenet_v3_small"


def test_training_from_a_gray_model_keeps_it_gray(tmp_path: Path) -> None:
    from leakview.train import ImageFolderData, train

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    data = ImageFolderData(root=tmp_path, classes=list(CLASSES), images=images,
                           labels=np.array([0, 1, 2, 0, 1, 2, 0, 1]),
                           paths=[f"{i}.png" for i in range(8)])
    gray = build_model("mobilenet_v3_small", len(CLASSES), channels=1)
    bundle = save_bundle(tmp_path / "init.pt", gray, "mobilenet_v3_small", CLASSES, (32, 32),
                         mean=GRAY_MEAN, std=GRAY_STD)
    result = train(data, "mobilenet_v3_small", (32, 32), epochs=1, device="cpu", batch_size=4,
                   val_split=0.0, init=bundle, out=tmp_path / "out.pt")
    assert result.model.channels == 1
    again = load_model(tmp_path / "out.pt", device="cpu")
    assert again.channels == 1 and again.mean == GRAY_MEAN
    np.testing.assert_allclose(again.predict(_images(2)), result.model.predict(_images(2)),
                               atol=1e-6)


def _scripted(module: torch.nn.Module, path: Path, channels: int = 3) -> Path:
    torch.jit.trace(module, torch.zeros(1, channels, 32, 32), check_trace=False).save(str(path))
    sidecar = {"classes": list(CLASSES), "input_size": [32, 32]}
    if channels == 1:
        sidecar.update(mean=list(GRAY_MEAN), std=list(GRAY_STD))
    sidecar_path(path).write_text(json.dumps(sidecar))
    return path


def test_torchscript_twin_runs_gradcam_like_the_eager_module(tmp_path: Path, resnet) -> None:
    loaded = load_model(_scripted(resnet, tmp_path / "traced.pt"), device="cpu")
    assert loaded.kind == "torchscript" and loaded.extra["torchvision_arch"] == "resnet18"
    assert HOOKS not in loaded.unavailable
    assert ("TorchScript weights recognised as torchvision resnet18: Grad-CAM uses the "
            "equivalent eager module (outputs checked equal)") in loaded.notes
    assert not isinstance(loaded.module, torch.jit.ScriptModule)
    image = _images(1)[0]
    ours = explain(loaded, image, "gradcam", target=2)
    eager = explain(_reference(resnet), image, "gradcam", target=2)
    np.testing.assert_allclose(ours.map, eager.map, rtol=1e-5, atol=1e-6)
    assert_saliency_matches_captum(loaded)


def test_gray_torchscript_twin(tmp_path: Path) -> None:
    torch.manual_seed(3)
    module = build_model("squeezenet1_1", len(CLASSES), channels=1).eval()
    loaded = load_model(_scripted(module, tmp_path / "gray.pt", channels=1), "cpu")
    assert loaded.extra["torchvision_arch"] == "squeezenet1_1" and loaded.channels == 1
    assert HOOKS not in loaded.unavailable


class _Doubled(torch.nn.Module):
    """resnet18's weights, other outputs: the twin check must notice."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.net(batch) * 2.0


def test_torchscript_with_other_outputs_keeps_the_archive(tmp_path: Path, resnet) -> None:
    loaded = load_model(_scripted(_Doubled(resnet).eval(), tmp_path / "doubled.pt"), "cpu")
    assert "torchvision_arch" not in loaded.extra
    assert isinstance(loaded.module, torch.jit.ScriptModule)
    assert HOOKS in loaded.unavailable
    assert any("outputs differ from resnet18's" in note for note in loaded.notes)
    assert unavailable_reason(loaded, "gradcam") is not None
    assert_saliency_matches_captum(loaded)   # through the TorchScript archive itself
