"""DCVC-DC (`lvc_zoo.models.DCVCDC`): the estimation loop, its result, its checks, the DPB.

Small widths (`DCVCDCConfig.small()`) and tiny clips: these tests are about plumbing
(frame/index logic, padding, bit bookkeeping, errors). Parity with the official code is
checked against the reference goldens elsewhere; here only the parameter counts use the
full widths (on the meta device).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import lvc_zoo
from lvc_zoo.errors import InputError, QualityError
from lvc_zoo.layers import DCVCDPB, FEATURE_ADAPTOR_CYCLE, QScale
from lvc_zoo.models import DCVCDC, DCVCDCConfig, EstimateResult, VideoCodec

LADDER_ENC = (0.5, 0.7937, 1.2599, 2.0)
"""exp(linspace(log 0.5, log 2, 4)), the reference's ladder of q-scale anchors (decoder: reciprocals)."""


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


def build_small(seed: int = 0) -> DCVCDC:
    torch.manual_seed(seed)
    return DCVCDC(DCVCDCConfig.small()).eval()


def set_ladder(codec: DCVCDC) -> None:
    """Give every q-scale anchor table the reference's ladder (enc) and its reciprocals (dec)."""
    with torch.no_grad():
        for name, module in codec.named_modules():
            if isinstance(module, QScale):
                values = torch.tensor(LADDER_ENC if name.endswith("enc") else [1 / v for v in LADDER_ENC])
                module.scale.copy_(values.view(-1, 1, 1, 1))


@pytest.fixture(scope="module")
def codec() -> DCVCDC:
    return build_small()


@pytest.fixture(scope="module")
def ladder_codec() -> DCVCDC:
    codec = build_small()
    set_ladder(codec)
    return codec


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    return clip(4)


@pytest.fixture(scope="module")
def result(codec: DCVCDC, frames: torch.Tensor) -> EstimateResult:
    """Estimate of a 4-frame 64x64 clip, intra period -1 (IPPP)."""
    return codec.estimate(frames)


class AdaptorRecorder:
    """Forward hooks on the P-frame feature adaptors; `calls` lists "intra" or the adaptor index, in order."""

    def __init__(self, codec: DCVCDC) -> None:
        self.calls: list[str | int] = []
        inter = codec.inter
        self.handles = [inter.feature_adaptor_intra.register_forward_hook(lambda *_: self.calls.append("intra"))]
        for i, adaptor in enumerate(inter.feature_adaptor):
            self.handles.append(adaptor.register_forward_hook(lambda *_, i=i: self.calls.append(i)))

    def __enter__(self) -> AdaptorRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.remove()


# ------------------------------------------------------------------------------- the result
def test_estimate_returns_estimate_result_readable_by_key(result: EstimateResult) -> None:
    assert type(result) is EstimateResult
    for field in ("recon", "bits", "components", "psnr", "frame_types"):
        assert result[field] is getattr(result, field)


@pytest.mark.parametrize("key", ["nope", "bpp", "Bits", "__class__"])
def test_estimate_result_unknown_key_raises_key_error(result: EstimateResult, key: str) -> None:
    with pytest.raises(KeyError):
        result[key]


