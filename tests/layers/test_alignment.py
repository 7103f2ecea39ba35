"""Tests of lvc_zoo.layers.alignment: warping, resampling, offset diversity, context fusion."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lvc_zoo.layers.alignment import (
    MultiScaleContextFusion,
    OffsetDiversityAlignment,
    downsample2x,
    upsample2x,
    warp,
)


def _constant_flow(b: int, h: int, w: int, dx: float, dy: float) -> torch.Tensor:
    flow = torch.empty(b, 2, h, w)
    flow[:, 0] = dx
    flow[:, 1] = dy
    return flow


# --------------------------------------------------------------------------- warp


def test_warp_zero_flow_is_identity():
    x = torch.randn(2, 3, 7, 9)
    torch.testing.assert_close(warp(x, torch.zeros(2, 2, 7, 9)), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("dx", "dy"), [(2, 0), (-3, 0), (0, 1), (0, -2), (1, -1)])
def test_warp_integer_shift_matches_roll_in_the_interior(dx, dy):
    h, w = 9, 11
    x = torch.randn(2, 3, h, w)
    out = warp(x, _constant_flow(2, h, w, dx, dy))
    # backward warp: out(p) = x(p + flow), i.e. x rolled by -flow
    expected = torch.roll(x, shifts=(-dy, -dx), dims=(-2, -1))
    rows = slice(max(0, -dy), h - max(0, dy))
    cols = slice(max(0, -dx), w - max(0, dx))
    torch.testing.assert_close(out[..., rows, cols], expected[..., rows, cols], atol=1e-5, rtol=0)


def test_warp_dx_plus_two_reads_two_pixels_to_the_right():
    x = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 4, 8).contiguous()
    out = warp(x, _constant_flow(1, 4, 8, 2.0, 0.0))
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([2.0, 3, 4, 5, 6, 7, 7, 7]), atol=1e-5, rtol=0)


def test_warp_border_padding_repeats_the_edge():
    h, w = 6, 8
    x = torch.randn(1, 2, h, w)
    right = warp(x, _constant_flow(1, h, w, 3.0, 0.0))
    torch.testing.assert_close(right[..., w - 3 :], x[..., w - 1 :].expand(1, 2, h, 3), atol=1e-5, rtol=0)
    up = warp(x, _constant_flow(1, h, w, 0.0, -2.0))
    torch.testing.assert_close(up[..., :2, :], x[..., :1, :].expand(1, 2, 2, w), atol=1e-5, rtol=0)
    far = warp(x, _constant_flow(1, h, w, -100.0, -100.0))  # everything clamps to the top-left corner
    torch.testing.assert_close(far, x[..., :1, :1].expand(1, 2, h, w), atol=1e-5, rtol=0)


def test_warp_half_pixel_shift_is_bilinear():
    x = torch.randn(1, 2, 5, 6)
    out = warp(x, _constant_flow(1, 5, 6, 0.5, 0.0))
    torch.testing.assert_close(out[..., :-1], (x[..., :-1] + x[..., 1:]) / 2, atol=1e-5, rtol=0)


def test_warp_uses_each_batch_items_flow():
    x = torch.randn(2, 1, 6, 7)
    flow = torch.cat((_constant_flow(1, 6, 7, 1.0, 0.0), _constant_flow(1, 6, 7, 0.0, 0.0)))
    out = warp(x, flow)
    torch.testing.assert_close(out[1], x[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[0, ..., :-1], x[0, ..., 1:], atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7)])
def test_upsample2x_shape_and_constant(h, w):
    x = torch.randn(2, 3, h, w)
    assert upsample2x(x).shape == (2, 3, 2 * h, 2 * w)
    torch.testing.assert_close(upsample2x(torch.full((1, 1, h, w), 3.0)), torch.full((1, 1, 2 * h, 2 * w), 3.0))


def test_upsample2x_is_bilinear_without_align_corners():
    x = torch.randn(1, 2, 4, 5)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(upsample2x(x), expected)


@pytest.mark.parametrize(("h", "w", "out_hw"), [(8, 12, (4, 6)), (7, 9, (3, 4))])
def test_downsample2x_shape(h, w, out_hw):
    assert downsample2x(torch.randn(2, 3, h, w)).shape == (2, 3, *out_hw)


def test_downsample2x_even_size_is_2x2_average():
    # bilinear, align_corners=False at exactly half size samples the centre of each 2x2 cell
    x = torch.randn(1, 2, 6, 8)
    torch.testing.assert_close(downsample2x(x), F.avg_pool2d(x, 2), atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- OffsetDiversityAlignment


def _small_oda(groups: int = 4, offsets: int = 2, channels: int = 8) -> OffsetDiversityAlignment:
    return OffsetDiversityAlignment(channels=channels, aux_channels=5, hidden=6, groups=groups, offsets=offsets)


def _naive_oda(module: OffsetDiversityAlignment, feature, aux, flow):
    """Per-slice loops over the layout documented in the class docstring and the facts, section 3."""
    b, c, h, w = feature.shape
    groups, offsets = module.groups, module.offsets
    slices = groups * offsets
    per_group = c // groups
    raw = F.interpolate(module.conv_offset(aux), scale_factor=2, mode="bilinear", align_corners=False)
    o1, o2, m = raw[:, :slices], raw[:, slices : 2 * slices], raw[:, 2 * slices :]
    residual = module.max_residual * torch.tanh(torch.cat((o1, o2), dim=1))  # (B, 2 * slices, H, W)
    weight, bias = module.fusion.weight[:, :, 0, 0], module.fusion.bias  # (C, offsets * per_group)
    out = torch.zeros_like(feature)
    for n in range(b):
        warped = []
        for j in range(slices):
            g = j % groups
            src = feature[n : n + 1, g * per_group : (g + 1) * per_group]
            off = residual[n : n + 1, 2 * j : 2 * j + 2] + flow[n : n + 1]  # (dx, dy) of slice j
            warped.append(warp(src, off)[0] * torch.sigmoid(m[n, j]))
        for g in range(groups):
            fused_in = torch.cat([warped[offsets * g + k] for k in range(offsets)])  # slices K*g .. K*g + K-1
            for i in range(per_group):
                o = g * per_group + i
                acc = bias[o].expand(h, w).clone()
                for k in range(offsets * per_group):
                    acc = acc + weight[o, k] * fused_in[k]
                out[n, o] = acc
    return out


@pytest.mark.parametrize(("h", "w"), [(8, 8), (6, 10)])
def test_oda_output_shape(h, w):
    oda = _small_oda()
    out = oda(torch.randn(2, 8, h, w), torch.randn(2, 5, h, w), torch.randn(2, 2, h, w))
    assert out.shape == (2, 8, h, w)


def test_oda_official_widths():
    oda = OffsetDiversityAlignment()
    assert oda.conv_offset[0].in_channels == 53 and oda.conv_offset[0].stride == (2, 2)
    assert oda.conv_offset[-1].out_channels == 3 * 16 * 2
    assert oda.fusion.in_channels == 96 and oda.fusion.out_channels == 48 and oda.fusion.groups == 16


def test_oda_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError):
        OffsetDiversityAlignment(channels=10, groups=4)


def _zero_offset_branch_output(oda: OffsetDiversityAlignment) -> None:
    with torch.no_grad():
        oda.conv_offset[-1].weight.zero_()
        oda.conv_offset[-1].bias.zero_()


def test_oda_zero_residual_single_group_with_summing_fusion_is_flow_warp():
    # groups=1: both slices hold the whole feature, offsets = flow, masks 0.5; summing the two copies
    # (weight 1 each) gives 0.5 * warp + 0.5 * warp = warp(feature, flow).
    oda = _small_oda(groups=1, channels=3)
    _zero_offset_branch_output(oda)
    with torch.no_grad():
        oda.fusion.weight.zero_()
        oda.fusion.bias.zero_()
        for o in range(3):
            oda.fusion.weight[o, o] = 1.0
            oda.fusion.weight[o, 3 + o] = 1.0
    feature, aux, flow = torch.randn(2, 3, 8, 10), torch.randn(2, 5, 8, 10), 3 * torch.randn(2, 2, 8, 10)
    torch.testing.assert_close(oda(feature, aux, flow), warp(feature, flow), atol=1e-5, rtol=1e-5)


def test_oda_zero_residual_layout_with_summing_fusion():
    # Zero residual: every slice is warped by the flow and weighted by sigmoid(0) = 0.5. Slice j holds
    # feature group j mod G; fusion group g reads slices 2g, 2g+1. With a fusion that sums the two copies
    # channel by channel, output group g channel i = 0.5 * (W[(2g) % G, i] + W[(2g+1) % G, i]), W = warp(f, flow).
    groups, per_group = 4, 2
    oda = _small_oda(groups=groups, channels=groups * per_group)
    _zero_offset_branch_output(oda)
    with torch.no_grad():
        oda.fusion.weight.zero_()
        oda.fusion.bias.zero_()
        for g in range(groups):
            for i in range(per_group):
                o = g * per_group + i
                oda.fusion.weight[o, i] = 1.0  # slice 2g, channel i
                oda.fusion.weight[o, per_group + i] = 1.0  # slice 2g + 1, channel i
    feature, aux, flow = torch.randn(2, 8, 8, 10), torch.randn(2, 5, 8, 10), 3 * torch.randn(2, 2, 8, 10)
    warped = warp(feature, flow).view(2, groups, per_group, 8, 10)
    expected = torch.stack(
        [0.5 * (warped[:, (2 * g) % groups] + warped[:, (2 * g + 1) % groups]) for g in range(groups)], dim=1
    ).view(2, 8, 8, 10)
    torch.testing.assert_close(oda(feature, aux, flow), expected, atol=1e-5, rtol=1e-5)


def test_oda_residual_is_bounded_by_max_residual():
    # a saturated tanh adds exactly +max_residual to every offset; the mask bias sets the weight
    oda = OffsetDiversityAlignment(channels=2, aux_channels=5, hidden=6, groups=1, offsets=2, max_residual=2.0)
    with torch.no_grad():
        last = oda.conv_offset[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[:4] = 1e3  # offsets of both slices: tanh -> 1
        last.bias[4] = 2.0  # mask of slice 0
        last.bias[5] = -1.0  # mask of slice 1
        oda.fusion.weight.zero_()
        oda.fusion.bias.zero_()
        oda.fusion.weight[0, 0] = 1.0  # output 0 <- slice 0 channel 0
        oda.fusion.weight[1, 3] = 1.0  # output 1 <- slice 1 channel 1
    feature, aux = torch.randn(1, 2, 8, 10), torch.randn(1, 5, 8, 10)
    flow = _constant_flow(1, 8, 10, 1.0, -1.0)
    shifted = warp(feature, flow + 2.0)  # offsets = flow + (2, 2)
    expected = torch.cat((shifted[:, :1] * torch.sigmoid(torch.tensor(2.0)), shifted[:, 1:] * torch.sigmoid(torch.tensor(-1.0))), 1)
    torch.testing.assert_close(oda(feature, aux, flow), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("groups", "offsets"), [(4, 2), (2, 3)])
def test_oda_matches_naive_per_group_reference(groups, offsets):
    oda = _small_oda(groups=groups, offsets=offsets)
    with torch.no_grad():  # spread the residuals so that wrong offset channels give visibly wrong samples
        oda.conv_offset[-1].weight.mul_(20.0)
    feature, aux, flow = torch.randn(2, 8, 8, 10), torch.randn(2, 5, 8, 10), 2 * torch.randn(2, 2, 8, 10)
    expected = _naive_oda(oda, feature, aux, flow)
    torch.testing.assert_close(oda(feature, aux, flow), expected, atol=1e-4, rtol=1e-4)


def test_oda_gradients(assert_gradients_reach_every_parameter):
    oda = _small_oda()
    feature = torch.randn(2, 8, 8, 8, requires_grad=True)
    aux = torch.randn(2, 5, 8, 8, requires_grad=True)
    flow = torch.randn(2, 2, 8, 8, requires_grad=True)
    out = oda(feature, aux, flow)
    assert_gradients_reach_every_parameter(oda, (out * torch.randn_like(out)).sum())
    for t in (feature, aux, flow):
        assert t.grad is not None and t.grad.abs().sum() > 0


# --------------------------------------------------------------------------- MultiScaleContextFusion


def _contexts(b: int = 2, h: int = 8, w: int = 12, c=(4, 6, 8)):
    return torch.randn(b, c[0], h, w), torch.randn(b, c[1], h // 2, w // 2), torch.randn(b, c[2], h // 4, w // 4)


@pytest.mark.parametrize(("h", "w"), [(8, 8), (8, 12)])
def test_context_fusion_shapes(h, w):
    fusion = MultiScaleContextFusion(4, 6, 8)
    inputs = _contexts(h=h, w=w)
    outputs = fusion(*inputs)
    assert [o.shape for o in outputs] == [i.shape for i in inputs]


def test_context_fusion_with_zero_weights_returns_its_inputs():
    fusion = MultiScaleContextFusion(4, 6, 8)
    with torch.no_grad():
        for p in fusion.parameters():
            p.zero_()
    inputs = _contexts()
    for out, inp in zip(fusion(*inputs), inputs):
        torch.testing.assert_close(out, inp)


def test_context_fusion_is_top_down():
    # context2 and context3 outputs read only the coarser scales; context1 reads all three
    fusion = MultiScaleContextFusion(4, 6, 8)
    c1, c2, c3 = _contexts()
    base = fusion(c1, c2, c3)
    changed1 = fusion(c1 + 1.0, c2, c3)
    torch.testing.assert_close(changed1[1], base[1])
    torch.testing.assert_close(changed1[2], base[2])
    changed2 = fusion(c1, c2 + 1.0, c3)
    torch.testing.assert_close(changed2[2], base[2])
    assert not torch.allclose(changed2[0], base[0])
    changed3 = fusion(c1, c2, c3 + 1.0)
    assert not torch.allclose(changed3[0], base[0]) and not torch.allclose(changed3[1], base[1])


def test_context_fusion_gradients(assert_gradients_reach_every_parameter):
    fusion = MultiScaleContextFusion(4, 6, 8)
    outputs = fusion(*_contexts())
    loss = sum((o * torch.randn_like(o)).sum() for o in outputs)
    assert_gradients_reach_every_parameter(fusion, loss)
