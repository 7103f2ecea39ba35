"""The one-way import graph (ARCHITECTURE.md), and what import-linter cannot see.

- import-linter checks the contracts in pyproject.toml ([tool.importlinter]): rate is
  neutral, coding knows no network, layers know no paper, training imports no model,
  models import no registry / Hub / convert / eval / cli / initialisation.
- An AST scan checks that no code outside `lvc_zoo/models` sets a codec's `model_name`
  (the registry name reaches an instance through its class), and that `lvc_zoo/training`
  names no paper's modules: no parameter path into a network ("inter.flow.*"), no model or
  network class, no rate-tag or module name of one paper.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lvc_zoo"

PAPER_CLASSES = frozenset({"DCVCDC", "DCVCDCInter", "DCVCDCIntra", "SEVC", "SEVCInter", "SpyNet", "QScale", "QuadtreePrior"})
"""Model and network classes: training is duck-typed on `VideoCodec` and calls what a model declares."""
PAPER_MODULES = frozenset(
    {
        "mv_encoder", "mv_decoder", "mv_hyperprior", "context_fusion", "contextual_encoder", "contextual_decoder",
        "recon_generation", "feature_adaptor", "feature_adaptor_intra", "y_spatial_prior", "mv_spatial_prior",
        "temporal_prior_encoder", "q_enc", "q_dec", "inter_layer_prediction", "latent_inter_layer_prediction",
    }
)
"""Module names inside one paper's networks."""
PAPER_TAGS = frozenset({"bl_", "el_", "i_", "mv_"})
"""One paper's rate-tag prefixes (as whole string constants)."""


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_import_linter_contracts_hold() -> None:
    root = PACKAGE.parent
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 kept, 0 broken" in result.stdout, result.stdout[-2000:]


def test_the_contracts_declare_no_exception_without_a_reason() -> None:
    lines = (PACKAGE.parent / "pyproject.toml").read_text().splitlines()
    ignores = [number for number, line in enumerate(lines) if line.strip().startswith("ignore_imports")]
    unexplained = [number + 1 for number in ignores if not lines[number - 1].strip().startswith("#")]
    assert not unexplained, f"pyproject.toml lines {unexplained}: an ignore_imports needs a comment above it saying why"


def model_name_assignments(path: Path) -> list[int]:
    """Lines of `path` that assign an attribute called `model_name` (`codec.model_name = ...`)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        lines += [node.lineno for target in targets if isinstance(target, ast.Attribute) and target.attr == "model_name"]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "model_name":
                lines.append(node.lineno)
    return lines


def test_no_code_outside_the_models_sets_model_name() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in python_files(PACKAGE)
        if PACKAGE / "models" not in path.parents
        for line in model_name_assignments(path)
    ]
    assert not offenders, f"model_name is set outside lvc_zoo/models at {offenders}; let the model's class carry it"


def paper_names_in(path: Path) -> list[str]:
    """Names in `path` of one paper's classes, modules, rate tags or parameter paths ("inter.flow.*")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Name) and node.id in PAPER_CLASSES | PAPER_MODULES:
            found.append(f"{node.lineno}: name {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in PAPER_CLASSES | PAPER_MODULES:
            found.append(f"{node.lineno}: attribute .{node.attr}")
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in PAPER_CLASSES:
            found.append(f"import {node.name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in PAPER_TAGS | PAPER_MODULES:
                found.append(f"{node.lineno}: string {node.value!r}")
            for piece in node.value.replace("*", ".").replace("`", " ").split():
                parts = piece.strip("'\",()[]").split(".")
                if parts[0] in ("intra", "inter") and len(parts) > 1 and parts[1]:
                    found.append(f"{node.lineno}: parameter path {piece!r}")
    return found


@pytest.mark.parametrize("path", python_files(PACKAGE / "training"), ids=lambda p: p.name)
def test_training_names_no_paper_module(path: Path) -> None:
    found = paper_names_in(path)
    assert not found, f"{path.name} names one paper's modules ({found}); address a group or tag the model declares"


def test_the_scan_sees_a_paper_name(tmp_path: Path) -> None:
    """The scan is not blind: a stage list naming DCVC-DC's motion modules is caught."""
    sample = tmp_path / "paper_names_sample.py"
    sample.write_text('TRAINABLE = ["inter.flow.*", "inter.mv_*"]\nfrom lvc_zoo.layers.flow import SpyNet\n')
    found = paper_names_in(sample)
    assert any("parameter path" in item for item in found) and any("SpyNet" in item for item in found)
