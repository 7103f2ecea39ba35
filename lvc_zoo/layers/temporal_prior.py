"""An updatable long-range temporal prior (LSTVC, Wang and Chen, IEEE TIP 2024, Sec. III-B).

A feature map at 1/4 resolution that lives across the P frames of a GOP and is built from
decoded data only, so encoder and decoder hold the same one:

    I-frame recon ─► initial ─► prior                                  (first P frame of a GOP)
    prior, last recon ─► extract ─► fuse (+ prior) ─► prior            (supplement, later P frames)
    prior, decoded flow ─► warp by flow / 4 ─► refine (+ warped) ─► prior   (align, every P frame)

`supplement` runs before the motion is coded and `align` after it is decoded, before the
contextual coding (the paper's Algorithm 1); the model decides when to call which.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .alignment import downsample_flow, warp
from .blocks import ResBlock

__all__ = ["PRIOR_SCALE", "TemporalPrior"]

PRIOR_SCALE = 4
"""The prior lives at 1/PRIOR_SCALE of the (padded) frame size."""


def _frame_encoder(channels: int) -> nn.Sequential:
    """Three cascaded convs (B, 3, H, W) -> (B, C, H/4, W/4): 5x5 s2, 5x5 s2, 3x3, LeakyReLUs between."""
    return nn.Sequential(
        nn.Conv2d(3, channels, 5, stride=2, padding=2),
        nn.LeakyReLU(0.1),
        nn.Conv2d(channels, channels, 5, stride=2, padding=2),
        nn.LeakyReLU(0.1),
        nn.Conv2d(channels, channels, 3, padding=1),
    )


class TemporalPrior(nn.Module):
    """Initialises, supplements and aligns a (B, C, H/4, W/4) temporal prior.

    Args:
        channels: C, the prior's channels (LSTVC: 64).
    Raises:
        ConfigError: channels < 1.
    """

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        if channels < 1:
            raise ConfigError(f"TemporalPrior needs at least one channel, got {channels}.")
        self.initial = _frame_encoder(channels)
        self.extract = _frame_encoder(channels)
        self.fuse = nn.Sequential(nn.Conv2d(channels * 2, channels, 3, padding=1), ResBlock(channels), ResBlock(channels))
        self.refine = nn.Conv2d(channels + 2, channels, 3, padding=1)

    def initialise(self, frame: Tensor) -> Tensor:
        """The prior of a GOP from its I-frame reconstruction (B, 3, H, W) -> (B, C, H/4, W/4)."""
        return self.initial(frame)

    def supplement(self, prior: Tensor, frame: Tensor) -> Tensor:
        """Update `prior` (B, C, H/4, W/4) with the co-located decoded frame (B, 3, H, W)."""
        return prior + self.fuse(torch.cat((prior, self.extract(frame)), dim=1))

    def align(self, prior: Tensor, flow: Tensor) -> Tensor:
        """Warp `prior` (B, C, H/4, W/4) by the decoded flow (B, 2, H, W) in full-resolution pixels, then refine it.

        The flow is resampled to the prior's grid with its vectors divided by 4, so a
        constant 4-pixel flow moves the prior by one cell.
        """
        flow = downsample_flow(flow, PRIOR_SCALE)
        warped = warp(prior, flow)
        return warped + self.refine(torch.cat((warped, flow), dim=1))
