"""The P-frame coding procedure of the DCVC family (DCVC-DC, DCVC-FM and the models built on them).

    code_motion         x, dpb.frame ─► flow ─► mv_encoder ─► mv_hyperprior ─► mv_prior_fusion
                            ─► mv_spatial_prior ─► mv_y_hat ─► mv_decoder ─► mv_hat
    reference_features  dpb.feature ─► feature_adaptor ─► feature_extractor ─► ref1, ref2, ref4
    temporal_contexts   ref, dpb.frame, mv_hat ─► warp, align [offset diversity], context_fusion
                            ─► ctx1, ctx2, ctx3
                        x, ctx ─► contextual_encoder ─► y
    code_latent         y, temporal_prior_encoder(ctx3) ─► hyperprior + dpb.y_hat ─► y_prior_fusion
                            ─► y_spatial_prior (quadtree) ─► y_hat
                        y_hat, ctx ─► contextual_decoder ─► recon_generation ─► x_hat, feature
                            ─► next dpb

`DCVCInterCodec` runs this procedure once for every paper; a paper's P-frame network subclasses
it, builds the modules above under these attribute names (the official key names map onto them)
and says how a quality becomes the four q multipliers (`q_steps`) and which reference-feature
adaptor each frame position uses (`feature_adaptor_cycle`). Two hooks let a model built on them
add references (`references`: DCVC-LCG's long-term memory) and condition the entropy parameters
(`modulate_prior`: DCVC-LCG's q_index prior); a model with more contexts (ECVC's second
reference) overrides `code` and composes the same steps.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from ..coding.estimate import DECODED_FLOW, ESTIMATED_FLOW, WARPED_FRAME, Coder, keep_intermediate
from .alignment import MultiScaleContextFusion, OffsetDiversityAlignment, multiscale_flow, warp
from .contextual import FEATURE_ADAPTOR_CYCLE, FeatureExtractor, adapt_reference_feature, feature_adaptors
from .dpb import DCVCDPB
from .entropy import Hyperprior
from .layout import in_layout_of

__all__ = ["Contexts", "QSteps", "DCVCInterCodec", "keep_motion_intermediates"]

Contexts = tuple[Tensor, Tensor, Tensor]
"""Temporal contexts (or reference features) at 1, 1/2 and 1/4 resolution:
(B, c1, H, W), (B, c2, H/2, W/2), (B, c4, H/4, W/4)."""


def keep_motion_intermediates(coder: Coder, reference: Tensor, flow: Tensor | None, mv_hat: Tensor) -> None:
    """Hand the coder what training reads of a coded motion (nothing is computed unless it keeps them).

    Args:
        coder: the frame's coder.
        reference: (B, 3, H, W) the reference frame; warped by `mv_hat`, the motion stage's distortion.
        flow: (B, 2, H, W) the estimated flow, the flow stage's target (None when decoding).
        mv_hat: (B, 2, H, W) the decoded flow.
    """
    keep_intermediate(coder, WARPED_FRAME, lambda: warp(reference, mv_hat))
    keep_intermediate(coder, ESTIMATED_FLOW, lambda: flow)
    keep_intermediate(coder, DECODED_FLOW, lambda: mv_hat)


class QSteps(NamedTuple):
    """The four variable-rate multipliers of a DCVC P frame at one quality, each (1, C, 1, 1) or (1, 1, 1, 1)."""

    mv_enc: Tensor
    """Multiplies the motion encoder's 1/2-res features."""
    mv_dec: Tensor
    """Multiplies the motion decoder's 1/2-res features."""
    y_enc: Tensor
    """Multiplies the contextual encoder's 1/2-res features."""
    y_dec: Tensor
    """Multiplies the contextual decoder's 1/2-res features."""


