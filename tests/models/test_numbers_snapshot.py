"""The numbers the zoo's models produce, pinned: per-frame bits and reconstructions.

A refactoring of the base (layers, coding loop, entropy models) must not move a single
number. This file pins, on fixed inputs:

- `dcvc_dc` and `sevc` at small widths with weights that depend only on each state_dict
  key's name and shape (`keyed_weights`), so the snapshot survives any change of module
  construction order but not a renamed key or a changed computation;
- the bundled `dcvc_dc_tiny` with its real weights;

their estimated bits per frame and latent (to 1e-6 relative) and reconstructions (to 1e-6
absolute), plus a `dcvc_dc_tiny` stream written before the refactoring, which must still
decode to the same frames, and `dcvc_dc_small` / `sevc_small` streams written before the speed
work (#30, encoded with 1 thread), which must decode to the very frames they decoded to then
(SHA-256 of the float32 reconstructions in `snapshots/streams.json`), and a format version 4
channels-last `sevc_small` stream, which must be refused (format 5 computes channels-last
differently). Regenerate with
GENERATE_EXPECTED=1 only for an intended change; the streams are never regenerated: a change
that moves their reconstructions must make them fail with an error instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import lvc_zoo
from lvc_zoo.errors import BitstreamError
from lvc_zoo.models import DCVCDC, SEVC, DCVCDCConfig, SEVCConfig, VideoCodec
from lvc_zoo.runtime import torch_threads

SNAPSHOTS = Path(__file__).parent / "snapshots"
GENERATE = os.environ.get("GENERATE_EXPECTED") == "1"
FRAMES, HEIGHT, WIDTH = 3, 64, 80  # 80 is not a multiple of 16, so padding is exercised
QUALITY = 2


def keyed_weights(codec: VideoCodec) -> VideoCodec:
    """Fill every parameter and buffer from a generator seeded by its key (crc32), fan-in scaled.

    q-scale tensors get an increasing ladder so that quality matters; everything else is
    uniform(-b, b) with b = 1 / sqrt(fan-in) for matrices and 0.05 for vectors.
    """
    with torch.no_grad():
        for key, tensor in codec.state_dict().items():
            if not tensor.is_floating_point():
                continue
            rs = np.random.RandomState(zlib.crc32(key.encode()))
            if key.endswith(("q_enc.scale", "q_dec.scale")):
                ladder = np.geomspace(0.5, 2.0, tensor.shape[0]) if "enc" in key else 1 / np.geomspace(0.5, 2.0, tensor.shape[0])
                values = ladder.reshape(tensor.shape)
            elif key.endswith(".basic"):
                values = rs.uniform(0.8, 1.2, size=tuple(tensor.shape))
            else:
                fan_in = int(np.prod(tensor.shape[1:])) if tensor.ndim >= 2 else 0
                bound = 1 / np.sqrt(fan_in) if fan_in else 0.05
                values = rs.uniform(-bound, bound, size=tuple(tensor.shape))
            tensor.copy_(torch.from_numpy(np.asarray(values, dtype=np.float32)))
    return codec.eval()


def snapshot_clip() -> torch.Tensor:
    """(3, 3, 64, 80) frames: smooth texture moving (2, 1) px per frame, 8-bit quantised."""
    ys = torch.arange(HEIGHT + 8, dtype=torch.float64).view(-1, 1)
    xs = torch.arange(WIDTH + 8, dtype=torch.float64).view(1, -1)
    canvas = torch.stack(
        (torch.sin(0.11 * xs + 0.07 * ys), torch.cos(0.05 * xs - 0.13 * ys), torch.sin(0.017 * xs * ys / 8 + 0.3))
    )
    canvas = 0.5 + 0.4 * canvas
    frames = [canvas[:, i : i + HEIGHT, 2 * i : 2 * i + WIDTH] for i in range(FRAMES)]
    return (torch.stack(frames).float() * 255).round() / 255


def codecs() -> dict[str, VideoCodec]:
    return {
        "dcvc_dc_small": keyed_weights(DCVCDC(DCVCDCConfig.small())),
        "sevc_small": keyed_weights(SEVC(SEVCConfig.small())),
        "dcvc_dc_tiny": lvc_zoo.load("dcvc_dc_tiny"),
    }


def numbers(codec: VideoCodec, frames: torch.Tensor) -> dict[str, np.ndarray]:
    """Bits per frame and latent, and reconstructions, of `estimate` (IPP and intra period 2)."""
    out: dict[str, np.ndarray] = {}
    for period in (-1, 2):
        res = codec.estimate(frames, quality=QUALITY, intra_period=period)
        out[f"p{period}/bits"] = np.asarray(res.bits, dtype=np.float64)
        for tag, bits in res.components.items():
            out[f"p{period}/bits/{tag}"] = np.asarray(bits, dtype=np.float64)
        out[f"p{period}/recon"] = res.recon.numpy()
    return out


@pytest.fixture(scope="module")
def computed() -> dict[str, dict[str, np.ndarray]]:
    frames = snapshot_clip()
    return {name: numbers(codec, frames) for name, codec in codecs().items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dcvc_dc_small", "sevc_small", "dcvc_dc_tiny"])
def test_estimates_match_the_snapshot(name: str, computed: dict[str, dict[str, np.ndarray]]) -> None:
    path = SNAPSHOTS / f"{name}.npz"
    if GENERATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        np.savez_compressed(path, **computed[name])
    expected = dict(np.load(path))
    got = computed[name]
    assert sorted(got) == sorted(expected), "the latent tags or frame layout changed"
    for key, value in expected.items():
        if key.endswith("recon"):
            np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_allclose(got[key], value, rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.slow
def test_a_tiny_stream_written_before_the_refactoring_decodes_to_the_same_frames(
    computed: dict[str, dict[str, np.ndarray]],
) -> None:
    path = SNAPSHOTS / "dcvc_dc_tiny_p-1_q2.lvc"
    codec = lvc_zoo.load("dcvc_dc_tiny")
    if GENERATE:
        path.write_bytes(codec.compress(snapshot_clip(), quality=QUALITY))
    with torch_threads(2):  # a format version 2 stream records no thread count; the snapshot was made with 2
        decoded = codec.decompress(path.read_bytes()).numpy()
    # the frames it decoded to when written (computed contiguous, as every stream before format version 4)
    np.testing.assert_array_equal(decoded, np.load(SNAPSHOTS / "dcvc_dc_tiny.npz")["p-1/recon"])


PRE_SPEEDUP_STREAMS = json.loads((SNAPSHOTS / "streams.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("stream", sorted(PRE_SPEEDUP_STREAMS))
def test_streams_written_before_the_speed_work_decode_to_the_frames_they_decoded_to_then(stream: str) -> None:
    codec = codecs()[stream.split("_p")[0]]
    data = (SNAPSHOTS / stream).read_bytes()
    assert len(data) == PRE_SPEEDUP_STREAMS[stream]["bytes"]
    decoded = codec.decompress(data).numpy().astype(np.float32)
    assert decoded.shape == (FRAMES, 3, HEIGHT, WIDTH)
    assert hashlib.sha256(decoded.tobytes()).hexdigest() == PRE_SPEEDUP_STREAMS[stream]["recon_sha256"]


V4_CHANNELS_LAST_STREAMS = json.loads((SNAPSHOTS / "v4_channels_last.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("stream", sorted(V4_CHANNELS_LAST_STREAMS))
def test_format_version_4_channels_last_streams_are_refused_as_they_would_decode_differently(stream: str) -> None:
    """Written before format 5 kept warped and concatenated feature maps channels-last (#30):
    refused with a re-encode hint, because the same symbols computed now give other frames."""
    codec = codecs()[stream.split("_p")[0]]
    data = (SNAPSHOTS / stream).read_bytes()
    assert len(data) == V4_CHANNELS_LAST_STREAMS[stream]["bytes"] and data[4] == 4
    with pytest.raises(BitstreamError, match=r"format version 4 and was computed channels-last .* encode the source again"):
        codec.decompress(data)
    as_version_5 = data[:4] + bytes([5]) + data[5:]  # the version byte is outside every CRC; the rest is format 5
    decoded = codec.decompress(as_version_5).numpy().astype(np.float32)
    assert decoded.shape == (FRAMES, 3, HEIGHT, WIDTH)
    assert hashlib.sha256(decoded.tobytes()).hexdigest() != V4_CHANNELS_LAST_STREAMS[stream]["recon_sha256"]
