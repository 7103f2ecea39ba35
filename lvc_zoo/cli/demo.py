"""`lvc-zoo demo`: code a short synthetic clip with DCVC-DC into a real file and decode it.

The clip pans (and slightly zooms) across one of scikit-image's bundled sample photos, so
the demo needs no network and no video files. It runs the path of the command line:

    pan_clip ─► input.y4m ─► read_video ─► encode_frames ─► demo.lvc ─► decode_frames ─► decoded.y4m

and prints per frame the bits in the file, the bits estimated from the likelihoods, PSNR and
the time to encode and to decode; each time is the wall time from the request of that
frame's result to its arrival. Finally it checks that the decoded frames equal the
encoder's reconstruction bit for bit, and exits with 1 if they do not.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import skimage.data
import torch

import lvc_zoo

from ..coding.bitstream import write_stream
from ..data import VideoInfo, pan_clip, read_video, write_video
from ..models import VideoCodec
from ..models.codec import EncodedFrame, psnr
from ..registry import get_spec
from ..runtime import timed, write_atomic
from .codec_commands import parse_device, parse_size

__all__ = ["HELP", "add_arguments", "run"]

HELP = "code a short synthetic clip with dcvc_dc into a file, decode it, and print bits, PSNR and time per frame"
DEMO_MODEL = "dcvc_dc"
DEFAULT_OUTPUT_DIR = Path("lvc_zoo_demo")
"""Where the demo writes its files when --output-dir is not given (relative to the current directory)."""
STREAM_FILE, INPUT_FILE, DECODED_FILE = "demo.lvc", "input.y4m", "decoded.y4m"
DEMO_FPS = Fraction(30)
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
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, metavar="DIR",
        help=f"where to write {STREAM_FILE}, {INPUT_FILE} and {DECODED_FILE} (default: ./{DEFAULT_OUTPUT_DIR}/)",
    )
    # Reduced widths, so the tests run the whole command in seconds.
    parser.add_argument("--small", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Build the clip and the codec, encode to a file, decode it, print the table and the check."""
    device = args.device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    width, height = args.size
    clip = pan_clip(IMAGES[args.image](), args.frames, (height, width), PAN_STEP, ZOOM)
    start = time.perf_counter()
    codec, weights_note = build_codec(args.quality, args.weights, args.small, device)
    build_s = time.perf_counter() - start
    print(f"lvc-zoo demo: {DEMO_MODEL} at quality {codec.quality} on {device}")
    print(f"clip: {args.frames} frames of {width}x{height}, a pan across scikit-image's {args.image} photo")
    print(f"weights: {weights_note}")
    print(f"model built in {build_s:.1f} s")

    out_dir = args.output_dir
    input_path = write_video(out_dir / INPUT_FILE, clip, VideoInfo.of(clip, fps=DEMO_FPS))
    frames, info = read_video(input_path)  # what `lvc-zoo encode input.y4m` would code
    frames = frames.to(device)
    encoded, enc_ms = zip(*timed(codec.encode_frames(frames, intra_period=-1), device))
    colour = info.colour
    header = codec.stream_header(frames, codec.quality, -1, fps=info.fps, colour_matrix=colour.matrix, colour_range=colour.range)
    stream_path = write_atomic(out_dir / STREAM_FILE, write_stream(header, [frame.coded for frame in encoded]))
    decoded, dec_ms = zip(*timed(codec.decode_frames(stream_path.read_bytes()), device))
    write_video(out_dir / DECODED_FILE, (x_hat[0] for x_hat in decoded), info)

    psnrs = [psnr(frame.recon, frames[index : index + 1]) for index, frame in enumerate(encoded)]
    print()
    print(format_table(encoded, psnrs, enc_ms, dec_ms))
    print()
    stream_bytes = stream_path.stat().st_size
    framing = stream_bytes - sum(frame.bits for frame in encoded) // 8
    print(f"wrote {out_dir}/: {INPUT_FILE} (the clip), {STREAM_FILE} ({stream_bytes} bytes: the frames' payloads "
          f"+ {framing} bytes of header and framing), {DECODED_FILE} (decoded from {STREAM_FILE})")
    if args.weights is not None:
        print(f"decode it again with: lvc-zoo decode {stream_path} -o decoded.y4m --weights {args.weights}")
    else:
        print(f"(random weights: {STREAM_FILE} decodes only with the weights of this run, which are not saved)")
    max_diff = max(float((x_hat - frame.recon).abs().max()) for x_hat, frame in zip(decoded, encoded))
    if max_diff != 0:
        print(f"decode DIFFERS from the encoder: max |diff| = {max_diff:g}")
        return 1
    print(f"decode matches the encoder: max |diff| = {max_diff:g}")
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


def format_table(
    encoded: Sequence[EncodedFrame], psnrs: Sequence[float], enc_ms: Sequence[float], dec_ms: Sequence[float]
) -> str:
    """Per-frame rows (type, bits in the file, bpp, estimated bits, PSNR, ms) and a totals row."""
    pixels = encoded[0].recon.shape[-2] * encoded[0].recon.shape[-1]
    header = (
        f"{'frame':>5}  {'type':>4}  {'bits':>10}  {'bpp':>7}  {'est. bits':>10}  {'PSNR dB':>7}  "
        f"{'enc ms':>8}  {'dec ms':>8}"
    )
    rows = [header]
    for index, (frame, quality_db, enc, dec) in enumerate(zip(encoded, psnrs, enc_ms, dec_ms)):
        rows.append(
            f"{index:>5}  {frame.coded.frame_type:>4}  {frame.bits:>10}  {frame.bits / pixels:>7.4f}  "
            f"{frame.estimated_bits:>10.0f}  {quality_db:>7.2f}  {enc:>8.0f}  {dec:>8.0f}"
        )
    count = len(encoded)
    total_bits = sum(frame.bits for frame in encoded)
    total_estimate = sum(frame.estimated_bits for frame in encoded)
    rows.append(
        f"{'total':>5}  {'':>4}  {total_bits:>10}  {total_bits / pixels / count:>7.4f}  {total_estimate:>10.0f}  "
        f"{sum(psnrs) / count:>7.2f}  {sum(enc_ms):>8.0f}  {sum(dec_ms):>8.0f}"
    )
    rows.append(
        "(bits: the frame's payload in the file; est. bits: from the likelihoods; "
        "total row: bits and ms summed, bpp and PSNR averaged over frames)"
    )
    return "\n".join(rows)
