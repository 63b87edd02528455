"""The README's "Bring your own model" recipes, run as written: each recipe's Python blocks are
executed and each `leakview ...` line of its bash blocks runs through the real command line (in
this process, so the imports are paid once), in a fresh folder with a small `images/` folder.
A recipe that stops working fails here, so the README stays true."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview import cli
from leakview.models import load_model

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Bring your own model"


def recipes() -> dict[str, list[tuple[str, str]]]:
    """``{recipe heading: [(language, code), ...]}`` of the README's model section."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end >= 0 else None]
    found: dict[str, list[tuple[str, str]]] = {}
    for part in re.split(r"^### ", section, flags=re.MULTILINE)[1:]:
        heading = part.splitlines()[0].strip()
        blocks = re.findall(r"^```(python|bash)\n(.*?)^```", part, flags=re.MULTILINE | re.DOTALL)
        if blocks:
            found[heading] = blocks
    return found


RECIPES = recipes()


def test_the_readme_has_a_recipe_per_framework() -> None:
    names = " ".join(RECIPES).lower()
    for framework in ("torchvision", "timm", "hugging face", "onnx", "torch.export",
                      "torchscript"):
        assert framework in names


@pytest.mark.parametrize("heading", list(RECIPES))
def test_recipe_runs_as_written(heading: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(
        tmp_path / "images" / "truck_1.png")
    commands = 0
    written: list[Path] = []
    for language, code in RECIPES[heading]:
        if language == "python":
            exec(compile(code, f"README: {heading}", "exec"), {"__name__": "__recipe__"})
            continue
        for line in code.splitlines():
            if not line.strip():
                continue
            words = shlex.split(line)
            assert words[0] == "leakview", line
            status = cli.main(words[1:])
            output = capsys.readouterr()
            assert status == 0, f"{line}\n{output.out}\n{output.err}"
            commands += 1
            for flag in ("--csv", "--out"):
                if flag in words:
                    written.append(tmp_path / words[words.index(flag) + 1])
    assert commands >= 1
    for path in written:   # each CSV has a row per image and method; each bundle loads
        assert path.is_file(), path
        if path.suffix == ".csv":
            assert len(path.read_text(encoding="utf-8").splitlines()) >= 2, path
        else:
            assert load_model(path, device="cpu").num_classes == 3
