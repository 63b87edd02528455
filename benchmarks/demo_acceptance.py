"""Accuracy table of the shipped demo models on fresh held-out scenes (not a test).

Renders held-out samples in memory with seeds the models never saw, each with and without the
corner-rect marker (pixel-identical outside the marker), and prints accuracies:

    python benchmarks/demo_acceptance.py [--n 50] [--seed 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

from leakview.models import load_model
from leakview.resources import demo_model_path
from leakview.synth import CLASSES, render_sample


def held_out(n: int, seed: int, cargo_contrast: float) -> tuple[list, list, list]:
    """(images with marker, the same images without it, labels) for n samples per class."""
    leaky, clean, labels = [], [], []
    for label in CLASSES:
        for index in range(n):
            with_marker, _, _ = render_sample(label, index, seed=seed, leak="corner-rect",
                                              cargo_contrast=cargo_contrast)
            without, _, _ = render_sample(label, index, seed=seed, leak=None,
                                          cargo_contrast=cargo_contrast)
            leaky.append(with_marker)
            clean.append(without)
            labels.append(label)
    return leaky, clean, labels


def accuracy(model, images: list, labels: list) -> float:
    predicted = model.predict(images, batch_size=64).argmax(axis=1)
    return float(np.mean([model.classes[p] == label for p, label in zip(predicted, labels)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50, help="samples per class (default 50)")
    parser.add_argument("--seed", type=int, default=1000, help="held-out seed (default 1000)")
    args = parser.parse_args()
    models = {kind: load_model(demo_model_path(kind), device="cpu") for kind in ("clean", "leaky")}
    chance = 1 / len(CLASSES)
    print(f"held-out: {args.n} per class x {len(CLASSES)} classes, seed {args.seed}; "
          f"chance = {chance:.0%}")
    print(f"{'model':<12}{'cargo contrast':>15}{'with marker':>13}{'marker removed':>16}")
    for contrast in (1.0, 0.3):
        leaky_images, clean_images, labels = held_out(args.n, args.seed, contrast)
        for kind, model in models.items():
            print(f"demo-{kind:<7}{contrast:>15.1f}{accuracy(model, leaky_images, labels):>13.1%}"
                  f"{accuracy(model, clean_images, labels):>16.1%}")


if __name__ == "__main__":
    main()
