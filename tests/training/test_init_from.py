"""`lvc_zoo.initialise.initialise`: start a model from existing weights, outside its constructor."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from lvc_zoo.errors import ChecksumError, ConfigError, UnknownModelError, WeightsNotFoundError
from lvc_zoo.hub import save_pretrained
from lvc_zoo.initialise import initialise
from lvc_zoo.models import DCVCDC, SEVC, DCVCDCConfig, DCVCDCTiny, SEVCConfig


class DCVCDCPlus(DCVCDC):
    """A test model: DCVC-DC with one extra module, declared to start from DCVC-DC weights."""

    model_name = "dcvc_dc_plus"
    initialisable_from = ("dcvc_dc", "dcvc_dc_tiny")

    def __init__(self, config: DCVCDCConfig | None = None) -> None:
        super().__init__(config)
        self.inter.t2_align = nn.Conv2d(3, 3, 1)


@pytest.fixture
def weights_dir(tmp_path: Path) -> Path:
    torch.manual_seed(1)
    return save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path / "weights")


def _equal_to_saved(model: nn.Module, weights_dir: Path) -> bool:
    saved, state = load_file(str(weights_dir / "model.safetensors")), model.state_dict()
    return all(torch.equal(state[key], saved[key]) for key in saved)


def test_same_model_and_config_load_strictly(weights_dir: Path) -> None:
    torch.manual_seed(2)
    model = DCVCDC(DCVCDCConfig.small())
    report = initialise(model, weights_dir)
    assert report.strict and report.model == "dcvc_dc" and not report.fresh
    assert set(model.state_dict()) == set(load_file(str(weights_dir / "model.safetensors")))
    assert _equal_to_saved(model, weights_dir)


def test_the_constructor_keeps_init_from_as_data_only(weights_dir: Path) -> None:
    torch.manual_seed(2)
    model = DCVCDC(DCVCDCConfig.small(), init_from=str(weights_dir))
    assert not _equal_to_saved(model, weights_dir)  # nothing loaded at construction
    assert model.hparams["init_from"] == str(weights_dir)
    assert set(model.hparams) == {"config", "recipe", "init_from"}


@pytest.mark.slow
def test_another_config_is_one_line_naming_the_field(weights_dir: Path) -> None:
    config = dataclasses.replace(DCVCDCConfig.small(), residual_channels=4)
    with pytest.raises(ConfigError, match="residual_channels") as caught:
        initialise(DCVCDC(config), weights_dir)
    assert "\n" not in str(caught.value)


def test_the_sha256_missing_directories_and_unknown_names_are_checked(weights_dir: Path, tmp_path: Path) -> None:
    model = DCVCDC(DCVCDCConfig.small())
    with pytest.raises(WeightsNotFoundError):
        initialise(model, str(tmp_path / "none" / "weights"))
    with pytest.raises(UnknownModelError, match="dcvc_dc"):
        initialise(model, "dcvc_dd")
    meta = json.loads((weights_dir / "config.json").read_text())
    meta["files"]["model.safetensors"] = "0" * 64
    (weights_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ChecksumError):
        initialise(model, weights_dir)


@pytest.mark.slow
def test_a_registry_variant_brings_its_weights_to_its_base_class() -> None:
    model = DCVCDC(DCVCDCConfig.tiny())  # dcvc_dc_tiny is a DCVCDCTiny, a DCVCDC at tiny widths
    report = initialise(model, "dcvc_dc_tiny")
    assert report.strict and report.model == "dcvc_dc_tiny"
    with pytest.raises(ConfigError, match="another dcvc_dc_tiny config: ch_2x"):
        initialise(DCVCDC(DCVCDCConfig.small()), "dcvc_dc_tiny")


@pytest.mark.slow
def test_a_declared_model_starts_partially_and_names_the_fresh_modules(weights_dir: Path) -> None:
    torch.manual_seed(3)
    model = DCVCDCPlus(DCVCDCConfig.small())
    fresh = model.inter.t2_align.weight.detach().clone()
    report = initialise(model, weights_dir)
    assert not report.strict and report.fresh == {"inter.t2_align": (2, 2)}
    assert report.lines()[1:] == ["inter.t2_align: initialised fresh"]
    assert _equal_to_saved(model, weights_dir) and torch.equal(model.inter.t2_align.weight, fresh)


def test_an_undeclared_model_is_refused_in_one_line(weights_dir: Path) -> None:
    with pytest.raises(ConfigError, match="holds dcvc_dc weights, but sevc starts only from its own") as caught:
        initialise(SEVC(SEVCConfig.small()), weights_dir)
    assert "\n" not in str(caught.value)


def test_a_checkpoint_without_hyper_parameters_is_refused_as_by_export(weights_dir: Path, tmp_path: Path) -> None:
    """Nothing records its model or config: the same one line as `lvc-zoo export` (tests/cli/test_export.py)."""
    torch.save({"state_dict": load_file(str(weights_dir / "model.safetensors"))}, tmp_path / "bare.ckpt")
    with pytest.raises(ConfigError, match="bare.ckpt is not an lvc_zoo training checkpoint .*records no hyper_parameters") as caught:
        initialise(DCVCDC(DCVCDCConfig.small()), tmp_path / "bare.ckpt")
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_a_lightning_checkpoint_is_a_source(weights_dir: Path, tmp_path: Path) -> None:
    """LightningCLI checkpoints record the class path and the config as YAML values."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(DCVCDCConfig.small()).items()}
    state = load_file(str(weights_dir / "model.safetensors"))
    hyper = {"_class_path": "lvc_zoo.models.DCVCDC", "config": config}
    torch.save({"state_dict": state, "hyper_parameters": hyper}, tmp_path / "last.ckpt")
    model = DCVCDC(DCVCDCConfig.small())
    assert initialise(model, tmp_path / "last.ckpt").strict and _equal_to_saved(model, weights_dir)
    with pytest.raises(ConfigError, match="ch_2x"):
        initialise(DCVCDCTiny(), tmp_path / "last.ckpt")
