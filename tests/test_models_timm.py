"""timm models: ``--arch timm/NAME`` over a state_dict, a .safetensors file and a timm training
checkpoint; timm's pretrained config for the preprocessing; bundles; every method."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from model_checks import (
    assert_saliency_matches_captum,
    assert_same_logits,
    load_errors_without,
    run_methods,
)

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

from leakview.models import (  # noqa: E402 (after the optional imports)
    ModelLoadError,
    ModelSpec,
    ModelSpecNeeded,
    load_model,
    save_bundle,
)

CLASSES = ("cat", "dog", "owl")
# (timm name, create_model keyword arguments beyond the name): a tiny CNN and a tiny ViT.
MODELS = {
    "resnet10t": {},
    "vit_tiny_patch16_224": {"img_size": 32},
}


@pytest.fixture(scope="module")
def originals() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {name: timm.create_model(name, pretrained=False, num_classes=len(CLASSES),
                                    **kwargs).eval()
            for name, kwargs in MODELS.items()}


def _save(form: str, folder: Path, name: str, module: torch.nn.Module,
          model_kwargs: dict[str, object] | None = None) -> Path:
    if form == "safetensors":
        path = folder / f"{name}.safetensors"
        safetensors_torch.save_file(module.state_dict(), str(path))
    elif form == "state_dict":
        path = folder / f"{name}.pth"
        torch.save(module.state_dict(), path)
    else:  # what timm's train.py (CheckpointSaver) writes, args an argparse.Namespace
        path = folder / f"{name}-checkpoint.pth.tar"
        args = argparse.Namespace(model=name, model_kwargs=model_kwargs or {}, img_size=None,
                                  input_size=None,
                                  mean=None, std=None, num_classes=len(CLASSES), lr=0.1)
        torch.save({"epoch": 4, "arch": name, "state_dict": module.state_dict(),
                    "optimizer": {"state": {}, "param_groups": []}, "version": 2,
                    "args": args}, path)
    return path


@pytest.mark.parametrize("form", ["state_dict", "safetensors", "checkpoint"])
@pytest.mark.parametrize("name", list(MODELS))
def test_timm_weights_load_with_the_original_logits(tmp_path: Path, originals, name: str,
                                                    form: str) -> None:
    path = _save(form, tmp_path, name, originals[name])
    arch = None if form == "checkpoint" else f"timm/{name}"  # a checkpoint names its arch
    loaded = load_model(path, device="cpu",
                        spec=ModelSpec(arch=arch, classes=CLASSES, input_size=(32, 32)))
    assert (loaded.kind, loaded.arch, loaded.classes) == ("timm", f"timm/{name}", list(CLASSES))
    assert loaded.input_size == (32, 32) and loaded.channels == 3
    cfg = originals[name].pretrained_cfg
    assert loaded.mean == pytest.approx(cfg["mean"]) and loaded.std == pytest.approx(cfg["std"])
    assert f"mean/std from timm's pretrained config for {name}" in loaded.notes
    assert_same_logits(loaded, originals[name])


def test_pretrained_config_gives_what_the_user_does_not(tmp_path: Path, originals) -> None:
    path = _save("safetensors", tmp_path, "resnet10t", originals["resnet10t"])
    spec = ModelSpec(arch="timm/resnet10t", classes=CLASSES)
    loaded = load_model(path, device="cpu", spec=spec)
    assert loaded.input_size == (176, 176)  # resnet10t's pretrained input size
    assert loaded.mean == pytest.approx((0.485, 0.456, 0.406))
    assert "input size/mean/std from timm's pretrained config for resnet10t" in loaded.notes
    given = load_model(path, device="cpu", spec=ModelSpec(
        arch="timm/resnet10t", classes=CLASSES, input_size=(48, 40), mean=(0.1, 0.2, 0.3),
        std=(0.3, 0.2, 0.1)))
    assert given.input_size == (48, 40) and given.std == pytest.approx((0.3, 0.2, 0.1))
    assert not any("pretrained config" in note for note in given.notes)


def test_checkpoint_pretrained_cfg_and_model_kwargs_are_used(tmp_path: Path) -> None:
    torch.manual_seed(1)
    tiny = timm.create_model("vit_tiny_patch16_224", num_classes=2, img_size=48, depth=2).eval()
    cfg = {**tiny.pretrained_cfg, "mean": (0.1, 0.2, 0.3), "std": (0.4, 0.5, 0.6),
           "input_size": (3, 48, 48)}
    path = tmp_path / "ck.pth"
    torch.save({"arch": "vit_tiny_patch16_224", "state_dict": tiny.state_dict(),
                "state_dict_ema": tiny.state_dict(), "version": 2, "pretrained_cfg": cfg,
                "args": argparse.Namespace(model="vit_tiny_patch16_224",
                                           model_kwargs={"depth": 2, "checkpoint_path": "x"})},
               path)
    loaded = load_model(path, device="cpu", spec=ModelSpec(classes=("a", "b")))
    assert loaded.input_size == (48, 48)
    assert loaded.mean == pytest.approx((0.1, 0.2, 0.3))
    assert loaded.std == pytest.approx((0.4, 0.5, 0.6))
    assert loaded.extra == {"timm_kwargs": {"depth": 2}}  # checkpoint_path never taken
    assert any("EMA" in note for note in loaded.notes)
    assert_same_logits(loaded, tiny)
    with pytest.raises(ModelLoadError, match=r"given mean \[0.5, 0.5, 0.5\] contradicts"):
        load_model(path, device="cpu", spec=ModelSpec(classes=("a", "b"), mean=(0.5,) * 3))

    bundle = tmp_path / "tiny.pt"
    save_bundle(bundle, loaded.module, loaded.arch, loaded.classes, loaded.input_size,
                loaded.mean, loaded.std, **loaded.extra)
    again = load_model(bundle, device="cpu")
    assert (again.kind, again.arch, again.mean) == ("bundle", loaded.arch, loaded.mean)
    assert_same_logits(again, tiny)


def test_gray_timm_model_reads_one_channel(tmp_path: Path) -> None:
    gray = timm.create_model("resnet10t", num_classes=2, in_chans=1).eval()
    path = tmp_path / "gray.safetensors"
    safetensors_torch.save_file(gray.state_dict(), str(path))
    loaded = load_model(path, device="cpu", spec=ModelSpec(arch="timm/resnet10t",
                                                           classes=("a", "b"),
                                                           input_size=(32, 32)))
    assert loaded.channels == 1 and len(loaded.mean) == 1 and len(loaded.std) == 1
    assert loaded.mean[0] == pytest.approx(sum((0.485, 0.456, 0.406)) / 3)
    assert_same_logits(loaded, gray)


def test_wrapped_state_dict_loses_its_prefix(tmp_path: Path, originals) -> None:
    original = originals["resnet10t"]
    path = tmp_path / "parallel.pth"  # what DataParallel / DistributedDataParallel saves
    torch.save({f"module.{key}": value for key, value in original.state_dict().items()}, path)
    loaded = load_model(path, device="cpu", spec=ModelSpec(arch="timm/resnet10t",
                                                           classes=CLASSES, input_size=(32, 32)))
    assert "key prefix 'module.' stripped (a wrapped model's state_dict)" in loaded.notes
    assert_same_logits(loaded, original)


def test_what_timm_weights_do_not_say_is_asked_for(tmp_path: Path, originals) -> None:
    checkpoint = _save("checkpoint", tmp_path, "resnet10t", originals["resnet10t"])
    with pytest.raises(ModelSpecNeeded, match="the weights have 3 outputs") as needed:
        load_model(checkpoint, device="cpu")
    assert needed.value.missing == ("classes",)
    assert needed.value.guessed_arch == "timm/resnet10t"
    with pytest.raises(ModelLoadError, match="3 outputs but 2 classes were given"):
        load_model(checkpoint, device="cpu", spec=ModelSpec(classes=("a", "b")))
    with pytest.raises(ModelLoadError, match="given arch 'timm/resnet18' contradicts"):
        load_model(checkpoint, device="cpu", spec=ModelSpec(arch="timm/resnet18",
                                                            classes=CLASSES))


def test_bad_timm_inputs_are_refused_with_the_reason(tmp_path: Path, originals) -> None:
    vit = _save("safetensors", tmp_path, "vit", originals["vit_tiny_patch16_224"])
    with pytest.raises(ModelLoadError, match=r"pos_embed .*--input-size"):
        load_model(vit, device="cpu", spec=ModelSpec(arch="timm/vit_tiny_patch16_224",
                                                     classes=CLASSES))  # 224 px by default
    with pytest.raises(ModelLoadError, match="unknown timm architecture 'no_such_net'"):
        load_model(vit, device="cpu", spec=ModelSpec(arch="timm/no_such_net", classes=CLASSES))
    with pytest.raises(ModelLoadError, match="does not fit architecture 'timm/resnet10t'"):
        load_model(vit, device="cpu", spec=ModelSpec(arch="timm/resnet10t", classes=CLASSES,
                                                     input_size=(32, 32)))
    disguised = tmp_path / "pickled.safetensors"  # a pickle payload behind the safe name
    torch.save({"state_dict": originals["resnet10t"].state_dict(), "arch": "resnet10t"},
               disguised)
    with pytest.raises(ModelLoadError, match="named .safetensors but it holds pickle"):
        load_model(disguised, device="cpu", spec=ModelSpec(arch="timm/resnet10t",
                                                           classes=CLASSES))


@pytest.mark.parametrize("name,methods", [
    ("resnet10t", ("saliency", "gradcam", "lime")),
    ("vit_tiny_patch16_224", ("saliency", "gradcam", "lime")),
])
def test_methods_run_on_timm_models(tmp_path: Path, originals, name: str, methods) -> None:
    kwargs = {"depth": 2} if name.startswith("vit") else {}  # 2 of its 12 blocks: fast
    module = timm.create_model(name, num_classes=len(CLASSES), **MODELS[name], **kwargs)
    path = _save("checkpoint", tmp_path, name, module, model_kwargs=kwargs)
    loaded = load_model(path, device="cpu", spec=ModelSpec(classes=CLASSES,
                                                           input_size=(32, 32)))
    assert_saliency_matches_captum(loaded)
    run_methods(loaded, methods)


def test_missing_timm_names_the_extra(tmp_path: Path, originals) -> None:
    path = _save("checkpoint", tmp_path, "resnet10t", originals["resnet10t"])
    lines = load_errors_without("timm", path, (
        "ModelSpec(arch='timm/resnet10t', classes=('a', 'b', 'c'))", "None"))
    assert len(lines) == 2
    assert all(line.endswith("needs the timm package: pip install 'leakview[timm]'")
               for line in lines)
