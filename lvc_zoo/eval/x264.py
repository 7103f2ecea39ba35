"""x264 as a reference point: the same frames through libx264 (PyAV), measured as the codecs are.

Settings: preset veryslow, tune psnr, 4:2:0 (yuv420p), one CRF per point, low delay is not
forced (x264's defaults: B-frames, one I frame at the start, as a 5-frame clip gets). The rate
is the size of the coded packets (no container); the PSNR is RGB, per frame on the decoded
frames against the input (`lvc_zoo.models.codec.psnr`, the demo's), averaged over frames.
RGB and 4:2:0 are converted by `lvc_zoo.data.colour` (BT.709, full range, 2x2 chroma mean in,
nearest-neighbour chroma out), as lvc_zoo's own YUV files are, not by FFmpeg's swscale: its
RGB paths read uninitialised row padding in its frame buffers, so the same clip could give
another PSNR from one call to the next once freed memory is reused (seen as a 0.06 dB change).

:func:`x264_overlapping` chooses CRFs so that x264's PSNR range covers a codec's: bisection
finds the CRF whose PSNR falls just below the codec's lowest and the one just above its
highest, and the points spread evenly between them. Where even CRF 51 is above the codec's
best PSNR, the ranges cannot overlap and it says so (no BD-rate then: it would extrapolate).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import torch
from torch import Tensor

from ..data.colour import from_uint8_planes, rgb_to_yuv420, to_uint8_planes, yuv420_to_rgb
from ..errors import InputError
from ..models.codec import psnr

__all__ = ["X264Point", "x264_point", "x264_overlapping", "MAX_CRF", "X264_OPTIONS"]

MAX_CRF = 51
"""libx264's lowest quality (8-bit)."""
X264_OPTIONS = {"preset": "veryslow", "tune": "psnr"}


@dataclass(frozen=True)
class X264Point:
    """One CRF's result on a clip: total bits of the packets and the mean per-frame RGB PSNR."""

    crf: int
    bits: int
    psnr: float


def x264_point(frames: Tensor, fps: Fraction, crf: int) -> X264Point:
    """Code `frames` (T, 3, H, W) RGB in [0, 1] with libx264 at `crf`, decode, and measure.

    Raises:
        InputError: odd width or height (4:2:0 needs even sides).
    """
    count, _, height, width = frames.shape
    if height % 2 or width % 2:
        raise InputError(f"x264 codes 4:2:0, which needs even sides; the clip is {width}x{height}.")
    pixels = (frames.clamp(0, 1) * 255).round() / 255  # the 8-bit RGB a video file would hold
    planes = [_yuv420p_array(*to_uint8_planes(*rgb_to_yuv420(rgb))) for rgb in pixels.detach().float().cpu()]
    buffer, bits = io.BytesIO(), 0
    with av.open(buffer, "w", format="h264") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {**X264_OPTIONS, "crf": str(crf)}
        for frame in [*(av.VideoFrame.from_ndarray(yuv, format="yuv420p") for yuv in planes), None]:
            for packet in stream.encode(frame):
                bits += packet.size * 8
                output.mux(packet)
    buffer.seek(0)
    with av.open(buffer, format="h264") as decoded_file:
        decoded = [_rgb(frame.to_ndarray(format="yuv420p"), height, width) for frame in decoded_file.decode(video=0)]
    reference = frames.detach().float().cpu()
    psnrs = [psnr(rgb[None], reference[t : t + 1]) for t, rgb in enumerate(decoded)]
    if len(psnrs) != count:
        raise InputError(f"x264 returned {len(psnrs)} frames for {count}.")
    return X264Point(crf, bits, sum(psnrs) / count)


def _yuv420p_array(y: Tensor, u: Tensor, v: Tensor) -> np.ndarray:
    """uint8 planes Y (H, W), U and V (H/2, W/2) as PyAV's yuv420p array: (3H/2, W), the planes back to back."""
    height, width = y.shape
    return torch.cat((y.reshape(-1), u.reshape(-1), v.reshape(-1))).reshape(height * 3 // 2, width).numpy()


def _rgb(yuv: np.ndarray, height: int, width: int) -> Tensor:
    """(3, H, W) RGB in [0, 1] of PyAV's (3H/2, W) yuv420p array."""
    flat = torch.from_numpy(np.ascontiguousarray(yuv)).reshape(-1)
    luma, chroma = height * width, (height // 2) * (width // 2)
    y, u, v = flat[:luma].view(height, width), flat[luma : luma + chroma], flat[luma + chroma :]
    planes = from_uint8_planes(y, u.view(height // 2, width // 2), v.view(height // 2, width // 2))
    return yuv420_to_rgb(*planes)


def x264_overlapping(frames: Tensor, fps: Fraction, low: float, high: float, points: int = 4) -> tuple[list[X264Point], bool]:
    """x264 points whose PSNRs span [`low`, `high`] dB (a codec's range), best quality last.

    Returns: (points, overlaps): `points` CRFs spread between the one just below `low` and the
        one just above `high`; overlaps is False when even CRF 51 is above `high`, and then the
        points are CRF 51 alone.
    """
    cache: dict[int, X264Point] = {}

    def at(crf: int) -> X264Point:
        if crf not in cache:
            cache[crf] = x264_point(frames, fps, crf)
        return cache[crf]

    if at(MAX_CRF).psnr >= high:
        return [at(MAX_CRF)], False
    worst = _bisect(lambda crf: at(crf).psnr <= low, default=MAX_CRF)  # smallest CRF at or below `low`
    best = _bisect(lambda crf: at(crf).psnr < high, default=MAX_CRF + 1) - 1  # largest CRF at or above `high`
    best = max(best, 0)
    crfs = sorted({round(best + (worst - best) * k / (points - 1)) for k in range(points)}, reverse=True)
    return [at(crf) for crf in crfs], True


def _bisect(below: Callable[[int], bool], default: int) -> int:
    """The smallest CRF in 0..51 for which `below` holds (it holds for every larger CRF), or `default`."""
    lo, hi = 0, MAX_CRF + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if below(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo if lo <= MAX_CRF else default
