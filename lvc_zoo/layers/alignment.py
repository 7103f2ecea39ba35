"""Motion compensation: backward warping, offset-diversity alignment, flow-guided deformable
convolution, multi-scale contexts.

Offset diversity is the group deformable alignment of DCVC-DC (Li, Li, Lu, CVPR 2023,
Sec. 3.2): every channel group is warped by several flow-plus-offset fields, each weighted by
a mask, and a grouped 1x1 convolution fuses the warped copies. Like the official code it is
built from `grid_sample` warps, not from a deformable convolution, so official weights give
the same numbers.

Flow-guided deformable convolution (`FlowGuidedDeformConv`) is the first-order form of
BasicVSR++'s flow-guided deformable alignment (Chan et al., CVPR 2022), as LSTVC's progressive
guided motion compensation uses it: a small network predicts bounded residual offsets around
the decoded flow and a modulation mask, and `torchvision.ops.deform_conv2d` samples the
features there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import deform_conv2d

from ..errors import ConfigError
from .blocks import ResBlock, subpel_conv3x3
from .layout import in_layout_of

__all__ = [
    "warp", "upsample2x", "downsample2x", "downsample_flow", "multiscale_flow", "OffsetDiversityAlignment",
    "FlowGuidedDeformConv", "MultiScaleContextFusion",
]


def _base_grid(flow: Tensor) -> Tensor:
    """(B, 2, H, W) sampling grid of the identity warp in grid_sample's [-1, 1] units."""
    b, _, h, w = flow.shape
    xs = torch.linspace(-1.0, 1.0, w, device=flow.device, dtype=flow.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
    ys = torch.linspace(-1.0, 1.0, h, device=flow.device, dtype=flow.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
    return torch.cat((xs, ys), dim=1)


def warp(x: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp `x` by `flow` (bilinear, border padding, align_corners=True).

    Args:
        x: (B, C, H, W) frame or features.
        flow: (B, 2, H, W) displacement in pixels, channels (dx, dy).
    Returns: (B, C, H, W) samples of `x` at p + flow(p), stored like `x` (`grid_sample` makes
        them contiguous; a channels-last `x` gets channels-last samples, as a convolution would).
    """
    h, w = x.shape[-2:]
    scale_x, scale_y = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    normalised = torch.cat((flow[:, 0:1] / scale_x, flow[:, 1:2] / scale_y), dim=1)
    grid = (_base_grid(flow) + normalised).permute(0, 2, 3, 1)
    return in_layout_of(F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True), x)


def upsample2x(x: Tensor) -> Tensor:
    """Bilinear 2x upsampling (align_corners=False): (B, C, H, W) -> (B, C, 2H, 2W)."""
    return F.interpolate(x, (x.shape[-2] * 2, x.shape[-1] * 2), mode="bilinear", align_corners=False)


def downsample2x(x: Tensor) -> Tensor:
    """Bilinear 2x downsampling (align_corners=False): (B, C, H, W) -> (B, C, H//2, W//2)."""
    return F.interpolate(x, (x.shape[-2] // 2, x.shape[-1] // 2), mode="bilinear", align_corners=False)


def downsample_flow(flow: Tensor, factor: int) -> Tensor:
    """A (B, 2, H, W) flow in pixels at 1/`factor` resolution, in pixels of that grid.

    Bilinear resampling (align_corners=False) to (H // factor, W // factor), vectors divided by `factor`.
    """
    h, w = flow.shape[-2:]
    return F.interpolate(flow, (h // factor, w // factor), mode="bilinear", align_corners=False) / factor


def multiscale_flow(flow: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A flow at 1, 1/2 and 1/4 resolution, its vectors scaled with the grid (DCVC-TCM / DC's context pyramid).

    (B, 2, H, W) -> (B, 2, H, W), (B, 2, H/2, W/2), (B, 2, H/4, W/4).
    """
    half = downsample2x(flow) / 2
    return flow, half, downsample2x(half) / 2


class OffsetDiversityAlignment(nn.Module):
    """Group deformable alignment with `offsets` flow-guided offsets per channel group.

    Shapes: feature (B, C, H, W), aux (B, aux_ch, H, W), flow (B, 2, H, W) -> (B, C, H, W)
    stored like `feature`; H and W even (the offset branch runs at half resolution and is
    upsampled back).

    The offset branch works at half resolution and predicts, per group and offset, a residual
    bounded by `max_residual` pixels (tanh) that is added to the decoded flow, and a sigmoid
    mask. Warped slice j (of groups * offsets) reads feature group j mod groups with offset
    channels (2j, 2j+1) and mask channel j; the grouped 1x1 `fusion` conv then maps slices
    2g, 2g+1 to output group g (the official layout, needed for weight compatibility).

    Args:
        channels: feature channels C (official 48).
        aux_channels: channels of the auxiliary input (official 48 + 3 + 2: the warped
            feature, the warped frame and the flow).
        hidden: width of the offset branch (official 64).
        groups: channel groups G (official 16).
        offsets: offsets per group K (official 2).
        max_residual: bound of the predicted offset residual in pixels (official 40).
    """

    def __init__(
        self,
        channels: int = 48,
        aux_channels: int = 53,
        hidden: int = 64,
        groups: int = 16,
        offsets: int = 2,
        max_residual: float = 40.0,
    ) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
        self.groups = groups
        self.offsets = offsets
        self.max_residual = max_residual
        self.conv_offset = nn.Sequential(
            nn.Conv2d(aux_channels, hidden, 3, 2, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(hidden, hidden, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(hidden, 3 * groups * offsets, 3, 1, 1),
        )
        self.fusion = nn.Conv2d(channels * offsets, channels, 1, 1, groups=groups)

    def forward(self, feature: Tensor, aux: Tensor, flow: Tensor) -> Tensor:
        b, c, h, w = feature.shape
        slices = self.groups * self.offsets
        o1, o2, mask = upsample2x(self.conv_offset(aux)).chunk(3, dim=1)
        offset = self.max_residual * torch.tanh(torch.cat((o1, o2), dim=1)) + flow.repeat(1, slices, 1, 1)
        tiled = feature.repeat(1, self.offsets, 1, 1).view(b * slices, c // self.groups, h, w)
        warped = warp(tiled, offset.view(b * slices, 2, h, w)) * torch.sigmoid(mask).view(b * slices, 1, h, w)
        return in_layout_of(self.fusion(warped.view(b, c * self.offsets, h, w)), feature)


class FlowGuidedDeformConv(nn.Module):
    """Modulated deformable convolution whose offsets are bounded residuals around a flow.

    Shapes: feature (B, C, H, W), condition (B, cond_channels, H, W), flow (B, 2, H, W) in
    pixels (dx, dy) -> (B, C, H, W).

    `offset_net` (three 3x3 convs with LeakyReLU(0.1) between them) reads the condition and
    predicts, for each of the `groups` deformable groups and each of the K x K kernel taps, a
    residual offset bounded by `max_residual` pixels (tanh) and a sigmoid mask. The offset
    of every tap is that residual plus the flow, so with zero residuals, a mask of one and a
    kernel that is the identity at its centre tap the layer is bilinear backward warping by
    the flow (with zero padding outside the frame, where `warp` repeats the border).

    Args:
        channels: feature channels C (in and out).
        cond_channels: channels of the condition the offsets are predicted from.
        hidden: width of the offset network.
        groups: deformable groups G (C must be a multiple of G).
        kernel: kernel size K (odd).
        max_residual: bound of the residual offsets in pixels.
    Raises:
        ConfigError: C not a multiple of G, an even or non-positive K, or a negative bound.
    """

    def __init__(
        self, channels: int, cond_channels: int, hidden: int, groups: int = 8, kernel: int = 3, max_residual: float = 10.0
    ) -> None:
        super().__init__()
        if groups < 1 or channels % groups:
            raise ConfigError(f"FlowGuidedDeformConv: channels ({channels}) must be a multiple of groups ({groups}).")
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"FlowGuidedDeformConv: the kernel size must be odd and positive, got {kernel}.")
        if max_residual < 0:
            raise ConfigError(f"FlowGuidedDeformConv: max_residual must be >= 0 pixels, got {max_residual}.")
        self.groups = groups
        self.kernel = kernel
        self.max_residual = max_residual
        self.offset_net = nn.Sequential(
            nn.Conv2d(cond_channels, hidden, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(hidden, 3 * groups * kernel * kernel, 3, padding=1),
        )
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def offsets(self, condition: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
        """Offsets (B, 2 G K^2, H, W) in torchvision's (group, tap, (dy, dx)) order and mask (B, G K^2, H, W).

        Each offset pair lies within `max_residual` of the flow at its position.
        """
        taps = self.groups * self.kernel * self.kernel
        residual_y_x, mask = self.offset_net(condition).split((2 * taps, taps), dim=1)
        offset = self.max_residual * torch.tanh(residual_y_x) + flow.flip(1).repeat(1, taps, 1, 1)
        return offset, torch.sigmoid(mask)

    def forward(self, feature: Tensor, condition: Tensor, flow: Tensor) -> Tensor:
        offset, mask = self.offsets(condition, flow)
        pad = self.kernel // 2
        return deform_conv2d(feature, offset, self.weight, self.bias, padding=(pad, pad), mask=mask)


class MultiScaleContextFusion(nn.Module):
    """Refines temporal contexts at 1, 1/2 and 1/4 resolution top-down (DCVC-DC / TCM).

    (B, c1, H, W), (B, c2, H/2, W/2), (B, c4, H/4, W/4) -> the same three shapes; each output
    is its input plus a residual computed from the coarser scales.
    """

    def __init__(self, c1: int = 48, c2: int = 64, c4: int = 96) -> None:
        super().__init__()
        self.conv3_up = subpel_conv3x3(c4, c2, 2)
        self.res_block3_up = ResBlock(c2)
        self.conv3_out = nn.Conv2d(c4, c4, 3, padding=1)
        self.res_block3_out = ResBlock(c4)
        self.conv2_up = subpel_conv3x3(c2 * 2, c1, 2)
        self.res_block2_up = ResBlock(c1)
        self.conv2_out = nn.Conv2d(c2 * 2, c2, 3, padding=1)
        self.res_block2_out = ResBlock(c2)
        self.conv1_out = nn.Conv2d(c1 * 2, c1, 3, padding=1)
        self.res_block1_out = ResBlock(c1)

    def forward(self, context1: Tensor, context2: Tensor, context3: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        context3_up = self.res_block3_up(self.conv3_up(context3))
        context3_out = self.res_block3_out(self.conv3_out(context3))
        merged2 = torch.cat((context3_up, context2), dim=1)
        context2_up = self.res_block2_up(self.conv2_up(merged2))
        context2_out = self.res_block2_out(self.conv2_out(merged2))
        context1_out = self.res_block1_out(self.conv1_out(torch.cat((context2_up, context1), dim=1)))
        return context1 + context1_out, context2 + context2_out, context3 + context3_out
