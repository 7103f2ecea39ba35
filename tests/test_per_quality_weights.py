"""Rate as data, and one weights file per quality (the layout LSTVC will use), with a small fixture model.

`PerQualityCodec` is a test-only DCVC-DC at test widths whose rate says each quality has its
own weights; it joins the registry (as "pq_test") only inside these tests. Hub downloads run
in a child process (huggingface_hub reads HF_ENDPOINT at import), against tests/fakehub.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lvc_zoo
from fakehub import FakeHub
from lvc_zoo import registry
from lvc_zoo.cli.main import main as lvc_zoo_main
from lvc_zoo.errors import ConfigError, QualityError
from lvc_zoo.hub import save_pretrained
from lvc_zoo.models import DCVCDC, SEVC, DCVCDCConfig, DCVCDCTiny, SEVCConfig
from lvc_zoo.rate import RateSpec

TESTS = Path(__file__).resolve().parent
NAME = "pq_test"


class PerQualityCodec(DCVCDC):
    """A DCVC-DC trained once per quality (a test double for LSTVC's one model per lambda)."""

    model_name = NAME

    @classmethod
    def rate_for(cls, config: DCVCDCConfig) -> RateSpec:
        return RateSpec.per_quality_weights((64.0, 128.0, 256.0, 512.0), validation=(0, 3), default=1)


def register(hub_repo: str | None = None, files: dict[str, str] | None = None) -> registry.ModelSpec:
    spec = registry.ModelSpec(name=NAME, model=PerQualityCodec, preset=DCVCDCConfig.small(), hub_repo=hub_repo, files=files or {})
    registry._INDEX[NAME] = spec
    return spec


def trained(quality: int) -> PerQualityCodec:
    torch.manual_seed(100 + quality)
    codec = PerQualityCodec(DCVCDCConfig.small())
    codec.quality = quality
    return codec


@pytest.fixture
def per_quality_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(registry._INDEX, NAME, registry.ModelSpec(name=NAME, model=PerQualityCodec, preset=DCVCDCConfig.small()))
    return save_pretrained({q: trained(q) for q in range(4)}, tmp_path / "pq")


# ----------------------------------------------------------------------------- RateSpec
def test_rate_spec_constructors_and_checks() -> None:
    anchors = RateSpec.anchors(4, (85.0, 170.0, 380.0, 840.0))
    assert anchors.qualities == anchors.validation == (0, 1, 2, 3) and anchors.default_quality == 3
    assert anchors.lambda_of(2) == 380.0
    fm = RateSpec.q_index(64, (1.0, 64.0))
    assert fm.qualities == tuple(range(64)) and fm.validation == (0, 21, 42, 63)
    assert fm.lambda_of(0) == 1.0 and fm.lambda_of(63) == pytest.approx(64.0) and fm.lambda_of(21) == pytest.approx(4.0)
    with pytest.raises(QualityError):
        anchors.lambda_of(4)
    for bad in (dict(lambdas=(1.0, 2.0)), dict(validation=(5,)), dict(validation=(2, 1)), dict(default=7), dict(lambdas=(4.0, 3.0, 2.0, 1.0))):
        with pytest.raises(ConfigError):
            RateSpec(**{"kind": "anchors", "qualities": (0, 1, 2, 3), "lambdas": (1.0, 2.0, 3.0, 4.0), "validation": (0, 3), **bad})


def test_models_and_the_registry_read_the_rate() -> None:
    assert DCVCDC.rate_for(DCVCDCConfig()).lambdas == (85.0, 170.0, 380.0, 840.0)
    assert SEVC.rate_for(SEVCConfig()).lambdas == (50.0, 95.0, 200.0, 400.0)
    assert registry.get_spec("dcvc_dc_tiny").rate == DCVCDCTiny.rate_for(DCVCDCConfig.tiny())
    assert all(spec.qualities == spec.rate.qualities for spec in registry.MODELS)
    assert {spec.rate.kind: spec.qualities for spec in registry.MODELS} == {
        "anchors": (0, 1, 2, 3), "q_index": tuple(range(64)), "per_quality_weights": (0, 1, 2, 3)
    }
    assert registry.get_spec("dcvc_dc_tiny").builder is DCVCDCTiny and DCVCDCTiny().model_name == "dcvc_dc_tiny"


# ----------------------------------------------------------------------------- per-quality weights
def test_the_directory_maps_each_quality_to_its_file(per_quality_dir: Path) -> None:
    meta = json.loads((per_quality_dir / "config.json").read_text())
    assert meta["quality_files"] == {str(q): f"model_q{q}.safetensors" for q in range(4)}
    assert set(meta["files"]) == {f"model_q{q}.safetensors" for q in range(4)}
    assert not (per_quality_dir / "model.safetensors").exists()


@pytest.mark.slow
def test_load_reads_the_file_of_the_quality_and_codes_only_that_quality(per_quality_dir: Path) -> None:
    codec = lvc_zoo.load(NAME, 2, weights=per_quality_dir)
    expected = trained(2).state_dict()
    assert codec.quality == 2 and all(torch.equal(v, expected[k]) for k, v in codec.state_dict().items())
    assert lvc_zoo.load(NAME, weights=per_quality_dir).quality == 1  # the rate's stated default
    frames = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with pytest.raises(QualityError, match=r"one weights file per quality, so load it with lvc_zoo.load\('pq_test', quality=3\)"):
        codec.compress(frames, quality=3)
    assert len(codec.compress(frames, quality=2)) > 0


@pytest.mark.slow
def test_decode_uses_the_file_of_the_streams_quality(per_quality_dir: Path, tmp_path: Path) -> None:
    frames = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    codec = lvc_zoo.load(NAME, 2, weights=per_quality_dir)
    (tmp_path / "clip.lvc").write_bytes(codec.compress(frames))
    out = tmp_path / "out.y4m"
    assert lvc_zoo_main(["decode", str(tmp_path / "clip.lvc"), "-o", str(out), "--weights", str(per_quality_dir), "--quiet"]) == 0
    assert out.is_file()


def child_main() -> None:
    """In a child with HF_ENDPOINT set: load quality 2 by hf-hub: id and quality 0 from the registry's repo."""
    repo, pins = sys.argv[1], json.loads(sys.argv[2])
    register(hub_repo=repo, files=pins)
    assert lvc_zoo.load(NAME, 2, weights=f"hf-hub:{repo}").quality == 2
    assert lvc_zoo.load(NAME, 0).quality == 0
    print("CHILD-OK")


@pytest.mark.slow
def test_a_hub_download_fetches_only_the_quality_asked_for(per_quality_dir: Path, tmp_path: Path) -> None:
    pins = json.loads((per_quality_dir / "config.json").read_text())["files"]
    with FakeHub() as hub:
        hub.add_repo("lvc/pq", per_quality_dir)
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        code = "import test_per_quality_weights as t; t.child_main()"
        run = subprocess.run([sys.executable, "-c", code, "lvc/pq", json.dumps(pins)], env=env, capture_output=True, text=True, timeout=300)
        assert "CHILD-OK" in run.stdout, run.stderr[-3000:]
        fetched = {request.rsplit("/", 1)[-1] for request in hub.requests if "/resolve/" in request}
    assert fetched == {"config.json", "model_q2.safetensors", "model_q0.safetensors"}
