"""Convolutional building blocks shared by the DCVC family and the models built on it.

Module and attribute names follow the official DCVC-DC / DCVC-FM layers so that official
checkpoints convert by key renames alone (e.g. a `DepthConvBlock` holds `block.0` = the
depthwise unit and `block.1` = the feed-forward unit).

Activations that follow a convolution run in place on its fresh output (as the official code's
`inplace=True`): same numbers, same gradients (LeakyReLU's backward reads its output), one
feature map less to allocate per activation.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "zero_initialised",
    "conv3x3",
    "conv1x1",
    "subpel_conv3x3",
    "subpel_conv1x1",
    "ResidualBlockWithStride",
    "ResidualBlockUpsample",
    "ResidualBlockPatchDown",
    "ResBlock",
    "DepthConv",
    "GatedDepthConv",
    "ConvFFN",
    "GatedConvFFN",
    "DualSlopeConvFFN",
    "FFNKind",
    "DepthConvBlock",
    "UNet",
    "pad_to_multiple",
]


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Replicate-pad (B, C, H, W) on the right and bottom to a multiple of `multiple`.

    Frames before coding (multiple 16 for the DCVC family) and latents before a hyper-encoder
    (multiple 4) are padded this way, as in the official code.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    return nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with 'same' padding (stride 2 halves H and W, rounding up)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride)


def zero_initialised(module: nn.Module) -> nn.Module:
    """`module` with every parameter set to zero: a branch added to a trained network that leaves its outputs unchanged until trained."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.zero_()
    return module


def subpel_conv3x3(in_ch: int, out_ch: int, r: int = 2) -> nn.Sequential:
    """Sub-pixel upsampling: 3x3 conv to out_ch * r^2 channels, then PixelShuffle(r)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch * r**2, kernel_size=3, padding=1), nn.PixelShuffle(r))


def subpel_conv1x1(in_ch: int, out_ch: int, r: int = 2) -> nn.Sequential:
    """Sub-pixel upsampling: 1x1 conv to out_ch * r^2 channels, then PixelShuffle(r)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch * r**2, kernel_size=1), nn.PixelShuffle(r))


