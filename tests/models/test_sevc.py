"""SEVC (`lvc_zoo.models.SEVC`): the two-layer loop, its padding branches, DPB, bitstream, converter.

Small widths (`SEVCConfig.small()`) and tiny clips: these tests are about plumbing (frame
geometry, refresh, latent slots, bit bookkeeping, the two-layer container). Parity with the
official code is checked against the reference goldens in test_sevc_parity.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

import lvc_zoo
from lvc_zoo.coding.bitstream import CodedFrame, read_stream, write_stream
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.convert.sevc import DROPPED_ENHANCEMENT, DROPPED_INTER
from lvc_zoo.errors import BitstreamError
from lvc_zoo.layers import QScale
from lvc_zoo.models import SEVC, SEVCConfig
from lvc_zoo.models.sevc import BASE_CHUNK, base_layer_input
from lvc_zoo.registry import get_spec

COMPONENTS = ["bl_mv_y", "bl_mv_z", "bl_y", "bl_z", "el_y", "i_y", "i_z"]
SIZES = [(64, 64), (72, 88), (96, 160), (120, 184), (80, 64)]
"""64x64: no padding, base 16x16; 72x88: padded to 80x96, base 20x24 zero-padded to 32x32 (zoo
choice); 96x160: no padding, base 24x40 zero-padded to 32x48; 120x184: padded to 128x192, base
32x48 unpadded (official padded branch); 80x64: no padding, base 20x16 padded to 32x16."""


def clip(t: int, h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """(t, 3, h, w) RGB frames in [0, 1]: a smooth pattern moving one pixel per frame plus noise."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 3, h).view(h, 1)
    frames = []
    for i in range(t):
        xs = torch.linspace(0, 3, w).view(1, w) + 3 * i / w
        base = torch.stack((torch.sin(ys + xs), torch.cos(2 * ys - xs), torch.sin(xs * ys)))
        frames.append(0.5 + 0.4 * base + 0.05 * torch.rand(3, h, w, generator=g))
    return torch.stack(frames).clamp(0, 1)


@pytest.fixture(scope="module")
def codec() -> SEVC:
    torch.manual_seed(0)
    return SEVC(SEVCConfig.small()).eval()


@pytest.fixture(scope="module")
def ladder_codec() -> SEVC:
    """A small SEVC whose q-scale anchors differ (enc 0.5 .. 2, dec the reciprocals)."""
    torch.manual_seed(0)
    codec = SEVC(SEVCConfig.small()).eval()
    with torch.no_grad():
        for name, module in codec.named_modules():
            if isinstance(module, QScale):
                enc = torch.tensor([0.5, 0.8, 1.25, 2.0])
                module.scale.copy_((enc if name.endswith("enc") else 1 / enc).view(-1, 1, 1, 1))
    return codec


