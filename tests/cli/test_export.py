"""`lvc-zoo export`: a training checkpoint becomes a weights directory that load() reads."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.cli.main import main
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.training import Stage

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_testing import clips, fit, small_model  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DCVCDC]:
    model = small_model(Stage("intra", 1, "intra", ["intra.*"], frames=1, lr=1e-3))
    run = fit(model, clips(1, 2), max_steps=1)
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    run.save_checkpoint(path)
    return path, model


@pytest.mark.slow
def test_export_writes_a_directory_load_reads_with_the_trained_weights(checkpoint, tmp_path, capsys) -> None:
    path, model = checkpoint
    assert main(["export", str(path), "--model", "dcvc_dc", "-o", str(tmp_path / "out")]) == 0
    assert "lvc_zoo.load('dcvc_dc'" in capsys.readouterr().out
    codec = lvc_zoo.load("dcvc_dc", weights=tmp_path / "out")
    assert type(codec) is DCVCDC and codec.config == DCVCDCConfig.small()
    trained = model.state_dict()
    assert all(torch.equal(trained[key], value) for key, value in codec.state_dict().items())


def test_export_refuses_a_missing_checkpoint_and_the_wrong_model(checkpoint, tmp_path, capsys) -> None:
    path, _ = checkpoint
    assert main(["export", str(tmp_path / "none.ckpt"), "--model", "dcvc_dc", "-o", str(tmp_path / "a")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(path), "--model", "sevc", "-o", str(tmp_path / "b")]) == 2
    assert "not a SEVC training checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_export_refuses_a_checkpoint_without_hyper_parameters_as_initialise_does(checkpoint, tmp_path, capsys) -> None:
    """The one rule of `read_training_checkpoint` (tests/training/test_init_from.py checks `initialise`)."""
    path, _ = checkpoint
    bare = tmp_path / "bare.ckpt"
    torch.save({"state_dict": torch.load(path, map_location="cpu", weights_only=True)["state_dict"]}, bare)
    assert main(["export", str(bare), "--model", "dcvc_dc", "-o", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "bare.ckpt is not an lvc_zoo training checkpoint (lightning fit): it records no hyper_parameters" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_export_reads_the_yaml_form_of_a_lightning_cli_checkpoint(checkpoint, tmp_path) -> None:
    """LightningCLI runs store the init args as parsed from YAML (dicts, lists) with the class path."""
    path, model = checkpoint
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config = dataclasses.asdict(DCVCDCConfig.small())
    saved["hyper_parameters"] = {"_class_path": "lvc_zoo.models.DCVCDC", "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}}
    torch.save(saved, tmp_path / "cli.ckpt")
    assert main(["export", str(tmp_path / "cli.ckpt"), "--model", "dcvc_dc", "-o", str(tmp_path / "out")]) == 0
    codec = lvc_zoo.load("dcvc_dc", weights=tmp_path / "out")
    assert codec.config == DCVCDCConfig.small()
    assert all(torch.equal(model.state_dict()[key], value) for key, value in codec.state_dict().items())
    assert main(["export", str(tmp_path / "cli.ckpt"), "--model", "sevc", "-o", str(tmp_path / "b")]) == 2


@pytest.mark.slow
def test_export_float16_halves_the_file_and_loads_the_rounded_weights_as_float32(checkpoint, tmp_path) -> None:
    path, model = checkpoint
    assert main(["export", str(path), "--model", "dcvc_dc", "-o", str(tmp_path / "f32")]) == 0
    assert main(["export", str(path), "--model", "dcvc_dc", "-o", str(tmp_path / "f16"), "--dtype", "float16"]) == 0
    sizes = [(tmp_path / d / "model.safetensors").stat().st_size for d in ("f32", "f16")]
    assert sizes[1] < 0.55 * sizes[0]  # tensors halve; the JSON header does not
    codec = lvc_zoo.load("dcvc_dc", weights=tmp_path / "f16")
    trained = model.state_dict()
    for key, value in codec.state_dict().items():
        assert value.dtype == trained[key].dtype
        assert torch.equal(value, trained[key].half().to(value.dtype) if value.is_floating_point() else trained[key])


@pytest.mark.slow
def test_export_writes_files_with_the_mode_the_umask_gives(checkpoint, tmp_path) -> None:
    path, _ = checkpoint
    previous = os.umask(0o027)
    try:
        assert main(["export", str(path), "--model", "dcvc_dc", "-o", str(tmp_path / "out")]) == 0
    finally:
        os.umask(previous)
    modes = {file.name: os.stat(file).st_mode & 0o777 for file in (tmp_path / "out").iterdir()}
    assert modes and all(mode == 0o640 for mode in modes.values()), {name: oct(mode) for name, mode in modes.items()}
