"""The container: header fields, named chunks, CRCs, truncation, versions."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lvc_zoo.coding.bitstream import FORMAT_VERSION, CodedFrame, StreamHeader, read_header, read_stream, write_stream
from lvc_zoo.errors import BitstreamError

HEADER = StreamHeader(
    model="dcvc_dc", weights_hash="0123456789abcdef", quality=2, width=80, height=64, frame_count=2,
    fps=Fraction(30000, 1001), intra_period=32, colour_matrix="bt601", colour_range="limited",
)
FRAMES = [CodedFrame("I", {"frame": b"\x01\x02\x03\x04"}), CodedFrame("P", {"bl": b"abcd" * 3, "el": b""})]


def test_round_trip_keeps_every_field() -> None:
    data = write_stream(HEADER, FRAMES)
    assert data[:4] == b"LVCZ" and data[4] == FORMAT_VERSION
    header, frames = read_stream(data)
    assert header == HEADER and frames == FRAMES
    assert read_header(data) == HEADER


def test_every_truncation_is_reported() -> None:
    data = write_stream(HEADER, FRAMES)
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            read_stream(data[:cut])


def test_truncation_inside_a_chunk_names_frame_and_chunk() -> None:
    data = write_stream(HEADER, FRAMES)
    with pytest.raises(BitstreamError, match="truncated in frame 1, chunk 'bl'"):
        read_stream(data[:-18])  # the last 4 bytes are the frame CRC, 11 before chunk "el"; this cuts 3 bytes of "bl"


def test_bit_flip_in_a_payload_fails_its_crc() -> None:
    data = bytearray(write_stream(HEADER, FRAMES))
    data[-17] ^= 0x10  # inside frame 1's "bl" payload
    with pytest.raises(BitstreamError, match="CRC mismatch in frame 1, chunk 'bl'"):
        read_stream(bytes(data))


def test_bit_flip_in_the_header_fails_its_crc() -> None:
    data = bytearray(write_stream(HEADER, FRAMES))
    data[10] ^= 0x01
    with pytest.raises(BitstreamError, match="stream header"):
        read_stream(bytes(data))


def test_newer_format_version_is_refused_with_advice() -> None:
    data = bytearray(write_stream(HEADER, FRAMES))
    data[4] = FORMAT_VERSION + 1
    with pytest.raises(BitstreamError, match="newer than this lvc_zoo reads.*upgrade"):
        read_stream(bytes(data))


def test_older_format_version_is_refused_with_advice() -> None:
    data = bytearray(write_stream(HEADER, FRAMES))
    data[4] = 1
    with pytest.raises(BitstreamError, match="format version 1, written by an older lvc_zoo.*encode the source again"):
        read_stream(bytes(data))


def test_wrong_magic_and_trailing_bytes() -> None:
    data = write_stream(HEADER, FRAMES)
    with pytest.raises(BitstreamError, match="not an lvc_zoo bitstream"):
        read_stream(b"RIFF" + data[4:])
    with pytest.raises(BitstreamError, match="unexpected bytes after the last frame"):
        read_stream(data + b"\x00")


def test_frame_count_must_match() -> None:
    with pytest.raises(ValueError, match="header says 2 frames"):
        write_stream(HEADER, FRAMES[:1])
