"""Hub downloads: `hf-hub:` ids and registry defaults, fetched by huggingface_hub from a fake Hub.

huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE once, when it is imported, so
every download runs in a child process with its own environment. One child runs several
scenarios (`child_main`) and prints their outcomes as one JSON line, which keeps the number
of torch imports, and the time, small. The fake Hub (tests/fakehub.py) listens on 127.0.0.1;
nothing here contacts any other address.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fakehub import FakeHub
from huggingface_hub.errors import LocalEntryNotFoundError

import lvc_zoo
from lvc_zoo import hub as lvc_hub
from lvc_zoo import registry as model_table
from lvc_zoo.errors import ConfigError, LvcZooError, WeightsNotFoundError
from lvc_zoo.hub import HubRef, parse_hub_id, sha256_file
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.registry import MODELS, ModelSpec

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

TESTS_DIR = Path(__file__).resolve().parent
REPO = "lvc/dcvc-dc-small"
PINNED = "lvc/dcvc-dc-small-pinned"
"""The same files in another repo, as a registry entry would publish them (its own cache entry)."""
TAG = "v1.0"
NOTES = "notes/provenance.txt"
"""A file in a subfolder of the served repo, listed in its config.json."""
RESULT_MARK = "SCENARIO-OUTCOMES "
HOW_TO = (
    r"run once online.*HF_HUB_OFFLINE=1.*set HF_ENDPOINT.*"
    r"`lvc-zoo convert dcvc_dc --intra I\.pth\.tar --inter P\.pth\.tar -o DIR`.*weights=DIR"
)
FAST_S = 5.0
"""A failure that retried against the server would take ~23 s (huggingface_hub's backoff)."""

Outcomes = dict[str, dict[str, Any]]


# ----------------------------------------------------------------------- the child process
def state_sha256(module: torch.nn.Module) -> str:
    """sha256 over a module's state_dict: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def child_main() -> None:
    """Entry point of a child: run the scenarios in sys.argv[1] (JSON), print their outcomes."""
    scenarios: dict[str, dict[str, Any]] = json.loads(sys.argv[1])
    outcomes = {key: _run_scenario(**scenario) for key, scenario in scenarios.items()}
    print(RESULT_MARK + json.dumps(outcomes))


def _run_scenario(weights: str | None = None, registry: dict[str, Any] | None = None) -> dict[str, Any]:
    """`lvc_zoo.load("dcvc_dc", weights=weights)`, with the registry entry changed by `registry`."""
    original = model_table.get_spec("dcvc_dc")
    if registry is not None:
        model_table._INDEX["dcvc_dc"] = dataclasses.replace(original, **registry)
    start = time.perf_counter()
    try:
        codec = lvc_zoo.load("dcvc_dc", weights=weights)
    except LvcZooError as err:
        return {"error": type(err).__name__, "message": str(err), "seconds": time.perf_counter() - start}
    finally:
        model_table._INDEX["dcvc_dc"] = original
    return {"error": None, "digest": state_sha256(codec), "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------- the parent side
@dataclasses.dataclass(frozen=True)
class Served:
    """The running fake Hub and what the tests need to know about its main repo."""

    hub: FakeHub
    commit: str
    pinned_commit: str
    incomplete_commit: str
    pins: dict[str, str]
    digest: str


def child_env(hub: FakeHub, hf_home: Path, offline: bool) -> dict[str, str]:
    """This environment without Hub settings or proxies, pointed at `hub` and `hf_home`."""
    dropped = ("HF_", "HUGGINGFACE_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith(dropped)}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def run_child(hub: FakeHub, hf_home: Path, scenarios: dict[str, dict[str, Any]], offline: bool = False) -> Outcomes:
    """Run `scenarios` in a fresh Python process; return their outcomes by name."""
    code = f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); from test_hub_download import child_main; child_main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(scenarios)],
        env=child_env(hub, hf_home, offline),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    assert proc.returncode == 0 and lines, f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1].removeprefix(RESULT_MARK))


def copy_repo(source: Path, target: Path) -> Path:
    """A copy of a weights directory, to serve in a changed form."""
    return Path(shutil.copytree(source, target))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A fake Hub serving a small DCVC-DC (with a subfolder file), and broken variants of it."""
    root = tmp_path_factory.mktemp("repos")
    torch.manual_seed(0)
    codec = DCVCDC(DCVCDCConfig.small())
    good = lvc_zoo.save_pretrained(codec, root / "good")
    (good / NOTES).parent.mkdir()
    (good / NOTES).write_text("converted from nothing: random weights for tests\n")
    meta = json.loads((good / "config.json").read_text())
    meta["files"][NOTES] = sha256_file(good / NOTES)
    (good / "config.json").write_text(json.dumps(meta, indent=2))

    tampered = copy_repo(good, root / "tampered")
    data = bytearray((tampered / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tampered / "model.safetensors").write_bytes(bytes(data))
    incomplete = copy_repo(good, root / "incomplete")
    (incomplete / "model.safetensors").unlink()

    with FakeHub() as hub:
        commit = hub.add_repo(REPO, good, tags=(TAG,))
        pinned_commit = hub.add_repo(PINNED, good)
        hub.add_repo("lvc/tampered", tampered)
        incomplete_commit = hub.add_repo("lvc/incomplete", incomplete)
        pins = {name: sha256_file(good / name) for name in ("config.json", "model.safetensors")}
        yield Served(hub, commit, pinned_commit, incomplete_commit, pins, state_sha256(codec))


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HF_HOME the online child fills and the offline child reads."""
    return tmp_path_factory.mktemp("hf_home")


@pytest.fixture(scope="module")
def online(served: Served, hf_home: Path) -> Outcomes:
    """Every online scenario, in one child with an empty cache at first."""
    wrong_pins = {**served.pins, "model.safetensors": "0" * 64}
    return run_child(
        served.hub,
        hf_home,
        {
            "hub_id": {"weights": f"hf-hub:{REPO}"},
            "tag": {"weights": f"hf-hub:{REPO}@{TAG}"},
            "unknown_revision": {"weights": f"hf-hub:{REPO}@nope"},
            "tampered": {"weights": "hf-hub:lvc/tampered"},
            "incomplete": {"weights": "hf-hub:lvc/incomplete"},
            "unknown_repo": {"weights": "hf-hub:lvc/no-such-repo"},
            "pinned": {"registry": {"hub_repo": PINNED, "revision": served.pinned_commit, "files": served.pins}},
            "wrong_pin": {"registry": {"hub_repo": PINNED, "revision": served.pinned_commit, "files": wrong_pins}},
        },
    )


@pytest.fixture(scope="module")
def offline(served: Served, hf_home: Path, online: Outcomes) -> tuple[Outcomes, list[str]]:
    """Loads from the cache the online child filled, with HF_HUB_OFFLINE=1; and the requests made."""
    before = len(served.hub.requests)
    outcomes = run_child(
        served.hub,
        hf_home,
        {"hub_id": {"weights": f"hf-hub:{REPO}"}, "tag": {"weights": f"hf-hub:{REPO}@{TAG}"}},
        offline=True,
    )
    return outcomes, served.hub.requests[before:]


@pytest.fixture(scope="module")
def offline_empty(served: Served, tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcomes, list[str]]:
    """A load with HF_HUB_OFFLINE=1 and an empty cache; and the requests made."""
    before = len(served.hub.requests)
    outcomes = run_child(
        served.hub, tmp_path_factory.mktemp("empty_hf_home"), {"hub_id": {"weights": f"hf-hub:{REPO}"}}, offline=True
    )
    return outcomes, served.hub.requests[before:]


# ----------------------------------------------------------------------- downloads
def test_hub_id_downloads_into_the_hf_cache_and_loads_identical_state(
    served: Served, online: Outcomes, hf_home: Path
) -> None:
    assert online["hub_id"]["error"] is None, online["hub_id"]
    assert online["hub_id"]["digest"] == served.digest
    snapshot = hf_home / "hub" / "models--lvc--dcvc-dc-small" / "snapshots" / served.commit
    assert sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()) == [
        "config.json",
        "model.safetensors",
        NOTES,
    ]
    requests = served.hub.requests
    assert f"GET /{REPO}/resolve/main/config.json" in requests
    # the listed files come from the commit config.json was read at, subfolders included
    assert f"GET /{REPO}/resolve/{served.commit}/model.safetensors" in requests
    assert f"GET /{REPO}/resolve/{served.commit}/{NOTES}" in requests


def test_cached_weights_load_offline_without_requests(served: Served, offline: tuple[Outcomes, list[str]]) -> None:
    outcomes, requests = offline
    for key in ("hub_id", "tag"):
        assert outcomes[key]["error"] is None, outcomes[key]
        assert outcomes[key]["digest"] == served.digest
    assert requests == []


def test_revision_is_passed_to_the_hub(served: Served, online: Outcomes) -> None:
    assert online["tag"]["error"] is None and online["tag"]["digest"] == served.digest
    assert f"HEAD /{REPO}/resolve/{TAG}/config.json" in served.hub.requests
    unknown = online["unknown_revision"]
    assert unknown["error"] == "WeightsNotFoundError"
    assert f"'config.json' of hf-hub:{REPO}@nope (repo {REPO}, revision nope)" in unknown["message"]
    assert "the repository has no revision 'nope'" in unknown["message"]
    assert f"HEAD /{REPO}/resolve/nope/config.json" in served.hub.requests


def test_tampered_weights_on_the_hub_raise_checksum_error(online: Outcomes) -> None:
    outcome = online["tampered"]
    assert outcome["error"] == "ChecksumError"
    pattern = r"models--lvc--tampered/snapshots/[0-9a-f]{40}/model\.safetensors: expected sha256 [0-9a-f]{64}, got"
    assert re.search(pattern, outcome["message"]), outcome["message"]


def test_unknown_repo_says_what_was_tried_and_how_to_get_weights_fast(served: Served, online: Outcomes) -> None:
    outcome = online["unknown_repo"]
    assert outcome["error"] == "WeightsNotFoundError"
    tried = f"'config.json' of hf-hub:lvc/no-such-repo (repo lvc/no-such-repo, revision main) from {served.hub.url}"
    assert tried in outcome["message"] and "the repository does not exist" in outcome["message"]
    assert re.search(HOW_TO, outcome["message"]), outcome["message"]
    assert outcome["seconds"] < FAST_S
    assert served.hub.requests.count("HEAD /lvc/no-such-repo/resolve/main/config.json") == 1  # no retries


def test_missing_file_names_the_file_and_the_commit_tried(served: Served, online: Outcomes) -> None:
    outcome = online["incomplete"]
    assert outcome["error"] == "WeightsNotFoundError"
    tried = f"'model.safetensors' of hf-hub:lvc/incomplete (repo lvc/incomplete, revision {served.incomplete_commit})"
    assert tried in outcome["message"]
    assert "the repository has no file 'model.safetensors'" in outcome["message"]
    assert re.search(HOW_TO, outcome["message"]) and outcome["seconds"] < FAST_S


def test_offline_with_an_empty_cache_fails_at_once(offline_empty: tuple[Outcomes, list[str]]) -> None:
    outcomes, requests = offline_empty
    outcome = outcomes["hub_id"]
    assert outcome["error"] == "WeightsNotFoundError"
    assert f"'config.json' of hf-hub:{REPO} (repo {REPO}, revision main)" in outcome["message"]
    assert "HF_HUB_OFFLINE is set and the file is not in the cache" in outcome["message"]
    assert re.search(HOW_TO, outcome["message"]) and outcome["seconds"] < FAST_S
    assert requests == []


def test_registry_default_downloads_the_pinned_commit_and_checks_the_pins(served: Served, online: Outcomes) -> None:
    assert online["pinned"]["error"] is None and online["pinned"]["digest"] == served.digest
    assert f"GET /{PINNED}/resolve/{served.pinned_commit}/config.json" in served.hub.requests
    assert not any(f"/{PINNED}/resolve/main/" in request for request in served.hub.requests)
    wrong = online["wrong_pin"]
    assert wrong["error"] == "ChecksumError"
    assert re.search(
        r"model\.safetensors \(pinned by the lvc_zoo registry entry of 'dcvc_dc'\): expected sha256 0{64}, got",
        wrong["message"],
    ), wrong["message"]


# ----------------------------------------------------------------------- no network at all
@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything reaches huggingface_hub's downloader."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("hf_hub_download was called")

    monkeypatch.setattr(lvc_hub, "hf_hub_download", refuse)


@pytest.mark.parametrize(
    "weights",
    [
        "hf-hub:",
        "hf-hub:name-only",
        "hf-hub:/name",
        "hf-hub:org/",
        "hf-hub:a/b/c",
        "hf-hub:org/na--me",
        "hf-hub:org/name@",
        "hf-hub:org/name@bad rev",
        "hf-hub:org/name@v1..2",
        "hf-hub:org/name@a@b",
        "hf-hub:org/name@/main",
    ],
)
def test_malformed_hub_ids_raise_config_error_with_the_expected_form(weights: str, no_downloads: None) -> None:
    with pytest.raises(ConfigError, match=r"is not a Hub id: use 'hf-hub:ORG/NAME' or 'hf-hub:ORG/NAME@REVISION'"):
        lvc_zoo.load("dcvc_dc", weights=weights)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ("hf-hub:org/name", HubRef("org/name")),
        ("hf-hub:Org-1/my_model.v2@v1.0", HubRef("Org-1/my_model.v2", "v1.0")),
        ("hf-hub:org/name@refs/pr/3", HubRef("org/name", "refs/pr/3")),
        (f"hf-hub:org/name@{'ab' * 20}", HubRef("org/name", "ab" * 20)),
    ],
)
def test_hub_ids_parse_into_repo_and_revision(weights: str, expected: HubRef) -> None:
    assert parse_hub_id(weights) == expected
    assert str(expected) == weights


def test_unreachable_hub_says_what_was_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise LocalEntryNotFoundError("not cached") from ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(lvc_hub, "hf_hub_download", unreachable)
    monkeypatch.setattr(lvc_hub.constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(WeightsNotFoundError) as info:
        lvc_zoo.load("dcvc_dc", weights="hf-hub:org/name@v2")
    message = str(info.value)
    assert "'config.json' of hf-hub:org/name@v2 (repo org/name, revision v2)" in message
    assert "the Hub could not be reached (ConnectionRefusedError: [Errno 111] Connection refused)" in message
    assert "and the file is not in the cache" in message
    assert re.search(HOW_TO, message), message


def test_registry_revision_must_be_a_commit_of_a_hub_repo() -> None:
    def spec(**hub: Any) -> ModelSpec:
        return ModelSpec(name="x", model=DCVCDC, **hub)

    assert spec(hub_repo="org/name", revision="0123456789abcdef" * 2 + "01234567").revision is not None
    with pytest.raises(ConfigError, match="must be a full commit id"):
        spec(hub_repo="org/name", revision="main")
    with pytest.raises(ConfigError, match="must be a full commit id"):
        spec(revision="0" * 40)


def test_registry_hub_repos_are_valid_hub_ids() -> None:
    for spec in MODELS:
        if spec.hub_repo is not None:
            assert parse_hub_id(f"hf-hub:{spec.hub_repo}").repo_id == spec.hub_repo
