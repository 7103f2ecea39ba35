"""LSTVC and LSTVC+: Exploring Long- and Short-Range Temporal Information for Learned Video
Compression (Wang and Chen, IEEE TIP 33:780-792, 2024). No official code exists; this follows
the paper and the zoo's spec (shared/design/lstvc.md), on the DCVC conditional-coding base.

The P-frame codec (the paper's Algorithm 1), per frame:

    temporal prior: initialise(I recon) at the first P frame, else supplement(prior, last recon)
    x, last recon ─► flow ─► mv_encoder ─► y^m ─► mv_hyperprior + motion_prior_encoder(prior)
        ─► mv_entropy_parameters ─► mv_spatial_prior (quadtree) ─► mv_decoder ─► mv_hat
    feature_extractor(last recon), mv_hat ─► pgmc (three scales, coarse to fine) ─► context
    temporal prior: align(prior, mv_hat)
    x, context, prior ─► contextual_encoder ─► y^c ─► hyperprior + hybrid_prior_encoder(context, prior)
        ─► y_entropy_parameters ─► y_spatial_prior (quadtree) ─► contextual_decoder(prior)
        ─► reconstruction(context) ─► x_hat

Long range: the temporal prior (`lvc_zoo.layers.TemporalPrior`, 64 x H/4 x W/4) lives across
the GOP in the buffer (`TemporalPriorDPB`) and conditions both entropy models and the
contextual transforms. Short range: progressive guided motion compensation (PGMC), flow-guided
deformable convolution scale by scale, each scale guided by the coarser one's result.

Zoo choices (each marked [choice] in the spec and the model card): the multistage context
model is the zoo's quadtree prior with Gaussian conditionals (`QuadtreePrior`); the I frames
are coded by the zoo's intra codec (DCVC-DC's, the paper used cheng2020-anchor); the transform
and prior-network layouts where the paper gives only their inputs and outputs.

One model per lambda (256, 512, 1024, 2048): each quality has its own weights file
(`RateSpec.per_quality_weights`); a training run trains the quality it is built for.
Training: a motion-compensation warm-up with the rate-compensation loss
lambda * MSE(context, feature of the current frame) + R_motion (the "compensation" stage loss
on the model's loss term "context_distortion"), then the full rate-distortion loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..coding.estimate import Coder, keep_intermediate
from ..errors import ConfigError, InputError
from ..layers import (
    DepthConvBlock,
    FlowGuidedDeformConv,
    FeatureExtractor,
    Hyperprior,
    QuadtreePrior,
    ResBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    SpyNet,
    TemporalPrior,
    TemporalPriorDPB,
    conv3x3,
    downsample_flow,
    hyper_transforms,
    keep_motion_intermediates,
    quadtree_net,
    stride4_down,
    subpel_conv3x3,
    warp,
)
from ..rate import RateSpec
from ..training import Stage, TrainingRecipe
from ..training.cascade import LOSS_TERM
from .codec import VideoCodec, require_quality
from .intra import DCVCDCIntra
from .lstvc_config import LSTVCConfig

__all__ = [
    "LSTVC",
    "LSTVCPlus",
    "LSTVCConfig",
    "LSTVCInter",
    "ProgressiveGuidedCompensation",
    "LSTVC_LAMBDAS",
    "CONTEXT_DISTORTION",
    "MOTION_PARAMETERS",
    "CONTEXTUAL_PARAMETERS",
    "PADDING_MULTIPLE",
    "default_stages",
    "default_recipe",
]

LSTVC_LAMBDAS: tuple[float, ...] = (256.0, 512.0, 1024.0, 2048.0)
"""lambda of qualities 0..3 [paper] (MSE models; the MS-SSIM models use 8, 16, 32, 64)."""

PADDING_MULTIPLE = 64
"""Frames are coded at a multiple of 64 [paper]: y at 1/16, z at 1/64."""

CONTEXT_DISTORTION = "context_distortion"
"""The loss term the P-frame network hands over: MSE(context, feature of the current frame)."""

MOTION_PARAMETERS: tuple[str, ...] = (
    "inter.flow.*", "inter.mv_*", "inter.motion_prior_encoder.*", "inter.pgmc.*", "inter.temporal_prior.*",
)
"""Parameter group "motion": what the rate-compensation warm-up trains (flow, motion codec and its
entropy model, PGMC, temporal prior). [choice] The feature extractor is left out, so the warm-up's
target, the current frame's feature, cannot collapse with the context it supervises."""

