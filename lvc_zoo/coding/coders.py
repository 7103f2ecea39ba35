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
        active = mask.expand_as(symbols).bool()
        table_ids = scale_index(scales[active], distribution).cpu().numpy()
        self.writer.push(symbols[active].to(torch.int64).cpu().numpy(), table_ids, conditional_tables(distribution))
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
        active = mask.expand_as(scales).bool()
        table_ids = scale_index(scales[active], distribution).cpu().numpy()
        symbols = torch.zeros_like(scales)
        symbols[active] = torch.from_numpy(self.reader.pull(table_ids, conditional_tables(distribution))).to(scales)
        return symbols
