"""DCVC-LCG (zoo design) at small widths: identity to DCVC-FM at initialisation, exact decoding,
the long-term memory through refreshes and I frames, the quality prior, FM initialisation, the CLI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

import lvc_zoo
from lvc_zoo.cli.main import main as lvc_zoo_main
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.data import VideoInfo, read_video, write_video
from lvc_zoo.hub import StoredWeights
from lvc_zoo.initialise import initialise
from lvc_zoo.models import DCVCFM, DCVCFMConfig, DCVCLCG, DCVCLCGConfig
from lvc_zoo.models.dcvc_lcg_modules import LCGDPB

LCG_MODULES = {"inter.long_term_memory", "inter.context_gathering", "inter.quality_embedding", "inter.mv_prior_film", "inter.y_prior_film"}


def clip(t: int = 4, size: int = 64) -> torch.Tensor:
    """A small panning clip (T, 3, size, size) in [0, 1]."""
    torch.manual_seed(1)
    base = torch.rand(1, 3, size + 8, size + 8 * t)
    return torch.cat([base[..., 4 : 4 + size, 3 * i : 3 * i + size] for i in range(t)])


def lcg_from(fm: DCVCFM, config: DCVCLCGConfig | None = None) -> tuple[DCVCLCG, object]:
    """A small DCVC-LCG initialised from `fm`'s weights, and the initialisation report."""
    torch.manual_seed(2)
    lcg = DCVCLCG(config or DCVCLCGConfig.small()).eval()
    return lcg, initialise(lcg, StoredWeights("dcvc_fm", fm.config, fm.state_dict(), None, Path("fm")))


def train_lcg_modules(lcg: DCVCLCG) -> DCVCLCG:
    """Move the zero-initialised LCG outputs off zero, as training would."""
    torch.manual_seed(3)
    inter = lcg.inter
    with torch.no_grad():
        for layer in (inter.context_gathering.out, inter.y_prior_film.mlp[-1], inter.mv_prior_film.mlp[-1]):
            nn.init.normal_(layer.weight, std=0.05)
        nn.init.normal_(inter.context_gathering.attention.null_key)
    return lcg


@pytest.fixture(scope="module")
def fm() -> DCVCFM:
    torch.manual_seed(0)
    return DCVCFM(DCVCFMConfig.small()).eval()


@pytest.mark.slow
def test_fm_weights_load_and_the_lcg_modules_are_reported_fresh(fm: DCVCFM) -> None:
    lcg, report = lcg_from(fm)
    assert not report.strict and set(report.fresh) == LCG_MODULES
    assert all(any(module in line for line in report.lines()) for module in LCG_MODULES)
    own = lcg.state_dict()
    assert all(torch.equal(own[key], value) for key, value in fm.state_dict().items())


@pytest.mark.slow
def test_at_initialisation_lcg_codes_exactly_as_fm_with_its_modules_running(fm: DCVCFM) -> None:
    lcg, _ = lcg_from(fm)
    calls: dict[str, int] = {}
    for name in ("long_term_memory", "context_gathering", "mv_prior_film", "y_prior_film"):
        module = getattr(lcg.inter, name)
        module.register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls.get(name, 0) + 1))
    frames = clip(4)
    with torch.inference_mode():
        ours, theirs = lcg.estimate(frames, quality=40), fm.estimate(frames, quality=40)
        our_frames, their_frames = list(lcg.encode_frames(frames, 40)), list(fm.encode_frames(frames, 40))
    assert calls == dict.fromkeys(calls, 6) and len(calls) == 4  # 3 P frames, twice: every new module ran
    assert torch.equal(ours.recon, theirs.recon) and ours.bits == theirs.bits
    # the quality prior costs no bits: the same chunks, byte for byte
    assert [f.coded for f in our_frames] == [f.coded for f in their_frames]


