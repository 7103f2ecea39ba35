"""The lvc_zoo container: a header naming model and weights, then named chunks per frame.

Layout of format versions 4 and 5 (all integers big-endian):

    magic "LVCZ" | format version u8 | header length u16 | header | header CRC32 u32
    header: model (u8 length + ASCII) | weights hash (8 bytes) | quality u8 | width u32 |
            height u32 | frame count u32 | fps numerator u32 | fps denominator u32 |
            intra period i32 | colour matrix (u8 length + ASCII) | colour range (u8 + ASCII) |
            encoder threads u8 | software id u32 | memory layout u8
    per frame: frame type (ASCII "I" or "P") | chunk count u8 |
               per chunk: name (u8 length + ASCII) | payload length u32 | payload CRC32 u32 | payload
               | frame CRC32 u32
    frame CRC32: CRC32 of (frame index u32 | the frame's bytes from its type to its last
                 payload, payloads replaced by their CRC32), seeded with the header CRC32.

The frame CRC binds each frame record to its stream and position: a frame that is reordered,
duplicated, dropped, retyped or has its chunk names or counts changed fails it, even when
every payload keeps a valid CRC.

Limits (`header_problem`, applied when writing and reading): width and height in
`MIN_FRAME_SIDE`..`MAX_SIDE`, 1..`MAX_FRAMES` frames, an fps of numerator and denominator
1..2**32-1 (denominator at most `MAX_FPS_DENOMINATOR`) and at most `MAX_FPS`, intra period -1
or 1..`MAX_INTRA_PERIOD`, a model name of `MAX_NAME_LENGTH` characters [A-Za-z0-9_.-] at
most, colour names of `lvc_zoo.data.colour`, 1..`MAX_CHUNKS` chunks per frame with distinct
names. A reader checks them before allocating anything the header sizes, and checks that the
frame records can fit in the bytes left, so no header makes it allocate more than the stream.

Format versions: 1 (lvc_zoo 0.1 before the escape floor) coded chunks without the 3-bit escape
floor that starts every chunk since version 2 (lvc_zoo.coding.entropy_coder); the chunks of
the two are not interchangeable, so a version 1 stream is refused with a re-encode hint.
Version 2 is version 3 without the frame CRC and without the three fields after the colour
range (same entropy coder): it is still read, with each frame bound only by its payload CRCs.
Version 3 is version 4 without the memory layout (its streams were all computed in the
"contiguous" layout, which a reader takes for them). Version 4 is version 5 byte for byte, but
its "channels_last" arithmetic (development builds of 2026-12-07 only) left the feature maps
after warps and concatenations contiguous, where version 5 keeps them channels-last: the
networks round differently there, so a version 4 channels-last stream is refused with a
re-encode hint rather than decoded to frames that differ from its encoder's; a version 4
contiguous stream is read. Streams are written as version 5.

Exactness: the header records what the decoder's arithmetic must match for its output to equal
the encoder's reconstruction bit for bit: the encoder's torch intra-op thread count (torch's
reductions split work by thread, so 1 and 3 threads differ in the last bits), and a CRC32 of
the torch and lvc_zoo versions (`software_id`; 5 bytes in all, so a small clip's file stays
within 2 % of its estimate). `VideoCodec` decodes every frame with the recorded thread count
and warns (`ExactnessWarning`) when the software id differs. The memory layout says how the
encoder's networks held their convolution weights (`LAYOUTS`: "contiguous", or
"channels_last" for the submodules each model names): the two compute the same network with
other kernels and round differently in the last bits, so a decoder computes a stream in the
layout it was written with, and a layout it does not know is refused.

Models differ in what they code per frame (DCVC-DC one "frame" chunk, SEVC a base and an
enhancement layer): named chunks keep the format version fixed when a model is added.
Every read is bounds-checked, and every failure to read a stream is a `BitstreamError` that
names the frame and chunk.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational, Real

import torch

from ..data.colour import MATRICES, RANGES
from ..errors import BitstreamError, InputError
from ..version import __version__

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MIN_FRAME_SIDE",
    "MAX_SIDE",
    "MAX_FRAMES",
    "MAX_FPS",
    "MAX_FPS_DENOMINATOR",
    "MAX_INTRA_PERIOD",
    "MAX_NAME_LENGTH",
    "MAX_CHUNKS",
    "MAX_THREADS",
    "LAYOUTS",
    "software_id",
    "StreamHeader",
    "CodedFrame",
    "header_problem",
    "header_size",
    "write_stream",
    "read_stream",
    "read_header",
]

MAGIC = b"LVCZ"
FORMAT_VERSION = 5
READABLE_VERSIONS = (2, 3, 4, 5)
"""Format versions `read_stream` reads (version 2: no frame CRC; versions 2 and 3: no memory layout, i.e. 0;
version 4: only its contiguous streams)."""
LAYOUTS = ("contiguous", "channels_last")
"""Memory layouts of the encoder's convolution weights, by the number a header records (see the module docstring)."""

