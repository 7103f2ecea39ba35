"""Memory-layout helpers (#30): warps and alignment hand back their input's layout, values unchanged."""

from __future__ import annotations

import pytest
import torch

from lvc_zoo.layers.alignment import OffsetDiversityAlignment, warp
from lvc_zoo.layers.layout import in_layout_of, is_channels_last
from lvc_zoo.runtime import ChannelsLastWeights

CL = torch.channels_last


def test_is_channels_last_only_for_unambiguous_nhwc_storage() -> None:
    x = torch.rand(2, 4, 5, 6)
    assert not is_channels_last(x)
    assert is_channels_last(x.contiguous(memory_format=CL))
    assert not is_channels_last(torch.rand(2, 1, 5, 6).contiguous(memory_format=CL))  # C = 1 is both layouts
    assert not is_channels_last(torch.rand(4, 5, 6))


def test_in_layout_of_copies_only_when_the_layouts_differ() -> None:
    x, nhwc = torch.rand(1, 4, 6, 8), torch.rand(1, 3, 6, 8).contiguous(memory_format=CL)
    moved = in_layout_of(x, nhwc)
    assert is_channels_last(moved) and torch.equal(moved, x)
    assert in_layout_of(moved, nhwc) is moved
    back = in_layout_of(moved, torch.rand(1, 3, 6, 8))
    assert back.is_contiguous() and torch.equal(back, x)
    assert in_layout_of(x, x) is x


def test_in_layout_of_gives_a_reshaped_channels_last_map_the_strides_cat_reads_as_channels_last() -> None:
    tokens = torch.rand(1, 6 * 4, 8)  # (B, N, C), as attention leaves its output
    reshaped = tokens.transpose(1, 2).reshape(1, 8, 6, 4)  # channels-last, batch stride 8
    nhwc = torch.rand(1, 8, 6, 4).contiguous(memory_format=CL)
    assert is_channels_last(reshaped) and not torch.cat((nhwc, reshaped), 1).is_contiguous(memory_format=CL)
    fixed = in_layout_of(reshaped, nhwc)
    assert fixed.data_ptr() == reshaped.data_ptr() and torch.equal(fixed, reshaped)  # the same memory, no copy
    assert torch.cat((nhwc, fixed), 1).is_contiguous(memory_format=CL)


@pytest.mark.parametrize("channels", [3, 16])
def test_warp_returns_its_inputs_layout_with_the_same_values(channels: int) -> None:
    gen = torch.Generator().manual_seed(0)
    x, flow = torch.rand(2, channels, 12, 16, generator=gen), 3 * torch.randn(2, 2, 12, 16, generator=gen)
    expected = warp(x, flow)
    assert expected.is_contiguous()
    got = warp(x.contiguous(memory_format=CL), flow.contiguous(memory_format=CL))
    assert is_channels_last(got) and torch.equal(got, expected)


def test_offset_diversity_alignment_returns_the_features_layout_with_the_same_values() -> None:
    torch.manual_seed(0)
    align = OffsetDiversityAlignment(channels=16, aux_channels=21, hidden=8, groups=4).eval()
    feature, aux, flow = torch.rand(1, 16, 8, 12), torch.rand(1, 21, 8, 12), torch.randn(1, 2, 8, 12)
    with ChannelsLastWeights().active([align]):  # its convolutions compute channels-last whatever their input
        expected = align(feature, aux, flow)
        got = align(*(t.contiguous(memory_format=CL) for t in (feature, aux, flow)))
    assert expected.is_contiguous() and is_channels_last(got) and torch.equal(got, expected)
