"""A tiny leaky data set shared by the scan and atlas tests: grey noise whose only class cue is a
class-coloured square in the top-left corner, with masks on the centre (or on the corner)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from leakview.masks import mask_path, write_mask
from leakview.train import load_image_folder, train

SIZE = 32
CORNER = 8  # the leak: a class-coloured square in the top-left corner


def write_leaky_folder(root: Path, colours: dict[str, tuple[int, int, int]], per_class: int = 10,
                       mask_corner: bool = False) -> Path:
    """``root/<class>/<class><i>.png`` with masks marking the centre (the region that *should*
    matter) or, with ``mask_corner``, the corner itself."""
    rng = np.random.default_rng(1)
    for name, colour in colours.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.integers(90, 160, size=(SIZE, SIZE, 3), dtype=np.uint8)
            pixels[:CORNER, :CORNER] = colour
            path = root / name / f"{name}{index}.png"
            Image.fromarray(pixels).save(path)
            mask = np.zeros((SIZE, SIZE), dtype=bool)
            if mask_corner:
                mask[:CORNER, :CORNER] = True
            else:
                mask[10:26, 10:26] = True
            write_mask(mask_path(root, path), mask)
    return root


def train_tiny(data: Path, out: Path) -> Path:
    """A mobilenet_v3_small at 32x32 that learns the corner (seeded, ~8 epochs on the CPU)."""
    folder = load_image_folder(data, (SIZE, SIZE))
    train(folder, "mobilenet_v3_small", (SIZE, SIZE), epochs=8, seed=0, device="cpu",
          val_split=0.0, batch_size=10, learning_rate=3e-3, out=out,
          augmentation={"flip": False, "max_shift": 0.0})
    return out
