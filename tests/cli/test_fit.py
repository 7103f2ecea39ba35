"""The training CLI: the installed `lightning` command is lvc_zoo's, every recipe prints and runs."""

from __future__ import annotations

import json
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
import yaml

import lvc_zoo

from fit_testing import RECIPES, cli_sandbox, state_digest, tiny_args, vimeo_tree  # noqa: F401 (a fixture)
from lvc_zoo.cli import fit
from lvc_zoo.cli.main import main as lvc_zoo_main
from lvc_zoo.data import write_video
from lvc_zoo.hub import save_pretrained
from lvc_zoo.models import DCVCDC, DCVCDCConfig

RECIPE_FILES = sorted(RECIPES.glob("*.yaml"))

pytestmark = [pytest.mark.usefixtures("cli_sandbox"), pytest.mark.slow]


def test_installed_lightning_command_is_lvc_zoo() -> None:
    (entry,) = entry_points(group="console_scripts", name="lightning")
    assert entry.value == "lvc_zoo.cli.fit:main" and entry.dist is not None and entry.dist.name == "lvc_zoo"
    assert shutil.which("lightning") is not None
    script = Path(sys.executable).parent / "lightning"
    assert "from lvc_zoo.cli.fit import main" in script.read_text()


@pytest.mark.parametrize("recipe", RECIPE_FILES, ids=lambda p: p.stem)
def test_print_config_of_each_recipe(recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit.main(["fit", "-c", str(recipe), "--print_config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"].startswith("lvc_zoo.models.")
    assert config["data"]["class_path"] == "lvc_zoo.data.VideoDataModule"
    stages = config["model"]["init_args"]["recipe"]["stages"]
    assert stages and all({"name", "steps", "loss", "trainable", "frames", "lr"} <= set(s) for s in stages)
    assert config["trainer"]["gradient_clip_val"] is None  # manual optimization clips with recipe.grad_clip


def test_recipes_are_the_expected_ones() -> None:
    assert {p.stem for p in RECIPE_FILES} >= {"dcvc_dc", "finetune_custom", "finetune_tiny"}
    stages = yaml.safe_load((RECIPES / "dcvc_dc.yaml").read_text())["model"]["init_args"]["recipe"]["stages"]
    assert [s["loss"] for s in stages] == ["motion", "reconstruction", "contextual", "all"]


@pytest.mark.parametrize(
    "recipe",
    [p for p in RECIPE_FILES if yaml.safe_load(p.read_text())["model"]["init_args"].get("init_from") is None],
    ids=lambda p: p.stem,
)  # recipes that start from other weights (finetune_custom, finetune_tiny, dcvc_lcg) run in their own tests
def test_fast_dev_run_of_each_training_recipe(recipe: Path, tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path / "vimeo")
    args = ["fit", "-c", str(recipe), "--trainer.fast_dev_run", "true", *tiny_args(root, tmp_path / "run", recipe)]
    assert fit.main(args) == 0


def test_validate_logs_every_quality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = vimeo_tree(tmp_path / "vimeo")
    args = ["validate", "-c", str(RECIPES / "dcvc_dc.yaml"), *tiny_args(root, tmp_path / "run")]
    assert fit.main([*args, "--trainer.limit_val_batches", "1"]) == 0
    out = capsys.readouterr().out
    assert all(f"val/q{q}/psnr" in out and f"val/q{q}/bpp" in out for q in range(4)) and "val/loss" in out


def test_test_logs_every_quality_under_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = vimeo_tree(tmp_path / "vimeo")
    args = ["test", "-c", str(RECIPES / "dcvc_dc.yaml"), *tiny_args(root, tmp_path / "run")]
    assert fit.main([*args, "--trainer.limit_test_batches", "1"]) == 0
    out = capsys.readouterr().out
    assert all(f"test/q{q}/psnr" in out and f"test/q{q}/bpp" in out for q in range(4)) and "test/loss" in out


def test_finetune_custom_starts_from_saved_weights(tmp_path: Path) -> None:
    """`lightning fit -c recipes/finetune_custom.yaml --model.init_from DIR --data.root VIDEOS`, as `lvc-zoo fit`."""
    videos = tmp_path / "my_videos"
    for k in range(2):
        write_video(videos / f"clip{k}.y4m", torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(k)))
    pretrained = DCVCDC(DCVCDCConfig.small())
    with torch.no_grad():
        next(pretrained.inter.recon_generation.parameters()).fill_(0.25)  # unlike any fresh initialisation
    weights = save_pretrained(pretrained, tmp_path / "weights", "dcvc_dc")
    args = ["fit", "-c", str(RECIPES / "finetune_custom.yaml"), "--model.init_from", str(weights),
            "--trainer.fast_dev_run", "true", *tiny_args(videos, tmp_path / "run", RECIPES / "finetune_custom.yaml"),
            "--trainer.callbacks+", "fit_testing.StateHash", "--trainer.callbacks.out_dir", str(tmp_path / "probe")]
    assert lvc_zoo_main(args) == 0
    record = json.loads((tmp_path / "probe" / "rank0.json").read_text())
    assert record["start"] == state_digest(pretrained)  # training started from the saved weights
    assert record["end"] != record["start"] and record["global_step"] == 1


def test_init_from_a_registry_variant_brings_its_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`lvc-zoo fit -c recipes/finetune_custom.yaml --model.init_from dcvc_dc_tiny`: no config given, the variant's is used."""
    root = vimeo_tree(tmp_path / "vimeo", train=1)
    args = tiny_args(root, tmp_path / "run", RECIPES / "finetune_custom.yaml")
    at = args.index("--model.config")
    del args[at : at + 2]  # the recipe names no config: dcvc_dc_tiny brings DCVCDCConfig.tiny()
    args = ["fit", "-c", str(RECIPES / "finetune_custom.yaml"), "--model.init_from", "dcvc_dc_tiny", "--data.dataset", "vimeo90k",
            "--trainer.fast_dev_run", "true", *args, "--trainer.callbacks+", "fit_testing.StateHash",
            "--trainer.callbacks.out_dir", str(tmp_path / "probe")]
    assert lvc_zoo_main(args) == 0
    assert "lightning: note: initialised from" in capsys.readouterr().err
    record = json.loads((tmp_path / "probe" / "rank0.json").read_text())
    assert record["start"] == state_digest(lvc_zoo.load("dcvc_dc_tiny").train())


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["fit", "-c", str(RECIPES / "finetune_custom.yaml"), "--model.init_from", "null",
            "--trainer.fast_dev_run", "true", *tiny_args(empty, tmp_path / "run")]
    assert fit.main(args) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"lightning: error: {empty} holds no videos")
    assert fit.main(["fit", "--no_such_option", "1"]) == 2


