"""Fuzzing the decoder (#28): no input crashes it, none fools it.

Streams of a small DCVC-DC (fixed seed, two 64x64 frames, I and P) are damaged in six
categories, 100 derandomised Hypothesis cases each (150 truncations, 200 bit flips, 200
insertions and deletions: the container refuses them cheaply). Every case must, within 10 s of CPU
time, decode to the encoder's reconstruction, or (only where the payloads were crafted with valid CRCs, or
a crafted header stays within the limits) to some frames in [0, 1], or raise an
`LvcZooError`; any other exception fails the test. Most categories fail while the
container is parsed; `REACHED` counts the cases per category whose chunks reached the
entropy decoder, and the last test prints the counts.
"""

from __future__ import annotations

import itertools
import struct
import time
import zlib
from collections import Counter
from fractions import Fraction

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fuzz_testing import CASE_SECONDS, FUZZ, report
from lvc_zoo.coding.bitstream import FORMAT_VERSION, LAYOUTS, MAX_FRAMES, MAX_SIDE
from lvc_zoo.errors import LvcZooError
from lvc_zoo.models import DCVCDC, DCVCDCConfig

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

torch.manual_seed(0)
CODEC = DCVCDC(DCVCDCConfig.small()).eval()
_base = torch.rand(1, 3, 72, 72, generator=torch.Generator().manual_seed(0))
FRAMES = torch.cat([_base[..., i : i + 64, 2 * i : 2 * i + 64] for i in range(2)])
STREAM = CODEC.compress(FRAMES, 1)
RECON = CODEC.estimate(FRAMES, 1).recon

REACHED: Counter[str] = Counter()
CASES: Counter[str] = Counter()


# ----------------------------------------------------------------------------- the v4 layout, written out
def split(data: bytes) -> tuple[bytes, list[Frame]]:
    """(header fields, [(frame type, [(chunk name, payload)])]) of a valid version 4 stream."""
    size = struct.unpack(">H", data[5:7])[0]
    head, pos, frames = data[7 : 7 + size], 7 + size + 4, []
    while pos < len(data):
        frame_type, count, pos = data[pos : pos + 1], data[pos + 1], pos + 2
        chunks = []
        for _ in range(count):
            name = data[pos + 1 : pos + 1 + data[pos]].decode()
            pos += 1 + data[pos]
            length = struct.unpack(">I", data[pos : pos + 4])[0]
            chunks.append((name, data[pos + 8 : pos + 8 + length]))
            pos += 8 + length
        frames.append((frame_type, chunks))
        pos += 4
    return head, frames


Frame = tuple[bytes, list[tuple[str, bytes]]]


def record(header_crc: int, index: int, frame: Frame) -> bytes:
    """The bytes of `frame` as frame `index` of a stream whose header CRC is `header_crc`, every CRC valid."""
    frame_type, chunks = frame
    descriptor = body = frame_type + bytes([len(chunks)])
    for name, payload in chunks:
        fields = bytes([len(name)]) + name.encode() + struct.pack(">II", len(payload), zlib.crc32(payload))
        descriptor += fields
        body += fields + payload
    return body + struct.pack(">I", zlib.crc32(descriptor, zlib.crc32(struct.pack(">I", index), header_crc)))


def prefix(head: bytes) -> bytes:
    """Magic, version 4, `head` and its CRC."""
    return b"LVCZ" + bytes([FORMAT_VERSION]) + struct.pack(">H", len(head)) + head + struct.pack(">I", zlib.crc32(head))


def join(head: bytes, frames: list[Frame]) -> bytes:
    """A stream of `head` and `frames` with every CRC valid (header, payloads, frame records)."""
    return prefix(head) + b"".join(record(zlib.crc32(head), index, frame) for index, frame in enumerate(frames))


HEAD, RECORDS = split(STREAM)


def header_fields(**changes: object) -> bytes:
    """The header fields of STREAM with some replaced (raw values, packed as the layout says)."""
    name_length = HEAD[0]
    model = changes.get("model", HEAD[1 : 1 + name_length].decode())
    rest = HEAD[1 + name_length :]
    weights, quality = rest[:8], rest[8]
    width, height, count, num, den, period = struct.unpack(">IIIIIi", rest[9:33])
    matrix_end = 34 + rest[33]
    colours_end = matrix_end + 1 + rest[matrix_end]
    colours, exactness = rest[33:colours_end], rest[colours_end:-1]  # exactness: encoder threads and versions
    values = dict(quality=quality, width=width, height=height, frame_count=count, num=num, den=den, period=period, layout=rest[-1])
    values.update({key: value for key, value in changes.items() if key in values})
    if "colours" in changes:
        colours = b"".join(bytes([len(c)]) + c.encode() for c in changes["colours"])
    return (
        bytes([len(model)]) + model.encode() + weights + bytes([values["quality"]])
        + struct.pack(">IIIIIi", values["width"], values["height"], values["frame_count"], values["num"], values["den"], values["period"])
        + colours + exactness + bytes([values["layout"]])
    )