class ResidualBlockWithStride(nn.Module):
    """Two 3x3 convs (the first strided) with LeakyReLUs, plus a 1x1 strided shortcut.

    (B, in_ch, H, W) -> (B, out_ch, H/stride, W/stride). With stride 1 the shortcut is the
    identity, so in_ch must equal out_ch (as in the official block).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2) -> None:
        super().__init__()
        if stride == 1 and in_ch != out_ch:
            raise ValueError(f"stride 1 needs in_ch == out_ch (identity shortcut), got {in_ch} and {out_ch}")
        self.conv1 = conv3x3(in_ch, out_ch, stride=stride)
        self.conv2 = conv3x3(out_ch, out_ch)
        self.downsample = conv1x1(in_ch, out_ch, stride=stride) if stride != 1 else None

    def forward(self, x: Tensor) -> Tensor:
        out = nn.functional.leaky_relu(self.conv1(x), 0.01, inplace=True)
        out = nn.functional.leaky_relu(self.conv2(out), 0.1, inplace=True)
        identity = self.downsample(x) if self.downsample is not None else x
        return out + identity


class ResidualBlockUpsample(nn.Module):
    """Sub-pixel 2x upsampling residual block: (B, in_ch, H, W) -> (B, out_ch, 2H, 2W)."""

    def __init__(self, in_ch: int, out_ch: int, upsample: int = 2) -> None:
        super().__init__()
        self.subpel_conv = subpel_conv1x1(in_ch, out_ch, upsample)
        self.conv = conv3x3(out_ch, out_ch)
        self.upsample = subpel_conv1x1(in_ch, out_ch, upsample)

    def forward(self, x: Tensor) -> Tensor:
        out = nn.functional.leaky_relu(self.subpel_conv(x), 0.01, inplace=True)
        out = nn.functional.leaky_relu(self.conv(out), 0.1, inplace=True)
        return out + self.upsample(x)


class ResidualBlockPatchDown(nn.Module):
    """2x2 stride-2 patch convolution, then a residual 3x3 conv + 1x1 conv branch (official "ResidualBlockWithStride2").

    (B, in_ch, H, W) -> (B, out_ch, H/2, W/2); the DCVC-FM intra codec's downsampling block.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_ch, out_ch, 2, stride=2)
        self.conv = nn.Sequential(
            conv3x3(out_ch, out_ch), nn.LeakyReLU(0.01, inplace=True), conv1x1(out_ch, out_ch), nn.LeakyReLU(0.01, inplace=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.down(x)
        return x + self.conv(x)


class ResBlock(nn.Module):
    """Pre-activation residual block of the DCVC video networks (shape-preserving).

    x + conv2(act(conv1(act(x)))), with an optional final activation and an optional
    bottleneck halving the inner width.
    """

    def __init__(self, channels: int, slope: float = 0.01, end_with_relu: bool = False, bottleneck: bool = False) -> None:
        super().__init__()
        inner = channels // 2 if bottleneck else channels
        self.slope = slope
        self.end_with_relu = end_with_relu
        self.conv1 = nn.Conv2d(channels, inner, 3, padding=1)
        self.conv2 = nn.Conv2d(inner, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(nn.functional.leaky_relu(x, self.slope))
        out = self.conv2(nn.functional.leaky_relu(out, self.slope, inplace=True))
        if self.end_with_relu:
            out = nn.functional.leaky_relu(out, self.slope, inplace=True)
        return x + out


class DepthConv(nn.Module):
    """1x1 conv + LeakyReLU, depthwise kxk conv, 1x1 conv, plus a (projected) shortcut.

    Stride 2 halves the resolution; the shortcut is then a 2x2 stride-2 conv, so H and W must
    be even (the codecs pad frames to a multiple of 16).
    """

    def __init__(self, in_ch: int, out_ch: int, depth_kernel: int = 3, stride: int = 1, slope: float = 0.01) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"DepthConv supports stride 1 or 2, got {stride}")
        self.conv1 = nn.Sequential(nn.Conv2d(in_ch, in_ch, 1, stride=stride), nn.LeakyReLU(slope, inplace=True))
        self.depth_conv = nn.Conv2d(in_ch, in_ch, depth_kernel, padding=depth_kernel // 2, groups=in_ch)
        self.conv2 = nn.Conv2d(in_ch, out_ch, 1)
        if stride == 2:
            self.adaptor: nn.Module | None = nn.Conv2d(in_ch, out_ch, 2, stride=2)
        elif in_ch != out_ch:
            self.adaptor = nn.Conv2d(in_ch, out_ch, 1)
        else:
            self.adaptor = None

    def forward(self, x: Tensor) -> Tensor:
        identity = self.adaptor(x) if self.adaptor is not None else x
        return self.conv2(self.depth_conv(self.conv1(x))) + identity


class GatedDepthConv(nn.Module):
    """Gated depthwise unit: shortcut + out_conv(depthwise branch * 1x1 branch) (official "DepthConv2").

    The depthwise branch is 1x1 conv in_ch -> out_ch, LeakyReLU, 3x3 depthwise conv; the gate is
    a 1x1 conv in_ch -> out_ch. (B, in_ch, H, W) -> (B, out_ch, H, W).
    """

    def __init__(self, in_ch: int, out_ch: int, slope: float = 0.01) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1), nn.LeakyReLU(slope, inplace=True), nn.Conv2d(out_ch, out_ch, 3, padding=1, groups=out_ch)
        )
        self.conv2 = nn.Conv2d(in_ch, out_ch, 1)
        self.out_conv = nn.Conv2d(out_ch, out_ch, 1)
        self.adaptor = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: Tensor) -> Tensor:
        identity = self.adaptor(x) if self.adaptor is not None else x
        return identity + self.out_conv(self.conv1(x) * self.conv2(x))


class ConvFFN(nn.Module):
    """Residual 1x1 feed-forward unit: x + act(conv(act(conv(x)))), inner width 2-4x."""

    def __init__(self, channels: int, slope: float = 0.1) -> None:
        super().__init__()
        inner = max(min(channels * 4, 1024), channels * 2)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, inner, 1),
            nn.LeakyReLU(slope, inplace=True),
            nn.Conv2d(inner, channels, 1),
            nn.LeakyReLU(slope, inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x)


