"""Rate as data: a model's qualities, the lambda of each, and the ones validation samples."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RateSpec"]


@dataclass(frozen=True)
class RateSpec:
    """One model's rate description.

    Attributes:
        kind: how qualities select a rate point (e.g. "anchors": DCVC-DC's q-scale anchors).
        qualities: the valid qualities, lowest rate first.
        lambdas: the rate-distortion trade-off of each quality (same order).
        validation: the qualities validation codes (a subset of `qualities`).
        default: the quality used when none is given; None = the highest.
    """

    kind: str
    qualities: tuple[int, ...]
    lambdas: tuple[float, ...]
    validation: tuple[int, ...]
    default: int | None = None

    def lambda_of(self, quality: int) -> float:
        """The lambda of `quality` (one of `qualities`)."""
        return self.lambdas[self.qualities.index(quality)]

    @property
    def default_quality(self) -> int:
        """`default`, or the highest quality when it is None."""
        return self.qualities[-1] if self.default is None else self.default
