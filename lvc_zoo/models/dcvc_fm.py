"""DCVC-FM: Neural Video Compression with Feature Modulation (Li, Li, Lu, CVPR 2024).

One model for every rate: a q_index 0..63 modulates the features of both networks.

    I frame (`DCVCFMIntra`, official `DMCI`): q_index picks rows of the q tables (x q_enc / x q_dec
        at 1/2 resolution) and of z's bit estimator; the prior predicts a spatially varying q too.
    P frame (`DCVCFMInter`, official `DMC`): the DCVC family's procedure (`DCVCInterCodec`, as
        DCVC-DC) with each of its four q multipliers log-interpolated between two learned ends
        (`log_linear_q`), "dual" depthwise blocks (`DepthConvBlock(ffn="dual")`) in place of
        DCVC-DC's, and the quantisation step of the quadtree prior applied as a reciprocal.

The reference feature is modulated by one of three adaptors chosen by the frame's position in
a cycle of eight (`FM_FEATURE_ADAPTOR_CYCLE`, the official index map with rate_gop_size 8), and
refreshed every 32 frames: the P frame at display index k with k % 32 == 1 rebuilds its
reference feature from the decoded frame, as after an I frame (`FEATURE_REFRESH_INTERVAL`; the
motion and latent references are kept).

Colour: RGB at the API; inside, the model codes BT.709 Y'CbCr 4:4:4 clipped to [0, 1], and
converts its clamped reconstruction back to RGB (clipped), as the official test does for RGB
sources. The decoded-picture buffer holds Y'CbCr.

Zoo choices: none in the estimation path, which follows the official test loop (single intra
frame, reset_interval 32, index map [0, 1, 0, 2, 0, 2, 0, 2]). [choice] Training lambdas are
log-linear in q_index from 1 to 768 (DCVC-UF's range; the FM code publishes no training).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..coding.estimate import WARPED_FRAME, Coder, Estimate
from ..data.colour import rgb_to_yuv444, yuv444_to_rgb
from ..layers import (
    FEATURE_REFRESH_INTERVAL,
    ContextualDecoder,
    ContextualEncoder,
    DCVCDPB,
    DCVCInterCodec,
    DepthConvBlock,
    Hyperprior,
    MvDecoder,
    MvEncoder,
    QSteps,
    QuadtreePrior,
    ReconGeneration,
    ReferencePriorFusion,
    SpyNet,
    depth_hyper_transforms,
    log_linear_q,
    quadtree_net,
    stride4_down,
)
from ..rate import RateSpec
from ..training import TrainingRecipe
from .codec import CoderMap, VideoCodec
from .dcvc_dc import CONTEXTUAL_PARAMETERS, MOTION_PARAMETERS, default_stages
from .dcvc_fm_config import DCVCFMConfig
from .intra import DCVCFMIntra

__all__ = [
    "DCVCFM",
    "DCVCFMConfig",
    "DCVCFMInter",
    "DCVCFMIntra",
    "FM_FEATURE_ADAPTOR_CYCLE",
    "FM_LAMBDA_RANGE",
    "to_model_colour",
]

FM_FEATURE_ADAPTOR_CYCLE: tuple[int, ...] = (0, 1, 0, 2, 0, 2, 0, 2)
"""Reference-feature adaptor of the P frame at display index k: CYCLE[k % 8] (official index_map)."""

FM_LAMBDA_RANGE: tuple[float, float] = (1.0, 768.0)
"""[choice] Training lambda of q_index 0 and 63 (log-linear between): DCVC-UF's published range."""