class GatedConvFFN(nn.Module):
    """Residual gated feed-forward unit: x + conv_out(a * act(b)), (a, b) = conv(x).chunk(2)."""

    def __init__(self, channels: int, slope: float = 0.1) -> None:
        super().__init__()
        inner = channels * 2
        self.slope = slope
        self.conv = nn.Conv2d(channels, inner * 2, 1)
        self.conv_out = nn.Conv2d(inner, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv(x).chunk(2, 1)
        return x + self.conv_out(a * nn.functional.leaky_relu(b, self.slope))


class DualSlopeConvFFN(nn.Module):
    """Residual two-branch feed-forward unit: x + conv_out(LeakyReLU_0.1(a) + LeakyReLU_0.01(b)), (a, b) = conv(x).chunk(2).

    The official "ConvFFN3" of DCVC-FM; inner width 2 C.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = channels * 2
        self.conv = nn.Conv2d(channels, inner * 2, 1)
        self.conv_out = nn.Conv2d(inner, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv(x).chunk(2, 1)
        return x + self.conv_out(nn.functional.leaky_relu(a, 0.1) + nn.functional.leaky_relu(b, 0.01))


FFNKind = Literal["conv", "gated", "dual"]
"""Feed-forward unit of a `DepthConvBlock`: `ConvFFN`, `GatedConvFFN` or `DualSlopeConvFFN`."""

_FFNS: dict[str, type[nn.Module]] = {"conv": ConvFFN, "gated": GatedConvFFN, "dual": DualSlopeConvFFN}


class DepthConvBlock(nn.Module):
    """A depthwise unit followed by a feed-forward unit (`block.0`, `block.1`).

    The official variants: "DepthConvBlock" = defaults; "DepthConvBlock2" = `gated=True`
    (DCVC-DC / DCVC-FM intra); "DepthConvBlock3" = `gated=True, gated_depth=True` (DCVC-FM
    intra transforms); "DepthConvBlock4" = `ffn="dual"` (DCVC-FM video).

    Args:
        gated: use `GatedConvFFN` instead of `ConvFFN` (shorthand for ffn="gated").
        stride: 2 halves the resolution (plain `DepthConv` only).
        ffn: the feed-forward unit (`FFNKind`); None = "gated" if `gated` else "conv".
        gated_depth: use `GatedDepthConv` instead of `DepthConv` as the depthwise unit.
    """

    def __init__(
        self, in_ch: int, out_ch: int, gated: bool = False, stride: int = 1, ffn: FFNKind | None = None, gated_depth: bool = False
    ) -> None:
        super().__init__()
        ffn = ffn or ("gated" if gated else "conv")
        if ffn not in _FFNS:
            raise ValueError(f"ffn must be one of {list(_FFNS)}, got {ffn!r}")
        if gated_depth and stride != 1:
            raise ValueError(f"GatedDepthConv has no stride, got {stride}")
        depth = GatedDepthConv(in_ch, out_ch) if gated_depth else DepthConv(in_ch, out_ch, stride=stride)
        self.block = nn.Sequential(depth, _FFNS[ffn](out_ch))

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class UNet(nn.Module):
    """Two-level U-Net of `DepthConvBlock`s with max-pool (or strided conv) down and sub-pixel up paths.

    (B, in_ch, H, W) -> (B, out_ch, H, W); H and W must be even twice over (multiples of 4).

    Args:
        channels: widths at 1, 1/2 and 1/4 resolution (official: 32, 64, 128).
        gated: use gated feed-forward units (the intra codec's "UNet2").
        ffn: the blocks' feed-forward unit (see `DepthConvBlock`); None = by `gated`.
        strided_down: downsample with learned 2x2 stride-2 convs (`down1`, `down2`; DCVC-FM's
            intra "UNet") instead of max pooling.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        channels: tuple[int, int, int] = (32, 64, 128),
        gated: bool = False,
        ffn: FFNKind | None = None,
        strided_down: bool = False,
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels

        def block(i: int, o: int) -> DepthConvBlock:
            return DepthConvBlock(i, o, gated, ffn=ffn)

        def down(c: int) -> nn.Module:
            return nn.Conv2d(c, c, 2, stride=2) if strided_down else nn.MaxPool2d(kernel_size=2, stride=2)

        self.down1 = down(c1)
        self.down2 = down(c2)
        self.conv1 = block(in_ch, c1)
        self.conv2 = block(c1, c2)
        self.conv3 = block(c2, c3)
        self.context_refine = nn.Sequential(*(block(c3, c3) for _ in range(4)))
        self.up3 = subpel_conv1x1(c3, c2, 2)
        self.up_conv3 = block(c2 * 2, c2)
        self.up2 = subpel_conv1x1(c2, c1, 2)
        self.up_conv2 = block(c1 * 2, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(self.down1(x1))
        x3 = self.context_refine(self.conv3(self.down2(x2)))
        d3 = self.up_conv3(torch.cat((x2, self.up3(x3)), dim=1))
        return self.up_conv2(torch.cat((x1, self.up2(d3)), dim=1))
