"""The objective: lambda * D + R per frame, frame weights, rate terms per stage, MS-SSIM, fp32 entropy."""

from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure
from training_testing import clips, small_model

from lvc_zoo.coding.distributions import conditional_bits
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.errors import ConfigError, InputError
from lvc_zoo.coding.estimate import keep_intermediate
from lvc_zoo.layers.entropy import FactorizedBitEstimator
from lvc_zoo.models import DCVCDC, SEVC, DCVCDCConfig, VideoCodec
from lvc_zoo.models.dcvc_dc import DCVC_DC_LAMBDAS, DCVCDCInter
from lvc_zoo.models.intra import DCVCDCIntra
from lvc_zoo.rate import RateSpec
from lvc_zoo.training import LOSS_TERM, RateTags, Stage, TrainingRecipe, frame_terms, frame_weight, train_clip
from lvc_zoo.training.objective import counts_rate, distortion

TAGS = DCVCDC.rate_tags
"""A single-layer model's tags: motion "mv_*"."""
LAYERED = SEVC.rate_tags
"""A model with a base layer "bl_*" (SEVC's)."""


def test_frame_weights_cycle_over_p_frames() -> None:
    weights = [0.5, 1.2, 0.5, 0.9]
    assert [frame_weight(weights, i) for i in range(10)] == [1.0, 0.5, 1.2, 0.5, 0.9, 0.5, 1.2, 0.5, 0.9, 0.5]


@pytest.mark.parametrize(
    ("loss", "counted"),
    [
        ("motion", {"mv_y", "mv_z"}),
        ("compensation", {"mv_y", "mv_z"}),
        ("flow", {"mv_y", "mv_z"}),
        ("reconstruction", set()),
        ("contextual", {"y", "z"}),
        ("all", {"y", "z", "mv_y", "mv_z"}),
        ("intra", {"y", "z", "mv_y", "mv_z"}),
        ("base", set()),
    ],
)
def test_rate_terms_per_loss(loss: str, counted: set[str]) -> None:
    assert {tag for tag in ("y", "z", "mv_y", "mv_z") if counts_rate(loss, tag, TAGS)} == counted


LAYERED_TAGS = ("bl_mv_y", "bl_mv_z", "bl_y", "bl_z", "el_y", "i_y", "i_z")
"""SEVC's rate tags: base layer "bl_*", enhancement layer "el_y", I frames "i_*"."""


@pytest.mark.parametrize(
    ("loss", "counted"),
    [
        ("motion", {"bl_mv_y", "bl_mv_z"}),
        ("base", {"bl_mv_y", "bl_mv_z", "bl_y", "bl_z"}),
        ("contextual", {"bl_y", "bl_z", "el_y", "i_y", "i_z"}),
        ("all", set(LAYERED_TAGS)),
        ("reconstruction", set()),
    ],
)
def test_rate_terms_of_a_layered_codec(loss: str, counted: set[str]) -> None:
    assert {tag for tag in LAYERED_TAGS if counts_rate(loss, tag, LAYERED)} == counted


def test_rate_tags_are_the_models_to_declare() -> None:
    assert (TAGS, LAYERED) == (RateTags("mv_"), RateTags("mv_", "bl_"))
    other = RateTags(motion="m_", layer="lo_")  # a model naming its latents otherwise
    assert [tag for tag in ("m_y", "lo_m_y", "lo_y", "mv_y", "y") if counts_rate("motion", tag, other)] == ["m_y", "lo_m_y"]
    assert [tag for tag in ("m_y", "lo_m_y", "lo_y", "mv_y", "y") if counts_rate("base", tag, other)] == ["lo_m_y", "lo_y"]


