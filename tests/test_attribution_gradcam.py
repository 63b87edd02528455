"""Grad-CAM: localisation on a known model, automatic layer detection, layer choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from leakview.attribution import explain, find_gradcam_layer
from leakview.models import LoadedModel, build_architecture


class ColourNet(nn.Module):
    """Channel 0 detects red, channel 1 detects green; logit k = mean of channel k's map.
    On an image with a red square only, class 0's evidence lives in that square."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU())
        with torch.no_grad():
            self.features[0].weight.copy_(torch.tensor(
                [[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0]]).view(2, 3, 1, 1))
            self.features[0].bias.zero_()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def colour_model() -> LoadedModel:
    return LoadedModel(module=ColourNet().eval(), classes=["red", "green"], input_size=(16, 16),
                       mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def test_gradcam_peaks_on_the_evidence() -> None:
    image = np.full((32, 48, 3), 60, dtype=np.uint8)
    image[20:30, 30:44] = (230, 20, 20)
    result = explain(colour_model(), image, "gradcam", target=0)
    assert result.extras["layer"] == "features" and result.extras["layer_source"] == "auto"
    assert result.map.shape == (32, 48) and result.map_model.shape == (16, 16)
    row, col = np.unravel_index(np.argmax(result.map), result.map.shape)
    assert 20 <= row < 30 and 30 <= col < 44
    inside = np.zeros(result.map.shape, dtype=bool)
    inside[19:31, 29:45] = True
    assert result.map[inside].sum() > 0.95 * result.map.sum()
    assert result.map.min() >= 0


ARCH_LAYERS = {
    "resnet18": "layer4",
    "mobilenet_v3_small": "features",
    "efficientnet_b0": "features",
    "vgg11": "features.19",
    "densenet121": "features",
    "convnext_tiny": "features",
}


@pytest.mark.parametrize("arch", list(ARCH_LAYERS))
def test_layer_detection_on_torchvision(arch: str) -> None:
    torch.manual_seed(0)
    model = LoadedModel(module=build_architecture(arch, 3, (32, 32)).eval(),
                        classes=["a", "b", "c"], input_size=(32, 32))
    name = find_gradcam_layer(model)
    assert name == ARCH_LAYERS[arch]
    image = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    result = explain(model, image, "gradcam", target=1)
    assert result.extras["layer"] == name
    assert result.map.shape == (40, 50) and np.isfinite(result.map).all()
    assert all(p.grad is None for p in model.module.parameters())
    assert not any(m.training for m in model.module.modules())


@pytest.fixture(scope="module")
def resnet() -> LoadedModel:
    torch.manual_seed(0)
    return LoadedModel(module=build_architecture("resnet18", 3, (64, 64)).eval(),
                       classes=["a", "b", "c"], input_size=(64, 64))


def test_layer_override_bundle_and_errors(resnet: LoadedModel) -> None:
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    chosen = explain(resnet, image, "gradcam", layer="layer3")
    assert chosen.extras["layer"] == "layer3" and chosen.extras["layer_source"] == "option"
    assert chosen.extras["feature_size"] == (4, 4)
    assert chosen.options == {"layer": "layer3"}
    bundled = LoadedModel(module=resnet.module, classes=resnet.classes, input_size=(64, 64),
                          extra={"gradcam_layer": "layer2"})
    result = explain(bundled, image, "gradcam")
    assert result.extras["layer"] == "layer2" and result.extras["layer_source"] == "bundle"
    with pytest.raises(ValueError, match="no module named 'layer9'.*layer4"):
        explain(resnet, image, "gradcam", layer="layer9")
    with pytest.raises(ValueError, match="not a 4-D feature map"):
        explain(resnet, image, "gradcam", layer="fc")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_torchscript_gets_a_clear_error() -> None:
    model = colour_model()
    scripted = LoadedModel(module=torch.jit.script(model.module), classes=model.classes,
                           input_size=(16, 16), mean=model.mean, std=model.std)
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="TorchScript"):
        explain(scripted, image, "gradcam")
