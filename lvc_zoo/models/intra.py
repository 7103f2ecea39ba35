"""Intra (I-frame) codecs of the DCVC family.

`DCVCDCIntra` is DCVC-DC's I-frame model (the official `IntraNoAR`, Li, Li, Lu, CVPR 2023),
`DCVCFMIntra` DCVC-FM's (the official `DMCI`, Li, Li, Lu, CVPR 2024); both follow

    x ─► enc_1 ─► ×q_enc ─► enc_2 ─► y ─► hyperprior (z) ─► prior_fusion ─► spatial_prior ─► y_hat
    y_hat ─► dec_1 ─► ×q_dec ─► dec_2 ─► refine ─► [reconstruct] ─► clamp ─► x_hat [code]

with Gaussian conditionals on y. DCVC-DC reaches its qualities by q-scale anchors (quality =
anchor index); DCVC-FM by a q_index 0..63 that picks a row of its q tables and of its z bit
estimator, plus a spatially varying q the prior predicts ("sigmoid" `QuadtreePrior`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from ..coding.estimate import Coder
from ..layers import (
    DepthConvBlock,
    Hyperprior,
    QScale,
    QuadtreePrior,
    ResidualBlockPatchDown,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    conv3x3,
    depth_hyper_transforms,
)
from .dcvc_dc_config import DCVCDCConfig
from .dcvc_fm_config import DCVCFMConfig

__all__ = ["DCVCDCIntra", "DCVCFMIntra"]

Block = Callable[[int, int], nn.Module]
"""Builds a shape-changing block (in channels, out channels) -> module."""

_GATED = partial(DepthConvBlock, gated=True)  # the official DepthConvBlock2
_GATED_DEPTH = partial(DepthConvBlock, gated=True, gated_depth=True)  # DepthConvBlock3
_DUAL = partial(DepthConvBlock, ffn="dual")  # DepthConvBlock4


class IntraEncoder(nn.Module):
    """Analysis transform: (B, 3, H, W) -> (B, N, H/16, W/16); q multiplies the 1/2-res features.

    `down` builds the three stride-2 stages (DCVC-DC: `ResidualBlockWithStride`, DCVC-FM:
    `ResidualBlockPatchDown`), `block` the depthwise blocks after them.
    """

    def __init__(self, c1: int, c2: int, n: int, down: Block = ResidualBlockWithStride, block: Block = _GATED) -> None:
        super().__init__()
        self.enc_1 = nn.Sequential(down(3, c1), block(c1, c1))
        self.enc_2 = nn.Sequential(
            down(c1, c2), block(c2, c2), down(c2, n), block(n, n), nn.Conv2d(n, n, 3, stride=2, padding=1)
        )

    def forward(self, x: Tensor, q: Tensor) -> Tensor:
        return self.enc_2(self.enc_1(x) * q)


class IntraDecoder(nn.Module):
    """Synthesis transform: (B, N, H/16, W/16) -> (B, out, H, W); q multiplies the 1/2-res features.

    `block` builds the depthwise blocks between the sub-pixel upsamplers.
    """

    def __init__(self, c1: int, c2: int, n: int, out: int, block: Block = _GATED) -> None:
        super().__init__()
        self.dec_1 = nn.Sequential(
            block(n, n),
            ResidualBlockUpsample(n, n),
            block(n, n),
            ResidualBlockUpsample(n, c2),
            block(c2, c2),
            ResidualBlockUpsample(c2, c1),
        )
        self.dec_2 = nn.Sequential(block(c1, c1), ResidualBlockUpsample(c1, out))

    def forward(self, y_hat: Tensor, q: Tensor) -> Tensor:
        return self.dec_2(self.dec_1(y_hat) * q)


class DCVCDCIntra(nn.Module):
    """DCVC-DC's I-frame codec (official `IntraNoAR`)."""

    def __init__(self, cfg: DCVCDCConfig = DCVCDCConfig()) -> None:
        super().__init__()
        c1, c2 = cfg.intra_channels
        n = cfg.intra_latent_channels
        self.enc = IntraEncoder(c1, c2, n)
        self.hyperprior = Hyperprior(*depth_hyper_transforms(n, n, _GATED), n, tag="z")
        self.prior_fusion = nn.Sequential(DepthConvBlock(n, n * 2, gated=True), DepthConvBlock(n * 2, n * 3, gated=True))
        spatial_net = nn.Sequential(
            DepthConvBlock(n * 3, n * 3, gated=True),
            DepthConvBlock(n * 3, n * 2, gated=True),
            DepthConvBlock(n * 2, n * 2, gated=True),
        )
        self.spatial_prior = QuadtreePrior(n, spatial_net, distribution="gaussian")
        self.dec = IntraDecoder(c1, c2, n, cfg.intra_output_channels)
        self.refine = nn.Sequential(
            UNet(cfg.intra_output_channels, cfg.intra_output_channels, cfg.unet_channels, gated=True),
            conv3x3(cfg.intra_output_channels, 3),
        )
        self.q_enc = QScale(c1, cfg.anchors)
        self.q_dec = QScale(c1, cfg.anchors)

    def reconstruct(self, x: Tensor | None, size: tuple[int, int], quality: int, coder: Coder) -> Tensor:
        """Code one frame padded to a multiple of 16 (None when decoding); no clamp.

        Args:
            x: (B, 3, H, W) in [0, 1], or None.
            size: (H, W) of the padded frame.
            quality: q-scale anchor index.
            coder: `Estimate` or an entropy coder.
        Returns: (B, 3, H, W) reconstruction before the clamp to [0, 1] (SEVC derives its base
            layer's reference from it).
        """
        latent = (size[0] // 16, size[1] // 16)
        y = None if x is None else self.enc(x, self.q_enc(quality))
        batch = 1 if x is None else x.shape[0]
        params = self.prior_fusion(self.hyperprior.code(y, latent, coder, batch))
        y_hat = self.spatial_prior.code(y, Hyperprior.crop(params, latent), coder, tag="y")
        return self.refine(self.dec(y_hat, self.q_dec(quality)))

    def code(self, x: Tensor | None, size: tuple[int, int], quality: int, coder: Coder) -> Tensor:
        """`reconstruct`, clamped to [0, 1]: the (B, 3, H, W) reconstruction."""
        return self.reconstruct(x, size, quality, coder).clamp(0, 1)


class DCVCFMIntra(nn.Module):
    """DCVC-FM's I-frame codec (official `DMCI`): q_index 0..q_levels-1 picks a row of the q tables and of z's bit estimator."""

    def __init__(self, cfg: DCVCFMConfig = DCVCFMConfig()) -> None:
        super().__init__()
        c1, c2 = cfg.intra_channels
        n, nz = cfg.intra_latent_channels, cfg.intra_z_channels
        self.enc = IntraEncoder(c1, c2, n, down=ResidualBlockPatchDown, block=_GATED_DEPTH)
        self.hyperprior = Hyperprior(*depth_hyper_transforms(n, nz, _DUAL), nz, tag="z", sets=cfg.q_levels)
        params = QuadtreePrior.params_channels(n, "sigmoid")
        self.prior_fusion = nn.Sequential(_DUAL(n, n * 2), _DUAL(n * 2, params))
        self.spatial_prior = QuadtreePrior(
            n,
            nn.Sequential(*(_GATED(n * 2, n * 2) for _ in range(3))),
            distribution="gaussian",
            rate_mode="sigmoid",
            adaptors=[_GATED(n * 2, n * 2) for _ in range(3)],
            reduction=nn.Conv2d(params, n, 1),
        )
        self.dec = IntraDecoder(c1, c2, n, cfg.intra_output_channels, block=_GATED_DEPTH)
        out = cfg.intra_output_channels
        self.refine = nn.Sequential(UNet(out, out, cfg.unet_channels, gated=True, strided_down=True), conv3x3(out, 3))
        self.q_scale_enc = nn.Parameter(torch.ones(cfg.q_levels, c1, 1, 1))
        self.q_scale_dec = nn.Parameter(torch.ones(cfg.q_levels, c1, 1, 1))

    def reconstruct(self, x: Tensor | None, size: tuple[int, int], quality: int, coder: Coder) -> Tensor:
        """Code one frame padded to a multiple of 16 (None when decoding); no clamp.

        Args:
            x: (B, 3, H, W) in the model's colour space (YCbCr for DCVC-FM), or None.
            size: (H, W) of the padded frame.
            quality: q_index.
            coder: `Estimate` or an entropy coder.
        Returns: (B, 3, H, W) reconstruction before the clamp to [0, 1].
        """
        latent = (size[0] // 16, size[1] // 16)
        row = torch.tensor([quality], device=self.q_scale_enc.device)
        q_enc, q_dec = self.q_scale_enc.index_select(0, row), self.q_scale_dec.index_select(0, row)  # (1, C1, 1, 1) copies
        y = None if x is None else self.enc(x, q_enc)
        batch = 1 if x is None else x.shape[0]
        params = self.prior_fusion(self.hyperprior.code(y, latent, coder, batch, index=quality))
        y_hat = self.spatial_prior.code(y, Hyperprior.crop(params, latent), coder, tag="y")
        return self.refine(self.dec(y_hat, q_dec))

    def code(self, x: Tensor | None, size: tuple[int, int], quality: int, coder: Coder) -> Tensor:
        """`reconstruct`, clamped to [0, 1]: the (B, 3, H, W) reconstruction."""
        return self.reconstruct(x, size, quality, coder).clamp(0, 1)
