"""README.md opens with the two commands for a fresh machine, and .ci/run runs exactly those."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)


def readme_commands() -> list[str]:
    """Commands of the README's leading fenced blocks (nothing but blank lines between them)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands: list[str] = []
    position = 0
    while (block := FENCE.match(text, position)) is not None:
        commands += [line.strip() for line in block.group(1).splitlines() if line.strip()]
        position = block.end()
        while text[position : position + 1] == "\n":
            position += 1
    return commands


def ci_commands() -> list[str]:
    """.ci/run's commands after the setup lines (shebang, comments, set, cd, export)."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    setup = ("#", "set ", "cd ", "export ")
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith(setup)]


def test_readme_opens_with_the_demo_then_the_tests() -> None:
    assert readme_commands() == [
        'pip install -e ".[dev]" && lvc-zoo demo',
        'pip install -e ".[dev]" && pytest -q',
    ]


def test_ci_runs_the_readme_commands_in_order() -> None:
    assert ci_commands() == readme_commands()


def test_ci_script_is_strict_executable_and_requires_the_reference() -> None:
    path = ROOT / ".ci" / "run"
    script = path.read_text(encoding="utf-8")
    assert os.access(path, os.X_OK)
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail\n" in script
    assert "export LVC_ZOO_REQUIRE_REFERENCE=1\n" in script
    assert script.index("export LVC_ZOO_REQUIRE_REFERENCE=1") < script.index("pip install")
