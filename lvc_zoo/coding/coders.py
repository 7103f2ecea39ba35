"""`Encode` and `Decode`: the `Coder`s that turn a model's `code()` into a real bitstream.

Both see exactly what `Estimate` sees. `Encode` rounds like `Estimate("round")` (it is one,
so it also records the estimated bits) and pushes the integer symbols with their table
indices into a `ChunkWriter`; `Decode` pulls them from a `ChunkReader` in the same order.
Because the model runs the same `code()` on both sides, the decoder cannot drift: the table
indices come from the same parameters, computed from the same decoded symbols.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .distributions import Distribution, FactorizedDistribution
from .entropy_coder import ChunkReader, ChunkWriter, conditional_tables, factorized_tables, scale_index
from .estimate import Estimate

__all__ = ["Encode", "Decode"]


def _channel_ids(shape: Sequence[int]) -> np.ndarray:
    """Channel index of every element of a (B, C, H, W) tensor, flattened in row-major order."""
    b, c, h, w = shape
    return np.broadcast_to(np.arange(c).reshape(1, c, 1, 1), (b, c, h, w)).reshape(-1)


_NUMPY_DTYPES = (torch.float32, torch.float64)


class _Active:
    """Where a conditional's mask is nonzero, to select the coded elements of tensors of one shape.

    On the CPU numpy selects and places, without torch's thread pool, whose parallel nonzero and
    index_put cost milliseconds per call when other processes hold the cores (measured with 2
    threads on a loaded 2-core machine: 5.9 ms for a boolean selection of 65,536 scales, numpy
    0.1 ms). Other devices and dtypes (e.g. bfloat16) take torch's path; both select the same
    elements in the same (row-major) order.

    Args:
        mask: 0/1 mask, broadcastable to `like`.
        like: a tensor of the shape, dtype and device of those to select from.
    """

    def __init__(self, mask: Tensor, like: Tensor) -> None:
        self.mask = mask.expand_as(like)
        on_cpu = all(t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES for t in (mask, like))
        # flat row-major positions: taking and putting at them is ~5x faster than numpy's boolean indexing
        self.positions = np.flatnonzero(np.broadcast_to(mask.detach().numpy(), like.shape) != 0) if on_cpu else None

    def select(self, values: Tensor) -> Tensor:
        """(N,) the elements of `values` where the mask is nonzero, on values' device."""
        if self.positions is None:
            return values[self.mask.bool()]
        return torch.from_numpy(np.take(values.detach().numpy().reshape(-1), self.positions))

    def place(self, selected: Tensor, like: Tensor) -> Tensor:
        """Zeros like `like` (its layout too) with `selected` (N,) where the mask is nonzero: the inverse of `select`."""
        if self.positions is None:
            placed = torch.zeros_like(like)
            placed[self.mask.bool()] = selected
            return placed
        values = selected.numpy()
        placed_values = np.zeros(like.numel(), dtype=values.dtype)
        placed_values[self.positions] = values
        placed = torch.from_numpy(placed_values).view(like.shape)
        return placed if like.is_contiguous() else torch.empty_like(like).copy_(placed)


class Encode(Estimate):
    """Estimate with rounding, and write every symbol to `writer`."""

    def __init__(self, writer: ChunkWriter) -> None:
        super().__init__(mode="round")
        self.writer = writer

    def code_factorized(self, z: Tensor | None, estimator: FactorizedDistribution, shape: Sequence[int], tag: str) -> Tensor:
        z_hat = super().code_factorized(z, estimator, shape, tag)
        symbols = z_hat.to(torch.int64).reshape(-1).cpu().numpy()
        self.writer.push(symbols, _channel_ids(z_hat.shape), factorized_tables(estimator))
        return z_hat

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        symbols = super().code_conditional(residual, scales, mask, distribution, tag)
        active = _Active(mask, scales)
        table_ids = scale_index(active.select(scales), distribution).cpu().numpy()
        self.writer.push(active.select(symbols).to(torch.int64).cpu().numpy(), table_ids, conditional_tables(distribution))
        return symbols


class Decode:
    """Read the symbols a model's `code()` asks for from `reader` (the latents are None)."""

    def __init__(self, reader: ChunkReader) -> None:
        self.reader = reader

    def code_factorized(self, z: Tensor | None, estimator: FactorizedDistribution, shape: Sequence[int], tag: str) -> Tensor:
        symbols = self.reader.pull(_channel_ids(shape), factorized_tables(estimator))
        return torch.from_numpy(symbols).to(estimator.device, estimator.dtype).reshape(tuple(shape))

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        active = _Active(mask, scales)
        table_ids = scale_index(active.select(scales), distribution).cpu().numpy()
        symbols = torch.from_numpy(self.reader.pull(table_ids, conditional_tables(distribution))).to(scales)
        return active.place(symbols, scales)
