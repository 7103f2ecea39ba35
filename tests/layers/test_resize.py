"""Tests of lvc_zoo.layers.resize: MATLAB-compatible antialiased bicubic downscaling."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lvc_zoo.errors import InputError
from lvc_zoo.layers.resize import cubic_taps, imresize


def _keys(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    near = 1.5 * t**3 - 2.5 * t**2 + 1
    far = -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return np.where(t <= 1, near, np.where(t <= 2, far, 0.0))


def _reference_1d(x: np.ndarray, factor: int) -> np.ndarray:
    """float64, written from the reference README: output i at u = (i + 0.5) k - 0.5, candidate taps
    j = floor(u) - 2k .. floor(u) + 2k + 1 (4i - 7 .. 4i + 10 for k = 4, the outer two of weight 0),
    Keys' cubic at (u - j) / k, normalised, symmetric half-sample extension (repeated as often as a
    tiny input needs); along the last axis."""
    n = x.shape[-1]
    out = np.empty(x.shape[:-1] + (math.ceil(n / factor),))
    for i in range(out.shape[-1]):
        u = (i + 0.5) * factor - 0.5
        j = np.arange(math.floor(u) - 2 * factor, math.floor(u) + 2 * factor + 2)
        w = _keys((u - j) / factor)
        w /= w.sum()
        period = np.mod(j, 2 * n)
        src = np.where(period < n, period, 2 * n - 1 - period)  # ..., x1, x0 | x0, x1, ... | x[n-1], x[n-2], ...
        out[..., i] = x[..., src] @ w
    return out


def _reference(x: np.ndarray, factor: int) -> np.ndarray:
    """Height first, then width."""
    return _reference_1d(_reference_1d(x.swapaxes(-1, -2), factor).swapaxes(-1, -2), factor)


def test_quarter_taps_are_the_documented_16_tap_fir():
    first, weights = cubic_taps(4)
    assert first == -6 and weights.numel() == 16
    offsets = np.arange(-6, 10)
    expected = _keys((1.5 - offsets) / 4)
    np.testing.assert_allclose(weights.numpy(), expected / expected.sum(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(weights.numpy(), weights.numpy()[::-1], atol=1e-15)  # symmetric about u


@pytest.mark.parametrize(("h", "w"), [(64, 64), (30, 45), (9, 7), (5, 6), (3, 3)])
def test_quarter_matches_float64_reference(h, w):
    x = torch.rand(2, 3, h, w)
    ours = imresize(x, 0.25)
    assert ours.shape == (2, 3, math.ceil(h / 4), math.ceil(w / 4)) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), _reference(x.double().numpy(), 4), rtol=0, atol=1e-6)


@pytest.mark.parametrize("factor", [2, 3, 5])
def test_other_integer_factors_match_float64_reference(factor):
    x = torch.rand(1, 2, 23, 17, dtype=torch.float64)
    np.testing.assert_allclose(imresize(x, 1 / factor).numpy(), _reference(x.numpy(), factor), rtol=0, atol=1e-12)


def test_constant_stays_constant_and_scale_one_is_identity():
    x = torch.full((1, 3, 13, 21), 0.7)
    torch.testing.assert_close(imresize(x, 0.25), torch.full((1, 3, 4, 6), 0.7))
    y = torch.rand(1, 3, 8, 8)
    assert imresize(y, 1.0) is y


def test_gradient_flows_to_the_input():
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    imresize(x, 0.25).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("scale", [0.3, 2.0, 0.0, -0.25])
def test_unsupported_scale_is_refused(scale):
    with pytest.raises(InputError, match="1/k"):
        imresize(torch.rand(1, 1, 8, 8), scale)


def test_integer_input_is_refused():
    with pytest.raises(InputError, match="floating"):
        imresize(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 0.25)


@pytest.mark.parametrize(("golden", "prefix"), [("golden_q0", ""), ("golden_long_q0", ""), ("golden_pad_q0", "b_")])
def test_matches_official_bl_input(golden, prefix, refgen, reference_dir):
    """The goldens' base-layer input of the frames that need no padding: imresize(x, 1/4), zero-padded to 16."""
    data = np.load(reference_dir / "sevc" / f"{golden}.npz")
    meta = json.loads(str(data[prefix + "meta_json"]))
    assert meta["h"] % 16 == 0 and meta["w"] % 16 == 0
    frames = torch.from_numpy(refgen.frames(meta["seed"], meta["t"], meta["h"], meta["w"]))
    bl_input = data[prefix + "bl_input"]
    ours = imresize(frames[1:], 0.25).numpy()  # frame 0 is the I frame (NaN)
    h, w = ours.shape[-2:]
    np.testing.assert_allclose(ours, bl_input[1:, :, :h, :w], rtol=0, atol=1e-5)
    assert np.all(bl_input[1:, :, h:] == 0) and np.all(bl_input[1:, :, :, w:] == 0)
