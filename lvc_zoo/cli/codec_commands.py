"""`lvc-zoo encode` and `lvc-zoo decode`: video files <-> lvc_zoo bitstreams.

    encode:  INPUT ─► read_video ─► VideoCodec.encode_frames ─► write_stream ─► OUT.lvc
    decode:  IN.lvc ─► read_header ─► load(header.model) ─► decode_frames ─► write_video ─► OUTPUT

Also the pieces `lvc-zoo demo` reuses: the option types, the timed frame loop, the progress
bar and the atomic file write.

[choice] Outputs are atomic: the stream goes to a hidden sibling first and is renamed at the
end (`write_video` does the same for decoded videos), so a failure or Ctrl-C leaves nothing
at the output path.

[choice] --device defaults to cpu, not "cuda if available": a stream decodes exactly on the
kind of device (and torch version and thread count) that encoded it, so the default must not
change with the machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import torch

import lvc_zoo

from .help import COMMAND_HELP
from ..coding.bitstream import MAX_SIDE, MIN_FRAME_SIDE, read_header, write_stream
from ..data import ColourSpace, VideoInfo, probe_video, read_video, write_video
from ..errors import BitstreamError, InputError, ModelMismatchError, UnknownModelError
from ..models.codec import psnr
from ..registry import ModelSpec, get_spec, list_models
from ..runtime import progress, timed, write_atomic

__all__ = [
    "ENCODE_HELP",
    "register_encode",
    "register_decode",
    "DECODE_HELP",
    "add_encode_arguments",
    "add_decode_arguments",
    "run_encode",
    "run_decode",
    "parse_size",
    "parse_frame_size",
    "parse_device",
]

ENCODE_HELP = COMMAND_HELP["encode"]
DECODE_HELP = COMMAND_HELP["decode"]
COLOURS = tuple(f"{matrix}-{range_}" for matrix in ("bt709", "bt601") for range_ in ("full", "limited"))
_WEIGHTS_HELP = "trained weights: a directory from `lvc-zoo convert` / save_pretrained, or hf-hub:ORG/NAME[@REV]"
_DEVICE_HELP = "cpu (default), cuda, cuda:1, ...; decode on the kind of device that encoded"


# ----------------------------------------------------------------------------- options
def register_encode(commands: argparse._SubParsersAction) -> None:
    """Add `encode` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("encode", help=ENCODE_HELP)
    add_encode_arguments(parser)
    parser.set_defaults(run=run_encode)


