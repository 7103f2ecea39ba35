"""DCVC-DC official checkpoints (microsoft/DCVC, DCVC-family/DCVC-DC) -> `lvc_zoo.models.DCVCDC`.

The official release has one I-frame file (`IntraNoAR`) and one P-frame file (`DMC`); both
convert by the rename tables below. Every official parameter is used by the model, so
nothing is dropped (`DROPPED` is empty on purpose; the test checks that each official key
is either renamed or listed there).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..models.dcvc_dc import DCVCDC
from .common import Rule, check_against, rename

__all__ = ["INTRA_RULES", "INTER_RULES", "DROPPED_INTRA", "DROPPED_INTER", "convert"]

INTRA_RULES: tuple[Rule, ...] = (
    (r"enc\.(.+)", r"enc.\1"),
    (r"hyper_enc\.(.+)", r"hyperprior.encoder.\1"),
    (r"hyper_dec\.(.+)", r"hyperprior.decoder.\1"),
    (r"bit_estimator_z\.(.+)", r"hyperprior.z_bits.\1"),
    (r"y_prior_fusion\.(.+)", r"prior_fusion.\1"),
    (r"y_spatial_prior_adaptor_1\.(.+)", r"spatial_prior.adaptors.0.\1"),
    (r"y_spatial_prior_adaptor_2\.(.+)", r"spatial_prior.adaptors.1.\1"),
    (r"y_spatial_prior_adaptor_3\.(.+)", r"spatial_prior.adaptors.2.\1"),
    (r"y_spatial_prior\.(.+)", r"spatial_prior.net.\1"),
    (r"dec\.(.+)", r"dec.\1"),
    (r"refine\.(.+)", r"refine.\1"),
    (r"q_basic_(enc|dec)", r"q_\1.basic"),
    (r"q_scale_(enc|dec)", r"q_\1.scale"),
)
"""Official `IntraNoAR` key -> key under `DCVCDC.intra`."""

INTER_RULES: tuple[Rule, ...] = (
    (r"optic_flow\.moduleBasic\.(\d+)\.(.+)", r"flow.levels.\1.\2"),
    (r"mv_hyper_prior_encoder\.(.+)", r"mv_hyperprior.encoder.\1"),
    (r"mv_hyper_prior_decoder\.(.+)", r"mv_hyperprior.decoder.\1"),
    (r"bit_estimator_z_mv\.(.+)", r"mv_hyperprior.z_bits.\1"),
    (r"mv_y_prior_fusion_adaptor_0\.(.+)", r"mv_prior_fusion.without_ref.\1"),
    (r"mv_y_prior_fusion_adaptor_1\.(.+)", r"mv_prior_fusion.with_ref.\1"),
    (r"mv_y_prior_fusion\.(.+)", r"mv_prior_fusion.fuse.\1"),
    (r"mv_y_spatial_prior_adaptor_1\.(.+)", r"mv_spatial_prior.adaptors.0.\1"),
    (r"mv_y_spatial_prior_adaptor_2\.(.+)", r"mv_spatial_prior.adaptors.1.\1"),
    (r"mv_y_spatial_prior_adaptor_3\.(.+)", r"mv_spatial_prior.adaptors.2.\1"),
    (r"mv_y_spatial_prior\.(.+)", r"mv_spatial_prior.net.\1"),
    (r"mv_y_q_basic_(enc|dec)", r"mv_q_\1.basic"),
    (r"mv_y_q_scale_(enc|dec)", r"mv_q_\1.scale"),
    (r"(mv_encoder|mv_decoder|align|feature_adaptor|feature_extractor)\.(.+)", r"\1.\2"),
    (r"feature_adaptor_I\.(.+)", r"feature_adaptor_intra.\1"),
    (r"context_fusion_net\.(.+)", r"context_fusion.\1"),
    (r"(contextual_encoder|contextual_decoder|temporal_prior_encoder)\.(.+)", r"\1.\2"),
    (r"contextual_hyper_prior_encoder\.(.+)", r"hyperprior.encoder.\1"),
    (r"contextual_hyper_prior_decoder\.(.+)", r"hyperprior.decoder.\1"),
    (r"bit_estimator_z\.(.+)", r"hyperprior.z_bits.\1"),
    (r"y_prior_fusion_adaptor_0\.(.+)", r"y_prior_fusion.without_ref.\1"),
    (r"y_prior_fusion_adaptor_1\.(.+)", r"y_prior_fusion.with_ref.\1"),
    (r"y_prior_fusion\.(.+)", r"y_prior_fusion.fuse.\1"),
    (r"y_spatial_prior_adaptor_1\.(.+)", r"y_spatial_prior.adaptors.0.\1"),
    (r"y_spatial_prior_adaptor_2\.(.+)", r"y_spatial_prior.adaptors.1.\1"),
    (r"y_spatial_prior_adaptor_3\.(.+)", r"y_spatial_prior.adaptors.2.\1"),
    (r"y_spatial_prior\.(.+)", r"y_spatial_prior.net.\1"),
    (r"recon_generation_net\.(.+)", r"recon_generation.\1"),
    (r"y_q_basic_(enc|dec)", r"y_q_\1.basic"),
    (r"y_q_scale_(enc|dec)", r"y_q_\1.scale"),
)
"""Official `DMC` key -> key under `DCVCDC.inter`."""

DROPPED_INTRA: tuple[str, ...] = ()
"""Official I-frame keys the zoo does not use: none (every parameter is used)."""

DROPPED_INTER: tuple[str, ...] = ()
"""Official P-frame keys the zoo does not use: none (every parameter is used)."""


def convert(intra: Mapping[str, Tensor], inter: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Official (intra, inter) state_dicts -> a strict-loadable `DCVCDC` state_dict (default widths)."""
    state = rename(intra, INTRA_RULES, DROPPED_INTRA, "intra.")
    state.update(rename(inter, INTER_RULES, DROPPED_INTER, "inter."))
    with torch.device("meta"):
        expected = DCVCDC().state_dict()
    check_against(state, expected)
    return {k: v.float().contiguous() for k, v in state.items()}
