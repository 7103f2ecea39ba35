"""`lvc-zoo demo`: code a short synthetic clip into real files at every quality and decode them.

By default it runs the demo model `dcvc_dc_tiny`, whose trained weights ship inside the
package (recipes/demo_tiny.yaml), so it shows real compression offline. The clip pans (and
slightly zooms) across one of scikit-image's bundled sample photos, so the demo needs no
network and no video files. It runs the path of the command line:

    pan_clip ─► input.y4m ─► read_video ─► encode_frames ─► stream ─► decode_frames ─► decoded.y4m

at each quality (or the one given), and prints for the best quality per frame the bits in
the file, the bits estimated from the likelihoods, RGB PSNR and the time to encode and to
decode (each the wall time from the request of that frame's result to its arrival), then
one rate-distortion row per quality (bpp, kbps at the clip's 30 fps, RGB PSNR), then x264 on the
same frames (`lvc_zoo.eval.x264`: veryslow, tune psnr, 4:2:0, CRFs chosen so their RGB PSNR
range covers the model's) and the model's BD-rate against it, or a line saying the ranges do
not overlap. The best quality's stream is kept as demo.lvc.
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

from .help import COMMAND_HELP
from ..coding.bitstream import write_stream
from ..data import VideoInfo, pan_clip, read_video, write_video
from ..data.synthetic import HELD_OUT_PHOTO, TRAINING_PHOTOS, load_photo
from ..eval.bdrate import bd_rate
from ..eval.x264 import MAX_CRF, X264Point, x264_overlapping
from ..models import VideoCodec
from ..models.codec import EncodedFrame, psnr
from ..registry import get_spec
from ..runtime import timed, write_atomic
from .codec_commands import parse_device, parse_frame_size

__all__ = ["HELP", "register", "add_arguments", "run"]

HELP = COMMAND_HELP["demo"]
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
DEMO_MODEL_NOTE = (
    "note: dcvc_dc_tiny is a demo, 11 times smaller than DCVC-DC and trained on 2 CPU cores for about 19 hours "
    "(model_cards/dcvc_dc_tiny.md), so x264 beats it; the paper models are another league: DCVC-DC is reported "
    "at -13.9 % BD-rate against H.266 (VTM-13.2 low delay) on HEVC class B (model_cards/dcvc_dc.md)"
)
RANDOM_WEIGHTS_NOTE = "random weights (pretrained=False), so PSNR is meaningless; the numbers show the pipeline runs"


def register(commands: argparse._SubParsersAction) -> None:
    """Add `demo` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("demo", help=HELP)
    add_arguments(parser)
    parser.set_defaults(run=run)


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
    print()
    print(format_rd(runs, info.fps))
    print()
    print(compare_x264(runs, frames, info.fps))
    if codec.model_name == DEMO_MODEL and not weights_note.startswith(RANDOM_WEIGHTS_NOTE):
        print(DEMO_MODEL_NOTE)
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


def format_rd(runs: Sequence[QualityRun], fps: Fraction) -> str:
    """One row per quality: bpp, kbps and RGB PSNR of the clip, I and mean P bits, and the file against the estimate."""
    pixels = runs[0].encoded[0].recon.shape[-2] * runs[0].encoded[0].recon.shape[-1]
    rows = [
        f"{'quality':>7}  {'bpp':>7}  {'kbps':>7}  {'RGB PSNR dB':>11}  {'I bits':>8}  {'P bits':>8}  {'P/I':>5}  "
        f"{'file/est.':>9}  {'enc ms':>7}  {'dec ms':>7}"
    ]
    for run in runs:
        bits = [frame.bits for frame in run.encoded]
        p_bits = [b for b, frame in zip(bits, run.encoded) if frame.coded.frame_type == "P"]
        mean_p = sum(p_bits) / len(p_bits) if p_bits else float("nan")
        estimate = sum(frame.estimated_bits for frame in run.encoded)
        count = len(bits)
        rows.append(
            f"{run.quality:>7}  {sum(bits) / pixels / count:>7.4f}  {_kbps(sum(bits), count, fps):>7.1f}  "
            f"{sum(run.psnrs) / count:>11.2f}  {bits[0]:>8}  {mean_p:>8.0f}  {mean_p / bits[0]:>5.2f}  "
            f"{sum(bits) / estimate:>9.4f}  {sum(run.enc_ms) / count:>7.0f}  {sum(run.dec_ms) / count:>7.0f}"
        )
    rows.append(
        f"(bpp, RGB PSNR and ms per frame averaged over the clip; kbps at the clip's {float(fps):g} fps; I bits: the "
        "first frame's; P bits: the mean P frame's; file/est.: bits in the file over bits estimated from the likelihoods)"
    )
    return "\n".join(rows)


def _kbps(bits: int, count: int, fps: Fraction) -> float:
    """Kilobits per second of `bits` spent on `count` frames shown at `fps`."""
    return bits / count * float(fps) / 1000


def compare_x264(runs: Sequence[QualityRun], frames: Tensor, fps: Fraction) -> str:
    """x264 rows on the same frames, with CRFs covering the model's RGB PSNR range, and the model's BD-rate against x264."""
    count, pixels = frames.shape[0], frames.shape[-2] * frames.shape[-1]
    model = [(sum(frame.bits for frame in run.encoded), sum(run.psnrs) / count) for run in runs]
    low, high = min(db for _, db in model), max(db for _, db in model)
    if frames.shape[-1] % 2 or frames.shape[-2] % 2:
        return "x264: not run, 4:2:0 needs an even width and height (pick --size with even sides)"
    points, overlaps = x264_overlapping(frames.float(), fps, low, high)
    rows = ["x264 on the same frames (libx264 veryslow, tune psnr, 4:2:0; RGB PSNR as above):",
            f"{'CRF':>7}  {'bpp':>7}  {'kbps':>7}  {'RGB PSNR dB':>11}"]
    rows += [f"{p.crf:>7}  {p.bits / pixels / count:>7.4f}  {_kbps(p.bits, count, fps):>7.1f}  {p.psnr:>11.2f}" for p in points]
    if not overlaps:
        rows.append(
            f"no BD-rate: x264's lowest quality (CRF {MAX_CRF}) is at {points[0].psnr:.2f} dB, above the model's best "
            f"{high:.2f} dB, so the ranges do not overlap (a BD-rate would extrapolate)"
        )
    elif len(model) < 2:
        rows.append("no BD-rate: it needs the model at two qualities or more (leave out --quality)")
    else:
        rows.append(f"BD-rate of the model against x264 (RGB PSNR, pchip): {_bd_rate(model, points):+.1f} % "
                    "(positive: the model needs that many more bits for the same PSNR)")
    return "\n".join(rows)


def _bd_rate(model: Sequence[tuple[int, float]], points: Sequence[X264Point]) -> float:
    """BD-rate in % of the model's (bits, PSNR) points against x264's."""
    return bd_rate([p.bits for p in points], [p.psnr for p in points], [b for b, _ in model], [db for _, db in model])
