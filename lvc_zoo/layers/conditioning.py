"""Quality conditioning: a learned embedding of the rate index and a FiLM that applies it.

A variable-rate codec already transmits its q_index (the stream header's quality), so a
network may read it for free. DCVC-LCG uses it as an extra prior of the entropy model:

    q_index ─► QualityEmbedding (table, linear between rows) ─► e ─► FiLM ─► params * (1 + gamma) + beta

The FiLM's last layer starts at zero, so gamma = beta = 0 and a model that adds it starts
exactly where it was (bits and reconstructions unchanged).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .blocks import zero_initialised

__all__ = ["QualityEmbedding", "FiLM"]


class QualityEmbedding(nn.Module):
    """A table of `levels` learned rows, read at a (possibly fractional) q_index.

    Args:
        levels: number of q_index points (64 for DCVC-FM and DCVC-LCG: q_index 0..63).
        channels: width of each row.
    """

    def __init__(self, levels: int = 64, channels: int = 32) -> None:
        super().__init__()
        if levels < 1 or channels < 1:
            raise ConfigError(f"QualityEmbedding needs levels >= 1 and channels >= 1, got {levels} and {channels}.")
        self.table = nn.Parameter(torch.randn(levels, channels))

    def forward(self, q_index: float | Tensor) -> Tensor:
        """(B, channels) rows at `q_index` (a number, or (B,) numbers) in [0, levels - 1].

        A fractional index interpolates linearly between the two neighbouring rows.
        """
        levels = self.table.shape[0]
        q = torch.as_tensor(q_index, dtype=self.table.dtype, device=self.table.device).reshape(-1)
        if not bool(((q >= 0) & (q <= levels - 1)).all()):
            raise ConfigError(f"q_index must lie in [0, {levels - 1}], got {q_index!r}; pass a quality of the model's range.")
        low = q.floor().long().clamp(max=levels - 1)
        high = (low + 1).clamp(max=levels - 1)
        fraction = (q - low).unsqueeze(-1)
        return self.table[low] * (1 - fraction) + self.table[high] * fraction


class FiLM(nn.Module):
    """Feature-wise affine modulation x * (1 + gamma) + beta, with (gamma, beta) = MLP(embedding).

    Args:
        embedding_channels: width of the conditioning vector.
        hidden_channels: width of the MLP's hidden layer.
        channels: C, channels of the modulated tensor.

    The MLP's output layer is zero-initialised, so the module starts as the identity (exactly).
    """

    def __init__(self, embedding_channels: int, hidden_channels: int, channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(embedding_channels, hidden_channels),
            nn.LeakyReLU(0.1),
            zero_initialised(nn.Linear(hidden_channels, 2 * channels)),
        )

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        """Modulate `x` (B, C, H, W) by `embedding` (B or 1, embedding_channels); returns (B, C, H, W)."""
        gamma, beta = self.mlp(embedding)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta
