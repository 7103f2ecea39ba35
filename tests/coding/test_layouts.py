"""Memory layouts (#30): a codec computes its `channels_last_modules` channels-last, streams record it.

Channels-last convolutions are the same network rounded differently, so the layout is part of
what a decoder must reproduce: it decodes each stream in the layout the stream records (older
streams: contiguous), refuses one it does not know, and leaves the weights as they were.
"""

from __future__ import annotations

import zlib

import pytest
import torch

from lvc_zoo.coding.bitstream import LAYOUTS, read_header
from lvc_zoo.errors import BitstreamError
from lvc_zoo.layers.layout import is_channels_last
from lvc_zoo.models import DCVCDC, DCVCFM, LSTVC, SEVC, DCVCDCConfig, DCVCFMConfig, LSTVCConfig, SEVCConfig

CHANNELS_LAST, CONTIGUOUS = LAYOUTS.index("channels_last"), LAYOUTS.index("contiguous")


def as_version(data: bytes, version: int) -> bytes:
    """`data` with the format version byte set to `version` (it lies outside every CRC; versions 4 and 5 share a layout)."""
    return data[:4] + bytes([version]) + data[5:]


def small_dcvc_dc(seed: int = 0) -> DCVCDC:
    torch.manual_seed(seed)
    return DCVCDC(DCVCDCConfig.small()).eval()


def clip() -> torch.Tensor:
    base = torch.rand(1, 3, 72, 80, generator=torch.Generator().manual_seed(3))
    return torch.cat([base[..., i : i + 64, 2 * i : 2 * i + 72] for i in range(3)])


def relayout(data: bytes, layout: int) -> bytes:
    """`data` with the header's layout byte (its last) set to `layout`, header and frame CRCs recomputed."""
    size = int.from_bytes(data[5:7], "big")
    head = data[7 : 6 + size] + bytes([layout])
    old_crc, new_crc = zlib.crc32(data[7 : 7 + size]), zlib.crc32(head)
    out, pos = bytearray(data[:7] + head + new_crc.to_bytes(4, "big")), 7 + size + 4
    index = 0
    while pos < len(data):  # re-seal every frame record: its CRC is seeded with the header CRC
        start, count, pos = pos, data[pos + 1], pos + 2
        descriptor = data[start:pos]
        for _ in range(count):
            fields_end = pos + 1 + data[pos] + 8
            descriptor += data[pos:fields_end]
            pos = fields_end + int.from_bytes(data[fields_end - 8 : fields_end - 4], "big")
        crc = zlib.crc32(descriptor, zlib.crc32(index.to_bytes(4, "big"), new_crc))
        assert int.from_bytes(data[pos : pos + 4], "big") == zlib.crc32(descriptor, zlib.crc32(index.to_bytes(4, "big"), old_crc))
        out += data[start:pos] + crc.to_bytes(4, "big")
        pos, index = pos + 4, index + 1
    return bytes(out)


def test_each_model_records_the_layout_it_codes_in() -> None:
    assert DCVCDC.channels_last_modules and SEVC.channels_last_modules and not LSTVC.channels_last_modules
    lstvc = LSTVC(LSTVCConfig.small()).eval()
    lstvc.quality = 1  # it holds the weights of one quality
    for codec, layout in ((small_dcvc_dc(), CHANNELS_LAST), (lstvc, CONTIGUOUS)):
        assert codec.coding_layout == layout
        assert read_header(codec.compress(clip(), quality=1)).layout == layout
    assert SEVC(SEVCConfig.small()).eval().coding_layout == CHANNELS_LAST


def test_the_layout_decides_the_numbers_and_each_stream_decodes_in_its_own() -> None:
    codec = small_dcvc_dc()
    data = codec.compress(clip(), quality=1)
    recon = codec.decompress(data)
    assert torch.equal(recon, codec.estimate(clip(), 1).recon)
    as_contiguous = codec.decompress(relayout(data, CONTIGUOUS))  # the same symbols computed contiguous
    assert not torch.equal(as_contiguous, recon)  # so a stream must say which it was written in
    assert torch.equal(codec.decompress(relayout(data, CHANNELS_LAST)), recon)


def test_format_version_4_is_read_when_contiguous_and_refused_when_channels_last() -> None:
    codec = small_dcvc_dc()
    data = codec.compress(clip(), quality=1)
    contiguous = relayout(data, CONTIGUOUS)
    assert torch.equal(codec.decompress(as_version(contiguous, 4)), codec.decompress(contiguous))
    with pytest.raises(BitstreamError, match=r"format version 4 and was computed channels-last .* encode the source again"):
        codec.decompress(as_version(data, 4))


def test_an_unknown_layout_is_refused() -> None:
    codec = small_dcvc_dc()
    with pytest.raises(BitstreamError, match=r"memory layout 2 is not one this lvc_zoo computes in .*newer lvc_zoo"):
        codec.decompress(relayout(codec.compress(clip(), quality=1), len(LAYOUTS)))


def test_the_weights_stay_contiguous_and_changed_weights_are_used() -> None:
    codec, other = small_dcvc_dc(0), small_dcvc_dc(1)
    before = {key: value.clone() for key, value in codec.state_dict().items()}
    codec.estimate(clip(), 1)
    for key, value in codec.state_dict().items():
        assert value.is_contiguous() and torch.equal(value, before[key]), key
    codec.load_state_dict(other.state_dict())  # the cached channels-last copies are stale now
    assert torch.equal(codec.estimate(clip(), 1).recon, other.estimate(clip(), 1).recon)
    with torch.no_grad():  # an in-place update of a 3x3 convolution's weight, as an optimiser step
        for model in (codec, other):
            model.get_parameter("inter.contextual_decoder.up1.0.weight").add_(0.05)
    assert torch.equal(codec.estimate(clip(), 1).recon, other.estimate(clip(), 1).recon)


CHANNELS_LAST_MODELS = {
    "dcvc_dc": lambda: DCVCDC(DCVCDCConfig.small()),
    "dcvc_fm": lambda: DCVCFM(DCVCFMConfig.small()),
    "sevc": lambda: SEVC(SEVCConfig.small()),
}


@pytest.mark.parametrize("name", sorted(CHANNELS_LAST_MODELS))
def test_channels_last_networks_get_their_feature_maps_channels_last(name: str) -> None:
    """A convolution with channels-last weights copies a contiguous input first; warps and
    concatenations keep the feature maps channels-last, so only the thin inputs made from
    frames and flows (at most 8 channels) and the latents' (1/16 resolution) are left to copy."""
    torch.manual_seed(0)
    codec = CHANNELS_LAST_MODELS[name]().eval()
    copied: list[tuple[str, tuple[int, ...]]] = []

    def record(name: str):
        def hook(conv: torch.nn.Conv2d, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0]
            if is_channels_last(conv.weight) and not is_channels_last(x) and x.shape[1] > 8 and x.shape[-2] >= 16:
                copied.append((name, tuple(x.shape)))
        return hook

    for path in codec.channels_last_modules:
        for name, module in codec.get_submodule(path).named_modules(prefix=path):
            if isinstance(module, torch.nn.Conv2d):
                module.register_forward_pre_hook(record(name))
    frames = clip()
    codec.estimate(frames, codec.qualities[0])
    assert frames.shape[-2] == 64 and not copied