# ----------------------------------------------------------------------------- one case
def outcome(category: str, data: bytes, allowed: set[str], expected: torch.Tensor = RECON, count: int | None = None) -> str:
    """Decode `data` (its first `count` frames; None: all): "original" (equal to `expected`), "frames" or
    "error" (an LvcZooError); the result must be in `allowed`."""
    CASES[category] += 1
    start = time.process_time()  # CPU time: the load of other processes does not count
    result = "error"
    try:
        decoded = CODEC.decode_frames(data)  # parses and verifies the whole stream
        REACHED[category] += 1
        frames = torch.cat(list(itertools.islice(decoded, count)))
    except LvcZooError:
        pass
    else:
        assert frames.isfinite().all() and frames.min() >= 0 and frames.max() <= 1
        result = "original" if frames.shape == expected.shape and torch.equal(frames, expected) else "frames"
    assert time.process_time() - start < CASE_SECONDS
    assert result in allowed, f"{category}: {result}"
    return result


def check_counts(category: str, **counts: object) -> None:
    """At least 100 cases ran in `category`; report how many reached the entropy decoder."""
    report(category, CASES[category], reached_the_entropy_decoder=REACHED[category], **counts)


def test_the_fuzzed_stream_decodes_to_the_encoders_reconstruction() -> None:
    assert join(HEAD, RECORDS) == STREAM, "the test's layout differs from the container's"
    assert outcome("intact", STREAM, {"original"}) == "original"


# ----------------------------------------------------------------------------- categories
def test_truncations() -> None:
    @settings(FUZZ, max_examples=150)  # cheap: the container refuses them
    @given(cut=st.integers(0, len(STREAM) - 1))
    def case(cut: int) -> None:
        outcome("truncation", STREAM[:cut], {"error"})

    case()
    check_counts("truncation")


def test_bit_flips() -> None:
    @settings(FUZZ, max_examples=200)  # cheap: the container refuses them
    @given(position=st.integers(0, len(STREAM) - 1), bit=st.integers(0, 7))
    def case(position: int, bit: int) -> None:
        data = bytearray(STREAM)
        data[position] ^= 1 << bit
        outcome("bit flip", bytes(data), {"error"})

    case()
    check_counts("bit flip")


def test_byte_insertions_and_deletions() -> None:
    @settings(FUZZ, max_examples=200)  # cheap: the container refuses them
    @given(position=st.integers(0, len(STREAM)), inserted=st.binary(max_size=8), deleted=st.integers(0, 8))
    def case(position: int, inserted: bytes, deleted: int) -> None:
        data = STREAM[:position] + inserted + STREAM[position + deleted :]
        assume(data != STREAM)
        outcome("insertion/deletion", data, {"error"})

    case()
    check_counts("insertion/deletion")


def test_frame_records_moved_with_valid_payload_crcs() -> None:
    """Records in any order, duplicated or dropped, at byte level (frame CRCs of their original index).

    Optionally one record is retyped, its chunk renamed or a chunk added, with every CRC
    valid for its original index; with `fix_count` the header's frame count is the new
    number of records (its CRC, and so every frame CRC, recomputed).
    """

    @FUZZ
    @given(
        order=st.lists(st.integers(0, len(RECORDS) - 1), max_size=4),
        edit=st.sampled_from(["none", "retype", "rename", "extra chunk"]),
        fix_count=st.booleans(),
    )
    def case(order: list[int], edit: str, fix_count: bool) -> None:
        frames = [(index, RECORDS[index]) for index in order]
        if frames and edit != "none":
            index, (frame_type, chunks) = frames[0]
            if edit == "retype":
                frame_type = b"P" if frame_type == b"I" else b"I"
            elif edit == "rename":
                chunks = [("base", payload) for _, payload in chunks]
            else:
                chunks = chunks + [("extra", chunks[0][1])]
            frames[0] = (index, (frame_type, chunks))
        head = header_fields(frame_count=len(frames)) if fix_count else HEAD
        data = prefix(head) + b"".join(record(zlib.crc32(head), index, frame) for index, frame in frames)
        intact = edit == "none" and order == list(range(len(order))) and (fix_count or len(order) == len(RECORDS))
        outcome("frame record", data, {"original"} if intact and order else {"error"}, RECON[: len(order)])

    case()
    check_counts("frame record")


