#!/usr/bin/env bash
# Regenerate the bundled demo: images with cargo/marker masks and the two demo models.
# Deterministic on the CPU for a given torch build: same seeds -> same images, same weights.
# Takes about 10 minutes on 2 CPU cores. Run from the repository root:  bash resources/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Training sets: 250 images per class at 320x240.
leakview demo-data "$work/train-clean" --n 250 --seed 1
# The leaky set plants the study's leak (a class-coloured square, top-left) and fades the cargo
# (--cargo-contrast 0.3) so the shortcut dominates, as it did in the study.
leakview demo-data "$work/train-leaky" --n 250 --seed 2 --leak corner-rect --cargo-contrast 0.3

# The two models: shufflenet_v2_x1_0 at 96x128 (about 5 MB each).
leakview train "$work/train-clean" --arch shufflenet_v2_x1_0 --input-size 96 128 --epochs 24 \
    --lr 5e-3 --seed 0 --out resources/demo-clean.pt
leakview train "$work/train-leaky" --arch shufflenet_v2_x1_0 --input-size 96 128 --epochs 24 \
    --lr 5e-3 --seed 0 --no-flip --out resources/demo-leaky.pt

# The demo images the app opens on: 10 per class, honest cargo plus the corner marker, with
# cargo masks (.leakview/masks) and the markers' masks as suspect regions
# (.leakview/masks/.suspect).
rm -rf resources/demo
leakview demo-data resources/demo --n 10 --seed 7 --leak corner-rect
