"""SEVC inter-layer prediction keys: official `ILP.*` / `latent_ILP.*` -> `lvc_zoo.models.sevc_prediction`.

The rules are relative to those prefixes of the official `DMC` state_dict: `ILP_RULES`
map a key with `ILP.` removed onto `InterLayerPrediction`, `LATENT_ILP_RULES` a key with
`latent_ILP.` removed onto `LatentInterLayerPrediction` (`convert/sevc.py` adds the
prefixes of the model). Our attribute names equal the official ones except the two
renames below, so most rules are identities.
"""

from __future__ import annotations

from .common import Rule

__all__ = ["ILP_RULES", "LATENT_ILP_RULES", "DROPPED_LATENT_ILP"]

ILP_RULES: tuple[Rule, ...] = (
    (r"context_fusion_net\.(.+)", r"context_fusion.\1"),
    (r"(texture_adaptor|feature_extractor|up1|up2|mre1|mre2|mre3|align|fuse1|fuse2|fuse3)\.(.+)", r"\1.\2"),
)
"""Official key under `ILP.` -> key of `InterLayerPrediction` (every official ILP parameter is used)."""

LATENT_ILP_RULES: tuple[Rule, ...] = (
    # the official Sequential is (subpel conv, LeakyReLU of slope 1.0 = identity, subpel conv)
    (r"upsampler\.0\.(.+)", r"upsampler.0.\1"),
    (r"upsampler\.2\.(.+)", r"upsampler.1.\1"),
    (r"fusion\.(patch_embed\.norm|norm|conv_after_body)\.(weight|bias)", r"fusion.\1.\2"),
    (
        r"fusion\.layers\.(\d+)\.residual_group\.blocks\.(\d+)\.(.+)",
        r"fusion.layers.\1.residual_group.blocks.\2.\3",
    ),
    (r"fusion\.layers\.(\d+)\.conv\.(weight|bias)", r"fusion.layers.\1.conv.\2"),
)
"""Official key under `latent_ILP.` -> key of `LatentInterLayerPrediction`."""

DROPPED_LATENT_ILP: tuple[str, ...] = (
    "fusion.conv_first.weight",
    "fusion.conv_first.bias",
    "fusion.conv_first_feat.weight",
    "fusion.conv_first_feat.bias",
) + tuple(
    f"fusion.layers.{layer}.residual_group.blocks.{block}.attn.relative_position_index"
    for layer in range(4)  # the official 4 RSTBs x 4 Swin blocks
    for block in range(4)
)
"""Official keys under `latent_ILP.` that are not converted: the unused input convolutions
(`conv_first`, `conv_first_feat`: 221,440 parameters the official forward never calls) and
the 16 int64 `relative_position_index` buffers, which `WindowAttention3D` derives itself."""
