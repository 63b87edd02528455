"""Hugging Face transformers image classifiers: a local save_pretrained folder opens directly
(classes from id2label, preprocessing from preprocessor_config.json), refusals before anything
runs, bundles, every method."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from model_checks import (
    assert_saliency_matches_captum,
    assert_same_logits,
    images,
    load_errors_without,
    run_methods,
)

os.environ["HF_HUB_OFFLINE"] = "1"
transformers = pytest.importorskip("transformers")

from leakview.attribution import explain  # noqa: E402 (after the optional imports)
from leakview.models import (  # noqa: E402
    ModelLoadError,
    ModelSpec,
    load_model,
    save_bundle,
)

LABELS = {0: "wheat", 1: "corn", 2: "empty"}
GRADCAM_LAYERS = {"resnet": ("hf.resnet.encoder.stages.1", "hf.resnet.encoder"),
                  "convnext": ("hf.convnext.encoder.stages.1", "hf.convnext.encoder"),
                  "vit": ("hf.vit.layers.1.layernorm_before",
                          "hf.vit.encoder.layer.1.layernorm_before")}


def _vit() -> torch.nn.Module:
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32,
                                    num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, id2label=LABELS,
                                    label2id={name: i for i, name in LABELS.items()})
    return transformers.ViTForImageClassification(config).eval()


def _resnet() -> torch.nn.Module:  # default labels: LABEL_0, LABEL_1
    config = transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                       layer_type="basic", num_labels=2)
    return transformers.ResNetForImageClassification(config).eval()


def _convnext() -> torch.nn.Module:
    config = transformers.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1],
                                         id2label={0: "ok", 1: "leak"})
    return transformers.ConvNextForImageClassification(config).eval()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, torch.nn.Module]]:
    """Each tiny model saved with save_pretrained (safetensors, transformers' default)."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    made = {}
    for name, make in (("vit", _vit), ("resnet", _resnet), ("convnext", _convnext)):
        model = make()
        model.save_pretrained(root / name)
        made[name] = (root / name, model)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.4, 0.5, 0.6],
                                   image_std=[0.2, 0.25, 0.3]).save_pretrained(root / "vit")
    transformers.ConvNextImageProcessor(size={"shortest_edge": 40}).save_pretrained(
        root / "convnext")
    return made


def test_vit_folder_opens_with_its_labels_and_processor(folders) -> None:
    folder, original = folders["vit"]
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    loaded = load_model(folder, device="cpu")
    assert (loaded.kind, loaded.arch) == ("huggingface", "hf/ViTForImageClassification")
    assert loaded.classes == ["wheat", "corn", "empty"] and loaded.channels == 3
    assert loaded.input_size == (32, 32)
    assert loaded.mean == pytest.approx((0.4, 0.5, 0.6))
    assert loaded.std == pytest.approx((0.2, 0.25, 0.3))
    assert loaded.notes == []
    assert_same_logits(loaded, original)
    inner = {name for name, _ in loaded.module.named_modules()}
    assert {f"hf.{name}" for name, _ in original.named_modules() if name} <= inner


def test_folder_without_processor_or_names_says_so(folders) -> None:
    folder, original = folders["resnet"]
    loaded = load_model(folder, device="cpu")
    assert loaded.classes == ["LABEL_0", "LABEL_1"]
    assert loaded.input_size == (224, 224)
    assert loaded.mean == pytest.approx((0.485, 0.456, 0.406))
    assert any("LABEL_0" in note for note in loaded.notes)
    assert any("no preprocessor_config.json" in note for note in loaded.notes)
    named = load_model(folder, device="cpu", spec=ModelSpec(classes=("real", "fake"),
                                                            input_size=(32, 32)))
    assert named.classes == ["real", "fake"] and named.input_size == (32, 32)
    assert_same_logits(named, original)
    with pytest.raises(ModelLoadError, match="2 outputs but 3 classes were given"):
        load_model(folder, device="cpu", spec=ModelSpec(classes=("a", "b", "c")))


