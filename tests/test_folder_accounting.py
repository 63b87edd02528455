"""Every format the loader reads is discovered, and every file of a folder is accounted for:
images, files skipped as not images (counted and named in the scan's summary line and JSON),
hidden entries (issue 17, item 4: an animated GIF was in no row and in no count)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.cli import main
from leakview.images import (
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    discover_images,
    list_folder,
    load_image,
)

MODES = {"pbm": "1", "pgm": "L", "pfm": "F"}


def test_one_table_names_the_decoders_and_the_extensions() -> None:
    from leakview import images

    Image.init()
    registered = Image.registered_extensions()
    assert images._formats() == tuple(IMAGE_FORMATS)  # the loader allows exactly these
    for fmt, extensions in IMAGE_FORMATS.items():
        # what Pillow registers for each allowed decoder is listed, and nothing else
        assert {ext[1:] for ext, owner in registered.items() if owner == fmt} == set(extensions)
    assert IMAGE_EXTENSIONS == {ext for extensions in IMAGE_FORMATS.values()
                                for ext in extensions}


@pytest.mark.parametrize("extension", sorted(IMAGE_EXTENSIONS))
def test_every_extension_is_discovered_and_loads(tmp_path: Path, extension: str) -> None:
    mode = MODES.get(extension, "RGB")
    picture = Image.new(mode, (12, 9), 1 if mode in ("1", "F") else 200)
    path = tmp_path / "class" / f"picture.{extension.upper()}"
    path.parent.mkdir()
    fmt = next(fmt for fmt, extensions in IMAGE_FORMATS.items() if extension in extensions)
    picture.save(path, format="PNG" if fmt == "PNG" else None)
    assert discover_images(tmp_path) == [path]
    assert load_image(path).shape == (9, 12, 3)


def write_mixed_folder(root: Path) -> Path:
    """Images in four formats, an animated GIF, three files that are not images and hidden
    entries (a file, a folder with an image in it, .leakview/)."""
    rng = np.random.default_rng(1)
    for name in ("cat/a.png", "cat/b.jpg", "dog/c.ppm", "dog/d.webp"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / name)
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "blue")]
    frames[0].save(root / "dog" / "moving.gif", save_all=True, append_images=frames[1:])
    (root / "notes.txt").write_text("not an image")
    (root / "cat" / "labels.csv").write_text("a,b\n")
    (root / "dog" / "README").write_text("no extension")
    (root / ".DS_Store").write_bytes(b"\0")
    (root / ".cache").mkdir()
    Image.new("RGB", (8, 8)).save(root / ".cache" / "thumb.png")
    (root / ".leakview" / "masks").mkdir(parents=True)
    return root


def walk_entries(root: Path) -> int:
    """Files and hidden folders of ``root`` (recursively, hidden folders not entered)."""
    count = 0
    for _folder, folders, files in os.walk(root):
        hidden = [name for name in folders if name.startswith(".")]
        count += len(files) + len(hidden)
        folders[:] = [name for name in folders if not name.startswith(".")]
    return count


def test_the_listing_accounts_for_every_entry_without_opening_any(tmp_path: Path) -> None:
    root = write_mixed_folder(tmp_path / "data")
    if hasattr(os, "mkfifo"):  # opening a named pipe would block: discovery must not
        os.mkfifo(root / "cat" / "pipe.gif")
    listing = list_folder(root)
    names = [path.relative_to(root).as_posix() for path in listing.images]
    assert names == ["cat/a.png", "cat/b.jpg", *(["cat/pipe.gif"] if hasattr(os, "mkfifo")
                                                 else []),
                     "dog/c.ppm", "dog/d.webp", "dog/moving.gif"]
    assert listing.not_images == ["cat/labels.csv", "dog/README", "notes.txt"]
    assert listing.hidden == [".cache", ".DS_Store", ".leakview"]
    assert (len(listing.images) + len(listing.not_images) + len(listing.hidden)
            == walk_entries(root))
    assert listing.skipped_text(2) == ("3 files that are not images (cat/labels.csv, "
                                       "dog/README and 1 more)")


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    import torch

    from leakview.models import build_architecture, save_bundle

    torch.manual_seed(0)
    module = build_architecture("mobilenet_v3_small", 2, (32, 32))
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_bundle(path, module, "mobilenet_v3_small", ("cat", "dog"), (32, 32))
    return path


def test_scan_rows_the_gif_and_counts_the_skipped_files(tmp_path, capsys, tiny_bundle) -> None:
    root = write_mixed_folder(tmp_path / "data")
    csv, summary = tmp_path / "scan.csv", tmp_path / "summary.json"
    assert main(["scan", str(root), "--model", str(tiny_bundle), "--csv", str(csv),
                 "--summary", str(summary)]) == 0
    printed = capsys.readouterr().out.splitlines()[0]
    assert "(5 images, 0 unreadable, 0 resumed; skipped 3 files that are not images " \
           "(cat/labels.csv, dog/README, notes.txt))" in printed
    rows = csv.read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == [
        "cat/a.png", "cat/b.jpg", "dog/c.ppm", "dog/d.webp", "dog/moving.gif"]
    files = json.loads(summary.read_text())["files"]
    assert files == {"images": 5, "not_images": 3,
                     "not_images_examples": ["cat/labels.csv", "dog/README", "notes.txt"],
                     "hidden": 3, "hidden_examples": [".cache", ".DS_Store", ".leakview"]}
    assert files["images"] + files["not_images"] + files["hidden"] == walk_entries(root)