@pytest.mark.parametrize("size", SIZES)
def test_every_padding_branch_keeps_size_and_feeds_the_base_layer_a_multiple_of_16(codec: SEVC, size: tuple[int, int]) -> None:
    h, w = size
    base_inputs: list[torch.Tensor] = []
    hook = codec.inter.base.flow.register_forward_hook(lambda m, i, out: base_inputs.append(i[0]))
    try:
        res = codec.estimate(clip(3, h, w), quality=1)
    finally:
        hook.remove()
    assert res.recon.shape == (3, 3, h, w)
    assert 0 <= res.recon.min() and res.recon.max() <= 1
    padded_h, padded_w = -(-h // 16) * 16, -(-w // 16) * 16
    expected = (-(-padded_h // 64) * 16, -(-padded_w // 64) * 16)  # imresize 1/4, zero-padded to 16
    assert [tuple(x.shape[-2:]) for x in base_inputs] == [expected, expected]


def test_base_layer_input_is_imresize_zero_padded_to_16() -> None:
    x = torch.rand(1, 3, 80, 96)
    out = base_layer_input(x)
    assert out.shape == (1, 3, 32, 32)
    assert torch.all(out[..., 20:, :] == 0) and torch.all(out[..., :, 24:] == 0)
    assert torch.all(out[..., :20, :24] != 0)


def test_components_are_per_layer_and_sum_to_the_bits(codec: SEVC) -> None:
    res = codec.estimate(clip(3), quality=2)
    assert sorted(res.components) == COMPONENTS
    for t in range(3):
        assert res.bits[t] == pytest.approx(sum(res.components[c][t] for c in COMPONENTS), rel=1e-5)
    assert all(res.components[c][0] == 0 for c in COMPONENTS if not c.startswith("i_"))
    assert all(res.components[c][t] > 0 for c in COMPONENTS if not c.startswith("i_") for t in (1, 2))
    assert all(res.components[c][t] == 0 for c in ("i_y", "i_z") for t in (1, 2))


def test_quality_changes_rate_with_non_unit_q_scales(ladder_codec: SEVC) -> None:
    frames = clip(2)
    low, high = (ladder_codec.estimate(frames, quality=q) for q in (0, 3))
    assert low.bits[0] < high.bits[0]
    for component in ("bl_y", "el_y"):
        assert low.components[component][1] != high.components[component][1]


def test_estimate_runs_and_is_deterministic(codec: SEVC) -> None:
    frames = clip(3, 72, 88)
    first, second = codec.estimate(frames, quality=0), codec.estimate(frames, quality=0)
    assert torch.equal(first.recon, second.recon) and first.bits == second.bits


def test_intra_reference_of_the_base_layer_is_the_unclamped_reconstruction(codec: SEVC) -> None:
    x_hat = torch.linspace(-0.5, 1.5, 3 * 64 * 64).view(1, 3, 64, 64)
    dpb = codec.inter.start(x_hat, index=0)
    assert torch.equal(dpb.base.frame, base_layer_input(x_hat))
    assert torch.equal(dpb.frame, x_hat.clamp(0, 1))
    assert dpb.feature is None and dpb.ys == (None, None, None) and dpb.base.feature is None
    assert codec.inter.start(x_hat, index=0, base_only=True).frame is None


def _calls(module: torch.nn.Module, log: list[int], tag: int) -> torch.utils.hooks.RemovableHandle:
    return module.register_forward_hook(lambda m, i, out: log.append(tag))


def test_latent_prior_adaptor_follows_the_number_of_previous_latents(codec: SEVC) -> None:
    used: list[int] = []
    hooks = [_calls(a, used, n) for n, a in enumerate(codec.inter.enhancement.prior_fusion.adaptors)]
    try:
        codec.estimate(clip(6), quality=0)
    finally:
        for hook in hooks:
            hook.remove()
    assert used == [0, 1, 2, 3, 3]


def test_refresh_every_32_frames_rebuilds_both_features_from_the_frames(codec: SEVC) -> None:
    frames = clip(2)
    x = frames[1:2]
    dpb = codec.inter.start(codec.intra.reconstruct(frames[:1], (64, 64), 0, Estimate()), index=0)
    _, dpb = codec.inter.code(x, dpb, 0, Estimate())
    assert dpb.feature is not None and dpb.base.feature is not None
    for index, expect_refresh in ((32, True), (31, False), (33, False)):
        log: list[int] = []
        hooks = [_calls(codec.inter.feature_adaptor_intra, log, 1), _calls(codec.inter.base.feature_adaptor_intra, log, 2)]
        try:
            moved = replace(dpb, base=replace(dpb.base, index=index), index=index)
            codec.inter.code(x, moved, 0, Estimate())
        finally:
            for hook in hooks:
                hook.remove()
        assert sorted(log) == ([1, 2] if expect_refresh else []), index


@pytest.mark.slow
def test_compress_round_trip_is_exact_and_has_two_layer_chunks(codec: SEVC) -> None:
    frames = clip(3, 72, 88)
    data = codec.compress(frames, quality=1)
    _, coded = read_stream(data)
    assert [sorted(f.chunks) for f in coded] == [["frame"], ["base", "enhancement"], ["base", "enhancement"]]
    assert torch.equal(codec.decompress(data), codec.estimate(frames, quality=1).recon)


@pytest.mark.parametrize("size", [(64, 64), (72, 88)])
def test_base_layer_only_decode_is_exact_low_resolution_and_skips_the_enhancement_layer(codec: SEVC, size: tuple[int, int]) -> None:
    h, w = size
    frames = clip(3, h, w)
    encoder_side: list[torch.Tensor] = []  # the base reconstructions the encoder computed
    hooks = [
        codec.inter.base.flow.register_forward_hook(lambda m, i, out: encoder_side.append(i[1]) if not encoder_side else None),
        codec.inter.base.recon_generation.register_forward_hook(lambda m, i, out: encoder_side.append(out[1].clamp(0, 1))),
    ]
    try:
        data = codec.compress(frames, quality=1)
    finally:
        for hook in hooks:
            hook.remove()
    low_h, low_w = math.ceil(h / 4), math.ceil(w / 4)
    expected = torch.cat([x.clamp(0, 1)[..., :low_h, :low_w] for x in encoder_side])

    enhancement_calls: list[int] = []
    hooks = [_calls(codec.inter.enhancement.recon_generation, enhancement_calls, 1),
             _calls(codec.inter.inter_layer_prediction, enhancement_calls, 2)]
    try:
        low = codec.decompress(data, base_layer_only=True)
    finally:
        for hook in hooks:
            hook.remove()
    assert low.shape == (3, 3, low_h, low_w)
    assert torch.equal(low, expected)
    assert enhancement_calls == []


def test_decode_refuses_a_p_frame_without_its_enhancement_chunk(codec: SEVC) -> None:
    frames = clip(2)
    data = codec.compress(frames, quality=0)
    header, coded = read_stream(data)
    coded[1] = CodedFrame("P", {BASE_CHUNK: coded[1].chunks[BASE_CHUNK]})
    with pytest.raises(BitstreamError, match=r"frame 1 has chunks \['base'\], but sevc's P frames have \['base', 'enhancement'\]"):
        codec.decompress(write_stream(header, coded), base_layer_only=True)


def test_dpb_is_frozen(codec: SEVC) -> None:
    dpb = codec.inter.start(torch.rand(1, 3, 64, 64), index=0)
    with pytest.raises(AttributeError):
        dpb.index = 3  # type: ignore[misc]


def test_registry_entry_builds_sevc_with_official_widths() -> None:
    spec = get_spec("sevc")
    assert spec.builder is SEVC and spec.config == SEVCConfig() and spec.qualities == (0, 1, 2, 3)
    assert "sevc" in lvc_zoo.list_models()


@pytest.mark.slow
def test_small_config_survives_a_save_load_round_trip(codec: SEVC, tmp_path) -> None:
    directory = lvc_zoo.save_pretrained(codec, tmp_path / "sevc")
    loaded = lvc_zoo.load("sevc", weights=directory)
    assert type(loaded) is SEVC and loaded.config == codec.config
    frames = clip(2)
    assert torch.equal(loaded.estimate(frames).recon, codec.estimate(frames).recon)


def test_dropped_keys_are_the_unused_official_parameters_and_index_buffers(reference_dir) -> None:
    spec = json.loads((reference_dir / "sevc" / "spec_p.json").read_text())["tensors"]
    assert set(DROPPED_INTER) <= set(spec)
    dropped_float = [k for k in DROPPED_INTER if spec[k]["dtype"] == "float32"]
    numel = lambda key: math.prod(spec[key]["shape"])  # noqa: E731
    assert sum(numel(k) for k in dropped_float if k.startswith("latent_ILP.fusion.conv_first")) == 221_440
    assert sum(numel(k) for k in dropped_float if k.startswith("EL_codec.")) == 704 == sum(
        numel("EL_codec." + k) for k in DROPPED_ENHANCEMENT
    )
    buffers = [k for k in DROPPED_INTER if k.endswith("relative_position_index")]
    assert len(buffers) == 16 and len(dropped_float) + len(buffers) == len(DROPPED_INTER)
    assert [k for k, e in spec.items() if e["dtype"] != "float32"] == sorted(buffers, key=list(spec).index)


def test_full_width_parameter_counts_equal_official_minus_the_unused_ones() -> None:
    with torch.device("meta"):
        codec = SEVC()
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    inter = codec.inter
    assert count(codec.intra) == 30_998_187
    assert count(inter) == 45_080_186 - 221_440 - 704  # official DMC minus the dropped unused parameters
    assert count(inter.base) == 19_778_563  # exactly DCVC-DC's P-frame model
    assert count(inter.inter_layer_prediction) == 7_200_924
    assert count(inter.latent_inter_layer_prediction) == 4_461_824 - 221_440
    assert count(inter.enhancement) == 13_630_475 - 704
    assert count(inter.feature_adaptor_intra) + count(inter.feature_adaptor) == 8_400

