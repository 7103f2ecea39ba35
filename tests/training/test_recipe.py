"""`TrainingRecipe` / `Stage`: defaults, the stage schedule, validation, YAML construction."""

from __future__ import annotations

import json
import pickle
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml
from jsonargparse import ArgumentParser, Namespace

from lvc_zoo.cli.fit import _recipe
from lvc_zoo.errors import ConfigError
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.models.dcvc_dc import CONTEXTUAL_PARAMETERS, DCVC_DC_LAMBDAS, MOTION_PARAMETERS, default_recipe
from lvc_zoo.rate import RateSpec
from lvc_zoo.training import Stage, TrainingRecipe


def test_defaults_know_no_model() -> None:
    recipe = TrainingRecipe()
    assert recipe.lambdas is None and recipe.validation_qualities is None  # the model's own
    assert recipe.frame_weights == [0.5, 1.2, 0.5, 0.9]
    assert (recipe.distortion, recipe.grad_clip, recipe.quantization, recipe.intra) == ("mse", 1.0, "noise", "frozen")
    assert recipe.weight_decay == 0.0
    assert recipe.stages == [Stage("all", 1, "all")]  # every parameter on the full loss, going on
    stage = Stage("s", 10, "all")
    assert (stage.trainable, stage.frames, stage.lr, stage.cascaded, stage.group_size) == (["*"], 2, 1e-4, True, None)
    assert (stage.schedule, stage.warmup_steps, stage.loss_terms) == ("constant", 0, None)


def test_dcvc_dc_default_recipe_is_the_dcvc_family_schedule() -> None:
    recipe = default_recipe()
    assert recipe.lambdas is None and DCVCDC(DCVCDCConfig.small()).rate.lambdas == DCVC_DC_LAMBDAS == (85.0, 170.0, 380.0, 840.0)
    assert [(s.name, s.loss, s.trainable) for s in recipe.stages] == [
        ("motion", "motion", ["motion"]),
        ("reconstruction", "reconstruction", ["contextual"]),
        ("contextual", "contextual", ["contextual"]),
        ("all", "all", ["*"]),
    ]
    assert DCVCDC.parameter_groups["motion"] == MOTION_PARAMETERS
    assert DCVCDC.parameter_groups["contextual"] == CONTEXTUAL_PARAMETERS


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
        dict(warmup_steps=5),
        dict(warmup_steps=-1),
        dict(schedule="step"),
        dict(schedule="step", step_size=2, gamma=0.0),
        dict(schedule="cosine", min_lr=1.0),
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


@pytest.mark.slow
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
            - {name: decay, steps: 3, loss: all, trainable: [motion], schedule: cosine, min_lr: 1.0e-6, warmup_steps: 1}
            - {name: extra, steps: 3, loss: all, loss_terms: {rate_compensation: 0.5}}
          validation_qualities: [0, 3]
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
        Stage("decay", 3, "all", ["motion"], schedule="cosine", min_lr=1e-6, warmup_steps=1),
        Stage("extra", 3, "all", loss_terms={"rate_compensation": 0.5}),
    ]
    assert recipe.validation_qualities == [0, 3]


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


def test_a_stage_pickled_before_schedules_and_loss_terms_existed_reads_their_defaults() -> None:
    old = Stage("a", 5, "all", frame_weights=[1.0])
    for name in ("schedule", "min_lr", "step_size", "gamma", "warmup_steps", "loss_terms"):
        del old.__dict__[name]  # what unpickling a checkpoint written before the fields gives
    revived = pickle.loads(pickle.dumps(old))
    assert (revived.schedule, revived.min_lr, revived.step_size, revived.gamma, revived.warmup_steps) == ("constant", 0.0, None, 0.1, 0)
    assert revived.loss_terms is None and revived == Stage("a", 5, "all", frame_weights=[1.0])
    assert [revived.lr_at(step) for step in (0, 4, 100)] == [1e-4] * 3
    trained = TrainingRecipe(stages=[revived])
    assert TrainingRecipe(stages=[Stage("a", 5, "all", frame_weights=[1.0])]).continues(trained, 5)
    assert not TrainingRecipe(stages=[Stage("a", 5, "all", frame_weights=[1.0], schedule="cosine")]).continues(trained, 1)