MIN_FRAME_SIDE = 64
"""Smallest frame width and height a stream holds (every model of the zoo codes it; the CLI uses it too)."""
MAX_SIDE = 8192
"""Largest frame width and height a stream holds (8K UHD is 7680x4320)."""
MAX_FRAMES = 2**20
"""Most frames a stream holds (over 4 hours at 60 fps)."""
MAX_FPS = 1000
"""Highest frame rate a stream records."""
MAX_FPS_DENOMINATOR = 2**31
"""Largest denominator of the recorded frame rate (a float fps is rounded to the closest such fraction)."""
MAX_INTRA_PERIOD = MAX_FRAMES
"""Largest intra period (-1 codes only the first frame as intra)."""
MAX_NAME_LENGTH = 64
"""Longest model or chunk name."""
MAX_CHUNKS = 16
"""Most chunks per frame."""
MAX_THREADS = 255
"""Largest encoder thread count a header records (0: not recorded, as in version 2)."""

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_U8, _U16, _U32, _I32 = struct.Struct(">B"), struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">i")
_MIN_FRAME_RECORD = 1 + 1 + (1 + 1 + 4 + 4)  # type, count, one chunk with a 1-character name (v3 adds a frame CRC)


@dataclass(frozen=True)
class StreamHeader:
    """What a decoder must know before the first frame.

    Attributes:
        model: registry name of the model that wrote the stream.
        weights_hash: 8-byte fingerprint of the weights (hex, 16 characters).
        quality: the quality every frame was coded at.
        width, height: size of the coded video (before padding).
        frame_count: number of frames.
        fps: frame rate.
        intra_period: -1 (only frame 0 intra) or the period of intra frames.
        colour_matrix, colour_range: how RGB relates to the source's YUV ("bt709"/"bt601",
            "full"/"limited"), so a decoder writes YUV back with the same conversion.
        format_version: the container version the stream was read from (one of
            `READABLE_VERSIONS`); `write_stream` writes only `FORMAT_VERSION`. A decoder uses it
            to tell which weights fingerprint the stream carries (version 2: the state_dict's
            alone; versions 3 to 5: the state_dict's and the config's).
        threads: the encoder's torch intra-op thread count, which decoding reuses so that it
            is exact; 0 when not recorded (version 2).
        software: `software_id()` of the encoder (its torch and lvc_zoo versions); 0 when not
            recorded (version 2).
        layout: index into `LAYOUTS` of the memory layout the encoder computed in; 0
            ("contiguous") for versions 2 and 3 (version 4 streams are read only with 0).
    """

    model: str
    weights_hash: str
    quality: int
    width: int
    height: int
    frame_count: int
    fps: Fraction = Fraction(30)
    intra_period: int = -1
    colour_matrix: str = "bt709"
    colour_range: str = "full"
    format_version: int = FORMAT_VERSION
    threads: int = 0
    software: int = 0
    layout: int = 0


@dataclass(frozen=True)
class CodedFrame:
    """One frame's type and its named, entropy-coded chunks."""

    frame_type: str
    chunks: dict[str, bytes]


def _stored_fps(fps: object) -> Fraction | None:
    """The frame rate as the header stores it (a fraction), or None when it cannot be stored."""
    if isinstance(fps, bool) or not isinstance(fps, Real):
        return None
    if not isinstance(fps, Rational):  # float, numpy floats: NaN and infinities are not rates
        fps = float(fps)
        if not math.isfinite(fps):
            return None
    if fps <= 0 or fps > MAX_FPS:
        return None
    stored = Fraction(fps).limit_denominator(MAX_FPS_DENOMINATOR)
    return stored if 0 < stored <= MAX_FPS else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name_problem(what: str, name: object) -> str | None:
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        return f"{what} {name!r} is not 1..{MAX_NAME_LENGTH} characters of A-Z, a-z, 0-9, '_', '.', '-'"
    return None


