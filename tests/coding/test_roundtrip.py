"""Every registered model: decompress(compress(x)) equals the encoder's reconstruction exactly.

Reduced widths (the property is about plumbing, not the trained model); the full-width
ratio of file size to estimate is reported in the issue notes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.coding import FORMAT_VERSION, read_header
from lvc_zoo.errors import BitstreamError, ModelMismatchError, QualityError
from lvc_zoo.models import DCVCDC
from lvc_zoo.registry import get_spec


def small_codec(name: str, seed: int = 0):
    spec = get_spec(name)
    torch.manual_seed(seed)
    return spec.builder(type(spec.config).small()).eval()


def clip(t: int = 3, h: int = 66, w: int = 70) -> torch.Tensor:
    torch.manual_seed(1)
    base = torch.rand(1, 3, h + 8, w + 8)
    return torch.cat([base[..., i : i + h, 2 * i : 2 * i + w] for i in range(t)]).clamp(0, 1)


@pytest.fixture(scope="module")
def codec() -> DCVCDC:
    return small_codec("dcvc_dc")


@pytest.mark.slow
@pytest.mark.parametrize("name", lvc_zoo.list_models())
@pytest.mark.parametrize("intra_period", [-1, 2])
def test_decode_equals_encoder_reconstruction(name: str, intra_period: int) -> None:
    model = small_codec(name)
    model.quality = 1  # a model with one weights file per quality codes only the one it holds
    frames = clip(4)
    encoded = list(model.encode_frames(frames, quality=1, intra_period=intra_period))
    data = model.compress(frames, quality=1, intra_period=intra_period)
    decoded = model.decompress(data)
    encoder_recon = torch.cat([e.recon for e in encoded])
    assert decoded.shape == frames.shape
    assert torch.equal(decoded, encoder_recon)
    assert torch.equal(decoded, model.estimate(frames, 1, intra_period).recon)


def test_file_is_close_to_the_ideal_length_and_the_estimate(codec: DCVCDC) -> None:
    frames = clip(3)
    encoded = list(codec.encode_frames(frames, quality=3))
    estimate = codec.estimate(frames, quality=3)
    for frame, estimated in zip(encoded, estimate.bits):
        assert frame.bits <= frame.ideal_bits * 1.01 + 64
        assert frame.estimated_bits == pytest.approx(estimated, rel=1e-6)


def test_header_records_the_source(codec: DCVCDC) -> None:
    frames = clip(2)
    data = codec.compress(frames, 0, 8, fps=Fraction(25), colour_matrix="bt601", colour_range="limited")
    header = read_header(data)
    assert (header.model, header.quality, header.width, header.height, header.frame_count) == ("dcvc_dc", 0, 70, 66, 2)
    assert (header.fps, header.intra_period, header.colour_matrix, header.colour_range) == (Fraction(25), 8, "bt601", "limited")
    assert header.weights_hash == codec.weights_fingerprint()


def test_other_weights_are_refused(codec: DCVCDC) -> None:
    data = codec.compress(clip(2), 1)
    with pytest.raises(ModelMismatchError, match="other dcvc_dc weights"):
        small_codec("dcvc_dc", seed=5).decompress(data)


def test_a_config_without_tensors_enters_the_fingerprint(codec: DCVCDC) -> None:
    wider = DCVCDC(replace(codec.config, align_max_residual=codec.config.align_max_residual + 1)).eval()
    wider.load_state_dict(codec.state_dict())
    assert wider.legacy_weights_fingerprint() == codec.legacy_weights_fingerprint()
    assert wider.weights_fingerprint() != codec.weights_fingerprint()
    with pytest.raises(ModelMismatchError, match="other dcvc_dc weights or config"):
        wider.decompress(codec.compress(clip(2), 1))


def test_a_version_2_header_is_checked_against_the_legacy_fingerprint(codec: DCVCDC) -> None:
    header = read_header(codec.compress(clip(1), 1))
    codec.check_stream(replace(header, format_version=2, weights_hash=codec.legacy_weights_fingerprint()))
    with pytest.raises(ModelMismatchError, match="other dcvc_dc weights"):
        codec.check_stream(replace(header, format_version=2))


class OtherModel(DCVCDC):
    """A model of another name (a test double for a second paper's class)."""

    model_name = "dcvc_fm"


@pytest.mark.slow
def test_another_models_stream_is_refused(codec: DCVCDC) -> None:
    torch.manual_seed(0)
    other = OtherModel(type(codec.config).small()).eval()
    with pytest.raises(ModelMismatchError, match="written by model 'dcvc_fm'.*lvc_zoo.load\\('dcvc_fm'"):
        codec.decompress(other.compress(clip(2), 1))


def test_newer_version_truncation_and_bit_flips_are_refused(codec: DCVCDC) -> None:
    data = codec.compress(clip(2), 1)
    newer = bytearray(data)
    newer[4] = FORMAT_VERSION + 1
    with pytest.raises(BitstreamError, match="upgrade lvc_zoo"):
        codec.decompress(bytes(newer))
    with pytest.raises(BitstreamError, match="truncated in frame 1"):
        codec.decompress(data[:-3])
    flipped = bytearray(data)
    flipped[-5] ^= 0x04
    with pytest.raises(BitstreamError, match="CRC mismatch in frame 1, chunk 'frame'"):
        codec.decompress(bytes(flipped))


def test_compress_checks_quality_and_frames(codec: DCVCDC) -> None:
    with pytest.raises(QualityError, match="0..3"):
        codec.compress(clip(1), 7)


CHILD = """
import sys, torch, lvc_zoo
torch.set_num_threads(int(sys.argv[3]))
codec = lvc_zoo.load("dcvc_dc", weights=sys.argv[1])
frames = codec.decompress(open(sys.argv[2], "rb").read())
torch.save(frames, sys.argv[2] + ".decoded.pt")
"""


@pytest.mark.slow
def test_decoding_in_a_fresh_process_is_exact(codec: DCVCDC, tmp_path: Path) -> None:
    weights = lvc_zoo.save_pretrained(codec, tmp_path / "weights")
    frames = clip(3)
    stream = tmp_path / "clip.lvc"
    stream.write_bytes(codec.compress(frames, 2))
    recon = codec.estimate(frames, 2).recon
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run(
        [sys.executable, "-c", CHILD, str(weights), str(stream), str(torch.get_num_threads())],
        check=True, env=env, timeout=300,
    )
    decoded = torch.load(str(stream) + ".decoded.pt", weights_only=True)
    assert (decoded - recon).abs().max().item() == 0.0
