"""SEVC official checkpoints (EsakaK/SEVC) -> `lvc_zoo.models.SEVC`.

The official release has one I-frame file (`IntraNoAR`, DCVC-DC's intra codec) and one
P-frame file (`DMC`). The P-frame keys fall into groups by their first component; each group
converts by its own rename table onto one submodule of `SEVCInter`:

    BL_codec.*        -> inter.base.*                           (DCVC-DC's P codec: `dcvc_dc.INTER_RULES`)
    ILP.*             -> inter.inter_layer_prediction.*         (`sevc_prediction.ILP_RULES`)
    latent_ILP.*      -> inter.latent_inter_layer_prediction.*  (`sevc_prediction.LATENT_ILP_RULES`)
    EL_codec.*        -> inter.enhancement.*                    (`ENHANCEMENT_RULES`)
    feature_adaptor*  -> inter.feature_adaptor*                 (`ADAPTOR_RULES`)

`DROPPED_INTER` lists every official key that is not converted: the enhancement layer's
hyperprior bit estimator (704 parameters; the layer has no hyperprior, so the official
forward never uses it), the latent prior's unused input convolutions (221,440 parameters)
and the 16 Swin `relative_position_index` buffers, which the model derives itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..errors import ConversionError
from ..models.sevc import SEVC
from .common import Rule, check_against, rename
from .dcvc_dc import DROPPED_INTRA, INTER_RULES, INTRA_RULES
from .sevc_prediction import DROPPED_LATENT_ILP, ILP_RULES, LATENT_ILP_RULES

__all__ = ["ENHANCEMENT_RULES", "ADAPTOR_RULES", "INTER_GROUPS", "DROPPED_ENHANCEMENT", "DROPPED_INTER", "convert"]

ENHANCEMENT_RULES: tuple[Rule, ...] = (
    (r"(contextual_encoder|contextual_decoder|temporal_prior_encoder)\.(.+)", r"\1.\2"),
    (r"y_prior_fusion_adaptor_(\d)\.(.+)", r"prior_fusion.adaptors.\1.\2"),
    (r"y_prior_fusion\.(.+)", r"prior_fusion.fuse.\1"),
    (r"y_spatial_prior_adaptor_1\.(.+)", r"spatial_prior.adaptors.0.\1"),
    (r"y_spatial_prior_adaptor_2\.(.+)", r"spatial_prior.adaptors.1.\1"),
    (r"y_spatial_prior_adaptor_3\.(.+)", r"spatial_prior.adaptors.2.\1"),
    (r"y_spatial_prior\.(.+)", r"spatial_prior.net.\1"),
    (r"recon_generation_net\.(.+)", r"recon_generation.\1"),
    (r"y_q_basic_(enc|dec)", r"y_q_\1.basic"),
    (r"y_q_scale_(enc|dec)", r"y_q_\1.scale"),
)
"""Official key under `EL_codec.` -> key of `EnhancementCodec`."""

ADAPTOR_RULES: tuple[Rule, ...] = (
    (r"feature_adaptor_I\.(weight|bias)", r"feature_adaptor_intra.\1"),
    (r"feature_adaptor\.(\d)\.(weight|bias)", r"feature_adaptor.\1.\2"),
)
"""Official top-level `DMC` keys (the enhancement layer's reference-feature adaptors) -> `SEVCInter`."""

DROPPED_ENHANCEMENT: tuple[str, ...] = (
    "bit_estimator_z.f1.h", "bit_estimator_z.f1.b", "bit_estimator_z.f1.a",
    "bit_estimator_z.f2.h", "bit_estimator_z.f2.b", "bit_estimator_z.f2.a",
    "bit_estimator_z.f3.h", "bit_estimator_z.f3.b", "bit_estimator_z.f3.a",
    "bit_estimator_z.f4.h", "bit_estimator_z.f4.b",
)
"""Official keys under `EL_codec.` not converted: the unused hyperprior bit estimator (704 parameters)."""

INTER_GROUPS: tuple[tuple[str, str, tuple[Rule, ...], tuple[str, ...]], ...] = (
    ("BL_codec.", "inter.base.", INTER_RULES, ()),
    ("ILP.", "inter.inter_layer_prediction.", ILP_RULES, ()),
    ("latent_ILP.", "inter.latent_inter_layer_prediction.", LATENT_ILP_RULES, DROPPED_LATENT_ILP),
    ("EL_codec.", "inter.enhancement.", ENHANCEMENT_RULES, DROPPED_ENHANCEMENT),
    ("", "inter.", ADAPTOR_RULES, ()),
)
"""(official prefix, lvc_zoo prefix, rules for the rest of the key, dropped keys under the prefix);
a key belongs to the first group whose prefix it starts with."""

DROPPED_INTER: tuple[str, ...] = tuple(prefix + key for prefix, _, _, dropped in INTER_GROUPS for key in dropped)
"""Every official P-frame key that is not converted (full official names)."""


def convert(intra: Mapping[str, Tensor], inter: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Official (intra, inter) state_dicts -> a strict-loadable `SEVC` state_dict (default widths)."""
    if not any(key.startswith("BL_codec.") for key in inter):
        raise ConversionError(
            "The P-frame checkpoint has no BL_codec.* keys: pass SEVC's official P-frame file "
            "(class DMC) as `inter` and its I-frame file (class IntraNoAR) as `intra`."
        )
    state = rename(intra, INTRA_RULES, DROPPED_INTRA, "intra.")
    groups: dict[str, dict[str, Tensor]] = {prefix: {} for prefix, _, _, _ in INTER_GROUPS}
    for key, value in inter.items():
        prefix = next(p for p, _, _, _ in INTER_GROUPS if key.startswith(p))
        groups[prefix][key[len(prefix) :]] = value
    for prefix, ours, rules, dropped in INTER_GROUPS:
        state.update(rename(groups[prefix], rules, dropped, ours))
    with torch.device("meta"):
        expected = SEVC().state_dict()
    check_against(state, expected)
    return {k: v.float().contiguous() for k, v in state.items()}