def to_model_colour(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> BT.709 Y'CbCr 4:4:4 clipped to [0, 1] (official rgb_to_ycbcr444)."""
    return rgb_to_yuv444(rgb).clamp(0, 1)


class DCVCFMInter(DCVCInterCodec):
    """DCVC-FM's P-frame codec (official `DMC`); quality = q_index.

    Module names follow DCVC-DC's network (`DCVCDCInter`); the four q multipliers keep the
    official names (`mv_y_q_enc`, ...): (2, 1, 1, 1) lowest- and highest-rate ends.
    """

    feature_adaptor_cycle = FM_FEATURE_ADAPTOR_CYCLE

    def __init__(self, cfg: DCVCFMConfig = DCVCFMConfig()) -> None:
        super().__init__()
        c1, c2, c4, c8, c16, mv = cfg.ch_1x, cfg.ch_2x, cfg.ch_4x, cfg.ch_8x, cfg.ch_16x, cfg.mv_channels
        dual = partial(DepthConvBlock, ffn="dual")
        self.q_levels = cfg.q_levels
        self.flow = SpyNet(len(cfg.flow_kernels), cfg.flow_channels, cfg.flow_kernels)

        self.mv_encoder = MvEncoder(mv, dual)
        self.mv_hyperprior = Hyperprior(*depth_hyper_transforms(mv, cfg.mv_z_channels, dual), cfg.mv_z_channels, tag="mv_z")
        self.mv_prior_fusion = ReferencePriorFusion.depthwise(mv, mv, mv * 2, mv * 3)
        self.mv_spatial_prior = QuadtreePrior(mv, quadtree_net(mv), distribution="laplace", rate_mode="reciprocal")
        self.mv_decoder = MvDecoder(mv, dual)

        self.add_context_modules(c1, c2, c4, cfg.align_groups, cfg.align_offsets, cfg.align_max_residual)

        residual = lambda channels: dual(channels, channels)  # noqa: E731
        self.contextual_encoder = ContextualEncoder(c1, c2, c4, c8, c16, residual)
        self.hyperprior = Hyperprior(*depth_hyper_transforms(c16, cfg.z_channels, dual), cfg.z_channels, tag="z")
        self.temporal_prior_encoder = stride4_down(c4, c8, c16)
        self.y_prior_fusion = ReferencePriorFusion.depthwise(c16 * 2, c16, c16 * 3, c16 * 3)
        self.y_spatial_prior = QuadtreePrior(c16, quadtree_net(c16), distribution="laplace", rate_mode="reciprocal")
        self.contextual_decoder = ContextualDecoder(c2, c4, c8, c16, cfg.residual_channels, residual)
        self.recon_generation = ReconGeneration(c1, cfg.residual_channels, cfg.unet_channels, ffn="dual")

        self.mv_y_q_enc = nn.Parameter(torch.ones(2, 1, 1, 1))
        self.mv_y_q_dec = nn.Parameter(torch.ones(2, 1, 1, 1))
        self.y_q_enc = nn.Parameter(torch.ones(2, 1, 1, 1))
        self.y_q_dec = nn.Parameter(torch.ones(2, 1, 1, 1))

    def q_steps(self, quality: int) -> QSteps:
        """Each multiplier at q_index `quality`, log-interpolated between its two ends."""
        q = partial(log_linear_q, q_index=quality, levels=self.q_levels)
        return QSteps(q(self.mv_y_q_enc), q(self.mv_y_q_dec), q(self.y_q_enc), q(self.y_q_dec))

    def code(self, x: Tensor | None, dpb: DCVCDPB, quality: int, coder: Coder) -> tuple[Tensor, DCVCDPB]:
        """`DCVCInterCodec.code` after the feature refresh: the frame at k % 32 == 1 starts from `dpb.refreshed()`."""
        return super().code(x, dpb.refreshed_every(FEATURE_REFRESH_INTERVAL), quality, coder)


class DCVCFM(VideoCodec):
    """DCVC-FM (Li, Li, Lu, CVPR 2024): `DCVCFMIntra` + `DCVCFMInter`, qualities = q_index 0..63.

    Quality q is the official q_index of both networks (0 = lowest rate); validation and the
    default evaluation use the official four rate points 0, 21, 42, 63.

    Args:
        config: widths; None = `DCVCFMConfig()`, the official model's.
        recipe: how to train (see `VideoCodec`); None = `default_recipe()`.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "dcvc_fm"
    config_class = DCVCFMConfig
    parameter_groups = {**VideoCodec.parameter_groups, "motion": MOTION_PARAMETERS, "contextual": CONTEXTUAL_PARAMETERS}
    inter_class: ClassVar[type[DCVCFMInter]] = DCVCFMInter
    """The P-frame network class; a model built on DCVC-FM (DCVC-LCG) substitutes its own."""
    channels_last_modules = ("intra", "inter")
    """Both networks compute channels-last (faster on the CPU; see `VideoCodec.channels_last_modules`)."""

    @classmethod
    def rate_for(cls, config: DCVCFMConfig) -> RateSpec:
        """q_index 0..q_levels-1, lambdas log-linear over `FM_LAMBDA_RANGE`, validation at 4 evenly spaced points."""
        return RateSpec.q_index(config.q_levels, FM_LAMBDA_RANGE)

    def __init__(
        self,
        config: DCVCFMConfig | None = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
    ) -> None:
        config = config or DCVCFMConfig()
        super().__init__(
            intra=DCVCFMIntra(config),
            inter=self.inter_class(config),
            rate=self.rate_for(config),
            padding_multiple=16,
            config=config,
            recipe=recipe or TrainingRecipe(stages=default_stages()),
            init_from=init_from,
        )

    def code_intra(
        self, x: Tensor | None, size: tuple[int, int], quality: int, coders: CoderMap, index: int, layer: str | None = None
    ) -> tuple[Tensor, DCVCDPB]:
        """Code an RGB I frame in Y'CbCr; returns the RGB reconstruction and a Y'CbCr buffer."""
        x_hat, dpb = super().code_intra(None if x is None else to_model_colour(x), size, quality, coders, index, layer)
        return yuv444_to_rgb(x_hat), dpb

    def code_inter(
        self, x: Tensor | None, dpb: DCVCDPB, quality: int, coders: CoderMap, layer: str | None = None
    ) -> tuple[Tensor, DCVCDPB]:
        """Code an RGB P frame in Y'CbCr; returns the RGB reconstruction and the next Y'CbCr buffer.

        A warped reference kept for the motion loss (`WARPED_FRAME`) is handed over in RGB too.
        """
        x_hat, dpb = super().code_inter(None if x is None else to_model_colour(x), dpb, quality, coders, layer)
        for coder in coders.values():
            if isinstance(coder, Estimate) and WARPED_FRAME in coder.kept:
                coder.kept[WARPED_FRAME] = yuv444_to_rgb(coder.kept[WARPED_FRAME])
        return yuv444_to_rgb(x_hat), dpb
