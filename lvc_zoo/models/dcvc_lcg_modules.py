"""DCVC-LCG's own modules: the long-term memory, its buffer, and the long-term context gathering.

Zoo design after the abstract of Qi et al., "Long-Term Temporal Context Gathering for Neural
Video Compression" (ECCV 2024); see shared/design/dcvc_lcg.md sections 2.2-2.3. At the 1/4
resolution reference feature level (S, 96 channels):

    S (short-term, from F_hat(t-1)) ──────────────────────────────────────┐
    L (long-term memory) ─► memory(L, S) ─► L' ─► gathering(S, L') ─► S' ─┴─► motion compensation
                                           └─► next buffer's lt_feature

* `LongTermMemory`: L starts as S of the first P frame after an I frame (the I frame's feature,
  `feature_adaptor_intra` + extractor, as the spec's initialisation), then follows a GRU-style
  gate whose update bias starts at -2 (z ~ 0.12: slow, long-lived). A DCVC-FM feature refresh
  does not reset it; only an I frame does. Mode "anchor" keeps L fixed, re-anchored at every
  rebuilt reference feature (I frame and refresh).
* `LongTermContextGathering`: 1x1 + depthwise 3x3 projections, k-means clustering of the memory
  and intra-cluster attention (`ClusteredAttention`), then a gated residual whose output 1x1
  conv starts at zero, so S' == S exactly at initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..layers import DCVCDPB, ClusteredAttention, DepthConvBlock, pointwise_depthwise, zero_initialised

__all__ = ["LCGDPB", "MemoryMode", "LongTermMemory", "LongTermContextGathering"]

MemoryMode = Literal["gated", "anchor"]


@dataclass(frozen=True)
class LCGDPB(DCVCDPB):
    """`DCVCDPB` plus DCVC-LCG's long-term memory.

    Attributes:
        lt_feature: (B, C4, H/4, W/4) long-term reference feature L (96 channels officially);
            None right after an I frame (the next P frame initialises it). `refreshed()` keeps it.
    """

    lt_feature: Tensor | None = None


class LongTermMemory(nn.Module):
    """The long-term reference feature's update rule (spec 2.2).

    gated: z = sigmoid(conv3x3([L, S])) with bias -2, r = sigmoid(conv3x3([L, S])),
    candidate = DepthConvBlock(conv1x1([r * L, S])), L' = (1 - z) * L + z * candidate.
    anchor: L' = S when S was rebuilt from the frame (I frame or refresh), else L.

    Args:
        channels: C of L and S.
        mode: "gated" (default) or "anchor"; only "gated" has parameters (the gates and the candidate).
    """

    def __init__(self, channels: int, mode: MemoryMode = "gated") -> None:
        super().__init__()
        if mode not in ("gated", "anchor"):
            raise ConfigError(f"Unknown long-term memory mode {mode!r}: use 'gated' or 'anchor'.")
        self.mode = mode
        if mode == "gated":
            self.update_gate = nn.Conv2d(2 * channels, channels, 3, padding=1)
            self.reset_gate = nn.Conv2d(2 * channels, channels, 3, padding=1)
            self.candidate = nn.Sequential(nn.Conv2d(2 * channels, channels, 1), DepthConvBlock(channels, channels))
            nn.init.constant_(self.update_gate.bias, -2.0)

    def forward(self, memory: Tensor | None, short: Tensor, rebuilt: bool) -> Tensor:
        """The memory for the current frame.

        Args:
            memory: (B, C, h, w) L from the buffer, or None after an I frame.
            short: (B, C, h, w) S, the current short-term reference feature.
            rebuilt: whether S was rebuilt from the decoded frame (I frame or refresh).
        Returns: (B, C, h, w) the updated L.
        """
        if memory is None or (self.mode == "anchor" and rebuilt):  # after an I frame; anchored: at every rebuild
            return short
        if self.mode == "anchor":
            return memory
        both = torch.cat((memory, short), dim=1)
        z = torch.sigmoid(self.update_gate(both))
        r = torch.sigmoid(self.reset_gate(both))
        candidate = self.candidate(torch.cat((r * memory, short), dim=1))
        return (1 - z) * memory + z * candidate


class LongTermContextGathering(nn.Module):
    """LCG (spec 2.3): search the memory for context and fuse it into the short-term feature.

    q = Wq S, k = Wk L (key_channels each, 1x1 + depthwise 3x3), v = Wv L (1x1);
    o = ClusteredAttention(q, k, v); S' = S + sigmoid(conv3x3([S, o])) * conv1x1(o),
    conv1x1 zero-initialised.

    Args:
        channels: C of S, L and the output.
        key_channels: d of the queries and keys.
        heads, grid, iterations, max_keys, temperature: see `ClusteredAttention`.
    """

    def __init__(
        self,
        channels: int,
        key_channels: int = 64,
        heads: int = 4,
        grid: tuple[int, int] = (4, 4),
        iterations: int = 3,
        max_keys: int = 1024,
        temperature: float = 10.0,
    ) -> None:
        super().__init__()
        self.query = pointwise_depthwise(channels, key_channels)
        self.key = pointwise_depthwise(channels, key_channels)
        self.value = nn.Conv2d(channels, channels, 1)
        self.attention = ClusteredAttention(key_channels, channels, heads, grid, iterations, max_keys, temperature)
        self.gate = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.out = zero_initialised(nn.Conv2d(channels, channels, 1))

    def forward(self, short: Tensor, memory: Tensor) -> Tensor:
        """S' (B, C, h, w) from S `short` and L `memory`, both (B, C, h, w)."""
        context = self.attention(self.query(short), self.key(memory), self.value(memory))
        gate = torch.sigmoid(self.gate(torch.cat((short, context), dim=1)))
        return short + gate * self.out(context)
