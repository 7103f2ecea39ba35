"""The contextual codec of the DCVC family: reference features, contextual encoder / decoder, reconstruction.

    dpb ─► adapt_reference_feature (feature_adaptor_intra | feature_adaptor[FEATURE_ADAPTOR_CYCLE])
        ─► FeatureExtractor ─► ref features at 1, 1/2, 1/4 ─► (warp, align, fuse: lvc_zoo.layers.alignment)
        ─► contexts ctx1, ctx2, ctx3
    x, ctx1..3 ─► ContextualEncoder ─► y ... y_hat, ctx2, ctx3 ─► ContextualDecoder ─► residual feature
    residual feature, ctx1 ─► ReconGeneration ─► feature (next frame), x_hat

Used by DCVC-DC's P-frame codec and SEVC's enhancement layer; widths are plain arguments
(official c1..c16 = 48, 64, 96, 96, 128). Attribute names follow the official DCVC-DC modules.

The reference-feature adaptors stay attributes of the P-frame network (official keys
`feature_adaptor_I` / `feature_adaptor.{i}`); `feature_adaptors` builds them and
`adapt_reference_feature` applies them, so every model picks an adaptor the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .blocks import FFNKind, ResBlock, UNet, subpel_conv3x3
from .dpb import DPB
from .layout import in_layout_of

__all__ = [
    "FEATURE_ADAPTOR_CYCLE",
    "feature_adaptors",
    "adapt_reference_feature",
    "FeatureExtractor",
    "ContextualEncoder",
    "ContextualDecoder",
    "ReconGeneration",
    "bottleneck_res_block",
]


def bottleneck_res_block(channels: int) -> ResBlock:
    """DCVC-DC's residual block inside the contextual encoder / decoder (bottleneck, slope 0.1, final activation)."""
    return ResBlock(channels, slope=0.1, end_with_relu=True, bottleneck=True)

FEATURE_ADAPTOR_CYCLE: tuple[int, ...] = (0, 1, 0, 2)
"""Adaptor applied to the reference feature of the P frame at display index k: CYCLE[k % 4] (DCVC-DC's
hierarchical quality structure; DCVC-FM uses a cycle of 8)."""


def feature_adaptors(channels: int, adaptors: int = 3) -> tuple[nn.Conv2d, nn.ModuleList]:
    """The reference-feature adaptors: a 3x3 conv 3 -> C for a frame, and `adaptors` 1x1 convs C -> C.

    Returns: (feature_adaptor_intra, feature_adaptor), to be set as attributes of that name.
    """
    intra = nn.Conv2d(3, channels, 3, stride=1, padding=1)
    return intra, nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(adaptors))


def adapt_reference_feature(
    dpb: DPB, intra: nn.Module, adaptors: Sequence[nn.Module], cycle: Sequence[int] = FEATURE_ADAPTOR_CYCLE
) -> Tensor:
    """The (B, C, H, W) reference feature of the frame after `dpb.index`.

    Without a propagated feature (after an I frame or a refresh) it is `intra(dpb.frame)`;
    otherwise `adaptors[cycle[k % len(cycle)]](dpb.feature)` for the coded frame's index k.

    Args:
        dpb: the buffer; `frame` (B, 3, H, W), `feature` (B, C, H, W) or None.
        intra: 3 -> C module for the frame (official `feature_adaptor_I`).
        adaptors: C -> C modules (official `feature_adaptor`).
        cycle: adaptor index by position in the cycle.
    """
    if dpb.feature is None:
        return intra(dpb.frame)
    return adaptors[cycle[(dpb.index + 1) % len(cycle)]](dpb.feature)


class FeatureExtractor(nn.Module):
    """Reference features at 1, 1/2 and 1/4 resolution from the adapted 1x feature.

    (B, c1, H, W) -> (B, c1, H, W), (B, c2, H/2, W/2), (B, c4, H/4, W/4).
    """

    def __init__(self, c1: int, c2: int, c4: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c1, c1, 3, stride=1, padding=1)
        self.res_block1 = ResBlock(c1)
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.res_block2 = ResBlock(c2)
        self.conv3 = nn.Conv2d(c2, c4, 3, stride=2, padding=1)
        self.res_block3 = ResBlock(c4)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        layer1 = self.res_block1(self.conv1(feature))
        layer2 = self.res_block2(self.conv2(layer1))
        layer3 = self.res_block3(self.conv3(layer2))
        return layer1, layer2, layer3


