"""recipes/dcvc_fm.yaml: the full-size model it builds, a small-width run of its stages, the missing-data message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fit_testing import RECIPES, cli_sandbox, tiny_args, vimeo_tree  # noqa: F401 (a fixture)
from lvc_zoo.cli import fit
from lvc_zoo.models import DCVCFM, DCVCFMConfig

RECIPE = RECIPES / "dcvc_fm.yaml"

pytestmark = [pytest.mark.usefixtures("cli_sandbox"), pytest.mark.slow]


def test_the_unmodified_recipe_builds_the_official_model_and_its_schedule() -> None:
    cli = fit.ZooCLI(DCVCFM, subclass_mode_model=True, subclass_mode_data=True, run=False, args=["-c", str(RECIPE)])
    model = cli.model
    assert type(model) is DCVCFM and model.config == DCVCFMConfig()
    assert sum(p.numel() for p in model.inter.parameters()) == 18_336_187  # the official DMC's count
    assert sum(p.numel() for p in model.intra.parameters()) == 26_587_561  # the official DMCI's count
    recipe = model.recipe
    assert [s.name for s in recipe.stages] == ["intra", "motion", "reconstruction", "contextual", "all", "long"]
    long = recipe.stages[-1]
    assert (long.frames, long.cascaded, long.group_size) == (32, True, 8)
    assert recipe.validation_of(model.rate) == (0, 21, 42, 63)
    assert len(recipe.lambdas or model.rate.lambdas) == 64
    assert cli.trainer.max_steps == sum(s.steps for s in recipe.stages[:-1])  # part 1 ends where `long` starts


def test_long_clip_stage_trains_with_pcfs_groups(tmp_path: Path) -> None:
    """The recipe's `long` stage (cascaded, PCFS groups) at small widths on 7-frame clips, groups of 3."""
    config = yaml.safe_load(RECIPE.read_text())
    long = config["model"]["init_args"]["recipe"]["stages"][-1]
    config["model"]["init_args"]["recipe"]["stages"] = [{**long, "steps": 2, "frames": 7, "group_size": 3}]
    recipe = tmp_path / "long.yaml"
    recipe.write_text(yaml.safe_dump(config))
    root = vimeo_tree(tmp_path / "vimeo")
    args = ["fit", "-c", str(recipe), "--trainer.max_steps", "2", "--trainer.limit_val_batches", "0", *tiny_args(root, tmp_path / "run", RECIPE)]
    assert fit.main(args) == 0


def test_without_the_dataset_it_says_where_the_data_goes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit.main(["fit", "-c", str(RECIPE), "--trainer.fast_dev_run", "true"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lightning: error: data/vimeo_septuplet/"), lines
    assert "expected the Vimeo-90k septuplet layout under data/vimeo_septuplet" in lines[0]  # the recipe's data.root
