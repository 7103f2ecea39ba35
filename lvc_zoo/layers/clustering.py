"""Context clustering: deterministic k-means over feature tokens and attention inside each cluster.

A set of key tokens (a reference feature map, one token per position) is clustered by
cosine-similarity k-means; each query token is routed to the cluster whose centre it
resembles most and attends only to that cluster's best-matching keys, plus one learned
"null" key that lets a query take nothing (DCVC-LCG's long-term context gathering; the
method follows Superpixel Sampling Networks' soft k-means and the k-means Mask Transformer):

    keys (B, d, H, W) ─► grid_centres ─► soft_kmeans (T soft iterations, differentiable)
        ─► hard_assign (argmax cos) ─► select_cluster_keys (top-M members per cluster)
    queries ─► hard_assign ─► intra_cluster_attention (M + 1 keys per query) ─► (B, C, H, W)

Everything is deterministic (no random initialisation, no sampling), so an encoder and a
decoder that see the same tensors compute the same clusters. Memory is linear in the number
of tokens: the largest tensors are (B, N, K) similarities and one (heads, chunk, M + 1) score
block per step; no N x N tensor is built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .layout import in_layout_of

__all__ = [
    "grid_centres",
    "soft_kmeans",
    "hard_assign",
    "select_cluster_keys",
    "intra_cluster_attention",
    "ClusteredAttention",
]

_MASS_EPS = 1e-12
"""A cluster whose soft mass is below this keeps its previous centre (an empty cluster)."""


def grid_centres(keys: Tensor, grid: tuple[int, int]) -> Tensor:
    """Initial centres: the L2-normalised keys average-pooled to a `grid` of cells.

    Args:
        keys: (B, d, H, W) key map (any H, W >= 1; a grid finer than the map repeats cells).
        grid: (rows, cols); K = rows * cols centres in row-major order.
    Returns: (B, K, d) unit-norm centres (zero where a cell's keys average to zero).
    """
    pooled = F.adaptive_avg_pool2d(F.normalize(keys, dim=1), grid)
    return F.normalize(pooled.flatten(2).transpose(1, 2), dim=-1)


def soft_kmeans(tokens: Tensor, centres: Tensor, iterations: int, temperature: Tensor | float) -> Tensor:
    """Differentiable k-means on the unit sphere: `iterations` soft updates of `centres`.

    Each step: A = softmax_K(temperature * cos(token, centre)); a centre becomes the
    A-weighted mean of the tokens (a convex combination), then is L2-normalised. A centre
    whose soft mass vanishes keeps its previous value.

    Args:
        tokens: (B, N, d) tokens (normalised here).
        centres: (B, K, d) initial centres.
        iterations: number of soft updates T >= 0.
        temperature: scalar sharpening of the cosine similarities.
    Returns: (B, K, d) unit-norm centres.
    """
    tokens = F.normalize(tokens, dim=-1)
    for _ in range(iterations):
        weights = torch.softmax(temperature * (tokens @ centres.transpose(1, 2)), dim=-1)  # (B, N, K)
        mass = weights.sum(dim=1).unsqueeze(-1)  # (B, K, 1)
        means = (weights.transpose(1, 2) @ tokens) / mass.clamp_min(_MASS_EPS)
        centres = F.normalize(torch.where(mass > _MASS_EPS, means, centres), dim=-1)
    return centres


def hard_assign(tokens: Tensor, centres: Tensor) -> Tensor:
    """(B, N) index of the centre with the highest cosine similarity to each of `tokens` (B, N, d)."""
    return (F.normalize(tokens, dim=-1) @ centres.transpose(1, 2)).argmax(dim=-1)


def select_cluster_keys(keys: Tensor, centres: Tensor, assignment: Tensor, max_keys: int) -> tuple[Tensor, Tensor]:
    """The at most `max_keys` members of each cluster closest (cosine) to its centre.

    Args:
        keys: (B, N, d) key tokens.
        centres: (B, K, d) unit-norm centres.
        assignment: (B, N) cluster of each key (`hard_assign`).
        max_keys: M, the cap on keys per cluster.
    Returns:
        index: (B, K, min(M, N)) token indices, best first.
        valid: (B, K, min(M, N)) bool; False where a cluster has fewer members than slots.
    """
    similarity = centres @ F.normalize(keys, dim=-1).transpose(1, 2)  # (B, K, N)
    members = assignment.unsqueeze(1) == torch.arange(centres.shape[1], device=keys.device).view(1, -1, 1)
    score = similarity.masked_fill(~members, float("-inf"))
    best, index = score.topk(min(max_keys, keys.shape[1]), dim=-1)
    return index, best > float("-inf")


def intra_cluster_attention(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    query_cluster: Tensor,
    key_index: Tensor,
    key_valid: Tensor,
    null_key: Tensor,
    null_value: Tensor,
    chunk: int = 4096,
) -> Tensor:
    """Multi-head attention of each query over its cluster's selected keys and one null key.

    Query i of batch b attends to `keys[b, key_index[b, m]]` (valid slots only) with
    m = query_cluster[b, i], plus the null key; scale 1/sqrt(head width). A query whose cluster
    has no member attends to the null key alone. Queries are processed cluster by cluster in
    blocks of `chunk`, so memory is O(N + chunk * M) per step.

    Args:
        queries: (B, Nq, h, dq) per-head queries.
        keys: (B, Nk, h, dq) per-head keys.
        values: (B, Nk, h, dv) per-head values.
        query_cluster: (B, Nq) cluster of each query.
        key_index, key_valid: (B, K, M) from `select_cluster_keys`.
        null_key: (h, dq); null_value: (h, dv).
        chunk: queries per score block.
    Returns: (B, Nq, h, dv) attention outputs.
    """
    batch, _, heads, dq = queries.shape
    out = queries.new_zeros(*queries.shape[:3], values.shape[-1])
    scale = 1.0 / math.sqrt(dq)
    for b in range(batch):
        for m in range(key_index.shape[1]):
            rows = (query_cluster[b] == m).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            slots = key_index[b, m][key_valid[b, m]]
            k = torch.cat((null_key.unsqueeze(0), keys[b, slots]), dim=0).transpose(0, 1)  # (h, 1 + M, dq)
            v = torch.cat((null_value.unsqueeze(0), values[b, slots]), dim=0).transpose(0, 1)  # (h, 1 + M, dv)
            for start in range(0, rows.numel(), chunk):
                block = rows[start : start + chunk]
                q = queries[b, block].transpose(0, 1)  # (h, n, dq)
                attention = torch.softmax((q @ k.transpose(1, 2)) * scale, dim=-1)
                out[b, block] = (attention @ v).transpose(0, 1)
    return out


class ClusteredAttention(nn.Module):
    """Cluster a key map by k-means, then let each query attend inside its cluster.

    Args:
        key_channels: d, channels of the query and key maps (a multiple of `heads`).
        value_channels: channels of the value map and of the output (a multiple of `heads`).
        heads: attention heads.
        grid: (rows, cols) of the grid initialisation; K = rows * cols clusters.
        iterations: soft k-means iterations T.
        max_keys: M, keys kept per cluster.
        temperature: initial value of the learned k-means temperature tau.
        chunk: queries per score block (memory bound, not a result-changing setting).

    The output of query i is scaled by its soft membership softmax_K(tau * cos(q_i, c))[b_i]
    of its own cluster [choice]: a query far from every centre contributes less, and the
    gradient reaches tau and, through the soft iterations, the keys.
    """

    def __init__(
        self,
        key_channels: int,
        value_channels: int,
        heads: int = 4,
        grid: tuple[int, int] = (4, 4),
        iterations: int = 3,
        max_keys: int = 1024,
        temperature: float = 10.0,
        chunk: int = 4096,
    ) -> None:
        super().__init__()
        if key_channels % heads or value_channels % heads:
            raise ConfigError(
                f"ClusteredAttention needs key_channels ({key_channels}) and value_channels ({value_channels}) "
                f"divisible by heads ({heads}); change the widths or the head count."
            )
        if min(grid) < 1 or iterations < 0 or max_keys < 1 or chunk < 1:
            raise ConfigError(
                f"ClusteredAttention needs grid >= 1x1, iterations >= 0, max_keys >= 1 and chunk >= 1; "
                f"got grid={grid}, iterations={iterations}, max_keys={max_keys}, chunk={chunk}."
            )
        self.heads, self.grid, self.iterations, self.max_keys, self.chunk = heads, tuple(grid), iterations, max_keys, chunk
        self.temperature = nn.Parameter(torch.tensor([float(temperature)]))  # (1,): checkpoints hash no 0-dim tensors
        self.null_key = nn.Parameter(torch.zeros(heads, key_channels // heads))
        self.null_value = nn.Parameter(torch.zeros(heads, value_channels // heads))

    def cluster(self, keys: Tensor) -> Tensor:
        """(B, K, d) unit-norm centres of the key map (B, d, H, W): grid initialisation + soft k-means."""
        return soft_kmeans(keys.flatten(2).transpose(1, 2), grid_centres(keys, self.grid), self.iterations, self.temperature)

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor) -> Tensor:
        """Gather context for every query position.

        Args:
            queries: (B, d, Hq, Wq) query map.
            keys: (B, d, H, W) key map (clustered).
            values: (B, C, H, W) value map.
        Returns: (B, C, Hq, Wq) gathered context, stored like `queries`.
        """
        batch, _, hq, wq = queries.shape
        q_tokens = queries.flatten(2).transpose(1, 2)  # (B, Nq, d)
        k_tokens = keys.flatten(2).transpose(1, 2)
        v_tokens = values.flatten(2).transpose(1, 2)
        centres = self.cluster(keys)
        key_index, key_valid = select_cluster_keys(k_tokens, centres, hard_assign(k_tokens, centres), self.max_keys)
        query_similarity = F.normalize(q_tokens, dim=-1) @ centres.transpose(1, 2)  # (B, Nq, K)
        query_cluster = query_similarity.argmax(dim=-1)
        membership = torch.softmax(self.temperature * query_similarity, dim=-1).gather(-1, query_cluster.unsqueeze(-1))
        gathered = intra_cluster_attention(
            self._heads(q_tokens), self._heads(k_tokens), self._heads(v_tokens),
            query_cluster, key_index, key_valid, self.null_key, self.null_value, self.chunk,
        ).flatten(2)
        return in_layout_of((membership * gathered).transpose(1, 2).reshape(batch, -1, hq, wq), queries)

    def _heads(self, tokens: Tensor) -> Tensor:
        """(B, N, C) -> (B, N, heads, C / heads)."""
        return tokens.unflatten(-1, (self.heads, -1))
