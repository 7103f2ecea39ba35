"""Flow-guided deformable convolution and the updatable temporal prior (LSTVC's shared layers)."""

from __future__ import annotations

import pytest
import torch

from lvc_zoo.errors import ConfigError
from lvc_zoo.layers import FlowGuidedDeformConv, TemporalPrior, downsample_flow, warp


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def identity_deform_conv(channels: int = 4, groups: int = 2, kernel: int = 3) -> FlowGuidedDeformConv:
    """A layer with zero residual offsets, a mask of one and a centre-tap identity kernel."""
    layer = FlowGuidedDeformConv(channels, channels + 2, 8, groups, kernel, max_residual=10.0)
    last = layer.offset_net[-1]
    taps = groups * kernel * kernel
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[2 * taps :] = 40.0  # sigmoid(40) == 1 in float32
        layer.weight.zero_()
        layer.weight[torch.arange(channels), torch.arange(channels), kernel // 2, kernel // 2] = 1.0
    return layer


def test_identity_deform_conv_is_flow_warping_inside_the_frame() -> None:
    feature = torch.rand(1, 4, 16, 20, generator=generator(0))
    flow = (torch.rand(1, 2, 16, 20, generator=generator(1)) - 0.5) * 6  # fractional, up to 3 px, dx != dy
    layer = identity_deform_conv()
    aligned = layer(feature, torch.cat((feature, flow), dim=1), flow)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(20.0), indexing="ij")
    # deform_conv2d pads with zeros and warp repeats the border: they agree where the sample lies inside
    inside = (xs + flow[0, 0] >= 0) & (xs + flow[0, 0] <= 19) & (ys + flow[0, 1] >= 0) & (ys + flow[0, 1] <= 15)
    assert inside.float().mean() > 0.6
    expected = warp(feature, flow)
    assert torch.allclose(aligned[..., inside], expected[..., inside], atol=1e-5)
    assert not torch.allclose(aligned[..., ~inside], expected[..., ~inside], atol=1e-3)  # the border differs: the test can fail


def test_offsets_stay_within_the_bound_around_the_flow_in_dy_dx_order() -> None:
    torch.manual_seed(0)
    layer = FlowGuidedDeformConv(8, 10, 8, groups=2, kernel=3, max_residual=1.5)
    with torch.no_grad():
        layer.offset_net[-1].weight.mul_(100)  # saturate the tanh
    flow = torch.randn(2, 2, 8, 8, generator=generator(2)) * 20
    offset, mask = layer.offsets(torch.randn(2, 10, 8, 8, generator=generator(3)), flow)
    assert offset.shape == (2, 2 * 2 * 9, 8, 8) and mask.shape == (2, 2 * 9, 8, 8)
    pairs = offset.view(2, 18, 2, 8, 8)
    residual = pairs - flow.flip(1).unsqueeze(1)  # torchvision reads (dy, dx) pairs
    assert residual.abs().max() <= 1.5 + 1e-4 and residual.abs().max() > 1.0
    assert ((mask >= 0) & (mask <= 1)).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [((6, 8, 8, 4, 3), "multiple of groups"), ((8, 8, 8, 2, 4), "odd"), ((8, 8, 8, 2, 3, -1.0), "max_residual")],
)
def test_deform_conv_constructor_checks_raise_config_errors(args: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FlowGuidedDeformConv(*args)


def test_temporal_prior_shapes() -> None:
    prior_net = TemporalPrior(8)
    frame = torch.rand(2, 3, 64, 128)
    prior = prior_net.initialise(frame)
    assert prior.shape == (2, 8, 16, 32)
    assert prior_net.supplement(prior, frame).shape == prior.shape
    assert prior_net.align(prior, torch.zeros(2, 2, 64, 128)).shape == prior.shape
    with pytest.raises(ConfigError):
        TemporalPrior(0)


def test_a_constant_four_pixel_flow_moves_the_prior_by_one_cell() -> None:
    prior_net = TemporalPrior(4)
    with torch.no_grad():  # no refinement: the warp alone
        prior_net.refine.weight.zero_()
        prior_net.refine.bias.zero_()
    prior = torch.rand(1, 4, 16, 16, generator=generator(4))
    flow = torch.zeros(1, 2, 64, 64)
    assert torch.allclose(prior_net.align(prior, flow), prior, atol=1e-6)  # zero motion is the identity
    flow[:, 0] = 4.0  # dx: the frame moved left by 4 px, each pixel comes from 4 px to the right
    flow[:, 1] = -4.0
    moved = prior_net.align(prior, flow)
    assert torch.allclose(moved[..., 1:, :-1], prior[..., :-1, 1:], atol=1e-6)
    assert torch.allclose(downsample_flow(flow, 4), flow[..., :16, :16] / 4)
