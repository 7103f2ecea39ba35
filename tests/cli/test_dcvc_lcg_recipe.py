"""recipes/dcvc_lcg.yaml: the full-size model it builds from DCVC-FM weights, a small-width run on
generated long clips, and the one-line missing-data message."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import lvc_zoo
from fit_testing import RECIPES, cli_sandbox, small_config, tiny_args  # noqa: F401 (a fixture)
from lvc_zoo.cli import fit
from lvc_zoo.data import write_video
from lvc_zoo.hub import StoredWeights
from lvc_zoo.models import DCVCFM, DCVCFMConfig, DCVCLCG, DCVCLCGConfig

RECIPE = RECIPES / "dcvc_lcg.yaml"
FRESH = ("inter.long_term_memory", "inter.context_gathering", "inter.quality_embedding", "inter.mv_prior_film", "inter.y_prior_film")

pytestmark = [pytest.mark.usefixtures("cli_sandbox"), pytest.mark.slow]


def fm_weights(config: DCVCFMConfig) -> StoredWeights:
    """What `read_source("dcvc_fm")` returns once DCVC-FM weights are published (random weights here)."""
    torch.manual_seed(0)
    return StoredWeights("dcvc_fm", config, DCVCFM(config).state_dict(), None, Path("dcvc_fm"))


def test_the_unmodified_recipe_builds_the_full_size_model_from_dcvc_fm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = fm_weights(DCVCFMConfig())
    asked: list[str] = []
    monkeypatch.setattr(fit, "read_source", lambda source, **_: asked.append(source) or weights)
    cli = fit.ZooCLI(DCVCLCG, subclass_mode_model=True, subclass_mode_data=True, run=False, args=["-c", str(RECIPE)])
    model = cli.model
    assert asked == ["dcvc_fm"] and type(model) is DCVCLCG and model.config == DCVCLCGConfig()
    own = model.state_dict()
    assert all(torch.equal(own[key], value) for key, value in weights.state_dict.items())
    notes = capsys.readouterr().err
    assert all(f"lightning: note: {module}: initialised fresh" in notes for module in FRESH), notes
    recipe = model.recipe
    assert [(s.name, s.trainable, s.frames, s.group_size) for s in recipe.stages] == [
        ("lcg", ["lcg"], 7, None), ("long", ["*"], 32, 8), ("fine_tune", ["*"], 32, 8)
    ]
    assert recipe.validation_of(model.rate) == (0, 21, 42, 63) and len(model.rate.lambdas) == 64
    assert cli.trainer.max_steps == sum(s.steps for s in recipe.stages)
    assert cli.datamodule.frames == 32 and cli.datamodule.dataset == "folder"


def long_clips(root: Path, videos: int = 4, frames: int = 8) -> Path:
    """`videos` small y4m clips of `frames` panning frames (64 x 64) under `root`."""
    torch.manual_seed(0)
    for k in range(videos):
        base = torch.rand(3, 72, 64 + 4 * frames)
        write_video(root / f"clip{k}.y4m", torch.stack([base[:, 4:68, 4 * t : 4 * t + 64] for t in range(frames)]))
    return root


def test_fast_dev_run_of_the_recipe_at_small_widths_from_fm_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fm_dir = lvc_zoo.save_pretrained(DCVCFM(DCVCFMConfig.small()), tmp_path / "fm")
    root = long_clips(tmp_path / "long")
    args = ["fit", "-c", str(RECIPE), "--trainer.fast_dev_run", "true", *tiny_args(root, tmp_path / "run", RECIPE),
            "--model.init_from", str(fm_dir), "--data.frames", "8", "--data.val_fraction", "0.5"]
    assert fit.main(args) == 0
    assert "lightning: note: inter.context_gathering: initialised fresh" in capsys.readouterr().err


def test_without_the_dataset_it_says_where_the_data_goes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fit, "read_source", lambda source, **_: fm_weights(DCVCFMConfig.small()))
    small = ["--model.config", small_config(RECIPE)]  # the users' command, at small widths to build fast
    assert fit.main(["fit", "-c", str(RECIPE), "--trainer.fast_dev_run", "true", *small]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("lightning: error: data/vimeo_long is not a folder"), lines
    assert "point --data.root at their folder" in lines[-1]
    assert all(line.startswith("lightning: note: ") for line in lines[:-1])



def test_without_dcvc_fm_weights_it_names_the_fit_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`lightning fit -c recipes/dcvc_lcg.yaml --data.root DIR` while dcvc_fm has no published weights:
    one line naming --model.init_from (as the recipe's comment does), not load()'s argument."""
    (tmp_path / "clips").mkdir()
    assert fit.main(["fit", "-c", str(RECIPE), "--trainer.fast_dev_run", "true", *tiny_args(tmp_path / "clips", tmp_path / "run", RECIPE)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("lightning: error: Cannot start from 'dcvc_fm' weights: none are published yet."), line
    assert "`lvc-zoo convert dcvc_fm --intra I.pth.tar --inter P.pth.tar -o DIR`, then pass --model.init_from DIR;" in line
    assert "--model.init_from null to start from random weights" in line and "lvc_zoo.load" not in line
