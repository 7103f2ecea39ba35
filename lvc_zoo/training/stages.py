"""Applying a stage: which parameters train, at which learning rate; the per-step random draw.

Everything here is a pure function of the recipe and the optimizer step, so a run resumed
from a checkpoint trains exactly what the killed run would have trained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer

from ..errors import ConfigError
from ..layers.flow import SpyNet
from .recipe import Stage, TrainingRecipe

__all__ = [
    "INTRA_PREFIX",
    "ClipDraw",
    "intra_trains",
    "trainable_names",
    "apply_stage",
    "draw_clip",
    "initialise_flow",
    "initialise_q_scales",
]

INTRA_PREFIX = "intra."
"""Parameter names of the I-frame network (`VideoCodec.intra`)."""


def intra_trains(stage: Stage, recipe: TrainingRecipe) -> bool:
    """The I-frame network trains (and runs with grad) in "intra" stages, or always if recipe.intra == "trained"."""
    return stage.loss == "intra" or recipe.intra == "trained"


def trainable_names(names: Iterable[str], stage: Stage, recipe: TrainingRecipe) -> set[str]:
    """The parameter names that train during `stage`.

    A name trains if it matches one of `stage.trainable` (fnmatch globs), unless it belongs to
    a frozen I-frame network (see `intra_trains`).

    Raises:
        ConfigError: a glob matches no parameter (a typo would silently freeze a module).
    """
    names = list(names)
    unmatched = [glob for glob in stage.trainable if not any(fnmatchcase(n, glob) for n in names)]
    if unmatched:
        raise ConfigError(
            f"Stage {stage.name!r}: trainable globs {unmatched} match no parameter of the model; "
            f"parameter names look like {names[:3]} (list them with model.named_parameters())."
        )
    intra = intra_trains(stage, recipe)
    return {
        n for n in names
        if any(fnmatchcase(n, glob) for glob in stage.trainable) and (intra or not n.startswith(INTRA_PREFIX))
    }


def apply_stage(model: nn.Module, optimizer: Optimizer, stage: Stage, recipe: TrainingRecipe) -> None:
    """Set `requires_grad` of every parameter and the learning rate of every group for `stage`.

    Frozen parameters get no gradient, so AdamW leaves them (and their moments) untouched.
    """
    trainable = trainable_names((n for n, _ in model.named_parameters()), stage, recipe)
    for name, param in model.named_parameters():
        param.requires_grad_(name in trainable)
    for group in optimizer.param_groups:
        group["lr"] = stage.lr


@dataclass(frozen=True)
class ClipDraw:
    """What a training batch uses, drawn from (seed, step).

    Attributes:
        quality_index: position in the model's qualities (and in recipe.lambdas).
        start: first clip frame used.
    """

    quality_index: int
    start: int


def draw_clip(seed: int, step: int, qualities: int, clip_frames: int, frames: int) -> ClipDraw:
    """Draw the quality and the first frame of a batch from a generator seeded by (seed, step).

    Args:
        seed: the recipe's seed.
        step: the optimizer step (`global_step`) the batch starts at.
        qualities: number of qualities to draw from.
        clip_frames: frames T of the batch's clips.
        frames: frames the stage codes (<= clip_frames).
    """
    rng = np.random.default_rng((seed, step))
    return ClipDraw(int(rng.integers(qualities)), int(rng.integers(clip_frames - frames + 1)))


def initialise_q_scales(model: nn.Module, anchors: list[float]) -> None:
    """Set every `*q_enc.scale` (A, 1, 1, 1) to `anchors` and every `*q_dec.scale` to their reciprocals.

    See `TrainingRecipe.q_scales`. Raises ConfigError when the model has no such parameter
    or one has another number of anchors.
    """
    values = torch.tensor(anchors, dtype=torch.float32).view(-1, 1, 1, 1)
    found = 0
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            for suffix, target in (("q_enc.scale", values), ("q_dec.scale", values.reciprocal())):
                if name.endswith(suffix):
                    if parameter.shape != target.shape:
                        raise ConfigError(f"{name} has {parameter.shape[0]} anchors, recipe.q_scales {len(anchors)}.")
                    parameter.copy_(target)
                    found += 1
    if not found:
        raise ConfigError(f"{type(model).__name__} has no q_enc / q_dec scales for recipe.q_scales; leave it null.")


def initialise_flow(model: nn.Module, optimizer: Optimizer) -> None:
    """Apply `Stage.flow_init="gradient"`: every SpyNet of `model` restarts as the analytic flow step.

    Adam's moments of the SpyNet parameters are dropped with their old values, so the first
    updates are not steered by them.

    Raises:
        ConfigError: the model has no SpyNet.
    """
    flows = [module for module in model.modules() if isinstance(module, SpyNet)]
    if not flows:
        raise ConfigError(f"{type(model).__name__} has no SpyNet flow network for flow_init; remove it from the stage.")
    for flow in flows:
        flow.init_gradient_flow_()
        for parameter in flow.parameters():
            optimizer.state.pop(parameter, None)
