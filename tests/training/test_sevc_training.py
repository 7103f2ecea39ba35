"""SEVC's training: each stage trains exactly its part, the loss is the documented Eq. 4 / Eq. 5
form on a toy batch, and recipes/sevc.yaml parses, matches `default_recipe()` and runs.

Small widths (`SEVCConfig.small()`), 64x64 clips of 3 frames (1 I + 2 P): the base layer codes
16x16 frames.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from fit_testing import RECIPES, cli_sandbox, tiny_args, vimeo_tree  # noqa: F401 (a fixture)
from training_testing import changed, clips, parameters

from lvc_zoo.cli import fit
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.layers import warp
from lvc_zoo.layers.resize import imresize
from lvc_zoo.models import SEVC, SEVCConfig
from lvc_zoo.models.sevc import BASE_RECONSTRUCTION_WEIGHT, SEVC_LAMBDAS, default_recipe
from lvc_zoo.training import Stage, TrainingRecipe, apply_stage, train_clip, trainable_names

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

RECIPE = RECIPES / "sevc.yaml"
LAMBDA = 95.0
QUALITY = 1
WEIGHTS = (0.5, 1.2)
"""Hierarchical weights of P frames 1 and 2 (the recipe's first two)."""
PIXELS = 64 * 64
BASE_PIXELS = 16 * 16

TRAINS = {
    "base_motion": lambda name: name.startswith(("inter.base.flow.", "inter.base.mv_")),
    "base": lambda name: name.startswith("inter.base."),
    "augmentative": lambda name: name.startswith("inter.") and not name.startswith("inter.base."),
    "joint": lambda name: name.startswith("inter."),
}
"""What each stage of the paper's schedule trains, written without the recipe's globs."""

IDLE_ON_THREE_FRAMES = {"inter.feature_adaptor.1", "inter.feature_adaptor.2"}
"""The enhancement layer's feature adaptors of P frames 3 and 4 of the cycle."""


def small_sevc(stage: Stage, **recipe: object) -> SEVC:
    """SEVC at the small widths trained by a one-stage recipe (frame weights 0.5, 1.2, ...)."""
    torch.manual_seed(0)
    return SEVC(SEVCConfig.small(), recipe=TrainingRecipe(lambdas=list(SEVC_LAMBDAS), stages=[stage], **recipe))


def module_groups(names: set[str]) -> set[str]:
    """The modules (first three name parts, e.g. "inter.base.mv_encoder") the parameters belong to."""
    return {".".join(name.split(".")[:3]) for name in names}


@pytest.mark.parametrize("stage", default_recipe().stages, ids=lambda stage: stage.name)
def test_each_stage_trains_exactly_its_part(stage: Stage) -> None:
    stage = replace(stage, frames=3)
    model = small_sevc(stage)
    before = parameters(model)
    trainable = trainable_names(before, stage, model.recipe, model.parameter_groups)
    assert trainable == {name for name in before if TRAINS[stage.name](name)}

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    apply_stage(model, optimizer, stage, model.recipe, 0)

    def step(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    stats = train_clip(model, clips(1, 3), QUALITY, LAMBDA, stage, model.recipe, step)
    updated = changed(before, model)
    assert stats.steps == 1
    assert updated <= trainable  # everything else (the I codec, the other part) stays frozen
    assert module_groups(updated) == module_groups(trainable) - IDLE_ON_THREE_FRAMES  # every module of the part learns


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    """The toy batch coded by inference: estimate, the base-only decode and the base inputs."""
    model = small_sevc(Stage("any", 10, "all")).eval()  # eval: no Swin drop path, as inference
    frames = clips(1, 3)
    data = model.compress(frames[0], quality=QUALITY)
    return dict(
        frames=frames,
        estimate=model.estimate(frames[0], quality=QUALITY),
        base_recon=model.decompress(data, base_layer_only=True),  # (3, 3, 16, 16)
        base_input=imresize(frames[0], 1 / 4),  # no padding at 64x64
    )


def train_loss(stage: Stage, frames: torch.Tensor) -> float:
    """The loss `train_clip` hands the optimizer step ("ste": the forward pass rounds as inference)."""
    model = small_sevc(stage, quantization="ste").eval()
    losses: list[torch.Tensor] = []
    train_clip(model, frames, QUALITY, LAMBDA, stage, model.recipe, losses.append)
    assert len(losses) == 1 and losses[0].requires_grad
    return losses[0].item()


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.mean((a - b) ** 2).item()


@pytest.mark.parametrize("alpha", [BASE_RECONSTRUCTION_WEIGHT, 0.0], ids=["alpha=0.05", "alpha=0-plain"])
def test_joint_loss_is_eq5(reference: dict, alpha: float) -> None:
    """mean over P frames of w * lambda * (D(x_hat, x) + alpha * D(x_hat_BL, x_BL)) + R / (H * W).

    alpha = 0 is the plain loss of the augmentative stage (Eq. 4).
    """
    frames, res = reference["frames"], reference["estimate"]
    expected = [
        w * LAMBDA * (mse(res.recon[t], frames[0, t]) + alpha * mse(reference["base_recon"][t], reference["base_input"][t]))
        + res.bits[t] / PIXELS
        for t, w in zip((1, 2), WEIGHTS)
    ]
    stage = Stage("joint", 10, "all", ["inter.*"], frames=3, base_weight=alpha)
    assert train_loss(stage, frames) == pytest.approx(sum(expected) / 2, rel=1e-4)


def test_base_loss_is_the_base_codec_alone(reference: dict) -> None:
    """mean over P frames of w * lambda * D(x_hat_BL, x_BL) + R_BL / (h * w): Eq. 4 for the base codec."""
    frames, res = reference["frames"], reference["estimate"]
    base_bits = [sum(bits[t] for tag, bits in res.components.items() if tag.startswith("bl_")) for t in range(3)]
    expected = [
        w * LAMBDA * mse(reference["base_recon"][t], reference["base_input"][t]) + base_bits[t] / BASE_PIXELS
        for t, w in zip((1, 2), WEIGHTS)
    ]
    stage = Stage("base", 10, "base", ["inter.base.*"], frames=3)
    assert train_loss(stage, frames) == pytest.approx(sum(expected) / 2, rel=1e-4)


def test_motion_loss_is_the_base_layer_warped_reference() -> None:
    """w * lambda * D(warp(base reference, base mv_hat), x_BL) + R_bl_mv / (h * w) on one P frame."""
    model = small_sevc(Stage("motion", 10, "motion", ["inter.base.flow.*"], frames=2), quantization="ste").eval()
    frames = clips(1, 2)
    with torch.no_grad():
        _, dpb = model.code_frame(frames[:, 0], "I", None, (64, 64), QUALITY, model.shared_coders("I", Estimate()), 0)
        coder = Estimate()
        _, after = model.inter.code(frames[:, 1], dpb, QUALITY, coder)
    warped = warp(dpb.base.frame, after.base.mv_hat)
    motion_bits = coder.bits["bl_mv_y"] + coder.bits["bl_mv_z"]
    expected = WEIGHTS[0] * LAMBDA * mse(warped, imresize(frames[:, 1], 1 / 4)) + motion_bits.item() / BASE_PIXELS
    losses: list[torch.Tensor] = []
    train_clip(model, frames, QUALITY, LAMBDA, model.recipe.stages[0], model.recipe, losses.append)
    assert losses[0].item() == pytest.approx(expected, rel=1e-4)


def test_recipe_file_is_the_default_recipe() -> None:
    recipe = yaml.safe_load(RECIPE.read_text())["model"]["init_args"]["recipe"]
    stages = [Stage(**stage) for stage in recipe.pop("stages")]
    assert TrainingRecipe(**recipe, stages=stages) == default_recipe()
    assert [(s.name, s.loss, s.frames, s.base_weight) for s in stages] == [
        ("base_motion", "motion", 2, 0.0),
        ("base", "base", 6, 0.0),
        ("augmentative", "all", 6, 0.0),
        ("joint", "all", 32, 0.05),
    ]


@pytest.mark.usefixtures("cli_sandbox")
def test_recipe_prints_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit.main(["fit", "-c", str(RECIPE), "--print_config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == "lvc_zoo.models.SEVC"
    assert config["model"]["init_args"]["recipe"]["stages"][-1]["base_weight"] == 0.05
    root = vimeo_tree(tmp_path / "vimeo")
    args = ["fit", "-c", str(RECIPE), "--trainer.fast_dev_run", "true", *tiny_args(root, tmp_path / "run", RECIPE)]
    assert fit.main(args) == 0
