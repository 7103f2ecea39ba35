"""Intra (I-frame) codecs.

`DCVCDCIntra` is DCVC-DC's I-frame model (the official `IntraNoAR`, Li, Li, Lu, CVPR 2023):

    x ─► enc_1 ─► ×q_enc ─► enc_2 ─► y ─► hyperprior (z) ─► prior_fusion ─► spatial_prior ─► y_hat
    y_hat ─► dec_1 ─► ×q_dec ─► dec_2 ─► refine ─► [reconstruct] ─► clamp ─► x_hat [code]

Gaussian conditionals on y; variable rate by q-scale anchors (quality = anchor index).
"""

from __future__ import annotations

from torch import Tensor, nn

from ..coding.estimate import Coder
from ..layers import (
    DepthConvBlock,
    Hyperprior,
    QScale,
    QuadtreePrior,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    conv3x3,
)
from .dcvc_dc_config import DCVCDCConfig

__all__ = ["DCVCDCIntra"]


class IntraEncoder(nn.Module):
    """Analysis transform: (B, 3, H, W) -> (B, N, H/16, W/16); q multiplies the 1/2-res features."""

    def __init__(self, c1: int, c2: int, n: int) -> None:
        super().__init__()
        self.enc_1 = nn.Sequential(ResidualBlockWithStride(3, c1), DepthConvBlock(c1, c1, gated=True))
        self.enc_2 = nn.Sequential(
            ResidualBlockWithStride(c1, c2),
            DepthConvBlock(c2, c2, gated=True),
            ResidualBlockWithStride(c2, n),
            DepthConvBlock(n, n, gated=True),
            nn.Conv2d(n, n, 3, stride=2, padding=1),
        )

    def forward(self, x: Tensor, q: Tensor) -> Tensor:
        return self.enc_2(self.enc_1(x) * q)


class IntraDecoder(nn.Module):
    """Synthesis transform: (B, N, H/16, W/16) -> (B, out, H, W); q multiplies the 1/2-res features."""

    def __init__(self, c1: int, c2: int, n: int, out: int) -> None:
        super().__init__()
        self.dec_1 = nn.Sequential(
            DepthConvBlock(n, n, gated=True),
            ResidualBlockUpsample(n, n),
            DepthConvBlock(n, n, gated=True),
            ResidualBlockUpsample(n, c2),
            DepthConvBlock(c2, c2, gated=True),
            ResidualBlockUpsample(c2, c1),
        )
        self.dec_2 = nn.Sequential(DepthConvBlock(c1, c1, gated=True), ResidualBlockUpsample(c1, out))

    def forward(self, y_hat: Tensor, q: Tensor) -> Tensor:
        return self.dec_2(self.dec_1(y_hat) * q)


class DCVCDCIntra(nn.Module):
    """DCVC-DC's I-frame codec (official `IntraNoAR`)."""

    def __init__(self, cfg: DCVCDCConfig = DCVCDCConfig()) -> None:
        super().__init__()
        c1, c2 = cfg.intra_channels
        n = cfg.intra_latent_channels
        self.enc = IntraEncoder(c1, c2, n)
        hyper_enc = nn.Sequential(
            DepthConvBlock(n, n, gated=True),
            nn.Conv2d(n, n, 3, stride=2, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(n, n, 3, stride=2, padding=1),
        )
        hyper_dec = nn.Sequential(ResidualBlockUpsample(n, n), ResidualBlockUpsample(n, n), DepthConvBlock(n, n, gated=True))
        self.hyperprior = Hyperprior(hyper_enc, hyper_dec, n, tag="z")
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
