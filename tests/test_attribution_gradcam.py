"""Grad-CAM: localisation on a known model, automatic layer detection, layer choice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from leakview.attribution import explain, find_gradcam_layer
from leakview.attribution.gradcam_layers import MIN_GRID, choose_gradcam_layer
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


ARCH_LAYERS = {  # arch: (the last feature map's layer, 1 x 1 or 2 x 2 at 32 x 32; the
    # deepest block output of at least 7 x 7 that detection walks back to: 8 x 8)
    "resnet18": ("layer4", "layer1"),
    "mobilenet_v3_small": ("features", "features.2.block.0"),
    "efficientnet_b0": ("features", "features.3.0.block.0"),
    "vgg11": ("features.19", "features.9"),
    "densenet121": ("features", "features.transition1.conv"),
    "convnext_tiny": ("features", "features.2.0"),
}


@pytest.mark.parametrize("arch", list(ARCH_LAYERS))
def test_layer_detection_on_torchvision(arch: str) -> None:
    torch.manual_seed(0)
    model = LoadedModel(module=build_architecture(arch, 3, (32, 32)).eval(),
                        classes=["a", "b", "c"], input_size=(32, 32))
    last, finer = ARCH_LAYERS[arch]
    choice = choose_gradcam_layer(model)
    assert (choice.last, choice.name, choice.grid) == (last, finer, (8, 8))
    assert find_gradcam_layer(model) == finer
    image = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    result = explain(model, image, "gradcam", target=1)
    assert result.extras["layer"] == finer and result.extras["feature_size"] == (8, 8)
    assert result.extras["last_layer"] == last
    assert min(result.extras["last_feature_size"]) < MIN_GRID
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


def strided_net() -> nn.Module:
    """Three stride-2 convolutions: the last map is input / 8 a side."""
    layers: list[nn.Module] = []
    for channels_in, channels_out in ((3, 4), (4, 6), (6, 8)):
        layers += [nn.Conv2d(channels_in, channels_out, 3, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


@pytest.mark.parametrize(("side", "layer", "grid", "last"), [
    (56, "5", (7, 7), None),       # the last map is 7 x 7: kept
    (48, "3", (12, 12), "5"),      # 6 x 6: walk back to the 12 x 12 one
    (8, "5", (1, 1), None),        # nothing reaches 7 x 7: the last map stays
])
def test_detection_walks_back_only_from_a_map_coarser_than_7x7(
        side: int, layer: str, grid: tuple[int, int], last: str | None) -> None:
    torch.manual_seed(0)
    model = LoadedModel(module=strided_net().eval(), classes=["a", "b"], input_size=(side, side))
    assert choose_gradcam_layer(model) == choose_gradcam_layer(model)  # cached, same answer
    choice = choose_gradcam_layer(model)
    assert (choice.name, choice.grid, choice.last) == (layer, grid, last)
    image = np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    result = explain(model, image, "gradcam", target=0)
    assert result.extras["layer"] == layer and result.extras["feature_size"] == grid
    assert ("last_layer" in result.extras) == (last is not None)
    # the option overrides the automatic choice and records no walk-back
    forced = explain(model, image, "gradcam", target=0, layer="1")
    assert forced.extras["layer"] == "1" and forced.extras["layer_source"] == "option"
    assert "last_layer" not in forced.extras


def demo_leaky_and_image() -> tuple[LoadedModel, np.ndarray]:
    from leakview.images import load_image
    from leakview.models import load_model
    from leakview.resources import demo_images_dir, demo_model_path

    model = load_model(demo_model_path("leaky"), device="cpu")
    return model, load_image(sorted(demo_images_dir().glob("corn/*.png"))[0])


def pytorch_grad_cam_map(model: LoadedModel, image: np.ndarray, layer: str,
                         target: int) -> np.ndarray:
    """pytorch-grad-cam's GradCAM (min-max scaled, at the model's input size)."""
    pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    module = model.module
    batch = model.preprocess_batch([image]).to(torch.float32)
    with pytorch_grad_cam.GradCAM(model=module,
                                  target_layers=[dict(module.named_modules())[layer]]) as cam:
        result = cam(input_tensor=batch, targets=[ClassifierOutputTarget(target)])[0]
    module.zero_grad(set_to_none=True)
    return np.asarray(result)


def min_max(values: np.ndarray) -> np.ndarray:
    return (values - values.min()) / (values.max() - values.min())


def test_demo_model_walks_back_to_stage2_and_equals_pytorch_grad_cam_there() -> None:
    """shufflenet_v2 at 96 x 128 ends on a 3 x 4 map (conv5); detection takes stage2 (12 x 16,
    the last block output of at least 7 x 7: not stage3.0's 12 x 16 branch convolution, which
    a bypass skips), and the map is pytorch-grad-cam's GradCAM on that layer."""
    model, image = demo_leaky_and_image()
    result = explain(model, image, "gradcam")
    assert result.extras == {"layer": "stage2", "layer_source": "auto",
                             "feature_size": (12, 16), "last_layer": "conv5",
                             "last_feature_size": (3, 4)}
    assert result.map_model.shape == (96, 128) and result.map.shape == image.shape[:2]
    reference = pytorch_grad_cam_map(model, image, "stage2", result.target)
    assert np.abs(min_max(result.map_model) - reference).max() < 1e-4
    # the layer option still gives the last map, also equal to pytorch-grad-cam's
    last = explain(model, image, "gradcam", layer="conv5")
    assert last.extras == {"layer": "conv5", "layer_source": "option", "feature_size": (3, 4)}
    reference = pytorch_grad_cam_map(model, image, "conv5", last.target)
    assert np.abs(min_max(last.map_model) - reference).max() < 1e-4
    assert np.abs(min_max(last.map_model) - min_max(result.map_model)).max() > 0.2
    assert all(p.grad is None for p in model.module.parameters())


def test_info_names_the_layer_grad_cam_uses(capsys) -> None:
    from leakview.cli import main
    from leakview.resources import demo_model_path

    assert main(["info", str(demo_model_path("leaky")), "--device", "cpu"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines()
               if line.split()[0] == "gradcam"]
    assert line.split(None, 1)[1] == (
        "available (detected layer stage2, 12 x 16 cells; the last feature map, conv5, is "
        "3 x 4: coarser than 7 x 7)")
    assert main(["info", str(demo_model_path("leaky")), "--device", "cpu", "--json"]) == 0
    gradcam = json.loads(capsys.readouterr().out)["methods"]["gradcam"]
    assert gradcam == {"available": True, "layer": "stage2", "layer_source": "auto",
                       "feature_size": [12, 16], "last_layer": "conv5",
                       "last_feature_size": [3, 4]}
