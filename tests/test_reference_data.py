"""Where the parity tests find their data, and that CI cannot silently skip them."""

from __future__ import annotations

import pytest

from lvc_testing import require_reference


def test_missing_reference_skips_for_users(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LVC_ZOO_REFERENCE", str(tmp_path / "absent"))
    monkeypatch.delenv("LVC_ZOO_REQUIRE_REFERENCE", raising=False)
    with pytest.raises(pytest.skip.Exception, match="LVC_ZOO_REFERENCE"):
        require_reference("dcvc_dc")


def test_missing_reference_fails_when_required(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LVC_ZOO_REFERENCE", str(tmp_path / "absent"))
    monkeypatch.setenv("LVC_ZOO_REQUIRE_REFERENCE", "1")
    with pytest.raises(pytest.fail.Exception, match="LVC_ZOO_REQUIRE_REFERENCE=1"):
        require_reference("dcvc_dc")


def test_configured_reference_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / "refgen.py").write_text("")
    (tmp_path / "dcvc_dc").mkdir()
    monkeypatch.setenv("LVC_ZOO_REFERENCE", str(tmp_path))
    assert require_reference("dcvc_dc") == tmp_path / "dcvc_dc"
