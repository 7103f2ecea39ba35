"""SEVC: Augmented Deep Contexts for Spatially Embedded Video Coding (Bian et al., CVPR 2025).

The spatially embedded codec of the paper's Figure 3. Every P frame is coded twice: a base
layer (a DCVC-DC P codec) codes the 4x-downsampled frame and hands three spatial references
to the enhancement layer, which codes the full-resolution frame.

    x ─► imresize(1/4), zero-pad ─► base (DCVCDCInter, own DPB) ─► base recon ─► [base-layer-only output]
                                      │ feature, mv_hat (cropped)     │ y_hat_base
                                      ▼                               ▼
    dpb.frame, feature_adaptor(dpb.feature)           latent_inter_layer_prediction
      ─► inter_layer_prediction (MFCA: motion /         (upsample x4; Swin over [up(y_hat_base),
         texture co-augmentation at 1/4, 1/2, 1;         dpb.ys[0], dpb.ys[1], dpb.ys[2]])
         warp; offset diversity; context fusion)                      │ latent prior
                                      │ ctx1, ctx2, ctx3              │
                                      ▼                               ▼
    x ─► enhancement: contextual_encoder ─► y ─► prior_fusion[number of ys](temporal_prior_encoder(ctx)
         | latent prior) ─► quadtree spatial_prior ─► y_hat ─► contextual_decoder ─► recon_generation
         ─► x_hat, feature ─► next dpb (the base buffer, x_hat, feature, ys = the last three y_hat)

I frames use DCVC-DC's intra codec at full resolution; the base layer's first reference is
imresize(1/4) of its reconstruction *before* the clamp, zero-padded to a multiple of 16.
Every 32 frames (frame k with k % 32 == 1, `FEATURE_REFRESH_INTERVAL`) both layers drop their
propagated feature and rebuild it from the reference frame, as the official test loop does.
The base layer picks its feature adaptor by DCVC-DC's cycle (k % 4), and so does the
enhancement layer.

Frame geometry (official): the frame is replicate-padded to a multiple of 16 (Hp x Wp); the
base layer codes imresize(1/4) of the padded frame, Hp/4 x Wp/4, zero-padded to a multiple
of 16, and its feature, motion and upsampled latent are cropped back to Hp/4 x Wp/4 (the
enhancement layer's 1/4 and 1/16 sizes) before the inter-layer prediction. When the frame
needs no padding this is exactly the official "no padding" branch, and when Hp/4 and Wp/4 are
multiples of 16 exactly its "padded" branch (imresize of the padded frame, nothing cropped).

[choice] Any frame size >= 64x64. The official code breaks when the frame needs padding and
the padded frame is not a multiple of 64 (its base frame is then not a multiple of 16); there
the zoo zero-pads the base frame to a multiple of 16 and crops its outputs back, like the
official no-padding branch. Wherever the official pipeline works, ours is identical.

[choice] Two-layer bitstream: a P frame stores its layers as the chunks "base" and
"enhancement" (I frames keep one "frame" chunk), so `decompress(data, base_layer_only=True)`
decodes the low-resolution video without running the enhancement layer on P frames. The I
frame is still decoded at full resolution, because the base layer's reference is derived
from it. Base-layer output frames are ceil(H/4) x ceil(W/4): the base reconstruction
cropped to the part that images the H x W picture (the I frame: its clamped base reference).

[choice] Estimated bits are reported per layer and latent: "i_y", "i_z" (I frames),
"bl_mv_y", "bl_mv_z", "bl_y", "bl_z" (base layer) and "el_y" (enhancement layer, which has
no hyperprior; the official `EL_codec.bit_estimator_z` is unused and not converted). The
networks tag their own bits (`TaggedCoder`), so training sees the same tags.

Training (Section 3.4; the official repository has no training code): `default_recipe` is
the paper's independent optimisation, the base codec first (parameter groups "base_motion"
and "base", loss "base") and then the augmentative part with the base frozen
("augmentative"), followed by the joint spatial-temporal optimisation ("all" with
`Stage.base_weight` = alpha = 0.05, the base-reconstruction constraint of Eq. 5). The base
layer is the model's lower scalable layer for the objective: its bits carry the prefix
`BASE_TAG_PREFIX` (`SEVC.rate_tags`), and P frames hand the objective their base input, base
reconstruction and warped base reference (`lvc_zoo.training.cascade.BASE_INPUT`,
`BASE_FRAME`, `WARPED_FRAME`), cropped to the base frame before its padding to 16.

    [choice] SEVC's Eq. 4 (independent optimisation) and Eq. 5 (joint optimisation) lost
    their symbols in the paper's text; from the prose around them we use
        base codec (Eq. 4):  L_BL = w_t * lambda * D(x_hat_BL, x_BL) + R_BL
        augmentative part:   L    = w_t * lambda * D(x_hat, x) + R        (base frozen)
        joint (Eq. 5):       L    = w_t * lambda * (D(x_hat, x) + alpha * D(x_hat_BL, x_BL)) + R
    with R_BL the base layer's bpp (per base-frame pixel), R the whole codec's bpp (both
    layers, per full-resolution pixel), w_t the hierarchical frame weight, and
    alpha = 0.05 (Table 6's best BD-rate). `lvc_zoo.training.objective` computes these forms
    as its "base" and "all" losses; the other choices are in the model card.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from ..coding.distributions import Distribution, FactorizedDistribution
from ..coding.estimate import Coder, keep_intermediate
from ..layers import (
    DCVCDPB,
    DPB,
    FEATURE_REFRESH_INTERVAL,
    ContextualDecoder,
    ContextualEncoder,
    DepthConvBlock,
    QScale,
    QuadtreePrior,
    ReconGeneration,
    adapt_reference_feature,
    feature_adaptors,
    quadtree_net,
    warp,
)
from ..layers.resize import imresize
from ..rate import RateSpec
from ..training import Stage, TrainingRecipe
from ..training.cascade import BASE_FRAME, BASE_INPUT, WARPED_FRAME
from .codec import FRAME_CHUNK, CoderMap, VideoCodec
from .dcvc_dc import DCVCDCInter
from .intra import DCVCDCIntra
from .sevc_config import SEVCConfig
from .sevc_prediction import InterLayerPrediction, LatentInterLayerPrediction

__all__ = [
    "SEVC",
    "SEVCConfig",
    "SEVCInter",
    "TwoLayerDPB",
    "EnhancementCodec",
    "TaggedCoder",
    "BASE_LAYER",
    "BASE_CHUNK",
    "ENHANCEMENT_CHUNK",
    "BASE_SCALE",
    "BASE_TAG_PREFIX",
    "INTRA_TAG_PREFIX",
    "ENHANCEMENT_TAG_PREFIX",
    "BASE_PARAMETERS",
    "BASE_MOTION_PARAMETERS",
    "AUGMENTATIVE_PARAMETERS",
    "SEVC_LAMBDAS",
    "BASE_RECONSTRUCTION_WEIGHT",
    "default_recipe",
]

BASE_LAYER = "base"
"""The layer decoding can stop at (`SEVC.layers`): the 4x-downscaled video."""
BASE_CHUNK = "base"
"""Chunk of a P frame that holds its base layer (decodable alone)."""
ENHANCEMENT_CHUNK = "enhancement"
"""Chunk of a P frame that holds its enhancement layer."""
BASE_SCALE = 4
"""The base layer codes the frame downsampled by this factor (MATLAB bicubic imresize)."""
ENHANCEMENT_REFERENCES = 3
"""Previous enhancement latents the spatial-guided latent prior attends to."""
BASE_TAG_PREFIX = "bl_"
"""Prefix of the base layer's rate tags ("bl_mv_y", "bl_mv_z", "bl_y", "bl_z")."""
INTRA_TAG_PREFIX = "i_"
"""Prefix of the I frames' rate tags ("i_y", "i_z")."""
ENHANCEMENT_TAG_PREFIX = "el_"
"""Prefix of the enhancement layer's rate tags ("el_y")."""

