"""The lvc_zoo weights directory: save_pretrained -> load(weights=DIR), verification, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.errors import ChecksumError, ConfigError, WeightsNotFoundError
from lvc_zoo.hub import config_from_dict, load_local, resolve_weights, sha256_file
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.registry import ModelSpec

HOW_TO = r"no published weights yet.*lvc-zoo convert dcvc_dc --intra I\.pth\.tar --inter P\.pth\.tar -o DIR.*weights=DIR.*pretrained=False"


@pytest.fixture(scope="module")
def small_codec() -> DCVCDC:
    torch.manual_seed(0)
    return DCVCDC(DCVCDCConfig.small())


@pytest.fixture
def saved(small_codec: DCVCDC, tmp_path: Path) -> Path:
    return lvc_zoo.save_pretrained(small_codec, tmp_path / "dcvc_dc_small")


def test_save_writes_config_weights_and_card(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    meta = json.loads((saved / "config.json").read_text())
    assert meta["model"] == "dcvc_dc"
    assert meta["config"]["ch_1x"] == DCVCDCConfig.small().ch_1x
    assert meta["qualities"] == [0, 1, 2, 3]
    assert meta["quality_to_q_index"] == {"0": 0, "1": 1, "2": 2, "3": 3}
    assert meta["lvc_zoo_version"] == lvc_zoo.__version__
    assert meta["files"] == {"model.safetensors": sha256_file(saved / "model.safetensors")}
    card = (saved / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: lvc_zoo\nlicense: mit\n")
    assert "Neural Video Compression with Diverse Contexts" in card and "0..3" in card


@pytest.mark.slow
def test_load_returns_the_exact_class_with_identical_state(small_codec: DCVCDC, saved: Path) -> None:
    codec = lvc_zoo.load("dcvc_dc", 2, weights=saved)
    assert type(codec) is DCVCDC
    assert codec.config == DCVCDCConfig.small()
    assert codec.quality == 2 and codec.model_name == "dcvc_dc" and not codec.training
    expected, actual = small_codec.state_dict(), codec.state_dict()
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


def test_tampered_weights_raise_checksum_error_naming_the_file(saved: Path) -> None:
    data = bytearray((saved / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (saved / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"model\.safetensors: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}"):
        lvc_zoo.load("dcvc_dc", weights=saved)


def test_weights_of_another_model_raise_config_error(saved: Path) -> None:
    meta = json.loads((saved / "config.json").read_text())
    meta["model"] = "dcvc_fm"
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"weights of model 'dcvc_fm', not 'dcvc_dc'"):
        lvc_zoo.load("dcvc_dc", weights=saved)


def test_pretrained_without_weights_says_how_to_get_them() -> None:
    with pytest.raises(WeightsNotFoundError, match=HOW_TO):
        lvc_zoo.load("dcvc_dc")


def test_missing_directory_and_missing_config(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        lvc_zoo.load("dcvc_dc", weights=tmp_path / "nowhere")
    with pytest.raises(WeightsNotFoundError, match="has no config.json"):
        lvc_zoo.load("dcvc_dc", weights=tmp_path)


def test_save_refuses_a_codec_under_another_class_name(small_codec: DCVCDC, tmp_path: Path) -> None:
    class Renamed(DCVCDC):
        pass

    with pytest.raises(ConfigError, match="Cannot save a Renamed as 'dcvc_dc'"):
        lvc_zoo.save_pretrained(Renamed(DCVCDCConfig.small()), tmp_path)


def test_config_from_dict_restores_tuples_and_rejects_unknown_fields(tmp_path: Path) -> None:
    as_json = json.loads(json.dumps(dataclasses.asdict(DCVCDCConfig.small())))
    config = config_from_dict(DCVCDCConfig, as_json, tmp_path / "config.json")
    assert config == DCVCDCConfig.small() and config.unet_channels == (8, 8, 16)
    with pytest.raises(ConfigError, match=r"no fields \['width'\].*upgrade lvc_zoo"):
        config_from_dict(DCVCDCConfig, {**as_json, "width": 3}, tmp_path / "config.json")


BAD_CONFIGS = {
    "a string width": ({"ch_1x": "16"}, r"field 'ch_1x' must be an int in 1\.\.1024, got '16'"),
    "a float width": ({"ch_1x": 16.0}, r"field 'ch_1x' must be an int in 1\.\.1024, got 16\.0"),
    "a bool width": ({"anchors": True}, r"field 'anchors' must be an int in 1\.\.64, got True"),
    "a negative width": ({"ch_2x": -8}, r"field 'ch_2x' must be an int in 1\.\.1024, got -8"),
    "a width of 10**7": ({"ch_16x": 10**7}, r"field 'ch_16x' must be an int in 1\.\.1024, got 10000000"),
    "a short list": ({"unet_channels": [8, 8]}, r"field 'unet_channels' must be a list of 3 ints in 1\.\.1024"),
    "a list item": ({"flow_channels": [8, 8, "x", 8]}, r"field 'flow_channels\[2\]' must be an int"),
    "a NaN float": ({"align_max_residual": float("nan")}, r"field 'align_max_residual' must be a float in 0\.0\.\.8192\.0"),
    "a missing field": ({"ch_1x": None}, r"misses fields \['ch_1x'\]"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_a_bad_config_json_is_refused_naming_the_field(saved: Path, case: str) -> None:
    change, message = BAD_CONFIGS[case]
    meta = json.loads((saved / "config.json").read_text())
    meta["config"].update(change)
    meta["config"] = {key: value for key, value in meta["config"].items() if value is not None}
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=message) as caught:
        lvc_zoo.load("dcvc_dc", weights=saved)
    assert "\n" not in str(caught.value)


def test_widths_that_do_not_fit_the_weights_are_refused_before_building(saved: Path) -> None:
    meta = json.loads((saved / "config.json").read_text())
    meta["config"]["ch_1x"] = 1024
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"does not match the model in config\.json: .* has shape"):
        lvc_zoo.load("dcvc_dc", weights=saved)


def test_a_corrupt_weights_file_without_a_pin_is_a_config_error(saved: Path) -> None:
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    meta = json.loads((saved / "config.json").read_text())
    meta["files"]["model.safetensors"] = sha256_file(weights)  # a sha that matches the truncated file
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"model\.safetensors is not a readable safetensors file .*truncated or corrupt"):
        lvc_zoo.load("dcvc_dc", weights=saved)


PEAK_RSS = """
import resource, sys
import lvc_zoo
from lvc_zoo.errors import ConfigError
if len(sys.argv) > 1:
    try:
        lvc_zoo.load("dcvc_dc", weights=sys.argv[1])
    except ConfigError:
        pass
    else:
        sys.exit("the config was accepted")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.slow
