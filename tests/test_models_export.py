"""torch.export archives (.pt2): a tiny torchvision resnet18 saved with torch.export.save, loaded
with a sidecar; archives that would make torch.export.load unpickle data or run code are refused
before torch reads them (each attack shown to work on torch.export.load itself)."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import Saliency

from leakview.attribution.registry import explain, unavailable_reason
from leakview.models import HOOKS, LoadedModel, ModelLoadError, describe, load_model

CLASSES = ["wheat", "corn", "empty"]
SIZE = (32, 32)


class _Touch:
    """Unpickling this creates ``marker`` (how the tests see that pickled code ran)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return open, (self.marker, "w")


class _HalvedLogits(torch.nn.Module):
    """A resnet18 whose logits are halved: its weights are resnet18's but its outputs are not,
    so leakview's eager-twin check fails and the exported graph itself runs."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(batch) * 0.5
        return logits


def _resnet18() -> torch.nn.Module:
    torch.manual_seed(0)
    module = torchvision.models.resnet18(num_classes=len(CLASSES))
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 1.5)
    return module.eval()


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    return _resnet18()


@pytest.fixture(scope="module")
def halved(resnet: torch.nn.Module) -> torch.nn.Module:
    return _HalvedLogits(resnet).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, resnet: torch.nn.Module,
             halved: torch.nn.Module) -> dict[str, Path]:
    """A dynamic-batch and a batch-of-1 archive of resnet18 and of the halved-logits model
    (whose graph runs as saved), each with its sidecar."""
    folder = tmp_path_factory.mktemp("export")
    batch = torch.export.Dim("batch", min=1, max=256)
    paths = {}
    for prefix, module in (("", resnet), ("opaque_", halved)):
        programs = {
            "dynamic": torch.export.export(module, (torch.zeros(2, 3, *SIZE),),
                                           dynamic_shapes=({0: batch},)),
            "single": torch.export.export(module, (torch.zeros(1, 3, *SIZE),)),
        }
        for name, program in programs.items():
            paths[prefix + name] = folder / f"{prefix}{name}.pt2"
            torch.export.save(program, paths[prefix + name])
            _sidecar(paths[prefix + name])
    return paths


def _sidecar(path: Path, **meta: Any) -> None:
    path.with_name(path.name + ".json").write_text(json.dumps({"classes": CLASSES, **meta}))


def _torch_model(module: torch.nn.Module) -> LoadedModel:
    return LoadedModel(module=module, classes=CLASSES, input_size=SIZE, arch="resnet18")


def _images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [rng.integers(0, 256, size=(36, 30 + 4 * i, 3), dtype=np.uint8) for i in range(count)]


def _rewrite(source: Path, target: Path, change: Any) -> Path:
    """Copy the archive ``source`` to ``target``, ``change(entries)`` editing the entries
    (name without the root folder -> bytes) on the way; the sidecar comes along."""
    with zipfile.ZipFile(source) as archive:
        root = archive.namelist()[0].split("/", 1)[0] + "/"
        entries = {name[len(root):]: archive.read(name) for name in archive.namelist()}
    change(entries)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(root + name, data)
    _sidecar(target)
    return target


def _edit_program(entries: dict[str, bytes], edit: Any) -> None:
    program = json.loads(entries["models/model.json"])
    edit(program)
    entries["models/model.json"] = json.dumps(program).encode()


def test_exported_program_predicts_and_explains_like_the_module(
        exported: dict[str, Path], halved: torch.nn.Module) -> None:
    resnet = halved  # the graph itself runs (no eager twin)
    model = load_model(exported["opaque_dynamic"], device="cpu")
    assert (model.kind, model.arch, model.input_size, model.channels) == \
        ("torch.export", "torch.export", SIZE, 3)
    assert describe(model)["parameters"] == sum(p.numel() for p in resnet.parameters())
    images = _images(4)
    original = _torch_model(resnet)
    np.testing.assert_allclose(model.predict(images, batch_size=3), original.predict(images),
                               atol=1e-4)
    ours = explain(model, images[0], "saliency", target=1)
    theirs = explain(original, images[0], "saliency", target=1)
    np.testing.assert_allclose(ours.map_model, theirs.map_model, rtol=1e-4, atol=1e-7)
    inputs = model.preprocess(images[0])[None].requires_grad_(True)
    captum = Saliency(resnet).attribute(inputs, target=1, abs=True)
    expected = captum.max(dim=1).values[0].numpy()
    assert np.abs(ours.map_model - expected).max() <= 1e-4 * np.abs(expected).max()
    model.module.eval()  # atlas and canary call it; the exported graph itself refuses to
    model.to("cpu")


class _WithConstant(torch.nn.Module):
    """A classifier whose graph holds a lifted tensor constant (not a buffer)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, len(CLASSES))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.head(batch.mean(dim=(2, 3))) + torch.tensor([0.5, -0.5, 0.0])


