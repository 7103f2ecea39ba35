"""Widths of ECVC (Jiang et al., CVPR 2025): DCVC-DC's, plus the width of MHLCA's heads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import ClassVar

from ..errors import ConfigError
from .dcvc_dc_config import MAX_CHANNELS, DCVCDCConfig

__all__ = ["ECVCConfig"]


@dataclass(frozen=True)
class ECVCConfig(DCVCDCConfig):
    """Channel widths of ECVC's I- and P-frame networks.

    ECVC builds on DCVC-DC and its I-frame codec is DCVC-DC's; the paper's own widths
    (Appendix A.3) are lost, so [choice] the defaults are DCVC-DC's official widths.

    Attributes:
        attention_head_channels: width d_h of each MHLCA head; [choice] 16, so the attention at
            1/2 resolution (ch_2x = 64) has 4 heads and at 1/4 resolution (ch_4x = 96) 6 heads.
            It must divide ch_2x and ch_4x.

    Raises:
        ConfigError: `attention_head_channels` does not divide ch_2x and ch_4x.
    """

    attention_head_channels: int = 16

    limits: ClassVar[Mapping[str, tuple[float, float]]] = MappingProxyType(
        {**DCVCDCConfig.limits, "attention_head_channels": (1, MAX_CHANNELS)}
    )
    """`DCVCDCConfig.limits` and the head width's (see there)."""

    def __post_init__(self) -> None:
        head = self.attention_head_channels
        if isinstance(head, int) and head > 0 and (self.ch_2x % head or self.ch_4x % head):
            raise ConfigError(
                f"ECVC: attention_head_channels ({head}) must divide ch_2x ({self.ch_2x}) and ch_4x ({self.ch_4x}); "
                "set it to a common divisor."
            )

    @classmethod
    def small(cls) -> "ECVCConfig":
        """`DCVCDCConfig.small` widths with 8-channel heads (2 per attention), for fast tests."""
        return replace(super().small(), attention_head_channels=8)
