"""Stages in the Lightning loop: what trains, the lr, the per-step draw, logs, checkpoints."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader
from training_testing import changed, clips, fit, parameters, small_model

import lvc_zoo.models.codec
from lvc_zoo.errors import ConfigError, InputError
from lvc_zoo.layers.flow import SpyNet
from lvc_zoo.models import DCVCDC, DCVCDCConfig, VideoCodec
from lvc_zoo.models.dcvc_dc import CONTEXTUAL_PARAMETERS, MOTION_PARAMETERS, default_recipe
from lvc_zoo.rate import RateSpec
from lvc_zoo.training import Stage, TrainingRecipe, draw_clip, trainable_names

ENTROPY_MODEL = ("inter.hyperprior.*", "inter.temporal_prior_encoder.*", "inter.y_prior_fusion.*", "inter.y_spatial_prior.*")
"""The contextual entropy model: without a rate term it gets zero gradients."""

SECOND_P_FRAME_ONLY = ("inter.*.with_ref.*", "inter.mv_encoder.adaptor_1.*", "inter.feature_adaptor.*")
"""Used from the second P frame on (references of a P frame): idle on 2-frame clips."""

UNUSED_ON_THREE_FRAMES = ("inter.feature_adaptor.1.*", "inter.feature_adaptor.2.*")
"""Feature adaptors of P frames 3 and 4 of the cycle."""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "idle"),
    [
        (Stage("motion", 10, "motion", list(MOTION_PARAMETERS), frames=2), SECOND_P_FRAME_ONLY),
        # the flow network's estimate is the "flow" loss's target: no gradient reaches it
        (Stage("flow", 10, "flow", list(MOTION_PARAMETERS), frames=2), SECOND_P_FRAME_ONLY + ("inter.flow.*",)),
        (Stage("reconstruction", 10, "reconstruction", list(CONTEXTUAL_PARAMETERS), frames=2), SECOND_P_FRAME_ONLY + ENTROPY_MODEL),
        (Stage("contextual", 10, "contextual", list(CONTEXTUAL_PARAMETERS), frames=2), SECOND_P_FRAME_ONLY),
        (Stage("all", 10, "all", ["*"], frames=3), UNUSED_ON_THREE_FRAMES),
        (Stage("intra", 10, "intra", ["intra.*"], frames=1), ()),
    ],
    ids=lambda v: v.name if isinstance(v, Stage) else "",
)
def test_stage_trains_exactly_its_parameters(stage: Stage, idle: tuple[str, ...]) -> None:
    model = small_model(stage)
    before = parameters(model)
    trainable = trainable_names(before, stage, model.recipe, model.parameter_groups)
    fit(model, clips(2, 3), max_steps=2)
    updated = changed(before, model)
    assert updated <= trainable  # nothing outside the stage moves (the I codec stays frozen under "*")
    assert {n for n in trainable - updated if not any(fnmatchcase(n, g) for g in idle)} == set()
    assert updated


def test_intra_trains_under_all_when_recipe_says_so() -> None:
    model = small_model(Stage("all", 10, "all"), intra="trained")
    before = parameters(model)
    fit(model, clips(1, 2), max_steps=1)
    assert any(name.startswith("intra.") for name in changed(before, model))


class _RecordStage(Callback):
    """Records (lr, train/stage) after every training batch."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        self.seen.append((trainer.optimizers[0].param_groups[0]["lr"], float(trainer.callback_metrics["train/stage"])))


@pytest.mark.slow
def test_stage_sets_learning_rate_and_switches_on_step() -> None:
    model = small_model(Stage("a", 2, "motion", list(MOTION_PARAMETERS), lr=1e-3), Stage("b", 5, "all", lr=3e-5))
    record = _RecordStage()
    fit(model, clips(4, 2), max_steps=4, callbacks=[record])
    assert record.seen == [(1e-3, 0.0), (1e-3, 0.0), (3e-5, 1.0), (3e-5, 1.0)]


