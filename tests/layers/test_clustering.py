"""Tests of lvc_zoo.layers.clustering: deterministic k-means and intra-cluster attention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc_zoo.errors import ConfigError, LvcZooError
from lvc_zoo.layers.clustering import (
    ClusteredAttention,
    grid_centres,
    hard_assign,
    intra_cluster_attention,
    select_cluster_keys,
    soft_kmeans,
)

REPO = Path(__file__).resolve().parents[2]


def _blobs(side: int = 16, noise: float = 0.05, moved: float = 0.4) -> tuple[Tensor, Tensor]:
    """A (1, 16, side, side) key map of 16 well-separated blobs on a 4x4 spatial grid, and the (side*side,) labels.

    Blob m sits in grid cell m, except a fraction `moved` of the tokens, which carry another blob's direction
    (so the grid initialisation is off and the k-means iterations must fix it).
    """
    directions = torch.eye(16)  # blob m points along axis m
    cell = side // 4
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    labels = ((rows // cell) * 4 + cols // cell).flatten()
    swap = torch.rand(labels.shape) < moved
    labels = torch.where(swap, torch.randint(0, 16, labels.shape), labels)
    tokens = directions[labels] + noise * torch.randn(labels.numel(), 16)
    return tokens.T.reshape(1, 16, side, side), labels


def _purity(assignment: Tensor, labels: Tensor) -> float:
    """Fraction of tokens whose cluster's majority label is their own."""
    counts = torch.zeros(16, 16, dtype=torch.long)
    counts.index_put_((assignment, labels), torch.ones_like(labels), accumulate=True)
    return counts.max(dim=1).values.sum().item() / labels.numel()


def test_grid_centres_are_unit_pooled_cells_in_row_major_order() -> None:
    keys = torch.zeros(1, 2, 4, 4)
    keys[0, 0, :2, :2] = 1.0  # top-left cell points along channel 0
    keys[0, 1, :2, 2:] = 3.0  # top-right cell along channel 1
    centres = grid_centres(keys, (2, 2))
    assert centres.shape == (1, 4, 2)
    assert torch.equal(centres[0, 0], torch.tensor([1.0, 0.0])) and torch.equal(centres[0, 1], torch.tensor([0.0, 1.0]))
    assert torch.equal(centres[0, 2:], torch.zeros(2, 2))  # zero cells stay zero, no NaN


def test_clustering_is_bitwise_deterministic() -> None:
    layer = ClusteredAttention(8, 12, heads=2, max_keys=16).eval()
    nn.init.normal_(layer.null_key)
    q, k, v = torch.randn(2, 8, 12, 12), torch.randn(2, 8, 12, 12), torch.randn(2, 12, 12, 12)
    first_centres, second_centres = layer.cluster(k), layer.cluster(k.clone())
    assert torch.equal(first_centres, second_centres)
    tokens = k.flatten(2).transpose(1, 2)
    assert torch.equal(hard_assign(tokens, first_centres), hard_assign(tokens.clone(), second_centres))
    assert torch.equal(layer(q, k, v), layer(q.clone(), k.clone(), v.clone()))


def test_cosine_assignment_ignores_positive_token_scale() -> None:
    tokens, centres = torch.randn(1, 200, 8), F.normalize(torch.randn(1, 16, 8), dim=-1)
    scaled = tokens * torch.rand(1, 200, 1).add(0.1) * 10
    assert torch.equal(hard_assign(tokens, centres), hard_assign(scaled, centres))


def test_kmeans_is_permutation_equivariant_given_fixed_initial_centres() -> None:
    tokens, start = torch.randn(1, 300, 8), F.normalize(torch.randn(1, 16, 8), dim=-1)
    perm = torch.randperm(300)
    centres = soft_kmeans(tokens, start, 3, 10.0)
    permuted_centres = soft_kmeans(tokens[:, perm], start, 3, 10.0)
    torch.testing.assert_close(permuted_centres, centres, rtol=0, atol=1e-6)
    assert torch.equal(hard_assign(tokens[:, perm], centres), hard_assign(tokens, centres)[:, perm])