def test_moving_the_model_moves_its_constants(tmp_path: Path) -> None:
    module = _WithConstant().eval()
    path = tmp_path / "constant.pt2"
    torch.export.save(torch.export.export(module, (torch.zeros(1, 3, *SIZE),)), path)
    _sidecar(path)
    model = load_model(path, device="cpu")
    batch = torch.rand(2, 3, *SIZE)
    with torch.inference_mode():
        torch.testing.assert_close(model.module(batch), module(batch))

    def constants() -> list[torch.Tensor]:
        return [value for sub in model.module.modules() for value in vars(sub).values()
                if isinstance(value, torch.Tensor)]

    assert constants()  # the graph keeps the constant outside parameters and buffers
    model.module.to("meta")
    assert all(tensor.device.type == "meta"
               for tensor in [*constants(), *model.module.parameters()])


def test_grad_cam_is_refused_with_the_reason(exported: dict[str, Path]) -> None:
    model = load_model(exported["opaque_dynamic"], device="cpu")
    assert set(model.unavailable) == {HOOKS}
    assert any("outputs differ from resnet18's" in note for note in model.notes)
    reason = unavailable_reason(model, "gradcam")
    assert reason and "forward hooks on its layers never fire" in reason
    with pytest.raises(ValueError, match="forward hooks on its layers never fire"):
        explain(model, _images(1)[0], "gradcam")
    assert unavailable_reason(model, "integrated_gradients") is None


def test_a_torchvision_archive_runs_grad_cam_on_its_eager_twin(
        exported: dict[str, Path], resnet: torch.nn.Module) -> None:
    """The weights of a plain torchvision model are recognised, the eager module gives the
    archive's logits, so Grad-CAM's hooks have layers to fire on; the maps equal Grad-CAM on
    the original module."""
    original = resnet
    model = load_model(exported["dynamic"], device="cpu")
    assert model.kind == "torch.export" and not model.unavailable
    assert model.extra["torchvision_arch"] == "resnet18"
    assert any("Grad-CAM uses the equivalent eager module" in note for note in model.notes)
    image = _images(1)[0]
    ours = explain(model, image, "gradcam", target=2)
    theirs = explain(_torch_model(original), image, "gradcam", target=2)
    assert ours.extras == theirs.extras  # layer1, walked back from layer4's 1 x 1 map
    assert (ours.extras["layer"], ours.extras["last_layer"]) == ("layer1", "layer4")
    np.testing.assert_allclose(ours.map_model, theirs.map_model, rtol=1e-4, atol=1e-6)
    single = load_model(exported["single"], device="cpu")   # a graph fixed to batches of 1
    assert not any("per call" in note for note in single.notes)   # the eager twin takes any
    images = _images(3)
    np.testing.assert_allclose(single.predict(images), _torch_model(original).predict(images),
                               atol=1e-5)


def test_batch_of_one_archive_runs_batches(exported: dict[str, Path],
                                           halved: torch.nn.Module) -> None:
    resnet = halved
    model = load_model(exported["opaque_single"], device="cpu")
    assert any("exactly 1 image" in note for note in model.notes)
    images = _images(3)
    np.testing.assert_allclose(model.predict(images), _torch_model(resnet).predict(images),
                               atol=1e-4)
    lime = explain(model, images[0], "lime", samples=20, superpixels=8, batch_size=8)
    assert lime.map_model.shape == SIZE


def test_refuses_archives_that_would_unpickle(tmp_path: Path, exported: dict[str, Path]
                                              ) -> None:
    demo, ours = tmp_path / "demo-ran", tmp_path / "ours-ran"

    def pickled_inputs(marker: Path) -> Any:
        def change(entries: dict[str, bytes]) -> None:
            buffer = io.BytesIO()
            torch.save((_Touch(marker),), buffer)
            entries["data/sample_inputs/model.pt"] = buffer.getvalue()
        return change

    # torch.export.load unpickles sample inputs with full pickle when weights_only refuses them
    try:
        torch.export.load(_rewrite(exported["dynamic"], tmp_path / "demo.pt2",
                                   pickled_inputs(demo)))
    except Exception:
        pass
    assert demo.exists()
    with pytest.raises(ModelLoadError, match="refused.*sample inputs need full pickle"):
        load_model(_rewrite(exported["dynamic"], tmp_path / "inputs.pt2", pickled_inputs(ours)))
    assert not ours.exists()

    def pickled_weight(entries: dict[str, bytes]) -> None:
        config = json.loads(entries["data/weights/model_weights_config.json"])
        config["config"]["conv1.weight"]["use_pickle"] = True
        entries["data/weights/model_weights_config.json"] = json.dumps(config).encode()
        buffer = io.BytesIO()
        torch.save(_Touch(ours), buffer)
        entries["data/weights/weight_0"] = buffer.getvalue()

    with pytest.raises(ModelLoadError, match="'conv1.weight' is stored as a pickled"):
        load_model(_rewrite(exported["dynamic"], tmp_path / "weight.pt2", pickled_weight))

    def compiled_code(entries: dict[str, bytes]) -> None:
        entries["data/aotinductor/model/model.so"] = b"\x7fELF"

    with pytest.raises(ModelLoadError, match="data/aotinductor/model/model.so"):
        load_model(_rewrite(exported["dynamic"], tmp_path / "aoti.pt2", compiled_code))
    assert not ours.exists()


