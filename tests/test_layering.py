"""Layering rules the import contracts cannot state: every core module is under contract, and
no module uses another module's private names.

The contracts themselves (``[tool.importlinter]`` in pyproject.toml) are checked by
``lint-imports`` in ``.ci/run``; this file keeps them complete.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "leakview"
CORE_CONTRACT = "The headless core never imports the GUI, the commands, the CLI or Qt"
# the layers above the core, and the entry point
NOT_CORE = {"gui", "commands", "cli", "__main__", "__init__"}


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {contract["name"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def top_level_core_modules(package: Path) -> set[str]:
    """``leakview.<name>`` for every top-level module or package outside :data:`NOT_CORE`."""
    names = set()
    for entry in package.iterdir():
        if entry.is_file() and entry.suffix == ".py":
            name = entry.stem
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            name = entry.name
        else:
            continue
        if name not in NOT_CORE:
            names.add(f"{package.name}.{name}")
    return names


def test_every_core_module_is_a_source_of_the_core_contract() -> None:
    contract = _contracts()[CORE_CONTRACT]
    sources = set(contract["source_modules"])
    core = top_level_core_modules(PACKAGE)
    assert core - sources == set(), "core modules missing from the contract's source_modules"
    assert sources - core == set(), "source_modules that are no module of leakview"
    forbidden = set(contract["forbidden_modules"])
    assert {"leakview.gui", "leakview.commands", "leakview.cli", "PySide6",
            "pyqtgraph"} <= forbidden


# ----------------------------------------------------------------------- private names

def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted name of a source file under ``root`` (the folder holding the package), and
    whether it is a package ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


class _PrivateUse(ast.NodeVisitor):
    """Collects uses of private names of other modules of the package in one module."""

    def __init__(self, package: str, module: str, is_package: bool, modules: set[str]) -> None:
        self.package, self.module, self.is_package = package, module, is_package
        self.modules = modules          # every module name of the package
        self.aliases: dict[str, str] = {}  # local name -> package module it stands for
        self.found: list[str] = []

    def _ours(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    def _report(self, line: int, what: str) -> None:
        self.found.append(f"{self.module}:{line}: {what}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not self._ours(alias.name):
                continue
            private = [part for part in alias.name.split(".") if _is_private(part)]
            if private:
                self._report(node.lineno, f"import {alias.name}")
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                self.aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = _absolute(node, self.module, self.is_package)
        if self._ours(source):
            for alias in node.names:
                if _is_private(alias.name) and source != self.module:
                    self._report(node.lineno, f"from {source} import {alias.name}")
                submodule = f"{source}.{alias.name}"
                if submodule in self.modules:
                    self.aliases[alias.asname or alias.name] = submodule

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node.value)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            if head in self.aliases:
                target = self.aliases[head] + ("." + rest if rest else "")
                if target in self.modules and target != self.module and _is_private(node.attr):
                    self._report(node.lineno, f"{target}.{node.attr}")
        self.generic_visit(node)


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def private_name_uses(package_dir: Path) -> list[str]:
    """``module:line: what`` for every use of another module's private name in the package."""
    root = package_dir.parent
    files = sorted(package_dir.rglob("*.py"))
    modules = {_module_name(path, root)[0] for path in files}
    found: list[str] = []
    for path in files:
        module, is_package = _module_name(path, root)
        visitor = _PrivateUse(package_dir.name, module, is_package, modules)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(visitor.found)
    return found


def test_the_private_name_check_finds_each_kind_of_use(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.a import _mine\n")
    (package / "sub" / "a.py").write_text(
        "def _mine():\n    pass\n\n_mine()\n__all__ = []\n")
    (package / "sub" / "b.py").write_text(
        "from .a import _mine\n"                      # relative, sibling module
        "from pkg.sub import a\n"
        "import pkg.sub.a as alias\n"
        "import pkg\n"
        "a._mine()\n"                                  # attribute of an imported module
        "alias._mine()\n"
        "pkg.sub.a._mine()\n"                          # through the package chain
        "from pkg.sub.a import __all__\n"              # dunders are not private
        "def f():\n    from pkg.sub.a import _mine as m\n")  # inside a function
    (package / "c.py").write_text("import pkg.sub._hidden\n")
    assert private_name_uses(package) == [
        "pkg.c:1: import pkg.sub._hidden",
        "pkg.sub:1: from pkg.sub.a import _mine",
        "pkg.sub.b:1: from pkg.sub.a import _mine",
        "pkg.sub.b:5: pkg.sub.a._mine",
        "pkg.sub.b:6: pkg.sub.a._mine",
        "pkg.sub.b:7: pkg.sub.a._mine",
        "pkg.sub.b:10: from pkg.sub.a import _mine",
    ]


def test_no_module_uses_another_modules_private_names() -> None:
    assert private_name_uses(PACKAGE) == []
