"""The class atlas as a figure: per class, the mean map (averaged over the hot-spot cells) as a
heat map over the class's mean image, the hot spot outlined in yellow and the expected region
(covered in at least half of the images) in cyan. Headless (Pillow, matplotlib colormaps)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leakview.atlas import Atlas, ClassAtlas, block_sum
from leakview.masks import mask_boundary
from leakview.report import overlay

HOT_COLOUR = (255, 255, 0)  # yellow: not one of the default marker colours
MASK_COLOUR = (0, 255, 255)


def _outline(pixels: np.ndarray, region: np.ndarray, colour: tuple[int, int, int]
             ) -> np.ndarray:
    """Paint the boundary pixels of ``region`` (the image border counts as outside)."""
    result = pixels.copy()
    result[mask_boundary(region)] = colour
    return result


def _upscale(mask: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(mask, factor, 0), factor, 1)


def cell_density(mean_map: np.ndarray, cell: int) -> np.ndarray:
    """The mean map averaged over the hot-spot cells, back at frame resolution (what the figure
    shows: pixel-level gradient maps are speckled)."""
    h, w = mean_map.shape
    grid = block_sum(mean_map, cell) / block_sum(np.ones((h, w)), cell)
    return np.repeat(np.repeat(grid, cell, 0), cell, 1)[:h, :w]


def class_panel(entry: ClassAtlas, frame: tuple[int, int], scale: int, cell: int = 1
                ) -> np.ndarray:
    """One class's panel at ``scale`` x the frame: the mean map (averaged per cell) as a heat
    map over the mean image, the mask coverage contour (cyan) and the hot spot (yellow)."""
    h, w = frame
    if entry.mean_map is None or entry.mean_image is None:
        return np.full((h * scale, w * scale, 3), 200, np.uint8)
    pixels = overlay(entry.mean_image, cell_density(entry.mean_map, cell).astype(np.float32))
    pixels = np.repeat(np.repeat(pixels, scale, 0), scale, 1)
    if entry.mask_coverage is not None:
        pixels = _outline(pixels, _upscale(entry.mask_coverage >= 0.5, scale), MASK_COLOUR)
    if entry.hot_cells is not None:
        pixels = _outline(pixels, _upscale(entry.hot_cells, scale), HOT_COLOUR)
    return pixels


def _caption(entry: ClassAtlas) -> str:
    text = f"{entry.name}: {entry.count} img"
    if entry.labelled:
        text += f" ({entry.correct} correct)"
    if entry.count == 0:
        return f"{entry.name}: no images predicted"
    if math.isfinite(entry.mass_outside_masks):
        text += f", {entry.mass_outside_masks:.0%} outside masks"
    if entry.hot_spot_outside:
        text += ", HOT SPOT OUTSIDE"
    return text


def atlas_figure(atlas: Atlas, columns: int = 4) -> np.ndarray:
    """The atlas as one RGB uint8 image (rows of ``columns`` class panels)."""
    h, w = atlas.frame
    scale = max(1, int(math.ceil(200 / h)))
    panel_h, panel_w = h * scale, w * scale
    caption_h, title_h, gap = 34, 40, 8
    count = max(1, len(atlas.classes))
    columns = max(1, min(columns, count))
    rows = int(math.ceil(count / columns))
    width = columns * panel_w + (columns - 1) * gap
    height = title_h + rows * (panel_h + caption_h)
    canvas = Image.new("RGB", (max(width, 420), height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    source = Path(str(atlas.model.get("source") or "model")).name
    draw.text((4, 4), f"class atlas: mean {atlas.method} map per predicted class - {source} on "
                      f"{atlas.root.name or atlas.root} ({atlas.images} images)",
              fill=(0, 0, 0), font=font)
    draw.text((4, 20), f"yellow: hot spot (top {atlas.rule.get('hot_fraction', 0.01):.0%} of "
                       f"{atlas.rule.get('cell', 1)}-px cells); cyan: expected region in >= 50% "
                       f"of images; red caption: hot spot outside the expected region",
              fill=(60, 60, 60), font=font)
    for position, entry in enumerate(atlas.classes):
        row, column = divmod(position, columns)
        x = column * (panel_w + gap)
        y = title_h + row * (panel_h + caption_h)
        canvas.paste(Image.fromarray(class_panel(entry, atlas.frame, scale,
                                                 int(atlas.rule.get("cell", 1)))), (x, y))
        caption = _caption(entry)
        colour = (200, 0, 0) if entry.hot_spot_outside else (0, 0, 0)
        draw.text((x + 2, y + panel_h + 4), caption, fill=colour, font=font)
        if entry.count:
            detail = f"hot spot holds {entry.hot_mass:.0%} of the mass"
            if entry.hot_centre:
                detail += f" at y={entry.hot_centre[0]:.2f} x={entry.hot_centre[1]:.2f}"
            draw.text((x + 2, y + panel_h + 18), detail, fill=(60, 60, 60), font=font)
    return np.asarray(canvas)
