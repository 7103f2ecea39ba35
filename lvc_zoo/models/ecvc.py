"""ECVC: Exploiting Non-Local Correlations in Multiple Frames for Contextual Video Compression
(Jiang, Li, Zhang, Zhang, CVPR 2025). No official code exists; the spec is shared/design/ecvc.md.

DCVC-DC's P-frame codec (`DCVCDCInter`) with two references, t-1 and t-2 (Fig. 2 of the paper),
composed of the DCVC family's coding steps (`lvc_zoo.layers.inter.DCVCInterCodec`):

    x, dpb.frame ─► code_motion (DCVC-DC, the only motion coded) ─► mv_hat (t -> t-1)
    F_{t-1} ─► feature_extractor ─► warp, offset diversity, fusion ─► local contexts C_{t-1} (1, 1/2, 1/4)
    features of F_{t-2} (kept from frame t-1) ─► warp by dpb.mv_hat (t-1 -> t-2), then by mv_hat ─► t2_refine
        (MSRM, guided by C_{t-1}) ─► local contexts C_{t-2}                  ("successive flow warping", eq. 2)
    x, C_{t-1}, C_{t-2} ─► contextual_encoder (MHLCA of the mid-features over C_{t-1} and C_{t-2} at 1/2, 1/4)
        ─► y ─► hyperprior + temporal prior (C3_{t-1}, C3_{t-2}) + dpb.y_hat ─► quadtree prior ─► y_hat
    y_hat, C_{t-1}, C_{t-2} ─► contextual_decoder (MHLCA of its own mid-features) ─► recon_generation ─► x_hat, F_t

MHLCA (`lvc_zoo.layers.attention`) gives the non-local contexts; its queries are the transforms'
mid-features, built from x in the encoder and from y_hat in the decoder, so the decoder
repeats exactly what the encoder's reconstruction path computed.

ECVC starts as DCVC-DC: every module of DCVC-DC keeps its key, and each new input enters
through a zero-initialised projection (`zero_initialised`) added where DCVC-DC's network
reads its contexts (for a convolution, conv(cat(a, b)) = conv_a(a) + conv_b(b): a widened
layer whose new input slice starts at zero). So ECVC initialised from DCVC-DC weights
(`initialisable_from`) codes exactly as DCVC-DC, with every new module running, and training
moves away from there.

Zoo choices (the paper's Appendix A.3 with widths and Fig. 11 with MSRM are lost):
- [choice] the first P frame after an I frame takes its t-1 reference as t-2 too, with zero
  t-1 flow (`ECVCDPB.features_2` None); the buffer resets at every I frame.
- [choice] the t-2 reference is the t-1 reference as frame t-1 used it (after DCVC-DC's
  adaptor, so the I frame's is `feature_adaptor_intra` of its reconstruction); one
  `feature_extractor` serves both references, so its multi-scale features are kept in the
  buffer rather than extracted twice.
- [choice] MSRM (`MultiScaleRefine`): a coarse-to-fine residual refiner guided by C_{t-1}.
- [inferred] MHLCA at the two scales where DCVC-DC's transforms read contexts, one attention
  per reference, fused with C_{t-2} by a zero-initialised 1x1 convolution (`NonLocalFusion`).
- [choice] DCVC-DC's widths, heads of 16 channels (4 at 1/2, 6 at 1/4 resolution).

Training: `default_recipe` is the DCVC family's multi-stage schedule on Vimeo-90k with the
paper's 6-frame cascade, then PCFS (partial cascaded fine-tuning: one optimizer step per
group of frames, references carried over detached) on 64-frame BVI-DVC clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..coding.estimate import Coder
from ..layers import (
    DCVCDPB,
    Contexts,
    ContextualDecoder,
    ContextualEncoder,
    DepthConvBlock,
    MultiHeadLinearCrossAttention,
    ReconGeneration,
    conv1x1,
    conv3x3,
    in_layout_of,
    multiscale_flow,
    subpel_conv3x3,
    warp,
    zero_initialised,
)
from ..training import Stage, TrainingRecipe
from .codec import VideoCodec
from .dcvc_dc import CONTEXTUAL_PARAMETERS, DCVC_DC_LAMBDAS, MOTION_PARAMETERS, DCVCDC, DCVCDCInter
from .ecvc_config import ECVCConfig

__all__ = [
    "ECVC",
    "ECVCConfig",
    "ECVCDPB",
    "ECVCInter",
    "MultiScaleRefine",
    "NonLocalFusion",
    "default_stages",
    "default_recipe",
]

def default_stages() -> list[Stage]:
    """DCVC-DC's motion -> reconstruction -> contextual -> all schedule with ECVC's 6-frame cascade, then PCFS.

    [choice] The reconstruction and contextual stages code 3 frames (detached references) so
    the t-2 branch meets a real second reference before the cascade; PCFS codes 64-frame
    clips in 8 groups of 8 frames at lr 1e-5 (the paper's counts are lost).
    """
    return [
        Stage("motion", 20000, "motion", ["motion"], frames=2, lr=1e-4),
        Stage("reconstruction", 20000, "reconstruction", ["contextual"], frames=3, lr=1e-4, cascaded=False),
        Stage("contextual", 20000, "contextual", ["contextual"], frames=3, lr=1e-4, cascaded=False),
        Stage("all", 60000, "all", ["inter.*"], frames=6, lr=1e-4),
        Stage("pcfs", 20000, "all", ["inter.*"], frames=64, lr=1e-5, group_size=8),
    ]


def default_recipe() -> TrainingRecipe:
    """ECVC's training (recipes/ecvc.yaml): `default_stages` at DCVC-DC's lambdas."""
    return TrainingRecipe(lambdas=list(DCVC_DC_LAMBDAS), grad_clip=2.0, stages=default_stages())


@dataclass(frozen=True)
class ECVCDPB(DCVCDPB):
    """`DCVCDPB` plus the t-2 reference; `frame`, `feature` and `mv_hat` (the flow t-1 -> t-2) as there.

    Attributes:
        features_2: the multi-scale features (`Contexts` shapes) of the reference frame t-1 was
            coded with: the next frame's t-2 reference, kept as extracted because one
            `feature_extractor` serves both references. None after an I frame (the first P
            frame then takes its t-1 reference twice).
    """

    features_2: Contexts | None = None


class MultiScaleRefine(nn.Module):
    """MSRM [choice]: refines the successively warped t-2 features coarse to fine, guided by the t-1 contexts.

    At 1/4: r3 = w3 + block(fuse(cat(w3, g3))); at 1/2 and 1: r = w + block(fuse(cat(w, g, up(coarser r)))),
    with 1x1 `fuse` convolutions (the `DepthConvBlock` brings the spatial support).
    (B, c1, H, W), (B, c2, H/2, W/2), (B, c4, H/4, W/4) twice -> the same three shapes.
    """

    def __init__(self, c1: int, c2: int, c4: int) -> None:
        super().__init__()
        self.fuse3 = conv1x1(c4 * 2, c4)
        self.refine3 = DepthConvBlock(c4, c4)
        self.up3 = subpel_conv3x3(c4, c2, 2)
        self.fuse2 = conv1x1(c2 * 3, c2)
        self.refine2 = DepthConvBlock(c2, c2)
        self.up2 = subpel_conv3x3(c2, c1, 2)
        self.fuse1 = conv1x1(c1 * 3, c1)
        self.refine1 = DepthConvBlock(c1, c1)

    def forward(self, warped: Contexts, guide: Contexts) -> Contexts:
        (w1, w2, w3), (g1, g2, g3) = warped, guide
        r3 = w3 + self.refine3(self.fuse3(torch.cat((w3, g3), dim=1)))
        r2 = w2 + self.refine2(self.fuse2(torch.cat((w2, g2, self.up3(r3)), dim=1)))
        r1 = w1 + self.refine1(self.fuse1(torch.cat((w1, g1, self.up2(r2)), dim=1)))
        return r1, r2, r3


class NonLocalFusion(nn.Module):
    """A transform's mid-feature with both non-local contexts and the t-2 local context fused in (paper eqs. 3-7).

    feature + fuse(cat(context_t2, MHLCA(feature, context), MHLCA(feature, context_t2))), all
    (B, C, h, w); `fuse` (1x1) starts at zero, so the module starts as the identity.
    """

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.attend_t1 = MultiHeadLinearCrossAttention(channels, channels, heads)
        self.attend_t2 = MultiHeadLinearCrossAttention(channels, channels, heads)
        self.fuse = zero_initialised(conv1x1(channels * 3, channels))

    def forward(self, feature: Tensor, context: Tensor, context_t2: Tensor) -> Tensor:
        non_local = (self.attend_t1(feature, context), self.attend_t2(feature, context_t2))
        return feature + self.fuse(torch.cat((context_t2, *non_local), dim=1))


class MultiReferenceContextualEncoder(ContextualEncoder):
    """DCVC-DC's contextual encoder reading both references: x (B, 3, H, W), contexts -> y (B, c16, H/16, W/16).

    The t-2 context enters `conv1` through `conv1_t2` (zero at the start) and the mid-features at
    1/2 and 1/4 resolution through `NonLocalFusion`.
    """

    def __init__(self, c1: int, c2: int, c4: int, c8: int, c16: int, heads2: int, heads4: int) -> None:
        super().__init__(c1, c2, c4, c8, c16)
        self.conv1_t2 = zero_initialised(nn.Conv2d(c1, c2, 3, stride=2, padding=1))
        self.non_local2 = NonLocalFusion(c2, heads2)
        self.non_local4 = NonLocalFusion(c4, heads4)

    def forward(self, x: Tensor, contexts: Contexts, contexts_t2: Contexts, q: Tensor) -> Tensor:  # type: ignore[override]
        (c1, c2, c3), (d1, d2, d3) = contexts, contexts_t2
        feature = self.conv1(torch.cat((in_layout_of(x, c1), c1), dim=1)) + self.conv1_t2(d1)
        feature = self.res1(torch.cat((self.non_local2(feature, c2, d2), c2), dim=1)) * q
        feature = self.res2(torch.cat((self.non_local4(self.conv2(feature), c3, d3), c3), dim=1))
        return self.conv4(self.conv3(feature))


class MultiReferenceContextualDecoder(ContextualDecoder):
    """DCVC-DC's contextual decoder reading both references: y_hat, contexts -> residual feature (B, out, H, W).

    Its own mid-features (from y_hat alone) query the references at 1/4 and 1/2 resolution.
    """

    def __init__(self, c2: int, c4: int, c8: int, c16: int, out: int, heads2: int, heads4: int) -> None:
        super().__init__(c2, c4, c8, c16, out)
        self.non_local4 = NonLocalFusion(c4, heads4)
        self.non_local2 = NonLocalFusion(c2, heads2)

    def forward(  # type: ignore[override]
        self, y_hat: Tensor, contexts: Contexts, contexts_t2: Contexts, q: Tensor
    ) -> Tensor:
        (_, c2, c3), (_, d2, d3) = contexts, contexts_t2
        feature = self.res1(torch.cat((self.non_local4(self.up2(self.up1(y_hat)), c3, d3), c3), dim=1))
        feature = self.up3(feature) * q
        return self.up4(self.res2(torch.cat((self.non_local2(feature, c2, d2), c2), dim=1)))


class MultiReferenceReconGeneration(ReconGeneration):
    """DCVC-DC's reconstruction generation with the full-resolution t-2 context added by `first_conv_t2` (zero at the start)."""

    def __init__(self, c1: int, residual_channels: int, unet_channels: tuple[int, int, int]) -> None:
        super().__init__(c1, residual_channels, unet_channels)
        self.first_conv_t2 = zero_initialised(conv3x3(c1, c1))

    def forward(  # type: ignore[override]
        self, residual_feature: Tensor, context1: Tensor, context1_t2: Tensor
    ) -> tuple[Tensor, Tensor]:
        feature = self.first_conv(torch.cat((residual_feature, context1), dim=1)) + self.first_conv_t2(context1_t2)
        feature = self.unet_2(self.unet_1(feature))
        return feature, self.recon_conv(feature)


class ECVCInter(DCVCDCInter):
    """ECVC's P-frame codec: `DCVCDCInter` with the t-2 reference, MSRM and MHLCA (see the module docstring)."""

    def __init__(self, cfg: ECVCConfig = ECVCConfig()) -> None:
        head = cfg.attention_head_channels  # ECVCConfig checked that it divides ch_2x and ch_4x
        super().__init__(cfg)
        c1, c2, c4, c8, c16 = cfg.ch_1x, cfg.ch_2x, cfg.ch_4x, cfg.ch_8x, cfg.ch_16x
        heads2, heads4 = c2 // head, c4 // head
        self.t2_refine = MultiScaleRefine(c1, c2, c4)
        self.t2_temporal_prior = zero_initialised(nn.Conv2d(c4, c8, 3, stride=2, padding=1))
        self.contextual_encoder = MultiReferenceContextualEncoder(c1, c2, c4, c8, c16, heads2, heads4)
        self.contextual_decoder = MultiReferenceContextualDecoder(c2, c4, c8, c16, cfg.residual_channels, heads2, heads4)
        self.recon_generation = MultiReferenceReconGeneration(c1, cfg.residual_channels, cfg.unet_channels)

    def start(self, x_hat: Tensor, index: int) -> ECVCDPB:
        """Buffer after an I frame reconstructed as `x_hat` at display index `index` (no t-2 reference)."""
        return ECVCDPB.after_intra(x_hat, index)

    def t2_contexts(self, dpb: ECVCDPB, features: Contexts, mv_hat: Tensor, contexts: Contexts) -> Contexts:
        """Local contexts of the t-2 reference: its features warped by dpb.mv_hat (t-1 -> t-2), then by
        `mv_hat` (t -> t-1), refined by MSRM guided by the t-1 `contexts`.

        Without a t-2 reference (the first P frame) the t-1 reference's `features` stand in, with zero flow.
        """
        if dpb.features_2 is None:
            previous, previous_mv = features, torch.zeros_like(mv_hat)
        else:
            previous, previous_mv = dpb.features_2, dpb.mv_hat
        warped = tuple(
            warp(warp(feature, earlier), later)
            for feature, earlier, later in zip(previous, multiscale_flow(previous_mv), multiscale_flow(mv_hat))
        )
        return self.t2_refine(warped, contexts)

    def joint_temporal_prior(self, context3: Tensor, context3_t2: Tensor) -> Tensor:
        """DCVC-DC's temporal prior encoder with its first convolution widened to the t-2 context: (B, c16, H/16, W/16)."""
        first, activation, last = self.temporal_prior_encoder
        return last(activation(first(context3) + self.t2_temporal_prior(context3_t2)))

    def code(  # type: ignore[override]
        self, x: Tensor | None, dpb: ECVCDPB, quality: int, coder: Coder
    ) -> tuple[Tensor, ECVCDPB]:
        """Code one P frame padded to a multiple of 16 (x is None when decoding).

        Returns the reconstruction clamped to [0, 1] and the next buffer.
        """
        q = self.q_steps(quality)
        mv_hat, mv_feature, mv_y_hat = self.code_motion(x, dpb, quality, q, coder)
        features = self.reference_features(dpb)
        contexts = self.temporal_contexts(features, dpb.frame, mv_hat)
        contexts_t2 = self.t2_contexts(dpb, features, mv_hat, contexts)
        y = None if x is None else self.contextual_encoder(x, contexts, contexts_t2, q.y_enc)
        y_hat = self.code_latent(y, self.joint_temporal_prior(contexts[2], contexts_t2[2]), dpb, quality, coder)

        residual_feature = self.contextual_decoder(y_hat, contexts, contexts_t2, q.y_dec)
        feature, x_hat = self.recon_generation(residual_feature, contexts[0], contexts_t2[0])
        x_hat = x_hat.clamp(0, 1)
        return x_hat, dpb.advance(
            frame=x_hat, feature=feature, features_2=features, mv_feature=mv_feature, y_hat=y_hat,
            mv_y_hat=mv_y_hat, mv_hat=mv_hat,
        )


class ECVC(DCVCDC):
    """ECVC (Jiang et al., CVPR 2025): `DCVCDCIntra` + `ECVCInter`, qualities 0..3 (q-scale anchors, as DCVC-DC).

    A `DCVCDC` with ECVC's P-frame network, config and recipe; [inferred] DCVC-DC's lambdas
    (`DCVC_DC_LAMBDAS`, the paper's are lost). Starts from DCVC-DC weights
    (`initialisable_from`): every DCVC-DC tensor loads and the new modules, zero-projected,
    leave the codec coding as DCVC-DC until trained.

    Args:
        config: widths; None = `ECVCConfig()` (DCVC-DC's official widths).
        recipe: how to train (see `VideoCodec`); None = `default_recipe()`.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "ecvc"
    config_class = ECVCConfig
    default_config = ECVCConfig
    inter_class = ECVCInter
    initialisable_from = ("dcvc_dc",)
    parameter_groups = {
        **VideoCodec.parameter_groups,
        "motion": MOTION_PARAMETERS,
        "contextual": (*CONTEXTUAL_PARAMETERS, "inter.t2_*"),
    }

    @staticmethod
    def training_recipe() -> TrainingRecipe:
        """The recipe used when none is given: `default_recipe()` (recipes/ecvc.yaml)."""
        return default_recipe()

    def __init__(
        self, config: ECVCConfig | None = None, recipe: TrainingRecipe | None = None, init_from: str | None = None
    ) -> None:
        super().__init__(config, recipe, init_from)  # typed for LightningCLI, which builds `config` from this signature
