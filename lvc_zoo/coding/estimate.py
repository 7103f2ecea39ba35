"""The `Coder` protocol and `Estimate`, the coder without an entropy coder.

Every latent codec of the zoo has one path, `code(y | None, ..., coder) -> y_hat`; the coder
decides what quantisation means and what happens to the symbols. `Estimate` rounds (or adds
noise, or rounds straight-through) and records bits per tag from the likelihoods;
`lvc_zoo.coding.coders` holds the coders that push or pull the same integer symbols to and
from a bitstream. Only torch is needed here, no network and no entropy coder.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol

import torch
from torch import Tensor

from .distributions import Distribution, FactorizedDistribution, at_least_float32, conditional_bits

__all__ = ["Coder", "Estimate", "keep_intermediate", "WARPED_FRAME", "DECODED_FLOW", "ESTIMATED_FLOW"]

WARPED_FRAME = "warped_frame"
"""Intermediate the P-frame network hands an `Estimate` that keeps it: warp(reference, mv_hat)."""
DECODED_FLOW = "decoded_flow"
"""Intermediate of the P-frame network: the (B, 2, H, W) flow its motion decoder outputs (mv_hat)."""
ESTIMATED_FLOW = "estimated_flow"
"""Intermediate of the P-frame network: the (B, 2, H, W) flow its flow network estimated, before coding."""


class Coder(Protocol):
    """Decides what quantisation means and where the symbols go (estimate, encode, decode)."""

    def code_factorized(self, z: Tensor | None, estimator: FactorizedDistribution, shape: Sequence[int], tag: str) -> Tensor:
        """Quantise hyper-latents `z` of `shape` (None when decoding) and return z_hat."""

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        """Quantise `residual` = y - mean where `mask` is 1; return the symbols, 0 elsewhere."""


class Estimate:
    """A `Coder` without an entropy coder: quantises and records bits per tag.

    Args:
        mode: "round" (inference; torch.round, half to even as the official code),
            "noise" (additive uniform noise, training) or "ste" (rounding with a
            straight-through gradient, training).
        keep: names of intermediates to record when a model hands them over with
            `keep_intermediate` (e.g. "warped_frame" for the motion loss); empty = none.
    Attributes:
        bits: summed bits per tag (0-dim, float32 or wider; differentiable in "noise"/"ste" modes).
        kept: the intermediates recorded, by name.
    """

    def __init__(self, mode: Literal["round", "noise", "ste"] = "round", keep: Collection[str] = ()) -> None:
        if mode not in ("round", "noise", "ste"):
            raise ValueError(f"mode must be 'round', 'noise' or 'ste', got {mode!r}")
        self.mode = mode
        self.bits: dict[str, Tensor] = {}
        self.keep = frozenset(keep)
        self.kept: dict[str, Tensor] = {}

    def quantize(self, x: Tensor) -> Tensor:
        """Quantise `x` according to `mode`."""
        if self.mode == "round":
            return torch.round(x)
        if self.mode == "noise":
            return x + torch.empty_like(x).uniform_(-0.5, 0.5)
        return x + (torch.round(x) - x).detach()

    def _add(self, tag: str, bits: Tensor) -> None:
        total = bits.sum()
        self.bits[tag] = self.bits[tag] + total if tag in self.bits else total

    def total_bits(self) -> Tensor:
        """Sum of the bits of every tag."""
        return sum(self.bits.values(), torch.zeros(()))

    def code_factorized(self, z: Tensor | None, estimator: FactorizedDistribution, shape: Sequence[int], tag: str) -> Tensor:
        if z is None:
            raise ValueError("Estimate needs the encoder's latents; decoding needs an entropy decoder")
        z_hat = self.quantize(at_least_float32(z))
        self._add(tag, estimator.bits(z_hat))
        return z_hat

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        if residual is None:
            raise ValueError("Estimate needs the encoder's latents; decoding needs an entropy decoder")
        symbols = self.quantize(at_least_float32(residual)) * mask
        self._add(tag, conditional_bits(symbols, scales * mask, distribution))
        return symbols


def keep_intermediate(coder: Coder, name: str, make: Callable[[], Tensor]) -> None:
    """Hand a named intermediate to a coder that asked for it (`Estimate(keep=...)`).

    `make` runs only then, so inference and entropy coding pay nothing.

    Args:
        coder: the frame's coder.
        name: what the intermediate is, e.g. "warped_frame".
        make: computes the tensor.
    """
    if isinstance(coder, Estimate) and name in coder.keep:
        coder.kept[name] = make()
