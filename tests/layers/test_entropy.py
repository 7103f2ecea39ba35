"""Tests of lvc_zoo.layers.entropy: factorized CDF, quadtree prior, hyperprior, rate modules."""

from __future__ import annotations


import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc_zoo.coding.coders import Decode, Encode
from lvc_zoo.coding.distributions import conditional_bits
from lvc_zoo.coding.entropy_coder import ChunkReader, ChunkWriter
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.errors import ConfigError
from lvc_zoo.layers.blocks import DepthConvBlock
from lvc_zoo.layers.blocks import pad_to_multiple
from lvc_zoo.layers.entropy import (
    QUADTREE_STEPS,
    FactorizedBitEstimator,
    Hyperprior,
    QScale,
    QuadtreePrior,
    ReferencePriorFusion,
    hyper_transforms,
    phase_mask,
    quadtree_net,
)

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- FactorizedBitEstimator


def _randomised_estimator(channels: int = 3) -> FactorizedBitEstimator:
    est = FactorizedBitEstimator(channels)
    with torch.no_grad():
        for name, p in est.named_parameters():
            p.normal_(0.0, 2.0 if name.endswith(".a") else 1.0)
    return est


def test_factorized_cdf_is_monotone_per_channel_and_in_open_unit_interval():
    est = _randomised_estimator(3).double()
    x = torch.linspace(-12.0, 12.0, 481, dtype=torch.float64).view(1, 1, 1, -1).expand(1, 3, 1, -1)
    cdf = est.cdf(x)
    assert ((cdf > 0) & (cdf < 1)).all()
    assert (cdf[..., 1:] > cdf[..., :-1]).all()
    # channels have their own distributions
    assert not torch.allclose(cdf[0, 0], cdf[0, 1])


def test_factorized_cdf_matches_naive_four_layer_formula():
    est = _randomised_estimator(3)
    x = torch.randn(2, 3, 4, 5) * 3
    t = x
    for i, layer in enumerate((est.f1, est.f2, est.f3, est.f4)):
        t = t * F.softplus(layer.h) + layer.b
        if i < 3:
            t = t + torch.tanh(t) * torch.tanh(layer.a)
    torch.testing.assert_close(est.cdf(x), torch.sigmoid(t))
    assert est.f4.a is None


def test_factorized_bits_non_negative_and_match_cdf_difference():
    est = _randomised_estimator(3)
    z = torch.randint(-8, 9, (2, 3, 4, 5)).float()
    bits = est.bits(z)
    assert (bits >= 0).all()
    probs = est.cdf(z + 0.5) - est.cdf(z - 0.5)
    torch.testing.assert_close(bits, torch.clamp_min(-torch.log2(probs + 1e-5), 0))


def test_factorized_gradients(assert_gradients_reach_every_parameter):
    est = FactorizedBitEstimator(3)
    z = torch.randint(-3, 4, (2, 3, 4, 4)).float()
    assert_gradients_reach_every_parameter(est, est.bits(z).sum())


# --------------------------------------------------------------------------- phase_mask


def test_quadtree_steps_are_the_dcvc_dc_order():
    assert QUADTREE_STEPS == ((0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 0, 3, 2))


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7), (1, 3)])
def test_phase_mask_matches_naive_layout(h, w):
    channels = 8
    for phases in QUADTREE_STEPS:
        mask = phase_mask(phases, channels, h, w, torch.float32, CPU)
        assert mask.shape == (1, channels, h, w) and mask.dtype == torch.float32
        expected = torch.zeros(1, channels, h, w)
        for c in range(channels):
            for r in range(h):
                for col in range(w):
                    expected[0, c, r, col] = float((r % 2) * 2 + (col % 2) == phases[c // (channels // 4)])
        assert torch.equal(mask, expected)


@pytest.mark.parametrize(("h", "w"), [(4, 6), (8, 2)])
def test_phase_mask_each_step_covers_a_quarter(h, w):
    for phases in QUADTREE_STEPS:
        mask = phase_mask(phases, 8, h, w, torch.float32, CPU)
        assert mask.sum().item() == 8 * h * w / 4
        for quarter in range(4):  # every channel quarter also gets a quarter of its positions
            assert mask[:, 2 * quarter : 2 * quarter + 2].sum().item() == 2 * h * w / 4


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7), (3, 4), (1, 1)])
def test_phase_mask_steps_cover_every_element_exactly_once(h, w):
    total = sum(phase_mask(phases, 8, h, w, torch.float32, CPU) for phases in QUADTREE_STEPS)
    assert torch.equal(total, torch.ones(1, 8, h, w))


