"""Tests of lvc_zoo.layers.flow: SpyNet shapes, zero weights, a naive per-level reference, gradients,
the analytic gradient-flow initialisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lvc_zoo.data.synthetic import load_photo, pan_clip
from lvc_zoo.layers.alignment import warp
from lvc_zoo.layers.flow import FlowLevel, SpyNet

SMALL = (4, 4, 4, 4)


def _frames(b: int = 2, h: int = 32, w: int = 48):
    return torch.rand(b, 3, h, w), torch.rand(b, 3, h, w)


def _naive_warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Facts section 1: base grid in [-1, 1] plus flow / ((W-1)/2, (H-1)/2), border, align_corners."""
    b, _, h, w = x.shape
    gy, gx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack((gx + flow[:, 0] / ((w - 1) / 2), gy + flow[:, 1] / ((h - 1) / 2)), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _naive_level(level: FlowLevel, x: torch.Tensor) -> torch.Tensor:
    convs = [getattr(level, f"conv{i}") for i in range(1, 6)]
    for i, conv in enumerate(convs):
        x = F.conv2d(x, conv.weight, conv.bias, padding=conv.kernel_size[0] // 2)
        if i < 4:
            x = torch.relu(x)
    return x


def _naive_spynet(net: SpyNet, cur: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Coarse to fine: zero flow at 1/16, then per level upsample x2 (times 2), warp ref, add the update."""
    n = len(net.levels)
    pyramid = []
    for scale in range(n):
        f = 2**scale
        b, c, h, w = cur.shape
        pool = lambda t: t.reshape(b, c, h // f, f, w // f, f).mean(dim=(3, 5))  # noqa: E731
        pyramid.append((pool(cur), pool(ref)))
    coarse_cur = pyramid[-1][0]
    flow = torch.zeros(cur.shape[0], 2, coarse_cur.shape[-2] // 2, coarse_cur.shape[-1] // 2)
    for level in range(n):  # levels[0] works on the coarsest scale
        cur_s, ref_s = pyramid[n - 1 - level]
        flow_up = 2.0 * F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=False)
        update = _naive_level(net.levels[level], torch.cat((cur_s, _naive_warp(ref_s, flow_up), flow_up), dim=1))
        flow = flow_up + update
    return flow


@pytest.mark.parametrize(("h", "w"), [(16, 16), (32, 48)])
def test_spynet_output_shape(h, w):
    net = SpyNet(levels=4, channels=SMALL)
    assert len(net.levels) == 4
    assert net(*_frames(2, h, w)).shape == (2, 2, h, w)


def test_flow_level_default_widths_and_kernels():
    level = FlowLevel()
    widths = [(getattr(level, f"conv{i}").in_channels, getattr(level, f"conv{i}").out_channels) for i in range(1, 6)]
    assert widths == [(8, 32), (32, 64), (64, 32), (32, 16), (16, 2)]
    assert all(getattr(level, f"conv{i}").kernel_size == (7, 7) for i in range(1, 6))
    assert level(torch.randn(1, 8, 6, 5)).shape == (1, 2, 6, 5)


def test_spynet_zero_weights_give_zero_flow():
    net = SpyNet(levels=4, channels=SMALL)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    assert torch.equal(net(*_frames()), torch.zeros(2, 2, 32, 48))


def test_spynet_matches_naive_reference():
    net = SpyNet(levels=4, channels=SMALL)
    with torch.no_grad():  # larger last-layer weights so that the flow is a few pixels and warps matter
        for level in net.levels:
            level.conv5.weight.mul_(20.0)
            level.conv5.bias.normal_(0.0, 1.0)
    cur, ref = _frames(2, 32, 48)
    flow = net(cur, ref)
    assert flow.abs().max() > 1.0
    torch.testing.assert_close(flow, _naive_spynet(net, cur, ref), atol=1e-4, rtol=1e-4)


def test_spynet_levels_are_used_coarse_to_fine():
    # only the finest level (the last one) has non-zero weights: its update is computed at full resolution
    net = SpyNet(levels=4, channels=SMALL)
    with torch.no_grad():
        for level in net.levels[:-1]:
            for p in level.parameters():
                p.zero_()
    cur, ref = _frames(1, 32, 32)
    expected = _naive_level(net.levels[-1], torch.cat((cur, ref, torch.zeros(1, 2, 32, 32)), dim=1))
    torch.testing.assert_close(net(cur, ref), expected, atol=1e-5, rtol=1e-5)


def test_spynet_gradients(assert_gradients_reach_every_parameter):
    net = SpyNet(levels=4, channels=SMALL)
    cur, ref = _frames(1, 32, 32)
    ref.requires_grad_(True)
    flow = net(cur, ref)
    assert_gradients_reach_every_parameter(net, (flow * torch.randn_like(flow)).sum())
    assert ref.grad is not None and ref.grad.abs().sum() > 0


def _pan(step: tuple[int, int]) -> torch.Tensor:
    """2 frames of 64x96 panning across a photo by `step` = (dy, dx) px: frame 1 = frame 0 moved by it."""
    return pan_clip(load_photo("astronaut"), 2, (64, 96), step)


def _interior_psnr(x: torch.Tensor, y: torch.Tensor, margin: int = 12) -> float:
    inner = (..., slice(margin, -margin), slice(margin, -margin))
    return (-10 * torch.log10(((x[inner] - y[inner]) ** 2).mean())).item()


@pytest.mark.parametrize("step", [(2, 5), (-3, -6)])
def test_gradient_flow_init_follows_a_pan(step: tuple[int, int]) -> None:
    clip = _pan(step)
    flow_net = SpyNet(4, (12, 24, 12, 8))
    flow_net.init_gradient_flow_()
    with torch.no_grad():
        flow = flow_net(clip[1:], clip[:1])
    copied, warped = _interior_psnr(clip[:1], clip[1:]), _interior_psnr(warp(clip[:1], flow), clip[1:])
    assert warped > copied + 8.0  # measured: 14.6 -> 27.8 dB and 13.7 -> 26.6 dB
    mean = flow[..., 12:-12, 12:-12].mean(dim=(0, 2, 3))
    assert mean[0] * step[1] > 0 and mean[1] * step[0] > 0  # (dx, dy) point along the pan
    assert abs(mean[0]) > 0.6 * abs(step[1])


def test_gradient_flow_init_ignores_extra_width_and_zeros_the_rest() -> None:
    clip = _pan((1, 2))
    tiny, full = SpyNet(2, (12, 24, 12, 8)), SpyNet(2)
    tiny.init_gradient_flow_()
    full.init_gradient_flow_()
    with torch.no_grad():
        assert torch.allclose(tiny(clip[1:], clip[:1]), full(clip[1:], clip[:1]), atol=1e-5)
    level = full.levels[0]
    assert level.conv1.weight[8:].abs().sum() == 0
    assert level.conv1.weight[:, 6:].abs().sum() == 0  # the flow input is unused
    assert all(getattr(level, f"conv{i}").bias.abs().sum() == 0 for i in range(1, 6))


@pytest.mark.parametrize(("channels", "kernel"), [((4, 4, 4, 4), 7), ((8, 4, 4, 3), 7), ((12, 24, 12, 8), 6)])
def test_gradient_flow_init_needs_room_for_its_channels(channels, kernel) -> None:
    with pytest.raises(ValueError, match="at least"):
        FlowLevel(channels, kernel).init_gradient_flow_()
