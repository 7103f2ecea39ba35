"""lvc_zoo.eval.metrics against hand computations: PSNR of known MSEs, the 6:1:1 weighting, MS-SSIM limits."""

from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from lvc_zoo.data import ColourSpace, rgb_to_yuv420, rgb_to_yuv420_codes, to_uint8_planes
from lvc_zoo.errors import InputError
from lvc_zoo.training.objective import MS_SSIM_MIN_SIDE
from lvc_zoo.eval.metrics import (
    MAX_PSNR,
    FrameMetrics,
    frame_metrics,
    msssim,
    msssim_skip_reason,
    psnr_from_mse,
    psnr_planes,
    psnr_rgb,
    weighted_yuv,
)

BT709 = ColourSpace("bt709", "full")


def test_psnr_of_a_known_mse() -> None:
    assert psnr_from_mse(0.01) == pytest.approx(20.0, abs=1e-12)
    assert psnr_from_mse(1.0, peak=255.0) == pytest.approx(20 * math.log10(255), abs=1e-12)
    assert psnr_from_mse(0.0) == MAX_PSNR
    assert psnr_from_mse(1e-30) == MAX_PSNR
    with pytest.raises(InputError):
        psnr_from_mse(-1.0)


def test_psnr_rgb_is_float64_with_peak_1() -> None:
    x = torch.zeros(3, 8, 8)
    assert psnr_rgb(torch.full((3, 8, 8), 0.125), x) == pytest.approx(10 * math.log10(64), abs=1e-12)  # MSE 1/64
    # Half the values off by 0.25, half exact: MSE 1/32.
    x_hat = x.clone()
    x_hat[:, :4] = 0.25
    assert psnr_rgb(x_hat, x) == pytest.approx(10 * math.log10(32), abs=1e-12)
    # A difference float32 PSNR would lose: 1e-5 everywhere -> 100 dB exactly in float64.
    assert psnr_rgb(torch.full((1, 3, 4, 4), 0.5 + 1e-5, dtype=torch.float64), torch.full((1, 3, 4, 4), 0.5, dtype=torch.float64)) == pytest.approx(100.0, abs=1e-6)
    with pytest.raises(InputError, match="source"):
        psnr_rgb(torch.zeros(3, 8, 8), torch.zeros(3, 8, 4))


def test_psnr_planes_on_8_bit_codes_with_peak_255() -> None:
    y = torch.full((8, 8), 100, dtype=torch.uint8)
    u = torch.full((4, 4), 128, dtype=torch.uint8)
    v = torch.full((4, 4), 60, dtype=torch.uint8)
    psnr_y, psnr_u, psnr_v = psnr_planes((y + 1, u + 2, v), (y, u, v))  # MSE 1, 4, 0
    assert psnr_y == pytest.approx(10 * math.log10(255**2 / 1))
    assert psnr_u == pytest.approx(10 * math.log10(255**2 / 4))
    assert psnr_v == MAX_PSNR


def test_yuv_weighting_is_6_1_1() -> None:
    assert weighted_yuv(30.0, 40.0, 50.0) == pytest.approx((6 * 30 + 40 + 50) / 8)
    metrics = FrameMetrics(20.0, 30.0, 40.0, 50.0, None, 0.9, 0.5, 0.7)
    assert metrics.psnr_yuv == pytest.approx(33.75)
    assert metrics.msssim_yuv == pytest.approx((6 * 0.9 + 0.5 + 0.7) / 8)
    assert FrameMetrics(20.0, 30.0, 40.0, 50.0, 0.9, 0.9, None, None).msssim_yuv is None


def test_msssim_needs_176_pixels_per_side() -> None:
    torch.manual_seed(0)
    assert MS_SSIM_MIN_SIDE == 176
    small = torch.rand(3, MS_SSIM_MIN_SIDE - 1, 200)
    assert msssim(small * 0.9, small) is None
    reason = msssim_skip_reason(MS_SSIM_MIN_SIDE - 1, 200)
    assert reason is not None and "200x175" in reason and "176" in reason
    assert msssim_skip_reason(MS_SSIM_MIN_SIDE, MS_SSIM_MIN_SIDE) is None
    x = torch.rand(3, MS_SSIM_MIN_SIDE, MS_SSIM_MIN_SIDE)
    expected = multiscale_structural_similarity_index_measure((x * 0.9)[None], x[None], data_range=1.0)
    assert msssim(x * 0.9, x) == pytest.approx(float(expected), abs=1e-6)
    assert msssim(x, x) == pytest.approx(1.0, abs=1e-5)
    codes = (x[0] * 255).round().to(torch.uint8)  # uint8 planes are read as code / 255
    assert msssim(codes, codes) == pytest.approx(1.0, abs=1e-5)


def test_yuv420_codes_are_the_colour_modules_codes() -> None:
    torch.manual_seed(1)
    rgb = torch.rand(3, 10, 12)
    for colour in (BT709, ColourSpace("bt601", "limited")):
        expected = to_uint8_planes(*rgb_to_yuv420(rgb, colour), colour)
        for got, want in zip(rgb_to_yuv420_codes(rgb, colour), expected):
            assert torch.equal(got, want)


def test_frame_metrics_use_the_source_planes_when_given() -> None:
    torch.manual_seed(2)
    x = torch.rand(3, 64, 64)
    x_hat = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    derived = frame_metrics(x_hat, x, BT709)
    planes = rgb_to_yuv420_codes(x, BT709)
    assert frame_metrics(x_hat, x, BT709, planes) == derived
    y_hat, u_hat, v_hat = rgb_to_yuv420_codes(x_hat, BT709)
    y, u, v = planes
    assert derived.psnr_y == pytest.approx(psnr_from_mse(((y_hat.double() - y.double()) ** 2).mean().item(), 255))
    assert derived.psnr_rgb == pytest.approx(psnr_rgb(x_hat, x))
    # The file's own planes (here: Y one code brighter) are the reference, not a re-conversion of x.
    shifted = frame_metrics(x_hat, x, BT709, ((y.int() + 1).clamp(0, 255).to(torch.uint8), u, v))
    assert shifted.psnr_y != pytest.approx(derived.psnr_y)
    assert (shifted.psnr_u, shifted.psnr_v, shifted.psnr_rgb) == (derived.psnr_u, derived.psnr_v, derived.psnr_rgb)
    # 64x64: too small for MS-SSIM anywhere.
    assert (derived.msssim_rgb, derived.msssim_y, derived.msssim_u, derived.msssim_v, derived.msssim_yuv) == (None,) * 5


def test_frame_metrics_at_192_compute_rgb_and_luma_msssim_only() -> None:
    torch.manual_seed(3)
    x = torch.rand(3, 192, 192)
    metrics = frame_metrics((x * 0.95).clamp(0, 1), x, BT709)
    assert metrics.msssim_rgb is not None and 0 < metrics.msssim_rgb <= 1
    assert metrics.msssim_y is not None
    assert metrics.msssim_u is None and metrics.msssim_v is None  # 96x96 chroma
    assert metrics.msssim_yuv is None