BASE_PARAMETERS: tuple[str, ...] = ("inter.base.*",)
"""The base codec (parameter group "base"; a DCVC-DC P-frame codec of the 4x-downscaled frame)."""
BASE_MOTION_PARAMETERS: tuple[str, ...] = ("inter.base.flow.*", "inter.base.mv_*")
"""The base codec's motion branch (parameter group "base_motion": SpyNet and the motion codec), trained first."""
AUGMENTATIVE_PARAMETERS: tuple[str, ...] = (
    "inter.inter_layer_prediction.*",
    "inter.latent_inter_layer_prediction.*",
    "inter.enhancement.*",
    "inter.feature_adaptor*",
)
"""The augmentative part (parameter group "augmentative"): every P-frame parameter outside the base codec
(MFCA, latent prior, EL, adaptors)."""
SEVC_LAMBDAS: tuple[float, ...] = (50.0, 95.0, 200.0, 400.0)
"""lambda of qualities 0..3 (Section 4.1)."""
BASE_RECONSTRUCTION_WEIGHT = 0.05
"""alpha of Eq. 5, the base-reconstruction constraint of the joint optimisation ([choice]: Table 6's best BD-rate)."""

def _pad_zeros(x: Tensor, multiple: int) -> Tensor:
    """Zero-pad (B, C, H, W) on the right and bottom to a multiple of `multiple`."""
    h, w = x.shape[-2:]
    return nn.functional.pad(x, (0, -w % multiple, 0, -h % multiple))


