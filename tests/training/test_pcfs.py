"""PCFS (ECVC's partial cascaded fine-tuning): bounded memory for backward, one optimizer step per group."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor
from training_testing import clips, fit, small_model

from lvc_zoo.training import Stage, detach_state, train_clip


class _Saved:
    """A tensor saved for backward; tells the meter when autograd lets go of it."""

    def __init__(self, tensor: Tensor, meter: SavedTensorMeter) -> None:
        self.tensor = tensor
        self.meter = meter
        self.bytes = tensor.numel() * tensor.element_size()
        meter.add(1, self.bytes)

    def __del__(self) -> None:
        self.meter.add(-1, -self.bytes)


@dataclass
class SavedTensorMeter:
    """Peak number and bytes of tensors held for backward, via torch.autograd.graph.saved_tensors_hooks."""

    count: int = 0
    bytes: int = 0
    peak_count: int = 0
    peak_bytes: int = 0

    def add(self, count: int, size: int) -> None:
        self.count += count
        self.bytes += size
        self.peak_count = max(self.peak_count, self.count)
        self.peak_bytes = max(self.peak_bytes, self.bytes)

    def hooks(self) -> torch.autograd.graph.saved_tensors_hooks:
        return torch.autograd.graph.saved_tensors_hooks(lambda t: _Saved(t, self), lambda saved: saved.tensor)


def measure(frames: int, group_size: int | None) -> tuple[SavedTensorMeter, int]:
    """Train one clip of `frames` 64x64 frames; returns the saved-tensor meter and the optimizer steps taken."""
    model = small_model(Stage("pcfs", 10, "all", frames=frames, group_size=group_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    steps = []

    def step(loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps.append(loss.item())

    meter = SavedTensorMeter()
    with meter.hooks():
        stats = train_clip(model, clips(1, frames), 3, 840.0, model.recipe.stages[0], model.recipe, step)
    assert stats.steps == len(steps)
    assert meter.count == 0  # everything saved was released after each backward
    return meter, len(steps)


@pytest.mark.slow
def test_pcfs_saved_tensors_do_not_grow_with_the_clip() -> None:
    short, short_steps = measure(4, None)
    pcfs, pcfs_steps = measure(32, 4)
    cascade, cascade_steps = measure(16, None)
    assert (short_steps, pcfs_steps, cascade_steps) == (1, 8, 1)
    # Groups after the first hold 4 P frames (the first: the frozen I frame + 3 P frames).
    assert pcfs.peak_bytes <= 1.5 * short.peak_bytes
    assert pcfs.peak_count <= 1.5 * short.peak_count
    # The plain cascade holds every frame's graph: about 15 / 3 times the short clip's.
    assert cascade.peak_bytes >= 4 * short.peak_bytes
    assert cascade.peak_count >= 4 * short.peak_count


@pytest.mark.slow
def test_pcfs_steps_the_optimizer_once_per_group() -> None:
    model = small_model(Stage("pcfs", 100, "all", frames=6, group_size=2))
    run = fit(model, clips(2, 6), max_steps=-1, max_epochs=1)
    assert run.global_step == 2 * 3  # two batches of 6 frames in groups of 2


def test_detach_state_detaches_every_tensor() -> None:
    @dataclass(frozen=True)
    class Buffer:
        frame: Tensor
        feature: Tensor | None
        history: tuple[Tensor, ...]
        index: int

    x = torch.ones(2, requires_grad=True) * 2
    state = detach_state(Buffer(x, None, (x, x), 3))
    assert not state.frame.requires_grad and not any(t.requires_grad for t in state.history)
    assert state.feature is None and state.index == 3
    assert torch.equal(state.frame, x.detach())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cascaded", "group_size", "expected"),
    [
        (True, None, [False, True, True, True, True]),  # the frozen I frame's reconstruction has no grad
        (False, None, [False, False, False, False, False]),
        (True, 3, [False, True, False, True, True]),  # groups {0, 1, 2}, {3, 4, 5}: frame 3 reads a detached reference
    ],
)
def test_references_are_detached_across_groups_and_when_not_cascaded(
    cascaded: bool, group_size: int | None, expected: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = small_model(Stage("s", 10, "all", frames=6, cascaded=cascaded, group_size=group_size))
    reads: list[bool] = []
    code = model.inter.code

    def recording(x, dpb, quality, coder):  # type: ignore[no-untyped-def]
        reads.append(dpb.frame.requires_grad)
        return code(x, dpb, quality, coder)

    monkeypatch.setattr(model.inter, "code", recording)
    train_clip(model, clips(1, 6), 0, 85.0, model.recipe.stages[0], model.recipe, lambda loss: loss.backward())
    assert reads == expected


@pytest.mark.slow
def test_a_pcfs_batch_stops_at_the_end_of_its_stage_and_of_the_run() -> None:
    """Batches of 3 groups: the second one takes only the step left in its stage, then max_steps cuts the third."""
    model = small_model(Stage("pcfs", 4, "all", frames=6, group_size=2), Stage("next", 10, "all", frames=6, group_size=2))
    stages: list[str] = []
    apply = model.training_step

    def recording(batch: Tensor, batch_idx: int) -> None:
        stages.append(model.recipe.stage_at(model.global_step).name)
        apply(batch, batch_idx)

    model.training_step = recording  # type: ignore[method-assign]
    run = fit(model, clips(3, 6), max_steps=5)
    assert stages == ["pcfs", "pcfs", "next"]
    assert run.global_step == 5  # 3 + 1 (the stage's last step) + 1 (the run's last step), not 9


def test_train_clip_takes_at_most_max_steps() -> None:
    model = small_model(Stage("pcfs", 10, "all", frames=6, group_size=2))
    losses: list[Tensor] = []
    stats = train_clip(model, clips(1, 6), 0, 85.0, model.recipe.stages[0], model.recipe, losses.append, max_steps=2)
    assert stats.steps == len(losses) == 2
