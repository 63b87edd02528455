"""Grad-CAM on vision transformers (torchvision, timm, Hugging Face ViT; DeiT, register
tokens, global-average-pool heads, Swin) equals pytorch-grad-cam's GradCAM with its ViT
``reshape_transform`` on the layer it recommends (the last block's norm before attention)."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from leakview.attribution import explain, find_gradcam_layer
from leakview.attribution.gradcam_layers import choose_gradcam_layer
from leakview.models import LoadedModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")
timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")
transformers = pytest.importorskip("transformers")
pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

SIZE = (32, 32)
GRID = 4  # 32 px / patch 8 (Swin: 32 / 4 patches merged once)
TIMM_VIT = {"img_size": 32, "patch_size": 8, "depth": 2, "num_classes": 3, "pretrained": False}


class HFLogits(nn.Module):
    """A Hugging Face image classifier as a module returning its logits tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


def torchvision_vit() -> nn.Module:
    module = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=3)
    nn.init.normal_(module.heads.head.weight)  # torchvision starts the head at zero
    return module


def hf_vit() -> nn.Module:
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32,
                                    num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, num_labels=3)
    return HFLogits(transformers.ViTForImageClassification(config))


def hf_last_norm_before(wrapper: nn.Module) -> nn.Module:
    vit = wrapper.model.vit
    layers = vit.encoder.layer if hasattr(vit, "encoder") else vit.layers  # transformers 4 / 5
    return layers[-1].layernorm_before


def timm_swin() -> nn.Module:
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=32,
                             patch_size=4, window_size=2, depths=(1, 1), num_heads=(1, 1),
                             embed_dim=16, num_classes=3)


# name: (factory, expected layer (name or the module's finder), patch-embedding conv,
#        prefix tokens, reshape, kind)
CASES: dict[str, tuple[Callable[[], nn.Module], str | Callable[[nn.Module], nn.Module], str,
                       int, str, str]] = {
    "torchvision_vit": (torchvision_vit, "encoder.layers.encoder_layer_1.ln_1", "conv_proj",
                        1, "tokens", "torchvision"),
    "timm_vit": (lambda: timm.create_model("vit_tiny_patch16_224", **TIMM_VIT),
                 "blocks.1.norm1", "patch_embed.proj", 1, "tokens", "timm"),
    "hf_vit": (hf_vit, hf_last_norm_before, "model.vit.embeddings.patch_embeddings.projection",
               1, "tokens", "huggingface"),
    # global average pool, no class token, fc_norm on the pooled vector: the last norm that
    # reaches the logit is blocks.1.norm2, its block's first norm is norm1
    "timm_vit_avg": (lambda: timm.create_model("vit_tiny_patch16_224", **TIMM_VIT,
                                               global_pool="avg", class_token=False),
                     "blocks.1.norm1", "patch_embed.proj", 0, "tokens", "timm"),
    # global average pool over the final norm's tokens: the final norm (documented)
    "timm_vit_avg_final_norm": (lambda: timm.create_model("vit_tiny_patch16_224", **TIMM_VIT,
                                                          global_pool="avg", fc_norm=False),
                                "norm", "patch_embed.proj", 1, "tokens", "timm"),
    "timm_deit_distilled": (lambda: timm.create_model("deit_tiny_distilled_patch16_224",
                                                      **TIMM_VIT),
                            "blocks.1.norm1", "patch_embed.proj", 2, "tokens", "timm"),
    "timm_vit_registers": (lambda: timm.create_model("vit_tiny_patch16_224", **TIMM_VIT,
                                                     reg_tokens=4),
                           "blocks.1.norm1", "patch_embed.proj", 5, "tokens", "timm"),
    "timm_swin": (timm_swin, "norm", "patch_embed.proj", 0, "channels_last", "timm"),
}


def loaded(name: str) -> LoadedModel:
    torch.manual_seed(0)
    module = CASES[name][0]().eval()
    kind = CASES[name][5]
    arch = "hf/ViTForImageClassification" if kind == "huggingface" else name
    return LoadedModel(module=module, classes=["a", "b", "c"], input_size=SIZE, kind=kind,
                       arch=arch)


def expected_layer(name: str, module: nn.Module) -> str:
    expected = CASES[name][1]
    if isinstance(expected, str):
        return expected
    target = expected(module)
    return next(layer for layer, sub in module.named_modules() if sub is target)