def base_layer_input(x: Tensor) -> Tensor:
    """The base layer's frame: imresize(x, 1/4) zero-padded to a multiple of 16.

    Args:
        x: (B, 3, Hp, Wp) frame (or unclamped I reconstruction) padded to a multiple of 16.
    Returns: (B, 3, ceil16(Hp/4), ceil16(Wp/4)).
    """
    return _pad_zeros(imresize(x, 1 / BASE_SCALE), 16)


class TaggedCoder:
    """A `Coder` that forwards to `coder` with `prefix` added to every tag ("y" -> "bl_y").

    It hides an `Estimate`'s `keep_intermediate` requests, so `SEVCInter.code` hands its
    intermediates to the untagged coder itself.
    """

    def __init__(self, coder: Coder, prefix: str) -> None:
        self.coder = coder
        self.prefix = prefix

    def code_factorized(self, z: Tensor | None, estimator: FactorizedDistribution, shape: Sequence[int], tag: str) -> Tensor:
        return self.coder.code_factorized(z, estimator, shape, self.prefix + tag)

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        return self.coder.code_conditional(residual, scales, mask, distribution, self.prefix + tag)


@dataclass(frozen=True, kw_only=True)
class TwoLayerDPB(DPB):
    """Decoded-picture buffer of SEVC: the enhancement layer's `DPB` plus the base layer's own buffer.

    Shapes with the official widths for a frame padded to Hp x Wp.

    Attributes:
        frame: (B, 3, Hp, Wp) clamped; None when decoding the base layer only.
        feature: (B, 48, Hp, Wp); None after an I frame or a refresh.
        index: display index of `frame` in the sequence.
        base: the base layer's buffer at ceil16(Hp/4) x ceil16(Wp/4).
        ys: the last enhancement latents (B, 128, Hp/16, Wp/16), oldest first; None before they exist.
    """

    frame: Tensor | None
    base: DCVCDPB
    ys: tuple[Tensor | None, ...] = (None,) * ENHANCEMENT_REFERENCES

    @property
    def base_only(self) -> bool:
        """Whether only the base layer is being decoded."""
        return self.frame is None

    def refreshed(self) -> TwoLayerDPB:
        """The buffer with both layers' propagated features dropped (rebuilt from the frames)."""
        return replace(self, base=self.base.refreshed(), feature=None)