# --------------------------------------------------------------------------- QuadtreePrior


class ZeroNet(nn.Module):
    """A prior network whose scales and means are all 0 (scale clamps to 1e-5)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0], 2 * self.channels, *x.shape[-2:])


class RecordingCoder(Estimate):
    """Estimate that also records what each `code_conditional` call received."""

    def __init__(self, mode="round") -> None:
        super().__init__(mode)
        self.calls: list[dict] = []

    def code_conditional(self, residual, scales, mask, distribution, tag):
        self.calls.append(dict(residual=residual, scales=scales, mask=mask, distribution=distribution, tag=tag))
        return super().code_conditional(residual, scales, mask, distribution, tag)


def _params(b: int, c: int, h: int, w: int) -> Tensor:
    quant_step = torch.empty(b, c, h, w).uniform_(0.2, 2.0)  # some below the 0.5 clamp
    scales = torch.empty(b, c, h, w).uniform_(0.1, 4.0)
    means = torch.randn(b, c, h, w) * 2
    return torch.cat((quant_step, scales, means), dim=1)


def _step_index(c: int, h: int, w: int) -> Tensor:
    """(C, H, W) index of the step that codes each element, by explicit loops over the schedule."""
    index = torch.full((c, h, w), -1, dtype=torch.long)
    for ch in range(c):
        for r in range(h):
            for col in range(w):
                phase = (r % 2) * 2 + col % 2
                steps = [k for k, phases in enumerate(QUADTREE_STEPS) if phases[ch // (c // 4)] == phase]
                assert len(steps) == 1
                index[ch, r, col] = steps[0]
    return index


def _small_prior(c: int = 8, distribution: str = "laplace") -> QuadtreePrior:
    return QuadtreePrior(c, nn.Conv2d(3 * c, 2 * c, 1), distribution)


def test_quadtree_prior_rejects_channels_not_multiple_of_4():
    with pytest.raises(ConfigError):
        QuadtreePrior(6, ZeroNet(6), "laplace")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(distribution="cauchy"),
        dict(rate_mode="multiply"),
        dict(steps=((0, 1, 2, 3), (0, 1, 2, 3), (2, 3, 0, 1), (1, 0, 3, 2))),  # quarter 0 at phase 0 twice
        dict(steps=QUADTREE_STEPS[:3]),
        dict(adaptors=[nn.Identity(), nn.Identity()]),
    ],
)
def test_quadtree_prior_rejects_what_does_not_fit_with_config_error(kwargs):
    args = dict(channels=8, net=ZeroNet(8), distribution="laplace") | kwargs
    with pytest.raises(ConfigError):
        QuadtreePrior(**args)


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7)])
def test_quadtree_prior_shape_and_masks_partition_the_latent(h, w):
    prior = _small_prior()
    coder = RecordingCoder()
    y = torch.randn(2, 8, h, w) * 3
    y_hat = prior.code(y, _params(2, 8, h, w), coder, tag="y")
    assert y_hat.shape == (2, 8, h, w)
    assert len(coder.calls) == 4
    masks = [call["mask"] for call in coder.calls]
    for k, mask in enumerate(masks):
        assert torch.equal(mask, phase_mask(QUADTREE_STEPS[k], 8, h, w, torch.float32, CPU))
    assert torch.equal(sum(masks), torch.ones(1, 8, h, w))
    assert all(call["tag"] == "y" and call["distribution"] == "laplace" for call in coder.calls)


@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_quadtree_prior_with_zero_net_matches_naive_recomputation(distribution):
    b, c, h, w = 2, 8, 5, 6
    prior = QuadtreePrior(c, ZeroNet(c), distribution)
    params = _params(b, c, h, w)
    y = torch.randn(b, c, h, w) * 4
    coder = Estimate("round")
    y_hat = prior.code(y, params, coder, tag="y")

    quant_step, scales, means = params[:, :c], params[:, c : 2 * c], params[:, 2 * c :]
    q = quant_step.clamp_min(0.5)
    first = (_step_index(c, h, w) == 0).expand(b, c, h, w)
    # step 1 uses the common parameters; steps 2-4 get mean 0 and scale 0 (-> 1e-5) from the zero net
    step_means = torch.where(first, means, torch.zeros_like(means))
    step_scales = torch.where(first, scales, torch.zeros_like(scales))
    symbols = torch.round(y / q - step_means)
    torch.testing.assert_close(y_hat, (symbols + step_means) * q)
    expected_bits = conditional_bits(symbols, step_scales, distribution).sum()
    torch.testing.assert_close(coder.bits["y"], expected_bits, rtol=1e-5, atol=1e-3)
    assert set(coder.bits) == {"y"}


def test_quadtree_prior_step_one_positions_use_common_params():
    b, c, h, w = 2, 8, 6, 6
    prior = _small_prior(c)
    params = _params(b, c, h, w)
    y = torch.randn(b, c, h, w) * 4
    y_hat = prior.code(y, params, Estimate("round"), tag="mv_y")
    quant_step, _, means = params.chunk(3, dim=1)
    q = quant_step.clamp_min(0.5)
    expected = (torch.round(y / q - means) + means) * q
    first = phase_mask(QUADTREE_STEPS[0], c, h, w, torch.float32, CPU).bool().expand(b, c, h, w)
    torch.testing.assert_close(y_hat[first], expected[first])
    assert not torch.allclose(y_hat[~first], expected[~first])  # later steps use the prior net's means


def test_quadtree_prior_later_steps_read_adaptor_of_yhat_then_params():
    b, c, h, w = 1, 8, 4, 6
    prior = _small_prior(c)
    params = _params(b, c, h, w)
    y = torch.randn(b, c, h, w) * 4
    coder = RecordingCoder()
    prior.code(y, params, coder, tag="y")
    quant_step, scales, means = params.chunk(3, dim=1)
    q = quant_step.clamp_min(0.5)
    torch.testing.assert_close(coder.calls[0]["scales"], scales)
    torch.testing.assert_close(coder.calls[0]["residual"], y / q - means)
    y_hat_so_far = torch.zeros_like(y)
    step_means = means
    for k in range(4):
        mask = phase_mask(QUADTREE_STEPS[k], c, h, w, torch.float32, CPU)
        if k > 0:
            step_scales, step_means = prior.net(prior.adaptors[k - 1](torch.cat((y_hat_so_far, params), dim=1))).chunk(2, 1)
            torch.testing.assert_close(coder.calls[k]["scales"], step_scales)
            torch.testing.assert_close(coder.calls[k]["residual"], y / q - step_means)
        y_hat_so_far = y_hat_so_far + (torch.round(y / q - step_means) + step_means) * mask


def test_quadtree_prior_is_causal_across_steps():
    b, c, h, w = 1, 8, 6, 6
    prior = _small_prior(c)
    with torch.no_grad():
        prior.net.weight.mul_(5.0)
    params = _params(b, c, h, w)
    y = torch.randn(b, c, h, w) * 4
    base = prior.code(y, params, Estimate("round"), tag="y")
    index = _step_index(c, h, w).expand(b, c, h, w)
    # changing what step 4 codes leaves steps 1-3 untouched
    changed = prior.code(torch.where(index == 3, y + 7.3, y), params, Estimate("round"), tag="y")
    torch.testing.assert_close(changed[index < 3], base[index < 3])
    assert not torch.allclose(changed[index == 3], base[index == 3])
    # changing what step 1 codes changes the context (means) of the later steps
    changed = prior.code(torch.where(index == 0, y + 7.3, y), params, Estimate("round"), tag="y")
    assert not torch.allclose(changed[index == 1], base[index == 1])


def test_quadtree_prior_without_latents_raises_with_estimate():
    with pytest.raises(ValueError):
        _small_prior().code(None, _params(1, 8, 4, 4), Estimate("round"), tag="y")


def test_quadtree_prior_gradients(assert_gradients_reach_every_parameter):
    prior = _small_prior()
    y = (torch.randn(1, 8, 4, 4) * 3).requires_grad_(True)
    params = _params(1, 8, 4, 4).requires_grad_(True)
    coder = Estimate("ste")
    y_hat = prior.code(y, params, coder, tag="y")
    assert_gradients_reach_every_parameter(prior, coder.bits["y"] + (y_hat * torch.randn_like(y_hat)).sum())
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert params.grad is not None and params.grad.abs().sum() > 0


# --------------------------------------------------------------------------- QuadtreePrior, DCVC-FM forms


def _fm_intra_prior(c: int) -> QuadtreePrior:
    """DCVC-FM intra's form: sigmoid q, a 1x1 reduction 2C + 2 -> C, gated depthwise adaptors 2C -> 2C."""
    net = nn.Sequential(*(DepthConvBlock(c * 2, c * 2, gated=True) for _ in range(3)))
    adaptors = [DepthConvBlock(c * 2, c * 2, gated=True) for _ in range(3)]
    return QuadtreePrior(
        c, net, "gaussian", rate_mode="sigmoid", adaptors=adaptors, reduction=nn.Conv2d(c * 2 + 2, c, 1)
    )


