"""Will the run fit in memory? :class:`MemoryCheck` answers before the first step, in one line.

A run whose batches do not fit is killed by the kernel (CPU) or stops with an out-of-memory
error (GPU) after minutes of start-up, with no hint of what would fit. Training memory is the
weights, their gradients and AdamW's two moments (4 x the parameters' bytes), plus what
autograd keeps for backward: the activations, which grow linearly with the clips per batch,
the frames coded with gradients through their references (cascaded) and the pixels per frame.

The check measures the activations rather than modelling them: it codes one small probe clip
(``PROBE_SIDE`` square, the stage's frames) under every stage still to run and sums the bytes of
the tensors autograd saves for backward (``torch.autograd.graph.saved_tensors_hooks``), then
scales by (crop / probe side)^2 and the batch size. It compares the largest stage's need with
the memory available now: CUDA's free memory on a GPU, else the smaller of the kernel's
``MemAvailable`` (``/proc/meminfo``; psutil where /proc is missing) and the cgroup's limit less
its usage (containers are killed at their limit, not at the machine's).

[choice] ``headroom`` 1.3: transient buffers (the backward's gradients of activations, the
loader's batches, the allocator's slack) come on top of the saved tensors. The factor is a
margin, not yet calibrated against measured peak memory.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from ..errors import ConfigError
from .cascade import train_clip
from .recipe import Stage, TrainingRecipe
from .stages import trainable_names

__all__ = ["MemoryCheck", "MemoryNeed", "available_memory", "saved_activation_bytes", "PROBE_SIDE"]

PROBE_SIDE = 64
"""Side in pixels of the probe clip; activations scale with the area, so it only needs to be cheap."""

GIB = 1024**3


class MemoryNeed:
    """Bytes a training run needs: fixed (weights, gradients, moments) plus per clip of a batch."""

    def __init__(self, fixed: int, per_clip: int, headroom: float) -> None:
        self.fixed, self.per_clip, self.headroom = fixed, per_clip, headroom

    def total(self, batch_size: int) -> int:
        """Bytes for batches of `batch_size` clips, headroom included."""
        return int(self.headroom * (self.fixed + batch_size * self.per_clip))

    def batch_that_fits(self, available: int) -> int:
        """The largest batch size whose `total` is within `available` (0: not even one clip)."""
        return max(0, math.floor((available / self.headroom - self.fixed) / self.per_clip))


def saved_activation_bytes(codec: Any, stage: Stage, recipe: TrainingRecipe, frames: int, side: int = PROBE_SIDE) -> int:
    """Bytes autograd keeps for backward when `codec` trains one (1, frames, 3, side, side) clip under `stage`.

    Sets `requires_grad` as the stage does (restored afterwards) and codes at the model's
    lowest quality (`codec.rate.qualities[0]`); nothing is back-propagated and no weight changes.
    """
    device = next(codec.parameters()).device
    clip = torch.rand(1, frames, 3, side, side, generator=torch.Generator().manual_seed(0)).to(device)
    groups = getattr(codec, "parameter_groups", {})
    trainable = trainable_names((name for name, _ in codec.named_parameters()), stage, recipe, groups)
    flags = {name: param.requires_grad for name, param in codec.named_parameters()}
    seen: set[tuple[int, int]] = set()
    total = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in seen:  # a tensor saved by several ops is kept once
            seen.add(key)
            total += storage.nbytes()
        return tensor

    quality = codec.rate.qualities[0]
    try:
        for name, param in codec.named_parameters():
            param.requires_grad_(name in trainable)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), torch.enable_grad():
            train_clip(codec, clip, quality, recipe.lambda_of(codec.rate, quality), stage, recipe, lambda loss: None)
    finally:
        for name, param in codec.named_parameters():
            param.requires_grad_(flags[name])
    return total


def available_memory(device: torch.device) -> tuple[int, str]:
    """(bytes available now, where that was read) for training on `device`.

    Raises:
        ConfigError: nothing says how much memory there is (no /proc/meminfo and no psutil).
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"free memory of {device}"
    readings = []
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        if "MemAvailable" in fields:
            readings.append((int(fields["MemAvailable"].split()[0]) * 1024, "MemAvailable"))
    else:
        try:
            import psutil
        except ImportError:
            pass
        else:
            readings.append((int(psutil.virtual_memory().available), "available memory (psutil)"))
    cgroup = Path("/sys/fs/cgroup")
    limit, usage = cgroup / "memory.max", cgroup / "memory.current"
    if limit.is_file() and usage.is_file() and limit.read_text().strip() != "max":
        readings.append((int(limit.read_text()) - int(usage.read_text()), "the cgroup's memory.max less its usage"))
    if not readings:
        raise ConfigError(
            "cannot read the available memory (no /proc/meminfo, no psutil): pip install psutil, or remove "
            "MemoryCheck from the recipe's callbacks."
        )
    return min(readings)