def test_a_resume_takes_a_recipe_that_changes_only_the_future_and_refuses_one_that_rewrites_the_past(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lightning resumes with the checkpoint's model arguments; a recipe that only adds steps is used."""
    root = vimeo_tree(tmp_path / "vimeo")
    base = ["-c", str(RECIPES / "dcvc_dc.yaml"), *tiny_args(root, tmp_path / "run"), "--trainer.limit_val_batches", "0"]
    stages = yaml.safe_load((RECIPES / "dcvc_dc.yaml").read_text())["model"]["init_args"]["recipe"]["stages"]
    first = {**stages[0], "steps": 2}
    assert fit.main(["fit", *base, "--trainer.max_steps", "1", "--model.init_args.recipe.stages", json.dumps([first])]) == 0
    (checkpoint,) = (tmp_path / "run").rglob("*.ckpt")
    capsys.readouterr()
    resume = ["fit", *base, "--trainer.max_steps", "3", "--ckpt_path", str(checkpoint)]

    rewrites_step_0 = [{**first, "lr": 1.0}]
    assert fit.main([*resume, "--model.init_args.recipe.stages", json.dumps(rewrites_step_0)]) == 2
    err = capsys.readouterr().err
    assert "the recipe in the config differs from the one" in err and "(it is at step 1)" in err
    assert fit.main([*resume, "--model.init_args.recipe.lambdas", "[1.0, 2.0, 3.0, 4.0]"]) == 2
    assert "differs from the one" in capsys.readouterr().err

    appended = [first, {**stages[-1], "steps": 5}]
    assert fit.main([*resume, "--model.init_args.recipe.stages", json.dumps(appended)]) == 0
    assert "resuming at step 1 with the config's recipe" in capsys.readouterr().err
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 3
    assert [(stage["name"], stage["steps"]) for stage in saved["hyper_parameters"]["recipe"]["stages"]] == [
        (first["name"], 2), (stages[-1]["name"], 5)
    ]


def test_a_resume_names_the_config_values_the_checkpoint_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = vimeo_tree(tmp_path / "vimeo")
    base = ["-c", str(RECIPES / "dcvc_dc.yaml"), *tiny_args(root, tmp_path / "run")]
    assert fit.main(["fit", *base, "--trainer.max_steps", "1", "--trainer.limit_val_batches", "0"]) == 0
    (checkpoint,) = (tmp_path / "run").rglob("*.ckpt")
    capsys.readouterr()
    validate = ["validate", *base, "--ckpt_path", str(checkpoint), "--trainer.limit_val_batches", "1"]
    assert fit.main([*validate, "--model.init_args.config.ch_1x", "12"]) == 0
    err = capsys.readouterr().err
    assert f"resuming from {checkpoint}, the model's arguments are the checkpoint's" in err
    assert "ignored: init_args.config.ch_1x." in err
    assert fit.main(validate) == 0
    assert "note" not in capsys.readouterr().err  # nothing to say when the config agrees