def test_estimate_result_is_frozen(result: EstimateResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.bits = []  # type: ignore[misc]


def test_estimate_result_fields_have_one_entry_per_frame(result: EstimateResult, frames: torch.Tensor) -> None:
    t = frames.shape[0]
    assert len(result.bits) == len(result.psnr) == len(result.frame_types) == t
    assert all(type(b) is float for b in result.bits)
    assert all(type(p) is float for p in result.psnr)
    for tag, values in result.components.items():
        assert len(values) == t, tag
        assert all(type(v) is float for v in values), tag


# ------------------------------------------------------------------------------- recon
def test_recon_shape_equals_input_and_lies_in_unit_range(result: EstimateResult, frames: torch.Tensor) -> None:
    assert result.recon.shape == frames.shape
    assert result.recon.dtype == torch.float32
    assert result.recon.min() >= 0 and result.recon.max() <= 1


@pytest.mark.parametrize("size", [(50, 70), (48, 80)], ids=["50x70", "48x80"])
def test_recon_shape_equals_input_for_sizes_not_multiple_of_16(codec: DCVCDC, size: tuple[int, int]) -> None:
    frames = clip(2, *size)
    res = codec.estimate(frames)
    assert res.recon.shape == frames.shape
    assert res.recon.min() >= 0 and res.recon.max() <= 1


def test_odd_size_is_replicate_padded_to_16_and_cropped_back(codec: DCVCDC) -> None:
    frames = clip(2, 50, 70)
    padded = F.pad(frames, (0, 80 - 70, 0, 64 - 50), mode="replicate")
    res = codec.estimate(frames)
    res_padded = codec.estimate(padded)
    torch.testing.assert_close(res.recon, res_padded.recon[..., :50, :70], rtol=0, atol=0)
    assert res.bits == res_padded.bits


# ------------------------------------------------------------------------------- bits
def test_bits_equal_sum_of_components_per_frame(result: EstimateResult) -> None:
    for i, total in enumerate(result.bits):
        parts = sum(values[i] for values in result.components.values())
        assert total == pytest.approx(parts, rel=1e-5), f"frame {i}"


def test_components_y_and_z_are_positive_on_every_frame(result: EstimateResult) -> None:
    for tag in ("y", "z"):
        assert all(b > 0 for b in result.components[tag]), (tag, result.components[tag])


def test_components_are_exactly_y_z_mv_y_mv_z(result: EstimateResult) -> None:
    assert set(result.components) == {"y", "z", "mv_y", "mv_z"}


@pytest.mark.parametrize("intra_period", [-1, 2])
def test_motion_components_are_zero_on_i_frames_and_positive_on_p_frames(codec: DCVCDC, intra_period: int) -> None:
    res = codec.estimate(clip(4), intra_period=intra_period)
    for tag in ("mv_y", "mv_z"):
        for i, (kind, bits) in enumerate(zip(res.frame_types, res.components[tag])):
            if kind == "I":
                assert bits == 0.0, (tag, i)
            else:
                assert bits > 0, (tag, i)


# ------------------------------------------------------------------------------- frame types
def test_frame_types_intra_period_minus_one_is_ippp(result: EstimateResult) -> None:
    assert result.frame_types == ["I", "P", "P", "P"]


def test_frame_types_intra_period_two_is_ipip(codec: DCVCDC) -> None:
    assert codec.estimate(clip(4), intra_period=2).frame_types == ["I", "P", "I", "P"]


def test_default_intra_period_is_minus_one(codec: DCVCDC) -> None:
    frames = clip(3)
    assert codec.estimate(frames).bits == codec.estimate(frames, intra_period=-1).bits


# ------------------------------------------------------------------------------- psnr
def test_psnr_matches_mse_of_recon(result: EstimateResult, frames: torch.Tensor) -> None:
    for i, value in enumerate(result.psnr):
        mse = torch.mean((result.recon[i].double() - frames[i].double()) ** 2).item()
        assert value == pytest.approx(10 * math.log10(1 / mse), abs=1e-3), f"frame {i}"


# ------------------------------------------------------------------------------- quality
@pytest.mark.parametrize("quality", [-1, 4, 100])
def test_quality_out_of_range_raises_quality_error_naming_range(codec: DCVCDC, quality: int) -> None:
    with pytest.raises(QualityError, match=r"0\.\.3"):
        codec.estimate(clip(1), quality=quality)


@pytest.mark.parametrize("quality", [1.0, True, "1"], ids=["float", "bool", "str"])
def test_quality_not_an_int_raises_quality_error(codec: DCVCDC, quality: object) -> None:
    with pytest.raises(QualityError, match=r"0\.\.3"):
        codec.estimate(clip(1), quality=quality)  # type: ignore[arg-type]


def test_qualities_are_zero_to_three_and_default_is_highest(codec: DCVCDC) -> None:
    assert tuple(codec.qualities) == (0, 1, 2, 3)
    assert codec.quality == 3


def test_default_quality_is_codec_quality(ladder_codec: DCVCDC) -> None:
    frames = clip(2)
    try:
        ladder_codec.quality = 1
        default = ladder_codec.estimate(frames).bits
        assert default == ladder_codec.estimate(frames, quality=1).bits
        assert default != ladder_codec.estimate(frames, quality=3).bits
    finally:
        ladder_codec.quality = 3


def test_quality_changes_bits_when_q_scales_differ(ladder_codec: DCVCDC) -> None:
    frames = clip(2)
    low = ladder_codec.estimate(frames, quality=0)
    high = ladder_codec.estimate(frames, quality=3)
    for i in range(2):
        assert low.bits[i] != high.bits[i], f"frame {i}"
    assert not torch.equal(low.recon, high.recon)


# ------------------------------------------------------------------------------- input checks
BAD_FRAMES = {
    "3-d": lambda: torch.rand(3, 64, 64),
    "5-d": lambda: torch.rand(1, 1, 3, 64, 64),
    "1-channel": lambda: torch.rand(2, 1, 64, 64),
    "4-channel": lambda: torch.rand(2, 4, 64, 64),
    "uint8": lambda: torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8),
    "above-1": lambda: torch.rand(2, 3, 64, 64) + 1.0,
    "below-0": lambda: torch.rand(2, 3, 64, 64) - 1.0,
    "empty": lambda: torch.rand(0, 3, 64, 64),
    "numpy": lambda: torch.rand(2, 3, 64, 64).numpy(),
}