def _sigmoid_params(b: int, c: int, h: int, w: int) -> Tensor:
    return torch.cat((torch.randn(b, 2, h, w) * 2, torch.empty(b, c, h, w).uniform_(0.1, 4.0), torch.randn(b, c, h, w) * 2), 1)


def _forms(c: int) -> dict[str, tuple[QuadtreePrior, Tensor]]:
    """Each form with parameters for a (2, c, 5, 6) latent."""
    return {
        "divide": (_small_prior(c), _params(2, c, 5, 6)),
        "reciprocal": (QuadtreePrior(c, nn.Conv2d(3 * c, 2 * c, 1), "laplace", rate_mode="reciprocal"), _params(2, c, 5, 6)),
        "sigmoid": (_fm_intra_prior(c), _sigmoid_params(2, c, 5, 6)),
    }


@pytest.mark.parametrize("form", ["divide", "reciprocal", "sigmoid"])
def test_quadtree_prior_forms_cover_every_element_once(form):
    prior, params = _forms(8)[form]
    coder = RecordingCoder()
    prior.code(torch.randn(2, 8, 5, 6) * 3, params, coder, tag="y")
    assert torch.equal(sum(call["mask"] for call in coder.calls), torch.ones(1, 8, 5, 6))


@pytest.mark.parametrize("form", ["divide", "reciprocal", "sigmoid"])
def test_quadtree_prior_forms_encode_then_decode_reproduce_estimate(form):
    prior, params = _forms(8)[form]
    y = torch.randn(2, 8, 5, 6) * 3
    with torch.no_grad():
        expected = prior.code(y, params, Estimate("round"), tag="y")
        encoder = Encode(ChunkWriter())
        assert torch.equal(prior.code(y, params, encoder, tag="y"), expected)
        decoded = prior.code(None, params, Decode(ChunkReader(encoder.writer.finish())), tag="y")
    assert torch.equal(decoded, expected)


