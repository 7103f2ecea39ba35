"""The import rules of ARCHITECTURE.md: `layers` know no paper, `coding` knows no network."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lvc_zoo"

FORBIDDEN = {
    "coding": ("layers", "models", "training", "registry", "hub", "cli", "eval", "convert"),
    "layers": ("models", "training", "registry", "hub", "cli", "eval", "convert"),
}
"""Subpackages of lvc_zoo that each package must not import."""


def _imported_subpackages(path: Path) -> set[str]:
    """The lvc_zoo subpackages a module imports (relative or absolute imports, lazy ones included)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]  # e.g. ("lvc_zoo", "coding")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1]) + (node.module.split(".") if node.module else [])
            else:
                base = (node.module or "").split(".")
            names = [base] if len(base) > 1 else [base + [alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        found.update(name[1] for name in names if len(name) > 1 and name[0] == "lvc_zoo")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_none_of_the_forbidden_subpackages(package: str) -> None:
    offending = {
        str(path.relative_to(PACKAGE)): sorted(_imported_subpackages(path) & set(FORBIDDEN[package]))
        for path in sorted((PACKAGE / package).glob("*.py"))
    }
    assert not {name: found for name, found in offending.items() if found}


def test_the_checker_sees_relative_imports() -> None:
    assert _imported_subpackages(PACKAGE / "models" / "sevc.py") >= {"layers", "coding", "training"}