def test_unmatched_glob_is_a_config_error() -> None:
    model = small_model(Stage("typo", 10, "all", ["inter.flwo.*"]))
    with pytest.raises(ConfigError, match="inter.flwo"):
        fit(model, clips(1, 2), max_steps=1)


def test_trainable_names_the_parameter_groups_a_model_declares() -> None:
    model = small_model(Stage("s", 10, "all"))
    names = [n for n, _ in model.named_parameters()]
    groups = model.parameter_groups
    by_group = trainable_names(names, Stage("g", 10, "all", ["motion", "inter.y_*"]), model.recipe, groups)
    by_globs = trainable_names(names, Stage("g", 10, "all", [*MOTION_PARAMETERS, "inter.y_*"]), model.recipe)
    assert by_group == by_globs and by_group
    assert trainable_names(names, Stage("g", 10, "all", ["inter"]), model.recipe, groups) == {
        n for n in names if n.startswith("inter.")
    }
    with pytest.raises(ConfigError, match=r"\['moton'\].*'contextual', 'inter', 'intra', 'motion'"):
        trainable_names(names, Stage("typo", 10, "all", ["moton"]), model.recipe, groups)


class _RecordLr(Callback):
    """Records the lr of every training batch (the stage sets it before the batch's step)."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])


COSINE = (Stage("warm", 1, "all", lr=1e-3), Stage("decay", 2, "all", lr=1e-3, schedule="cosine", min_lr=1e-5))
"""One constant step, then cosine decay over 2 steps (the last stage: min_lr from its step 2 on)."""


@pytest.mark.slow
def test_cosine_stage_sets_its_lr_at_start_middle_and_end_and_resumes_exactly(tmp_path: Path) -> None:
    # one batch per epoch, so a checkpoint after a step is one at an epoch's end; "ste" draws no
    # noise, so the resumed run needs no random state (tests/training/test_resume.py covers that)
    data = clips(1, 2)
    straight, record = small_model(*COSINE, quantization="ste"), _RecordLr()
    fit(straight, data, max_steps=4, callbacks=[record])
    assert record.seen == [1e-3, 1e-3, pytest.approx((1e-3 + 1e-5) / 2), pytest.approx(1e-5)]  # warm; start, middle, end

    first = small_model(*COSINE, quantization="ste")
    fit(first, data, max_steps=2).save_checkpoint(tmp_path / "at2.ckpt")
    resumed, again = small_model(*COSINE, quantization="ste", init_seed=1), _RecordLr()
    fit(resumed, data, max_steps=4, callbacks=[again], ckpt_path=str(tmp_path / "at2.ckpt"))
    assert again.seen == record.seen[2:]
    assert all(torch.equal(a, b) for a, b in zip(resumed.state_dict().values(), straight.state_dict().values()))


def test_clip_shorter_than_stage_is_an_input_error() -> None:
    model = small_model(Stage("long", 10, "all", frames=5))
    with pytest.raises(InputError, match="data.frames >= 5"):
        fit(model, clips(1, 3), max_steps=1)


def test_quality_draw_is_deterministic_per_seed_and_step() -> None:
    draws = [draw_clip(0, step, 4, 7, 3) for step in range(64)]
    assert draws == [draw_clip(0, step, 4, 7, 3) for step in range(64)]
    assert {d.quality_index for d in draws} == {0, 1, 2, 3}
    assert {d.start for d in draws} == {0, 1, 2, 3, 4}
    assert draws != [draw_clip(1, step, 4, 7, 3) for step in range(64)]


@pytest.mark.slow
def test_training_step_uses_the_drawn_quality_and_its_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, float, int, int | None]] = []
    original = lvc_zoo.models.codec.train_clip

    def recording(codec, frames, quality, lmbda, stage, recipe, step, max_steps):  # type: ignore[no-untyped-def]
        calls.append((quality, lmbda, frames.shape[1], max_steps))
        return original(codec, frames, quality, lmbda, stage, recipe, step, max_steps)

    monkeypatch.setattr(lvc_zoo.models.codec, "train_clip", recording)
    lambdas = [10.0, 20.0, 30.0, 40.0]
    model = small_model(Stage("all", 10, "all", frames=2), lambdas=lambdas, seed=5)
    fit(model, clips(6, 3), max_steps=6)
    expected = [draw_clip(5, step, 4, 3, 2).quality_index for step in range(6)]
    # the last stage goes on, so only the trainer's max_steps bounds a batch's steps
    assert calls == [(q, lambdas[q], 2, 6 - step) for step, q in enumerate(expected)]


@pytest.mark.slow
def test_validation_codes_the_validation_qualities() -> None:
    model = small_model(Stage("all", 10, "all"), validation_qualities=[1, 3])
    run = fit(model, clips(1, 2), max_steps=1)
    run.validate(model, DataLoader(clips(1, 2), batch_size=1), verbose=False)
    assert {key.split("/")[1] for key in run.callback_metrics if key.startswith("val/q")} == {"q1", "q3"}
    model.recipe = replace(model.recipe, validation_qualities=None)
    model.rate = replace(model.rate, validation=(2,))  # the model's own subset
    run.validate(model, DataLoader(clips(1, 2), batch_size=1), verbose=False)
    assert {key.split("/")[1] for key in run.callback_metrics if key.startswith("val/q")} == {"q2"}


@pytest.mark.slow
def test_training_step_takes_the_models_lambdas_when_the_recipe_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, float]] = []
    original = lvc_zoo.models.codec.train_clip

    def recording(codec, frames, quality, lmbda, stage, recipe, step, max_steps):  # type: ignore[no-untyped-def]
        calls.append((quality, lmbda))
        return original(codec, frames, quality, lmbda, stage, recipe, step, max_steps)

    monkeypatch.setattr(lvc_zoo.models.codec, "train_clip", recording)
    model = small_model(Stage("all", 10, "all"), seed=5)
    assert model.recipe.lambdas is None
    fit(model, clips(3, 2), max_steps=3)
    assert calls == [(q, model.rate.lambdas[q]) for q, _ in calls] and len(calls) == 3


@pytest.mark.slow
def test_validation_logs_per_quality() -> None:
    model = small_model(Stage("all", 10, "all"))
    run = fit(model, clips(1, 2), max_steps=1)
    assert {"train/loss", "train/bpp", "train/psnr", "train/stage"} <= set(run.logged_metrics)
    run.validate(model, DataLoader(clips(1, 2, size=192), batch_size=1), verbose=False)
    metrics = run.callback_metrics
    for q in model.qualities:
        assert {f"val/q{q}/bpp", f"val/q{q}/psnr", f"val/q{q}/ms_ssim"} <= set(metrics)
        assert metrics[f"val/q{q}/bpp"] > 0
        # 2-frame clips: the I frame and the one P frame, averaging to the clip's numbers
        split = [float(metrics[f"val/q{q}/{k}"]) for k in ("i_bpp", "p_bpp", "i_psnr", "p_psnr")]
        assert (split[0] + split[1]) / 2 == pytest.approx(float(metrics[f"val/q{q}/bpp"]), rel=1e-5)
        assert (split[2] + split[3]) / 2 == pytest.approx(float(metrics[f"val/q{q}/psnr"]), rel=1e-5)
    assert "val/loss" in metrics
    run.validate(model, DataLoader(clips(1, 2), batch_size=1), verbose=False)
    assert "val/q0/ms_ssim" not in run.callback_metrics  # 64x64 is too small for MS-SSIM


@pytest.mark.slow
def test_checkpoint_rebuilds_the_model_and_recipe(tmp_path: Path) -> None:
    model = small_model(Stage("all", 10, "all", lr=2e-4), lambdas=[1.0, 2.0, 3.0, 4.0])
    run = fit(model, clips(1, 2), max_steps=1)
    path = tmp_path / "last.ckpt"
    run.save_checkpoint(path)
    restored = DCVCDC.load_from_checkpoint(path)
    assert restored.config == model.config
    assert restored.recipe == model.recipe
    assert all(torch.equal(a, b) for a, b in zip(restored.state_dict().values(), model.state_dict().values()))


@pytest.mark.slow
def test_flow_init_sets_the_flow_network_at_the_first_step_of_its_stage_only(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[int] = []
    real = DCVCDC.initialise_flow

    def recording(model: DCVCDC) -> list[torch.nn.Parameter]:
        steps.append(model.global_step)
        return real(model)

    monkeypatch.setattr(DCVCDC, "initialise_flow", recording)
    model = small_model(
        Stage("a", 2, "motion", list(MOTION_PARAMETERS), lr=1e-3),
        Stage("b", 5, "motion", ["inter.mv_*"], flow_init="gradient"),
    )
    run = fit(model, clips(4, 2), max_steps=4)
    assert steps == [2]  # not again at step 3: a run resumed inside the stage keeps its trained flow
    config = DCVCDCConfig.small()
    expected = SpyNet(config.flow_levels, config.flow_channels)
    expected.init_gradient_flow_()
    got = model.inter.flow.state_dict()
    assert all(torch.equal(got[name], value) for name, value in expected.state_dict().items())  # frozen in "b"
    flow_parameters = {id(p) for p in model.inter.flow.parameters()}
    assert not any(id(p) in flow_parameters for p in run.optimizers[0].state)  # stage a's Adam moments dropped


def test_flow_init_needs_a_flow_network() -> None:
    rate = RateSpec.anchors(4, (1.0, 2.0, 3.0, 4.0))
    codec = VideoCodec(torch.nn.Conv2d(3, 3, 1), torch.nn.Conv2d(3, 3, 1), rate, recipe=TrainingRecipe())
    with pytest.raises(ConfigError, match="no SpyNet"):
        codec.initialise_flow()


@pytest.mark.slow
def test_bf16_mixed_training_step_is_finite() -> None:
    model = small_model(Stage("all", 10, "all"))
    run = fit(model, clips(1, 2), max_steps=1, precision="bf16-mixed")
    assert torch.isfinite(run.logged_metrics["train/loss"])


def test_recipe_default_is_used_when_none() -> None:
    assert DCVCDC(DCVCDCConfig.small()).recipe == default_recipe()


def test_recipe_q_scales_spread_the_anchors_of_every_q_scale() -> None:
    model = small_model(Stage("all", 1, "all"), q_scales=[0.5, 1.0, 1.5, 2.0])
    scales = {name: p.detach().flatten().tolist() for name, p in model.named_parameters() if name.endswith(".scale")}
    assert set(scales) == {
        "intra.q_enc.scale", "intra.q_dec.scale", "inter.mv_q_enc.scale", "inter.mv_q_dec.scale",
        "inter.y_q_enc.scale", "inter.y_q_dec.scale",
    }
    for name, values in scales.items():
        expected = [0.5, 1.0, 1.5, 2.0] if name.endswith("q_enc.scale") else [2.0, 1.0, 1 / 1.5, 0.5]
        assert values == pytest.approx(expected), name
    assert all(v == 1.0 for v in small_model(Stage("all", 1, "all")).intra.q_enc.scale.flatten().tolist())


def test_recipe_q_scales_need_one_positive_value_per_quality() -> None:
    with pytest.raises(ConfigError, match="one positive value per quality"):
        small_model(Stage("all", 1, "all"), q_scales=[1.0, 2.0])
    with pytest.raises(ConfigError, match="one positive value per quality"):
        TrainingRecipe(q_scales=[0.0, 1.0, 2.0, 3.0])