def _naive_code(prior: QuadtreePrior, scaled: Tensor, params: Tensor, q: Tensor) -> Tensor:
    """The four steps on a latent already scaled by the quantisation step, then y_hat * q (divide / reciprocal split)."""
    c = prior.channels
    scales, means = params[:, c : 2 * c], params[:, 2 * c :]
    y_hat = torch.zeros_like(scaled)
    for k, phases in enumerate(QUADTREE_STEPS):
        if k > 0:
            scales, means = prior.net(prior.adaptors[k - 1](torch.cat((y_hat, params), 1))).chunk(2, 1)
        mask = phase_mask(phases, c, *scaled.shape[-2:], scaled.dtype, CPU)
        y_hat = y_hat + (torch.round(scaled - means) + means) * mask
    return y_hat * q


def test_reciprocal_mode_differs_from_divide_only_by_the_reciprocal():
    c = 8
    divide, params = _forms(c)["divide"]
    reciprocal = QuadtreePrior(c, nn.Conv2d(3 * c, 2 * c, 1), "laplace", rate_mode="reciprocal")
    reciprocal.load_state_dict(divide.state_dict())
    y = torch.randn(2, c, 5, 6) * 3
    q = params[:, :c].clamp_min(0.5)
    with torch.no_grad():
        assert torch.equal(divide.code(y, params, Estimate("round"), tag="y"), _naive_code(divide, y / q, params, q))
        assert torch.equal(reciprocal.code(y, params, Estimate("round"), tag="y"), _naive_code(reciprocal, y * (1 / q), params, q))
    assert not torch.equal(y / q, y * (1 / q))  # not bit-identical, hence two modes
    torch.testing.assert_close(y / q, y * (1 / q))


