"""Widths of DCVC-DC (Li, Li, Lu, CVPR 2023); the defaults are the official model's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

__all__ = ["DCVCDCConfig", "MAX_CHANNELS", "MAX_ALIGN_RESIDUAL"]

MAX_CHANNELS = 1024
"""Widest channel count (and most alignment groups) a config takes: four times the official
models' widest (IntraNoAR's N = 256). A 3x3 convolution of that width has 9.4 M parameters,
so a config.json cannot make the model take more than a few GB before its weights are read."""
MAX_ALIGN_RESIDUAL = 8192.0
"""Largest `align_max_residual` (px): the largest frame side a stream holds."""

_WIDTHS = (1, MAX_CHANNELS)

@dataclass(frozen=True)
class DCVCDCConfig:
    """Channel widths of DCVC-DC's I- and P-frame networks.

    The defaults reproduce the official checkpoints (g_ch_1x..g_ch_16x = 48/64/96/96/128,
    a 64-channel motion latent, IntraNoAR with N = 256). Tests build the same structure with
    smaller widths.
    """

    ch_1x: int = 48
    """P-frame features at full resolution (official g_ch_1x): contexts, reference feature."""
    ch_2x: int = 64
    """P-frame features at 1/2 resolution (g_ch_2x)."""
    ch_4x: int = 96
    """P-frame features at 1/4 resolution (g_ch_4x)."""
    ch_8x: int = 96
    """P-frame features at 1/8 resolution (g_ch_8x)."""
    ch_16x: int = 128
    """The P-frame latent y at 1/16 resolution (g_ch_16x)."""
    mv_channels: int = 64
    """The motion latent mv_y."""
    mv_hyper_channels: int = 64
    """The motion hyper-latent mv_z."""
    residual_channels: int = 32
    """Output of the contextual decoder, input of the reconstruction generation."""
    unet_channels: tuple[int, int, int] = (32, 64, 128)
    """Widths of the reconstruction UNets' three levels (P frames and the I-frame refinement)."""
    flow_channels: tuple[int, int, int, int] = (32, 64, 32, 16)
    """Hidden widths of each SpyNet level's network."""
    flow_levels: int = 4
    """SpyNet pyramid levels."""
    intra_channels: tuple[int, int] = (128, 192)
    """I-frame encoder / decoder widths at 1/2 and 1/4 resolution."""
    intra_latent_channels: int = 256
    """The I-frame latent (N of IntraNoAR)."""
    intra_output_channels: int = 16
    """I-frame decoder output before the refinement UNet."""
    anchors: int = 4
    """q-scale anchors: the qualities 0..anchors-1."""
    align_groups: int = 16
    """Groups of offset-diversity alignment."""
    align_offsets: int = 2
    """Offsets per group of offset-diversity alignment."""
    align_max_residual: float = 40.0
    """Bound (px) of the offsets' learned residual around the decoded flow."""

    limits: ClassVar[Mapping[str, tuple[float, float]]] = MappingProxyType(
        {
            **dict.fromkeys(
                ("ch_1x", "ch_2x", "ch_4x", "ch_8x", "ch_16x", "mv_channels", "mv_hyper_channels", "residual_channels",
                 "unet_channels", "flow_channels", "intra_channels", "intra_latent_channels", "intra_output_channels",
                 "align_groups"),
                _WIDTHS,
            ),
            "flow_levels": (1, 6),
            "anchors": (1, 64),
            "align_offsets": (1, 64),
            "align_max_residual": (0.0, MAX_ALIGN_RESIDUAL),
        }
    )
    """Inclusive (lowest, highest) value of each field (of each item of a tuple field), checked
    when a config is read from config.json (`lvc_zoo.hub.config_from_dict`)."""

    @classmethod
    def small(cls) -> "DCVCDCConfig":
        """A reduced-width configuration with the same structure, for fast tests."""
        return cls(
            ch_1x=16, ch_2x=16, ch_4x=16, ch_8x=16, ch_16x=16, mv_channels=16, mv_hyper_channels=16,
            residual_channels=8, unet_channels=(8, 8, 16), flow_channels=(8, 8, 8, 8),
            intra_channels=(16, 16), intra_latent_channels=16, intra_output_channels=8,
            align_groups=4,
        )

    @classmethod
    def tiny(cls) -> "DCVCDCConfig":
        """The demo model's widths (`dcvc_dc_tiny`): about 4.5 M parameters, a 9.2 MB float16 weights file.

        Small enough to ship inside the package and to train on a CPU
        (recipes/demo_tiny.yaml), large enough for real compression of small clips.
        """
        return cls(
            ch_1x=16, ch_2x=24, ch_4x=32, ch_8x=32, ch_16x=28, mv_channels=16, mv_hyper_channels=16,
            residual_channels=16, unet_channels=(16, 24, 32), flow_channels=(12, 24, 12, 8),
            intra_channels=(64, 96), intra_latent_channels=72, intra_output_channels=16, align_groups=8,
        )
