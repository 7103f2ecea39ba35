"""`TrainingRecipe` / `Stage`: defaults, the stage schedule, validation, YAML construction."""

from __future__ import annotations

import pickle
from fnmatch import fnmatchcase

import pytest
from jsonargparse import ArgumentParser

from lvc_zoo.errors import ConfigError
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.training import CONTEXTUAL_PARAMETERS, MOTION_PARAMETERS, Stage, TrainingRecipe


def test_defaults_are_the_dcvc_family_recipe() -> None:
    recipe = TrainingRecipe()
    assert recipe.lambdas == [85.0, 170.0, 380.0, 840.0]
    assert recipe.frame_weights == [0.5, 1.2, 0.5, 0.9]
    assert (recipe.distortion, recipe.grad_clip, recipe.quantization, recipe.intra) == ("mse", 1.0, "noise", "frozen")
    assert recipe.weight_decay == 0.0
    assert [(s.name, s.loss) for s in recipe.stages] == [
        ("motion", "motion"),
        ("reconstruction", "reconstruction"),
        ("contextual", "contextual"),
        ("all", "all"),
    ]
    assert recipe.stages[0].trainable == list(MOTION_PARAMETERS)
    assert recipe.stages[1].trainable == recipe.stages[2].trainable == list(CONTEXTUAL_PARAMETERS)
    assert recipe.stages[3].trainable == ["*"]
    stage = Stage("s", 10, "all")
    assert (stage.trainable, stage.frames, stage.lr, stage.cascaded, stage.group_size) == (["*"], 2, 1e-4, True, None)


def test_default_globs_split_dcvc_dc_inter_into_motion_and_the_rest() -> None:
    names = [n for n, _ in DCVCDC(DCVCDCConfig.small()).named_parameters() if n.startswith("inter.")]
    motion = {n for n in names if any(fnmatchcase(n, g) for g in MOTION_PARAMETERS)}
    rest = {n for n in names if any(fnmatchcase(n, g) for g in CONTEXTUAL_PARAMETERS)}
    assert motion and rest
    assert not motion & rest
    assert motion | rest == set(names)
    assert all(n.startswith(("inter.flow.", "inter.mv_")) for n in motion)


def test_stage_is_a_function_of_the_step() -> None:
    recipe = TrainingRecipe(stages=[Stage("a", 3, "motion"), Stage("b", 2, "all")])
    assert [recipe.stage_index_at(step) for step in range(7)] == [0, 0, 0, 1, 1, 1, 1]
    assert recipe.stage_at(4).name == "b"
    assert recipe.stage_at(10**9).name == "b"  # the last stage continues past its steps
    assert [recipe.stage_start(index) for index in range(2)] == [0, 3]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(steps=0),
        dict(frames=1),
        dict(group_size=0),
        dict(frames=0, loss="intra"),
        dict(base_weight=-0.1),
        dict(base_weight=0.05, loss="base"),
        dict(frame_weights=[]),
        dict(frame_weights=[1.0, 0.0]),
    ],
)
def test_invalid_stage_is_a_config_error(kwargs: dict) -> None:
    args = dict(name="bad", steps=5, loss="all") | kwargs
    with pytest.raises(ConfigError, match="bad"):
        Stage(**args)


def test_intra_stage_may_code_one_frame() -> None:
    assert Stage("intra", 5, "intra", ["intra.*"], frames=1).frames == 1


def test_empty_recipe_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        TrainingRecipe(stages=[])


def test_one_lambda_per_quality() -> None:
    with pytest.raises(ConfigError, match="one lambda per quality"):
        DCVCDC(DCVCDCConfig.small(), recipe=TrainingRecipe(lambdas=[1.0, 2.0]))


def test_recipe_builds_from_yaml_shape() -> None:
    parser = ArgumentParser()
    parser.add_argument("--recipe", type=TrainingRecipe)
    config = parser.parse_string(
        """
        recipe:
          lambdas: [1.0, 2.0, 3.0, 4.0]
          distortion: ms-ssim
          stages:
            - {name: motion, steps: 7, loss: motion, trainable: ["inter.flow.*"], frames: 2, lr: 1.0e-3}
            - {name: pcfs, steps: 9, loss: all, frames: 8, group_size: 4}
            - {name: joint, steps: 3, loss: all, frames: 4, base_weight: 0.05}
            - {name: base, steps: 3, loss: base, trainable: ["inter.base.*"]}
        """
    )
    recipe = parser.instantiate(config).recipe
    assert isinstance(recipe, TrainingRecipe)
    assert recipe.distortion == "ms-ssim"
    assert recipe.stages == [
        Stage("motion", 7, "motion", ["inter.flow.*"], frames=2, lr=1e-3),
        Stage("pcfs", 9, "all", frames=8, group_size=4),
        Stage("joint", 3, "all", frames=4, base_weight=0.05),
        Stage("base", 3, "base", ["inter.base.*"]),
    ]


def test_a_recipe_continues_another_when_only_later_steps_change() -> None:
    a, b = Stage("a", 5, "motion"), Stage("b", 5, "all")
    trained = TrainingRecipe(stages=[a, b])
    appended = TrainingRecipe(stages=[a, b, Stage("c", 10, "all", lr=1e-5)])
    assert appended.continues(trained, 10) and appended.continues(trained, 3)
    assert not appended.continues(trained, 11)  # step 10 ran under "b" (the last stage goes on), not "c"
    assert TrainingRecipe(stages=[a, Stage("b", 7, "all"), Stage("c", 1, "all")]).continues(trained, 12)
    assert TrainingRecipe(stages=[a, Stage("b", 2, "all")]).continues(trained, 7)  # "b" ends at 7 instead of 10
    assert TrainingRecipe(stages=[a, Stage("b", 1, "all")]).continues(trained, 7)  # the last stage goes on
    assert not TrainingRecipe(stages=[a, Stage("b", 1, "all"), Stage("c", 9, "all")]).continues(trained, 7)
    assert not TrainingRecipe(stages=[Stage("a", 5, "motion", lr=1.0), b]).continues(trained, 1)
    assert not TrainingRecipe(lambdas=[1.0, 2.0, 3.0, 4.0], stages=[a, b]).continues(trained, 1)
    assert TrainingRecipe(stages=[Stage("z", 1, "all")]).continues(trained, 0)  # nothing has run yet


def test_a_stage_pickled_before_frame_weights_existed_reads_none_and_still_continues() -> None:
    old = Stage("a", 5, "all")
    del old.__dict__["frame_weights"]  # what unpickling a checkpoint written before the field gives
    revived = pickle.loads(pickle.dumps(old))
    assert "frame_weights" not in revived.__dict__ and revived.frame_weights is None
    trained = TrainingRecipe(stages=[revived])
    assert TrainingRecipe(stages=[Stage("a", 5, "all"), Stage("b", 5, "all", frame_weights=[1.0])]).continues(trained, 5)
    assert not TrainingRecipe(stages=[Stage("a", 5, "all", frame_weights=[1.0])]).continues(trained, 1)


def test_steps_left_in_stage_count_to_the_next_stage_and_none_in_the_last() -> None:
    recipe = TrainingRecipe(stages=[Stage("a", 3, "intra", frames=1), Stage("b", 2, "all"), Stage("c", 5, "all")])
    assert [recipe.steps_left_in_stage(step) for step in range(7)] == [3, 2, 1, 2, 1, None, None]
