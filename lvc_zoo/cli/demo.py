"""`lvc-zoo demo`: code a short synthetic clip into real files at every quality and decode them.

By default it runs the demo model `dcvc_dc_tiny`, whose trained weights ship inside the
package (recipes/demo_tiny.yaml), so it shows real compression offline. The clip pans (and
slightly zooms) across one of scikit-image's bundled sample photos, so the demo needs no
network and no video files. It runs the path of the command line:

    pan_clip ─► input.y4m ─► read_video ─► encode_frames ─► stream ─► decode_frames ─► decoded.y4m

at each quality (or the one given), and prints for the best quality per frame the bits in
the file, the bits estimated from the likelihoods, RGB PSNR and the time to encode and to
decode (each the wall time from the request of that frame's result to its arrival), then
one rate-distortion row per quality. The best quality's stream is kept as demo.lvc.
Finally it checks that every decode equals the encoder's reconstruction bit for bit, and
exits with 1 if one does not.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch
from torch import Tensor

import lvc_zoo

from ..coding.bitstream import write_stream
from ..data import VideoInfo, pan_clip, read_video, write_video
from ..data.synthetic import HELD_OUT_PHOTO, TRAINING_PHOTOS, load_photo
from ..errors import InputError
from ..models import VideoCodec
from ..models.codec import EncodedFrame, psnr
from ..registry import get_spec
from ..runtime import timed, write_atomic
from .codec_commands import parse_device, parse_frame_size

__all__ = ["HELP", "add_arguments", "run"]

HELP = "code a short synthetic clip into a file, decode it, and print bits, RGB PSNR and time per frame and quality"
DEMO_MODEL = "dcvc_dc_tiny"
"""The default model: its trained weights ship inside the package, so the demo needs no download."""
DEFAULT_OUTPUT_DIR = Path("lvc_zoo_demo")
"""Where the demo writes its files when --output-dir is not given (relative to the current directory)."""
STREAM_FILE, INPUT_FILE, DECODED_FILE = "demo.lvc", "input.y4m", "decoded.y4m"
DEMO_FPS = Fraction(30)
IMAGES = (HELD_OUT_PHOTO, *TRAINING_PHOTOS)
"""scikit-image photos bundled with the package (no download); the default is the one the demo model never saw."""
PAN_STEP = (2, 8)
"""(dy, dx) pixels the camera moves per frame."""
ZOOM = 0.01
"""The camera zooms in by 1 % per frame."""
RANDOM_WEIGHTS_NOTE = "random weights (pretrained=False), so PSNR is meaningless; the numbers show the pipeline runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo demo`."""
    parser.add_argument("--frames", type=int, default=5, help="number of frames (default 5)")
    parser.add_argument("--size", type=parse_frame_size, default=(384, 256), metavar="WxH", help="frame size (default 384x256)")
    parser.add_argument("--model", default=DEMO_MODEL, metavar="NAME", help=f"registry name (default {DEMO_MODEL}, the bundled demo model)")
    parser.add_argument("--quality", type=int, default=None, help="0..3, higher is better (default: every quality, an RD sweep)")
    parser.add_argument("--image", choices=sorted(IMAGES), default=HELD_OUT_PHOTO, help=f"source photo (default {HELD_OUT_PHOTO}, held out of training)")
    parser.add_argument("--weights", default=None, help="trained weights: a directory from `lvc-zoo convert` or hf-hub:ORG/NAME")
    parser.add_argument("--device", type=parse_device, default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, metavar="DIR",
        help=f"where to write {STREAM_FILE}, {INPUT_FILE} and {DECODED_FILE} (default: ./{DEFAULT_OUTPUT_DIR}/)",
    )
    # Reduced widths, so the tests run the whole command in seconds.
    parser.add_argument("--small", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Build the clip and the codec, code it at each quality, print the tables and the checks."""
    device = args.device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    width, height = args.size  # parse_frame_size checked the sides
    clip = pan_clip(load_photo(args.image), args.frames, (height, width), PAN_STEP, ZOOM)
    start = time.perf_counter()
    codec, weights_note = build_codec(args.model, args.quality, args.weights, args.small, device)
    build_s = time.perf_counter() - start
    qualities = list(codec.qualities) if args.quality is None else [codec.quality]
    print(f"lvc-zoo demo: {codec.model_name} at {_qualities_text(qualities)} on {device}")
    print(f"clip: {args.frames} frames of {width}x{height}, a pan across scikit-image's {args.image} photo")
    print(f"weights: {weights_note}")
    print(f"model built in {build_s:.1f} s")

    out_dir = args.output_dir
    input_path = write_video(out_dir / INPUT_FILE, clip, VideoInfo.of(clip, fps=DEMO_FPS))
    frames, info = read_video(input_path)  # what `lvc-zoo encode input.y4m` would code
    frames = frames.to(device)
    runs = [code_at(codec, frames, quality, info, device) for quality in qualities]
    best = runs[-1]
    stream_path = write_atomic(out_dir / STREAM_FILE, best.stream)
    write_video(out_dir / DECODED_FILE, (x_hat[0] for x_hat in best.decoded), info)

    print()
    print(f"quality {best.quality}, frame by frame:")
    print(format_table(best.encoded, best.psnrs, best.enc_ms, best.dec_ms))
    if len(runs) > 1:
        print()
        print(format_rd(runs))
    print()
    framing = len(best.stream) - sum(frame.bits for frame in best.encoded) // 8
    print(f"wrote {out_dir}/: {INPUT_FILE} (the clip), {STREAM_FILE} (quality {best.quality}, {len(best.stream)} bytes: "
          f"the frames' payloads + {framing} bytes of header and framing), {DECODED_FILE} (decoded from {STREAM_FILE})")
    if weights_note.startswith(RANDOM_WEIGHTS_NOTE):
        print(f"(random weights: {STREAM_FILE} decodes only with the weights of this run, which are not saved)")
    else:
        again = "" if args.weights is None else f" --weights {args.weights}"
        print(f"decode it again with: lvc-zoo decode {stream_path} -o decoded.y4m{again}")
    max_diff = max(run.max_diff for run in runs)
    if max_diff != 0:
        print(f"decode DIFFERS from the encoder: max |diff| = {max_diff:g}")
        return 1
    print(f"decode matches the encoder: max |diff| = {max_diff:g}")
    return 0


def _qualities_text(qualities: Sequence[int]) -> str:
    return f"quality {qualities[0]}" if len(qualities) == 1 else f"qualities {qualities[0]}..{qualities[-1]}"


@dataclass(frozen=True)
class QualityRun:
    """The demo clip coded at one quality: what was encoded, decoded, timed and measured."""

    quality: int
    encoded: list[EncodedFrame]
    decoded: list[Tensor]
    stream: bytes
    psnrs: list[float]
    enc_ms: list[float]
    dec_ms: list[float]

    @property
    def max_diff(self) -> float:
        """Largest |decoded - encoder reconstruction| over the clip (0 when decoding is exact)."""
        return max(float((x_hat - frame.recon).abs().max()) for x_hat, frame in zip(self.decoded, self.encoded))


def code_at(codec: VideoCodec, frames: Tensor, quality: int, info: VideoInfo, device: torch.device) -> QualityRun:
    """Encode `frames` (T, 3, H, W) at `quality` into a stream, decode the stream, time both."""
    encoded, enc_ms = zip(*timed(codec.encode_frames(frames, quality, intra_period=-1), device))
    colour = info.colour
    header = codec.stream_header(frames, quality, -1, fps=info.fps, colour_matrix=colour.matrix, colour_range=colour.range)
    stream = write_stream(header, [frame.coded for frame in encoded])
    decoded, dec_ms = zip(*timed(codec.decode_frames(stream), device))
    psnrs = [psnr(frame.recon, frames[index : index + 1]) for index, frame in enumerate(encoded)]
    return QualityRun(quality, list(encoded), list(decoded), stream, psnrs, list(enc_ms), list(dec_ms))


def build_codec(
    model: str, quality: int | None, weights: str | None, small: bool, device: torch.device
) -> tuple[VideoCodec, str]:
    """The demo codec and a plain statement of which weights it carries.

    Explicit `weights` first; then `small` (random weights at reduced widths, for the tests);
    then the model's registry weights (bundled or published); random weights where it has none.
    """
    spec = get_spec(model)
    if weights is not None:
        return lvc_zoo.load(spec.name, quality, weights=weights, device=device), f"loaded from {weights}"
    if small:
        spec.check_quality(quality)
        codec = spec.builder(type(spec.config).small())
        if quality is not None:
            codec.quality = quality
        return codec.to(device).eval(), f"{RANDOM_WEIGHTS_NOTE} (reduced test widths)"
    if spec.has_published_weights:
        source = "bundled with lvc_zoo" if spec.bundled else f"from {spec.hub_repo}"
        return lvc_zoo.load(spec.name, quality, device=device), f"the trained {spec.name} weights {source}"
    note = f"{RANDOM_WEIGHTS_NOTE} ({spec.name} has no published weights yet; pass --weights DIR)"
    return lvc_zoo.load(spec.name, quality, pretrained=False, device=device), note


def format_table(
    encoded: Sequence[EncodedFrame], psnrs: Sequence[float], enc_ms: Sequence[float], dec_ms: Sequence[float]
) -> str:
    """Per-frame rows (type, bits in the file, bpp, estimated bits, RGB PSNR, ms) and a totals row."""
    pixels = encoded[0].recon.shape[-2] * encoded[0].recon.shape[-1]
    header = (
        f"{'frame':>5}  {'type':>4}  {'bits':>10}  {'bpp':>7}  {'est. bits':>10}  {'RGB PSNR dB':>11}  "
        f"{'enc ms':>8}  {'dec ms':>8}"
    )
    rows = [header]
    for index, (frame, quality_db, enc, dec) in enumerate(zip(encoded, psnrs, enc_ms, dec_ms)):
        rows.append(
            f"{index:>5}  {frame.coded.frame_type:>4}  {frame.bits:>10}  {frame.bits / pixels:>7.4f}  "
            f"{frame.estimated_bits:>10.0f}  {quality_db:>11.2f}  {enc:>8.0f}  {dec:>8.0f}"
        )
    count = len(encoded)
    total_bits = sum(frame.bits for frame in encoded)
    total_estimate = sum(frame.estimated_bits for frame in encoded)
    rows.append(
        f"{'total':>5}  {'':>4}  {total_bits:>10}  {total_bits / pixels / count:>7.4f}  {total_estimate:>10.0f}  "
        f"{sum(psnrs) / count:>11.2f}  {sum(enc_ms):>8.0f}  {sum(dec_ms):>8.0f}"
    )
    rows.append(
        "(bits: the frame's payload in the file; est. bits: from the likelihoods; "
        "total row: bits and ms summed, bpp and RGB PSNR averaged over frames)"
    )
    return "\n".join(rows)


def format_rd(runs: Sequence[QualityRun]) -> str:
    """One row per quality: bpp and RGB PSNR of the clip, I and mean P bits, and the file against the estimate."""
    pixels = runs[0].encoded[0].recon.shape[-2] * runs[0].encoded[0].recon.shape[-1]
    rows = [
        f"{'quality':>7}  {'bpp':>7}  {'RGB PSNR dB':>11}  {'I bits':>8}  {'P bits':>8}  {'P/I':>5}  {'file/est.':>9}  "
        f"{'enc ms':>7}  {'dec ms':>7}"
    ]
    for run in runs:
        bits = [frame.bits for frame in run.encoded]
        p_bits = [b for b, frame in zip(bits, run.encoded) if frame.coded.frame_type == "P"]
        mean_p = sum(p_bits) / len(p_bits) if p_bits else float("nan")
        estimate = sum(frame.estimated_bits for frame in run.encoded)
        count = len(bits)
        rows.append(
            f"{run.quality:>7}  {sum(bits) / pixels / count:>7.4f}  {sum(run.psnrs) / count:>11.2f}  {bits[0]:>8}  "
            f"{mean_p:>8.0f}  {mean_p / bits[0]:>5.2f}  {sum(bits) / estimate:>9.4f}  "
            f"{sum(run.enc_ms) / count:>7.0f}  {sum(run.dec_ms) / count:>7.0f}"
        )
    rows.append(
        "(bpp, RGB PSNR and ms per frame averaged over the clip; I bits: the first frame's; P bits: the mean P frame's; "
        "file/est.: bits in the file over bits estimated from the likelihoods)"
    )
    return "\n".join(rows)
