"""Widths of SEVC (Bian et al., CVPR 2025); the defaults are the official model's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import ClassVar

from .dcvc_dc_config import DCVCDCConfig

__all__ = ["SEVCConfig"]


@dataclass(frozen=True)
class SEVCConfig(DCVCDCConfig):
    """Channel widths of SEVC's I-frame, base-layer, inter-layer and enhancement-layer networks.

    SEVC's base layer is a DCVC-DC P-frame codec and its I-frame codec is DCVC-DC's, and the
    enhancement layer and inter-layer prediction use the same g_ch_1x..g_ch_16x widths, so
    the config extends `DCVCDCConfig` (whose defaults are the official widths) with the
    inter-layer fields.

    Attributes:
        refine_rounds: rounds of joint motion / texture refinement per scale (official 2).
        swin_depths: Swin blocks per residual Swin group of the latent prior (official 4 x 4).
        swin_heads: attention heads of every Swin block (official 8).
        swin_window: (T, H, W) attention window over the 4-slot latent stack (official 4, 8, 8).
        swin_mlp_ratio: hidden width of the Swin MLPs relative to the latent width (official 2).
    """

    refine_rounds: int = 2
    swin_depths: tuple[int, ...] = (4, 4, 4, 4)
    swin_heads: int = 8
    swin_window: tuple[int, int, int] = (4, 8, 8)
    swin_mlp_ratio: float = 2.0

    limits: ClassVar[Mapping[str, tuple[float, float]]] = MappingProxyType(
        {
            **DCVCDCConfig.limits,
            "refine_rounds": (1, 16),
            "swin_depths": (1, 64),
            "swin_heads": (1, 64),
            "swin_window": (1, 64),
            "swin_mlp_ratio": (0.125, 16.0),
        }
    )
    """`DCVCDCConfig.limits` and the inter-layer fields' (see there)."""

    @classmethod
    def small(cls) -> "SEVCConfig":
        """`DCVCDCConfig.small` widths with one refinement round and two one-block Swin groups, for fast tests."""
        return replace(super().small(), refine_rounds=1, swin_depths=(1, 1), swin_heads=2)