class MemoryCheck(Callback):
    """Before the first step: stop with one line naming a batch size that fits, if the run's would not.

    Reads the batch size, frames and crop from the datamodule (``batch_size``, ``frames``,
    ``crop``; a crop of None is refused, the check needs a frame size) and the stages from the
    model's recipe (those from the current step on, so a resumed run checks what is left).

    Args:
        headroom: factor over the estimate for transient buffers (module docs).
    Raises (from ``on_fit_start``):
        ConfigError: the estimate exceeds the memory available; the message gives the
            estimate, the memory and the largest batch size that fits (or says to lower
            crop or frames when not even one clip does).
    """

    def __init__(self, headroom: float = 1.3) -> None:
        if not isinstance(headroom, (int, float)) or headroom < 1:
            raise ConfigError(f"MemoryCheck headroom must be a number >= 1, got {headroom!r}.")
        self.headroom = float(headroom)

    def estimate(self, codec: Any, batch_size: int, frames: int, crop: int, step: int) -> MemoryNeed:
        """The run's `MemoryNeed`: the worst stage from `step` on, scaled from the probe to `crop`."""
        recipe: TrainingRecipe = codec.recipe
        first = recipe.stage_index_at(step)
        per_clip = 0
        for stage in recipe.stages[first:]:
            coded = 1 if stage.loss == "intra" else min(stage.frames, frames)
            probe = saved_activation_bytes(codec, stage, recipe, coded)
            per_clip = max(per_clip, math.ceil(probe * (crop / PROBE_SIDE) ** 2))
        fixed = 4 * sum(p.numel() * p.element_size() for p in codec.parameters())
        return MemoryNeed(fixed, per_clip, self.headroom)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        batch_size, frames, crop = (getattr(data, key, None) for key in ("batch_size", "frames", "crop"))
        if batch_size is None or frames is None or crop is None:
            raise ConfigError(
                "MemoryCheck needs a datamodule with batch_size, frames and a square crop (data.crop): set "
                "data.crop, or remove MemoryCheck from the recipe's callbacks."
            )
        available, source = available_memory(pl_module.device)
        need = self.estimate(pl_module, batch_size, frames, crop, trainer.global_step)
        needed = need.total(batch_size)
        if needed <= available:
            if trainer.is_global_zero:
                print(
                    f"lightning: note: memory check: batches of {batch_size} x {frames} frames at {crop}x{crop} need about "
                    f"{needed / GIB:.2f} GiB, {available / GIB:.1f} GiB is available ({source}).",
                    file=sys.stderr,
                )
            return
        fits = need.batch_that_fits(available)
        what = (
            f"use --data.batch_size {fits}" if fits >= 1
            else "not even one clip fits: lower --data.crop or --data.frames"
        )
        raise ConfigError(
            f"batches of {batch_size} x {frames} frames at {crop}x{crop} need about {needed / GIB:.1f} GiB "
            f"({need.per_clip / GIB:.2f} GiB per clip, measured), {available / GIB:.1f} GiB is available "
            f"({source}): {what}."
        )