class MultiScaleContextEncoder(nn.Module):
    """Temporal prior of the enhancement layer: ctx1, ctx2, ctx3 -> (B, C16, H/16, W/16).

    The official `ConetxtEncoder`: stride-2 convs with LeakyReLU(0.1), concatenating the
    next context at 1/2 and 1/4 resolution.
    """

    def __init__(self, cfg: SEVCConfig) -> None:
        super().__init__()
        c1, c2, c4, c8, c16 = cfg.ch_1x, cfg.ch_2x, cfg.ch_4x, cfg.ch_8x, cfg.ch_16x
        self.enc1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(c2 * 2, c4, 3, stride=2, padding=1)
        self.enc3 = nn.Conv2d(c4 * 2, c8, 3, stride=2, padding=1)
        self.enc4 = nn.Conv2d(c8, c16, 3, stride=2, padding=1)

    def forward(self, context1: Tensor, context2: Tensor, context3: Tensor) -> Tensor:
        act = nn.functional.leaky_relu
        feature = act(self.enc1(context1), 0.1)
        feature = act(self.enc2(torch.cat((context2, feature), dim=1)), 0.1)
        feature = act(self.enc3(torch.cat((context3, feature), dim=1)), 0.1)
        return self.enc4(feature)


class LatentPriorFusion(nn.Module):
    """cat(temporal prior, latent prior) -> adaptors[n] -> fuse -> (B, 3 C16, h, w) quadtree parameters.

    `adaptors[n]` is chosen by the number n (0..3) of previous enhancement latents.
    """

    def __init__(self, channels: int, references: int = ENHANCEMENT_REFERENCES) -> None:
        super().__init__()
        c = channels
        self.adaptors = nn.ModuleList(DepthConvBlock(c * 2, c * 2) for _ in range(references + 1))
        self.fuse = nn.Sequential(DepthConvBlock(c * 2, c * 3), DepthConvBlock(c * 3, c * 3))

    def forward(self, temporal_prior: Tensor, latent_prior: Tensor, references: int) -> Tensor:
        return self.fuse(self.adaptors[references](torch.cat((temporal_prior, latent_prior), dim=1)))