def header_problem(header: StreamHeader) -> str | None:
    """What puts `header` outside the container's limits (see the module docstring), or None.

    The one definition of the limits: `write_stream` refuses such a header with `InputError`
    and `read_stream` with `BitstreamError`.
    """
    model = _name_problem("model name", header.model)
    if model:
        return model
    if not isinstance(header.weights_hash, str) or not re.fullmatch(r"[0-9a-f]{16}", header.weights_hash):
        return f"weights hash {header.weights_hash!r} is not 16 lowercase hex digits"
    if not _is_int(header.quality) or not 0 <= header.quality <= 255:
        return f"quality {header.quality!r} is not an integer in 0..255"
    for what, side in (("width", header.width), ("height", header.height)):
        if not _is_int(side) or not MIN_FRAME_SIDE <= side <= MAX_SIDE:
            return f"{what} {side!r} is outside {MIN_FRAME_SIDE}..{MAX_SIDE} pixels"
    if not _is_int(header.frame_count) or not 1 <= header.frame_count <= MAX_FRAMES:
        return f"frame count {header.frame_count!r} is outside 1..{MAX_FRAMES}"
    if _stored_fps(header.fps) is None:
        return (
            f"fps {header.fps} is not a frame rate in (0, {MAX_FPS}] that the header stores (a fraction whose "
            f"denominator is at most {MAX_FPS_DENOMINATOR})"
        )
    period = header.intra_period
    if not _is_int(period) or not (period == -1 or 1 <= period <= MAX_INTRA_PERIOD):
        return f"intra period {period!r} is neither -1 (only frame 0 is intra) nor in 1..{MAX_INTRA_PERIOD}"
    if header.colour_matrix not in MATRICES:
        return f"colour matrix {header.colour_matrix!r} is not one of {', '.join(MATRICES)}"
    if header.colour_range not in RANGES:
        return f"colour range {header.colour_range!r} is not one of {', '.join(RANGES)}"
    if not _is_int(header.threads) or not 0 <= header.threads <= MAX_THREADS:
        return f"thread count {header.threads!r} is outside 0..{MAX_THREADS}"
    if not _is_int(header.software) or not 0 <= header.software < 2**32:
        return f"software id {header.software!r} is not a 32-bit unsigned integer"
    if not _is_int(header.layout) or not 0 <= header.layout < len(LAYOUTS):
        return (
            f"memory layout {header.layout!r} is not one this lvc_zoo computes in (0..{len(LAYOUTS) - 1}: "
            f"{', '.join(LAYOUTS)}); a newer lvc_zoo may have written it"
        )
    return None


def software_id() -> int:
    """CRC32 of the torch and lvc_zoo versions running now: what a header records of them."""
    return zlib.crc32(f"torch {torch.__version__}; lvc_zoo {__version__}".encode())


def _text(value: str) -> bytes:
    data = value.encode("ascii")
    return _U8.pack(len(data)) + data


def _encode_header(h: StreamHeader) -> bytes:
    fps = _stored_fps(h.fps)
    return b"".join(
        (
            _text(h.model),
            bytes.fromhex(h.weights_hash),
            _U8.pack(h.quality),
            _U32.pack(h.width),
            _U32.pack(h.height),
            _U32.pack(h.frame_count),
            _U32.pack(fps.numerator),
            _U32.pack(fps.denominator),
            _I32.pack(h.intra_period),
            _text(h.colour_matrix),
            _text(h.colour_range),
            _U8.pack(h.threads),
            _U32.pack(h.software),
            _U8.pack(h.layout),
        )
    )


def header_size(header: StreamHeader) -> int:
    """Bytes of `header` in a stream, magic to header CRC (what the frames share)."""
    return len(MAGIC) + _U8.size + _U16.size + len(_encode_header(header)) + _U32.size


def _frame_crc(header_crc: int, index: int, descriptor: bytes) -> int:
    """The frame CRC32 of frame `index` whose record, payloads replaced by their CRC32, is `descriptor`."""
    return zlib.crc32(descriptor, zlib.crc32(_U32.pack(index), header_crc))


