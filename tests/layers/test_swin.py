"""Tests of lvc_zoo.layers.swin: windows, relative positions, shifted-window masks, RSTB fusion."""

from __future__ import annotations

import json
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lvc_testing import require_reference
from lvc_zoo.layers.swin import (
    RSTB3D,
    SwinBlock3D,
    SwinFusion,
    WindowAttention3D,
    relative_position_index,
    shifted_window_mask,
    window_merge,
    window_partition,
)

# --------------------------------------------------------------------------- partition / merge


@pytest.mark.parametrize(("size", "window"), [((4, 16, 16), (4, 8, 8)), ((2, 6, 9), (1, 3, 3)), ((4, 4, 8), (2, 4, 2))])
def test_partition_merge_round_trip(size, window):
    x = torch.randn(2, *size, 5)
    windows = window_partition(x, window)
    n_windows = np.prod([s // w for s, w in zip(size, window)])
    assert windows.shape == (2 * n_windows, np.prod(window), 5)
    torch.testing.assert_close(window_merge(windows, window, size), x, rtol=0, atol=0)


def test_partition_orders_windows_depth_then_rows_then_columns():
    x = torch.randn(1, 4, 6, 4, 3)
    windows = window_partition(x, (2, 3, 2))  # windows per axis: 2, 2, 2
    for index, (i, j, k) in enumerate(itertools.product(range(2), range(2), range(2))):
        block = x[0, 2 * i : 2 * i + 2, 3 * j : 3 * j + 3, 2 * k : 2 * k + 2]
        torch.testing.assert_close(windows[index], block.reshape(-1, 3), rtol=0, atol=0)


# --------------------------------------------------------------------------- relative position index


def test_relative_position_index_formula_for_the_sevc_window():
    index = relative_position_index((4, 8, 8))
    assert index.shape == (256, 256) and index.dtype == torch.int64
    coords = np.array(list(itertools.product(range(4), range(8), range(8))))  # token n -> (z, y, x)
    dz, dy, dx = (coords[:, None, :] - coords[None, :, :]).transpose(2, 0, 1)
    expected = (dz + 3) * 225 + (dy + 7) * 15 + (dx + 7)
    np.testing.assert_array_equal(index.numpy(), expected)
    assert index.min() == 0 and index.max() == 7 * 15 * 15 - 1


def test_relative_position_index_equals_the_official_buffer():
    spec = json.loads((require_reference("sevc") / "spec_p.json").read_text())["tensors"]
    entries = [v for k, v in spec.items() if k.endswith("relative_position_index")]
    assert len(entries) == 16
    ours = relative_position_index((4, 8, 8)).flatten().tolist()
    for entry in entries:
        assert entry["values"] == ours


def test_relative_position_index_is_a_derived_buffer_not_a_state_dict_key():
    attn = WindowAttention3D(8, (2, 4, 4), num_heads=2)
    assert "relative_position_index" in dict(attn.named_buffers())
    assert not any("relative_position_index" in k for k in attn.state_dict())


# --------------------------------------------------------------------------- shifted-window mask


def _naive_mask(size, window, shift):
    """The usual Swin construction: label 27 regions of the padded grid by slices, compare labels per window."""
    img = torch.zeros(1, *size, 1)
    count = 0
    regions = [(slice(-w), slice(-w, -s), slice(-s, None)) for w, s in zip(window, shift)]
    for d, h, w in itertools.product(*regions):
        img[:, d, h, w, :] = count
        count += 1
    labels = window_partition(img, window).squeeze(-1)
    diff = labels[:, None, :] - labels[:, :, None]
    return diff.masked_fill(diff != 0, -100.0)


@pytest.mark.parametrize(
    ("size", "window", "shift"),
    [
        ((4, 16, 16), (4, 8, 8), (4, 4, 4)),  # SEVC: the temporal shift of a depth-4 window wraps fully
        ((4, 16, 24), (4, 8, 8), (4, 4, 4)),
        ((8, 8, 12), (4, 4, 4), (2, 2, 2)),
        ((2, 6, 6), (2, 3, 3), (1, 1, 2)),
    ],
)
def test_shift_mask_matches_naive_construction(size, window, shift):
    mask = shifted_window_mask(size, window, shift)
    torch.testing.assert_close(mask, _naive_mask(size, window, shift), rtol=0, atol=0)
    assert set(mask.unique().tolist()) <= {0.0, -100.0}
    assert torch.all(mask.diagonal(dim1=1, dim2=2) == 0)


def test_shift_mask_without_shift_is_zero():
    assert torch.all(shifted_window_mask((4, 8, 8), (2, 4, 4), (0, 0, 0)) == 0)


def _token_influence(block: SwinBlock3D, x: torch.Tensor, mask, target, source) -> float:
    """Change of block output at `target` when the input at `source` is perturbed."""
    y = x.clone()
    y[(0, *source)] += torch.linspace(-5.0, 5.0, x.shape[-1])  # not constant: LayerNorm would remove that
    with torch.no_grad():
        return (block(y, mask)[(0, *target)] - block(x, mask)[(0, *target)]).abs().max().item()


def test_shifted_block_attends_within_shifted_windows_and_regions_only():
    size, window, shift = (1, 16, 16), (1, 8, 8), (0, 4, 4)
    shifted = SwinBlock3D(8, 2, window, shift).eval()
    plain = SwinBlock3D(8, 2, window).eval()
    plain.load_state_dict(shifted.state_dict())
    x = torch.randn(1, *size, 8)
    mask = shifted_window_mask(size, window, shift)
    # (4, 4) and (11, 11) share a window only after the shift
    assert _token_influence(shifted, x, mask, (0, 4, 4), (0, 11, 11)) > 1e-4
    assert _token_influence(plain, x, None, (0, 4, 4), (0, 11, 11)) == 0
    # (15, 15) and (0, 0) share a shifted window, but (0, 0) wrapped round: masked out
    assert _token_influence(shifted, x, mask, (0, 15, 15), (0, 0, 0)) < 1e-6
    assert _token_influence(shifted, x, torch.zeros_like(mask), (0, 15, 15), (0, 0, 0)) > 1e-4
    assert _token_influence(shifted, x, mask, (0, 15, 15), (0, 12, 12)) > 1e-4


# --------------------------------------------------------------------------- attention


def test_window_attention_matches_per_head_reference():
    attn = WindowAttention3D(8, (1, 2, 2), num_heads=2).eval()
    x = torch.randn(3, 4, 8)  # 3 windows of 4 tokens
    mask = torch.zeros(3, 4, 4)
    mask[1, 0, 3] = -100.0
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    bias = attn.relative_position_bias_table[relative_position_index((1, 2, 2))]  # (N, N, heads)
    heads = []
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        logits = q[..., cols] @ k[..., cols].transpose(1, 2) / 2.0 + bias[..., h] + mask
        heads.append(logits.softmax(-1) @ v[..., cols])
    expected = attn.proj(torch.cat(heads, dim=-1))
    torch.testing.assert_close(attn(x, mask), expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- blocks and fusion


def test_block_pads_non_multiple_grids_and_crops_back():
    block = SwinBlock3D(8, 2, (2, 4, 4), (1, 2, 2))
    x = torch.randn(2, 3, 5, 7, 8)
    mask = shifted_window_mask((4, 8, 8), (2, 4, 4), (1, 2, 2))
    assert block(x, mask).shape == x.shape


def test_rstb_shape_and_residual():
    rstb = RSTB3D(8, depth=2, num_heads=2, window=(2, 4, 4), shift=(1, 2, 2))
    x = torch.randn(1, 2, 8, 8, 8)
    mask = shifted_window_mask((2, 8, 8), (2, 4, 4), (1, 2, 2))
    torch.nn.init.zeros_(rstb.conv.weight)
    torch.nn.init.zeros_(rstb.conv.bias)
    torch.testing.assert_close(rstb(x, mask), x)  # a zero conv leaves only the skip


def _tiny_fusion() -> SwinFusion:
    return SwinFusion(dim=8, depths=(2, 2), num_heads=2, window=(4, 4, 4), drop_path_rate=0.0)


@pytest.mark.parametrize(("h", "w"), [(8, 8), (6, 10), (3, 5)])
def test_fusion_output_shape(h, w):
    assert _tiny_fusion()(torch.randn(2, 4, 8, h, w)).shape == (2, 8, h, w)


def test_fusion_replicate_pads_to_the_window_and_crops():
    fusion = _tiny_fusion().eval()
    slots = torch.randn(1, 4, 8, 6, 7)
    padded = F.pad(slots.view(4, 8, 6, 7), (0, 1, 0, 2), mode="replicate").view(1, 4, 8, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(fusion(slots), fusion(padded)[..., :6, :7], rtol=0, atol=0)


def test_fusion_is_a_residual_update_of_slot_zero():
    fusion = _tiny_fusion()
    torch.nn.init.zeros_(fusion.conv_after_body.weight)
    torch.nn.init.zeros_(fusion.conv_after_body.bias)
    slots = torch.randn(1, 4, 8, 8, 8)
    torch.testing.assert_close(fusion(slots), slots[:, 0])


def test_fusion_uses_every_slot():
    fusion = _tiny_fusion().eval()
    slots = torch.randn(1, 4, 8, 8, 8)
    with torch.no_grad():
        base = fusion(slots)
        for t in range(1, 4):
            changed = slots.clone()
            changed[:, t] += torch.randn_like(changed[:, t])
            assert (fusion(changed) - base).abs().max() > 1e-4, f"slot {t} is ignored"


def test_fusion_official_parameter_names():
    keys = set(SwinFusion(dim=8, depths=(2,), num_heads=2, window=(2, 4, 4)).state_dict())
    expected_block = {
        "norm1.weight", "norm1.bias", "attn.relative_position_bias_table", "attn.qkv.weight", "attn.qkv.bias",
        "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
        "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
    }  # fmt: skip
    expected = {f"layers.0.residual_group.blocks.{b}.{k}" for b in range(2) for k in expected_block}
    expected |= {"layers.0.conv.weight", "layers.0.conv.bias", "patch_embed.norm.weight", "patch_embed.norm.bias"}
    expected |= {"norm.weight", "norm.bias", "conv_after_body.weight", "conv_after_body.bias"}
    assert keys == expected


def test_fusion_gradients_reach_every_parameter(assert_gradients_reach_every_parameter):
    fusion = _tiny_fusion()
    slots = torch.randn(1, 4, 8, 6, 6, requires_grad=True)
    out = fusion(slots)
    assert_gradients_reach_every_parameter(fusion, (out**2).mean())
    assert slots.grad is not None and slots.grad[:, 1:].abs().sum() > 0


def test_drop_path_drops_whole_samples_in_training_only():
    block = SwinBlock3D(8, 2, (1, 2, 2), drop_path=0.5)
    x = torch.randn(64, 1, 2, 2, 8)
    with torch.no_grad():
        block.eval()
        torch.testing.assert_close(block(x, None), block(x, None), rtol=0, atol=0)
        block.train()
        branch_kept = [(block(x[i : i + 1], None) - x[i : i + 1]).abs().max() > 0 for i in range(64)]
    assert 0 < sum(branch_kept) < 64  # some samples keep their residual branches, some lose both