class EnhancementCodec(nn.Module):
    """The enhancement layer (official `EL`): a contextual codec without a hyperprior.

    Its entropy parameters come from the contexts (`temporal_prior_encoder`) and the
    spatial-guided latent prior only; Laplace conditionals; the reconstruction is not clamped.
    """

    def __init__(self, cfg: SEVCConfig) -> None:
        super().__init__()
        c1, c2, c4, c8, c16 = cfg.ch_1x, cfg.ch_2x, cfg.ch_4x, cfg.ch_8x, cfg.ch_16x
        self.contextual_encoder = ContextualEncoder(c1, c2, c4, c8, c16)
        self.temporal_prior_encoder = MultiScaleContextEncoder(cfg)
        self.prior_fusion = LatentPriorFusion(c16)
        self.spatial_prior = QuadtreePrior(c16, quadtree_net(c16), distribution="laplace")
        self.contextual_decoder = ContextualDecoder(c2, c4, c8, c16, cfg.residual_channels)
        self.recon_generation = ReconGeneration(c1, cfg.residual_channels, cfg.unet_channels)
        self.y_q_enc = QScale(c2 * 2, cfg.anchors)
        self.y_q_dec = QScale(c2, cfg.anchors)

    def code(
        self,
        x: Tensor | None,
        contexts: tuple[Tensor, Tensor, Tensor],
        latent_prior: Tensor,
        references: int,
        quality: int,
        coder: Coder,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Code one padded frame (x is None when decoding).

        Args:
            x: (B, 3, H, W) frame, H and W multiples of 16, or None.
            contexts: (B, C1, H, W), (B, C2, H/2, W/2), (B, C4, H/4, W/4).
            latent_prior: (B, C16, H/16, W/16) spatial-guided latent prior.
            references: number (0..3) of previous enhancement latents behind the prior.
            quality: q-scale anchor.
            coder: the layer's coder (tag "y").
        Returns: unclamped reconstruction (B, 3, H, W), feature (B, C1, H, W), y_hat (B, C16, H/16, W/16).
        """
        context1, context2, context3 = contexts
        y = None if x is None else self.contextual_encoder(x, context1, context2, context3, self.y_q_enc(quality))
        params = self.prior_fusion(self.temporal_prior_encoder(context1, context2, context3), latent_prior, references)
        y_hat = self.spatial_prior.code(y, params, coder, tag="y")
        residual_feature = self.contextual_decoder(y_hat, context2, context3, self.y_q_dec(quality))
        feature, x_hat = self.recon_generation(residual_feature, context1)
        return x_hat, feature, y_hat


class SEVCInter(nn.Module):
    """SEVC's P-frame network (official `DMC`): base layer, inter-layer predictions, enhancement layer."""

    def __init__(self, cfg: SEVCConfig = SEVCConfig()) -> None:
        super().__init__()
        c1 = cfg.ch_1x
        self.base = DCVCDCInter(cfg)
        self.inter_layer_prediction = InterLayerPrediction(c1, cfg.ch_2x, cfg.ch_4x, cfg.refine_rounds, cfg.align_groups)
        self.latent_inter_layer_prediction = LatentInterLayerPrediction(
            cfg.ch_16x, cfg.swin_depths, cfg.swin_heads, cfg.swin_window, cfg.swin_mlp_ratio
        )
        self.enhancement = EnhancementCodec(cfg)
        self.feature_adaptor_intra, self.feature_adaptor = feature_adaptors(c1)

    def start(self, x_hat: Tensor, index: int, base_only: bool = False) -> TwoLayerDPB:
        """Buffer after an I frame whose reconstruction before the clamp is `x_hat` (B, 3, Hp, Wp).

        The base reference is `base_layer_input(x_hat)`; the enhancement reference is x_hat
        clamped to [0, 1] (None when decoding the base layer only).
        """
        base = self.base.start(base_layer_input(x_hat), index)
        return TwoLayerDPB(base=base, frame=None if base_only else x_hat.clamp(0, 1), index=index)

    def reference_feature(self, dpb: TwoLayerDPB) -> Tensor:
        """The enhancement layer's (B, C1, Hp, Wp) reference feature, adapted as the base layer's."""
        return adapt_reference_feature(dpb, self.feature_adaptor_intra, self.feature_adaptor)

    def code(
        self, x: Tensor | None, dpb: TwoLayerDPB, quality: int, coder: Coder, enhancement_coder: Coder | None = None
    ) -> tuple[Tensor, TwoLayerDPB]:
        """Code one P frame padded to a multiple of 16 (x is None when decoding).

        Args:
            x: (B, 3, Hp, Wp) or None.
            dpb: the buffer after the previous frame; a base-only buffer (see `start`) runs
                only the base layer.
            quality: q-scale anchor of all three codecs.
            coder: the base layer's coder, and the enhancement layer's unless
                `enhancement_coder` is given (the two-layer bitstream gives each layer its own).
            enhancement_coder: the enhancement layer's coder.
        Returns: the clamped reconstruction (the enhancement layer's (B, 3, Hp, Wp), or the base
            layer's when decoding it alone) and the next buffer.

        The base layer's bits are tagged "bl_*", the enhancement layer's "el_*". An `Estimate`
        `coder` that asks for them receives, cropped to the base frame before its padding
        (Hp/4 x Wp/4), the base input (`BASE_INPUT`), the clamped base reconstruction
        (`BASE_FRAME`) and the warped base reference (`WARPED_FRAME`), for the training losses.
        """
        dpb = dpb.refreshed_every(FEATURE_REFRESH_INTERVAL)
        base_input = None if x is None else base_layer_input(x)
        base_hat, base = self.base.code(base_input, dpb.base, quality, TaggedCoder(coder, BASE_TAG_PREFIX))
        if dpb.base_only:
            return base_hat, dpb.advance(base=base)

        h, w = dpb.frame.shape[-2:]
        hb, wb = h // BASE_SCALE, w // BASE_SCALE  # the base frame before its padding to 16
        keep_intermediate(coder, BASE_INPUT, lambda: base_input[..., :hb, :wb])
        keep_intermediate(coder, BASE_FRAME, lambda: base_hat[..., :hb, :wb])
        keep_intermediate(coder, WARPED_FRAME, lambda: warp(dpb.base.frame, base.mv_hat)[..., :hb, :wb])
        contexts = self.inter_layer_prediction(
            base.feature[..., :hb, :wb], base.mv_hat[..., :hb, :wb], self.reference_feature(dpb), dpb.frame
        )
        latent_prior = self.latent_inter_layer_prediction(base.y_hat, dpb.ys, (hb // 4, wb // 4))
        references = sum(y is not None for y in dpb.ys)
        enhancement_coder = TaggedCoder(coder if enhancement_coder is None else enhancement_coder, ENHANCEMENT_TAG_PREFIX)
        x_hat, feature, y_hat = self.enhancement.code(x, contexts, latent_prior, references, quality, enhancement_coder)
        x_hat = x_hat.clamp(0, 1)
        return x_hat, dpb.advance(base=base, frame=x_hat, feature=feature, ys=(*dpb.ys[1:], y_hat))


def default_recipe() -> TrainingRecipe:
    """SEVC's training (Section 3.4 and 4.1): base codec, then augmentative part, then joint.

    [choice] The paper gives the order, what is frozen, the losses' shape, lambdas, batch 8,
    crops and clip lengths (6 frames independent, 32 joint) but no step counts or learning
    rates; ours are round numbers, and the base codec's own multi-stage training ("the
    multi-stage training strategy [50]") is reduced to a motion warm-up before the "base" loss.
    `recipes/sevc.yaml` spells out the same schedule.
    """
    return TrainingRecipe(
        lambdas=list(SEVC_LAMBDAS),
        stages=[
            Stage("base_motion", 20000, "motion", ["base_motion"], frames=2, lr=1e-4),
            Stage("base", 60000, "base", ["base"], frames=6, lr=1e-4),
            Stage("augmentative", 60000, "all", ["augmentative"], frames=6, lr=1e-4),
            Stage("joint", 20000, "all", ["inter"], frames=32, lr=1e-5, base_weight=BASE_RECONSTRUCTION_WEIGHT),
        ],
    )


class SEVC(VideoCodec):
    """SEVC (Bian et al., CVPR 2025): `DCVCDCIntra` + `SEVCInter`, qualities 0..3.

    Quality q selects q-scale anchor q of the I-frame codec and of both layers, as the
    official test with four rate points does (the I and P frames share the index).

    Args:
        config: widths; None = the official model's.
        recipe: how to train (see `VideoCodec`); None = `default_recipe()`, the paper's stages.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "sevc"
    config_class = SEVCConfig
    layers = (BASE_LAYER,)
    channels_last_modules = (
        "inter.feature_adaptor_intra",
        "inter.feature_adaptor",
        "inter.enhancement",
        "inter.inter_layer_prediction",
        "inter.latent_inter_layer_prediction",
    )
    """[choice] The enhancement layer, its reference-feature adaptors and the inter-layer
    prediction, where nearly all of a P frame's work is; the base layer and the I-frame codec
    stay contiguous: the base layer's rate is small and sensitive, and the numbers snapshot pins
    it to 1e-6."""
    parameter_groups = {
        **VideoCodec.parameter_groups,
        "base": BASE_PARAMETERS,
        "base_motion": BASE_MOTION_PARAMETERS,
        "augmentative": AUGMENTATIVE_PARAMETERS,
    }
    rate_tags = replace(VideoCodec.rate_tags, layer=BASE_TAG_PREFIX)

    @classmethod
    def rate_for(cls, config: SEVCConfig) -> RateSpec:
        """q-scale anchors 0..config.anchors-1 with `SEVC_LAMBDAS`; validation samples all of them."""
        return RateSpec.anchors(config.anchors, SEVC_LAMBDAS)

    def __init__(
        self,
        config: SEVCConfig | None = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
    ) -> None:
        config = config or SEVCConfig()
        recipe = recipe or default_recipe()
        super().__init__(
            intra=DCVCDCIntra(config),
            inter=SEVCInter(config),
            rate=self.rate_for(config),
            padding_multiple=16,
            config=config,
            recipe=recipe,
            init_from=init_from,
        )

    def chunk_names(self, frame_type: str, layer: str | None = None) -> tuple[str, ...]:
        """I frames code one `FRAME_CHUNK`; P frames a base and an enhancement chunk (the base alone up to "base")."""
        if frame_type == "I":
            return (FRAME_CHUNK,)
        return (BASE_CHUNK,) if layer == BASE_LAYER else (BASE_CHUNK, ENHANCEMENT_CHUNK)

    @classmethod
    def output_size(cls, size: tuple[int, int], layer: str | None = None) -> tuple[int, int]:
        """(H, W), or (ceil(H/4), ceil(W/4)) for the base layer: the part of it that images the picture."""
        if layer == BASE_LAYER:
            return -(-size[0] // BASE_SCALE), -(-size[1] // BASE_SCALE)
        return size

    def code_intra(
        self, x: Tensor | None, size: tuple[int, int], quality: int, coders: CoderMap, index: int, layer: str | None = None
    ) -> tuple[Tensor, TwoLayerDPB]:
        """Code an I frame and start both layers' buffers from it.

        Args:
            x: (B, 3, Hp, Wp) frame padded to a multiple of 16, or None when decoding.
            size: (Hp, Wp).
            quality: q-scale anchor.
            coders: the frame's coders; `FRAME_CHUNK`'s records tags "i_y", "i_z".
            index: display index of the frame.
            layer: `BASE_LAYER` starts a base-only buffer (decoding the base layer alone).
        Returns: the clamped reconstruction ((B, 3, Hp, Wp), or the clamped base reference
            when decoding the base layer) and the buffer. The base reference is derived from
            the reconstruction before the clamp, as in the official code.
        """
        x_hat = self.intra.reconstruct(x, size, quality, TaggedCoder(coders[FRAME_CHUNK], INTRA_TAG_PREFIX))
        base_only = layer == BASE_LAYER
        dpb = self.inter.start(x_hat, index, base_only=base_only)
        return (dpb.base.frame.clamp(0, 1) if base_only else dpb.frame), dpb

    def code_inter(
        self, x: Tensor | None, dpb: TwoLayerDPB, quality: int, coders: CoderMap, layer: str | None = None
    ) -> tuple[Tensor, TwoLayerDPB]:
        """Code a P frame: its base layer into `BASE_CHUNK`, its enhancement layer into `ENHANCEMENT_CHUNK`.

        A base-only buffer (see `code_intra`) runs the base layer alone.
        """
        return self.inter.code(x, dpb, quality, coders[BASE_CHUNK], coders.get(ENHANCEMENT_CHUNK))

    def decode_frames(self, data: bytes, layer: str | None = None, base_layer_only: bool = False) -> Iterator[Tensor]:
        """`VideoCodec.decode_frames`; `base_layer_only=True` is `layer=BASE_LAYER`.

        Decoding the base layer gives the low-resolution video, (1, 3, ceil(H/4), ceil(W/4))
        per frame, without running the enhancement layer on P frames. I frames are still
        decoded at full resolution, because the base layer's reference is derived from them.
        """
        return super().decode_frames(data, BASE_LAYER if base_layer_only else layer)

    def decompress(self, data: bytes, layer: str | None = None, base_layer_only: bool = False) -> Tensor:
        """`VideoCodec.decompress`; `base_layer_only=True` returns the base-layer video (see `decode_frames`)."""
        return super().decompress(data, BASE_LAYER if base_layer_only else layer)