def write_stream(header: StreamHeader, frames: list[CodedFrame]) -> bytes:
    """Serialise a header and its frames into one bytes object (format version `FORMAT_VERSION`).

    Raises:
        InputError: the header is outside the container's limits, the frame count differs
            from the header's, or a frame's type or chunks cannot be stored.
    """
    problem = header_problem(header)
    if problem:
        raise InputError(f"cannot write the stream: {problem}; pass values within the container's limits.")
    if header.format_version != FORMAT_VERSION:
        raise InputError(
            f"cannot write a format version {header.format_version} stream: lvc_zoo writes only version "
            f"{FORMAT_VERSION}; leave StreamHeader.format_version at its default."
        )
    if len(frames) != header.frame_count:
        raise InputError(f"header says {header.frame_count} frames, got {len(frames)}: pass one CodedFrame per frame.")
    head = _encode_header(header)
    header_crc = zlib.crc32(head)
    parts = [MAGIC, _U8.pack(FORMAT_VERSION), _U16.pack(len(head)), head, _U32.pack(header_crc)]
    for index, frame in enumerate(frames):
        if frame.frame_type not in ("I", "P") or not 1 <= len(frame.chunks) <= MAX_CHUNKS:
            raise InputError(f"frame {index} has type {frame.frame_type!r} and {len(frame.chunks)} chunks: "
                             f"use 'I' or 'P' and 1..{MAX_CHUNKS} chunks.")
        record = [frame.frame_type.encode("ascii"), _U8.pack(len(frame.chunks))]
        descriptor = list(record)
        for name, payload in frame.chunks.items():
            problem = _name_problem("chunk name", name)
            if problem:
                raise InputError(f"frame {index}: {problem}; rename the chunk.")
            fields = _text(name) + _U32.pack(len(payload)) + _U32.pack(zlib.crc32(payload))
            record += [fields, payload]
            descriptor.append(fields)
        parts += record + [_U32.pack(_frame_crc(header_crc, index, b"".join(descriptor)))]
    return b"".join(parts)