def test_frame_terms_on_a_toy_batch() -> None:
    x = torch.full((2, 3, 4, 4), 0.5)
    x_hat = x + 0.1
    warped = x - 0.2
    bits = {"y": torch.tensor(64.0), "z": torch.tensor(16.0), "mv_y": torch.tensor(32.0)}
    pixels = 2 * 4 * 4
    terms = frame_terms("contextual", bits, x_hat, x, lmbda=100.0, weight=1.2, kind="mse", tags=TAGS)
    assert terms.loss.item() == pytest.approx(1.2 * 100.0 * 0.01 + (64 + 16) / pixels)
    assert terms.bpp.item() == pytest.approx((64 + 16 + 32) / pixels)
    assert terms.mse.item() == pytest.approx(0.01)
    motion = frame_terms("motion", bits, x_hat, x, lmbda=100.0, weight=1.2, kind="mse", tags=TAGS, warped=warped)
    assert motion.loss.item() == pytest.approx(1.2 * 100.0 * 0.04 + 32 / pixels)
    decoded = torch.zeros(2, 2, 4, 4, requires_grad=True)
    estimate = torch.full((2, 2, 4, 4), 3.0, requires_grad=True)
    flow = frame_terms("flow", bits, x_hat, x, 100.0, 1.2, "mse", tags=TAGS, flows=(decoded, estimate), flow_weight=0.01)
    assert flow.loss.item() == pytest.approx(1.2 * 100.0 * 0.01 * 9.0 + 32 / pixels)
    flow.loss.backward()
    assert decoded.grad.abs().sum() > 0 and estimate.grad is None  # the estimate is a target
    own = torch.tensor(0.25)  # a "compensation" stage's distortion: the model's weighted loss terms
    compensation = frame_terms("compensation", bits, x_hat, x, 100.0, 1.2, "mse", tags=TAGS, model_distortion=own)
    assert compensation.loss.item() == pytest.approx(1.2 * 100.0 * 0.25 + 32 / pixels)
    with pytest.raises(ConfigError, match="loss_terms"):
        Stage("warm-up", 1, "compensation")


def test_frame_terms_of_a_base_layer_on_a_toy_batch() -> None:
    """Base-layer terms: D at the base resolution, R_BL per base pixel; alpha adds alpha * D_BL inside lambda * w."""
    x = torch.full((2, 3, 8, 8), 0.5)
    x_hat = x + 0.1                              # D = 0.01
    base_input = torch.full((2, 3, 2, 2), 0.25)
    base_recon = base_input + 0.3                # D_BL = 0.09
    warped = base_input - 0.2                    # D(warped, base input) = 0.04
    bits = {"bl_mv_y": torch.tensor(4.0), "bl_y": torch.tensor(12.0), "el_y": torch.tensor(64.0)}
    full, low = 2 * 8 * 8, 2 * 2 * 2
    layers = dict(base_recon=base_recon, base_input=base_input, tags=LAYERED)
    base = frame_terms("base", bits, x_hat, x, 50.0, 0.5, "mse", **layers)
    assert base.loss.item() == pytest.approx(0.5 * 50.0 * 0.09 + (4 + 12) / low)
    motion = frame_terms("motion", bits, x_hat, x, 50.0, 0.5, "mse", tags=LAYERED, warped=warped, base_input=base_input)
    assert motion.loss.item() == pytest.approx(0.5 * 50.0 * 0.04 + 4 / low)
    joint = frame_terms("all", bits, x_hat, x, 50.0, 0.5, "mse", base_weight=0.05, **layers)
    assert joint.loss.item() == pytest.approx(0.5 * 50.0 * (0.01 + 0.05 * 0.09) + 80 / full)
    plain = frame_terms("all", bits, x_hat, x, 50.0, 0.5, "mse", base_weight=0.0, **layers)
    assert plain.loss.item() == pytest.approx(0.5 * 50.0 * 0.01 + 80 / full)
    assert all(t.bpp.item() == pytest.approx(80 / full) for t in (base, motion, joint, plain))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage_weights", "weights"),
    [
        (None, [0.5, 1.2, 0.5, 0.9, 0.5]),  # the recipe's four weights cycle over frames 1..5
        ([1.0, 2.0], [1.0, 2.0, 1.0, 2.0, 1.0]),  # a stage's own weights replace them
    ],
)
def test_clip_loss_equals_hand_computed_rd_cost(stage_weights: list[float] | None, weights: list[float]) -> None:
    """The loss handed to the optimizer step is mean over P frames of w * lambda * MSE + bpp.

    "ste" quantization rounds in the forward pass, so `estimate` (which rounds) gives the
    same bits and reconstructions to compute it by hand.
    """
    stage = Stage("all", 10, "all", frames=6, frame_weights=stage_weights)
    model = small_model(stage, quantization="ste", frame_weights=[0.5, 1.2, 0.5, 0.9])
    frames = clips(1, 6)
    losses: list[torch.Tensor] = []
    stats = train_clip(model, frames, 2, 380.0, model.recipe.stages[0], model.recipe, losses.append)
    reference = model.estimate(frames[0], quality=2)
    pixels = 64 * 64
    expected = [
        w * 380.0 * torch.mean((reference.recon[i] - frames[0, i]) ** 2).item() + reference.bits[i] / pixels
        for i, w in zip(range(1, 6), weights)
    ]
    assert len(losses) == 1 and stats.steps == 1
    assert losses[0].item() == pytest.approx(sum(expected) / 5, rel=1e-4)
    assert stats.bpp.item() == pytest.approx(sum(reference.bits) / 6 / pixels, rel=1e-4)


