"""Stream bytes pinned before the entropy-coding speed work (#30): the coder must stay bit-exact.

Speeding up the coder (grouping symbols by table, caching tables and constriction models)
must not move a single byte: same symbols, same tables, same order of coder calls, same
escape-floor choice. This file pins the SHA-256 of the coded chunks written by the code as it
was before that work (generated once, `snapshots/stream_bytes.json`; never regenerate it for a
coder change):

- whole clips compressed by four models at small widths (`keyed_weights`, 1 thread) with
  intra period -1 and 2, so I and P frames, Laplace and Gaussian tables and the factorized
  hyper-latents all count;
- chunks pushed straight through `Encode` with fixed synthetic latents, independent of any
  network: both distributions, masks, tiny, huge and NaN scales, and outliers that take the
  escape (with a floor other than 0) and its two 16-bit pieces.

The clips are coded in the "contiguous" layout, the one every stream was computed in before
the channels-last speed work, so the pins hold the coder to the bytes of the same network
numbers. The header is left out of the hash (it records the torch and lvc_zoo versions and the
layout); the chunks, their names and order and the frame types are in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from test_numbers_snapshot import QUALITY, keyed_weights, snapshot_clip

import lvc_zoo
from lvc_zoo.coding import ChunkWriter, Encode
from lvc_zoo.coding.bitstream import LAYOUTS
from lvc_zoo.layers.entropy import FactorizedBitEstimator
from lvc_zoo.models import DCVCDC, DCVCFM, SEVC, DCVCDCConfig, DCVCFMConfig, SEVCConfig, VideoCodec

PINS = json.loads((Path(__file__).parent / "snapshots" / "stream_bytes.json").read_text())


def positive_rate_scales(codec: VideoCodec) -> VideoCodec:
    """`keyed_weights` leaves DCVC-FM's q tensors signed (log of a negative q is NaN); make them >= 0.5."""
    with torch.no_grad():
        for key, tensor in codec.state_dict().items():
            if key.endswith(("q_enc", "q_dec")) or ".q_scale_" in key:
                tensor.abs_().add_(0.5)
    return codec


CODECS: dict[str, Callable[[], VideoCodec]] = {
    "dcvc_dc_small": lambda: keyed_weights(DCVCDC(DCVCDCConfig.small())),
    "sevc_small": lambda: keyed_weights(SEVC(SEVCConfig.small())),
    "dcvc_fm_small": lambda: positive_rate_scales(keyed_weights(DCVCFM(DCVCFMConfig.small()))),
    "dcvc_dc_tiny": lambda: lvc_zoo.load("dcvc_dc_tiny"),
}


@torch.inference_mode()
def chunks_digest(codec: VideoCodec, frames: torch.Tensor, intra_period: int) -> str:
    """SHA-256 over every frame's type and its named chunks (lengths included), in stream order.

    What `compress` writes, computed in the "contiguous" layout with `code_clip`.
    """
    types = codec.frame_types(frames.shape[0], intra_period)
    coders_for = lambda index: codec.encode_coders(types[index])  # noqa: E731
    clip = codec.code_clip(frames, types, tuple(frames.shape[-2:]), QUALITY, coders_for, layout=LAYOUTS.index("contiguous"))
    digest = hashlib.sha256()
    for frame_type, (_, coders) in zip(types, clip):
        digest.update(frame_type.encode())
        for name, coder in coders.items():
            chunk = coder.writer.finish()
            digest.update(name.encode() + len(chunk).to_bytes(4, "little") + chunk)
    return digest.hexdigest()


@pytest.mark.slow  # 0.4-0.9 s each (the project marks tests over 0.45 s); CI runs them
@pytest.mark.parametrize("name", sorted(CODECS))
def test_coded_clips_are_the_bytes_written_before_the_speed_work(name: str) -> None:
    codec = CODECS[name]()
    frames = snapshot_clip()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the pins were written with 1 thread (the networks' last bits depend on it)
    try:
        got = {f"{name}/p{period}": chunks_digest(codec, frames, period) for period in (-1, 2)}
    finally:
        torch.set_num_threads(threads)
    assert got == {key: PINS[key] for key in got}


def synthetic_chunk() -> bytes:
    """One chunk coded by `Encode` from fixed latents: factorized, Gaussian and Laplace calls."""
    rs = np.random.RandomState(30)
    tensor = lambda values: torch.from_numpy(np.asarray(values, dtype=np.float32))
    torch.manual_seed(30)
    estimator = FactorizedBitEstimator(6)
    writer = ChunkWriter()
    coder = Encode(writer)
    coder.code_factorized(tensor(rs.normal(0, 3, (1, 6, 5, 7))), estimator, (1, 6, 5, 7), "z")
    for distribution, spread in (("gaussian", 2.0), ("laplace", 1.0)):
        shape = (2, 8, 9, 11)
        residual = rs.laplace(0, spread, shape)
        residual.flat[rs.choice(residual.size, 40, replace=False)] *= 1000  # escapes, some past 16 bits
        residual.flat[:3] = (2.0**31 - 1, -(2.0**31), 70000.0)
        scales = np.exp(rs.uniform(-12, 5, shape))
        scales.flat[3:6] = (np.nan, np.inf, 0.0)
        mask = tensor(rs.rand(1, 8, 9, 11) < 0.6)
        coder.code_conditional(tensor(residual), tensor(scales), mask, distribution, "y")
    data = writer.finish()
    assert writer.escape_count > 40 and writer.escape_floor > 0  # the escape paths are exercised
    return data


def test_a_synthetic_chunk_is_the_bytes_written_before_the_speed_work() -> None:
    assert hashlib.sha256(synthetic_chunk()).hexdigest() == PINS["synthetic"]