CONTEXTUAL_PARAMETERS: tuple[str, ...] = (
    "inter.feature_extractor.*", "inter.contextual_*", "inter.hyperprior.*", "inter.hybrid_prior_encoder.*",
    "inter.y_*", "inter.reconstruction.*",
)
"""Parameter group "contextual": every other P-frame parameter."""


def default_stages() -> list[Stage]:
    """The paper's two phases after an I-frame stage; AdamW with cosine decay per stage.

    [choice] "intra" first trains the zoo's I-frame codec for the run's lambda (the paper uses
    a pretrained cheng2020-anchor per lambda). Then [paper] the rate-compensation warm-up of
    the motion path and the full rate-distortion loss, 700k iterations at lr 1e-4 with cosine
    annealing in all, each clip 1 I + 6 P frames with detached buffers and one optimizer step
    per P frame ([inferred]: "train six times in succession"); [choice] 100k of them warm up.
    """
    per_frame = dict(frames=7, cascaded=False, group_size=1, schedule="cosine", lr=1e-4)
    return [
        Stage("intra", 100_000, "intra", ["intra"], frames=1, lr=1e-4, schedule="cosine", min_lr=1e-6),
        Stage("compensation", 100_000, "compensation", ["motion"], min_lr=1e-5, loss_terms={CONTEXT_DISTORTION: 1.0}, **per_frame),
        Stage("all", 600_000, "all", ["inter"], min_lr=1e-6, **per_frame),
    ]


def default_recipe() -> TrainingRecipe:
    """LSTVC's training: `default_stages` at the paper's MSE lambdas, every P frame weighted 1."""
    return TrainingRecipe(lambdas=list(LSTVC_LAMBDAS), stages=default_stages(), frame_weights=[1.0])


def _res_blocks(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(channels) for _ in range(count)))


class ProgressiveGuidedCompensation(nn.Module):
    """PGMC: three-scale flow-guided deformable compensation, each scale guided by the coarser result.

    reference feature (B, c1, H, W), decoded flow (B, 2, H, W) -> contexts at H/4, H/2, H
    (c4, c2, c1 channels) and the refined context (B, c1, H, W). At each scale the flow-warped
    features, the (upsampled) coarser context and the flow condition a `FlowGuidedDeformConv`;
    below the coarsest scale the guidance is also fused into the aligned features.
    """

    def __init__(self, c1: int, c2: int, c4: int, groups: int, kernel: int, max_residual: float) -> None:
        super().__init__()
        widths = (c4, c2, c1)  # coarse to fine
        self.pyramid = FeatureExtractor(c1, c2, c4)
        self.align = nn.ModuleList(
            FlowGuidedDeformConv(c, c * (1 if s == 0 else 2) + 2, c, groups, kernel, max_residual) for s, c in enumerate(widths)
        )
        self.guide = nn.ModuleList(subpel_conv3x3(coarse, fine, 2) for coarse, fine in zip(widths, widths[1:]))
        self.fuse = nn.ModuleList(conv3x3(c * 2, c) for c in widths[1:])
        self.refine = nn.Sequential(ResBlock(c1), conv3x3(c1, c1))

    def forward(self, feature: Tensor, flow: Tensor) -> tuple[tuple[Tensor, Tensor, Tensor], Tensor]:
        fine, middle, coarse = self.pyramid(feature)
        contexts: list[Tensor] = []
        for s, (reference, factor) in enumerate(((coarse, 4), (middle, 2), (fine, 1))):
            scaled = flow if factor == 1 else downsample_flow(flow, factor)
            warped = warp(reference, scaled)
            if s == 0:
                context = self.align[s](reference, torch.cat((warped, scaled), dim=1), scaled)
            else:
                guide = self.guide[s - 1](contexts[-1])
                aligned = self.align[s](reference, torch.cat((warped, guide, scaled), dim=1), scaled)
                context = aligned + self.fuse[s - 1](torch.cat((aligned, guide), dim=1))
            contexts.append(context)
        return (contexts[0], contexts[1], contexts[2]), self.refine(contexts[2])


