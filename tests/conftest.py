"""Shared test fixtures: the parity reference data, and isolation from the user's caches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lvc_testing import require_reference


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
