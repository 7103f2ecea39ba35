"""MATLAB-compatible antialiased bicubic downscaling by an integer factor (`imresize`).

SEVC feeds its base layer `imresize(x, 1/4)` of the frame, computed with the MATLAB
`imresize` rule that its official code uses (a port of Sanghyun Son's bicubic_pytorch):
Keys' cubic (a = -0.5) stretched by the factor k for antialiasing, output sample i at
source coordinate u = (i + 0.5) k - 0.5, weights normalised to sum 1, and symmetric
half-sample extension at the borders (..., x1, x0 | x0, x1, ...). For an integer factor
the tap offsets and weights are the same at every output position, so each axis is a
stride-k FIR (4k taps for even k, 4k - 1 for odd k: the kernel's zeros at |t| = 2 are
left out). Height is filtered first, then width, in the input's floating dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import InputError

__all__ = ["imresize", "cubic_taps"]


def _keys_cubic(t: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (zero for |t| >= 2)."""
    t = t.abs()
    near = (1.5 * t - 2.5) * t * t + 1.0
    far = ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def cubic_taps(factor: int) -> tuple[int, Tensor]:
    """Offsets and weights of the antialiased bicubic FIR for downscaling by `factor`.

    Output sample i reads source samples factor * i + first + m, m = 0 .. len(weights) - 1.

    Returns: (first, weights) with `first` the offset of tap 0 (-6 for factor 4) and
        `weights` a float64 (taps,) tensor summing to 1 (16 taps for factor 4).
    """
    centre = (factor - 1) / 2  # u - factor * i
    first = math.floor(centre - 2 * factor) + 1
    last = math.ceil(centre + 2 * factor) - 1
    offsets = torch.arange(first, last + 1, dtype=torch.float64)
    weights = _keys_cubic((centre - offsets) / factor)
    return first, weights / weights.sum()


def _symmetric_index(index: Tensor, length: int) -> Tensor:
    """Map indices outside [0, length) by half-sample symmetric extension (edge repeated)."""
    period = index.remainder(2 * length)
    return torch.where(period < length, period, 2 * length - 1 - period)


def _downscale_last_axis(x: Tensor, factor: int, first: int, weights: Tensor) -> Tensor:
    """Filter and subsample the last axis: (..., n) -> (..., ceil(n / factor))."""
    n = x.shape[-1]
    out = math.ceil(n / factor)
    taps = weights.numel()
    span = torch.arange(first, factor * (out - 1) + first + taps, device=x.device)
    padded = x.index_select(-1, _symmetric_index(span, n))  # (..., factor * (out - 1) + taps)
    windows = padded.unfold(-1, taps, factor)  # (..., out, taps)
    return windows @ weights.to(device=x.device, dtype=x.dtype)


def imresize(x: Tensor, scale: float) -> Tensor:
    """MATLAB `imresize(x, scale, 'bicubic')` (antialiased) for scale = 1 / k, k a positive integer.

    Args:
        x: (..., H, W) floating tensor, e.g. (B, 3, H, W) frames in [0, 1].
        scale: 1 / k (SEVC: 1 / 4). Scale 1 returns `x` unchanged.
    Returns: (..., ceil(H * scale), ceil(W * scale)), same dtype; values are not clamped.
    Raises:
        InputError: `scale` is not the inverse of a positive integer, or `x` is not floating
            point with at least 2 dimensions.
    """
    factor = round(1 / scale) if scale > 0 else 0
    if factor < 1 or not math.isclose(factor * scale, 1.0, rel_tol=1e-9):
        raise InputError(f"imresize supports downscaling by 1/k for an integer k >= 1 (e.g. 0.25); got {scale}.")
    if x.ndim < 2 or not x.is_floating_point():
        raise InputError(f"imresize needs a floating (..., H, W) tensor; got {x.dtype} of shape {tuple(x.shape)}.")
    if factor == 1:
        return x
    first, weights = cubic_taps(factor)
    x = _downscale_last_axis(x.transpose(-1, -2), factor, first, weights).transpose(-1, -2)  # height
    return _downscale_last_axis(x, factor, first, weights)  # width
