"""DCVC-DC: Neural Video Compression with Diverse Contexts (Li, Li, Lu, CVPR 2023).

The P-frame codec of the framework figure (Fig. 2 of the paper):

    x, dpb.frame ─► flow ─► mv_encoder ─► mv_hyperprior ─► mv_prior_fusion ─► mv_spatial_prior ─► mv_y_hat
    mv_y_hat ─► mv_decoder ─► mv_hat ─► motion_compensation (feature_adaptor, feature_extractor,
        warp, align [offset diversity], context_fusion) ─► ctx1, ctx2, ctx3
    x, ctx ─► contextual_encoder ─► y ─► hyperprior + temporal_prior_encoder(ctx3) + dpb.y_hat
        ─► y_prior_fusion ─► y_spatial_prior (quadtree) ─► y_hat
    y_hat, ctx ─► contextual_decoder ─► recon_generation ─► x_hat, feature ─► next dpb

Diverse contexts in time: the reference feature passes one of three 1x1 adaptors chosen by
the frame's position in a cycle of four (`FEATURE_ADAPTOR_CYCLE` in `lvc_zoo.layers.contextual`,
a hierarchical quality structure), and the first P frame after an I frame builds it from the
decoded frame (`feature_adaptor_intra`). Diverse contexts in space: offset-diversity alignment and the
quadtree-partition entropy model. P-frame latents use Laplace conditionals. The blocks are the
DCVC family's shared layers (`lvc_zoo.layers.motion`, `.contextual`, `.entropy`, `.dpb`).

Zoo choices: none in the estimation path, which follows the official test loop exactly
(see `VideoCodec`).

Training: the parameter groups "motion" (`MOTION_PARAMETERS`) and "contextual"
(`CONTEXTUAL_PARAMETERS`) split the P-frame network; `default_recipe` is the DCVC-TCM /
DCVC-HEM / DCVC-DC multi-stage schedule (motion warm-up, reconstruction, contextual coding,
all; see the TCM paper's training section and OpenDCVCs' reimplementation). [choice] The
papers give no step counts; ours are round numbers for a batch-8 Vimeo-90k run (about 2.5
epochs per 20k steps), and the last stage trains on 1 I + 4 P frames cascaded, as OpenDCVCs'
stage-4 fine-tune does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..coding.estimate import Coder, keep_intermediate
from ..layers import (
    DCVCDPB,
    ContextualDecoder,
    ContextualEncoder,
    DepthConvBlock,
    FeatureExtractor,
    Hyperprior,
    MultiScaleContextFusion,
    MvDecoder,
    MvEncoder,
    OffsetDiversityAlignment,
    QScale,
    QuadtreePrior,
    ReconGeneration,
    ReferencePriorFusion,
    SpyNet,
    adapt_reference_feature,
    feature_adaptors,
    hyper_transforms,
    multiscale_flow,
    quadtree_net,
    warp,
)
from ..rate import RateSpec
from ..training import Stage, TrainingRecipe
from ..training.cascade import DECODED_FLOW, ESTIMATED_FLOW, WARPED_FRAME
from .codec import VideoCodec
from .dcvc_dc_config import DCVCDCConfig
from .intra import DCVCDCIntra

__all__ = [
    "DCVCDC",
    "DCVCDCTiny",
    "DCVCDCConfig",
    "DCVCDCInter",
    "DCVC_DC_LAMBDAS",
    "MOTION_PARAMETERS",
    "CONTEXTUAL_PARAMETERS",
    "default_stages",
    "default_recipe",
]

DCVC_DC_LAMBDAS: tuple[float, ...] = (85.0, 170.0, 380.0, 840.0)
"""lambda of qualities 0..3: [choice] OpenDCVCs' DCVC-DC values (MSE on [0, 1] frames)."""

