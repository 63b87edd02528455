"""LIME: correctness on a known model, the vectorised perturbations, determinism,
progressive fits, cancellation and early stop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import pairwise_distances
from torch import nn

from leakview.attribution import Cancelled, build_perturbations, explain, segment
from leakview.attribution.lime_superpixels import (
    cosine_distances_to_ones,
    grid_segments,
    lime_kernel,
    make_fill,
    superpixel_means,
)
from leakview.models import LoadedModel


def block_image(seed: int = 0, blocks: int = 4, size: int = 8) -> np.ndarray:
    """A grid of flat colour blocks: SLIC recovers one superpixel per block."""
    colours = np.random.default_rng(seed).integers(0, 256, (blocks, blocks, 3))
    return np.kron(colours, np.ones((size, size, 1))).astype(np.uint8)


class RegionBrightness(nn.Module):
    """logit 0 = 4 x mean brightness of a fixed region; logits 1, 2 = 0."""

    def __init__(self, region: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("region", torch.from_numpy(region.astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x * self.region).sum(dim=(1, 2, 3)) / (3 * self.region.sum())
        zeros = torch.zeros_like(score)
        return torch.stack([4 * score, zeros, zeros], dim=1)


class Counting(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(x)


def wrap(module: nn.Module, size: int = 32) -> LoadedModel:
    return LoadedModel(module=module.eval(), classes=["a", "b", "c"], input_size=(size, size),
                       mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def model_res_segments(image: np.ndarray, superpixels: int = 16) -> np.ndarray:
    """The segmentation lime computes inside (image already at model resolution)."""
    pixels = (torch.from_numpy(image).permute(2, 0, 1).float() / 255.0)
    return segment(pixels.permute(1, 2, 0).double().numpy(), "slic", superpixels)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, int]:
    image = block_image()
    segments = model_res_segments(image)
    assert segments.max() + 1 == 16
    chosen = int(segments[20, 20])
    return image, segments, chosen


def test_lime_finds_the_superpixel_the_model_uses(scene) -> None:
    image, segments, chosen = scene
    model = wrap(RegionBrightness(segments == chosen))
    result = explain(model, image, "lime", target=0, samples=300, superpixels=16,
                     fill="constant", fill_value="0")
    np.testing.assert_array_equal(result.extras["segments"], segments)
    weights = result.extras["weights"]
    assert weights.shape == (16,)
    assert int(np.argmax(weights)) == chosen
    others = np.delete(weights, chosen)
    assert weights[chosen] > 10 * np.abs(others).max()
    assert result.signed and result.target == 0 and result.target_name == "a"
    # the map paints each superpixel with its weight
    np.testing.assert_allclose(result.map_model, weights[segments].astype(np.float32))
    assert result.map.shape == image.shape[:2]
    assert result.extras["samples_used"] == 300 and result.extras["score"] > 0.9


def test_lime_on_an_upscaled_image_keeps_model_resolution(scene) -> None:
    image, segments, chosen = scene
    model = wrap(RegionBrightness(segments == chosen))
    big = np.kron(image, np.ones((3, 2, 1), dtype=np.uint8))       # 96 x 64
    result = explain(model, big, "lime", target=0, samples=200, superpixels=16,
                     fill="constant")
    assert result.map.shape == (96, 64) and result.map_model.shape == (32, 32)
    top = result.extras["segments"] == int(np.argmax(result.extras["weights"]))
    assert (top & (segments == chosen)).sum() > 0.8 * (segments == chosen).sum()


def naive_perturbations(image: np.ndarray, fill: np.ndarray, segments: np.ndarray,
                        rows: np.ndarray) -> np.ndarray:
    out = []
    for row in rows:
        sample = image.copy()
        for superpixel in np.flatnonzero(row == 0):
            sample[:, segments == superpixel] = fill[:, segments == superpixel]
        out.append(sample)
    return np.stack(out)


def test_vectorised_perturbations_match_the_definition() -> None:
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 7, 5)).astype(np.float32)
    fill = rng.normal(size=(3, 7, 5)).astype(np.float32)
    segments = rng.integers(0, 6, (7, 5))
    rows = rng.integers(0, 2, (9, 6)).astype(np.uint8)
    rows[0] = 1
    built = build_perturbations(torch.from_numpy(image), torch.from_numpy(fill),
                                torch.from_numpy(segments), torch.from_numpy(rows))
    np.testing.assert_array_equal(built.numpy(), naive_perturbations(image, fill, segments, rows))
    np.testing.assert_array_equal(built[0].numpy(), image)


def test_fills_match_their_definitions() -> None:
    image = block_image(seed=3)
    model = wrap(nn.Identity(), 32)
    model.mean, model.std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    normalised = model.preprocess(image)
    segments = torch.from_numpy(grid_segments(32, 32, 9).astype(np.int64))
    means = superpixel_means(normalised, segments, 9).numpy()
    for label in range(9):
        inside = segments.numpy() == label
        for channel in range(3):
            expected = normalised[channel].numpy()[inside].mean()
            np.testing.assert_allclose(means[channel][inside], expected, rtol=1e-5, atol=1e-6)
    red = make_fill(model, normalised, segments, 9, "constant", "255,0,0", 1.0).numpy()
    np.testing.assert_allclose(red[:, 3, 4], [(1 - 0.5) / 0.2, (0 - 0.4) / 0.25,
                                              (0 - 0.3) / 0.3], rtol=1e-6)
    blurred = make_fill(model, normalised, segments, 9, "blur", "0", 3.0)
    assert blurred.shape == normalised.shape
    assert float(blurred.std()) < float(normalised.std())
    with pytest.raises(ValueError, match="fill_value"):
        explain(model, image, "lime", fill="constant", fill_value="red")


def test_kernel_and_distance_are_limes() -> None:
    rows = np.random.default_rng(0).integers(0, 2, (50, 12)).astype(np.uint8)
    rows[0] = 1
    rows[1] = 0
    expected = pairwise_distances(rows, rows[0].reshape(1, -1), metric="cosine").ravel()
    np.testing.assert_allclose(cosine_distances_to_ones(rows), expected, atol=1e-12)
    np.testing.assert_allclose(lime_kernel(np.array([0.0, 0.25]), 0.25),
                               [1.0, np.sqrt(np.exp(-1.0))])


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(16, 3))


def test_same_seed_same_map_other_seed_differs() -> None:
    model = wrap(small_cnn())
    image = block_image(seed=5)
    options = dict(samples=120, batch_size=50, superpixels=16)
    first = explain(model, image, "lime", seed=7, **options)
    again = explain(model, image, "lime", seed=7, **options)
    other = explain(model, image, "lime", seed=8, **options)
    np.testing.assert_array_equal(first.map, again.map)
    np.testing.assert_array_equal(first.extras["weights"], again.extras["weights"])
    assert not np.array_equal(first.map, other.map)
    # the batch size only changes scheduling, not the result
    rebatched = explain(model, image, "lime", seed=7, **{**options, "batch_size": 7})
    np.testing.assert_allclose(rebatched.extras["weights"], first.extras["weights"],
                               rtol=1e-6, atol=1e-9)


def test_progressive_fits_and_cancellation(scene) -> None:
    image, segments, chosen = scene
    counting = Counting(RegionBrightness(segments == chosen))
    model = wrap(counting)
    calls = []
    result = explain(model, image, "lime", samples=1000, batch_size=100, superpixels=16,
                     progress=lambda done, total, p: calls.append((done, total, p)))
    assert counting.calls == 10
    assert [done for done, _, _ in calls] == list(range(100, 1001, 100))
    provisional = [p for _, _, p in calls if p is not None]
    assert len(provisional) >= 10
    assert all(p.map.shape == (32, 32) and p.method == "lime" for p in provisional)
    assert [p.extras["provisional"] for p in provisional][-1] is False
    assert calls[-1][2] is result
    assert 0.0 <= result.extras["stability"] <= 1.0
    assert len(result.extras["stability_history"]) == len(provisional) - 1

    counting.calls = 0
    seen = []
    with pytest.raises(Cancelled):
        explain(model, image, "lime", samples=1000, batch_size=100, superpixels=16,
                progress=lambda done, total, p: seen.append(done),
                should_stop=lambda: len(seen) >= 2)
    assert seen == [100, 200] and counting.calls == 2
    counting.calls = 0
    with pytest.raises(Cancelled):
        explain(model, image, "lime", should_stop=lambda: True)
    assert counting.calls == 0


def test_early_stop(scene) -> None:
    image, segments, chosen = scene
    model = wrap(RegionBrightness(segments == chosen))
    calls = []
    result = explain(model, image, "lime", target=0, samples=1000, batch_size=50,
                     superpixels=16, fill="constant", early_stop=True, early_stop_patience=2,
                     progress=lambda done, total, p: calls.append((done, total)))
    used = result.extras["samples_used"]
    assert result.extras["early_stopped"] and used < 1000 and used % 100 == 0
    assert calls[-1] == (used, used)
    assert int(np.argmax(result.extras["weights"])) == chosen
    history = result.extras["stability_history"]
    assert [s for _, s in history[-2:]] == [1.0, 1.0]
    full = explain(model, image, "lime", target=0, samples=1000, batch_size=50,
                   superpixels=16, fill="constant")
    assert full.extras["samples_used"] == 1000 and not full.extras["early_stopped"]


@pytest.mark.parametrize("method", ["quickshift", "felzenszwalb", "grid"])
def test_other_segmentations(method: str) -> None:
    model = wrap(small_cnn())
    result = explain(model, block_image(seed=2), "lime", segmentation=method, samples=60,
                     superpixels=16, num_features=4)
    count = result.extras["num_superpixels"]
    assert count >= 2 and result.extras["segments"].max() == count - 1
    assert np.count_nonzero(result.extras["weights"]) <= 4


def test_collapsed_segmentation_falls_back_to_a_grid() -> None:
    model = wrap(small_cnn())
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    result = explain(model, noise, "lime", samples=30, superpixels=16)
    assert result.extras["segmentation_used"] == "grid"
    assert result.extras["num_superpixels"] == 16