class _Reader:
    """Bounds-checked reads; `where` names the position for error messages."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.where = "the header"

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise BitstreamError(
                f"the stream is truncated in {self.where} (needs {self.pos + size} bytes, has {len(self.data)}); "
                "the file is incomplete, encode it again"
            )
        out = bytes(self.data[self.pos : self.pos + size])
        self.pos += size
        return out

    def unpack(self, fmt: struct.Struct) -> int:
        return fmt.unpack(self.take(fmt.size))[0]

    def text(self) -> str:
        raw = self.take(self.unpack(_U8))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise BitstreamError(f"unreadable text in {self.where}; the stream is corrupt") from None


def _read_header(reader: _Reader) -> tuple[StreamHeader, int]:
    """The header (its `format_version` the stream's) and the header CRC32; checks magic, version, CRC and limits."""
    if reader.take(len(MAGIC)) != MAGIC:
        raise BitstreamError("not an lvc_zoo bitstream (no LVCZ magic); pass a file written by `lvc-zoo encode`")
    version = reader.unpack(_U8)
    if version > FORMAT_VERSION:
        raise BitstreamError(
            f"the stream has format version {version}, newer than this lvc_zoo reads ({FORMAT_VERSION}); "
            "upgrade lvc_zoo to decode it"
        )
    if version not in READABLE_VERSIONS:
        raise BitstreamError(
            f"the stream has format version {version}, written by an older lvc_zoo whose entropy coder this one "
            f"no longer reads (it reads {', '.join(map(str, READABLE_VERSIONS))}); decode it with that version, "
            "or encode the source again"
        )
    head = reader.take(reader.unpack(_U16))
    header_crc = reader.unpack(_U32)
    if zlib.crc32(head) != header_crc:
        raise BitstreamError("CRC mismatch in the stream header; the file is corrupt")
    fields = _Reader(head)
    try:
        model, weights_hash, quality = fields.text(), fields.take(8).hex(), fields.unpack(_U8)
        width, height, frame_count = fields.unpack(_U32), fields.unpack(_U32), fields.unpack(_U32)
        numerator, denominator = fields.unpack(_U32), fields.unpack(_U32)
        intra_period, colour_matrix, colour_range = fields.unpack(_I32), fields.text(), fields.text()
        exactness = (fields.unpack(_U8), fields.unpack(_U32)) if version >= 3 else (0, 0)
        layout = fields.unpack(_U8) if version >= 4 else 0
    except BitstreamError as err:
        raise BitstreamError(f"malformed stream header ({err})") from None
    if fields.pos != len(head):
        raise BitstreamError(f"malformed stream header ({len(head) - fields.pos} unexpected bytes at its end); the stream is corrupt")
    if not (numerator and denominator) or denominator > MAX_FPS_DENOMINATOR:
        raise BitstreamError(f"invalid stream header: fps {numerator}/{denominator} is not a frame rate; the stream is corrupt")
    header = StreamHeader(
        model, weights_hash, quality, width, height, frame_count, Fraction(numerator, denominator), intra_period,
        colour_matrix, colour_range, version, *exactness, layout,
    )
    problem = header_problem(header)
    if problem:
        raise BitstreamError(f"invalid stream header: {problem}; the stream is corrupt or not written by lvc_zoo")
    if version == 4 and layout == LAYOUTS.index("channels_last"):
        raise BitstreamError(
            "the stream has format version 4 and was computed channels-last by a development build of lvc_zoo "
            "whose arithmetic this one does not reproduce bit for bit; decode it with that build, or encode the "
            "source again"
        )
    return header, header_crc


def read_header(data: bytes) -> StreamHeader:
    """The header of a stream (checks magic, version, header CRC and the container's limits)."""
    return _read_header(_Reader(data))[0]


def read_stream(data: bytes) -> tuple[StreamHeader, list[CodedFrame]]:
    """Parse and verify a whole stream: header, then every frame's chunks with their CRC32s.

    Raises:
        BitstreamError: wrong magic, unreadable version, a header outside the limits,
            truncation, CRC mismatch, a frame record out of place or trailing bytes; the
            message names the frame and chunk.
    """
    reader = _Reader(data)
    header, header_crc = _read_header(reader)
    if header.frame_count * _MIN_FRAME_RECORD > len(data) - reader.pos:
        raise BitstreamError(
            f"the header says {header.frame_count} frames, more than the {len(data) - reader.pos} bytes after it hold; "
            "the stream is truncated or corrupt"
        )
    frames = []
    for index in range(header.frame_count):
        reader.where = f"frame {index}"
        start = reader.pos
        frame_type = reader.take(1).decode("ascii", errors="replace")
        if frame_type not in ("I", "P"):
            raise BitstreamError(f"frame {index} has an unknown type {frame_type!r}; the stream is corrupt")
        count = reader.unpack(_U8)
        if not 1 <= count <= MAX_CHUNKS:
            raise BitstreamError(f"frame {index} claims {count} chunks (1..{MAX_CHUNKS}); the stream is corrupt")
        descriptor = [bytes(reader.data[start : reader.pos])]
        chunks = {}
        for _ in range(count):
            fields_start = reader.pos
            name = reader.text()
            if _name_problem("chunk name", name) or name in chunks:
                raise BitstreamError(f"frame {index} has an invalid or repeated chunk name {name!r}; the stream is corrupt")
            reader.where = f"frame {index}, chunk {name!r}"
            size, crc = reader.unpack(_U32), reader.unpack(_U32)
            descriptor.append(bytes(reader.data[fields_start : reader.pos]))
            payload = reader.take(size)
            if zlib.crc32(payload) != crc:
                raise BitstreamError(f"CRC mismatch in frame {index}, chunk {name!r}; the stream is corrupt")
            chunks[name] = payload
        if header.format_version >= 3:
            reader.where = f"frame {index}"
            if reader.unpack(_U32) != _frame_crc(header_crc, index, b"".join(descriptor)):
                raise BitstreamError(
                    f"frame CRC mismatch in frame {index}: the frame record is corrupt, or was moved, duplicated, "
                    "dropped or retyped; the stream is corrupt"
                )
        frames.append(CodedFrame(frame_type, chunks))
    if reader.pos != len(data):
        raise BitstreamError(f"{len(data) - reader.pos} unexpected bytes after the last frame; the stream is corrupt")
    return header, frames
