"""The motion branch of DCVC-DC style P-frame codecs: flow -> motion latent -> decoded flow.

    flow ─► MvEncoder(× q_enc, + ref mv_feature) ─► mv_y ... mv_y_hat ─► MvDecoder(× q_dec) ─► mv_hat
                                                                             └─► mv_feature (next frame)

The motion latent is at 1/16 of the frame; its entropy model (hyperprior, prior fusion,
quadtree prior) lives in `lvc_zoo.layers.entropy`. Attribute names follow the official
DCVC-DC `MvEnc` / `MvDec`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .blocks import DepthConvBlock, ResidualBlockUpsample, ResidualBlockWithStride, subpel_conv1x1

__all__ = ["MvEncoder", "MvDecoder"]


class MvEncoder(nn.Module):
    """Motion encoder: flow (B, 2, H, W) -> mv_y (B, C, H/16, W/16), conditioned on the previous mv feature.

    C = `channels`, the motion latent's width (official 64), is also the width of every stage.
    `block` builds the depthwise blocks (in, out) -> module: `DepthConvBlock` (DCVC-DC) or its
    "dual" FFN form (DCVC-FM).
    """

    def __init__(self, channels: int, block: Callable[[int, int], nn.Module] = DepthConvBlock) -> None:
        super().__init__()
        c = channels
        self.enc_1 = nn.Sequential(ResidualBlockWithStride(2, c), block(c, c))
        self.enc_2 = ResidualBlockWithStride(c, c)
        self.adaptor_0 = block(c, c)
        self.adaptor_1 = block(c * 2, c)
        self.enc_3 = nn.Sequential(ResidualBlockWithStride(c, c), block(c, c), nn.Conv2d(c, c, 3, stride=2, padding=1))

    def forward(self, flow: Tensor, ref_mv_feature: Tensor | None, q: Tensor) -> Tensor:
        """Encode `flow`; `ref_mv_feature` (B, C, H/4, W/4) or None after an I frame; q (1, C, 1, 1) scales the 1/2-res features."""
        out = self.enc_2(self.enc_1(flow) * q)
        out = self.adaptor_0(out) if ref_mv_feature is None else self.adaptor_1(torch.cat((out, ref_mv_feature), dim=1))
        return self.enc_3(out)


class MvDecoder(nn.Module):
    """Motion decoder: mv_y_hat (B, C, H/16, W/16) -> (flow (B, 2, H, W), mv feature (B, C, H/4, W/4) for the next frame).

    The mirror of `MvEncoder`, C = `channels` wide up to the last sub-pixel convolution; `block` as there.
    """

    def __init__(self, channels: int, block: Callable[[int, int], nn.Module] = DepthConvBlock) -> None:
        super().__init__()
        c = channels
        self.dec_1 = nn.Sequential(
            block(c, c), ResidualBlockUpsample(c, c), block(c, c), ResidualBlockUpsample(c, c), block(c, c)
        )
        self.dec_2 = ResidualBlockUpsample(c, c)
        self.dec_3 = nn.Sequential(block(c, c), subpel_conv1x1(c, 2, 2))

    def forward(self, mv_y_hat: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        """Decode `mv_y_hat`; q (1, C, 1, 1) scales the 1/2-res features."""
        feature = self.dec_1(mv_y_hat)
        return self.dec_3(self.dec_2(feature) * q), feature