def test_refusing_widths_of_ten_million_takes_no_memory(saved: Path) -> None:
    """The largest config: every field 10**7 (the issue's 0.6-10.9 GB case), every list at its length, floats 1e300."""
    meta = json.loads((saved / "config.json").read_text())
    meta["config"] = {
        field: [10**7] * len(value) if isinstance(value, list) else 10**7 if isinstance(value, int) else 1e300
        for field, value in meta["config"].items()
    }
    (saved / "config.json").write_text(json.dumps(meta))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    peak = [
        int(subprocess.run([sys.executable, "-c", PEAK_RSS, *args], check=True, env=env, capture_output=True, text=True,
                           timeout=300).stdout)
        for args in ([], [str(saved)])
    ]
    print(f"\npeak RSS: idle {peak[0]} KiB, largest rejected config {peak[1]} KiB ({peak[1] - peak[0]:+} KiB)")
    assert peak[1] - peak[0] < 200 * 1024, f"peak RSS rose by {(peak[1] - peak[0]) / 1024:.0f} MB"


def test_config_without_a_weights_checksum_is_refused(saved: Path) -> None:
    meta = json.loads((saved / "config.json").read_text())
    meta["files"] = {}
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"records no sha256 for model\.safetensors"):
        lvc_zoo.load("dcvc_dc", weights=saved)


# ----------------------------------------------------------------------------- bundled weights
def _bundled_spec(files: dict[str, str]) -> ModelSpec:
    return ModelSpec(
        name="dcvc_dc", model=DCVCDC, preset=DCVCDCConfig.small(),
        bundled="weights/dcvc_dc_small", files=files,
    )


@pytest.mark.slow
def test_bundled_weights_load_from_the_package_without_a_download(
    small_codec: DCVCDC, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = saved.parent / "package"
    shutil.copytree(saved, package / "weights" / "dcvc_dc_small")
    monkeypatch.setattr("lvc_zoo.hub.PACKAGE_DIR", package)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = _bundled_spec({"model.safetensors": sha256_file(saved / "model.safetensors")})
    assert spec.has_published_weights
    codec = load_local(resolve_weights(spec, None), "dcvc_dc")
    assert all(torch.equal(a, b) for a, b in zip(codec.state_dict().values(), small_codec.state_dict().values()))


def test_bundled_weights_are_checked_against_the_registry_pin(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = saved.parent / "package"
    shutil.copytree(saved, package / "weights" / "dcvc_dc_small")
    monkeypatch.setattr("lvc_zoo.hub.PACKAGE_DIR", package)
    with pytest.raises(ChecksumError, match="pinned by the lvc_zoo registry entry.*reinstall lvc_zoo"):
        resolve_weights(_bundled_spec({"model.safetensors": "0" * 64}), None)
    monkeypatch.setattr("lvc_zoo.hub.PACKAGE_DIR", saved.parent / "empty")
    with pytest.raises(WeightsNotFoundError, match="should ship inside lvc_zoo.*reinstall"):
        resolve_weights(_bundled_spec({"model.safetensors": "0" * 64}), None)


def test_bundled_spec_needs_pins_and_no_hub_repo() -> None:
    with pytest.raises(ConfigError, match="bundled weights"):
        _bundled_spec({})
