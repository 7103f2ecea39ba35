"""The one coding loop of `VideoCodec`: any number of named chunks per frame, one per-frame step.

A small fixture model (not a registry entry) splits every P frame into two chunks, its
motion latents and its texture latents, only by overriding `chunk_names` and `code_inter`:
the loop, the container and training must carry it without a line of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from torch import Tensor

from lvc_zoo.coding import CodedFrame, read_stream, write_stream
from lvc_zoo.errors import BitstreamError, InputError
from lvc_zoo.coding.estimate import Coder, Estimate
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.models.codec import FRAME_CHUNK, CoderMap

MOTION, TEXTURE = "motion", "texture"


class ByTag:
    """A `Coder` that sends motion latents ("mv_*") to one coder and the rest to another."""

    def __init__(self, motion: Coder, texture: Coder) -> None:
        self.motion = motion
        self.texture = texture

    def _for(self, tag: str) -> Coder:
        return self.motion if tag.startswith("mv_") else self.texture

    def code_factorized(self, z: Tensor | None, estimator: object, shape: Sequence[int], tag: str) -> Tensor:
        return self._for(tag).code_factorized(z, estimator, shape, tag)

    def code_conditional(self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: str, tag: str) -> Tensor:
        return self._for(tag).code_conditional(residual, scales, mask, distribution, tag)


class TwoChunkCodec(DCVCDC):
    """DCVC-DC whose P frames store motion and texture in separate chunks."""

    model_name = "two_chunk_fixture"

    def chunk_names(self, frame_type: str, layer: str | None = None) -> tuple[str, ...]:
        return (FRAME_CHUNK,) if frame_type == "I" else (MOTION, TEXTURE)

    def code_inter(self, x: Tensor | None, dpb: object, quality: int, coders: CoderMap, layer: str | None = None):
        return self.inter.code(x, dpb, quality, ByTag(coders[MOTION], coders[TEXTURE]))


def clip(t: int = 3, h: int = 64, w: int = 80) -> Tensor:
    g = torch.Generator().manual_seed(3)
    ys = torch.linspace(0, 3, h).view(h, 1)
    frames = [0.5 + 0.3 * torch.sin(ys + torch.linspace(0, 4, w).view(1, w) + 0.2 * i).expand(3, h, w) for i in range(t)]
    return (torch.stack(frames) + 0.05 * torch.rand(t, 3, h, w, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def pair() -> tuple[DCVCDC, TwoChunkCodec]:
    torch.manual_seed(0)
    plain = DCVCDC(DCVCDCConfig.small()).eval()
    two = TwoChunkCodec(DCVCDCConfig.small()).eval()
    two.load_state_dict(plain.state_dict())
    return plain, two


@pytest.mark.slow
def test_a_two_chunk_model_estimates_what_its_one_chunk_twin_estimates(pair: tuple[DCVCDC, TwoChunkCodec]) -> None:
    plain, two = pair
    frames = clip()
    a, b = plain.estimate(frames, quality=1), two.estimate(frames, quality=1)
    assert a.bits == b.bits and a.components == b.components
    assert torch.equal(a.recon, b.recon)


@pytest.mark.slow
def test_two_chunks_per_p_frame_round_trip_exactly(pair: tuple[DCVCDC, TwoChunkCodec]) -> None:
    _, two = pair
    frames = clip()
    data = two.compress(frames, quality=2)
    _, coded = read_stream(data)
    assert [sorted(frame.chunks) for frame in coded] == [[FRAME_CHUNK], [MOTION, TEXTURE], [MOTION, TEXTURE]]
    assert all(len(payload) > 0 for frame in coded for payload in frame.chunks.values())
    assert torch.equal(two.decompress(data), two.estimate(frames, quality=2).recon)


def test_encoded_frames_report_the_bits_of_every_chunk(pair: tuple[DCVCDC, TwoChunkCodec]) -> None:
    _, two = pair
    frames = clip()
    encoded = list(two.encode_frames(frames, quality=0))
    estimate = two.estimate(frames, quality=0)
    for frame, bits in zip(encoded, estimate.bits):
        assert frame.estimated_bits == pytest.approx(bits, rel=1e-6)
        assert frame.bits == 8 * sum(len(payload) for payload in frame.coded.chunks.values())


def test_a_missing_chunk_is_a_corrupt_stream(pair: tuple[DCVCDC, TwoChunkCodec]) -> None:
    _, two = pair
    header, coded = read_stream(two.compress(clip(2), quality=0))
    coded[1] = CodedFrame("P", {MOTION: coded[1].chunks[MOTION]})
    with pytest.raises(BitstreamError, match=r"frame 1 has chunks \['motion'\], but two_chunk_fixture's P frames have \['motion', 'texture'\]"):
        two.decompress(write_stream(header, coded))


def test_a_single_layer_model_names_its_layers_when_asked_for_one(pair: tuple[DCVCDC, TwoChunkCodec]) -> None:
    plain, _ = pair
    data = plain.compress(clip(2), quality=0)
    with pytest.raises(InputError, match="has one layer"):
        plain.decompress(data, layer="base")


def test_training_codes_frames_through_the_same_per_frame_step(pair: tuple[DCVCDC, TwoChunkCodec]) -> None:
    """`code_frame` with one shared `Estimate` is what estimation runs: same bits, same reconstruction."""
    _, two = pair
    frames = clip(2)
    size = two.padded_size(*frames.shape[-2:])
    dpb = None
    bits = []
    with torch.no_grad(), two.computing_in():  # the layout estimation computes in
        for index, frame_type in enumerate(("I", "P")):
            coder = Estimate(mode="round")
            x_hat, dpb = two.code_frame(frames[index : index + 1], frame_type, dpb, size, 1, two.shared_coders(frame_type, coder), index)
            bits.append(float(coder.total_bits()))
    estimate = two.estimate(frames, quality=1)
    assert bits == pytest.approx(estimate.bits, rel=1e-6)
    assert torch.equal(x_hat, estimate.recon[1:])