def test_intra_cluster_attention_is_permutation_equivariant_in_the_queries() -> None:
    queries, keys, values = torch.randn(1, 100, 2, 4), torch.randn(1, 60, 2, 4), torch.randn(1, 60, 2, 3)
    centres = F.normalize(torch.randn(1, 4, 8), dim=-1)
    index, valid = select_cluster_keys(keys.flatten(2), centres, hard_assign(keys.flatten(2), centres), 8)
    cluster = hard_assign(queries.flatten(2), centres)
    null_key, null_value = torch.randn(2, 4), torch.randn(2, 3)
    out = intra_cluster_attention(queries, keys, values, cluster, index, valid, null_key, null_value)
    perm = torch.randperm(100)
    permuted = intra_cluster_attention(queries[:, perm], keys, values, cluster[:, perm], index, valid, null_key, null_value)
    torch.testing.assert_close(permuted, out[:, perm], rtol=0, atol=1e-6)


def test_grid_initialised_kmeans_recovers_well_separated_blobs() -> None:
    keys, labels = _blobs()
    layer = ClusteredAttention(16, 16, heads=1)
    centres = layer.cluster(keys)[0]
    recovered = hard_assign(keys.flatten(2).transpose(1, 2), centres.unsqueeze(0))[0]
    assert _purity(recovered, labels) > 0.99
    # the grid cells mix in the moved tokens; three soft iterations pull each centre onto its blob (axis m)
    start = grid_centres(keys, (4, 4))[0]
    assert (centres.diagonal() > start.diagonal()).all() and centres.diagonal().min() > 0.99


def test_selection_keeps_at_most_max_keys_members_of_each_cluster_best_first() -> None:
    keys, centres = torch.randn(1, 100, 6), F.normalize(torch.randn(1, 4, 6), dim=-1)
    assignment = hard_assign(keys, centres)
    index, valid = select_cluster_keys(keys, centres, assignment, max_keys=10)
    assert index.shape == valid.shape == (1, 4, 10)
    cos = F.normalize(keys, dim=-1) @ centres.transpose(1, 2)
    for m in range(4):
        members = (assignment[0] == m).nonzero().squeeze(1)
        chosen = index[0, m][valid[0, m]]
        assert valid[0, m].sum() == min(10, members.numel())
        assert set(chosen.tolist()) <= set(members.tolist())
        best = cos[0, members, m].sort(descending=True).values[: chosen.numel()]
        assert torch.equal(cos[0, chosen, m], best)


def test_changing_one_clusters_keys_leaves_other_clusters_outputs_unchanged() -> None:
    queries, keys, values = torch.randn(1, 80, 2, 4), torch.randn(1, 80, 2, 4), torch.randn(1, 80, 2, 3)
    centres = F.normalize(torch.randn(1, 4, 8), dim=-1)
    key_cluster = hard_assign(keys.flatten(2), centres)
    index, valid = select_cluster_keys(keys.flatten(2), centres, key_cluster, 16)
    query_cluster = hard_assign(queries.flatten(2), centres)
    null_key, null_value = torch.randn(2, 4), torch.randn(2, 3)
    out = intra_cluster_attention(queries, keys, values, query_cluster, index, valid, null_key, null_value)
    changed = key_cluster[0] == 0
    new_keys, new_values = keys.clone(), values.clone()
    new_keys[0, changed] += torch.randn_like(new_keys[0, changed])
    new_values[0, changed] += 5.0
    new_out = intra_cluster_attention(queries, new_keys, new_values, query_cluster, index, valid, null_key, null_value)
    others = query_cluster[0] != 0
    assert others.any() and (~others).any()
    assert torch.equal(new_out[0, others], out[0, others])
    assert not torch.equal(new_out[0, ~others], out[0, ~others])


