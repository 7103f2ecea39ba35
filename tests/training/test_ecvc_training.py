"""recipes/ecvc.yaml: it is `default_recipe()`, builds the full-size ECVC untouched, says where the data goes, and PCFS steps per group."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml
from lightning.pytorch import LightningDataModule

from fit_testing import RECIPES, cli_sandbox  # noqa: F401 (a fixture)
from lvc_zoo.cli import fit
from lvc_zoo.eval.bench import count_parameters
from lvc_zoo.models import ECVC, ECVCConfig, VideoCodec
from lvc_zoo.models.ecvc import default_recipe
from lvc_zoo.training import Stage, TrainingRecipe, train_clip

RECIPE = RECIPES / "ecvc.yaml"


def test_recipe_file_is_the_default_recipe() -> None:
    recipe = yaml.safe_load(RECIPE.read_text())["model"]["init_args"]["recipe"]
    stages = [Stage(**stage) for stage in recipe.pop("stages")]
    assert TrainingRecipe(**recipe, stages=stages) == default_recipe()
    assert [(s.name, s.loss, s.frames, s.group_size) for s in stages] == [
        ("motion", "motion", 2, None),
        ("reconstruction", "reconstruction", 3, None),
        ("contextual", "contextual", 3, None),
        ("all", "all", 6, None),
        ("pcfs", "all", 64, 8),
    ]


@pytest.mark.slow
@pytest.mark.usefixtures("cli_sandbox")
def test_the_unmodified_recipe_builds_the_full_size_model_without_a_step() -> None:
    cli = fit.ZooCLI(VideoCodec, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                     args=["-c", str(RECIPE)], run=False)
    model = cli.model
    assert type(model) is ECVC and model.config == ECVCConfig() and model.recipe == default_recipe()
    assert cli.trainer.global_step == 0
    params = count_parameters(model)
    assert (params.intra, params.inter) == (30_998_187, 21_408_499)  # DCVC-DC's 31.0 M + 19.8 M, then +1.6 M


@pytest.mark.slow
@pytest.mark.usefixtures("cli_sandbox")
def test_without_the_dataset_fit_fails_in_one_line_saying_where_the_data_goes(capsys: pytest.CaptureFixture[str]) -> None:
    assert fit.main(["fit", "-c", str(RECIPE), "--trainer.accelerator", "cpu", "--trainer.logger", "false"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lightning: error:") and "data/vimeo_septuplet" in err[0], err


def _tensors(state: object) -> list[torch.Tensor]:
    """Every tensor of a buffer (fields, tuples of features)."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, tuple):
        return [t for item in state for t in _tensors(item)]
    if dataclasses.is_dataclass(state):
        return [t for f in dataclasses.fields(state) for t in _tensors(getattr(state, f.name))]
    return []


@pytest.mark.slow
def test_pcfs_steps_once_per_group_and_starts_each_group_from_detached_t1_and_t2_references(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    model = ECVC(ECVCConfig.small())
    buffers: dict[int, object] = {}
    code = model.inter.code

    def recording(x: torch.Tensor, dpb: object, quality: int, coder: object) -> object:
        buffers[dpb.index + 1] = dpb
        return code(x, dpb, quality, coder)

    monkeypatch.setattr(model.inter, "code", recording)
    stage = Stage("pcfs", 1, "all", ["inter.*"], frames=6, lr=1e-5, group_size=2)
    losses: list[torch.Tensor] = []
    train_clip(model, torch.rand(1, 6, 3, 64, 64), 1, 100.0, stage, model.recipe, lambda loss: losses.append(loss.detach()))
    assert len(losses) == 3  # groups {0, 1}, {2, 3}, {4, 5}: one step each
    for index in (2, 4):  # a group's first frame reads detached references, the t-2 features included
        assert buffers[index].features_2 is not None
        assert all(t.grad_fn is None for t in _tensors(buffers[index]))
    assert buffers[3].features_2[0].grad_fn is not None  # inside a group the cascade keeps the graph
