"""Tests of lvc_zoo.layers.attention: MHLCA's normalisation (Theorem 1), its linear path, memory and batching."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from lvc_zoo.errors import ConfigError
from lvc_zoo.layers.attention import MultiHeadLinearCrossAttention, linear_cross_attention, normalised_queries_keys


def _implicit_similarity(query: torch.Tensor, key: torch.Tensor, heads: int) -> torch.Tensor:
    """S = Q~^T K~ of every head, materialised: (B, heads, N, M)."""
    queries, keys = normalised_queries_keys(query, key, heads)
    return queries.transpose(-1, -2) @ keys


@pytest.mark.parametrize(("query_size", "key_size"), [((8, 8), (8, 8)), ((5, 7), (9, 6))])
def test_rows_of_the_implicit_attention_matrix_are_non_negative_and_sum_to_one(query_size, key_size) -> None:
    """The paper's Theorem 1, with query scales far from a plain softmax's comfort zone."""
    query = 6 * torch.randn(2, 32, *query_size)
    key = 6 * torch.randn(2, 32, *key_size)
    similarity = _implicit_similarity(query, key, heads=4)
    assert similarity.shape == (2, 4, query_size[0] * query_size[1], key_size[0] * key_size[1])
    assert (similarity >= 0).all()
    torch.testing.assert_close(similarity.sum(-1), torch.ones(similarity.shape[:-1]), atol=1e-5, rtol=0)


def test_the_linear_path_equals_the_explicit_matrix_product_in_float64() -> None:
    query, key, value = (torch.randn(2, 48, 6, 10, dtype=torch.float64) for _ in range(3))
    heads = 3
    explicit = _implicit_similarity(query, key, heads) @ value.reshape(2, heads, 16, 60).transpose(-1, -2)
    linear = linear_cross_attention(query, key, value, heads)
    assert linear.dtype == torch.float64
    torch.testing.assert_close(linear, explicit.transpose(-1, -2).reshape(2, 48, 6, 10), rtol=1e-10, atol=1e-12)


def test_constant_values_come_back_unchanged_at_every_query() -> None:
    """Each output token is a convex combination of the values."""
    query, key = torch.randn(1, 32, 7, 5), torch.randn(1, 32, 4, 4)
    value = torch.arange(32.0).view(1, 32, 1, 1).expand(1, 32, 4, 4)
    out = linear_cross_attention(query, key, value, heads=4)
    torch.testing.assert_close(out, torch.arange(32.0).view(1, 32, 1, 1).expand(1, 32, 7, 5))


def test_half_precision_keeps_the_key_softmax_in_float32() -> None:
    query, key, value = (torch.randn(1, 16, 64, 64) for _ in range(3))
    full = linear_cross_attention(query, key, value, heads=2)
    half = linear_cross_attention(query.bfloat16(), key.bfloat16(), value.bfloat16(), heads=2)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), full, atol=3e-2, rtol=3e-2)


def test_autocast_leaves_the_attention_products_in_float32() -> None:
    """Under autocast the products K~ V^T and G^T Q~ still run in float32: float32 inputs give the float32 result.

    (Autocast would run them in bfloat16, about three significant digits, or in float16, where K~'s
    entries, about 1 / M = 1 / 4096 here, lose most of theirs.)
    """
    query, key, value = (torch.randn(1, 16, 64, 64) for _ in range(3))
    full = linear_cross_attention(query, key, value, heads=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = linear_cross_attention(query, key, value, heads=2)
    assert autocast.dtype == torch.float32
    torch.testing.assert_close(autocast, full, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("size", [(9, 11), (8, 6)])
def test_module_shapes_and_the_samples_of_a_batch_are_independent(size) -> None:
    attention = MultiHeadLinearCrossAttention(32, 24, heads=4, out_channels=16).eval()
    query, context = torch.randn(3, 32, *size), torch.randn(3, 24, *size)
    out = attention(query, context)
    assert out.shape == (3, 16, *size)
    changed_query, changed_context = query.clone(), context.clone()
    changed_query[1], changed_context[1] = torch.randn(32, *size), 5 * torch.randn(24, *size)
    again = attention(changed_query, changed_context)
    torch.testing.assert_close(again[[0, 2]], out[[0, 2]], rtol=0, atol=0)
    assert not torch.allclose(again[1], out[1])


def test_every_parameter_gets_a_gradient(assert_gradients_reach_every_parameter) -> None:
    attention = MultiHeadLinearCrossAttention(16, 16, heads=2)
    assert_gradients_reach_every_parameter(attention, attention(torch.randn(1, 16, 6, 6), torch.randn(1, 16, 6, 6)).square().mean())


def test_a_width_that_heads_do_not_divide_is_refused() -> None:
    with pytest.raises(ConfigError, match="multiple of the head count 6"):
        MultiHeadLinearCrossAttention(64, 64, heads=6)


_PEAK_RSS = """
import json, re, sys, torch
from lvc_zoo.layers.attention import MultiHeadLinearCrossAttention

def status(key):  # kB
    return int(re.search(key + r":\\s+(\\d+) kB", open("/proc/self/status").read())[1])

torch.set_num_threads(1)
side = int(sys.argv[1])
attention = MultiHeadLinearCrossAttention(64, 64, heads=4).eval()
with torch.inference_mode():
    attention(torch.rand(1, 64, 16, 16), torch.rand(1, 64, 16, 16))  # warm up kernels and allocator
    open("/proc/self/clear_refs", "w").write("5")  # restart the peak (VmHWM) from the current RSS
    before = status("VmRSS")
    attention(torch.rand(1, 64, side, side), torch.rand(1, 64, side, side))
print(json.dumps(status("VmHWM") - before))
"""


def _peak_rss_increases_kib(*sides: int) -> list[int]:
    """Peak-RSS increase (KiB) of fresh processes, run side by side, running MHLCA on side x side tokens.

    Linux: the peak (VmHWM) restarts from the current RSS before the measured call (/proc/self/clear_refs).
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "1048576"}  # large buffers return to the OS when freed
    runs = [subprocess.Popen([sys.executable, "-c", _PEAK_RSS, str(side)], stdout=subprocess.PIPE, text=True, env=env) for side in sides]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    return [int(json.loads(out.strip().splitlines()[-1])) for out in outputs]


@pytest.mark.slow
def test_memory_grows_linearly_with_the_tokens() -> None:
    """4x the tokens (2^16 -> 2^18) costs about 4x the memory; an N x N matrix would cost 16x (64 GiB at 2^18)."""
    small, large = _peak_rss_increases_kib(256, 512)
    assert small > 0
    assert 2.5 < large / small < 8, (small, large)