def test_a_recipe_pickled_before_validation_qualities_existed_reads_none_and_still_continues() -> None:
    old = TrainingRecipe(lambdas=[1.0, 2.0, 3.0, 4.0], stages=[Stage("a", 5, "all")])
    del old.__dict__["validation_qualities"]
    revived = pickle.loads(pickle.dumps(old))
    assert revived.validation_qualities is None
    assert TrainingRecipe(lambdas=[1.0, 2.0, 3.0, 4.0], stages=[Stage("a", 5, "all")]).continues(revived, 5)


def test_learning_rate_schedules_are_functions_of_the_step_in_the_stage() -> None:
    cosine = Stage("c", 10, "all", lr=1e-3, schedule="cosine", min_lr=1e-5)
    assert cosine.lr_at(0) == 1e-3
    assert cosine.lr_at(5) == pytest.approx((1e-3 + 1e-5) / 2)
    assert cosine.lr_at(10) == cosine.lr_at(10**6) == pytest.approx(1e-5)  # the last stage goes on at min_lr
    assert [Stage("s", 10, "all", lr=1.0, schedule="step", step_size=3, gamma=0.5).lr_at(k) for k in range(7)] == [
        1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25
    ]
    warm = Stage("w", 12, "all", lr=1.0, schedule="cosine", warmup_steps=2)
    assert [warm.lr_at(k) for k in (0, 1, 2)] == [0.5, 1.0, 1.0]
    assert warm.lr_at(7) == pytest.approx(0.5) and warm.lr_at(2 + 10) == pytest.approx(0.0)
    assert Stage("k", 10, "all", lr=3e-4).lr_at(9) == 3e-4


def test_recipe_lambdas_default_to_the_models_rate() -> None:
    rate = RateSpec("anchors", (0, 1, 2), (10.0, 20.0, 40.0), validation=(0, 2))
    own = TrainingRecipe()
    own.check_rate(rate)
    assert [own.lambda_of(rate, q) for q in rate.qualities] == [10.0, 20.0, 40.0]
    assert own.validation_of(rate) == (0, 2)
    given = TrainingRecipe(lambdas=[1.0, 2.0, 3.0], validation_qualities=[1])
    given.check_rate(rate)
    assert [given.lambda_of(rate, q) for q in rate.qualities] == [1.0, 2.0, 3.0]
    assert given.validation_of(rate) == (1,)
    with pytest.raises(ConfigError, match="one lambda per quality"):
        TrainingRecipe(lambdas=[1.0, 2.0]).check_rate(rate)
    with pytest.raises(ConfigError, match="validation_qualities"):
        TrainingRecipe(validation_qualities=[3]).check_rate(rate)
    with pytest.raises(ConfigError, match="one positive value per quality"):
        TrainingRecipe(q_scales=[1.0, 2.0]).check_rate(rate)


def test_steps_left_in_stage_count_to_the_next_stage_and_none_in_the_last() -> None:
    recipe = TrainingRecipe(stages=[Stage("a", 3, "intra", frames=1), Stage("b", 2, "all"), Stage("c", 5, "all")])
    assert [recipe.steps_left_in_stage(step) for step in range(7)] == [3, 2, 1, 2, 1, None, None]


ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_checkpoint_recipe_is_continued_by_its_yaml() -> None:
    """`lightning fit -c recipes/demo_tiny.yaml --ckpt_path step51000.ckpt` (the run's last checkpoint,
    `git show c2827e2:training_runs/demo_tiny/checkpoints/last.ckpt`; its recipe and step are
    tools/demo_tiny/last_checkpoint_recipe.json) resumes: its recipe, written before schedules, loss terms and validation qualities existed, is
    the YAML's on every step it has run (the check `lvc_zoo.cli.fit` makes)."""
    checkpoint = json.loads((ROOT / "tools/demo_tiny/last_checkpoint_recipe.json").read_text())
    trained = _recipe(Namespace(**checkpoint["recipe"]))
    wanted = _recipe(Namespace(**yaml.safe_load((ROOT / "recipes/demo_tiny.yaml").read_text())["model"]["init_args"]["recipe"]))
    assert wanted.continues(trained, checkpoint["global_step"])
    assert all(stage.schedule == "constant" and stage.loss_terms is None for stage in trained.stages)
