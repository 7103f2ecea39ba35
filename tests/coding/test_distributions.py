"""Tests of lvc_zoo.coding.distributions: the bit formula, the CDFs, and the coder's tables built from them."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.distributions import Laplace, Normal

from lvc_zoo.coding.distributions import DISTRIBUTIONS, cdf_of, conditional_bits, gaussian_cdf, laplace_cdf
from lvc_zoo.coding.entropy_coder import conditional_tables
from lvc_zoo.errors import ConfigError

TABLE_SHA256 = {
    "laplace": "7a1b4ff1e6cf584da9fa23d365e947a62d02640d1d6c1e6b28f0be9f93bb58aa",
    "gaussian": "90e9e925199a70f3fba25e4345291b1881b308e62ff5f680124ff0226eeaf9e3",
}
"""sha256 of every conditional table (lowest, then the int64 frequencies, over the 256 scales), computed
before the estimation path's CDF served the tables too (the Gaussian was x / (scale * sqrt(2)) there)."""


def _reference_bits(symbols: Tensor, scales: Tensor, distribution: str) -> Tensor:
    """Facts section 7, in the inputs' dtype: P = CDF(s + 1/2) - CDF(s - 1/2), bits = max(0, -log2(P + 1e-5))."""
    sigma = scales.clamp(1e-5, 1e10)
    dist = Laplace(torch.zeros_like(sigma), sigma) if distribution == "laplace" else Normal(torch.zeros_like(sigma), sigma)
    probs = dist.cdf(symbols + 0.5) - dist.cdf(symbols - 0.5)
    return torch.clamp_min(-torch.log2(probs + 1e-5), 0.0)



# --------------------------------------------------------------------------- conditional_bits


@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_conditional_bits_are_non_negative(distribution):
    symbols = torch.randint(-20, 21, (4, 8, 5, 5)).float()
    scales = torch.rand(4, 8, 5, 5) * 10
    assert (conditional_bits(symbols, scales, distribution) >= 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_conditional_bits_match_torch_distributions(distribution, dtype):
    # same dtype on both sides: far in the tails P is a difference of two CDFs close to 1, which float32
    # resolves only roughly (as the official float32 path does)
    symbols = torch.randint(-6, 7, (2, 4, 6, 6)).to(dtype)
    scales = torch.empty(2, 4, 6, 6, dtype=dtype).uniform_(0.05, 8.0)
    bits = conditional_bits(symbols, scales, distribution)
    assert bits.dtype == dtype
    torch.testing.assert_close(bits, _reference_bits(symbols, scales, distribution), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_conditional_bits_of_zero_with_huge_scale_are_large(distribution):
    bits = conditional_bits(torch.zeros(3), torch.tensor([1e8, 1e10, 1e20]), distribution)
    # P(0) ~ 1/scale is below the 1e-5 floor: bits ~ -log2(1e-5) = 16.6
    torch.testing.assert_close(bits, torch.full((3,), -math.log2(1e-5)), atol=1e-3, rtol=0)


@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_conditional_bits_of_zero_with_tiny_or_zero_scale_are_zero(distribution):
    bits = conditional_bits(torch.zeros(4), torch.tensor([1e-5, 1e-7, 0.0, -1.0]), distribution)
    assert torch.equal(bits, torch.zeros(4))


def test_conditional_bits_of_nonzero_symbol_with_tiny_scale_hit_the_floor():
    bits = conditional_bits(torch.tensor([1.0, -3.0]), torch.tensor([1e-5, 0.0]), "laplace")
    torch.testing.assert_close(bits, torch.full((2,), -math.log2(1e-5)), atol=1e-3, rtol=0)


def test_conditional_bits_gaussian_and_laplace_differ():
    symbols, scales = torch.tensor([2.0, 3.0, 5.0]), torch.tensor([1.0, 1.0, 1.0])
    laplace, gaussian = conditional_bits(symbols, scales, "laplace"), conditional_bits(symbols, scales, "gaussian")
    assert (laplace - gaussian).abs().min() > 0.1
    assert gaussian[2] > laplace[2]  # the Gaussian tail is lighter


def test_conditional_bits_grow_with_symbol_magnitude():
    symbols = torch.arange(0.0, 6.0)
    for distribution in ("laplace", "gaussian"):
        bits = conditional_bits(symbols, torch.full((6,), 2.0), distribution)
        assert (bits[1:] > bits[:-1]).all()
        torch.testing.assert_close(bits, conditional_bits(-symbols, torch.full((6,), 2.0), distribution))


def test_conditional_bits_reject_unknown_distribution():
    with pytest.raises(ValueError):
        conditional_bits(torch.zeros(2), torch.ones(2), "laplacian")  # type: ignore[arg-type]



# --------------------------------------------------------------------------- CDFs and tables


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_coder_tables_are_unchanged_by_the_shared_cdf(distribution: str) -> None:
    digest = hashlib.sha256()
    for table in conditional_tables(distribution):
        digest.update(np.int64(table.lowest).tobytes())
        digest.update(table.freqs.astype("<i8").tobytes())
    assert digest.hexdigest() == TABLE_SHA256[distribution]


def test_cdfs_match_torch_distributions_in_float64() -> None:
    x = torch.linspace(-20, 20, 81, dtype=torch.float64)
    scale = torch.tensor(3.7, dtype=torch.float64)
    torch.testing.assert_close(laplace_cdf(x, scale), Laplace(0.0, scale).cdf(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(gaussian_cdf(x, scale), Normal(0.0, scale).cdf(x), rtol=0, atol=1e-12)


def test_cdf_of_names_each_cdf_and_rejects_others() -> None:
    assert cdf_of("laplace") is laplace_cdf and cdf_of("gaussian") is gaussian_cdf
    with pytest.raises(ConfigError, match="distribution"):
        cdf_of("cauchy")  # type: ignore[arg-type]