def test_reconstruction_stage_has_no_rate_and_motion_uses_the_warped_reference() -> None:
    model = small_model(Stage("r", 10, "reconstruction"), quantization="ste")
    frames = clips(1, 2)
    reference = model.estimate(frames[0], quality=1)
    losses: list[torch.Tensor] = []
    train_clip(model, frames, 1, 170.0, model.recipe.stages[0], model.recipe, losses.append)
    mse = torch.mean((reference.recon[1] - frames[0, 1]) ** 2).item()
    assert losses[0].item() == pytest.approx(0.5 * 170.0 * mse, rel=1e-4)

    motion: list[torch.Tensor] = []
    train_clip(model, frames, 1, 170.0, Stage("m", 10, "motion"), model.recipe, motion.append)
    mv_bpp = (reference.components["mv_y"][1] + reference.components["mv_z"][1]) / (64 * 64)
    warped_mse = (motion[0].item() - mv_bpp) / (0.5 * 170.0)
    assert warped_mse > 0
    assert warped_mse != pytest.approx(mse, rel=1e-3)  # D of the warped reference, not of x_hat


def test_flow_loss_compares_the_decoded_flow_with_the_estimate() -> None:
    model = small_model(Stage("f", 10, "flow", ["inter.mv_*"], flow_weight=0.5), quantization="ste")
    frames = clips(1, 2)
    kept = Estimate(mode="ste", keep=("decoded_flow", "estimated_flow"))
    with torch.no_grad():
        _, dpb = model.code_frame(frames[:, 0], "I", None, (64, 64), 1, model.shared_coders("I", Estimate(mode="ste")), 0)
        model.inter.code(frames[:, 1], dpb, 1, kept)
    flow_mse = torch.mean((kept.kept["decoded_flow"] - kept.kept["estimated_flow"]) ** 2).item()
    assert flow_mse > 0
    reference = model.estimate(frames[0], quality=1)
    losses: list[torch.Tensor] = []
    train_clip(model, frames, 1, 170.0, model.recipe.stages[0], model.recipe, losses.append)
    mv_bpp = (reference.components["mv_y"][1] + reference.components["mv_z"][1]) / (64 * 64)
    assert losses[0].item() == pytest.approx(0.5 * 170.0 * 0.5 * flow_mse + mv_bpp, rel=1e-4)


def test_ms_ssim_distortion_at_192() -> None:
    x = clips(2, 2, size=192)[:, 0]
    x_hat = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    expected = 1 - multiscale_structural_similarity_index_measure(x_hat, x, data_range=1.0)
    assert distortion(x_hat, x, "ms-ssim").item() == pytest.approx(expected.item())
    assert 0 < distortion(x_hat, x, "ms-ssim").item() < 1
    with pytest.raises(InputError, match="at least 176"):
        distortion(x_hat[..., :64, :64], x[..., :64, :64], "ms-ssim")


def test_ms_ssim_training_clip_at_192() -> None:
    model = small_model(Stage("all", 10, "all"), distortion="ms-ssim")
    losses: list[torch.Tensor] = []
    stats = train_clip(model, clips(1, 2, size=192), 0, 8.0, model.recipe.stages[0], model.recipe, losses.append)
    assert torch.isfinite(losses[0]) and losses[0].requires_grad
    assert math.isfinite(stats.psnr.item())