_SIDES = st.sampled_from([0, 1, 63, MAX_SIDE + 1, 100_000, 2**32 - 1])
_HEADER_CHANGES = st.one_of(
    st.fixed_dictionaries({"width": _SIDES}),
    st.fixed_dictionaries({"height": _SIDES}),
    st.fixed_dictionaries({"frame_count": st.sampled_from([0, 1, 3, 1000, MAX_FRAMES + 1, 2**32 - 1])}),
    st.fixed_dictionaries({"num": st.sampled_from([0, 1001, 2**32 - 1]), "den": st.sampled_from([0, 1, 2**32 - 1])}),
    st.fixed_dictionaries({"period": st.sampled_from([-(2**31), -2, 0, 1, 2, MAX_FRAMES + 1, 2**31 - 1])}),
    st.fixed_dictionaries({"quality": st.integers(0, 255)}),
    st.fixed_dictionaries({"model": st.sampled_from(["", "sevc", "dcvc_dc\x1b[2J", "x" * 200, "dcvc_dc_tiny"])}),
    st.fixed_dictionaries({"colours": st.sampled_from([("bt2020", "full"), ("bt709", "tv"), ("", ""), ("bt601", "limited")])}),
    st.fixed_dictionaries({"layout": st.integers(0, 255)}),
)


def _header_outcomes(changes: dict[str, object]) -> set[str]:
    """What a stream whose header has `changes` (and valid CRCs) may decode to."""
    if "num" in changes:
        valid = changes["num"] and changes["den"] and changes["den"] <= 2**31 and Fraction(changes["num"], changes["den"]) <= 1000
    else:
        valid = changes.get("colours") == ("bt601", "limited") or changes.get("period") == 2
    if changes.get("quality") in CODEC.qualities or changes.get("layout", len(LAYOUTS)) < len(LAYOUTS):
        return {"original", "frames"}  # another quality or layout decodes the same symbols differently
    return {"original"} if valid else {"error"}


def test_crafted_headers_with_valid_crcs() -> None:
    """Header fields out of (or within) the limits, with the header and frame CRCs recomputed."""

    @FUZZ
    @given(changes=_HEADER_CHANGES)
    def case(changes: dict[str, object]) -> None:
        outcome("crafted header", join(header_fields(**changes), RECORDS), _header_outcomes(changes))

    case()
    check_counts("crafted header")


def test_crafted_payloads_with_valid_crcs() -> None:
    """A frame's chunk replaced by other bytes, its payload and frame CRCs recomputed.

    Every case passes the container's checks and reaches the entropy decoder (chunks are
    whole 32-bit words). Decoding stops after the crafted frame, the cost of the category.
    """
    entropy = Counter()

    @FUZZ
    @given(
        which=st.sampled_from([0, 0, 1]),  # a crafted I frame costs one frame's decode, a P frame two
        kind=st.sampled_from(["random", "flip", "truncate", "extend", "zeros", "ones"]),
        size=st.integers(0, 64),
        position=st.integers(0, 10_000),
        fill=st.binary(min_size=64, max_size=64),
    )
    def case(which: int, kind: str, size: int, position: int, fill: bytes) -> None:
        frame_type, [(name, payload)] = RECORDS[which]
        if kind == "random":
            payload = fill[: size // 4 * 4]
        elif kind == "flip":
            data = bytearray(payload)
            data[position % len(data)] ^= 1 << (position % 8)
            payload = bytes(data)
        elif kind == "truncate":
            payload = payload[: position % len(payload) // 4 * 4]
        elif kind == "extend":
            payload += fill[: size // 4 * 4]
        else:
            payload = (b"\x00" if kind == "zeros" else b"\xff") * (size // 4 * 4)
        records = list(RECORDS)
        records[which] = (frame_type, [(name, payload)])
        data = join(HEAD, records)
        entropy[outcome("crafted payload", data, {"original", "frames", "error"}, RECON[: which + 1], which + 1)] += 1

    case()
    check_counts("crafted payload", outcomes=dict(entropy))
    assert REACHED["crafted payload"] == CASES["crafted payload"] >= 100