MOTION_PARAMETERS: tuple[str, ...] = ("inter.flow.*", "inter.mv_*")
"""The motion branch (parameter group "motion"): SpyNet, motion encoder / decoder / hyperprior / prior / q-scales."""

CONTEXTUAL_PARAMETERS: tuple[str, ...] = (
    "inter.feature_*",
    "inter.align.*",
    "inter.context_fusion.*",
    "inter.contextual_*",
    "inter.hyperprior.*",
    "inter.temporal_prior_encoder.*",
    "inter.y_*",
    "inter.recon_generation.*",
)
"""Every P-frame parameter outside the motion branch (parameter group "contextual"): contexts, contextual codec, recon."""


def default_stages() -> list[Stage]:
    """The DCVC family's motion -> reconstruction -> contextual -> all schedule."""
    return [
        Stage("motion", 20000, "motion", ["motion"], frames=2, lr=1e-4),
        Stage("reconstruction", 20000, "reconstruction", ["contextual"], frames=2, lr=1e-4),
        Stage("contextual", 20000, "contextual", ["contextual"], frames=2, lr=1e-4),
        Stage("all", 60000, "all", ["*"], frames=5, lr=1e-4),
    ]


def default_recipe() -> TrainingRecipe:
    """DCVC-DC's training: `default_stages` at the model's lambdas (`DCVC_DC_LAMBDAS`)."""
    return TrainingRecipe(stages=default_stages())


