"""The convolution stacks of `lvc_zoo.layers.convs`: shapes, and the checkpoint keys the models rely on."""

from __future__ import annotations

import torch

from lvc_zoo.layers import pointwise_depthwise, stride4_down


def test_stride4_down_quarters_the_resolution_with_the_official_key_layout() -> None:
    block = stride4_down(6, 5, 4)
    assert block(torch.randn(2, 6, 16, 12)).shape == (2, 4, 4, 3)
    assert block(torch.randn(1, 6, 15, 9)).shape == (1, 4, 4, 3)  # odd sides round up, twice
    assert list(block.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # "1" is the LeakyReLU
    assert block[1].negative_slope == 0.1


def test_pointwise_depthwise_keeps_the_resolution_and_mixes_channels_only_in_the_1x1() -> None:
    block = pointwise_depthwise(6, 4)
    assert block(torch.randn(2, 6, 7, 5)).shape == (2, 4, 7, 5)
    assert {key: tuple(value.shape) for key, value in block.state_dict().items()} == {
        "0.weight": (4, 6, 1, 1), "0.bias": (4,), "1.weight": (4, 1, 3, 3), "1.bias": (4,)
    }
