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


def _numpy_active(mask: Tensor, like: Tensor) -> np.ndarray | None:
    """(like's shape) bool, mask != 0 broadcast, when numpy can do the selection; None otherwise.

    numpy selects on the CPU without torch's thread pool, whose parallel nonzero and index_put
    cost milliseconds per call when other processes hold the cores (measured with 2 threads on a
    loaded 2-core machine: 5.9 ms for a boolean selection of 65,536 scales, numpy 0.1 ms). Other
    devices and dtypes take torch's path; both select the same elements in the same order.
    """
    if all(t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES for t in (mask, like)):
        return np.broadcast_to(mask.detach().numpy(), like.shape) != 0
    return None


def _select(values: Tensor, mask: Tensor) -> Tensor:
    """(N,) `values` where `mask` (broadcast to values' shape) is nonzero, row-major, on values' device."""
    active = _numpy_active(mask, values)
    if active is None:
        return values[mask.expand_as(values).bool()]
    return torch.from_numpy(values.detach().numpy()[active])


def _place(selected: Tensor, mask: Tensor, like: Tensor) -> Tensor:
    """Zeros like `like` (same layout), with `selected` (N,) where `mask` is nonzero: the inverse of `_select`."""
    active = _numpy_active(mask, like)
    if active is None:
        placed = torch.zeros_like(like)
        placed[mask.expand_as(like).bool()] = selected
        return placed
    values = selected.numpy()
    placed_values = np.zeros(like.shape, dtype=values.dtype)
    placed_values[active] = values
    placed = torch.from_numpy(placed_values)
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
        table_ids = scale_index(_select(scales, mask), distribution).cpu().numpy()
        self.writer.push(_select(symbols, mask).to(torch.int64).cpu().numpy(), table_ids, conditional_tables(distribution))
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
        table_ids = scale_index(_select(scales, mask), distribution).cpu().numpy()
        symbols = torch.from_numpy(self.reader.pull(table_ids, conditional_tables(distribution))).to(scales)
        return _place(symbols, mask, scales)
