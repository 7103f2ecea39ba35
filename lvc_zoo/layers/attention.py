"""Multi-head linear cross attention (MHLCA): non-local context whose cost is linear in the tokens.

ECVC (Jiang et al., CVPR 2025, Sec. 3.2, eqs. 3-7) mines non-local correlations between the
current frame and a reference with the "efficient attention" factorisation (Shen et al.,
WACV 2021): per head, queries are normalised by a softmax over their channels and keys by a
softmax over the tokens, and the keys are multiplied with the values first,

    G = K~ V^T (d_h x d_h),   O = G^T Q~ (d_h x N),

which costs O(N d_h^2) instead of the O(N^2 d_h) of softmax(Q^T K). The product equals
V S^T with the implicit similarity S = Q~^T K~ (N x M), whose rows are non-negative and sum
to one (the paper's Theorem 1), so each output token is a convex combination of the values.
S is never built here.

    query (B, Cq, h, w) ─► 1x1 + depthwise 3x3 ─► Q ─┐
    context (B, Cr, h', w') ─► 1x1 + dw 3x3 ─► K, V ─┴► heads ─► O ─► 3x3 ─► + depthwise MLP ─► (B, Cout, h, w)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..coding.distributions import at_least_float32
from ..errors import ConfigError
from .blocks import conv1x1, conv3x3
from .convs import pointwise_depthwise
from .layout import in_layout_of

__all__ = ["MultiHeadLinearCrossAttention", "normalised_queries_keys", "linear_cross_attention"]


def _heads(x: Tensor, heads: int) -> Tensor:
    """(B, D, h, w) -> (B, heads, D / heads, h * w)."""
    return x.reshape(x.shape[0], heads, x.shape[1] // heads, -1)


def normalised_queries_keys(query: Tensor, key: Tensor, heads: int) -> tuple[Tensor, Tensor]:
    """Q~ and K~ of each head: softmax of the queries over channels, of the keys over tokens.

    Both are computed in at least float32 (a softmax over ~10^5 tokens loses mass in float16).

    Args:
        query: (B, D, h, w) embedded queries, N = h * w tokens.
        key: (B, D, h', w') embedded keys, M = h' * w' tokens.
        heads: number of heads; D must be a multiple of it.
    Returns: Q~ (B, heads, D / heads, N), each token's channels summing to 1, and
        K~ (B, heads, D / heads, M), each channel summing to 1 over the tokens.
    """
    return _heads(at_least_float32(query), heads).softmax(dim=2), _heads(at_least_float32(key), heads).softmax(dim=3)


def linear_cross_attention(query: Tensor, key: Tensor, value: Tensor, heads: int) -> Tensor:
    """Multi-head linear attention of `query` tokens over `key` / `value` tokens, keys x values first.

    Args:
        query: (B, D, h, w) embedded queries.
        key, value: (B, D, h', w') embedded keys and values (the same token grid).
        heads: number of heads; D must be a multiple of it.
    Returns: (B, D, h, w), per head G^T Q~ with G = K~ V^T, in the dtype and memory layout of `query`.

    Everything between the embeddings and the output runs in at least float32, under
    `torch.autocast` too (autocast would run the products in half precision, where K~'s
    entries, about 1/M, lose their digits or go subnormal).
    """
    with torch.autocast(query.device.type, enabled=False):
        queries, keys = normalised_queries_keys(query, key, heads)
        values = _heads(value.to(keys.dtype), heads)
        context = keys @ values.transpose(-1, -2)  # G: (B, heads, d_h, d_h)
        out = context.transpose(-1, -2) @ queries  # (B, heads, d_h, N)
    return in_layout_of(out.reshape(query.shape).to(query.dtype), query)


class MultiHeadLinearCrossAttention(nn.Module):
    """MHLCA: `query` attends to `context` with linear cost; (B, Cq, h, w), (B, Cr, h', w') -> (B, Cout, h, w).

    Embeddings: 1x1 conv + depthwise 3x3 conv for queries, keys and values (to `dim`); heads
    of width dim / heads (`linear_cross_attention`); re-projection 3x3 conv (dim -> Cout) and a
    residual depthwise MLP (1x1 to 2 Cout, GELU, depthwise 3x3, GELU, 1x1 back).

    Args:
        query_channels: Cq.
        context_channels: Cr.
        heads: number of heads.
        dim: embedding width D; None = Cq.
        out_channels: Cout; None = Cq.
    Raises:
        ConfigError: `dim` is not a positive multiple of `heads`.
    """

    def __init__(
        self, query_channels: int, context_channels: int, heads: int, dim: int | None = None, out_channels: int | None = None
    ) -> None:
        super().__init__()
        dim = dim or query_channels
        out_channels = out_channels or query_channels
        if heads < 1 or dim % heads:
            raise ConfigError(f"MHLCA: the embedding width {dim} must be a multiple of the head count {heads}.")
        self.heads = heads
        self.query_embedding = pointwise_depthwise(query_channels, dim)
        self.key_embedding = pointwise_depthwise(context_channels, dim)
        self.value_embedding = pointwise_depthwise(context_channels, dim)
        self.projection = conv3x3(dim, out_channels)
        hidden = 2 * out_channels
        self.mlp = nn.Sequential(
            conv1x1(out_channels, hidden),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.GELU(),
            conv1x1(hidden, out_channels),
        )

    def forward(self, query: Tensor, context: Tensor) -> Tensor:
        attended = linear_cross_attention(
            self.query_embedding(query), self.key_embedding(context), self.value_embedding(context), self.heads
        )
        out = self.projection(attended)
        return out + self.mlp(out)
