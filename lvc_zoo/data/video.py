"""Video files <-> RGB frames: raw YUV 4:2:0, Y4M, PNG folders, and MP4/MKV/... through PyAV.

Every reader yields RGB float frames in [0, 1] and every writer takes them, so a codec sees one
format whatever the file::

    read_video(path)  -> (frames (T, 3, H, W), VideoInfo)     whole clip
    iter_video(path)  -> iterator of (3, H, W) frames          long videos, one frame at a time
    probe_video(path) -> VideoInfo                             size, frame count, fps, colour space
    write_video(path, frames, info)                            chosen by the suffix of `path`

| path                                | format                                            |
| ----------------------------------- | ------------------------------------------------- |
| ``*.yuv``                           | raw 8-bit YUV 4:2:0 (I420), size from the name or `size` |
| ``*.y4m``                           | YUV4MPEG2, 8-bit 4:2:0                            |
| a directory, or a path w/o suffix   | PNG folder ``im00001.png``, ``im00002.png``, ...  |
| ``*.mp4 .mkv .mov .avi``            | PyAV (FFmpeg); written as H.264 (libx264) yuv420p |

YUV-based formats go through :mod:`lvc_zoo.data.colour` with an explicit :class:`ColourSpace`.

[choice] Default colour spaces: BT.709 full range for .yuv / .y4m (the microsoft/DCVC
convention, so results compare with published ones); BT.709 limited range for containers
(x264 and other encoders write limited range; the stream's colour tags win when present, as
our writer sets them). A Y4M ``XCOLORRANGE=FULL|LIMITED`` tag sets the range likewise. An
explicit `colour` argument always wins.

[choice] Writers clip frames to [0, 1] and round to 8 bits; they never leave a partial output:
they write a hidden sibling (``.NAME.<random>.partial...``) and rename it at the end. An
existing output file is replaced; an existing PNG folder must be empty.

[choice] H.264 yuv420p needs even sizes; rather than padding silently, writing an odd size to a
container is an InputError that suggests .y4m, .yuv or PNG (which take any size).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ..errors import InputError
from ..runtime import atomic_path
from .colour import (
    BT709_FULL,
    BT709_LIMITED,
    ColourSpace,
    chroma_size,
    from_uint8_planes,
    rgb_to_yuv420_codes,
    yuv420_to_rgb,
)

__all__ = [
    "VideoInfo",
    "DEFAULT_FPS",
    "DEFAULT_CRF",
    "read_video",
    "iter_video",
    "iter_planes",
    "probe_video",
    "write_video",
    "parse_yuv_name",
]

DEFAULT_FPS = Fraction(30)
"""Frame rate when neither the caller nor the file says one (raw YUV without fps in the name, PNG)."""
DEFAULT_CRF = 12
"""x264 constant rate factor of :func:`write_video` for containers: visually lossless, big files."""

_AV_READ_SUFFIXES = (".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm")
_AV_WRITE_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi")
_SUPPORTED = (
    ".yuv (8-bit YUV 4:2:0), .y4m, a folder of .png images (a directory or a path without suffix), "
    f"and through PyAV {' '.join(_AV_READ_SUFFIXES)} (reading) / {' '.join(_AV_WRITE_SUFFIXES)} (writing)"
)
_Y4M_MAGIC = b"YUV4MPEG2"
_Y4M_CHROMA_420 = ("420", "420jpeg", "420paldv", "420mpeg2")
_SIZE_TOKEN = re.compile(r"(\d+)[xX](\d+)")
_FPS_TOKEN = re.compile(r"(\d+(?:\.\d+)?)fps", flags=re.IGNORECASE)
_MAX_LINE = 4096  # longest Y4M header or FRAME line we read
_AV_RANGE = {"limited": 1, "full": 2}  # AVCOL_RANGE_MPEG / AVCOL_RANGE_JPEG
_AV_MATRIX = {"bt709": 1, "bt601": 6}  # AVCOL_SPC (and _PRI, _TRC) BT709 / SMPTE170M
_AV_MATRIX_READ = {1: "bt709", 5: "bt601", 6: "bt601"}  # + BT470BG, the other BT.601 code


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, beside its pixels.

    Attributes:
        width: frame width in pixels (>= 1).
        height: frame height in pixels (>= 1).
        frame_count: number of frames (of the returned clip for `read_video`, of the file for
            `probe_video`).
        fps: frames per second, exact (``Fraction(30000, 1001)`` for 29.97).
        colour: Y'CbCr colour space the file's planes were (or will be) read with.
        source_format: "yuv", "y4m", "png", a container suffix ("mp4", "mkv", ...) or "tensor".
    """

    width: int
    height: int
    frame_count: int
    fps: Fraction = DEFAULT_FPS
    colour: ColourSpace = field(default=BT709_FULL)
    source_format: str = "tensor"

    def __post_init__(self) -> None:
        for name in ("width", "height", "frame_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"VideoInfo.{name} must be a positive integer, got {value!r}.")
        object.__setattr__(self, "fps", _as_fps(self.fps))
        if not isinstance(self.colour, ColourSpace):
            raise InputError(f"VideoInfo.colour must be a ColourSpace, got {self.colour!r}.")

    @classmethod
    def of(
        cls, frames: Tensor, fps: float | Fraction = DEFAULT_FPS, colour: ColourSpace = BT709_FULL
    ) -> VideoInfo:
        """The info of an in-memory clip `frames` (T, 3, H, W), for :func:`write_video`."""
        _check_clip(frames)
        t, _, h, w = frames.shape
        return cls(width=w, height=h, frame_count=t, fps=_as_fps(fps), colour=colour)


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One 8-bit 4:2:0 frame: Y (H, W), U and V (⌈H/2⌉, ⌈W/2⌉) uint8 arrays."""


class _Source(NamedTuple):
    """An opened input: its info (frame_count = frames in the file), and from index `start` on
    its 8-bit 4:2:0 planes (None for PNG folders, which hold RGB) and its RGB frames."""

    info: VideoInfo
    planes: Callable[[int], Iterator[Planes]] | None
    frames: Callable[[int], Iterator[Tensor]]

    @classmethod
    def of_planes(cls, info: VideoInfo, planes: Callable[[int], Iterator[Planes]]) -> "_Source":
        """A YUV source: RGB frames are its planes converted with `info.colour`."""

        def frames(start: int) -> Iterator[Tensor]:
            return (_codes_to_rgb(*frame, info.colour) for frame in planes(start))

        return cls(info, planes, frames)


class _Target(NamedTuple):
    """What a writer needs besides the frames."""

    width: int
    height: int
    fps: Fraction
    colour: ColourSpace


# --------------------------------------------------------------------------------------------
# Public API


def read_video(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | str | None = None,
    fps: float | Fraction | None = None,
    colour: ColourSpace | None = None,
    frames: int | None = None,
    start: int = 0,
) -> tuple[Tensor, VideoInfo]:
    """Read a video (or part of it) as RGB frames.

    Args:
        path: a .yuv, .y4m, PNG folder or container file (see the module docs).
        size: (width, height) or "WxH". Required for .yuv unless the name holds it
            (``Name_1920x1080_50.yuv``); for other formats it is checked against the file.
        fps: overrides the frame rate of the file (or of the name, or the default 30).
        colour: Y'CbCr colour space to convert with; None: the format's default (module docs).
        frames: read at most this many frames (>= 1); None: all.
        start: index of the first frame to read (>= 0).
    Returns: frames (T, 3, H, W) float32 RGB in [0, 1], and its VideoInfo (frame_count = T).
    Raises:
        InputError: missing, empty, truncated or unreadable file, unsupported format, bad arguments.
    """
    source = _open(Path(path), size, fps, colour)
    clip = torch.stack(list(_frames_of(source, Path(path), frames, start)))
    return clip, replace(source.info, frame_count=clip.shape[0])


def iter_video(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | str | None = None,
    fps: float | Fraction | None = None,
    colour: ColourSpace | None = None,
    frames: int | None = None,
    start: int = 0,
) -> Iterator[Tensor]:
    """Frames of a video one at a time, for videos too long to hold in memory.

    Arguments as :func:`read_video`; the file is opened (and checked) before this returns.

    Returns: an iterator of (3, H, W) float32 RGB frames in [0, 1].
    Raises:
        InputError: as :func:`read_video`; a file corrupt mid-stream raises while iterating.
    """
    source = _open(Path(path), size, fps, colour)
    return _frames_of(source, Path(path), frames, start)


def iter_planes(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | str | None = None,
    frames: int | None = None,
    start: int = 0,
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """The file's own 8-bit 4:2:0 planes, one frame at a time, without any colour conversion.

    What YUV metrics compare against (the DCVC convention for YUV sources). Arguments as
    :func:`read_video`; containers in other pixel formats go through FFmpeg's yuv420p.

    Returns: an iterator of (Y (H, W), U (⌈H/2⌉, ⌈W/2⌉), V) uint8 tensors.
    Raises:
        InputError: as :func:`read_video`, and for PNG folders, which hold RGB, not YUV planes.
    """
    source = _open(Path(path), size, None, None)
    if source.planes is None:
        raise InputError(f"{path} is a PNG folder: it holds RGB images, not YUV planes.")
    planes = _frames_of(source._replace(frames=source.planes), Path(path), frames, start)
    return (tuple(torch.from_numpy(np.array(p)) for p in frame) for frame in planes)  # type: ignore[misc]


def probe_video(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | str | None = None,
    fps: float | Fraction | None = None,
    colour: ColourSpace | None = None,
) -> VideoInfo:
    """The VideoInfo of a whole file, without decoding frames.

    Arguments as :func:`read_video`. frame_count is exact for .yuv, .y4m and PNG folders; for
    containers it is the stream's frame count, or the number of packets when that is unknown.
    """
    return _open(Path(path), size, fps, colour).info


def write_video(
    path: str | os.PathLike[str],
    frames: Tensor | Iterable[Tensor],
    info: VideoInfo | None = None,
    *,
    crf: int | None = None,
    lossless: bool = False,
) -> Path:
    """Write RGB frames to a video file chosen by the suffix of `path`.

    Args:
        path: output .yuv, .y4m, PNG folder (a path without suffix or an empty directory), or
            .mp4 / .mkv / .mov / .avi. Missing parent directories are created.
        frames: (T, 3, H, W) float RGB in [0, 1] (clipped), or an iterable of (3, H, W) frames.
        info: fps and colour space to write with; its width, height and frame_count must match
            `frames`. None: ``VideoInfo.of(frames)`` (30 fps; BT.709 full range, or limited
            range for containers).
        crf: x264 constant rate factor 0..51 for containers (default 12, lower is better).
        lossless: containers only: x264 with qp 0, so the 8-bit 4:2:0 planes are exact.
            (.yuv, .y4m and PNG are always exact on their 8-bit samples.)
    Returns: the path written.
    Raises:
        InputError: bad frames or info, unsupported suffix, odd size for a container, options
            that do not apply. Nothing is left at `path` (or beside it) when writing fails.
    """
    path = Path(path)
    kind = _output_kind(path)
    _check_write_options(kind, path, crf, lossless)
    target, stream = _frames_for_writing(frames, info, kind)
    if kind == "av":
        _check_even_size(path, target)
    writer = _WRITERS[kind]
    options = {"crf": DEFAULT_CRF if crf is None else crf, "lossless": lossless} if kind == "av" else {}
    with _atomic_output(path, directory=kind == "png") as partial_path:
        writer(partial_path, stream, target, **options)
    return path


def parse_yuv_name(name: str | os.PathLike[str]) -> tuple[tuple[int, int] | None, Fraction | None]:
    """Frame size and frame rate from a raw YUV file name, as test sets name their files.

    ``BasketballPass_416x240_50.yuv`` -> ((416, 240), 50);
    ``Beauty_1920x1080_120fps_420_8bit_YUV.yuv`` -> ((1920, 1080), 120);
    ``clip_832x480_29.97fps.yuv`` -> ((832, 480), 30000/1001); ``clip.yuv`` -> (None, None).
    Name parts are separated by "_", "-" or spaces; the size is the first ``WxH`` part; the fps
    is a ``<N>fps`` part, else a number right after the size.

    Returns: ((width, height) or None, fps or None).
    Raises:
        InputError: the name says another bit depth than 8 or another chroma format than 4:2:0.
    """
    tokens = [t for t in re.split(r"[_\-\s]+", Path(name).stem) if t]
    _check_name_format(name, tokens)
    index = next((i for i, token in enumerate(tokens) if _SIZE_TOKEN.fullmatch(token)), None)
    size = None
    if index is not None:
        width, height = (int(n) for n in _SIZE_TOKEN.fullmatch(tokens[index]).groups())  # type: ignore[union-attr]
        size = (width, height) if width > 0 and height > 0 else None
    return size, _name_fps(tokens, index)


def _name_fps(tokens: list[str], size_index: int | None) -> Fraction | None:
    """The first "<N>fps" name part, else a plain number right after the size part (not 420/422/444)."""
    rates = [m[1] for m in (_FPS_TOKEN.fullmatch(t) for t in tokens) if m]
    after = tokens[size_index + 1] if size_index is not None and size_index + 1 < len(tokens) else ""
    if not rates and re.fullmatch(r"\d+(?:\.\d+)?", after) and after not in ("420", "422", "444"):
        rates = [after]
    return _as_fps(float(rates[0])) if rates and float(rates[0]) > 0 else None


# --------------------------------------------------------------------------------------------
# Shared helpers


def _as_fps(value: Any) -> Fraction:
    """A positive frame rate as an exact Fraction; 23.976, 29.97, 59.94 ... become N*1000/1001."""
    try:
        rate = Fraction(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"fps must be a positive number such as 25 or 30000/1001, got {value!r}.") from None
    if not rate > 0 or (isinstance(value, float) and not math.isfinite(value)):
        raise InputError(f"fps must be positive, got {value!r}.")
    if isinstance(value, float) and rate.denominator != 1:
        ntsc = round(value * 1.001)
        if abs(value - ntsc * 1000 / 1001) < 0.005:
            return Fraction(ntsc * 1000, 1001)
        return rate.limit_denominator(1001)
    return rate


def _parse_size(size: tuple[int, int] | str) -> tuple[int, int]:
    """(width, height) from a pair or a "WxH" string; InputError when not two positive integers."""
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        size = (int(match[1]), int(match[2])) if match else ()  # type: ignore[assignment]
    if (
        len(size) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise InputError(f"size must be (width, height) or 'WxH' in positive whole pixels, got {size!r}.")
    return int(size[0]), int(size[1])


def _check_name_format(name: str | os.PathLike[str], tokens: list[str]) -> None:
    """Refuse file names that declare a bit depth other than 8 or chroma other than 4:2:0."""
    for token in tokens:
        depth = re.fullmatch(r"(\d+)bits?", token, flags=re.IGNORECASE)
        if depth and int(depth[1]) != 8:
            raise InputError(
                f"{name}: the name says {depth[1]}-bit samples, but .yuv input must be 8-bit 4:2:0: convert it, "
                "e.g. `ffmpeg -pix_fmt yuv420p10le -s WxH -i in.yuv -pix_fmt yuv420p out.yuv`."
            )
        if re.fullmatch(r"(?:yuv)?(422|444|400)p?", token, flags=re.IGNORECASE):
            raise InputError(
                f"{name}: the name says chroma format {token}, but .yuv input must be 8-bit 4:2:0: convert it "
                "with ffmpeg (-pix_fmt yuv420p)."
            )


def _check_clip(frames: Tensor) -> None:
    """Raise InputError unless `frames` is a non-empty float (T, 3, H, W) tensor (NaN is checked per frame)."""
    if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 3 or frames.shape[0] < 1:
        shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise InputError(
            f"frames must be a (T, 3, H, W) RGB tensor with T >= 1, got {shape}: add a time axis to a single "
            "frame with frames.unsqueeze(0)."
        )
    _check_float(frames)


def _check_float(frames: Tensor) -> None:
    """Raise InputError unless `frames` is float."""
    if not frames.is_floating_point():
        raise InputError(f"frames must be float RGB in [0, 1], got {frames.dtype}: divide 8-bit values by 255.")


def _codes_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, colour: ColourSpace) -> Tensor:
    """8-bit 4:2:0 planes (H, W), (⌈H/2⌉, ⌈W/2⌉) x 2 -> (3, H, W) float32 RGB in [0, 1]."""
    planes = from_uint8_planes(*(torch.from_numpy(np.array(p)) for p in (y, u, v)), colour)  # copies
    return yuv420_to_rgb(*planes, colour)


def _rgb_to_codes(rgb: Tensor, colour: ColourSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(3, H, W) float RGB (clipped to [0, 1]) -> 8-bit 4:2:0 planes as numpy uint8 arrays."""
    return tuple(p.numpy() for p in rgb_to_yuv420_codes(rgb, colour))  # type: ignore[return-value]


def _split_planes(buffer: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One I420 frame as a flat uint8 buffer -> Y (H, W), U and V (⌈H/2⌉, ⌈W/2⌉) views."""
    ch, cw = chroma_size(height, width)
    luma, chroma = width * height, cw * ch
    return (
        buffer[:luma].reshape(height, width),
        buffer[luma : luma + chroma].reshape(ch, cw),
        buffer[luma + chroma : luma + 2 * chroma].reshape(ch, cw),
    )


def _frame_bytes(width: int, height: int) -> int:
    """Bytes of one 8-bit 4:2:0 frame: W*H luma + 2 chroma planes of ⌈W/2⌉*⌈H/2⌉."""
    ch, cw = chroma_size(height, width)
    return width * height + 2 * ch * cw


def _input_kind(path: Path) -> str:
    """"yuv", "y4m", "png" or "av" for an existing input path."""
    if not path.exists():
        raise InputError(f"{path} does not exist: check the path (a video file or a folder of PNG images).")
    if path.is_dir():
        return "png"
    suffix = path.suffix.lower()
    if suffix in (".yuv", ".y4m"):
        return suffix[1:]
    if suffix in _AV_READ_SUFFIXES:
        return "av"
    raise InputError(f"{path}: unsupported input {suffix or 'without suffix'!r}; supported: {_SUPPORTED}.")


def _output_kind(path: Path) -> str:
    """"yuv", "y4m", "png" or "av" for an output path."""
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        return "png"
    if suffix in (".yuv", ".y4m"):
        return suffix[1:]
    if suffix in _AV_WRITE_SUFFIXES:
        return "av"
    raise InputError(f"{path}: unsupported output suffix {suffix!r}; supported: {_SUPPORTED}.")


def _open(path: Path, size: tuple[int, int] | str | None, fps: Any, colour: ColourSpace | None) -> _Source:
    """Check the arguments and open `path` with the reader of its kind."""
    kind = _input_kind(path)
    wanted_size = None if size is None else _parse_size(size)
    rate = None if fps is None else _as_fps(fps)
    if colour is not None and not isinstance(colour, ColourSpace):
        raise InputError(f"colour must be a ColourSpace such as ColourSpace('bt709', 'full'), got {colour!r}.")
    source = _READERS[kind](path, wanted_size, rate, colour)
    if wanted_size is not None and kind != "yuv" and wanted_size != (source.info.width, source.info.height):
        w, h = wanted_size
        raise InputError(
            f"{path} is {source.info.width}x{source.info.height}, but size {w}x{h} was given: drop --size "
            "(it is only needed for .yuv) or pass the right one."
        )
    return source


def _frames_of(source: _Source, path: Path, frames: int | None, start: int) -> Iterator[Tensor]:
    """Frames [start, start + frames) of an opened source; InputError for bad bounds."""
    if not isinstance(start, int) or start < 0:
        raise InputError(f"start must be a frame index >= 0, got {start!r}.")
    if frames is not None and (not isinstance(frames, int) or frames < 1):
        raise InputError(f"frames must be a positive number of frames (or None for all), got {frames!r}.")
    if start >= source.info.frame_count:
        raise InputError(
            f"{path} has {source.info.frame_count} frame(s); start={start} is past the last one: "
            f"use a start below {source.info.frame_count}."
        )
    return islice(source.frames(start), frames)


def _frames_for_writing(
    frames: Tensor | Iterable[Tensor], info: VideoInfo | None, kind: str
) -> tuple[_Target, Iterator[Tensor]]:
    """Validate the frames (the first at once, the rest as they are written) against `info`."""
    if isinstance(frames, Tensor):
        _check_clip(frames)
        expected_count: int | None = frames.shape[0]
        iterator: Iterator[Tensor] = iter(frames)
    else:
        expected_count = None
        iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise InputError("There are no frames to write: pass a (T, 3, H, W) tensor with T >= 1.")
    _check_frame(first, None)
    height, width = first.shape[-2:]
    if info is not None:
        _check_info(info, width, height, expected_count)
        expected_count = info.frame_count
    colour = info.colour if info is not None else (BT709_LIMITED if kind == "av" else BT709_FULL)
    fps = info.fps if info is not None else DEFAULT_FPS
    target = _Target(width, height, fps, colour)
    return target, _checked_frames(first, iterator, expected_count)


def _check_frame(frame: Tensor, shape: tuple[int, ...] | None) -> None:
    """Raise InputError unless `frame` is a float (3, H, W) tensor of `shape` (when given)."""
    if not isinstance(frame, Tensor) or frame.ndim != 3 or frame.shape[0] != 3:
        got = tuple(frame.shape) if isinstance(frame, Tensor) else type(frame).__name__
        raise InputError(f"Each frame must be a (3, H, W) RGB tensor, got {got}.")
    if shape is not None and tuple(frame.shape) != shape:
        raise InputError(
            f"All frames must have one size: got {tuple(frame.shape)} after {shape}; crop or resize them first."
        )
    _check_float(frame)
    if torch.isnan(frame).any():
        raise InputError("A frame contains NaN: check the model output before writing it.")


def _check_info(info: VideoInfo, width: int, height: int, count: int | None) -> None:
    """Raise InputError when `info` describes other frames than the ones being written."""
    if not isinstance(info, VideoInfo):
        raise InputError(f"info must be a VideoInfo (or None), got {type(info).__name__}.")
    if (info.width, info.height) != (width, height) or (count is not None and info.frame_count != count):
        have = f"{width}x{height}" + (f", {count} frames" if count is not None else "")
        raise InputError(
            f"info says {info.width}x{info.height}, {info.frame_count} frames, but the frames are {have}: "
            "pass dataclasses.replace(info, width=..., height=..., frame_count=...) or "
            "VideoInfo.of(frames, fps=..., colour=...)."
        )


def _checked_frames(first: Tensor, rest: Iterator[Tensor], expected_count: int | None) -> Iterator[Tensor]:
    """`first` then `rest`, each checked to be float (3, H, W) of one size, detached on the CPU."""
    shape = tuple(first.shape)
    count = 0
    for frame in chain((first,), rest):
        _check_frame(frame, shape)
        count += 1
        yield frame.detach().to("cpu", torch.float32)
    if expected_count is not None and count != expected_count:
        raise InputError(
            f"info.frame_count is {expected_count}, but {count} frames were given: "
            "pass dataclasses.replace(info, frame_count=...)."
        )


def _check_write_options(kind: str, path: Path, crf: int | None, lossless: bool) -> None:
    """crf and lossless are container options; crf must be 0..51 and excludes lossless."""
    if crf is None:
        return
    if kind != "av":
        raise InputError(
            f"crf applies to {', '.join(_AV_WRITE_SUFFIXES)} outputs only; {path} is written without loss "
            "beyond 8 bits: drop the crf option."
        )
    if not isinstance(crf, int) or isinstance(crf, bool) or not 0 <= crf <= 51:
        raise InputError(f"crf must be an integer in 0..51 (lower is better quality), got {crf!r}.")
    if lossless:
        raise InputError("crf and lossless=True exclude each other: pass one of them.")


def _check_even_size(path: Path, target: _Target) -> None:
    """H.264 4:2:0 needs an even width and height."""
    if target.width % 2 or target.height % 2:
        raise InputError(
            f"{path}: H.264 (yuv420p) needs an even width and height, got {target.width}x{target.height}: crop "
            "or pad the frames, or write .y4m, .yuv or a PNG folder, which take any size."
        )


def _atomic_output(path: Path, directory: bool) -> AbstractContextManager[Path]:
    """`atomic_path` for a video output; a PNG folder may only replace an empty folder."""
    if directory and path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(f"{path} exists and is not an empty directory: remove it or choose another output.")
    return atomic_path(path, directory)


# --------------------------------------------------------------------------------------------
# Raw YUV 4:2:0


def _open_yuv(path: Path, size: tuple[int, int] | None, fps: Fraction | None, colour: ColourSpace | None) -> _Source:
    """A raw 8-bit I420 file: frames back to back, no header."""
    name_size, name_fps = parse_yuv_name(path.name)
    size = size or name_size
    if size is None:
        raise InputError(
            f"{path}: the frame size is unknown: pass size=(width, height) (--size WxH) or name the file like "
            "Name_1920x1080_30.yuv."
        )
    width, height = size
    frame_bytes, file_bytes = _frame_bytes(width, height), path.stat().st_size
    if file_bytes == 0:
        raise InputError(f"{path} is empty (0 bytes): expected 8-bit YUV 4:2:0 frames of {frame_bytes} bytes.")
    if file_bytes % frame_bytes:
        raise InputError(
            f"{path}: file size {file_bytes} bytes is not a multiple of the frame size {frame_bytes} bytes "
            f"({width}x{height} 8-bit YUV 4:2:0): check --size (size=(width, height)) and that the file is "
            "8-bit 4:2:0."
        )
    count = file_bytes // frame_bytes
    info = VideoInfo(width, height, count, fps or name_fps or DEFAULT_FPS, colour or BT709_FULL, "yuv")
    return _Source.of_planes(info, partial(_yuv_planes, path, info))


def _yuv_planes(path: Path, info: VideoInfo, start: int) -> Iterator[Planes]:
    """Planes of a raw YUV file from index `start` (memory-mapped views)."""
    frame_bytes = _frame_bytes(info.width, info.height)
    data = np.memmap(path, dtype=np.uint8, mode="r", shape=(info.frame_count, frame_bytes))
    for index in range(start, info.frame_count):
        yield _split_planes(data[index], info.width, info.height)


def _write_yuv(partial_path: Path, frames: Iterator[Tensor], target: _Target) -> None:
    """Raw I420: the planes of each frame back to back."""
    with open(partial_path, "xb") as file:
        for rgb in frames:
            for plane in _rgb_to_codes(rgb, target.colour):
                file.write(plane.tobytes())


# --------------------------------------------------------------------------------------------
# Y4M


def _open_y4m(path: Path, size: tuple[int, int] | None, fps: Fraction | None, colour: ColourSpace | None) -> _Source:
    """A YUV4MPEG2 file: a header line, then "FRAME[ params]\\n" + I420 planes per frame."""
    with open(path, "rb") as file:
        if file.read(len(_Y4M_MAGIC)) != _Y4M_MAGIC:
            raise InputError(f"{path} does not start with 'YUV4MPEG2 ': it is not a Y4M file.")
        file.seek(0)
        header = _read_line(file, path, "the YUV4MPEG2 header")
        width, height, file_fps, file_range = _parse_y4m_header(header, path)
        offsets = _y4m_frame_offsets(file, path, _frame_bytes(width, height))
    if not offsets:
        raise InputError(f"{path} contains no frames (only a Y4M header): check that the file was written completely.")
    colour = colour or (ColourSpace("bt709", file_range) if file_range else BT709_FULL)
    info = VideoInfo(width, height, len(offsets), fps or file_fps or DEFAULT_FPS, colour, "y4m")
    return _Source.of_planes(info, partial(_y4m_planes, path, info, offsets))


def _read_line(file: Any, path: Path, what: str) -> bytes:
    """One line of at most _MAX_LINE bytes without its newline; InputError when it has none."""
    line = file.readline(_MAX_LINE)
    if not line.endswith(b"\n"):
        raise InputError(f"{path}: {what} is missing or cut off: the file is not a complete Y4M video.")
    return line[:-1]


def _parse_y4m_header(header: bytes, path: Path) -> tuple[int, int, Fraction | None, str | None]:
    """(width, height, fps or None, "full" / "limited" / None) from a Y4M header line."""
    magic, *params = header.split(b" ")
    if magic != _Y4M_MAGIC:
        raise InputError(f"{path} does not start with 'YUV4MPEG2 ': it is not a Y4M file.")
    fields: dict[str, str] = {}
    colour_range = None
    for param in params:
        text = param.decode("ascii", errors="replace")
        if text.upper().startswith("XCOLORRANGE="):
            colour_range = {"FULL": "full", "LIMITED": "limited"}.get(text.split("=", 1)[1].upper())
        elif text and text[0] in "WHFCIA":  # I (interlacing) and A (aspect) are tolerated, X ignored
            fields[text[0]] = text[1:]
    chroma = fields.get("C", "420jpeg")
    if chroma not in _Y4M_CHROMA_420:
        raise InputError(
            f"{path}: Y4M chroma format C{chroma} is not supported; lvc_zoo reads 8-bit 4:2:0 "
            f"(C{', C'.join(_Y4M_CHROMA_420)}): convert with `ffmpeg -i in.y4m -pix_fmt yuv420p out.y4m`."
        )
    try:
        width, height = int(fields["W"]), int(fields["H"])
        fps = _parse_y4m_rate(fields["F"]) if "F" in fields else None
    except (KeyError, ValueError, ZeroDivisionError):
        raise InputError(f"{path}: the Y4M header {header[:200]!r} lacks a valid W, H or F: the file is corrupt.") from None
    if width < 1 or height < 1:
        raise InputError(f"{path}: the Y4M header gives a frame size of {width}x{height}: the file is corrupt.")
    return width, height, fps, colour_range


def _parse_y4m_rate(text: str) -> Fraction | None:
    """Y4M "F30000:1001" value -> Fraction; "0:0" (unknown) -> None."""
    num, den = (int(part) for part in text.split(":"))
    return Fraction(num, den) if num > 0 and den > 0 else None


def _y4m_frame_offsets(file: Any, path: Path, frame_bytes: int) -> list[int]:
    """Byte offsets of each frame's planes, checking every FRAME marker and that no frame is cut off."""
    file_bytes = os.fstat(file.fileno()).st_size
    offsets: list[int] = []
    while file.tell() < file_bytes:
        marker = _read_line(file, path, f"the FRAME marker of frame {len(offsets)}")
        if marker != b"FRAME" and not marker.startswith(b"FRAME "):
            raise InputError(
                f"{path}: expected a FRAME marker for frame {len(offsets)} at byte {file.tell() - len(marker) - 1}, "
                f"found {marker[:20]!r}: the file is corrupt or not 8-bit 4:2:0."
            )
        if file.tell() + frame_bytes > file_bytes:
            raise InputError(
                f"{path}: frame {len(offsets)} is truncated ({file_bytes - file.tell()} of {frame_bytes} bytes): "
                f"the file is cut off after {len(offsets)} complete frame(s): re-create it."
            )
        offsets.append(file.tell())
        file.seek(frame_bytes, os.SEEK_CUR)
    return offsets


def _y4m_planes(path: Path, info: VideoInfo, offsets: list[int], start: int) -> Iterator[Planes]:
    """Planes of a Y4M file from index `start`."""
    frame_bytes = _frame_bytes(info.width, info.height)
    with open(path, "rb") as file:
        for offset in offsets[start:]:
            file.seek(offset)
            buffer = np.frombuffer(file.read(frame_bytes), dtype=np.uint8)
            yield _split_planes(buffer, info.width, info.height)


def _write_y4m(partial_path: Path, frames: Iterator[Tensor], target: _Target) -> None:
    """YUV4MPEG2 with C420jpeg (chroma at the centre of each 2x2 block, as our 2x2 mean puts it)."""
    fps = target.fps
    header = (
        f"YUV4MPEG2 W{target.width} H{target.height} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg "
        f"XCOLORRANGE={target.colour.range.upper()}\n"
    )
    with open(partial_path, "xb") as file:
        file.write(header.encode("ascii"))
        for rgb in frames:
            file.write(b"FRAME\n")
            for plane in _rgb_to_codes(rgb, target.colour):
                file.write(plane.tobytes())


# --------------------------------------------------------------------------------------------
# PNG folders


def _open_png(path: Path, size: tuple[int, int] | None, fps: Fraction | None, colour: ColourSpace | None) -> _Source:
    """A folder of .png images in natural name order (im2.png before im10.png), all one size."""
    files = sorted((p for p in path.iterdir() if p.suffix.lower() == ".png" and p.is_file()), key=_natural_key)
    if not files:
        raise InputError(f"{path} contains no .png files: expected frames such as im00001.png, im00002.png, ...")
    width, height = _png_size(files[0])
    for file in files[1:]:
        w, h = _png_size(file)
        if (w, h) != (width, height):
            raise InputError(
                f"{file} is {w}x{h}, but {files[0].name} is {width}x{height}: all frames of a PNG folder must "
                "have one size."
            )
    info = VideoInfo(width, height, len(files), fps or DEFAULT_FPS, colour or BT709_FULL, "png")
    return _Source(info, None, partial(_png_frames, files))


def _natural_key(path: Path) -> list[int | str]:
    """Sort key that orders numbers in names by value: im2.png < im10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _png_size(file: Path) -> tuple[int, int]:
    """(width, height) of a PNG from its header; InputError when it is not a readable image."""
    try:
        with Image.open(file) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{file} is not a readable PNG image ({exc}): remove or re-create it.") from exc


def _png_frames(files: list[Path], start: int) -> Iterator[Tensor]:
    """(3, H, W) float RGB of each file from index `start`: alpha dropped, gray expanded."""
    for file in files[start:]:
        yield _read_png(file)


def _read_png(file: Path) -> Tensor:
    """One PNG as (3, H, W) float32 RGB in [0, 1]; 8-bit modes only."""
    try:
        with Image.open(file) as image:
            if image.mode.startswith(("I", "F")):
                raise InputError(
                    f"{file} has {image.mode} samples (16-bit or float); lvc_zoo reads 8-bit PNGs: convert it "
                    "to 8-bit RGB."
                )
            pixels = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{file} is not a readable PNG image ({exc}): remove or re-create it.") from exc
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div_(255)


def _write_png(partial_path: Path, frames: Iterator[Tensor], target: _Target) -> None:
    """im00001.png, im00002.png, ... as 8-bit RGB."""
    partial_path.mkdir()
    for index, rgb in enumerate(frames, start=1):
        pixels = rgb.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(partial_path / f"im{index:05d}.png")


# --------------------------------------------------------------------------------------------
# Containers through PyAV


def _import_av() -> Any:
    """The PyAV module, imported on first use (it is large)."""
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a dependency
        raise ImportError("Reading and writing .mp4/.mkv/... needs PyAV: pip install av") from exc
    return av


@contextmanager
def _av_input(path: Path) -> Iterator[Any]:
    """An open PyAV input container with at least one video stream; InputError otherwise."""
    av = _import_av()
    try:
        container = av.open(str(path), "r")
    except av.error.FFmpegError as exc:
        raise InputError(
            f"{path} cannot be opened as a video ({exc}): check that it is a complete video file."
        ) from exc
    try:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream: pass a file with video.")
        yield container
    finally:
        container.close()


def _open_av(path: Path, size: tuple[int, int] | None, fps: Fraction | None, colour: ColourSpace | None) -> _Source:
    """The first video stream of a container; frames are decoded to 4:2:0 planes and converted by us."""
    with _av_input(path) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        width, height = context.width, context.height
        if not width or not height:
            raise InputError(f"{path}: the video stream has no frame size: the file is corrupt.")
        rate = fps or stream.average_rate or stream.guessed_rate or DEFAULT_FPS
        colour = colour or _av_colour(context)
        count = stream.frames or _count_packets(container, stream, path)
    if count == 0:
        raise InputError(f"{path} contains no video frames: check that the file was written completely.")
    info = VideoInfo(width, height, count, rate, colour, path.suffix.lower().lstrip("."))
    return _Source.of_planes(info, partial(_av_planes, path))


def _av_colour(context: Any) -> ColourSpace:
    """Colour space from the stream's tags; untagged: BT.709 limited range (what encoders write)."""
    full = context.color_range == _AV_RANGE["full"] or (context.format and context.format.name.startswith("yuvj"))
    matrix = _AV_MATRIX_READ.get(int(context.colorspace), "bt709")
    return ColourSpace(matrix, "full" if full else "limited")


def _count_packets(container: Any, stream: Any, path: Path) -> int:
    """Frames of a stream without a frame count in its header: its non-empty packets."""
    av = _import_av()
    try:
        return sum(1 for packet in container.demux(stream) if packet.size)
    except av.error.FFmpegError as exc:
        raise InputError(f"{path} cannot be read ({exc}): the file is corrupt or truncated.") from exc


def _av_planes(path: Path, start: int) -> Iterator[Planes]:
    """4:2:0 planes of the first video stream from index `start`."""
    av = _import_av()
    with _av_input(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index >= start:
                    yield _av_frame_planes(frame)
        except av.error.FFmpegError as exc:
            raise InputError(
                f"{path}: decoding failed after frame {index} ({exc}): the file is corrupt or truncated."
            ) from exc


def _av_frame_planes(frame: Any) -> Planes:
    """A decoded frame's 8-bit 4:2:0 planes; other or high bit depth formats go through FFmpeg's yuv420p."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame_range = frame.color_range or None  # keep the codes' range: the caller converts them
        frame = frame.reformat(format="yuv420p", src_color_range=frame_range, dst_color_range=frame_range)
    return tuple(_plane_array(plane) for plane in frame.planes[:3])  # type: ignore[return-value]


def _plane_array(plane: Any) -> np.ndarray:
    """A frame plane as an (height, width) uint8 array (its line padding dropped)."""
    rows = np.frombuffer(plane, dtype=np.uint8)[: plane.line_size * plane.height]
    return rows.reshape(plane.height, plane.line_size)[:, : plane.width]


def _write_av(partial_path: Path, frames: Iterator[Tensor], target: _Target, crf: int, lossless: bool) -> None:
    """H.264 (libx264, preset medium, yuv420p) with the colour tags of `target.colour`."""
    av = _import_av()
    with av.open(str(partial_path), "w") as container:
        stream = container.add_stream("libx264", rate=target.fps)
        stream.width, stream.height, stream.pix_fmt = target.width, target.height, "yuv420p"
        stream.options = {"preset": "medium", **({"qp": "0"} if lossless else {"crf": str(crf)})}
        _tag_colour(stream.codec_context, target.colour)
        for index, rgb in enumerate(frames):
            planes = _rgb_to_codes(rgb, target.colour)
            stacked = np.concatenate([p.reshape(-1) for p in planes]).reshape(-1, target.width)
            frame = av.VideoFrame.from_ndarray(stacked, format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _tag_colour(context: Any, colour: ColourSpace) -> None:
    """Write the colour space into the stream (range, matrix, primaries, transfer) so players and we read it back."""
    context.color_range = _AV_RANGE[colour.range]
    context.colorspace = context.color_primaries = context.color_trc = _AV_MATRIX[colour.matrix]


_READERS: dict[str, Callable[..., _Source]] = {"yuv": _open_yuv, "y4m": _open_y4m, "png": _open_png, "av": _open_av}
_WRITERS: dict[str, Callable[..., None]] = {"yuv": _write_yuv, "y4m": _write_y4m, "png": _write_png, "av": _write_av}