def register_decode(commands: argparse._SubParsersAction) -> None:
    """Add `decode` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("decode", help=DECODE_HELP)
    add_decode_arguments(parser)
    parser.set_defaults(run=run_decode)


def add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo encode`."""
    parser.add_argument("input", type=Path, metavar="INPUT", help="video: .yuv (8-bit 4:2:0), .y4m, a folder of PNGs, .mp4/.mkv/...")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.lvc", help="bitstream to write")
    parser.add_argument("--model", required=True, help="registry name, e.g. dcvc_dc (see `lvc-zoo list`)")
    parser.add_argument("--quality", type=int, required=True, help="quality index, higher is better (dcvc_dc: 0..3)")
    parser.add_argument("--weights", default=None, help=_WEIGHTS_HELP + " (default: the registry's published weights)")
    parser.add_argument("--intra-period", type=parse_intra_period, default=-1, metavar="N", help="-1 (default): only frame 0 is intra; N: every N-th frame")
    parser.add_argument("--frames", type=parse_positive, default=None, metavar="N", help="code only the first N frames")
    parser.add_argument("--size", type=parse_size, default=None, metavar="WxH", help="frame size of a raw .yuv whose name does not say it")
    parser.add_argument("--fps", type=parse_fps, default=None, metavar="F", help="frame rate, e.g. 25, 29.97 or 30000/1001 (default: from the file, else 30)")
    parser.add_argument("--colour", type=parse_colour, default=None, metavar="|".join(COLOURS), help="how the file's YUV relates to RGB (default: the format's; .yuv/.y4m bt709-full, .mp4 its tags)")
    parser.add_argument("--device", type=parse_device, default=torch.device("cpu"), help=_DEVICE_HELP)
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo decode`."""
    parser.add_argument("input", type=Path, metavar="IN.lvc", help="bitstream written by `lvc-zoo encode`")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTPUT", help="by suffix: .yuv, .y4m, .mp4/.mkv/.mov/.avi, or a folder (PNGs)")
    parser.add_argument("--weights", default=None, help=_WEIGHTS_HELP + "; the ones that encoded the stream")
    parser.add_argument("--device", type=parse_device, default=torch.device("cpu"), help=_DEVICE_HELP)
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    parser.add_argument(
        "--base-layer-only",
        action="store_true",
        help="two-layer models (sevc): decode only the base layer, the 1/4-resolution video (faster)",
    )


def parse_size(text: str) -> tuple[int, int]:
    """"WxH" -> (width, height)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 256x256") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return width, height


def parse_frame_size(text: str) -> tuple[int, int]:
    """"WxH" of frames to code: each side in MIN_FRAME_SIDE..MAX_SIDE, the sizes a stream holds."""
    width, height = parse_size(text)
    if min(width, height) < MIN_FRAME_SIDE:
        raise argparse.ArgumentTypeError(f"{text!r} is too small: width and height must be at least {MIN_FRAME_SIDE}")
    if max(width, height) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"{text!r} is too large: width and height must be at most {MAX_SIDE}")
    return width, height


def parse_device(text: str) -> torch.device:
    """A torch device name that exists on this machine."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device name such as cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"{text!r}: lvc-zoo codes on cpu or cuda devices; use --device cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("CUDA is not available on this machine; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s), cuda:0 on")
    return device


def parse_positive(text: str) -> int:
    """A positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def parse_intra_period(text: str) -> int:
    """-1 (only the first frame is intra) or a period >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value != -1 and value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use -1 (only frame 0 is intra) or a period >= 1")
    return value


def parse_colour(text: str) -> ColourSpace:
    """"bt709-full", "bt601-limited", ... -> ColourSpace."""
    if text.strip().lower() not in COLOURS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(COLOURS)}")
    return ColourSpace.parse(text)


def parse_fps(text: str) -> Fraction | float:
    """"25", "30000/1001" (exact) or "29.97" (a float, read as 30000/1001 by the video reader)."""
    try:
        rate: Fraction | float = Fraction(text) if "/" in text or text.strip().isdigit() else float(text)
    except (ValueError, ZeroDivisionError):
        rate = 0
    if not rate > 0 or rate == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive frame rate such as 25, 29.97 or 30000/1001")
    return rate


def _check_output(output: Path, input_path: Path) -> None:
    """Refuse an output path that is the input itself."""
    if output.exists() and input_path.exists() and output.resolve() == input_path.resolve():
        raise InputError(f"{output} is also the input: pass another output path.")


def _fps_text(fps: Fraction) -> str:
    return f"{float(fps):.4g}"


# ----------------------------------------------------------------------------- encode
def run_encode(args: argparse.Namespace) -> int:
    """Read the video, check it, load the model, encode with progress, write the stream, print a summary."""
    _check_output(args.output, args.input)
    if args.output.is_dir():
        raise InputError(f"{args.output} is a directory: pass a file name for the stream, e.g. {args.output / 'out.lvc'}.")
    spec = get_spec(args.model)
    spec.check_quality(args.quality)  # before reading anything
    read_options = {"size": args.size, "fps": args.fps, "colour": args.colour}
    info = probe_video(args.input, **read_options)
    if info.width < MIN_FRAME_SIDE or info.height < MIN_FRAME_SIDE:
        raise InputError(
            f"{args.input} is {info.width}x{info.height}: lvc-zoo encode needs frames of at least "
            f"{MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} pixels; use a larger video (odd sizes are fine)."
        )
    device = args.device
    codec = lvc_zoo.load(spec.name, args.quality, weights=args.weights, device=device)
    frames, info = read_video(args.input, frames=args.frames, **read_options)
    frames = frames.to(device)

    colour = info.colour
    header = codec.stream_header(  # checks the container's limits before coding
        frames, args.quality, args.intra_period, fps=info.fps, colour_matrix=colour.matrix, colour_range=colour.range
    )
    coded, psnrs, times_ms = [], [], []
    with progress(frames.shape[0], "encode", args.quiet) as bar:
        encoded = codec.encode_frames(frames, args.quality, args.intra_period)
        for index, (frame, ms) in enumerate(timed(encoded, device)):
            coded.append(frame.coded)
            psnrs.append(psnr(frame.recon, frames[index : index + 1]))
            times_ms.append(ms)
            bar.update()
    data = write_stream(header, coded)
    write_atomic(args.output, data)

    count, bits = len(coded), 8 * len(data)
    print(
        f"encoded {count} frames of {info.width}x{info.height} ({_fps_text(info.fps)} fps, {colour}) with "
        f"{spec.name} quality {args.quality}, intra period {args.intra_period} -> {args.output}"
    )
    print(
        f"size: {len(data)} bytes, {bits / (info.width * info.height * count):.4f} bpp, "
        f"{bits * float(info.fps) / count / 1000:.1f} kbps at {_fps_text(info.fps)} fps"
    )
    print(f"PSNR: {sum(psnrs) / count:.2f} dB (RGB, mean over frames, encoder reconstruction vs input)")
    print(f"time: {sum(times_ms) / count:.0f} ms/frame encoding on {device}")
    return 0


# ----------------------------------------------------------------------------- decode
def run_decode(args: argparse.Namespace) -> int:
    """Read and verify the stream, load the model it names, decode with progress, write the video."""
    _check_output(args.output, args.input)
    data = _read_stream_file(args.input)
    try:
        header = read_header(data)  # checks the container's limits
        spec = _spec_of_stream(header.model, header.quality)
        width, height = header.width, header.height
        layer = None
        if args.base_layer_only:
            if not spec.builder.layers:
                raise InputError(
                    f"--base-layer-only needs a two-layer model such as sevc; {args.input} was coded by "
                    f"{spec.name}, which has one layer: decode it without --base-layer-only"
                )
            layer = spec.builder.layers[0]
            height, width = spec.builder.output_size((height, width), layer)
        codec = lvc_zoo.load(spec.name, header.quality, weights=args.weights, device=args.device)
        decoded = codec.decode_frames(data, layer)  # parses and verifies the whole stream first
    except BitstreamError as err:
        raise type(err)(f"{args.input}: {err}") from None
    colour = ColourSpace(header.colour_matrix, header.colour_range)
    info = VideoInfo(width, height, header.frame_count, header.fps, colour)

    times_ms: list[float] = []

    def frames() -> Iterable[torch.Tensor]:
        with progress(header.frame_count, "decode", args.quiet) as bar:
            for x_hat, ms in timed(decoded, args.device):
                times_ms.append(ms)
                bar.update()
                yield x_hat[0]

    write_video(args.output, frames(), info)
    count = len(times_ms)
    print(
        f"decoded {count} frames of {width}x{height} ({_fps_text(header.fps)} fps, {colour}) "
        f"with {spec.name} quality {header.quality} -> {args.output}"
    )
    print(f"time: {sum(times_ms) / count:.0f} ms/frame decoding on {args.device}")
    return 0


def _read_stream_file(path: Path) -> bytes:
    """The bytes of a stream file; InputError when it is missing or not a file."""
    if not path.exists():
        raise InputError(f"{path} does not exist: pass a bitstream written by `lvc-zoo encode`.")
    if not path.is_file():
        raise InputError(f"{path} is not a file: pass a bitstream written by `lvc-zoo encode`.")
    return path.read_bytes()


def _spec_of_stream(model: str, quality: int) -> ModelSpec:
    """The registry entry of the model that wrote a stream; refuses models or qualities this lvc_zoo lacks."""
    try:
        spec = get_spec(model)
    except UnknownModelError:
        raise ModelMismatchError(
            f"the stream was written by model {model!r}, which lvc_zoo {lvc_zoo.__version__} does not have "
            f"(it has {', '.join(list_models())}): decode it with the lvc_zoo that wrote it, or upgrade"
        ) from None
    if quality not in spec.qualities:
        raise BitstreamError(
            f"the stream's quality {quality} is not one of {spec.name}'s {list(spec.qualities)}; "
            "it is corrupt or from a newer lvc_zoo"
        )
    return spec