class DCVCDCInter(nn.Module):
    """DCVC-DC's P-frame codec (official `DMC`)."""

    def __init__(self, cfg: DCVCDCConfig = DCVCDCConfig()) -> None:
        super().__init__()
        c1, c2, c4, c8, c16, mv = cfg.ch_1x, cfg.ch_2x, cfg.ch_4x, cfg.ch_8x, cfg.ch_16x, cfg.mv_channels
        self.flow = SpyNet(cfg.flow_levels, cfg.flow_channels)

        self.mv_encoder = MvEncoder(mv)
        self.mv_hyperprior = Hyperprior(*hyper_transforms(mv, cfg.mv_hyper_channels), cfg.mv_hyper_channels, tag="mv_z")
        self.mv_prior_fusion = ReferencePriorFusion(
            without_ref=DepthConvBlock(mv, mv * 2),
            with_ref=DepthConvBlock(mv * 2, mv * 2),
            fuse=nn.Sequential(DepthConvBlock(mv * 2, mv * 3), DepthConvBlock(mv * 3, mv * 3)),
        )
        self.mv_spatial_prior = QuadtreePrior(mv, quadtree_net(mv), distribution="laplace")
        self.mv_decoder = MvDecoder(mv)

        self.feature_adaptor_intra, self.feature_adaptor = feature_adaptors(c1)
        self.feature_extractor = FeatureExtractor(c1, c2, c4)
        self.align = OffsetDiversityAlignment(
            c1, c1 + 3 + 2, c2, cfg.align_groups, cfg.align_offsets, cfg.align_max_residual
        )
        self.context_fusion = MultiScaleContextFusion(c1, c2, c4)

        self.contextual_encoder = ContextualEncoder(c1, c2, c4, c8, c16)
        self.hyperprior = Hyperprior(*hyper_transforms(c16, c16, compact=True), c16, tag="z")
        self.temporal_prior_encoder = nn.Sequential(
            nn.Conv2d(c4, c8, 3, stride=2, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(c8, c16, 3, stride=2, padding=1)
        )
        self.y_prior_fusion = ReferencePriorFusion(
            without_ref=DepthConvBlock(c16 * 2, c16 * 3),
            with_ref=DepthConvBlock(c16 * 3, c16 * 3),
            fuse=nn.Sequential(DepthConvBlock(c16 * 3, c16 * 3), DepthConvBlock(c16 * 3, c16 * 3)),
        )
        self.y_spatial_prior = QuadtreePrior(c16, quadtree_net(c16), distribution="laplace")
        self.contextual_decoder = ContextualDecoder(c2, c4, c8, c16, cfg.residual_channels)
        self.recon_generation = ReconGeneration(c1, cfg.residual_channels, cfg.unet_channels)

        self.mv_q_enc = QScale(mv, cfg.anchors)
        self.mv_q_dec = QScale(mv, cfg.anchors)
        self.y_q_enc = QScale(c2 * 2, cfg.anchors)
        self.y_q_dec = QScale(c2, cfg.anchors)

    def start(self, x_hat: Tensor, index: int) -> DCVCDPB:
        """Buffer after an I frame reconstructed as `x_hat` at display index `index`."""
        return DCVCDPB.after_intra(x_hat, index)

    def reference_features(self, dpb: DCVCDPB) -> tuple[Tensor, Tensor, Tensor]:
        """Multi-scale reference features, adapted by the current frame's position in the cycle."""
        return self.feature_extractor(adapt_reference_feature(dpb, self.feature_adaptor_intra, self.feature_adaptor))

    def temporal_contexts(
        self, features: tuple[Tensor, Tensor, Tensor], frame: Tensor, mv_hat: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Temporal contexts at 1, 1/2 and 1/4 resolution: `features` of `frame` warped by the decoded flow `mv_hat`,
        the full-resolution one aligned by offset diversity, then fused."""
        mv1, mv2, mv4 = multiscale_flow(mv_hat)
        ref1, ref2, ref4 = features
        aux = torch.cat((warp(ref1, mv1), warp(frame, mv1), mv1), dim=1)
        context1 = self.align(ref1, aux, mv1)
        return self.context_fusion(context1, warp(ref2, mv2), warp(ref4, mv4))

    def code_motion(self, x: Tensor | None, dpb: DCVCDPB, quality: int, coder: Coder) -> tuple[Tensor, Tensor, Tensor]:
        """Estimate (x given), code and decode the flow from x to `dpb.frame`.

        Returns: mv_hat (B, 2, H, W), the motion decoder feature (B, mv, H/4, W/4) and the
            motion latent mv_y_hat (B, mv, H/16, W/16).
        """
        batch, _, h, w = dpb.frame.shape
        latent = (h // 16, w // 16)
        flow = None if x is None else self.flow(x, dpb.frame)
        mv_y = None if x is None else self.mv_encoder(flow, dpb.mv_feature, self.mv_q_enc(quality))
        mv_hyper = Hyperprior.crop(self.mv_hyperprior.code(mv_y, latent, coder, batch), latent)
        mv_params = self.mv_prior_fusion((mv_hyper,), dpb.mv_y_hat)
        mv_y_hat = self.mv_spatial_prior.code(mv_y, mv_params, coder, tag="mv_y")
        mv_hat, mv_feature = self.mv_decoder(mv_y_hat, self.mv_q_dec(quality))

        keep_intermediate(coder, WARPED_FRAME, lambda: warp(dpb.frame, mv_hat))  # the motion stage's D
        keep_intermediate(coder, ESTIMATED_FLOW, lambda: flow)  # the flow stage's target
        keep_intermediate(coder, DECODED_FLOW, lambda: mv_hat)
        return mv_hat, mv_feature, mv_y_hat

    def code_latent(self, y: Tensor | None, temporal_prior: Tensor, dpb: DCVCDPB, coder: Coder) -> Tensor:
        """Code the contextual latent y (B, c16, H/16, W/16; None when decoding) with its hyperprior, the
        temporal prior (B, c16, H/16, W/16) and `dpb.y_hat`; returns y_hat."""
        batch, _, h, w = dpb.frame.shape
        latent = (h // 16, w // 16)
        hyper = Hyperprior.crop(self.hyperprior.code(y, latent, coder, batch), latent)
        params = self.y_prior_fusion((temporal_prior, hyper), dpb.y_hat)
        return self.y_spatial_prior.code(y, params, coder, tag="y")

    def code(self, x: Tensor | None, dpb: DCVCDPB, quality: int, coder: Coder) -> tuple[Tensor, DCVCDPB]:
        """Code one P frame padded to a multiple of 16 (x is None when decoding).

        Returns the reconstruction clamped to [0, 1] and the next buffer.
        """
        mv_hat, mv_feature, mv_y_hat = self.code_motion(x, dpb, quality, coder)
        context1, context2, context3 = self.temporal_contexts(self.reference_features(dpb), dpb.frame, mv_hat)
        y = None if x is None else self.contextual_encoder(x, context1, context2, context3, self.y_q_enc(quality))
        y_hat = self.code_latent(y, self.temporal_prior_encoder(context3), dpb, coder)

        residual_feature = self.contextual_decoder(y_hat, context2, context3, self.y_q_dec(quality))
        feature, x_hat = self.recon_generation(residual_feature, context1)
        x_hat = x_hat.clamp(0, 1)
        return x_hat, dpb.advance(
            frame=x_hat, feature=feature, mv_feature=mv_feature, y_hat=y_hat, mv_y_hat=mv_y_hat, mv_hat=mv_hat
        )


DCVC_DC_LAMBDAS: tuple[float, ...] = (85.0, 170.0, 380.0, 840.0)
"""lambda of qualities 0..3 ([choice] OpenDCVCs' values, the default `TrainingRecipe`'s)."""


class DCVCDC(VideoCodec):
    """DCVC-DC (Li, Li, Lu, CVPR 2023): `DCVCDCIntra` + `DCVCDCInter`, qualities 0..3.

    Quality q selects q-scale anchor q of both networks (0 = lowest rate), as the official
    test with four rate points does.

    Args:
        config: widths; None = `default_config()`, the official model's.
        recipe: how to train (see `VideoCodec`); None = `training_recipe()`, the DCVC family's stages.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "dcvc_dc"
    config_class = DCVCDCConfig
    parameter_groups = {**VideoCodec.parameter_groups, "motion": MOTION_PARAMETERS, "contextual": CONTEXTUAL_PARAMETERS}
    lambdas = DCVC_DC_LAMBDAS
    """Training lambda of each q-scale anchor (`rate_for`)."""
    default_config = DCVCDCConfig
    """Builds the config used when none is given (the official widths)."""
    inter_class: type[DCVCDCInter] = DCVCDCInter
    """The P-frame network built from the config (a model extending DCVC-DC's names its subclass)."""

    @staticmethod
    def training_recipe() -> TrainingRecipe:
        """The recipe used when none is given: `default_recipe()`."""
        return default_recipe()

    @classmethod
    def rate_for(cls, config: DCVCDCConfig) -> RateSpec:
        """q-scale anchors 0..config.anchors-1 with `lambdas`; validation samples all of them."""
        return RateSpec.anchors(config.anchors, cls.lambdas)

    def __init__(
        self,
        config: DCVCDCConfig | None = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
    ) -> None:
        config = config or self.default_config()
        super().__init__(
            intra=DCVCDCIntra(config),
            inter=self.inter_class(config),
            rate=self.rate_for(config),
            padding_multiple=16,
            config=config,
            recipe=recipe or self.training_recipe(),
            init_from=init_from,
        )


class DCVCDCTiny(DCVCDC):
    """The demo model `dcvc_dc_tiny`: DCVC-DC at `DCVCDCConfig.tiny()` widths, trained by lvc_zoo.

    Args:
        config: widths; None = `DCVCDCConfig.tiny()`.
        recipe: how to train (see `VideoCodec`); recipes/demo_tiny.yaml is its run.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "dcvc_dc_tiny"
    lambdas = (256.0, 512.0, 1024.0, 2048.0)
    """[choice] recipes/demo_tiny.yaml's doubling ladder: a model this small needs high lambdas."""
    default_config = DCVCDCConfig.tiny
