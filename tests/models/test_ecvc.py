"""ECVC: starts as DCVC-DC, two references without extra motion bits, exact decoding (API and CLI), the buffer rules."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import skimage.data
import torch

import lvc_zoo
from lvc_zoo.cli.main import main
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.data import VideoInfo, pan_clip, read_video, write_video
from lvc_zoo.errors import ConfigError
from lvc_zoo.hub import StoredWeights
from lvc_zoo.initialise import initialise
from lvc_zoo.models import DCVCDC, ECVC, DCVCDCConfig, ECVCConfig
from lvc_zoo.models.ecvc import ECVCDPB
from lvc_zoo.registry import get_spec

SIZE = (64, 80)
NEW_MODULES = {
    "inter.contextual_encoder": (86, 102),
    "inter.contextual_decoder": (84, 100),
    "inter.recon_generation": (2, 206),
    "inter.t2_refine": (40, 40),
    "inter.t2_temporal_prior": (2, 2),
}
"""What a small ECVC initialised from DCVC-DC keeps fresh: (fresh tensors, all tensors) per module."""


def _clip(frames: int = 5, size: tuple[int, int] = SIZE) -> torch.Tensor:
    return pan_clip(skimage.data.astronaut(), frames, size, (3, 2))


def _randomise_zero_projections(codec: ECVC) -> ECVC:
    """Give every zero-initialised projection small random weights, so the new branches change what is coded."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in codec.named_parameters():
            if not parameter.any():
                parameter.copy_(0.02 * torch.randn(parameter.shape, generator=generator))
    return codec


@pytest.fixture(scope="module")
def pair() -> tuple[DCVCDC, ECVC]:
    """DCVC-DC (small, random) and ECVC initialised from its weights."""
    torch.manual_seed(0)
    dcvc_dc = DCVCDC(DCVCDCConfig.small()).eval()
    ecvc = ECVC(ECVCConfig.small()).eval()
    report = initialise(ecvc, StoredWeights("dcvc_dc", dcvc_dc.config, dcvc_dc.state_dict(), None, Path("dcvc_dc")))
    assert dict(report.fresh) == NEW_MODULES
    return dcvc_dc, ecvc


@pytest.fixture(scope="module")
def codec() -> ECVC:
    """A small ECVC whose new branches all contribute."""
    torch.manual_seed(2)
    return _randomise_zero_projections(ECVC(ECVCConfig.small())).eval()


@pytest.mark.slow
def test_initialised_from_dcvc_dc_it_codes_as_dcvc_dc_with_every_new_module_running(pair: tuple[DCVCDC, ECVC]) -> None:
    dcvc_dc, ecvc = pair
    ran: set[str] = set()
    new = [(name, module) for name, module in ecvc.named_modules() if any(name.startswith(m) for m in NEW_MODULES)]
    fresh_keys = set(ecvc.state_dict()) - set(dcvc_dc.state_dict())
    owners = [(name, module) for name, module in new if any(key.startswith(name + ".") for key in fresh_keys) and name]
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: ran.add(name)) for name, module in owners]
    clip = _clip(6)
    try:
        for quality in (0, 3):
            before, after = dcvc_dc.estimate(clip, quality), ecvc.estimate(clip, quality)
            torch.testing.assert_close(after.recon, before.recon, rtol=0, atol=1e-5)
            assert after.bits == pytest.approx(before.bits, rel=1e-5)
            assert set(after.components) == set(before.components) == {"y", "z", "mv_y", "mv_z"}
    finally:
        for hook in hooks:
            hook.remove()
    assert ran == {name for name, _ in owners}  # every module holding a new tensor ran
    assert {"inter.contextual_encoder.non_local2.attend_t2", "inter.contextual_decoder.non_local4.attend_t1"} <= ran


@pytest.mark.slow
def test_the_new_branches_are_wired_not_switched_off(pair: tuple[DCVCDC, ECVC]) -> None:
    """With the zero projections moved off zero, the same DCVC-DC weights code the clip differently."""
    dcvc_dc, ecvc = pair
    moved = _randomise_zero_projections(ECVC(ECVCConfig.small()))
    moved.load_state_dict({k: v for k, v in ecvc.state_dict().items() if v.any()}, strict=False)
    clip = _clip(4)
    before, after = dcvc_dc.estimate(clip, 2), moved.eval().estimate(clip, 2)
    assert torch.equal(after.recon[0], before.recon[0])  # the I frame is DCVC-DC's
    assert not torch.allclose(after.recon[1:], before.recon[1:], atol=1e-4)


@pytest.mark.slow
def test_only_the_t1_motion_is_coded(codec: ECVC) -> None:
    result = codec.estimate(_clip(4), 2)
    assert set(result.components) == {"y", "z", "mv_y", "mv_z"}  # no motion latent of t-2
    assert all(bits > 0 for bits in result.components["mv_y"][1:])


