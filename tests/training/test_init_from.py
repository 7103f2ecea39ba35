"""`init_from`: start training from an lvc_zoo weights directory, with lvc_zoo.load's checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lvc_zoo.errors import ChecksumError, ConfigError, UnknownModelError, WeightsNotFoundError
from lvc_zoo.hub import save_pretrained
from lvc_zoo.models import DCVCDC, DCVCDCConfig


@pytest.fixture
def weights_dir(tmp_path: Path) -> Path:
    torch.manual_seed(1)
    return save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path / "weights")


def test_init_from_a_local_directory_loads_the_weights(weights_dir: Path) -> None:
    torch.manual_seed(2)
    model = DCVCDC(DCVCDCConfig.small(), init_from=str(weights_dir))
    saved = load_file(str(weights_dir / "model.safetensors"))
    state = model.state_dict()
    assert set(state) == set(saved)
    assert all(torch.equal(state[key], saved[key]) for key in saved)


def test_init_from_with_another_config_names_the_field(weights_dir: Path) -> None:
    config = dataclasses.replace(DCVCDCConfig.small(), residual_channels=4)
    with pytest.raises(ConfigError, match="residual_channels"):
        DCVCDC(config, init_from=str(weights_dir))


def test_init_from_checks_the_sha256(weights_dir: Path) -> None:
    meta = json.loads((weights_dir / "config.json").read_text())
    meta["files"]["model.safetensors"] = "0" * 64
    (weights_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ChecksumError):
        DCVCDC(DCVCDCConfig.small(), init_from=str(weights_dir))


def test_init_from_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError):
        DCVCDC(DCVCDCConfig.small(), init_from=str(tmp_path / "none" / "weights"))


def test_init_from_an_unknown_name() -> None:
    with pytest.raises(UnknownModelError, match="dcvc_dc"):
        DCVCDC(DCVCDCConfig.small(), init_from="dcvc_dd")


def test_init_from_is_not_a_hyperparameter(weights_dir: Path) -> None:
    model = DCVCDC(DCVCDCConfig.small(), init_from=str(weights_dir))
    assert "init_from" not in model.hparams
    assert set(model.hparams) == {"config", "recipe"}