def test_a_query_of_an_empty_cluster_takes_the_null_value() -> None:
    queries, keys, values = torch.randn(1, 5, 1, 2), torch.randn(1, 3, 1, 2), torch.randn(1, 3, 1, 2)
    index = torch.zeros(1, 2, 3, dtype=torch.long)
    valid = torch.zeros(1, 2, 3, dtype=torch.bool)
    valid[0, 0] = True  # cluster 0 holds all keys, cluster 1 none
    cluster = torch.tensor([[0, 1, 1, 0, 1]])
    null_value = torch.tensor([[7.0, -7.0]])
    out = intra_cluster_attention(queries, keys, values, cluster, index, valid, torch.zeros(1, 2), null_value)
    assert torch.equal(out[0, cluster[0] == 1], null_value.expand(3, 1, 2))


@pytest.mark.parametrize(
    "keys",
    [torch.ones(1, 8, 6, 6), torch.zeros(1, 8, 6, 6), torch.randn(1, 8, 2, 2)],
    ids=["all-equal", "all-zero", "fewer-tokens-than-clusters"],
)
def test_degenerate_inputs_give_no_nan(keys: Tensor) -> None:
    layer = ClusteredAttention(8, 8, heads=2, max_keys=32)
    layer.temperature.data.fill_(1e4)  # a very sharp softmax: empty clusters keep their centre
    queries = torch.randn(1, 8, 6, 6)
    out = layer(queries, keys, torch.randn(1, 8, *keys.shape[2:]))
    assert out.shape == (1, 8, 6, 6) and torch.isfinite(out).all()
    assert torch.isfinite(layer.cluster(keys)).all()


def test_gradients_reach_every_parameter(assert_gradients_reach_every_parameter: Callable[[nn.Module, Tensor], None]) -> None:
    layer = ClusteredAttention(8, 8, heads=2, max_keys=16)
    assert_gradients_reach_every_parameter(layer, layer(torch.randn(1, 8, 8, 8), torch.randn(1, 8, 8, 8), torch.randn(1, 8, 8, 8)).square().sum())


@pytest.mark.parametrize(
    "kwargs", [dict(key_channels=6, value_channels=8, heads=4), dict(key_channels=8, value_channels=8, grid=(0, 4))]
)
def test_bad_configuration_raises_a_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError) as info:
        ClusteredAttention(**kwargs)
    assert isinstance(info.value, LvcZooError)


_RSS_SCRIPT = """
import json, sys
import torch
torch.set_num_threads(1)
from lvc_zoo.layers.clustering import ClusteredAttention

def status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

tokens = int(sys.argv[1])
layer = ClusteredAttention(64, 96, max_keys=64, chunk=1 << 20)
with torch.inference_mode():
    layer(torch.randn(1, 64, 8, 8), torch.randn(1, 64, 8, 8), torch.randn(1, 96, 8, 8))  # warm-up
    shape = (128, tokens // 128)
    q, k, v = torch.randn(1, 64, *shape), torch.randn(1, 64, *shape), torch.randn(1, 96, *shape)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current resident size
    before = status_kib("VmRSS")
    layer(q, k, v)
    print(json.dumps(status_kib("VmHWM") - before))
"""


def _peak_rss_increase_kib(tokens: int) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join((str(REPO), os.environ.get("PYTHONPATH", "")))}
    result = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(tokens)], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak resident size from /proc (Linux)")
def test_memory_grows_linearly_in_the_number_of_tokens() -> None:
    small, large = _peak_rss_increase_kib(2**14), _peak_rss_increase_kib(2**16)
    # 4x the tokens: a linear layer needs about 4x the memory; one N x N tensor would need 16x
    # (and 16 GiB at 2^16 tokens)
    assert small > 0 and 2.5 < large / small < 6, (small, large)
