"""The install the README describes for machines without a GPU: PyTorch's CPU-only wheels of
torch and torchvision (``pip install torch torchvision --index-url
https://download.pytorch.org/whl/cpu``) installed first, then leakview. pip keeps an installed
distribution that satisfies a requirement, so nothing in pyproject.toml may reject the CPU
wheels' versions (``2.x.y+cpu``): no pin to an exact version, no upper bound below them."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        texts.extend(extra)
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize("name", ["torch", "torchvision"])
def test_cpu_only_wheels_satisfy_every_requirement(name: str) -> None:
    installed = Version(importlib.metadata.version(name))
    cpu_build = Version(f"{installed.base_version}+cpu")   # what the CPU index serves
    requirements = [requirement for requirement in _requirements() if requirement.name == name]
    assert requirements, f"pyproject.toml no longer requires {name}"
    for requirement in requirements:
        assert requirement.specifier.contains(cpu_build, prereleases=True), (
            f"{requirement} rejects the CPU-only wheel {cpu_build}: pip would replace it with "
            "the CUDA build")
