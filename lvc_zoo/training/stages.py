"""Applying a stage: which parameters train, at which learning rate; the per-step random draw.

Everything here is a pure function of the recipe and the optimizer step, so a run resumed
from a checkpoint trains exactly what the killed run would have trained.

Models are duck-typed: a stage's `trainable` entries may name the parameter groups a model
declares (`parameter_groups`, a mapping of group name to fnmatch globs), and a stage with
`flow_init` calls the model's `initialise_flow()`, which returns the parameters it reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np
from torch import nn
from torch.optim import Optimizer

from ..errors import ConfigError
from .recipe import Stage, TrainingRecipe

__all__ = [
    "INTRA_PREFIX",
    "ClipDraw",
    "intra_trains",
    "trainable_globs",
    "trainable_names",
    "apply_stage",
    "draw_clip",
]

INTRA_PREFIX = "intra."
"""Parameter names of the I-frame network (`VideoCodec.intra`)."""


def intra_trains(stage: Stage, recipe: TrainingRecipe) -> bool:
    """The I-frame network trains (and runs with grad) in "intra" stages, or always if recipe.intra == "trained"."""
    return stage.loss == "intra" or recipe.intra == "trained"


def _globs(entry: str, groups: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """The globs of a trainable entry: its group's, or the entry itself."""
    return tuple(groups[entry]) if entry in groups else (entry,)


def trainable_globs(stage: Stage, groups: Mapping[str, Iterable[str]]) -> list[str]:
    """`stage.trainable` with every entry that names one of `groups` replaced by that group's globs."""
    return [glob for entry in stage.trainable for glob in _globs(entry, groups)]


def trainable_names(
    names: Iterable[str], stage: Stage, recipe: TrainingRecipe, groups: Mapping[str, Iterable[str]] | None = None
) -> set[str]:
    """The parameter names that train during `stage`.

    A name trains if it matches one of `stage.trainable` (a group of `groups` or an fnmatch
    glob), unless it belongs to a frozen I-frame network (see `intra_trains`).

    Args:
        names: every parameter name of the model.
        stage: the stage.
        recipe: the recipe (whether the I-frame network trains).
        groups: the model's parameter groups (`parameter_groups`), name -> globs.
    Raises:
        ConfigError: an entry is no group and matches no parameter (a typo would silently
            freeze a module).
    """
    names = list(names)
    groups = groups or {}
    unmatched = [
        entry for entry in stage.trainable if not any(fnmatchcase(n, glob) for glob in _globs(entry, groups) for n in names)
    ]
    if unmatched:
        raise ConfigError(
            f"Stage {stage.name!r}: trainable entries {unmatched} match no parameter of the model; use one of its "
            f"parameter groups {sorted(groups)} or globs over parameter names, which look like {names[:3]}."
        )
    globs = trainable_globs(stage, groups)
    intra = intra_trains(stage, recipe)
    return {
        n for n in names
        if any(fnmatchcase(n, glob) for glob in globs) and (intra or not n.startswith(INTRA_PREFIX))
    }


def apply_stage(model: nn.Module, optimizer: Optimizer, stage: Stage, recipe: TrainingRecipe, step: int) -> None:
    """Set up optimizer step `step` of `stage` (counted from the stage's start).

    Sets `requires_grad` of every parameter (the model's `parameter_groups` resolve group
    names), the learning rate of every group to `stage.lr_at(step)`, and at the stage's
    first step with `flow_init` restarts the model's flow networks (`initialise_flow()`) and
    drops their optimizer moments. Frozen parameters get no gradient, so AdamW leaves them
    (and their moments) untouched.

    Raises:
        ConfigError: a trainable entry matches nothing, or `flow_init` on a model without a
            flow network.
    """
    groups = getattr(model, "parameter_groups", {})
    trainable = trainable_names((n for n, _ in model.named_parameters()), stage, recipe, groups)
    for name, param in model.named_parameters():
        param.requires_grad_(name in trainable)
    for group in optimizer.param_groups:
        group["lr"] = stage.lr_at(step)
    if stage.flow_init == "gradient" and step == 0:
        for parameter in model.initialise_flow():
            optimizer.state.pop(parameter, None)


@dataclass(frozen=True)
class ClipDraw:
    """What a training batch uses, drawn from (seed, step).

    Attributes:
        quality_index: position in the model's qualities.
        start: first clip frame used.
    """

    quality_index: int
    start: int


def draw_clip(seed: int, step: int, qualities: int, clip_frames: int, frames: int) -> ClipDraw:
    """Draw the quality and the first frame of a batch from a generator seeded by (seed, step).

    Args:
        seed: the recipe's seed.
        step: the optimizer step (`global_step`) the batch starts at.
        qualities: number of qualities to draw from (the model's).
        clip_frames: frames T of the batch's clips.
        frames: frames the stage codes (<= clip_frames).
    """
    rng = np.random.default_rng((seed, step))
    return ClipDraw(int(rng.integers(qualities)), int(rng.integers(clip_frames - frames + 1)))
