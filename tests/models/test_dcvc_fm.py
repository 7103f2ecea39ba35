"""DCVC-FM at small widths: rate, colour, the 32-frame feature refresh, real bitstreams, conversion, config checks."""

from __future__ import annotations

import pytest
import torch

import lvc_zoo
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.data.colour import yuv444_to_rgb
from lvc_zoo.errors import ConfigError, ConversionError, QualityError
from lvc_zoo.layers import DCVCInterCodec, FEATURE_REFRESH_INTERVAL
from lvc_zoo.models import DCVCFM, DCVCFMConfig
from lvc_zoo.models.dcvc_fm import FM_FEATURE_ADAPTOR_CYCLE, to_model_colour

SIZE = (32, 48)
STREAM_SIZE = (64, 64)  # the smallest frame a stream holds
REFRESH_SIZE = (16, 16)  # 34 frames


@pytest.fixture(scope="module")
def codec() -> DCVCFM:
    torch.manual_seed(0)
    model = DCVCFM(DCVCFMConfig.small()).eval()
    with torch.no_grad():  # distinct rate ends, so q_index changes the P-frame rate too
        for name in ("mv_y_q_enc", "y_q_enc"):
            getattr(model.inter, name).copy_(torch.tensor([0.5, 2.0]).view(2, 1, 1, 1))
        for name in ("mv_y_q_dec", "y_q_dec"):
            getattr(model.inter, name).copy_(torch.tensor([2.0, 0.5]).view(2, 1, 1, 1))
    return model


def clip(frames: int, size: tuple[int, int] = SIZE) -> torch.Tensor:
    """A smooth pattern moving by (1, 2) px per frame (wrapping), (T, 3, H, W) in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, size[0] // 8, size[1] // 8, generator=g)
    image = torch.nn.functional.interpolate(base, size=size, mode="bilinear", align_corners=False)
    return torch.cat([torch.roll(image, (t, 2 * t), dims=(-2, -1)) for t in range(frames)])


def test_rate_is_q_index_0_to_63_validated_at_the_official_four_points() -> None:
    rate = DCVCFM.rate_for(DCVCFMConfig())
    assert rate.kind == "q_index" and rate.qualities == tuple(range(64))
    assert rate.validation == (0, 21, 42, 63)
    assert rate.lambdas[0] < rate.lambdas[-1]
    assert "dcvc_fm" in lvc_zoo.list_models()


def test_q_index_changes_the_rate_and_bad_qualities_raise(codec: DCVCFM) -> None:
    frames = clip(2)
    low, high = codec.estimate(frames, quality=0), codec.estimate(frames, quality=63)
    assert low.bits[0] != high.bits[0] and low.bits[1] < high.bits[1]
    with pytest.raises(QualityError, match="0"):
        codec.estimate(frames, quality=64)


def test_the_networks_code_bt709_ycbcr_and_the_api_returns_rgb(codec: DCVCFM) -> None:
    frames = clip(1)
    ycbcr = to_model_colour(frames)
    assert torch.allclose(ycbcr[:, 0], 0.2126 * frames[:, 0] + 0.7152 * frames[:, 1] + 0.0722 * frames[:, 2], atol=1e-6)
    seen = []
    hook = codec.intra.enc.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        res = codec.estimate(frames, quality=10)
    finally:
        hook.remove()
    torch.testing.assert_close(seen[0], ycbcr)
    x_hat_ycbcr = codec.intra.code(ycbcr, SIZE, 10, Estimate())
    torch.testing.assert_close(res.recon, yuv444_to_rgb(x_hat_ycbcr))


def test_feature_adaptor_follows_the_official_index_map(codec: DCVCFM) -> None:
    chosen = []
    hooks = [a.register_forward_hook(lambda m, i, o, k=k: chosen.append(k)) for k, a in enumerate(codec.inter.feature_adaptor)]
    try:
        codec.estimate(clip(9), quality=0)
    finally:
        for hook in hooks:
            hook.remove()
    # frame 1 starts from the decoded frame; frames 2..8 use index_map[k % 8]
    assert chosen == [FM_FEATURE_ADAPTOR_CYCLE[k % 8] for k in range(2, 9)] == [0, 2, 0, 2, 0, 2, 0]


@pytest.mark.slow
def test_frame_33_refreshes_the_reference_feature(codec: DCVCFM) -> None:
    """At k % 32 == 1 the buffer's feature is dropped (as after an I frame); at k = 32 it is not."""
    frames = clip(34, REFRESH_SIZE)
    size = REFRESH_SIZE
    dpb = None
    buffers = []
    with torch.inference_mode():
        for k in range(33):
            coder = {"frame": Estimate()}
            _, dpb = codec.code_frame(frames[k : k + 1], "I" if k == 0 else "P", dpb, size, 5, coder, k)
            buffers.append(dpb)
        assert dpb.index == 32 and dpb.feature is not None

        def code(k: int, buffer, refresh: bool = True) -> tuple[torch.Tensor, float]:
            coder = Estimate()
            x = to_model_colour(frames[k : k + 1])
            step = codec.inter.code if refresh else lambda *a: DCVCInterCodec.code(codec.inter, *a)
            x_hat, _ = step(x, buffer, 5, coder)
            return x_hat, float(coder.total_bits())

        refreshed, refreshed_bits = code(33, dpb)
        explicit, explicit_bits = code(33, dpb.refreshed())
        kept, kept_bits = code(33, dpb, refresh=False)
        assert torch.equal(refreshed, explicit) and refreshed_bits == explicit_bits
        assert not torch.equal(refreshed, kept)
        # frame 32 (32 % 32 == 0) keeps its feature
        assert torch.equal(code(32, buffers[31])[0], code(32, buffers[31], refresh=False)[0])
    assert FEATURE_REFRESH_INTERVAL == 32


@pytest.mark.slow
def test_compress_decompress_is_exact(codec: DCVCFM) -> None:
    frames = clip(3, STREAM_SIZE)
    data = codec.compress(frames, quality=42)
    expected = codec.estimate(frames, quality=42)
    assert torch.equal(codec.decompress(data), expected.recon)


def test_convert_official_rejects_other_checkpoints() -> None:
    with pytest.raises(ConversionError, match="no mapping"):
        lvc_zoo.convert_official("dcvc_fm", intra={"not_a_key": torch.zeros(1)}, inter={})


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("flow_kernels", (7, 6), "odd"), ("ch_16x", 18, "multiple of 4"), ("align_groups", 5, "divisible")],
)
def test_config_rejects_structures_the_model_cannot_build(field: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DCVCFMConfig(**{field: value})