class ContextualEncoder(nn.Module):
    """g_a^c: x (B, 3, H, W), context (B, c1, H, W), prior (B, P, H/4, W/4) -> y (B, M, H/16, W/16).

    The context joins the frame at the input and the temporal prior at 1/4 resolution.
    """

    def __init__(self, c1: int, prior: int, n: int, m: int, blocks: int) -> None:
        super().__init__()
        self.down1 = nn.Conv2d(3 + c1, n, 3, stride=2, padding=1)
        self.res1 = _res_blocks(n, blocks)
        self.down2 = nn.Conv2d(n, n, 3, stride=2, padding=1)
        self.prior_fusion = nn.Conv2d(n + prior, n, 3, padding=1)
        self.res2 = _res_blocks(n, blocks)
        self.down3 = nn.Conv2d(n, n, 3, stride=2, padding=1)
        self.res3 = _res_blocks(n, blocks)
        self.down4 = nn.Conv2d(n, m, 3, stride=2, padding=1)

    def forward(self, x: Tensor, context: Tensor, prior: Tensor) -> Tensor:
        feature = self.down2(self.res1(self.down1(torch.cat((x, context), dim=1))))
        feature = self.res2(self.prior_fusion(torch.cat((feature, prior), dim=1)))
        return self.down4(self.res3(self.down3(feature)))


class ContextualDecoder(nn.Module):
    """g_s^c: y_hat (B, M, H/16, W/16), prior (B, P, H/4, W/4) -> feature (B, N, H, W)."""

    def __init__(self, prior: int, n: int, m: int, blocks: int) -> None:
        super().__init__()
        self.up1 = subpel_conv3x3(m, n, 2)
        self.res1 = _res_blocks(n, blocks)
        self.up2 = subpel_conv3x3(n, n, 2)
        self.prior_fusion = nn.Conv2d(n + prior, n, 3, padding=1)
        self.res2 = _res_blocks(n, blocks)
        self.up3 = subpel_conv3x3(n, n, 2)
        self.res3 = _res_blocks(n, blocks)
        self.up4 = subpel_conv3x3(n, n, 2)

    def forward(self, y_hat: Tensor, prior: Tensor) -> Tensor:
        feature = self.up2(self.res1(self.up1(y_hat)))
        feature = self.res2(self.prior_fusion(torch.cat((feature, prior), dim=1)))
        return self.up4(self.res3(self.up3(feature)))


class HybridPriorEncoder(nn.Module):
    """g_hpe: context (B, c1, H, W) and prior (B, P, H/4, W/4) -> (B, M, H/16, W/16) entropy prior."""

    def __init__(self, c1: int, prior: int, n: int, m: int) -> None:
        super().__init__()
        self.context_down = stride4_down(c1, n, n)
        self.down = stride4_down(n + prior, n, m)

    def forward(self, context: Tensor, prior: Tensor) -> Tensor:
        return self.down(torch.cat((self.context_down(context), prior), dim=1))


def _entropy_parameters(channels: int) -> nn.Sequential:
    """g_ef: cat(hyper parameters, temporal parameters) (B, 2C, h, w) -> (B, 3C, h, w) quadtree prior parameters."""
    return nn.Sequential(DepthConvBlock(channels * 2, channels * 3), DepthConvBlock(channels * 3, channels * 3))


