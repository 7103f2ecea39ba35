"""Quality metrics of the DCVC test conditions: PSNR (RGB, Y/U/V, YUV 6:1:1) and MS-SSIM.

    source RGB (3, H, W) ──────────────────────────────► psnr_rgb, msssim_rgb ◄── recon RGB
    source YUV 4:2:0 codes (the file's, or from RGB) ──► psnr_y/u/v, msssim_y/u/v ◄── recon ─rgb_to_yuv420─► codes

Every function takes one frame; `lvc_zoo.eval.runner` averages frames the way DCVC's
`test_video.py` does (the mean of per-frame values, never a PSNR of the mean MSE).

[choice] PSNR is computed in float64, on the device of the tensors (the runner uses the
codec's: torchmetrics' MS-SSIM of a 1080p frame takes seconds on a CPU). RGB PSNR uses peak 1
on the float frames. Y/U/V PSNR is computed on 8-bit 4:2:0 codes with peak 255, whatever the
code range: for YUV sources the reference codes are the file's own planes (the microsoft/DCVC
convention: an RGB codec is measured in YUV against the original YUV file), and the
reconstruction is converted with the run's :class:`ColourSpace` and rounded to codes, as a
decoder writing a .yuv file would.

[choice] PSNR_YUV = (6 PSNR_Y + PSNR_U + PSNR_V) / 8 (microsoft/DCVC and the VTM anchors;
CompressAI's video tools use (4Y + U + V) / 6 instead). MS-SSIM of YUV sources is weighted the
same way, which is how the published VTM anchor's "ave_*_frame_msssim" is built from its
Y/U/V values.

[choice] Identical signals would give an infinite PSNR, which neither an average nor JSON can
hold: PSNRs are capped at :data:`MAX_PSNR` (100 dB, an MSE floor of 1e-10 of the squared peak).

[choice] MS-SSIM is torchmetrics' (5 scales, 11x11 Gaussian, sigma 1.5, data range 1). It
needs at least :data:`MS_SSIM_MIN_SIDE` (176) pixels per side; smaller planes (64x64 test
clips; the 4:2:0 chroma of frames with a side under 352 px, e.g. HEVC class D) give None and
:func:`msssim_skip_reason` says why, instead of crashing or inventing a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.colour import ColourSpace, rgb_to_yuv420_codes
from ..errors import InputError
from ..training.objective import MS_SSIM_MIN_SIDE

__all__ = [
    "MAX_PSNR",
    "YUV_WEIGHTS",
    "Planes",
    "FrameMetrics",
    "psnr_from_mse",
    "psnr_rgb",
    "psnr_planes",
    "weighted_yuv",
    "msssim",
    "msssim_skip_reason",
    "frame_metrics",
]

MAX_PSNR = 100.0
"""PSNR (dB) reported for identical signals; every PSNR is capped here."""
YUV_WEIGHTS = (6, 1, 1)
"""Weights of Y, U and V in PSNR_YUV and MS-SSIM_YUV (microsoft/DCVC)."""

Planes = tuple[Tensor, Tensor, Tensor]
"""8-bit 4:2:0 planes of one frame: Y (H, W), U and V (⌈H/2⌉, ⌈W/2⌉), uint8."""


@dataclass(frozen=True)
class FrameMetrics:
    """Quality of one reconstructed frame against its source.

    Attributes:
        psnr_rgb: dB over R, G, B, peak 1.
        psnr_y, psnr_u, psnr_v: dB on 8-bit 4:2:0 codes, peak 255.
        msssim_rgb: MS-SSIM over R, G, B in [0, 1]; None when the frame is too small.
        msssim_y, msssim_u, msssim_v: MS-SSIM of each 4:2:0 plane; None when it is too small.
    """

    psnr_rgb: float
    psnr_y: float
    psnr_u: float
    psnr_v: float
    msssim_rgb: float | None
    msssim_y: float | None
    msssim_u: float | None
    msssim_v: float | None

    @property
    def psnr_yuv(self) -> float:
        """(6 PSNR_Y + PSNR_U + PSNR_V) / 8."""
        return weighted_yuv(self.psnr_y, self.psnr_u, self.psnr_v)

    @property
    def msssim_yuv(self) -> float | None:
        """(6 MS-SSIM_Y + MS-SSIM_U + MS-SSIM_V) / 8; None unless all three are known."""
        values = (self.msssim_y, self.msssim_u, self.msssim_v)
        return None if any(v is None for v in values) else weighted_yuv(*values)  # type: ignore[arg-type]


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """10 log10(peak² / mse) in dB, capped at MAX_PSNR (so mse == 0 gives MAX_PSNR)."""
    if mse < 0 or not math.isfinite(mse):
        raise InputError(f"an MSE must be a finite number >= 0, got {mse!r}.")
    return min(MAX_PSNR, 10 * math.log10(peak * peak / mse) if mse > 0 else MAX_PSNR)


def psnr_rgb(x_hat: Tensor, x: Tensor) -> float:
    """PSNR in dB of RGB frames, float64, peak 1.

    Args:
        x_hat: (3, H, W) or (1, 3, H, W) reconstruction in [0, 1].
        x: the source, same shape.
    """
    _check_same_shape(x_hat, x, "psnr_rgb")
    mse = torch.mean((x_hat.double() - x.double()) ** 2).item()
    return psnr_from_mse(mse, 1.0)


def psnr_planes(planes_hat: Planes, planes: Planes) -> tuple[float, float, float]:
    """(PSNR_Y, PSNR_U, PSNR_V) in dB of 8-bit planes, float64, peak 255."""
    results = []
    for name, plane_hat, plane in zip("YUV", planes_hat, planes):
        _check_same_shape(plane_hat, plane, f"psnr of plane {name}")
        mse = torch.mean((plane_hat.double() - plane.double()) ** 2).item()
        results.append(psnr_from_mse(mse, 255.0))
    return results[0], results[1], results[2]


def weighted_yuv(y: float, u: float, v: float) -> float:
    """(6 y + u + v) / 8: the DCVC weighting of a per-plane metric."""
    wy, wu, wv = YUV_WEIGHTS
    return (wy * y + wu * u + wv * v) / (wy + wu + wv)


def msssim_skip_reason(height: int, width: int, what: str = "frames") -> str | None:
    """Why MS-SSIM cannot be computed on `what` of `height` x `width`, or None when it can."""
    if min(height, width) >= MS_SSIM_MIN_SIDE:
        return None
    return f"{what} of {width}x{height}: MS-SSIM (5 scales, 11x11 window) needs at least {MS_SSIM_MIN_SIDE} px per side"


def msssim(x_hat: Tensor, x: Tensor) -> float | None:
    """MS-SSIM (torchmetrics defaults, data range 1) of one frame or plane; None when too small.

    Args:
        x_hat: (C, H, W) or (H, W) reconstruction in [0, 1] (uint8 planes are divided by 255).
        x: the source, same shape.
    Returns: MS-SSIM in [0, 1], or None when a side is below MS_SSIM_MIN_SIDE.
    """
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    _check_same_shape(x_hat, x, "msssim")
    if msssim_skip_reason(*x.shape[-2:]) is not None:
        return None
    preds, target = (_unit_float(t).reshape(1, -1, *t.shape[-2:]) for t in (x_hat, x))
    return float(multiscale_structural_similarity_index_measure(preds, target, data_range=1.0))


def frame_metrics(x_hat: Tensor, x: Tensor, colour: ColourSpace, planes: Planes | None = None) -> FrameMetrics:
    """Every metric of one reconstructed frame.

    Args:
        x_hat: (3, H, W) reconstruction, RGB in [0, 1].
        x: (3, H, W) source RGB in [0, 1].
        colour: how RGB becomes YUV for the Y/U/V metrics.
        planes: the source's own 8-bit 4:2:0 planes (YUV sources); None derives them from `x`
            with `colour` (RGB sources).
    """
    x_hat, x = x_hat.reshape(x_hat.shape[-3:]), x.reshape(x.shape[-3:])
    planes_hat = rgb_to_yuv420_codes(x_hat, colour)
    planes = rgb_to_yuv420_codes(x, colour) if planes is None else planes
    psnr_y, psnr_u, psnr_v = psnr_planes(planes_hat, planes)
    msssim_y, msssim_u, msssim_v = (msssim(p_hat, p) for p_hat, p in zip(planes_hat, planes))
    return FrameMetrics(psnr_rgb(x_hat, x), psnr_y, psnr_u, psnr_v, msssim(x_hat, x), msssim_y, msssim_u, msssim_v)


def _unit_float(x: Tensor) -> Tensor:
    """float32 in [0, 1]: uint8 codes / 255, floats as they are."""
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def _check_same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"{what}: the reconstruction is {tuple(a.shape)} but the source is {tuple(b.shape)}.")