def reference_cam(module: nn.Module, layer: str, batch: torch.Tensor, target: int,
                  prefix: int, reshape: str) -> np.ndarray:
    """pytorch-grad-cam's GradCAM; the reshape transforms of its ViT and Swin tutorials
    (docs: vision_transformers), with the prefix and grid this test knows."""

    def vit_reshape(tensor: torch.Tensor, height: int = GRID, width: int = GRID
                    ) -> torch.Tensor:
        result = tensor[:, prefix:, :].reshape(tensor.size(0), height, width, tensor.size(2))
        return result.transpose(2, 3).transpose(1, 2)

    def swin_reshape(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.transpose(2, 3).transpose(1, 2)

    transform = vit_reshape if reshape == "tokens" else swin_reshape
    target_layer = dict(module.named_modules())[layer]
    with pytorch_grad_cam.GradCAM(model=module, target_layers=[target_layer],
                                  reshape_transform=transform) as cam:
        result = cam(input_tensor=batch, targets=[ClassifierOutputTarget(target)])[0]
    module.zero_grad(set_to_none=True)
    return np.asarray(result)


def min_max(values: np.ndarray) -> np.ndarray:
    return (values - values.min()) / (values.max() - values.min())


@pytest.mark.parametrize("name", list(CASES))
def test_vit_gradcam_equals_pytorch_grad_cam(name: str) -> None:
    model = loaded(name)
    _, _, patch_conv, prefix, reshape, _ = CASES[name]
    layer = find_gradcam_layer(model)
    assert layer == expected_layer(name, model.module)
    image = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    result = explain(model, image, "gradcam", target=1)
    assert result.extras == {"layer": layer, "layer_source": "auto",
                             "feature_size": (GRID, GRID), "reshape": reshape,
                             "prefix_tokens": prefix}
    assert result.map.shape == (40, 48) and result.map_model.shape == SIZE
    assert all(p.grad is None for p in model.module.parameters())
    assert not any(m.training for m in model.module.modules())
    ours = result.map_model
    assert ours.min() >= 0 and ours.max() > ours.min()
    batch = model.preprocess_batch([image]).to(torch.float32)
    reference = reference_cam(model.module, layer, batch, 1, prefix, reshape)
    assert np.abs(min_max(ours) - reference).max() < 1e-4
    # not the patch embedding's map (today's detection before this change)
    patch = explain(model, image, "gradcam", target=1, layer=patch_conv)
    assert patch.extras["layer"] == patch_conv and "reshape" not in patch.extras
    assert np.abs(min_max(patch.map_model) - min_max(ours)).max() > 0.05


def test_a_token_layer_by_name_and_refusals() -> None:
    model = loaded("timm_deit_distilled")
    image = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    chosen = explain(model, image, "gradcam", target=0, layer="blocks.0.norm1")
    assert chosen.extras["layer_source"] == "option" and chosen.extras["prefix_tokens"] == 2
    reference = reference_cam(model.module, "blocks.0.norm1",
                              model.preprocess_batch([image]).to(torch.float32), 0, 2,
                              "tokens")
    assert np.abs(min_max(chosen.map_model) - reference).max() < 1e-4
    # the pooled head's input has no token grid
    with pytest.raises(ValueError, match=r"'head_drop' outputs \(1, 192\), not a 4-D feature "
                                         r"map N x C x h x w nor a token grid.*blocks\.1"):
        explain(model, image, "gradcam", layer="head_drop")


def test_a_model_without_feature_maps_or_tokens_is_refused_with_the_reason() -> None:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5), nn.ReLU(), nn.Linear(5, 2))
    model = LoadedModel(module=mlp.eval(), classes=["a", "b"], input_size=(8, 8))
    with pytest.raises(ValueError, match="no layer outputs a feature map N x C x h x w or a "
                                         "token grid"):
        find_gradcam_layer(model)


@pytest.mark.parametrize(("arch", "layer", "finer"), [
    ("resnet18", "layer4", "layer2"), ("convnext_atto", "norm_pre", "stages.2.downsample.0")])
def test_timm_cnn_detection_unchanged(arch: str, layer: str, finer: str) -> None:
    """ConvNeXt's channels-last LayerNorms inside its blocks do not switch on the
    transformer rule: the convolutional rule's choice stays (the same as before ViTs); at
    64 x 64 its 2 x 2 map is coarser than 7 x 7, so detection walks back to an 8 x 8 one."""
    torch.manual_seed(0)
    module = timm.create_model(arch, pretrained=False, num_classes=3).eval()
    model = LoadedModel(module=module, classes=["a", "b", "c"], input_size=(64, 64))
    choice = choose_gradcam_layer(model)
    assert (choice.last, choice.last_grid, choice.name, choice.grid) == (layer, (2, 2), finer,
                                                                         (8, 8))
    result = explain(model, np.zeros((64, 64, 3), dtype=np.uint8), "gradcam", target=0)
    assert "reshape" not in result.extras and np.isfinite(result.map).all()