def test_sigmoid_mode_scales_by_q_enc_and_q_dec_and_adapts_the_reduced_params():
    c = 8
    prior, params = _forms(c)["sigmoid"]
    y = torch.randn(2, c, 5, 6) * 3
    coder = RecordingCoder()
    y_hat = prior.code(y, params, coder, tag="y")
    q_enc, q_dec = (torch.sigmoid(params[:, :2]) * 1.5 + 0.5).chunk(2, 1)
    scales, means = params[:, 2:].chunk(2, 1)
    torch.testing.assert_close(coder.calls[0]["scales"], scales)
    torch.testing.assert_close(coder.calls[0]["residual"], y * q_enc - means)
    y_hat_so_far = (torch.round(y * q_enc - means) + means) * coder.calls[0]["mask"]
    context = prior.reduction(params)
    step_scales, step_means = prior.net(prior.adaptors[0](torch.cat((y_hat_so_far, context), 1))).chunk(2, 1)
    torch.testing.assert_close(coder.calls[1]["scales"], step_scales)
    torch.testing.assert_close(coder.calls[1]["residual"], y * q_enc - step_means)
    symbols = sum(call["mask"] * (torch.round(call["residual"]) + (y * q_enc - call["residual"])) for call in coder.calls)
    torch.testing.assert_close(y_hat, symbols * q_dec)


def _official_names(state: dict[str, Tensor], prefix: str) -> dict[str, tuple[int, ...]]:
    """Our prior's keys renamed as the official `{prefix}_spatial_prior*` keys (the key map FM's converter uses)."""
    rules = [
        (r"^adaptors\.(\d+)\.", lambda m: f"{prefix}_spatial_prior_adaptor_{int(m.group(1)) + 1}."),
        (r"^net\.", lambda m: f"{prefix}_spatial_prior."),
        (r"^reduction\.", lambda m: f"{prefix}_spatial_prior_reduction."),
    ]
    renamed = {}
    for key, tensor in state.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        renamed[key] = tuple(tensor.shape)
    return renamed


def _spec_names(reference_dir, spec: str, prefix: str) -> dict[str, tuple[int, ...]]:
    tensors = json.loads((reference_dir / "dcvc_fm" / spec).read_text())["tensors"]
    return {k: tuple(v["shape"]) for k, v in tensors.items() if k.startswith(f"{prefix}_spatial_prior")}


def test_fm_intra_form_has_the_official_keys_and_shapes_up_to_a_prefix(reference_dir):
    prior = _fm_intra_prior(256)
    assert _official_names(prior.state_dict(), "y") == _spec_names(reference_dir, "spec_i.json", "y")


@pytest.mark.parametrize(("prefix", "channels"), [("y", 128), ("mv_y", 64)])
def test_fm_video_form_has_the_official_keys_and_shapes_up_to_a_prefix(reference_dir, prefix, channels):
    prior = QuadtreePrior(channels, quadtree_net(channels), "laplace", rate_mode="reciprocal")
    assert _official_names(prior.state_dict(), prefix) == _spec_names(reference_dir, "spec_p.json", prefix)


