"""Helpers of the training tests: tiny DCVC-DC models, random clips, a CPU Trainer."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader

from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.training import Stage, TrainingRecipe


def clips(count: int, frames: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """(count, frames, 3, size, size) random clips in [0, 1]; each frame is the previous one shifted by a pixel."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(count, 3, size, size + frames, generator=g)
    return torch.stack([base[..., i : i + size] for i in range(frames)], dim=1)


def small_model(*stages: Stage, init_seed: int = 0, **recipe: object) -> DCVCDC:
    """DCVC-DC at the small widths (initialised from `init_seed`), trained by a recipe of `stages` and `recipe` fields."""
    torch.manual_seed(init_seed)
    return DCVCDC(DCVCDCConfig.small(), recipe=TrainingRecipe(stages=list(stages), **recipe))


def fit(
    model: DCVCDC, data: torch.Tensor, max_steps: int, batch_size: int = 1, ckpt_path: str | None = None, **trainer: object
) -> L.Trainer:
    """Fit `model` on the clips `data` on the CPU for `max_steps` optimizer steps (resuming from `ckpt_path`
    if given), no logger, no checkpoints."""
    options = dict(
        accelerator="cpu",
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    options.update(trainer)
    run = L.Trainer(**options)
    run.fit(model, DataLoader(data, batch_size=batch_size), ckpt_path=ckpt_path)
    return run


def parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter, by name."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    """Names of the parameters of `model` that differ from `before`."""
    return {name for name, p in model.named_parameters() if not torch.equal(before[name], p.detach())}
