"""Decoded-picture buffers: everything a P frame reads from the past, as frozen dataclasses.

`DPB` holds what every model of the DCVC family keeps (the last reconstruction, its propagated
feature, the display index) and how the buffer moves on (`after_intra`, `advance`,
`refreshed`). A model subclasses it with its own references and never builds one by hand:

    DPB(frame, feature, index)
     ├─ TemporalPriorDPB(+ temporal_prior)              LSTVC
     └─ DCVCDPB(+ mv_feature, y_hat, mv_y_hat, mv_hat)   DCVC-DC, DCVC-FM, SEVC's base layer
         └─ e.g. + a t-2 feature (ECVC), a long-term memory (DCVC-LCG)

The coding loop only calls `start` / `code` of a model's P-frame network, which return these
buffers, so a new reference never touches the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from torch import Tensor

__all__ = ["DPB", "DCVCDPB", "TemporalPriorDPB", "FEATURE_REFRESH_INTERVAL"]

FEATURE_REFRESH_INTERVAL = 32
"""Frame k with k % FEATURE_REFRESH_INTERVAL == 1 rebuilds its reference feature from the frame
(the official DCVC-FM and SEVC test loops' reset_interval)."""

Buffer = TypeVar("Buffer", bound="DPB")


@dataclass(frozen=True)
class DPB:
    """The references every DCVC-family P frame reads (shapes for a padded H x W frame).

    Attributes:
        frame: (B, 3, H, W) last reconstruction, clamped to [0, 1].
        feature: (B, C1, H, W) its propagated feature (48 channels officially); None right
            after an I frame or a refresh, when it is rebuilt from `frame`.
        index: display index of `frame` in the sequence.
    """

    frame: Tensor
    feature: Tensor | None = None
    index: int = 0

    @classmethod
    def after_intra(cls: type[Buffer], x_hat: Tensor, index: int) -> Buffer:
        """The buffer after an I frame reconstructed as `x_hat` (B, 3, H, W) at display index `index`."""
        return cls(frame=x_hat, index=index)

    def advance(self: Buffer, **new: Any) -> Buffer:
        """The buffer after coding the next frame, with the given new contents (fields by name)."""
        return replace(self, index=self.index + 1, **new)

    def refreshed(self: Buffer) -> Buffer:
        """The buffer with the propagated feature dropped (the next frame rebuilds it from `frame`)."""
        return replace(self, feature=None)

    def refreshed_every(self: Buffer, interval: int) -> Buffer:
        """`refreshed()` when the frame this buffer feeds (display index + 1) is k with k % interval == 1, else self."""
        return self.refreshed() if (self.index + 1) % interval == 1 else self


@dataclass(frozen=True)
class DCVCDPB(DPB):
    """The buffer of a DCVC-DC style P-frame codec: `DPB` plus the motion and latent references.

    Shapes with the official widths for a padded H x W frame; each is None after an I frame.

    Attributes:
        mv_feature: (B, 64, H/4, W/4) motion decoder feature, conditioning the motion encoder.
        y_hat: (B, 128, H/16, W/16) last contextual latent, for the latent prior fusion.
        mv_y_hat: (B, 64, H/16, W/16) last motion latent, for the motion prior fusion.
        mv_hat: (B, 2, H, W) decoded flow that produced `frame`.
    """

    mv_feature: Tensor | None = None
    y_hat: Tensor | None = None
    mv_y_hat: Tensor | None = None
    mv_hat: Tensor | None = None


@dataclass(frozen=True)
class TemporalPriorDPB(DPB):
    """`DPB` plus a long-range temporal prior carried from P frame to P frame (LSTVC).

    Attributes:
        temporal_prior: (B, C, H/4, W/4) prior aligned to `frame` (64 channels in LSTVC);
            None after an I frame, so the first P frame of a GOP initialises it from the
            I-frame reconstruction and the next I frame drops it.
    """

    temporal_prior: Tensor | None = None