# --------------------------------------------------------------------------- Hyperprior


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize(("h", "w"), [(8, 12), (6, 10), (5, 3)])
def test_hyperprior_code_shapes_and_bits_tag(compact, h, w):
    c, cz = 8, 4
    encoder, decoder = hyper_transforms(c, cz, compact=compact)
    hyper = Hyperprior(encoder, decoder, z_channels=cz, tag="mv_z")
    y = torch.randn(2, c, h, w) * 3
    coder = Estimate("round")
    params = hyper.code(y, (h, w), coder, batch=2)
    ph, pw = -(-h // 4) * 4, -(-w // 4) * 4
    assert params.shape == (2, c, ph, pw)
    assert Hyperprior.crop(params, (h, w)).shape == (2, c, h, w)
    assert set(coder.bits) == {"mv_z"}
    z_hat = torch.round(encoder(pad_to_multiple(y, 4)))
    assert z_hat.shape == (2, cz, ph // 4, pw // 4)
    torch.testing.assert_close(coder.bits["mv_z"], hyper.z_bits.bits(z_hat).sum())
    torch.testing.assert_close(params, decoder(z_hat))


def test_hyperprior_crop_keeps_the_top_left():
    params = torch.randn(1, 3, 8, 12)
    assert torch.equal(Hyperprior.crop(params, (6, 10)), params[..., :6, :10])


def test_hyperprior_without_latents_raises_with_estimate():
    hyper = Hyperprior(*hyper_transforms(8, 4), z_channels=4, tag="z")
    with pytest.raises(ValueError):
        hyper.code(None, (4, 4), Estimate("round"))


def test_hyperprior_gradients(assert_gradients_reach_every_parameter):
    hyper = Hyperprior(*hyper_transforms(8, 4, compact=True), z_channels=4, tag="z")
    coder = Estimate("noise")
    params = hyper.code(torch.randn(1, 8, 8, 8) * 3, (8, 8), coder)
    assert_gradients_reach_every_parameter(hyper, coder.bits["z"] + (params * torch.randn_like(params)).sum())


# --------------------------------------------------------------------------- ReferencePriorFusion


class Marker(nn.Module):
    """Records its input and returns a constant map, so the branch taken is visible in the output."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.inputs: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.inputs.append(x)
        return torch.full((x.shape[0], 1, *x.shape[-2:]), self.value)


def test_reference_prior_fusion_branches():
    without_ref, with_ref = Marker(1.0), Marker(2.0)
    fusion = ReferencePriorFusion(without_ref, with_ref, fuse=nn.Identity())
    a, b, ref = torch.randn(1, 3, 4, 4), torch.randn(1, 2, 4, 4), torch.randn(1, 5, 4, 4)

    out = fusion((a, b), None)
    assert torch.equal(out, torch.full((1, 1, 4, 4), 1.0))
    assert len(without_ref.inputs) == 1 and not with_ref.inputs
    assert torch.equal(without_ref.inputs[0], torch.cat((a, b), dim=1))

    out = fusion((a, b), ref)
    assert torch.equal(out, torch.full((1, 1, 4, 4), 2.0))
    assert len(without_ref.inputs) == 1 and len(with_ref.inputs) == 1
    assert torch.equal(with_ref.inputs[0], torch.cat((a, b, ref), dim=1))


def test_reference_prior_fusion_applies_fuse_last():
    fusion = ReferencePriorFusion(Marker(1.0), Marker(2.0), fuse=nn.Conv2d(1, 1, 1))
    with torch.no_grad():
        fusion.fuse.weight.fill_(3.0)
        fusion.fuse.bias.fill_(0.5)
    assert torch.equal(fusion((torch.randn(1, 2, 3, 3),), None), torch.full((1, 1, 3, 3), 3.5))
    assert torch.equal(fusion((torch.randn(1, 2, 3, 3),), torch.randn(1, 1, 3, 3)), torch.full((1, 1, 3, 3), 6.5))


# --------------------------------------------------------------------------- QScale


def _random_qscale(channels: int = 5, anchors: int = 4) -> QScale:
    qs = QScale(channels, anchors)
    with torch.no_grad():
        qs.basic.uniform_(0.5, 2.0)
        qs.scale.copy_(torch.tensor([0.3, 0.7, 1.4, 2.9]).view(anchors, 1, 1, 1))
    return qs


def test_qscale_forward_is_basic_times_anchor_scale():
    qs = _random_qscale()
    for anchor, s in enumerate([0.3, 0.7, 1.4, 2.9]):
        out = qs(anchor)
        assert out.shape == (1, 5, 1, 1)
        torch.testing.assert_close(out, qs.basic * s)


def test_qscale_fine_is_log_linear_between_end_anchors():
    qs = _random_qscale()
    expected = np.exp(np.linspace(np.log(0.3), np.log(2.9), 64))
    basic = qs.basic.detach().numpy()
    torch.testing.assert_close(qs.fine(0), qs(0))
    torch.testing.assert_close(qs.fine(63), qs(3))
    for q_index in range(64):
        np.testing.assert_allclose(qs.fine(q_index).detach().numpy(), basic * expected[q_index], rtol=1e-5)
    coarse = np.exp(np.linspace(np.log(0.3), np.log(2.9), 8))
    np.testing.assert_allclose(qs.fine(5, levels=8).detach().numpy(), basic * coarse[5], rtol=1e-5)


def test_qscale_gradients(assert_gradients_reach_every_parameter):
    qs = _random_qscale()
    assert_gradients_reach_every_parameter(qs, (qs(1) * torch.randn(1, 5, 1, 1)).sum() + qs.fine(20).sum())


# --------------------------------------------------------------------------- hyper_transforms


@pytest.mark.parametrize(("compact", "n_convs"), [(False, 5), (True, 3)])
def test_hyper_transforms_shapes(compact, n_convs):
    encoder, decoder = hyper_transforms(8, 6, compact=compact)
    assert sum(isinstance(m, nn.Conv2d) for m in encoder) == n_convs
    y = torch.randn(2, 8, 8, 12)
    z = encoder(y)
    assert z.shape == (2, 6, 2, 3)
    assert decoder(z).shape == (2, 8, 8, 12)


def test_hyper_transforms_gradients(assert_gradients_reach_every_parameter):
    encoder, decoder = hyper_transforms(4, 4, compact=False)
    model = nn.Sequential(encoder, decoder)
    out = model(torch.randn(1, 4, 8, 8))
    assert_gradients_reach_every_parameter(model, (out * torch.randn_like(out)).sum())
