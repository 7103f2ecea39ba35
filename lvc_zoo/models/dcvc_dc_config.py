"""Widths of DCVC-DC (Li, Li, Lu, CVPR 2023); the defaults are the official model's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DCVCDCConfig:
    """Channel widths of DCVC-DC's I- and P-frame networks.

    The defaults reproduce the official checkpoints (g_ch_1x..g_ch_16x = 48/64/96/96/128,
    a 64-channel motion latent, IntraNoAR with N = 256). Tests build the same structure with
    smaller widths.
    """

    ch_1x: int = 48
    ch_2x: int = 64
    ch_4x: int = 96
    ch_8x: int = 96
    ch_16x: int = 128
    mv_channels: int = 64
    mv_hyper_channels: int = 64
    residual_channels: int = 32
    unet_channels: tuple[int, int, int] = (32, 64, 128)
    flow_channels: tuple[int, int, int, int] = (32, 64, 32, 16)
    flow_levels: int = 4
    intra_channels: tuple[int, int] = (128, 192)
    intra_latent_channels: int = 256
    intra_output_channels: int = 16
    anchors: int = 4
    align_groups: int = 16
    align_offsets: int = 2
    align_max_residual: float = 40.0

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
