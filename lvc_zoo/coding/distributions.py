"""What a coder needs of a distribution: the conditional CDFs, the bit formula, the factorized protocol.

One Laplace CDF and one Gaussian CDF serve both the estimation path (`conditional_bits`, the
official DCVC-DC / DCVC-FM likelihoods) and the entropy coder's fixed tables
(`lvc_zoo.coding.entropy_coder.conditional_tables`), so the two cannot disagree.

Bit formula (official estimation path):
    P(s) = CDF(s + 1/2) - CDF(s - 1/2),  bits = max(0, -log2(P + 1e-5))
with zero-mean Laplace (P-frame latents) or Gaussian (I-frame latents) conditionals on the
residual s = round(y - mean), sigma = clamp(scale, SCALE_MIN, SCALE_MAX). The bits are computed
in float32 even under autocast (bf16 / fp16 mixed precision), so training and inference see the
same likelihoods.

This module imports no network code: the learned factorized CDF of the hyper-latents is a
module of `lvc_zoo.layers`, seen here only through the `FactorizedDistribution` protocol.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, Protocol, get_args

import torch
from torch import Tensor

from ..errors import ConfigError

__all__ = [
    "Distribution",
    "DISTRIBUTIONS",
    "SCALE_MIN",
    "SCALE_MAX",
    "FactorizedDistribution",
    "at_least_float32",
    "laplace_cdf",
    "gaussian_cdf",
    "cdf_of",
    "probs_to_bits",
    "conditional_bits",
]

Distribution = Literal["laplace", "gaussian"]
"""Zero-mean conditional of a latent residual: "laplace" (P-frame latents) or "gaussian" (I-frame latents)."""

DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
"""Every `Distribution`."""

SCALE_MIN, SCALE_MAX = 1e-5, 1e10
"""Smallest and largest scale a conditional takes: the likelihood clamps to them, and the coder's
table index floors at SCALE_MIN (official values)."""


class FactorizedDistribution(Protocol):
    """A per-channel learned distribution of integer hyper-latents (e.g. `lvc_zoo.layers.FactorizedBitEstimator`).

    Attributes:
        channels: number of channels C, each with its own distribution.
        device: where its parameters live.
        dtype: dtype of its parameters (decoded hyper-latents come out in it).
    """

    channels: int

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype: ...

    def cdf(self, x: Tensor) -> Tensor:
        """CDF at `x` (B, C, H, W), channel c under channel c's distribution; same shape."""
        ...

    def bits(self, z_hat: Tensor) -> Tensor:
        """Elementwise bits of integer (or noisy) hyper-latents (B, C, H, W), float32 or wider."""
        ...

    def parameters_key(self) -> bytes:
        """Bytes that identify the CDF: its parameters' values, dtype and device (equal keys, equal CDFs).

        The entropy coder keeps the tables it samples from the CDF under this key, so they are
        computed once per weights and again whenever the weights change.
        """
        ...


def at_least_float32(x: Tensor) -> Tensor:
    """`x` as float32 if it is of a narrower type (bf16 / fp16 under autocast); float64 stays."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def laplace_cdf(x: Tensor, scale: Tensor) -> Tensor:
    """CDF of a zero-mean Laplace with `scale` at `x` (broadcasting)."""
    return 0.5 - 0.5 * x.sign() * torch.expm1(-x.abs() / scale)


def gaussian_cdf(x: Tensor, scale: Tensor) -> Tensor:
    """CDF of a zero-mean Gaussian with standard deviation `scale` at `x` (broadcasting).

    Written x * (1 / scale) / sqrt(2), the official estimation path's form (not bit-identical to
    x / (scale * sqrt(2))); the coder's tables are pinned by a test to be unchanged by it.
    """
    return 0.5 * (1 + torch.erf(x * scale.reciprocal() / math.sqrt(2)))


_CDFS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"laplace": laplace_cdf, "gaussian": gaussian_cdf}


def cdf_of(distribution: Distribution) -> Callable[[Tensor, Tensor], Tensor]:
    """The CDF (x, scale) -> P(X <= x) of `distribution`.

    Raises:
        ConfigError: `distribution` is not one of `DISTRIBUTIONS`.
    """
    if distribution not in _CDFS:
        raise ConfigError(f"distribution must be one of {list(DISTRIBUTIONS)}, got {distribution!r}.")
    return _CDFS[distribution]


def probs_to_bits(probs: Tensor) -> Tensor:
    """bits = max(0, -log2(probs + 1e-5)), elementwise (the official formula)."""
    return torch.clamp_min(-torch.log(probs + 1e-5) / math.log(2.0), 0)


def conditional_bits(symbols: Tensor, scales: Tensor, distribution: Distribution) -> Tensor:
    """Elementwise bits of integer residuals under a zero-mean Laplace or Gaussian.

    Args:
        symbols: residuals round(y - mean) (or their noisy relaxation), any shape.
        scales: predicted scales, same shape; clamped to [SCALE_MIN, SCALE_MAX].
        distribution: "laplace" (P-frame latents) or "gaussian" (I-frame latents).
    Returns: bits, same shape, >= 0, computed in float32 (or float64 for float64 inputs),
        autocast or not.
    """
    cdf = cdf_of(distribution)
    with torch.autocast(symbols.device.type, enabled=False):
        symbols = at_least_float32(symbols)
        sigma = at_least_float32(scales).clamp(SCALE_MIN, SCALE_MAX)
        return probs_to_bits(cdf(symbols + 0.5, sigma) - cdf(symbols - 0.5, sigma))
