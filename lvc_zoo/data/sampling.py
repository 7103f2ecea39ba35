"""Resumable training order: an epoch-keyed sampler and a loader whose position is checkpointed.

    EpochSampler        this rank's share of a shuffle seeded by (seed, epoch); yields (index, epoch)
    ResumableDataLoader a DataLoader that counts the batches it handed out and restores that count

Lightning stores a train loader's ``state_dict()`` in every checkpoint (the loader only has to
implement ``state_dict`` / ``load_state_dict``) and loads it before it iterates again, so a run
killed in the middle of an epoch and resumed with ``--ckpt_path last`` continues with the very
next batch of the same permutation, with the same crops (the dataset seeds them by the epoch the
sampler yields), instead of starting the epoch over.

The sampler subclasses :class:`torch.utils.data.DistributedSampler`, so under DDP Lightning keeps
it rather than wrapping it: every rank shuffles with the same (seed, epoch) and takes every
``world_size``-th index from its rank on (the permutation padded to a multiple of the world
size, as DistributedSampler does). Lightning calls ``set_epoch`` at each epoch start.

[choice] Nothing here draws from the global RNGs (the loader's worker seeds come from its own
seeded generator), so the random state the training step sees is the same whether or not the
run was resumed; :class:`lvc_zoo.training.callbacks.RNGStateCheckpoint` restores that state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..errors import ConfigError

__all__ = ["EpochSampler", "ResumableDataLoader"]


class EpochSampler(DistributedSampler):
    """This rank's share of a per-epoch shuffle, as ``(index, epoch)`` keys of a ClipDataset.

    Args:
        dataset: the dataset to sample (its length is used).
        num_replicas: world size (1 without DDP).
        rank: this process's global rank.
        shuffle: a permutation seeded by ``seed + epoch`` (DistributedSampler's); False: in order.
        seed: shuffle seed, the same on every rank.

    Attributes:
        skip: keys of this rank to leave out at the start of the next iteration (then reset to 0);
            ``len()`` stays the whole epoch's.
        offset: subtracted from the epoch numbers given to ``set_epoch`` (see ResumableDataLoader).
    """

    def __init__(
        self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, shuffle: bool = True, seed: int = 0
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.skip = 0
        self.offset = 0

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch - offset`` (Lightning calls this at every epoch start)."""
        super().set_epoch(epoch - self.offset)

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        indices = list(super().__iter__())[self.skip :]
        self.skip = 0
        return iter([(index, self.epoch) for index in indices])


class ResumableDataLoader(DataLoader):
    """A DataLoader over an :class:`EpochSampler` that checkpoints how far into the epoch it is.

    ``state_dict()`` is ``{"epoch": e, "batches": n}``: n batches of epoch e were handed out
    (counted as they are yielded, so worker prefetching does not count). After
    ``load_state_dict`` the next iteration continues epoch e at batch n (epoch e + 1 at batch 0
    if e was complete). Batches are whole (``drop_last=True``), so n batches are
    ``n * batch_size`` keys of this rank.

    The loader keeps its own epoch count: Lightning numbers the resumed epoch from its loop
    state, which is one ahead when the checkpoint was written as training stopped part-way
    through an epoch (``max_steps``, ``max_time``: the stop marks the epoch finished). The
    difference becomes the sampler's ``offset``, so the resumed run still sees the batches the
    uninterrupted run saw; only the epoch labels of Lightning's logs shift.

    Args:
        dataset: a ClipDataset (indexed by ``(index, epoch)``).
        sampler: the EpochSampler.
        **loader: other DataLoader arguments (batch_size, num_workers, ...); drop_last must be True.
    """

    sampler: EpochSampler

    def __init__(self, dataset: Dataset, sampler: EpochSampler, **loader: Any) -> None:
        if not loader.get("drop_last", False):
            raise ConfigError("ResumableDataLoader needs drop_last=True: it resumes by whole batches.")
        super().__init__(dataset, sampler=sampler, **loader)
        self.batches = 0
        self._resume: dict[str, int] | None = None

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        resume, self._resume = self._resume, None
        self.batches = 0
        if resume is not None:
            epoch, self.batches = resume["epoch"], resume["batches"]
            if self.batches >= len(self):
                epoch, self.batches = epoch + 1, 0
            self.sampler.offset += self.sampler.epoch - epoch
            self.sampler.epoch = epoch
        self.sampler.skip = self.batches * self.batch_size  # type: ignore[operator]
        for batch in super().__iter__():
            self.batches += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """{"epoch": the sampler's epoch, "batches": batches of it handed out so far}."""
        return {"epoch": self.sampler.epoch, "batches": self.batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue epoch ``state["epoch"]`` at batch ``state["batches"]`` at the next iteration."""
        self._resume = dict(state)
