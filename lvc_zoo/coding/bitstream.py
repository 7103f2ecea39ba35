"""The lvc_zoo container: a header naming model and weights, then named chunks per frame.

Layout (all integers big-endian):

    magic "LVCZ" | format version u8 | header length u16 | header | header CRC32 u32
    header: model (u8 length + ASCII) | weights hash (8 bytes) | quality u8 | width u32 |
            height u32 | frame count u32 | fps numerator u32 | fps denominator u32 |
            intra period i32 | colour matrix (u8 length + ASCII) | colour range (u8 + ASCII)
    per frame: frame type (ASCII "I" or "P") | chunk count u8 |
               per chunk: name (u8 length + ASCII) | payload length u32 | payload CRC32 u32 | payload

Format versions: 1 (lvc_zoo 0.1 before the escape floor) coded chunks without the 3-bit escape
floor that starts every chunk since version 2 (lvc_zoo.coding.entropy_coder); the chunks of
the two are not interchangeable, so a version 1 stream is refused with a re-encode hint.

Models differ in what they code per frame (DCVC-DC one "frame" chunk, SEVC a base and an
enhancement layer): named chunks keep the format version fixed when a model is added.
Every read is bounds-checked, so truncated or corrupted streams raise `BitstreamError` that
names the frame and chunk.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction

from ..errors import BitstreamError

__all__ = ["MAGIC", "FORMAT_VERSION", "StreamHeader", "CodedFrame", "write_stream", "read_stream", "read_header"]

MAGIC = b"LVCZ"
FORMAT_VERSION = 2
_U8, _U16, _U32, _I32 = struct.Struct(">B"), struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">i")


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


@dataclass(frozen=True)
class CodedFrame:
    """One frame's type and its named, entropy-coded chunks."""

    frame_type: str
    chunks: dict[str, bytes]


def _text(value: str) -> bytes:
    data = value.encode("ascii")
    if len(data) > 255:
        raise ValueError(f"{value!r} is too long for the container (255 bytes at most)")
    return _U8.pack(len(data)) + data


def _encode_header(h: StreamHeader) -> bytes:
    fingerprint = bytes.fromhex(h.weights_hash)
    if len(fingerprint) != 8:
        raise ValueError(f"weights_hash must be 16 hex digits, got {h.weights_hash!r}")
    fps = Fraction(h.fps).limit_denominator(2**31)
    return b"".join(
        (
            _text(h.model),
            fingerprint,
            _U8.pack(h.quality),
            _U32.pack(h.width),
            _U32.pack(h.height),
            _U32.pack(h.frame_count),
            _U32.pack(fps.numerator),
            _U32.pack(fps.denominator),
            _I32.pack(h.intra_period),
            _text(h.colour_matrix),
            _text(h.colour_range),
        )
    )


def write_stream(header: StreamHeader, frames: list[CodedFrame]) -> bytes:
    """Serialise a header and its frames into one bytes object."""
    if len(frames) != header.frame_count:
        raise ValueError(f"header says {header.frame_count} frames, got {len(frames)}")
    head = _encode_header(header)
    parts = [MAGIC, _U8.pack(FORMAT_VERSION), _U16.pack(len(head)), head, _U32.pack(zlib.crc32(head))]
    for frame in frames:
        parts += [frame.frame_type.encode("ascii"), _U8.pack(len(frame.chunks))]
        for name, payload in frame.chunks.items():
            parts += [_text(name), _U32.pack(len(payload)), _U32.pack(zlib.crc32(payload)), payload]
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


def _read_header(reader: _Reader) -> StreamHeader:
    if reader.take(len(MAGIC)) != MAGIC:
        raise BitstreamError("not an lvc_zoo bitstream (no LVCZ magic); pass a file written by `lvc-zoo encode`")
    version = reader.unpack(_U8)
    if version > FORMAT_VERSION:
        raise BitstreamError(
            f"the stream has format version {version}, newer than this lvc_zoo reads ({FORMAT_VERSION}); "
            "upgrade lvc_zoo to decode it"
        )
    if version < FORMAT_VERSION:
        raise BitstreamError(
            f"the stream has format version {version}, written by an older lvc_zoo whose entropy coder this one "
            f"no longer reads (it reads {FORMAT_VERSION}); decode it with that version, or encode the source again"
        )
    head = reader.take(reader.unpack(_U16))
    if zlib.crc32(head) != reader.unpack(_U32):
        raise BitstreamError("CRC mismatch in the stream header; the file is corrupt")
    fields = _Reader(head)
    try:
        return StreamHeader(
            model=fields.text(),
            weights_hash=fields.take(8).hex(),
            quality=fields.unpack(_U8),
            width=fields.unpack(_U32),
            height=fields.unpack(_U32),
            frame_count=fields.unpack(_U32),
            fps=Fraction(fields.unpack(_U32), max(fields.unpack(_U32), 1)),
            intra_period=fields.unpack(_I32),
            colour_matrix=fields.text(),
            colour_range=fields.text(),
        )
    except BitstreamError as err:
        raise BitstreamError(f"malformed stream header ({err})") from None


def read_header(data: bytes) -> StreamHeader:
    """The header of a stream (checks magic, version and header CRC)."""
    return _read_header(_Reader(data))


def read_stream(data: bytes) -> tuple[StreamHeader, list[CodedFrame]]:
    """Parse and verify a whole stream: header, then every frame's chunks with their CRC32.

    Raises:
        BitstreamError: wrong magic, newer version, truncation, CRC mismatch or trailing
            bytes; the message names the frame and chunk.
    """
    reader = _Reader(data)
    header = _read_header(reader)
    frames = []
    for index in range(header.frame_count):
        reader.where = f"frame {index}"
        frame_type = reader.take(1).decode("ascii", errors="replace")
        if frame_type not in ("I", "P"):
            raise BitstreamError(f"frame {index} has an unknown type {frame_type!r}; the stream is corrupt")
        chunks = {}
        for _ in range(reader.unpack(_U8)):
            name = reader.text()
            reader.where = f"frame {index}, chunk {name!r}"
            size, crc = reader.unpack(_U32), reader.unpack(_U32)
            payload = reader.take(size)
            if zlib.crc32(payload) != crc:
                raise BitstreamError(f"CRC mismatch in frame {index}, chunk {name!r}; the stream is corrupt")
            chunks[name] = payload
        frames.append(CodedFrame(frame_type, chunks))
    if reader.pos != len(data):
        raise BitstreamError(f"{len(data) - reader.pos} unexpected bytes after the last frame; the stream is corrupt")
    return header, frames