@pytest.mark.slow
def test_trained_lcg_differs_from_fm_and_decodes_exactly(fm: DCVCFM) -> None:
    lcg = train_lcg_modules(lcg_from(fm)[0])
    frames = clip(4)
    with torch.inference_mode():
        decoded = lcg.decompress(lcg.compress(frames, quality=20))
        recon = lcg.estimate(frames, 20).recon  # the encoder's reconstruction
        assert not torch.equal(recon, fm.estimate(frames, 20).recon)
    assert torch.equal(decoded, recon)


def _code_p_frame(lcg: DCVCLCG, dpb: LCGDPB) -> LCGDPB:
    with torch.inference_mode():
        return lcg.inter.code(torch.rand(1, 3, 64, 64), dpb, 10, Estimate())[1]


@pytest.mark.parametrize("mode", ["gated", "anchor"])
def test_the_memory_starts_after_an_intra_frame_and_a_refresh_resets_it_only_when_anchored(fm: DCVCFM, mode: str) -> None:
    lcg = train_lcg_modules(lcg_from(fm, replace(DCVCLCGConfig.small(), memory_mode=mode))[0])
    start = lcg.inter.start(torch.rand(1, 3, 64, 64), index=0)
    first = _code_p_frame(lcg, start)
    with torch.inference_mode():
        first_short = lcg.inter.reference_features(start)[2]  # from the I frame's reconstruction
        second_short = lcg.inter.reference_features(first)[2]
    assert type(first) is LCGDPB and first.lt_feature.shape == (1, 16, 16, 16)
    assert torch.equal(first.lt_feature, first_short)  # the memory starts as S of the first P frame
    second = _code_p_frame(lcg, first)
    with torch.inference_mode():
        renewed = lcg.inter.long_term_memory(first.lt_feature, second_short, rebuilt=False)  # anchored: kept
    assert torch.equal(second.lt_feature, renewed) and not torch.equal(second.lt_feature, second_short)
    at_refresh = replace(second, index=32)  # codes frame 33: 33 % 32 == 1, a DCVC-FM refresh
    refreshed = _code_p_frame(lcg, at_refresh)
    with torch.inference_mode():
        short = lcg.inter.reference_features(at_refresh.refreshed())[2]  # rebuilt from the frame
        expected = short if mode == "anchor" else lcg.inter.long_term_memory(second.lt_feature, short, rebuilt=True)
    assert torch.equal(refreshed.lt_feature, expected) and (mode == "anchor") == torch.equal(refreshed.lt_feature, short)
    assert lcg.inter.start(torch.rand(1, 3, 64, 64), index=40).lt_feature is None  # an I frame drops it


def test_the_quality_prior_changes_with_q_once_trained(fm: DCVCFM) -> None:
    lcg, _ = lcg_from(fm)
    params = torch.randn(1, 48, 4, 4)
    assert torch.equal(lcg.inter.modulate_prior(params, 0, "y"), params)
    train_lcg_modules(lcg)
    low, high = lcg.inter.modulate_prior(params, 0, "y"), lcg.inter.modulate_prior(params, 63, "y")
    assert not torch.allclose(low, high)
    assert lcg.inter.modulate_prior(params[:, :48], 5, "mv_y").shape == params.shape


@pytest.mark.slow
def test_lvc_zoo_encode_decode_round_trips(fm: DCVCFM, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = lvc_zoo.save_pretrained(train_lcg_modules(lcg_from(fm)[0]), tmp_path / "weights")
    source = write_video(tmp_path / "clip.y4m", clip(3))
    stream, decoded = tmp_path / "clip.lvc", tmp_path / "decoded.y4m"
    encode = ["encode", source, "-o", stream, "--model", "dcvc-lcg", "--quality", 30, "--weights", weights]
    assert lvc_zoo_main([str(a) for a in encode]) == 0
    assert lvc_zoo_main([str(a) for a in ("decode", stream, "-o", decoded, "--weights", weights)]) == 0
    capsys.readouterr()
    frames, info = read_video(source)
    expected = lvc_zoo.load("dcvc_lcg", weights=weights).estimate(frames, quality=30).recon
    reference = write_video(tmp_path / "reference.y4m", expected, VideoInfo.of(expected, fps=info.fps, colour=info.colour))
    assert decoded.read_bytes() == reference.read_bytes()