class ContextualEncoder(nn.Module):
    """x (B, 3, H, W) and the three contexts -> y (B, c16, H/16, W/16); q multiplies the 1/2-res features.

    Args:
        c1, c2, c4, c8, c16: widths at 1, 1/2, 1/4, 1/8 and 1/16 resolution; the contexts have
            c1, c2 and c4 channels, q has 2 c2.
        residual: builds the shape-preserving block after each context merge (channels -> module):
            `bottleneck_res_block` (DCVC-DC) or a "dual" `DepthConvBlock` (DCVC-FM).
    """

    def __init__(
        self, c1: int, c2: int, c4: int, c8: int, c16: int, residual: Callable[[int], nn.Module] = bottleneck_res_block
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c1 + 3, c2, 3, stride=2, padding=1)
        self.res1 = residual(c2 * 2)
        self.conv2 = nn.Conv2d(c2 * 2, c4, 3, stride=2, padding=1)
        self.res2 = residual(c4 * 2)
        self.conv3 = nn.Conv2d(c4 * 2, c8, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(c8, c16, 3, stride=2, padding=1)

    def forward(self, x: Tensor, context1: Tensor, context2: Tensor, context3: Tensor, q: Tensor) -> Tensor:
        feature = self.conv1(torch.cat((in_layout_of(x, context1), context1), dim=1))
        feature = self.res1(torch.cat((feature, context2), dim=1)) * q
        feature = self.res2(torch.cat((self.conv2(feature), context3), dim=1))
        return self.conv4(self.conv3(feature))


class ContextualDecoder(nn.Module):
    """y_hat (B, c16, H/16, W/16) and two contexts -> residual feature (B, out, H, W); q multiplies the 1/2-res features.

    Args:
        c2, c4, c8, c16: widths at 1/2, 1/4, 1/8 and 1/16 resolution; the contexts have c2 and
            c4 channels, q has c2.
        out: channels of the residual feature (official 32).
        residual: as `ContextualEncoder`'s.
    """

    def __init__(
        self, c2: int, c4: int, c8: int, c16: int, out: int, residual: Callable[[int], nn.Module] = bottleneck_res_block
    ) -> None:
        super().__init__()
        self.up1 = subpel_conv3x3(c16, c8, 2)
        self.up2 = subpel_conv3x3(c8, c4, 2)
        self.res1 = residual(c4 * 2)
        self.up3 = subpel_conv3x3(c4 * 2, c2, 2)
        self.res2 = residual(c2 * 2)
        self.up4 = subpel_conv3x3(c2 * 2, out, 2)

    def forward(self, y_hat: Tensor, context2: Tensor, context3: Tensor, q: Tensor) -> Tensor:
        feature = self.res1(torch.cat((self.up2(self.up1(y_hat)), context3), dim=1))
        feature = self.up3(feature) * q
        return self.up4(self.res2(torch.cat((feature, context2), dim=1)))


class ReconGeneration(nn.Module):
    """Residual feature (B, R, H, W) + context1 (B, c1, H, W) -> (feature (B, c1, H, W) for the next frame, recon (B, 3, H, W)).

    Args:
        c1: width at full resolution.
        residual_channels: R, the contextual decoder's output width.
        unet_channels: widths of the two U-Nets at 1, 1/2 and 1/4 resolution.
        ffn: the U-Nets' feed-forward units ("conv": DCVC-DC, "dual": DCVC-FM).
    """

    def __init__(
        self, c1: int, residual_channels: int, unet_channels: tuple[int, int, int], ffn: FFNKind = "conv"
    ) -> None:
        super().__init__()
        self.first_conv = nn.Conv2d(residual_channels + c1, c1, 3, stride=1, padding=1)
        self.unet_1 = UNet(c1, c1, unet_channels, ffn=ffn)
        self.unet_2 = UNet(c1, c1, unet_channels, ffn=ffn)
        self.recon_conv = nn.Conv2d(c1, 3, 3, stride=1, padding=1)

    def forward(self, residual_feature: Tensor, context1: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.unet_2(self.unet_1(self.first_conv(torch.cat((residual_feature, context1), dim=1))))
        return feature, self.recon_conv(feature)