@pytest.mark.slow
def test_decompress_of_compress_is_exact_across_an_i_frame_reset(codec: ECVC) -> None:
    clip = _clip(5, (64, 72))
    data = codec.compress(clip, 1, intra_period=3)  # I P P I P: the second I frame empties both references
    expected = codec.estimate(clip, 1, intra_period=3)
    assert torch.equal(codec.decompress(data), expected.recon)


def test_buffer_holds_t2_features_and_t1_flow_duplicates_at_the_first_p_frame_and_resets_at_i(codec: ECVC) -> None:
    clip = _clip(5)
    padded = codec.padded_size(*clip.shape[-2:])
    coders = codec.shared_coders("P", Estimate(mode="round"))
    buffers = []
    with torch.inference_mode():
        dpb = None
        for index, frame_type in enumerate(["I", "P", "P", "I", "P"]):
            _, dpb = codec.code_frame(clip[index : index + 1], frame_type, dpb, padded, 1, coders, index)
            buffers.append(dpb)
    after_i, after_p1, after_p2, after_second_i, after_p4 = buffers
    for start in (after_i, after_second_i):
        assert type(start) is ECVCDPB and start.features_2 is None and start.mv_hat is None and start.feature is None
    h, w = padded
    assert [f.shape for f in after_p1.features_2] == [(1, 16, h, w), (1, 16, h // 2, w // 2), (1, 16, h // 4, w // 4)]
    assert after_p1.mv_hat.shape == (1, 2, h, w)
    with torch.inference_mode():  # the first P frame read the I frame's adapted features as its t-2 reference
        intra_features = codec.inter.reference_features(after_i)
        second_features = codec.inter.reference_features(after_p1)
    for kept, extracted in zip(after_p1.features_2, intra_features):
        torch.testing.assert_close(kept, extracted, rtol=0, atol=0)
    for kept, extracted in zip(after_p2.features_2, second_features):
        torch.testing.assert_close(kept, extracted, rtol=0, atol=0)
    assert after_p4.features_2 is not None and after_p4.index == 4


def test_first_p_frame_t2_input_is_the_t1_reference_and_zero_flows_leave_the_t2_features_unwarped(codec: ECVC) -> None:
    seen: list[tuple[torch.Tensor, ...]] = []
    hook = codec.inter.t2_refine.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    features = tuple(torch.rand(1, 16, 32 // s, 48 // s) for s in (1, 2, 4))
    guide = tuple(torch.rand_like(f) for f in features)
    dpb = ECVCDPB(frame=torch.rand(1, 3, 32, 48), features_2=features, mv_hat=torch.zeros(1, 2, 32, 48))
    try:
        with torch.inference_mode():
            codec.inter.t2_contexts(dpb, guide, torch.zeros(1, 2, 32, 48), guide)
            codec.inter.t2_contexts(ECVCDPB(frame=dpb.frame), features, torch.zeros(1, 2, 32, 48), guide)
    finally:
        hook.remove()
    for warped in seen:  # both: with zero flows, the warped t-2 features are the given ones
        for got, want in zip(warped, features):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_a_head_width_that_does_not_divide_the_widths_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"attention_head_channels \(6\) must divide ch_2x \(16\)"):
        ECVC(dataclasses.replace(ECVCConfig.small(), attention_head_channels=6))


def test_registry_list_and_readme_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert "ecvc" in lvc_zoo.list_models()
    spec = get_spec("ecvc")
    assert spec.builder is ECVC and spec.qualities == (0, 1, 2, 3) and spec.config == ECVCConfig()
    assert main(["list"]) == 0
    assert re.search(r"^ecvc\b", capsys.readouterr().out, re.MULTILINE)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"| `ecvc` | {spec.paper} | 0..3 | MIT |" in readme and "(model_cards/ecvc.md)" in readme


@pytest.mark.slow
def test_cli_encode_decode_round_trip(codec: ECVC, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = lvc_zoo.save_pretrained(codec, tmp_path / "weights", "ecvc")
    frames_in = _clip(4, (64, 64))
    source = write_video(tmp_path / "clip.y4m", frames_in, VideoInfo.of(frames_in, fps=25))
    stream = tmp_path / "clip.lvc"
    assert main(["encode", str(source), "-o", str(stream), "--model", "ecvc", "--quality", "2", "--weights", str(weights)]) == 0
    decoded = tmp_path / "decoded.y4m"
    assert main(["decode", str(stream), "-o", str(decoded), "--weights", str(weights)]) == 0
    assert "decoded 4 frames of 64x64" in capsys.readouterr().out
    frames, info = read_video(source)
    expected = codec.estimate(frames, 2).recon
    reference = write_video(tmp_path / "reference.y4m", expected, VideoInfo.of(expected, fps=25, colour=info.colour))
    assert decoded.read_bytes() == reference.read_bytes()