class LSTVCInter(nn.Module):
    """LSTVC's P-frame codec (see the module docstring for the data flow)."""

    def __init__(self, cfg: LSTVCConfig = LSTVCConfig()) -> None:
        super().__init__()
        c1, mv, n, m, p = cfg.ch_1x, cfg.mv_channels, cfg.transform_channels, cfg.latent_channels, cfg.prior_channels
        self.temporal_prior = TemporalPrior(p)
        self.flow = SpyNet(cfg.flow_levels, cfg.flow_channels)

        self.mv_encoder = nn.Sequential(
            ResidualBlockWithStride(2, mv), ResidualBlockWithStride(mv, mv), ResidualBlockWithStride(mv, mv),
            nn.Conv2d(mv, mv, 3, stride=2, padding=1),
        )
        self.mv_hyperprior = Hyperprior(*hyper_transforms(mv, cfg.mv_hyper_channels), cfg.mv_hyper_channels, tag="mv_z")
        self.motion_prior_encoder = stride4_down(p, mv, mv)  # g_pe
        self.mv_entropy_parameters = _entropy_parameters(mv)
        self.mv_spatial_prior = QuadtreePrior(mv, quadtree_net(mv), distribution="gaussian")
        self.mv_decoder = nn.Sequential(
            ResidualBlockUpsample(mv, mv), ResidualBlockUpsample(mv, mv), ResidualBlockUpsample(mv, mv),
            subpel_conv3x3(mv, 2, 2),
        )

        self.feature_extractor = nn.Sequential(conv3x3(3, c1), ResBlock(c1))
        self.pgmc = ProgressiveGuidedCompensation(c1, cfg.ch_2x, cfg.ch_4x, cfg.dcn_groups, cfg.dcn_kernel, cfg.max_residual)

        self.contextual_encoder = ContextualEncoder(c1, p, n, m, cfg.res_blocks)
        self.hyperprior = Hyperprior(*hyper_transforms(m, cfg.hyper_channels), cfg.hyper_channels, tag="z")
        self.hybrid_prior_encoder = HybridPriorEncoder(c1, p, n, m)
        self.y_entropy_parameters = _entropy_parameters(m)
        self.y_spatial_prior = QuadtreePrior(m, quadtree_net(m), distribution="gaussian")
        self.contextual_decoder = ContextualDecoder(p, n, m, cfg.res_blocks)
        self.reconstruction = nn.Sequential(conv3x3(n + c1, c1), ResBlock(c1), ResBlock(c1), conv3x3(c1, 3))

    def start(self, x_hat: Tensor, index: int) -> TemporalPriorDPB:
        """Buffer after an I frame reconstructed as `x_hat`: no temporal prior yet."""
        return TemporalPriorDPB.after_intra(x_hat, index)

    def current_prior(self, dpb: TemporalPriorDPB) -> Tensor:
        """The temporal prior before the motion is coded: initialised from the I frame at the first
        P frame of a GOP, supplemented with the last reconstruction afterwards."""
        if dpb.temporal_prior is None:
            return self.temporal_prior.initialise(dpb.frame)
        return self.temporal_prior.supplement(dpb.temporal_prior, dpb.frame)

    def code(self, x: Tensor | None, dpb: TemporalPriorDPB, quality: int, coder: Coder) -> tuple[Tensor, TemporalPriorDPB]:
        """Code one P frame padded to a multiple of 64 (x is None when decoding).

        The quality is the weights file's; the network has no rate input. Returns the
        reconstruction clamped to [0, 1] and the next buffer.

        Raises:
            InputError: a frame whose sides are not multiples of 64.
        """
        batch, _, h, w = dpb.frame.shape
        if h % PADDING_MULTIPLE or w % PADDING_MULTIPLE:
            raise InputError(f"LSTVC codes frames whose sides are multiples of {PADDING_MULTIPLE}, got {h}x{w}; pad them first.")
        latent = (h // 16, w // 16)
        prior = self.current_prior(dpb)

        flow = None if x is None else self.flow(x, dpb.frame)
        mv_y = None if x is None else self.mv_encoder(flow)
        mv_hyper = Hyperprior.crop(self.mv_hyperprior.code(mv_y, latent, coder, batch), latent)
        mv_params = self.mv_entropy_parameters(torch.cat((mv_hyper, self.motion_prior_encoder(prior)), dim=1))
        mv_y_hat = self.mv_spatial_prior.code(mv_y, mv_params, coder, tag="mv_y")
        mv_hat = self.mv_decoder(mv_y_hat)
        keep_motion_intermediates(coder, dpb.frame, flow, mv_hat)

        _, context = self.pgmc(self.feature_extractor(dpb.frame), mv_hat)
        keep_intermediate(coder, LOSS_TERM + CONTEXT_DISTORTION, lambda: self.context_distortion(context, x))
        prior = self.temporal_prior.align(prior, mv_hat)

        y = None if x is None else self.contextual_encoder(x, context, prior)
        hyper = Hyperprior.crop(self.hyperprior.code(y, latent, coder, batch), latent)
        params = self.y_entropy_parameters(torch.cat((hyper, self.hybrid_prior_encoder(context, prior)), dim=1))
        y_hat = self.y_spatial_prior.code(y, params, coder, tag="y")
        feature = self.contextual_decoder(y_hat, prior)
        x_hat = self.reconstruction(torch.cat((feature, context), dim=1)).clamp(0, 1)
        return x_hat, dpb.advance(frame=x_hat, temporal_prior=prior)

    def context_distortion(self, context: Tensor, x: Tensor) -> Tensor:
        """MSE between the context and the current frame's feature (the rate-compensation loss's d).

        [choice] The target is detached: it supervises the compensation, not the extractor.
        """
        with torch.no_grad():
            target = self.feature_extractor(x)
        return torch.mean((context.float() - target.float()) ** 2)


class LSTVC(VideoCodec):
    """LSTVC (Wang and Chen, IEEE TIP 2024): `DCVCDCIntra` + `LSTVCInter`, one weights file per quality.

    Quality q (0..3) is the model trained with lambda `LSTVC_LAMBDAS[q]`; a codec holds one
    quality's weights (`quality`) and codes only that one. The I-frame codec's q-scale
    anchor is the quality.

    Args:
        config: widths; None = `default_config()`.
        recipe: how to train (see `VideoCodec`); None = `default_recipe()`.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
        quality: the quality this codec's weights are (trained) for; None = the rate's default.
    Raises:
        QualityError: `quality` is not one of 0..3.
    """

    model_name = "lstvc"
    config_class = LSTVCConfig
    parameter_groups = {**VideoCodec.parameter_groups, "motion": MOTION_PARAMETERS, "contextual": CONTEXTUAL_PARAMETERS}
    default_config = LSTVCConfig
    """Builds the config used when none is given."""

    @classmethod
    def rate_for(cls, config: LSTVCConfig) -> RateSpec:
        """Four separately trained models, lambdas 256..2048; [choice] the default is the highest quality (3)."""
        return RateSpec.per_quality_weights(LSTVC_LAMBDAS)

    def __init__(
        self,
        config: LSTVCConfig | None = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
        quality: int | None = None,
    ) -> None:
        config = config or self.default_config()
        if not isinstance(config, LSTVCConfig):
            raise ConfigError(f"{type(self).__name__} takes an LSTVCConfig, got {type(config).__name__}.")
        super().__init__(
            intra=DCVCDCIntra(config.intra_config()),
            inter=LSTVCInter(config),
            rate=self.rate_for(config),
            padding_multiple=PADDING_MULTIPLE,
            config=config,
            recipe=recipe or default_recipe(),
            init_from=init_from,
        )
        if quality is not None:
            require_quality(self.model_name, quality, self.qualities)
            self.quality = quality


class LSTVCPlus(LSTVC):
    """LSTVC+: the same codec with the heavier contextual transform of `LSTVCConfig.plus()`."""

    model_name = "lstvc_plus"
    default_config = LSTVCConfig.plus
