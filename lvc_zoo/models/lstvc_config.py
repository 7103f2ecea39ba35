"""Widths of LSTVC and LSTVC+ (Wang and Chen, IEEE TIP 2024); no official code exists.

Widths follow the DCVC base (NeurIPS 2021) where the paper is silent, as the zoo's spec
(shared/design/lstvc.md) lays out; LSTVC+ is the same pipeline with a heavier contextual
transform (`LSTVCConfig.plus`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from ..errors import ConfigError
from .dcvc_dc_config import MAX_ALIGN_RESIDUAL, MAX_CHANNELS, DCVCDCConfig

__all__ = ["LSTVCConfig"]

_WIDTHS = (1, MAX_CHANNELS)


@dataclass(frozen=True)
class LSTVCConfig:
    """Channel widths and structure of LSTVC's networks (defaults: LSTVC; `plus()`: LSTVC+)."""

    ch_1x: int = 64
    """Reference feature, PGMC's finest scale and the context at full resolution (DCVC's 64)."""
    ch_2x: int = 96
    """PGMC's middle scale at 1/2 resolution ([choice]: channels shrink toward larger scales)."""
    ch_4x: int = 128
    """PGMC's coarsest scale at 1/4 resolution ([choice])."""
    prior_channels: int = 64
    """The temporal prior, 64 x H/4 x W/4 [paper]."""
    mv_channels: int = 128
    """The motion latent y^m at 1/16 resolution (DCVC's 128)."""
    mv_hyper_channels: int = 128
    """The motion hyper-latent z^m at 1/64 resolution (DCVC's 128)."""
    transform_channels: int = 64
    """N, the width of the contextual encoder and decoder (DCVC's 64; LSTVC+ 96 [choice])."""
    latent_channels: int = 96
    """M, the contextual latent y^c at 1/16 resolution (DCVC's 96; LSTVC+ 128 [choice])."""
    hyper_channels: int = 64
    """The contextual hyper-latent z^c at 1/64 resolution (DCVC's 64)."""
    res_blocks: int = 1
    """Residual blocks per resolution of the contextual encoder and decoder (LSTVC+ 2 [choice])."""
    dcn_groups: int = 8
    """Deformable groups of PGMC's flow-guided deformable convolutions [choice]."""
    dcn_kernel: int = 3
    """Kernel size of PGMC's deformable convolutions [choice]."""
    max_residual: float = 10.0
    """Bound (px) of PGMC's residual offsets around the decoded flow [choice, BasicVSR++'s]."""
    flow_levels: int = 6
    """SpyNet pyramid levels (DCVC's ME_Spynet: 6; frames are multiples of 64)."""
    flow_channels: tuple[int, int, int, int] = (32, 64, 32, 16)
    """Hidden widths of each SpyNet level's network."""
    intra_channels: tuple[int, int] = (128, 192)
    """I-frame codec (the zoo's DCVC-DC intra) widths at 1/2 and 1/4 resolution."""
    intra_latent_channels: int = 256
    """The I-frame latent."""
    intra_output_channels: int = 16
    """I-frame decoder output before its refinement UNet."""
    unet_channels: tuple[int, int, int] = (32, 64, 128)
    """Widths of the I-frame refinement UNet."""

    limits: ClassVar[Mapping[str, tuple[float, float]]] = MappingProxyType(
        {
            **dict.fromkeys(
                ("ch_1x", "ch_2x", "ch_4x", "prior_channels", "mv_channels", "mv_hyper_channels", "transform_channels",
                 "latent_channels", "hyper_channels", "dcn_groups", "flow_channels", "intra_channels",
                 "intra_latent_channels", "intra_output_channels", "unet_channels"),
                _WIDTHS,
            ),
            "res_blocks": (1, 16),
            "dcn_kernel": (1, 7),
            "max_residual": (0.0, MAX_ALIGN_RESIDUAL),
            "flow_levels": (1, 6),
        }
    )
    """Inclusive (lowest, highest) value of each field (of each item of a tuple field), checked
    when a config is read from config.json (`lvc_zoo.hub.config_from_dict`)."""

    def __post_init__(self) -> None:
        for name in ("mv_channels", "latent_channels"):
            if getattr(self, name) % 4:
                raise ConfigError(f"LSTVCConfig.{name} must be a multiple of 4 (the quadtree prior's channel quarters), got {getattr(self, name)}.")
        for name in ("ch_1x", "ch_2x", "ch_4x"):
            if getattr(self, name) % self.dcn_groups:
                raise ConfigError(
                    f"LSTVCConfig.{name} ({getattr(self, name)}) must be a multiple of dcn_groups ({self.dcn_groups})."
                )
        if self.dcn_kernel % 2 == 0:
            raise ConfigError(f"LSTVCConfig.dcn_kernel must be odd, got {self.dcn_kernel}.")

    def intra_config(self) -> DCVCDCConfig:
        """The I-frame codec's config: the zoo's DCVC-DC intra at these widths, one q-scale anchor per quality."""
        return DCVCDCConfig(
            intra_channels=self.intra_channels,
            intra_latent_channels=self.intra_latent_channels,
            intra_output_channels=self.intra_output_channels,
            unet_channels=self.unet_channels,
        )

    @classmethod
    def plus(cls) -> "LSTVCConfig":
        """LSTVC+: [choice] twice the residual blocks in the contextual transforms, which are 96 wide, and a 128-channel latent."""
        return cls(res_blocks=2, latent_channels=128, transform_channels=96)

    @classmethod
    def small(cls) -> "LSTVCConfig":
        """A reduced-width configuration with the same structure, for fast tests (frames of 64 x 64)."""
        return cls(
            ch_1x=8, ch_2x=8, ch_4x=8, prior_channels=8, mv_channels=8, mv_hyper_channels=8, transform_channels=8,
            latent_channels=8, hyper_channels=8, dcn_groups=2, flow_levels=3, flow_channels=(8, 8, 8, 8),
            intra_channels=(8, 8), intra_latent_channels=8, intra_output_channels=8, unet_channels=(8, 8, 8),
        )
