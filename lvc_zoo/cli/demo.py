"""`lvc-zoo demo`: code a short synthetic clip with DCVC-DC and print what it costs.

The clip pans (and slightly zooms) across one of scikit-image's bundled sample photos, so
the demo needs no network and no video files. Bits are estimated from the model's
likelihoods (`codec.estimate_frames`); each frame's time is the wall time from the request
of that frame's result to its arrival.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import skimage.data
import torch

import lvc_zoo

from ..data import pan_clip
from ..models import FrameEstimate, VideoCodec
from ..registry import get_spec

__all__ = ["HELP", "add_arguments", "run"]

HELP = "code a short synthetic clip with dcvc_dc and print bits, bpp, PSNR and time per frame"
DEMO_MODEL = "dcvc_dc"
IMAGES: dict[str, Callable[[], Any]] = {"astronaut": skimage.data.astronaut, "coffee": skimage.data.coffee}
"""scikit-image sample photos bundled with the package (no download)."""
PAN_STEP = (2, 8)
"""(dy, dx) pixels the camera moves per frame."""
ZOOM = 0.01
"""The camera zooms in by 1 % per frame."""
RANDOM_WEIGHTS_NOTE = (
    f"random weights (pretrained=False): no trained {DEMO_MODEL} weights ship yet, so PSNR is "
    "meaningless; the numbers show the pipeline runs"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo demo`."""
    parser.add_argument("--frames", type=int, default=5, help="number of frames (default 5)")
    parser.add_argument("--size", type=parse_size, default=(256, 256), metavar="WxH", help="frame size (default 256x256)")
    parser.add_argument("--quality", type=int, default=None, help="0..3, higher is better (default: highest)")
    parser.add_argument("--image", choices=sorted(IMAGES), default="astronaut", help="source photo (default astronaut)")
    parser.add_argument("--weights", default=None, help="trained weights: a directory from `lvc-zoo convert` or hf-hub:ORG/NAME")
    parser.add_argument("--device", type=parse_device, default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    # Reduced widths, so the tests run the whole command in seconds.
    parser.add_argument("--small", action="store_true", help=argparse.SUPPRESS)


def parse_size(text: str) -> tuple[int, int]:
    """"WxH" -> (height, width)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 256x256") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return height, width


def parse_device(text: str) -> torch.device:
    """A torch device name that exists on this machine."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device name such as cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("CUDA is not available on this machine; use --device cpu")
    return device


def run(args: argparse.Namespace) -> int:
    """Build the clip and the codec, estimate, print the table."""
    device = args.device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    height, width = args.size
    frames = pan_clip(IMAGES[args.image](), args.frames, (height, width), PAN_STEP, ZOOM)
    start = time.perf_counter()
    codec, weights_note = build_codec(args.quality, args.weights, args.small, device)
    build_s = time.perf_counter() - start
    print(f"lvc-zoo demo: {DEMO_MODEL} at quality {codec.quality} on {device}")
    print(f"clip: {args.frames} frames of {width}x{height}, a pan across scikit-image's {args.image} photo")
    print(f"weights: {weights_note}")
    print(f"model built in {build_s:.1f} s")
    print()
    results, times_ms = timed_estimate(codec, frames, device)
    print(format_table(results, times_ms))
    return 0


def build_codec(quality: int | None, weights: str | None, small: bool, device: torch.device) -> tuple[VideoCodec, str]:
    """The demo codec and a plain statement of which weights it carries."""
    if weights is not None:
        return lvc_zoo.load(DEMO_MODEL, quality, weights=weights, device=device), f"loaded from {weights}"
    if not small:
        return lvc_zoo.load(DEMO_MODEL, quality, pretrained=False, device=device), RANDOM_WEIGHTS_NOTE
    spec = get_spec(DEMO_MODEL)
    spec.check_quality(quality)
    codec = spec.builder(type(spec.config).small())
    if quality is not None:
        codec.quality = quality
    return codec.to(device).eval(), f"{RANDOM_WEIGHTS_NOTE} (reduced test widths)"


def timed_estimate(codec: VideoCodec, frames: torch.Tensor, device: torch.device) -> tuple[list[FrameEstimate], list[float]]:
    """Estimate the clip frame by frame; returns the results and each frame's wall time in ms.

    On CUDA the device is synchronised before each time stamp, so the time covers the kernels.
    """
    results: list[FrameEstimate] = []
    times_ms: list[float] = []
    frame_iter = codec.estimate_frames(frames, intra_period=-1)
    while True:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = next(frame_iter, None)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if result is None:
            return results, times_ms
        times_ms.append((time.perf_counter() - start) * 1e3)
        results.append(result)


def format_table(results: Sequence[FrameEstimate], times_ms: Sequence[float]) -> str:
    """Per-frame rows (type, bits, bpp, PSNR, ms) and a totals row."""
    pixels = results[0].recon.shape[-2] * results[0].recon.shape[-1]
    header = f"{'frame':>5}  {'type':>4}  {'bits':>10}  {'bpp':>7}  {'PSNR dB':>7}  {'ms':>8}"
    rows = [header]
    for r, ms in zip(results, times_ms):
        rows.append(f"{r.index:>5}  {r.frame_type:>4}  {r.bits:>10.0f}  {r.bits / pixels:>7.4f}  {r.psnr:>7.2f}  {ms:>8.0f}")
    count = len(results)
    total_bits = sum(r.bits for r in results)
    mean_psnr = sum(r.psnr for r in results) / count
    rows.append(
        f"{'total':>5}  {'':>4}  {total_bits:>10.0f}  {total_bits / pixels / count:>7.4f}  {mean_psnr:>7.2f}  {sum(times_ms):>8.0f}"
    )
    rows.append("(total row: bits and ms summed; bpp and PSNR averaged over frames)")
    return "\n".join(rows)
