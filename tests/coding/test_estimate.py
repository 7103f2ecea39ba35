"""Tests of lvc_zoo.coding.estimate: `Estimate`'s quantisation modes, bits per tag, and a light import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lvc_zoo.coding.distributions import conditional_bits
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.layers.entropy import QUADTREE_STEPS, FactorizedBitEstimator, phase_mask

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- Estimate


def test_estimate_round_is_integer_and_half_to_even():
    coder = Estimate("round")
    x = torch.randn(100) * 5
    q = coder.quantize(x)
    assert torch.equal(q, q.round()) and (q - x).abs().max() <= 0.5
    assert torch.equal(coder.quantize(torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5])), torch.tensor([0.0, 2.0, 2.0, -0.0, -2.0]))


def test_estimate_noise_stays_within_half_of_input():
    coder = Estimate("noise")
    x = torch.randn(10_000) * 5
    q = coder.quantize(x)
    assert (q - x).abs().max() <= 0.5
    assert (q - x).abs().max() > 0.4 and (q - x).std() > 0.2  # really uniform noise, not rounding
    assert not torch.equal(q, q.round())


def test_estimate_ste_rounds_forward_with_identity_gradient():
    coder = Estimate("ste")
    x = (torch.randn(50) * 5).requires_grad_(True)
    q = coder.quantize(x)
    assert torch.equal(q.detach(), torch.round(x.detach()))
    weights = torch.randn(50)
    (q * weights).sum().backward()
    torch.testing.assert_close(x.grad, weights)


def test_estimate_rejects_invalid_mode():
    with pytest.raises(ValueError):
        Estimate("floor")  # type: ignore[arg-type]


def test_estimate_without_latents_raises_value_error():
    coder = Estimate()
    with pytest.raises(ValueError):
        coder.code_conditional(None, torch.ones(1, 4, 2, 2), torch.ones(1, 4, 2, 2), "laplace", "y")
    with pytest.raises(ValueError):
        coder.code_factorized(None, FactorizedBitEstimator(4), (1, 4, 2, 2), "z")


def test_estimate_conditional_symbols_and_bits():
    coder = Estimate("round")
    residual = torch.randn(1, 4, 4, 4) * 3
    scales = torch.rand(1, 4, 4, 4) + 0.5
    mask = phase_mask(QUADTREE_STEPS[0], 4, 4, 4, torch.float32, CPU)
    symbols = coder.code_conditional(residual, scales, mask, "laplace", "y")
    assert torch.equal(symbols, torch.round(residual) * mask)
    expected = conditional_bits(torch.round(residual)[mask.bool().expand(1, 4, 4, 4)], scales[mask.bool().expand(1, 4, 4, 4)], "laplace")
    torch.testing.assert_close(coder.bits["y"], expected.sum(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "mode",
    [
        "round",
        "ste",
        "noise",
    ],
)
def test_estimate_conditional_symbols_are_zero_outside_the_mask(mode):
    coder = Estimate(mode)
    mask = phase_mask(QUADTREE_STEPS[1], 4, 6, 6, torch.float32, CPU)
    symbols = coder.code_conditional(torch.randn(2, 4, 6, 6) * 3, torch.ones(2, 4, 6, 6), mask, "laplace", "y")
    assert torch.equal(symbols * (1 - mask), torch.zeros_like(symbols))


def test_estimate_accumulates_bits_per_tag():
    coder = Estimate("round")
    est = FactorizedBitEstimator(2)
    z1, z2 = torch.randn(1, 2, 3, 3) * 4, torch.randn(1, 2, 3, 3) * 4
    coder.code_factorized(z1, est, z1.shape, "z")
    coder.code_factorized(z2, est, z2.shape, "z")
    mask = torch.ones(1, 4, 2, 2)
    coder.code_conditional(torch.randn(1, 4, 2, 2) * 4, torch.ones(1, 4, 2, 2), mask, "gaussian", "y")
    assert set(coder.bits) == {"z", "y"}
    torch.testing.assert_close(coder.bits["z"], est.bits(z1.round()).sum() + est.bits(z2.round()).sum())
    torch.testing.assert_close(coder.total_bits(), coder.bits["z"] + coder.bits["y"])


# --------------------------------------------------------------------------- imports


@pytest.mark.slow
def test_import_needs_neither_networks_nor_the_entropy_coder() -> None:
    code = (
        "import sys, lvc_zoo.coding.estimate; "
        "heavy = [m for m in ('lvc_zoo.layers', 'lvc_zoo.models', 'constriction', 'lvc_zoo.coding.entropy_coder') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
