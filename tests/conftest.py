"""Shared test fixtures: the parity reference data, and isolation from the user's caches."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def reference_root() -> Path | None:
    """The parity data folder: $LVC_ZOO_REFERENCE or <repo root>/../shared/reference, if present."""
    configured = os.environ.get("LVC_ZOO_REFERENCE")
    root = Path(configured) if configured else REPO_ROOT.parent / "shared" / "reference"
    return root if (root / "refgen.py").is_file() else None


def require_reference(subfolder: str = "") -> Path:
    """Return the reference folder (or a subfolder), or skip the test with a clear reason.

    With LVC_ZOO_REQUIRE_REFERENCE=1 (CI) a missing folder fails the test instead.
    """
    root = reference_root()
    path = None if root is None else root / subfolder
    if path is None or not path.exists():
        reason = (
            f"parity reference data not found ({subfolder or 'refgen.py'}): set LVC_ZOO_REFERENCE to the "
            "shared/reference folder, or place it at ../shared/reference beside the repository"
        )
        if os.environ.get("LVC_ZOO_REQUIRE_REFERENCE") == "1":
            pytest.fail(reason + " (LVC_ZOO_REQUIRE_REFERENCE=1 makes this an error)")
        pytest.skip(reason)
    return path


@pytest.fixture
def reference_dir() -> Path:
    """The parity reference root (skips or fails as `require_reference` says)."""
    return require_reference()


@pytest.fixture
def refgen(reference_dir: Path):
    """The reference's `refgen` module (deterministic official-format weights and frames)."""
    sys.path.insert(0, str(reference_dir))
    try:
        import refgen as module
    finally:
        sys.path.remove(str(reference_dir))
    return module


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Hugging Face and torch hub caches out of the user's home during tests."""
    home = tmp_path_factory.getbasetemp() / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch_home"))