@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_conditional_bits_are_float32_under_autocast(distribution: str) -> None:
    g = torch.Generator().manual_seed(0)
    symbols = torch.randint(-20, 20, (2, 8, 16, 16), generator=g).to(torch.bfloat16)
    scales = (torch.rand(2, 8, 16, 16, generator=g) * 10).to(torch.bfloat16)
    expected = conditional_bits(symbols.float(), scales.float(), distribution)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bits = conditional_bits(symbols, scales, distribution)
    assert bits.dtype == torch.float32
    assert torch.equal(bits, expected)


def test_factorized_bits_are_float32_under_autocast() -> None:
    estimator = FactorizedBitEstimator(8)
    z_hat = torch.randint(-5, 5, (2, 8, 4, 4)).to(torch.bfloat16)
    expected = estimator.bits(z_hat.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bits = estimator.bits(z_hat)
    assert bits.dtype == torch.float32
    assert torch.equal(bits, expected)


def test_model_bits_are_float32_under_autocast() -> None:
    model = small_model(Stage("all", 10, "all"))
    frames = clips(1, 2)[0]
    coder = Estimate("noise")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x_hat = model.intra.code(frames[:1], (64, 64), 0, Estimate("noise"))
        model.inter.code(frames[1:], model.inter.start(x_hat, 0), 0, coder)
    assert set(coder.bits) == {"y", "z", "mv_y", "mv_z"}
    assert all(bits.dtype == torch.float32 for bits in coder.bits.values())


def test_flow_weight_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="flow_weight"):
        Stage("f", 10, "flow", flow_weight=0.0)


def test_motion_loss_needs_the_warped_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    model = small_model(Stage("m", 10, "motion"))
    monkeypatch.setattr("lvc_zoo.layers.inter.keep_intermediate", lambda coder, name, make: None)
    with pytest.raises(ConfigError, match="warped_frame"):
        train_clip(model, clips(1, 2), 0, 85.0, model.recipe.stages[0], model.recipe, lambda loss: None)


class _BrightnessInter(DCVCDCInter):
    """A P-frame network that hands over one loss term of its own: the mean of its reconstruction."""

    def code(self, x, dpb, quality, coder):  # type: ignore[no-untyped-def]
        x_hat, after = super().code(x, dpb, quality, coder)
        keep_intermediate(coder, LOSS_TERM + "brightness", lambda: x_hat.mean())
        return x_hat, after


class _BrightnessCodec(VideoCodec):
    """A test-only model whose P frames contribute the loss term "brightness"."""

    def __init__(self, recipe: TrainingRecipe) -> None:
        torch.manual_seed(0)
        config = DCVCDCConfig.small()
        rate = RateSpec.anchors(config.anchors, DCVC_DC_LAMBDAS)
        super().__init__(DCVCDCIntra(config), _BrightnessInter(config), rate, config=config, recipe=recipe)


def test_stage_loss_terms_add_the_weighted_terms_a_model_hands_over() -> None:
    """Each P frame's loss gains weight * term; the clip's loss is their mean, so it gains weight * mean term."""
    model = _BrightnessCodec(TrainingRecipe(quantization="ste"))
    frames = clips(1, 3)
    plain: list[torch.Tensor] = []
    weighted: list[torch.Tensor] = []
    train_clip(model, frames, 2, 380.0, Stage("all", 10, "all", frames=3), model.recipe, plain.append)
    stage = Stage("all", 10, "all", frames=3, loss_terms={"brightness": 2.5})
    train_clip(model, frames, 2, 380.0, stage, model.recipe, weighted.append)
    recon = model.estimate(frames[0], quality=2).recon
    term = (recon[1].mean().item() + recon[2].mean().item()) / 2
    assert weighted[0].item() == pytest.approx(plain[0].item() + 2.5 * term, rel=1e-5)


@pytest.mark.slow
def test_a_loss_term_the_model_does_not_hand_over_is_a_config_error() -> None:
    model = small_model(Stage("all", 10, "all"))
    stage = Stage("extra", 10, "all", loss_terms={"rate_compensation": 1.0})
    with pytest.raises(ConfigError, match="no loss term 'rate_compensation'.*remove it from the stage's loss_terms"):
        train_clip(model, clips(1, 2), 0, 85.0, stage, model.recipe, lambda loss: None)
