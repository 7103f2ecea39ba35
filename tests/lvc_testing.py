"""Test helpers shared across folders (a uniquely named module, so imports never hit another conftest)."""

from __future__ import annotations

import os
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
