"""`hub.push_pretrained` and `lvc-zoo push`: dry run, validation before upload, the Hub calls made.

Nothing here reaches a network: the dry run is checked against a fake Hub that must see no
request, and the upload against a recording stand-in for `huggingface_hub.HfApi` (the fake
Hub server has no upload API).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError
from huggingface_hub.utils import filter_repo_objects

import lvc_zoo
from fakehub import FakeHub
from lvc_zoo.cli.main import main
from lvc_zoo.errors import ChecksumError, ConfigError, HubError, UnknownModelError, WeightsNotFoundError
from lvc_zoo.hub import PushFile, push_pretrained
from lvc_zoo.models import DCVCDC, DCVCDCConfig

HUB_METHODS = ("create_repo", "create_branch", "upload_folder", "upload_file", "create_commit", "whoami", "repo_info")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small-width dcvc_dc weights directory, plus a file in a subfolder and hidden clutter."""
    directory = lvc_zoo.save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path_factory.mktemp("push") / "weights", "dcvc_dc")
    (directory / "training").mkdir()
    (directory / "training" / "run[1]*.log").write_text("step 1: loss 0.5\n")  # glob characters in a name
    (directory / ".DS_Store").write_bytes(b"\0\1")
    (directory / ".cache" / "huggingface").mkdir(parents=True)
    (directory / ".cache" / "huggingface" / "upload.lock").write_text("")
    return directory


@pytest.fixture
def weights(saved: Path, tmp_path: Path) -> Path:
    """A private copy of `saved` that a test may damage."""
    copy = tmp_path / "weights"
    for path in saved.rglob("*"):
        target = copy / path.relative_to(saved)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return copy