@pytest.mark.parametrize("make", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frames_raise_input_error(codec: DCVCDC, make) -> None:
    with pytest.raises(InputError):
        codec.estimate(make())


def test_nan_frames_raise_input_error(codec: DCVCDC) -> None:
    frames = clip(2, 32, 32)
    frames[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError):
        codec.estimate(frames)


# ------------------------------------------------------------------------------- feature adaptors
def test_feature_adaptor_cycle_is_official_index_map() -> None:
    assert FEATURE_ADAPTOR_CYCLE == (0, 1, 0, 2)


def test_feature_adaptor_follows_cycle_by_display_index(codec: DCVCDC) -> None:
    with AdaptorRecorder(codec) as recorder:
        res = codec.estimate(clip(6, 32, 32), intra_period=-1)
    assert res.frame_types == ["I", "P", "P", "P", "P", "P"]
    # one adaptor call per P frame, in display order 1..5
    assert recorder.calls[0] == "intra", "frame 1 builds its reference feature from the decoded I frame"
    assert recorder.calls[1:] == [FEATURE_ADAPTOR_CYCLE[i % 4] for i in range(2, 6)]


def test_feature_adaptor_intra_again_after_second_i_frame(codec: DCVCDC) -> None:
    with AdaptorRecorder(codec) as recorder:
        res = codec.estimate(clip(6, 32, 32), intra_period=4)
    assert res.frame_types == ["I", "P", "P", "P", "I", "P"]
    assert recorder.calls == ["intra", FEATURE_ADAPTOR_CYCLE[2], FEATURE_ADAPTOR_CYCLE[3], "intra"]


# ------------------------------------------------------------------------------- determinism
def test_estimate_is_deterministic(codec: DCVCDC) -> None:
    frames = clip(3)
    first, second = codec.estimate(frames), codec.estimate(frames)
    assert first.bits == second.bits
    assert first.components == second.components
    assert first.psnr == second.psnr
    assert torch.equal(first.recon, second.recon)


def test_estimate_does_not_modify_input(codec: DCVCDC) -> None:
    frames = clip(2)
    before = frames.clone()
    codec.estimate(frames)
    assert torch.equal(frames, before)


# ------------------------------------------------------------------------------- DPB
def test_dpb_is_frozen() -> None:
    dpb = DCVCDPB.after_intra(torch.zeros(1, 3, 16, 16), index=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        dpb.index = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        dpb.feature = torch.zeros(1, 48, 16, 16)  # type: ignore[misc]


def test_dpb_after_intra_holds_only_the_frame() -> None:
    frame = torch.zeros(1, 3, 16, 16)
    dpb = DCVCDPB.after_intra(frame, index=7)
    assert dpb.frame is frame and dpb.index == 7
    assert dpb.feature is None and dpb.mv_feature is None and dpb.y_hat is None and dpb.mv_y_hat is None


def test_dpb_advance_increments_index_and_replaces_given_fields() -> None:
    old_frame, new_frame, feature = torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16), torch.ones(1, 4, 16, 16)
    dpb = DCVCDPB.after_intra(old_frame, index=3)
    nxt = dpb.advance(frame=new_frame, feature=feature)
    assert nxt.index == 4
    assert nxt.frame is new_frame and nxt.feature is feature
    assert nxt.mv_feature is None and nxt.y_hat is None and nxt.mv_y_hat is None
    assert dpb.index == 3 and dpb.frame is old_frame and dpb.feature is None, "advance must not modify the old buffer"


# ------------------------------------------------------------------------------- the class and its keys
OFFICIAL_ONLY_NAMES = {
    "optic_flow", "moduleBasic", "bit_estimator_z", "bit_estimator_z_mv",
    "mv_hyper_prior_encoder", "mv_hyper_prior_decoder", "contextual_hyper_prior_encoder",
    "contextual_hyper_prior_decoder", "hyper_enc", "hyper_dec", "feature_adaptor_I",
    "context_fusion_net", "recon_generation_net",
    "mv_y_prior_fusion", "mv_y_prior_fusion_adaptor_0", "mv_y_prior_fusion_adaptor_1",
    "y_prior_fusion_adaptor_0", "y_prior_fusion_adaptor_1", "mv_y_spatial_prior",
    "q_basic_enc", "q_basic_dec", "q_scale_enc", "q_scale_dec",
    "mv_y_q_basic_enc", "mv_y_q_basic_dec", "mv_y_q_scale_enc", "mv_y_q_scale_dec",
    "y_q_basic_enc", "y_q_basic_dec", "y_q_scale_enc", "y_q_scale_dec",
}
"""Module names of the official DCVC-DC state_dicts that the zoo renames (see lvc_zoo.convert.dcvc_dc)."""


def test_state_dict_keys_contain_no_official_names(codec: DCVCDC) -> None:
    keys = list(codec.state_dict())
    assert keys and all(k.startswith(("intra.", "inter.")) for k in keys)
    offending = [k for k in keys if OFFICIAL_ONLY_NAMES & set(k.split("."))]
    offending += [k for k in keys if "spatial_prior_adaptor" in k]
    assert not offending, offending[:5]


def test_class_is_exactly_dcvcdc(codec: DCVCDC) -> None:
    assert type(codec) is DCVCDC
    assert issubclass(DCVCDC, VideoCodec)
    assert DCVCDC.model_name == "dcvc_dc"


def test_load_without_weights_returns_exactly_dcvcdc() -> None:
    with torch.device("meta"):
        codec = lvc_zoo.load("dcvc_dc", pretrained=False)
    assert type(codec) is DCVCDC
    assert codec.config == DCVCDCConfig()


def test_full_width_parameter_counts_equal_official() -> None:
    with torch.device("meta"):
        model = DCVCDC()
    assert sum(p.numel() for p in model.intra.parameters()) == 30_998_187  # official IntraNoAR
    assert sum(p.numel() for p in model.inter.parameters()) == 19_778_563  # official DMC
    persistent = set(model.state_dict())
    assert persistent == {name for name, _ in model.named_parameters()}, "derived tables must not be state_dict keys"
