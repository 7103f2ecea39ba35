"""Widths of DCVC-FM (Li, Li, Lu, CVPR 2024); the defaults are the official model's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from ..errors import ConfigError
from .dcvc_dc_config import MAX_ALIGN_RESIDUAL, MAX_CHANNELS

__all__ = ["DCVCFMConfig", "MAX_Q_LEVELS"]

MAX_Q_LEVELS = 256
"""Most q_index levels a config takes (official 64): the I-frame q tables and z bit estimator
hold one row per level."""

_WIDTHS = (1, MAX_CHANNELS)


@dataclass(frozen=True)
class DCVCFMConfig:
    """Channel widths and rate levels of DCVC-FM's I-frame (`DMCI`) and P-frame (`DMC`) networks.

    The defaults reproduce the official checkpoints (g_ch_1x..g_ch_16x = 48/64/96/96/128,
    g_ch_z = 64, a 64-channel motion latent, DMCI with N = 256 and a 128-channel z, 64
    q_index levels). Tests build the same structure with smaller widths (`small`).
    """

    ch_1x: int = 48
    """P-frame features at full resolution (g_ch_1x): contexts, reference feature."""
    ch_2x: int = 64
    """P-frame features at 1/2 resolution (g_ch_2x); also the alignment's offset branch."""
    ch_4x: int = 96
    """P-frame features at 1/4 resolution (g_ch_4x)."""
    ch_8x: int = 96
    """P-frame features at 1/8 resolution (g_ch_8x)."""
    ch_16x: int = 128
    """The P-frame latent y at 1/16 resolution (g_ch_16x)."""
    z_channels: int = 64
    """The contextual hyper-latent z (g_ch_z)."""
    mv_channels: int = 64
    """The motion latent mv_y."""
    mv_z_channels: int = 64
    """The motion hyper-latent mv_z."""
    residual_channels: int = 32
    """Output of the contextual decoder, input of the reconstruction generation."""
    unet_channels: tuple[int, int, int] = (32, 64, 128)
    """Widths of the U-Nets' three levels (P-frame reconstruction and I-frame refinement)."""
    flow_channels: tuple[int, int, int, int] = (32, 64, 32, 16)
    """Hidden widths of each SpyNet level's network."""
    flow_kernels: tuple[int, ...] = (7, 7, 5, 5)
    """Kernel size of each SpyNet level, coarsest first (official me_8x, me_4x, me_2x, me_1x); one per level."""
    intra_channels: tuple[int, int] = (128, 192)
    """I-frame encoder / decoder widths at 1/2 and 1/4 resolution (the q tables have the first)."""
    intra_latent_channels: int = 256
    """The I-frame latent (N of DMCI)."""
    intra_z_channels: int = 128
    """The I-frame hyper-latent z."""
    intra_output_channels: int = 16
    """I-frame decoder output before the refinement U-Net."""
    q_levels: int = 64
    """q_index levels: the qualities 0..q_levels-1 (official get_qp_num() = 64)."""
    align_groups: int = 16
    """Groups of offset-diversity alignment."""
    align_offsets: int = 2
    """Offsets per group of offset-diversity alignment."""
    align_max_residual: float = 40.0
    """Bound (px) of the offsets' learned residual around the decoded flow."""

    limits: ClassVar[Mapping[str, tuple[float, float]]] = MappingProxyType(
        {
            **dict.fromkeys(
                ("ch_1x", "ch_2x", "ch_4x", "ch_8x", "ch_16x", "z_channels", "mv_channels", "mv_z_channels",
                 "residual_channels", "unet_channels", "flow_channels", "intra_channels", "intra_latent_channels",
                 "intra_z_channels", "intra_output_channels", "align_groups"),
                _WIDTHS,
            ),
            "flow_kernels": (1, 15),
            "q_levels": (2, MAX_Q_LEVELS),
            "align_offsets": (1, 64),
            "align_max_residual": (0.0, MAX_ALIGN_RESIDUAL),
        }
    )
    """Inclusive (lowest, highest) value of each field (of each item of a tuple field), checked
    when a config is read from config.json (`lvc_zoo.hub.config_from_dict`)."""

    def __post_init__(self) -> None:
        """Checks a width limit cannot express. Raises ConfigError."""
        if not 1 <= len(self.flow_kernels) <= 4 or any(k % 2 == 0 for k in self.flow_kernels):
            raise ConfigError(
                f"flow_kernels must hold 1 to 4 odd kernel sizes (one per SpyNet level; frames are padded to 16), "
                f"got {self.flow_kernels}."
            )
        for name in ("ch_16x", "mv_channels", "intra_latent_channels"):
            if getattr(self, name) % 4:
                raise ConfigError(f"{name} must be a multiple of 4 (the quadtree prior's channel quarters), got {getattr(self, name)}.")
        if self.ch_1x % self.align_groups:
            raise ConfigError(f"ch_1x ({self.ch_1x}) must be divisible by align_groups ({self.align_groups}).")

    @classmethod
    def small(cls) -> "DCVCFMConfig":
        """A reduced-width configuration with the same structure, for fast tests."""
        return cls(
            ch_1x=16, ch_2x=16, ch_4x=16, ch_8x=16, ch_16x=16, z_channels=8, mv_channels=16, mv_z_channels=8,
            residual_channels=8, unet_channels=(8, 8, 16), flow_channels=(8, 8, 8, 8),
            intra_channels=(16, 16), intra_latent_channels=16, intra_z_channels=8, intra_output_channels=8,
            align_groups=4,
        )
