"""Callbacks for exact resume: the random state of every rank travels in the checkpoint.

Lightning's checkpoints already hold the weights, optimizer and scheduler states, the global
step and the loop position; the stage is a pure function of the global step
(:meth:`lvc_zoo.training.TrainingRecipe.stage_at`), and the train loader of
:class:`lvc_zoo.data.VideoDataModule` saves its position in the epoch
(:mod:`lvc_zoo.data.sampling`). What is left is the global random state that training draws
from (quantisation noise, dropout): :class:`RNGStateCheckpoint` stores the torch (CPU and
CUDA), numpy and Python states of every rank and puts them back before the first training
step after a resume, so the resumed run continues with the draws the uninterrupted run made.

[choice] The states are restored at the first ``on_train_batch_start`` after loading, not when
the checkpoint is loaded: sanity validation and loader start-up run in between and must not
shift them. They are captured when the checkpoint is written, which Lightning does after a
training step (``ModelCheckpoint(every_n_train_steps=...)``), at the end of validation or of
an epoch, or as training stops; nothing between that point and the next training step draws
from the global generators in lvc_zoo's own loaders.
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn

__all__ = ["RNGStateCheckpoint", "collect_rng_state", "restore_rng_state"]

CHECKPOINT_KEY = "lvc_zoo_rng_states"
"""Where the per-rank states live in a Lightning checkpoint dict."""


def collect_rng_state() -> dict[str, Any]:
    """This process's torch (CPU, CUDA), numpy and Python random states as tensors and plain values.

    Only tensors, ints, floats, strings, lists and dicts, so the checkpoint loads with
    ``torch.load(weights_only=True)``.
    """
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the random states :func:`collect_rng_state` returned (CUDA only where it was saved)."""
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    np.random.set_state(
        (numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"], numpy["has_gauss"],
         numpy["cached_gaussian"])
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


class RNGStateCheckpoint(Callback):
    """Save every rank's random state in checkpoints and restore it when training resumes.

    The checkpoint holds a list indexed by global rank. A run resumed with another world size
    cannot continue every rank's stream; it warns and keeps the states it has.
    """

    def __init__(self) -> None:
        self.pending: dict[str, Any] | None = None

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Add the states of all ranks (gathered; every rank writes the same list)."""
        state = collect_rng_state()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            states: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(states, state)
        else:
            states = [state]
        checkpoint[CHECKPOINT_KEY] = states

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Keep this rank's saved state for the first training step after the resume."""
        states = checkpoint.get(CHECKPOINT_KEY)
        if states is None:
            return
        if len(states) != trainer.world_size:
            rank_zero_warn(
                f"The checkpoint holds the random states of {len(states)} rank(s), this run has {trainer.world_size}: "
                "the random draws after the resume will differ from an uninterrupted run."
            )
            return
        self.pending = states[trainer.global_rank]

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Restore the loaded state right before the first training step after a resume."""
        if self.pending is not None:
            restore_rng_state(self.pending)
            self.pending = None
