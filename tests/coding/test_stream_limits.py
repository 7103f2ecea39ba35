"""The decoder's limits (#28): crafted headers and chunks fail with BitstreamError before any
large allocation, and `compress` accepts exactly what the container stores."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from lvc_zoo.coding.bitstream import (
    MAX_FRAMES,
    MAX_SIDE,
    MIN_FRAME_SIDE,
    CodedFrame,
    StreamHeader,
    read_stream,
    write_stream,
)
from lvc_zoo.coding.entropy_coder import ChunkReader, conditional_tables, scale_index
from lvc_zoo.errors import BitstreamError, InputError, QualityError
from lvc_zoo.models import DCVCDC, DCVCDCConfig

ROOT = Path(__file__).resolve().parents[2]
HEADER = StreamHeader(model="dcvc_dc", weights_hash="0123456789abcdef", quality=1, width=64, height=64, frame_count=1)


def crafted(**changes: int) -> bytes:
    """A version 3 stream of HEADER with raw header fields replaced, the header CRC valid."""
    data = write_stream(HEADER, [CodedFrame("I", {"frame": b"\0" * 4})])
    size = struct.unpack(">H", data[5:7])[0]
    head = bytearray(data[7 : 7 + size])
    offsets = {"width": 17, "height": 21, "frame_count": 25, "fps_den": 33}  # after "dcvc_dc", hash, quality
    for field, value in changes.items():
        head[offsets[field] : offsets[field] + 4] = struct.pack(">I", value)
    return data[:7] + bytes(head) + struct.pack(">I", zlib.crc32(bytes(head))) + data[7 + size + 4 :]


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"width": 2**32 - 1}, "width 4294967295 is outside 64..8192"),
        ({"width": 100_000, "height": 100_000}, "width 100000 is outside"),
        ({"width": 0}, "width 0 is outside"),
        ({"height": 0}, "height 0 is outside"),
        ({"height": MAX_SIDE + 1}, "height 8193 is outside"),
        ({"frame_count": 0}, "frame count 0 is outside"),
        ({"frame_count": MAX_FRAMES + 1}, "frame count 1048577 is outside"),
        ({"frame_count": MAX_FRAMES}, "more than the 24 bytes after it hold"),
        ({"fps_den": 0}, "fps 30/0 is not a frame rate"),
    ],
)
def test_crafted_headers_with_valid_crcs_are_refused(changes: dict[str, int], match: str) -> None:
    with pytest.raises(BitstreamError, match=match):
        read_stream(crafted(**changes))


RSS_CHILD = """
import resource, sys
import lvc_zoo
from lvc_zoo.errors import BitstreamError
from lvc_zoo.models import DCVCDC, DCVCDCConfig
codec = DCVCDC(DCVCDCConfig.small())
data = open(sys.argv[1], "rb").read()
if data:
    try:
        codec.decompress(data)
    except BitstreamError as err:
        print("refused:", err, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.slow
def test_the_largest_rejected_header_allocates_nothing(tmp_path: Path) -> None:
    """Peak RSS (KiB) of a fresh process decoding a tiny stream that claims 2**32-1 frames of (2**32-1)^2
    pixels, over that of an idle one (same imports, same codec, no stream)."""
    attack = tmp_path / "attack.lvc"
    attack.write_bytes(crafted(width=2**32 - 1, height=2**32 - 1, frame_count=2**32 - 1))
    idle = tmp_path / "idle.lvc"
    idle.write_bytes(b"")
    peaks = []
    for path in (idle, attack):
        run = subprocess.run([sys.executable, "-c", RSS_CHILD, str(path)], capture_output=True, text=True, timeout=300,
                             env={"PYTHONPATH": str(ROOT), "PATH": "", "OMP_NUM_THREADS": "1"})
        assert run.returncode == 0, run.stderr
        peaks.append(int(run.stdout))
    assert "width 4294967295 is outside" in run.stderr
    print(f"\npeak RSS: idle {peaks[0]} KiB, largest rejected header {peaks[1]} KiB ({peaks[1] - peaks[0]:+} KiB)")
    assert peaks[1] - peaks[0] < 200 * 1024


def test_crafted_chunks_raise_bitstream_error_not_assertion_error() -> None:
    """Bytes no encoder wrote, that constriction asserts on, and NaN scales (any index is fine)."""
    tables = conditional_tables("laplace")
    rng = np.random.default_rng(0)
    failures = 0
    for _ in range(200):
        try:
            ChunkReader(rng.bytes(16)).pull(rng.integers(0, 256, 100), tables)
        except BitstreamError:
            failures += 1
    assert failures > 0
    nan = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.5])
    assert scale_index(nan, "laplace").tolist()[:3] == [0, 255, 0]


@pytest.fixture(scope="module")
def codec() -> DCVCDC:
    torch.manual_seed(0)
    return DCVCDC(DCVCDCConfig.small()).eval()


@pytest.mark.parametrize(
    "frames, options, error, match",
    [
        ((1, 64, 63), {}, InputError, "width 63 is outside 64..8192"),
        ((1, 32, 64), {}, InputError, "height 32 is outside"),
        ((1, 64, 64), {"fps": float("nan")}, InputError, "fps nan is not a frame rate"),
        ((1, 64, 64), {"fps": 2**40}, InputError, "fps 1099511627776"),
        ((1, 64, 64), {"fps": 0}, InputError, "fps 0"),
        ((1, 64, 64), {"fps": Fraction(1, 10**12)}, InputError, "fps 1/1000000000000"),
        ((1, 64, 64), {"intra_period": 0}, InputError, "intra period 0 is neither -1"),
        ((1, 64, 64), {"intra_period": -2}, InputError, "intra period -2"),
        ((1, 64, 64), {"colour_matrix": "bt2020"}, InputError, "colour matrix 'bt2020'"),
        ((1, 64, 64), {"colour_range": "tv"}, InputError, "colour range 'tv'"),
        ((1, 64, 64), {"gamma": 2.2}, InputError, "unknown stream info gamma"),
        ((1, 64, 64), {"quality": 4}, QualityError, "0..3"),
    ],
)
def test_compress_checks_every_argument_before_coding(
    codec: DCVCDC, frames: tuple[int, int, int], options: dict[str, object], error: type, match: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(DCVCDC, "encode_frames", lambda *args, **kwargs: pytest.fail("coded before checking"))
    with pytest.raises(error, match=match):
        codec.compress(torch.rand(*frames[:1], 3, *frames[1:]), **options)


def test_min_frame_side_is_the_clis() -> None:
    from lvc_zoo.cli import codec_commands

    assert codec_commands.MIN_FRAME_SIDE is MIN_FRAME_SIDE == 64


def test_version_2_streams_are_still_read() -> None:
    """The pinned snapshot stream predates the frame CRC; its frames parse (test_numbers_snapshot decodes them)."""
    data = (ROOT / "tests/models/snapshots/dcvc_dc_tiny_p-1_q2.lvc").read_bytes()
    assert data[4] == 2
    header, frames = read_stream(data)
    assert (header.width, header.height, [f.frame_type for f in frames]) == (80, 64, ["I", "P", "P"])