def visible_files(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` outside hidden files and folders, by POSIX path."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    }


@pytest.fixture
def no_hub_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every HfApi method that talks to the Hub fail the test if called."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Hub was called")

    for name in HUB_METHODS:
        monkeypatch.setattr(huggingface_hub.HfApi, name, refuse)


class RecordingApi:
    """Stands in for `huggingface_hub.HfApi`: records every call, answers like the Hub would."""

    calls: list[tuple[str, dict[str, Any]]] = []
    fail_with: BaseException | None = None

    def __init__(self, **kwargs: Any) -> None:
        RecordingApi.calls.append(("__init__", kwargs))

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        RecordingApi.calls.append((name, kwargs))
        if RecordingApi.fail_with is not None:
            raise RecordingApi.fail_with

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self._record("create_repo", {"repo_id": repo_id, **kwargs})
        return f"https://hub.example/{repo_id}"

    def create_branch(self, repo_id: str, **kwargs: Any) -> None:
        self._record("create_branch", {"repo_id": repo_id, **kwargs})

    def upload_folder(self, **kwargs: Any) -> huggingface_hub.CommitInfo:
        self._record("upload_folder", kwargs)
        return huggingface_hub.CommitInfo(
            commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc123",
            commit_message=kwargs.get("commit_message", ""),
            commit_description="",
            oid="abc123",
        )


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingApi]:
    monkeypatch.setattr(RecordingApi, "calls", [])
    monkeypatch.setattr(RecordingApi, "fail_with", None)
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    return RecordingApi


def http_error(status: int, message: str) -> HfHubHTTPError:
    """An HfHubHTTPError as huggingface_hub raises it, built on its HTTP client's Response."""
    response_type = typing.get_type_hints(HfHubHTTPError.__init__)["response"]
    client = sys.modules[response_type.__module__.split(".")[0]]
    request = client.Request("POST", "https://hub.example/api/repos/create")
    return HfHubHTTPError(message, response=response_type(status, request=request))


# ----------------------------------------------------------------------------- dry run
@pytest.mark.slow
def test_dry_run_lists_exactly_the_directory_files_and_sends_nothing(saved: Path, no_hub_calls: None) -> None:
    with FakeHub() as hub:
        result = push_pretrained(saved, "lvc/dcvc-dc-small", dry_run=True, endpoint=hub.url)
        assert hub.requests == []
    expected = visible_files(saved)
    assert {"config.json", "model.safetensors", "README.md", "training/run[1]*.log"} <= set(expected)
    assert [f.path for f in result.files] == sorted(expected)
    for file in result.files:
        content = expected[file.path]
        assert file == PushFile(file.path, len(content), hashlib.sha256(content).hexdigest())
    meta = json.loads((saved / "config.json").read_text())
    assert {f.path: f.sha256 for f in result.files}["model.safetensors"] == meta["files"]["model.safetensors"]
    assert (result.model, result.repo_id, result.revision, result.dry_run, result.commit_url) == (
        "dcvc_dc", "lvc/dcvc-dc-small", "main", True, None
    )


def test_cli_dry_run_prints_target_and_files(saved: Path, no_hub_calls: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["push", str(saved), "--repo", "lvc/dcvc-dc-small", "--revision", "v1.0", "--private", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("dry run: would upload 4 files") and "nothing was sent" in out
    assert "lvc/dcvc-dc-small, revision v1.0 (private if created)" in out
    for path, content in visible_files(saved).items():
        assert re.search(rf"^  {re.escape(path)}\s+{len(content):,}\s+sha256 {hashlib.sha256(content).hexdigest()}$", out, re.M)
    assert ".DS_Store" not in out and "upload.lock" not in out
    assert "lvc_zoo.load('dcvc_dc', weights='hf-hub:lvc/dcvc-dc-small@v1.0')" in out


# ----------------------------------------------------------------------------- validation first
def test_missing_config_is_refused_before_any_upload(weights: Path, recording: type[RecordingApi]) -> None:
    (weights / "config.json").unlink()
    with pytest.raises(WeightsNotFoundError, match="has no config.json"):
        push_pretrained(weights, "lvc/dcvc-dc-small")
    assert recording.calls == []


def test_tampered_weights_are_refused_before_any_upload(weights: Path, recording: type[RecordingApi]) -> None:
    data = bytearray((weights / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (weights / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="Checksum mismatch for .*model.safetensors"):
        push_pretrained(weights, "lvc/dcvc-dc-small")
    with pytest.raises(ChecksumError):
        push_pretrained(weights, "lvc/dcvc-dc-small", dry_run=True)
    assert recording.calls == []


def test_cli_refuses_an_invalid_directory_in_one_line(weights: Path, recording: type[RecordingApi], capsys: pytest.CaptureFixture[str]) -> None:
    (weights / "model.safetensors").write_bytes(b"not the weights")
    code = main(["push", str(weights), "--repo", "lvc/dcvc-dc-small"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("lvc-zoo: error: Checksum mismatch"), err
    assert recording.calls == []


def test_unknown_model_and_bad_targets_are_refused_before_any_upload(weights: Path, recording: type[RecordingApi], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Hub repo id: use ORG/NAME"):
        push_pretrained(weights, "just-a-name")
    with pytest.raises(ConfigError, match="not a Hub repo id"):
        push_pretrained(weights, "lvc/bad name")
    with pytest.raises(ConfigError, match="not a branch name"):
        push_pretrained(weights, "lvc/dcvc-dc-small", revision="../main")
    with pytest.raises(WeightsNotFoundError, match="is not a directory"):
        push_pretrained(tmp_path / "nowhere", "lvc/dcvc-dc-small")
    meta = json.loads((weights / "config.json").read_text())
    (weights / "config.json").write_text(json.dumps({**meta, "model": "dcvc_zz"}))
    with pytest.raises(UnknownModelError, match="dcvc_zz"):
        push_pretrained(weights, "lvc/dcvc-dc-small")
    assert recording.calls == []


# ----------------------------------------------------------------------------- the upload
@pytest.mark.slow
def test_upload_creates_the_repo_and_uploads_exactly_the_dry_run_files(saved: Path, recording: type[RecordingApi]) -> None:
    planned = push_pretrained(saved, "lvc/dcvc-dc-small", dry_run=True)
    assert recording.calls == []
    result = push_pretrained(saved, "lvc/dcvc-dc-small", endpoint="https://hub.example")

    names = [name for name, _ in recording.calls]
    assert names == ["__init__", "create_repo", "upload_folder"]  # main: no branch to create
    init, create, upload = (kwargs for _, kwargs in recording.calls)
    assert init["endpoint"] == "https://hub.example" and init.get("token") is None
    assert create == {"repo_id": "lvc/dcvc-dc-small", "token": None, "private": False, "repo_type": "model", "exist_ok": True}
    assert upload["repo_id"] == "lvc/dcvc-dc-small" and Path(upload["folder_path"]) == saved
    assert upload["repo_type"] == "model" and upload["revision"] is None and upload["token"] is None
    assert "dcvc_dc" in upload["commit_message"]
    # upload_folder uploads the directory's files that match allow_patterns: exactly the dry-run list
    every_file = [p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()]
    uploaded = list(filter_repo_objects(every_file, allow_patterns=upload["allow_patterns"]))
    assert sorted(uploaded) == [f.path for f in planned.files]

    assert result.files == planned.files and not result.dry_run
    assert result.commit_url == "https://huggingface.co/lvc/dcvc-dc-small/commit/abc123"


def test_revision_and_private_reach_the_hub(saved: Path, recording: type[RecordingApi], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["push", str(saved), "--repo", "lvc/dcvc-dc-small", "--revision", "v1.0", "--private"])
    out = capsys.readouterr().out
    assert code == 0
    calls = dict(recording.calls)
    assert calls["create_repo"]["private"] is True and calls["create_repo"]["exist_ok"] is True
    assert calls["create_branch"] == {"repo_id": "lvc/dcvc-dc-small", "branch": "v1.0", "token": None, "repo_type": "model", "exist_ok": True}
    assert calls["upload_folder"]["revision"] == "v1.0"
    assert out.startswith("uploaded 4 files") and "commit: https://huggingface.co/lvc/dcvc-dc-small/commit/abc123" in out
    assert "lvc_zoo.load('dcvc_dc', weights='hf-hub:lvc/dcvc-dc-small@v1.0')" in out


def test_pull_request_refs_are_not_created_as_branches(saved: Path, recording: type[RecordingApi]) -> None:
    push_pretrained(saved, "lvc/dcvc-dc-small", revision="refs/pr/3")
    assert [name for name, _ in recording.calls] == ["__init__", "create_repo", "upload_folder"]
    assert dict(recording.calls)["upload_folder"]["revision"] == "refs/pr/3"


@pytest.mark.slow
def test_hub_refusals_become_one_line_errors(saved: Path, recording: type[RecordingApi], capsys: pytest.CaptureFixture[str]) -> None:
    recording.fail_with = http_error(403, "403 Forbidden: you cannot write to lvc/dcvc-dc-small")
    with pytest.raises(HubError, match=r"failed: the Hub answered 403 Forbidden.*write access"):
        push_pretrained(saved, "lvc/dcvc-dc-small")
    code = main(["push", str(saved), "--repo", "lvc/dcvc-dc-small"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "403 Forbidden" in err and "Traceback" not in err

    recording.fail_with = LocalTokenNotFoundError("Token is required")
    with pytest.raises(HubError, match=r"no Hub token\. Log in with `hf auth login` or set HF_TOKEN"):
        push_pretrained(saved, "lvc/dcvc-dc-small")


def client_connect_error() -> Exception:
    """A connection error of the HTTP client huggingface_hub uses (httpx's ConnectError in 1.x)."""
    response_type = typing.get_type_hints(HfHubHTTPError.__init__)["response"]
    client = sys.modules[response_type.__module__.split(".")[0]]
    return client.ConnectError("[Errno 111] Connection refused")


@pytest.mark.parametrize("error", [ConnectionError("[Errno 111] Connection refused"), TimeoutError("timed out"), "client"])
def test_an_unreachable_hub_is_one_line(
    saved: Path, recording: type[RecordingApi], capsys: pytest.CaptureFixture[str], error: Exception | str
) -> None:
    recording.fail_with = client_connect_error() if error == "client" else error
    code = main(["push", str(saved), "--repo", "lvc/dcvc-dc-small"])
    (line,) = capsys.readouterr().err.splitlines()
    assert code == 2 and "failed: the Hub could not be reached" in line and type(recording.fail_with).__name__ in line


def test_a_bug_on_the_upload_path_propagates_as_itself(saved: Path, recording: type[RecordingApi]) -> None:
    """Only connection errors read as an unreachable Hub; a TypeError is a bug and keeps its traceback."""
    recording.fail_with = TypeError("upload_folder() got an unexpected keyword argument 'revison'")
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        push_pretrained(saved, "lvc/dcvc-dc-small")
