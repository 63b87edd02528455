"""Atomic writes never leave a torn file."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakview.atomic import atomic_open, atomic_write_bytes, atomic_write_text


def test_failed_write_keeps_the_previous_content(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "report.csv", "old,content\n")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w", encoding="utf-8") as stream:
            stream.write("half of the new")
            raise RuntimeError("crash in the middle of a write")
    assert path.read_text(encoding="utf-8") == "old,content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


def test_successful_write_replaces_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "mask.png"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["mask.png"]


def test_only_write_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x", "a"):
            pass


def test_new_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os
    import stat

    path = atomic_write_bytes(tmp_path / "shared.pt", b"data")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
