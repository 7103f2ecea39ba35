"""README.md's Python examples run as written, except those marked as needing weights or data, and
print what their comments show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import lvc_zoo
from lvc_zoo.errors import WeightsNotFoundError

ROOT = Path(__file__).resolve().parents[1]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
NEEDS = re.compile(r"# needs: (weights|dataset)\n")
"""First line of a block that needs converted / downloaded weights or a dataset: not run here."""
PRINT_LINE = re.compile(r"^print\(.*\)(?:\s+# (?P<shown>.*))?$", re.MULTILINE)
"""A top-level print() call of a block and the output its trailing comment shows."""


def python_blocks() -> list[str]:
    """The README's ```python blocks, in order."""
    return PYTHON_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def runnable_blocks() -> list[str]:
    """The blocks that need nothing but the package (no `# needs:` first line)."""
    return [block for block in python_blocks() if not NEEDS.match(block)]


def shown_output(block: str) -> list[str]:
    """The lines `block` prints, as the comments of its print() calls show them, in order."""
    return [match["shown"] for match in PRINT_LINE.finditer(block)]


def test_blocks_are_found_and_only_known_markers_are_used() -> None:
    blocks = python_blocks()
    assert len(runnable_blocks()) >= 1 and len(blocks) > len(runnable_blocks())
    marked = [block.splitlines()[0] for block in blocks if block.startswith("# needs")]
    assert all(NEEDS.match(line + "\n") for line in marked), marked


def test_every_print_of_a_runnable_block_shows_its_output() -> None:
    """So that running a block checks all it prints (`test_readme_python_block_runs`)."""
    shown = [shown_output(block) for block in runnable_blocks()]
    assert all(None not in lines for lines in shown), shown
    assert sum(map(len, shown)) >= 2  # the bundled model's bytes and PSNR, at least


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_readme_python_block_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block runs and prints exactly what its comments show (bytes, PSNR, names)."""
    monkeypatch.chdir(tmp_path)
    block = runnable_blocks()[index]
    exec(compile(block, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.splitlines() == shown_output(block)


def test_readme_quotes_the_error_of_a_model_without_weights() -> None:
    with pytest.raises(WeightsNotFoundError) as caught:
        lvc_zoo.load("sevc", quality=3)
    line = f"lvc_zoo.errors.WeightsNotFoundError: {caught.value}"
    assert "\n" not in line and line in (ROOT / "README.md").read_text(encoding="utf-8")
