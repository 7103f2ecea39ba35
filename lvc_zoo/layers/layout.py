"""Memory layouts of feature maps: contiguous (NCHW) or channels-last (NHWC).

A network whose convolution weights are channels-last (`lvc_zoo.runtime.ChannelsLastWeights`)
returns channels-last feature maps, and a convolution handed a contiguous input copies it into
channels-last first. Ops that make new tensors without looking at their input's layout
(`grid_sample`, a `cat` of mixed layouts) would otherwise hand the next convolution such a
copy to make; these helpers keep a block's tensors in one layout. Converting changes where
values sit in memory, never the values.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["is_channels_last", "in_layout_of"]


def is_channels_last(x: Tensor) -> bool:
    """Whether the 4-D `x` is stored channels-last and not also contiguous (C = 1 or H = W = 1 is both)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def in_layout_of(x: Tensor, reference: Tensor) -> Tensor:
    """`x` (B, C, H, W) stored like `reference`: channels-last if `reference` is, else contiguous (a copy only when it differs).

    A channels-last result also has the canonical strides of a size-1 dimension, which address
    nothing: `torch.cat` and convolutions read a reshaped (1, C, H, W) whose batch stride is C as
    contiguous and would copy it.
    """
    if not is_channels_last(reference):
        return x.contiguous()
    x = x.contiguous(memory_format=torch.channels_last)
    _, channels, height, width = x.shape
    canonical = (height * width * channels, 1, width * channels, channels)
    return x if x.stride() == canonical else x.as_strided(x.shape, canonical)
