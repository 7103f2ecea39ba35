"""DCVC-FM official checkpoints (microsoft/DCVC, DCVC-family/DCVC-FM) -> `lvc_zoo.models.DCVCFM`.

The official release has one I-frame file (`DMCI`) and one P-frame file (`DMC`); both convert
by the rename tables below. Every official parameter is used, so nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..models.dcvc_fm import DCVCFM
from .common import Rule, check_against, rename
from .dcvc_dc import INTER_RULES as DC_INTER_RULES

__all__ = ["INTRA_RULES", "INTER_RULES", "convert"]

INTRA_RULES: tuple[Rule, ...] = (
    (r"(enc|dec|refine)\.(.+)", r"\1.\2"),
    (r"hyper_enc\.(.+)", r"hyperprior.encoder.\1"),
    (r"hyper_dec\.(.+)", r"hyperprior.decoder.\1"),
    (r"bit_estimator_z\.(.+)", r"hyperprior.z_bits.\1"),
    (r"y_prior_fusion\.(.+)", r"prior_fusion.\1"),
    (r"y_spatial_prior_reduction\.(.+)", r"spatial_prior.reduction.\1"),
    (r"y_spatial_prior_adaptor_1\.(.+)", r"spatial_prior.adaptors.0.\1"),
    (r"y_spatial_prior_adaptor_2\.(.+)", r"spatial_prior.adaptors.1.\1"),
    (r"y_spatial_prior_adaptor_3\.(.+)", r"spatial_prior.adaptors.2.\1"),
    (r"y_spatial_prior\.(.+)", r"spatial_prior.net.\1"),
    (r"q_scale_(enc|dec)", r"q_scale_\1"),
)
"""Official `DMCI` key -> key under `DCVCFM.intra`."""

_FLOW_LEVELS = {"8x": 0, "4x": 1, "2x": 2, "1x": 3}

INTER_RULES: tuple[Rule, ...] = (
    *((rf"optic_flow\.me_{name}\.(.+)", rf"flow.levels.{level}.\1") for name, level in _FLOW_LEVELS.items()),
    (r"(mv_y_q_enc|mv_y_q_dec|y_q_enc|y_q_dec)", r"\1"),
    *(rule for rule in DC_INTER_RULES if not rule[0].startswith(("optic_flow", "mv_y_q_", "y_q_"))),
)
"""Official `DMC` key -> key under `DCVCFM.inter`: DCVC-DC's P-frame table (the same module
names), with FM's named SpyNet levels and its plain q tensors."""


def convert(intra: Mapping[str, Tensor], inter: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Official (intra, inter) state_dicts -> a strict-loadable `DCVCFM` state_dict (default widths)."""
    state = rename(intra, INTRA_RULES, (), "intra.")
    state.update(rename(inter, INTER_RULES, (), "inter."))
    with torch.device("meta"):
        expected = DCVCFM().state_dict()
    check_against(state, expected)
    return {k: v.float().contiguous() for k, v in state.items()}
