"""x264 on the demo's frames: CRFs covering a codec's PSNR range, and the demo's x264 rows and BD-rate."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import pytest
import torch

from lvc_zoo.cli.demo import compare_x264
from lvc_zoo.data.synthetic import HELD_OUT_PHOTO, load_photo, pan_clip
from lvc_zoo.errors import InputError
from lvc_zoo.eval.x264 import MAX_CRF, x264_overlapping, x264_point

FPS = Fraction(30)


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return pan_clip(load_photo(HELD_OUT_PHOTO), 3, (64, 96), (2, 8), 0.01)


def test_crfs_cover_the_asked_psnr_range_best_quality_last(clip: torch.Tensor) -> None:
    points, overlaps = x264_overlapping(clip, FPS, 26.0, 30.0)
    assert overlaps and len(points) >= 2
    assert points[0].psnr <= 26.0 and points[-1].psnr >= 30.0
    assert [p.crf for p in points] == sorted((p.crf for p in points), reverse=True)
    assert [p.bits for p in points] == sorted(p.bits for p in points)
    assert x264_point(clip, FPS, points[0].crf) == points[0]  # deterministic


def test_a_range_below_crf_51_does_not_overlap(clip: torch.Tensor) -> None:
    points, overlaps = x264_overlapping(clip, FPS, 5.0, 8.0)
    assert not overlaps and [p.crf for p in points] == [MAX_CRF]
    with pytest.raises(InputError, match="even sides"):
        x264_point(clip[..., :63, :], FPS, 30)


def _run(bits: int, db: float, frames: int) -> SimpleNamespace:
    """A QualityRun stand-in: what compare_x264 reads (bits per encoded frame, PSNR per frame)."""
    return SimpleNamespace(encoded=[SimpleNamespace(bits=bits // frames)] * frames, psnrs=[db] * frames)


def test_the_demo_prints_x264_rows_and_the_bd_rate_or_why_there_is_none(clip: torch.Tensor) -> None:
    near = x264_overlapping(clip, FPS, 27.0, 31.0)[0]
    # a "model" spending 3 times x264's bits at the same PSNRs: BD-rate +200 %
    runs = [_run(3 * p.bits, p.psnr, clip.shape[0]) for p in near]
    text = compare_x264(runs, clip, FPS)
    assert "libx264 veryslow, tune psnr, 4:2:0; RGB PSNR" in text and "kbps" in text
    bd = float(text.split("(RGB PSNR, pchip): ")[1].split(" %")[0])
    assert bd == pytest.approx(200.0, abs=1.0)
    assert "the ranges do not overlap" in compare_x264([_run(5000, 6.0, 3), _run(9000, 7.0, 3)], clip, FPS)
    assert "needs the model at two qualities" in compare_x264([_run(90000, 28.0, 3)], clip, FPS)
