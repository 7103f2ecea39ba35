"""The shipped demo model `dcvc_dc_tiny`: real compression, offline, on a photo it never trained on.

The proof of issue #6, on the clip `lvc-zoo demo` codes by default: 5 frames of 256x384
panning (and zooming) across scikit-image's coffee photo, held out of training. At every
quality the clip goes through real files (encode -> stream -> decode) with the weights that
ship inside the package, loaded with every network connection refused.
"""

from __future__ import annotations

import socket
from fractions import Fraction

import pytest
import torch

import lvc_zoo
from lvc_zoo.cli.demo import PAN_STEP, ZOOM, QualityRun, code_at
from lvc_zoo.data import VideoInfo
from lvc_zoo.data.synthetic import HELD_OUT_PHOTO, TRAINING_PHOTOS, load_photo, pan_clip
from lvc_zoo.hub import PACKAGE_DIR, WEIGHTS_FILE
from lvc_zoo.models import VideoCodec
from lvc_zoo.registry import get_spec

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

SIZE = (256, 384)
FRAMES = 5


def _refuse_connections(*args: object, **kwargs: object) -> None:
    raise OSError("the demo model must load without network access")


@pytest.fixture(scope="module")
def codec() -> VideoCodec:
    """`load("dcvc_dc_tiny")` with every network connection refused."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_connections)
        return lvc_zoo.load("dcvc_dc_tiny", device="cpu")


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    """(5, 3, 256, 384): the demo's pan across the held-out photo."""
    return pan_clip(load_photo(HELD_OUT_PHOTO), FRAMES, SIZE, PAN_STEP, ZOOM)


@pytest.fixture(scope="module")
def runs(codec: VideoCodec, clip: torch.Tensor) -> dict[int, QualityRun]:
    """The clip coded into a stream and decoded at every quality (about 20 s on 2 CPU cores)."""
    info = VideoInfo.of(clip, fps=Fraction(30))
    return {quality: code_at(codec, clip, quality, info, torch.device("cpu")) for quality in codec.qualities}


def _bpp(run: QualityRun) -> float:
    return sum(frame.bits for frame in run.encoded) / (SIZE[0] * SIZE[1] * FRAMES)


def _psnr(run: QualityRun) -> float:
    return sum(run.psnrs) / len(run.psnrs)


def test_the_weights_ship_in_the_package_small_and_pinned() -> None:
    spec = get_spec("dcvc_dc_tiny")
    assert spec.bundled is not None and spec.hub_repo is None
    weights = PACKAGE_DIR / spec.bundled / WEIGHTS_FILE
    assert weights.stat().st_size < 10_000_000
    assert set(spec.files) == {WEIGHTS_FILE}
    assert HELD_OUT_PHOTO not in TRAINING_PHOTOS


def test_every_decode_equals_the_encoder(runs: dict[int, QualityRun]) -> None:
    assert all(run.max_diff == 0 for run in runs.values())


def test_rate_and_psnr_rise_with_every_quality_step(runs: dict[int, QualityRun]) -> None:
    qualities = sorted(runs)
    bpp = [_bpp(runs[q]) for q in qualities]
    psnr = [_psnr(runs[q]) for q in qualities]
    assert all(a < b for a, b in zip(bpp, bpp[1:])), bpp
    assert all(a < b for a, b in zip(psnr, psnr[1:])), psnr


def test_the_best_quality_reaches_28_db(runs: dict[int, QualityRun]) -> None:
    best = runs[max(runs)]
    assert _psnr(best) >= 28.0, best.psnrs


def test_the_mean_p_frame_costs_at_most_half_the_i_frame(runs: dict[int, QualityRun]) -> None:
    for run in runs.values():
        bits = [frame.bits for frame in run.encoded]
        assert [frame.coded.frame_type for frame in run.encoded] == ["I"] + ["P"] * (FRAMES - 1)
        assert sum(bits[1:]) / (FRAMES - 1) <= 0.5 * bits[0], (run.quality, bits)


def test_the_whole_file_is_within_2_percent_of_the_estimate(
    codec: VideoCodec, clip: torch.Tensor, runs: dict[int, QualityRun]
) -> None:
    """Header, framing and entropy-coder overhead included (the escape floor keeps it small)."""
    best = max(runs)
    assert sum(frame.estimated_bits for frame in runs[best].encoded) == pytest.approx(sum(codec.estimate(clip, best).bits))
    for quality, run in runs.items():
        estimated = sum(frame.estimated_bits for frame in run.encoded)
        assert abs(len(run.stream) * 8 / estimated - 1) <= 0.02, (quality, len(run.stream) * 8, estimated)