def test_refuses_archives_that_would_run_code(tmp_path: Path, exported: dict[str, Path]) -> None:
    demo, ours = tmp_path / "demo-ran", tmp_path / "ours-ran"

    def expression(marker: Path) -> Any:
        payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
        return lambda entries: _edit_program(entries, lambda program: program.update(
            json.loads(json.dumps(program).replace(
                "Symbol('s77', positive=True, integer=True)", payload))))

    source = exported["dynamic"]
    assert b"Symbol('s77'" in zipfile.ZipFile(source).read("dynamic/models/model.json")
    try:  # sympify evaluates the expression text
        torch.export.load(_rewrite(source, tmp_path / "demo.pt2", expression(demo)))
    except Exception:
        pass
    assert demo.exists()
    with pytest.raises(ModelLoadError, match="shape expression .* is not plain arithmetic"):
        load_model(_rewrite(source, tmp_path / "expr.pt2", expression(ours)))

    def os_call(program: dict[str, Any]) -> None:
        program["graph_module"]["graph"]["nodes"][0]["target"] = "torch.os.system"

    with pytest.raises(ModelLoadError, match="calls 'torch.os.system', which is not a torch op"):
        load_model(_rewrite(source, tmp_path / "call.pt2",
                            lambda entries: _edit_program(entries, os_call)))

    def attribute_name(program: dict[str, Any]) -> None:
        spec = program["graph_module"]["signature"]["input_specs"][0]["parameter"]
        spec["parameter_name"] = 'conv1.weight"); import os; os.system("true'

    with pytest.raises(ModelLoadError, match="parameter_name .* is not a dotted name"):
        load_model(_rewrite(source, tmp_path / "name.pt2",
                            lambda entries: _edit_program(entries, attribute_name)))

    twice = _rewrite(source, tmp_path / "twice.pt2", lambda entries: None)
    with warnings.catch_warnings(), zipfile.ZipFile(twice, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        archive.writestr("dynamic/models/model.json", b"{}")
    with pytest.raises(ModelLoadError, match="two entries of the same name"):
        load_model(twice)
    assert not ours.exists()


def test_guard_code_in_the_archive_is_never_run(tmp_path: Path, exported: dict[str, Path],
                                                resnet: torch.nn.Module) -> None:
    demo, ours = tmp_path / "demo-ran", tmp_path / "ours-ran"

    def guard(marker: Path) -> Any:
        code = f"open({str(marker)!r}, 'w') is not None"
        return lambda entries: _edit_program(entries, lambda program: program.update(
            guards_code=[code]))

    demo_path = _rewrite(exported["dynamic"], tmp_path / "demo.pt2", guard(demo))
    torch.export.load(demo_path).module()(torch.zeros(1, 3, *SIZE))  # torch runs the guard
    assert demo.exists()
    model = load_model(_rewrite(exported["dynamic"], tmp_path / "guard.pt2", guard(ours)),
                       device="cpu")
    images = _images(2)
    np.testing.assert_allclose(model.predict(images), _torch_model(resnet).predict(images),
                               atol=1e-4)
    assert not ours.exists()


def test_unreadable_files_name_the_supported_formats(tmp_path: Path,
                                                     exported: dict[str, Path]) -> None:
    broken = tmp_path / "broken.pt2"
    broken.write_bytes(b"not an archive at all" * 10)
    with pytest.raises(ModelLoadError, match="not a torch.export archive.*ONNX.*Hugging Face"):
        load_model(broken)
    checkpoint = tmp_path / "weights.pt2"
    torch.save({"conv.weight": torch.zeros(2, 3)}, checkpoint)
    with pytest.raises(ModelLoadError, match="not a torch.export archive .*safetensors"):
        load_model(checkpoint)
    picture = tmp_path / "model.pt"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ModelLoadError, match="not a PyTorch checkpoint.*torch.export.*ONNX"):
        load_model(picture)
    alone = tmp_path / "alone.pt2"
    alone.write_bytes(exported["dynamic"].read_bytes())
    with pytest.raises(ModelLoadError, match="without class names.*alone.pt2.json"):
        load_model(alone)
    _sidecar(alone, input_size=[48, 48])
    with pytest.raises(ModelLoadError, match=r"'input_size' is \[48, 48\] but"):
        load_model(alone)
