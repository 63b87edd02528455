"""An import meeting images that already have a mask: ``import_masks(existing=...)``,
``plan_import`` and ``leakview masks import --existing`` (headless)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from leakview.cli import CommandError
from leakview.masks import (
    ExistingMasks,
    MaskError,
    import_masks,
    mask_path,
    plan_import,
    read_mask,
    write_mask,
)
from test_masks import SQUARE, cli_parser, grid, save_image, square_labelme, write_json

DRAWN = grid("10000/00000/00000/00001")      # a hand-drawn mask of a 5x4 image


@pytest.fixture
def annotated(tmp_path: Path) -> tuple[Path, Path]:
    """Three 5x4 images, a LabelMe square for each; ``a.png`` and ``b.png`` have a mask."""
    root = tmp_path / "images"
    for name in ("a", "b", "c"):
        save_image(root / f"{name}.png", 5, 4)
    ann = tmp_path / "ann"
    for name in ("a", "b", "c"):
        write_json(ann / f"{name}.json", square_labelme(f"../images/{name}.png"))
    write_mask(mask_path(root, "a.png"), DRAWN)
    write_mask(mask_path(root, "b.png"), DRAWN)
    return root, ann


def test_plan_names_the_images_that_have_a_mask(annotated) -> None:
    root, ann = annotated
    plan = plan_import(ann, "labelme", root)
    assert plan.covered == ["a.png", "b.png", "c.png"]
    assert plan.existing == ["a.png", "b.png"]
    # labels that select nothing cover nothing (no rasterising needed to know it)
    assert plan_import(ann, "labelme", root, labels=["truck"]).covered == []
    assert plan_import(ann, "labelme", root, masks_root=root / "elsewhere").existing == []


def test_refuse_is_the_default_and_writes_nothing(annotated) -> None:
    root, ann = annotated
    drawn_bytes = mask_path(root, "a.png").read_bytes()
    with pytest.raises(ExistingMasks) as info:
        import_masks(ann, "labelme", root)
    assert info.value.images == ["a.png", "b.png"]
    assert "2 images already have a mask (a.png, b.png)" in info.value.reason
    assert isinstance(info.value, MaskError)
    assert not mask_path(root, "c.png").exists()              # nothing was written
    assert mask_path(root, "a.png").read_bytes() == drawn_bytes
    again = pickle.loads(pickle.dumps(info.value))            # worker processes send it back
    assert again.images == ["a.png", "b.png"] and again.reason == info.value.reason


def test_skip_keeps_the_masks_and_imports_the_rest(annotated) -> None:
    root, ann = annotated
    report = import_masks(ann, "labelme", root, existing="skip")
    assert report.written == ["c.png"] and report.replaced == []
    assert dict(report.skipped) == {"a.json": "the mask of a.png exists (kept)",
                                    "b.json": "the mask of b.png exists (kept)"}
    assert np.array_equal(read_mask(mask_path(root, "a.png")), DRAWN)
    assert np.array_equal(read_mask(mask_path(root, "c.png")), SQUARE)


def test_overwrite_replaces_and_backs_up(annotated, tmp_path: Path) -> None:
    root, ann = annotated
    backups = root / ".leakview" / "masks" / ".import-backups" / "one"
    drawn_bytes = mask_path(root, "a.png").read_bytes()
    report = import_masks(ann, "labelme", root, existing="overwrite", backup_dir=backups)
    assert report.written == ["a.png", "b.png", "c.png"]
    assert report.replaced == ["a.png", "b.png"]
    assert "replacing 2 existing" in report.summary()
    for name in report.written:
        assert np.array_equal(read_mask(mask_path(root, name)), SQUARE)
    assert mask_path(root, "a.png", backups).read_bytes() == drawn_bytes
    assert not mask_path(root, "c.png", backups).exists()     # it had no mask: nothing to keep
    # without a backup folder nothing is copied
    report = import_masks(ann, "labelme", root, existing="overwrite")
    assert report.replaced == ["a.png", "b.png", "c.png"]
    assert sorted(p.name for p in backups.rglob("*.png")) == ["a.png.png", "b.png.png"]


def test_merge_writes_the_union_and_keeps_an_unreadable_mask(annotated) -> None:
    root, ann = annotated
    mask_path(root, "b.png").write_bytes(b"not a png")
    report = import_masks(ann, "labelme", root, existing="merge")
    assert report.written == ["a.png", "c.png"] and report.replaced == ["a.png"]
    assert "merged into 1 existing" in report.summary()
    assert np.array_equal(read_mask(mask_path(root, "a.png")), DRAWN | SQUARE)
    assert np.array_equal(read_mask(mask_path(root, "c.png")), SQUARE)
    (item, reason), = report.skipped
    assert item == "b.json" and "cannot merge" in reason and "(kept)" in reason
    assert mask_path(root, "b.png").read_bytes() == b"not a png"


def test_unknown_policy_is_a_value_error(annotated) -> None:
    root, ann = annotated
    with pytest.raises(ValueError, match="existing must be one of"):
        import_masks(ann, "labelme", root, existing="replace")


def run_cli(*argv: str) -> int:
    args = cli_parser().parse_args(["masks", "import", *argv])
    return args.func(args)


def test_cli_refuses_by_default_naming_the_count(annotated, capsys) -> None:
    root, ann = annotated
    with pytest.raises(CommandError) as info:
        run_cli(str(ann), "--format", "labelme", "--root", str(root))
    message = str(info.value)
    assert info.value.status == 1
    assert message.startswith("2 images already have masks under ")
    assert "(a.png, b.png)" in message and "nothing was written" in message
    assert "--existing overwrite" in message and "skip" in message and "merge" in message
    assert not mask_path(root, "c.png").exists()
    assert capsys.readouterr().out == ""


def test_cli_existing_choices(annotated, capsys) -> None:
    root, ann = annotated
    assert run_cli(str(ann), "--format", "labelme", "--root", str(root),
                   "--existing", "skip") == 0
    out = capsys.readouterr().out
    assert "written 1 mask" in out and "the mask of a.png exists (kept)" in out
    assert np.array_equal(read_mask(mask_path(root, "a.png")), DRAWN)

    assert run_cli(str(ann), "--format", "labelme", "--root", str(root),
                   "--existing", "merge") == 0
    assert "merged into 3 existing" in capsys.readouterr().out
    assert np.array_equal(read_mask(mask_path(root, "a.png")), DRAWN | SQUARE)

    assert run_cli(str(ann), "--format", "labelme", "--root", str(root),
                   "--existing", "overwrite") == 0
    assert "replacing 3 existing" in capsys.readouterr().out
    assert np.array_equal(read_mask(mask_path(root, "a.png")), SQUARE)

    # --no-overwrite (the older flag) is --existing skip: all three have masks now
    with pytest.raises(CommandError, match="no mask could be imported"):
        run_cli(str(ann), "--format", "labelme", "--root", str(root), "--no-overwrite")
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["masks", "import", str(ann), "--format", "labelme",
                                 "--root", str(root), "--existing", "replace"])


def test_cli_help_documents_existing(capsys) -> None:
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["masks", "import", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--existing {overwrite,skip,merge}" in text
    assert "default: write nothing and say how many have one" in text