def test_processor_edge_size_and_contradictions(folders) -> None:
    folder, original = folders["convnext"]
    loaded = load_model(folder, device="cpu")
    assert loaded.classes == ["ok", "leak"] and loaded.input_size == (40, 40)
    assert any("edge size" in note for note in loaded.notes)
    assert_same_logits(loaded, original)
    with pytest.raises(ModelLoadError, match=r"given classes \['leak', 'ok'\] contradicts"):
        load_model(folder, device="cpu", spec=ModelSpec(classes=("leak", "ok")))
    with pytest.raises(ModelLoadError, match="given arch 'timm/convnext_atto' contradicts"):
        load_model(folder, device="cpu", spec=ModelSpec(arch="timm/convnext_atto"))


@pytest.mark.parametrize("name", ["vit", "resnet"])
def test_hf_model_converts_to_a_bundle(tmp_path: Path, folders, name: str) -> None:
    folder, original = folders[name]
    loaded = load_model(folder, device="cpu")
    path = save_bundle(tmp_path / f"{name}.pt", loaded.module, loaded.arch, loaded.classes,
                       loaded.input_size, loaded.mean, loaded.std, **loaded.extra)
    bundle = load_model(path, device="cpu")
    assert (bundle.kind, bundle.arch, bundle.classes) == ("bundle", loaded.arch, loaded.classes)
    assert_same_logits(bundle, original)


def test_refusals_run_nothing(tmp_path: Path, folders) -> None:
    folder, original = folders["vit"]
    remote = tmp_path / "remote"
    original.save_pretrained(remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForImageClassification": "evil.EvilModel"}
    (remote / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "ran"
    (remote / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(ModelLoadError, match="auto_map.*remote code"):
        load_model(remote, device="cpu")
    assert not marker.exists()

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((folder / "config.json").read_text())
    torch.save(original.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match=r"pickled.*safe_serialization=True"):
        load_model(pickled, device="cpu")

    base = tmp_path / "base"
    transformers.ViTModel(original.config).save_pretrained(base)
    with pytest.raises(ModelLoadError, match="ViTModel is not an image-classification model"):
        load_model(base, device="cpu")

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="is a folder, not a model file"):
        load_model(plain, device="cpu")

    mixed = tmp_path / "mixed"  # ResNet weights under the ViT's config
    mixed.mkdir()
    (mixed / "config.json").write_text((folder / "config.json").read_text())
    (mixed / "model.safetensors").write_bytes(
        (folders["resnet"][0] / "model.safetensors").read_bytes())
    with pytest.raises(ModelLoadError, match="does not fit config.json"):
        load_model(mixed, device="cpu")


@pytest.mark.parametrize("name,methods", [
    ("resnet", ("saliency", "gradcam", "lime")),
    ("convnext", ("saliency", "gradcam", "lime")),
    ("vit", ("saliency", "gradcam", "lime")),
])
def test_methods_run_on_hf_models(folders, name: str, methods) -> None:
    # the ResNet folder has no preprocessor_config.json: 32 px instead of 224 for speed
    loaded = load_model(folders[name][0], device="cpu", spec=ModelSpec(input_size=(32, 32))
                        if name == "resnet" else None)
    assert_saliency_matches_captum(loaded)
    run_methods(loaded, methods)
    if "gradcam" in methods:  # the last feature map of the HF model's own layers (or the
        # one detection walked back from, when that map is coarser than 7 x 7)
        extras = explain(loaded, images(1)[0], "gradcam", target=0).extras
        assert extras.get("last_layer", extras["layer"]) in GRADCAM_LAYERS[name]
        assert extras["layer"].startswith("hf.") and min(extras["feature_size"]) >= (
            7 if "last_layer" in extras else 1)


def test_missing_transformers_names_the_extra(folders) -> None:
    lines = load_errors_without("transformers", folders["vit"][0])
    assert len(lines) == 1
    assert lines[0].endswith("needs the transformers package: pip install 'leakview[hf]'")