class DCVCInterCodec(nn.Module):
    """Base of the DCVC family's P-frame networks: the coding procedure of the module docstring.

    Subclasses set the modules it names in `__init__` (the temporal-context ones with
    `add_context_modules`) and implement `q_steps`.
    """

    feature_adaptor_cycle: ClassVar[tuple[int, ...]] = FEATURE_ADAPTOR_CYCLE
    """Adaptor index applied to the reference feature of the P frame at display index k: cycle[k % len(cycle)]."""

    def add_context_modules(self, c1: int, c2: int, c4: int, groups: int, offsets: int, max_residual: float) -> None:
        """Set the temporal-context modules every DCVC P frame shares: reference-feature adaptors,
        feature extractor, offset-diversity alignment (hidden width c2) and multi-scale fusion."""
        self.feature_adaptor_intra, self.feature_adaptor = feature_adaptors(c1)
        self.feature_extractor = FeatureExtractor(c1, c2, c4)
        self.align = OffsetDiversityAlignment(c1, c1 + 3 + 2, c2, groups, offsets, max_residual)
        self.context_fusion = MultiScaleContextFusion(c1, c2, c4)

    def q_steps(self, quality: int) -> QSteps:
        """The q multipliers at `quality`."""
        raise NotImplementedError(f"{type(self).__name__} must say how a quality becomes its q multipliers (q_steps).")

    def start(self, x_hat: Tensor, index: int) -> DCVCDPB:
        """Buffer after an I frame reconstructed as `x_hat` at display index `index`."""
        return DCVCDPB.after_intra(x_hat, index)

    def reference_features(self, dpb: DCVCDPB) -> Contexts:
        """Multi-scale reference features, adapted by the current frame's position in the cycle."""
        feature = adapt_reference_feature(dpb, self.feature_adaptor_intra, self.feature_adaptor, self.feature_adaptor_cycle)
        return self.feature_extractor(feature)

    def references(self, dpb: DCVCDPB) -> tuple[Contexts, dict[str, Any]]:
        """The reference features the contexts warp, and the buffer fields coding them renews.

        Here `reference_features` and nothing renewed; a model with more references (DCVC-LCG's
        long-term memory) refines the features and returns its renewed fields for the next buffer.
        """
        return self.reference_features(dpb), {}

    def modulate_prior(self, params: Tensor, quality: int, tag: str) -> Tensor:
        """The entropy parameters of latent `tag` ("mv_y" or "y") before the spatial prior; unchanged here.

        A model conditioning its entropy model on more (DCVC-LCG: the q_index) changes them here.
        """
        return params

    def code_motion(
        self, x: Tensor | None, dpb: DCVCDPB, quality: int, q: QSteps, coder: Coder
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Estimate (x given), code and decode the flow from x to `dpb.frame` at `quality` (its motion q
        multipliers in `q`).

        Returns: mv_hat (B, 2, H, W), the motion decoder feature (B, mv, H/4, W/4) and the
            motion latent mv_y_hat (B, mv, H/16, W/16).
        """
        batch, _, h, w = dpb.frame.shape
        latent = (h // 16, w // 16)
        flow = None if x is None else self.flow(x, dpb.frame)
        mv_y = None if x is None else self.mv_encoder(flow, dpb.mv_feature, q.mv_enc)
        mv_hyper = Hyperprior.crop(self.mv_hyperprior.code(mv_y, latent, coder, batch), latent)
        mv_params = self.modulate_prior(self.mv_prior_fusion((mv_hyper,), dpb.mv_y_hat), quality, "mv_y")
        mv_y_hat = self.mv_spatial_prior.code(mv_y, mv_params, coder, tag="mv_y")
        mv_hat, mv_feature = self.mv_decoder(mv_y_hat, q.mv_dec)

        keep_motion_intermediates(coder, dpb.frame, flow, mv_hat)
        return mv_hat, mv_feature, mv_y_hat

    def temporal_contexts(self, features: Contexts, frame: Tensor, mv_hat: Tensor) -> Contexts:
        """Temporal contexts at 1, 1/2 and 1/4 resolution: `features` of `frame` warped by the decoded
        flow `mv_hat` (B, 2, H, W), the full-resolution one aligned by offset diversity, then fused;
        stored like `features`."""
        ref1, ref2, ref4 = features
        mv1, mv2, mv4 = multiscale_flow(in_layout_of(mv_hat, ref1))
        frame = in_layout_of(frame, ref1)
        aux = torch.cat((warp(ref1, mv1), warp(frame, mv1), mv1), dim=1)
        context1 = self.align(ref1, aux, mv1)
        return self.context_fusion(context1, warp(ref2, mv2), warp(ref4, mv4))

    def code_latent(self, y: Tensor | None, temporal_prior: Tensor, dpb: DCVCDPB, quality: int, coder: Coder) -> Tensor:
        """Code the contextual latent y (B, c16, H/16, W/16; None when decoding) at `quality` with its
        hyperprior, the temporal prior (B, c16, H/16, W/16) and `dpb.y_hat`; returns y_hat."""
        batch, _, h, w = dpb.frame.shape
        latent = (h // 16, w // 16)
        hyper = Hyperprior.crop(self.hyperprior.code(y, latent, coder, batch), latent)
        params = self.modulate_prior(self.y_prior_fusion((temporal_prior, hyper), dpb.y_hat), quality, "y")
        return self.y_spatial_prior.code(y, params, coder, tag="y")

    def code(self, x: Tensor | None, dpb: DCVCDPB, quality: int, coder: Coder) -> tuple[Tensor, DCVCDPB]:
        """Code one P frame padded to a multiple of 16 (x is None when decoding).

        Args:
            x: (B, 3, H, W) frame, or None.
            dpb: the buffer after the previous frame.
            quality: what `q_steps` takes.
            coder: `Estimate` or an entropy coder.
        Returns: the reconstruction clamped to [0, 1] and the next buffer.
        """
        q = self.q_steps(quality)
        mv_hat, mv_feature, mv_y_hat = self.code_motion(x, dpb, quality, q, coder)
        references, renewed = self.references(dpb)
        context1, context2, context3 = self.temporal_contexts(references, dpb.frame, mv_hat)
        y = None if x is None else self.contextual_encoder(x, context1, context2, context3, q.y_enc)
        y_hat = self.code_latent(y, self.temporal_prior_encoder(context3), dpb, quality, coder)

        residual_feature = self.contextual_decoder(y_hat, context2, context3, q.y_dec)
        feature, x_hat = self.recon_generation(residual_feature, context1)
        x_hat = x_hat.clamp(0, 1)
        return x_hat, dpb.advance(
            frame=x_hat, feature=feature, mv_feature=mv_feature, y_hat=y_hat, mv_y_hat=mv_y_hat, mv_hat=mv_hat, **renewed
        )
