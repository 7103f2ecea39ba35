"""Tests of lvc_zoo.layers.blocks: shapes, shortcut behaviour, references, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lvc_zoo.layers.blocks import (
    pad_to_multiple,
    ConvFFN,
    DepthConv,
    DepthConvBlock,
    GatedConvFFN,
    ResBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    conv1x1,
    conv3x3,
    subpel_conv1x1,
    subpel_conv3x3,
)


def _zero_(conv: nn.Conv2d) -> None:
    with torch.no_grad():
        conv.weight.zero_()
        if conv.bias is not None:
            conv.bias.zero_()


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(("h", "w", "stride", "out_hw"), [(8, 12, 1, (8, 12)), (8, 12, 2, (4, 6)), (7, 9, 2, (4, 5))])
def test_conv3x3_same_padding_and_stride_rounds_up(h, w, stride, out_hw):
    out = conv3x3(3, 5, stride=stride)(torch.randn(2, 3, h, w))
    assert out.shape == (2, 5, *out_hw)


def test_conv1x1_is_pointwise():
    conv = conv1x1(3, 4)
    x = torch.randn(1, 3, 5, 6)
    expected = torch.einsum("oc,bchw->bohw", conv.weight[:, :, 0, 0], x) + conv.bias.view(1, 4, 1, 1)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("make", [subpel_conv1x1, subpel_conv3x3])
@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7)])
def test_subpel_conv_upsamples_by_r(make, h, w):
    assert make(3, 5, 2)(torch.randn(2, 3, h, w)).shape == (2, 5, 2 * h, 2 * w)
    assert make(3, 5, 3)(torch.randn(2, 3, h, w)).shape == (2, 5, 3 * h, 3 * w)


def test_subpel_conv1x1_is_conv_then_pixel_shuffle():
    block = subpel_conv1x1(2, 3, 2)
    x = torch.randn(1, 2, 3, 4)
    conv = block[0]
    expected = F.pixel_shuffle(F.conv2d(x, conv.weight, conv.bias), 2)
    torch.testing.assert_close(block(x), expected)


# --------------------------------------------------------------------------- ResidualBlockWithStride


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "stride", "h", "w", "out_hw"),
    [(3, 6, 2, 8, 12, (4, 6)), (3, 6, 2, 7, 9, (4, 5)), (4, 4, 1, 7, 9, (7, 9))],
)
def test_residual_block_with_stride_shape(in_ch, out_ch, stride, h, w, out_hw):
    block = ResidualBlockWithStride(in_ch, out_ch, stride=stride)
    assert block(torch.randn(2, in_ch, h, w)).shape == (2, out_ch, *out_hw)


def test_residual_block_with_stride_reference():
    block = ResidualBlockWithStride(3, 5, stride=2)
    x = torch.randn(2, 3, 8, 6)
    out = F.leaky_relu(F.conv2d(x, block.conv1.weight, block.conv1.bias, stride=2, padding=1), 0.01)
    out = F.leaky_relu(F.conv2d(out, block.conv2.weight, block.conv2.bias, padding=1), 0.1)
    expected = out + F.conv2d(x, block.downsample.weight, block.downsample.bias, stride=2)
    torch.testing.assert_close(block(x), expected)


def test_residual_block_with_stride_zero_branch_leaves_the_shortcut():
    strided = ResidualBlockWithStride(3, 5, stride=2)
    _zero_(strided.conv2)
    x = torch.randn(2, 3, 8, 6)
    torch.testing.assert_close(strided(x), strided.downsample(x))

    plain = ResidualBlockWithStride(4, 4, stride=1)
    assert plain.downsample is None
    _zero_(plain.conv2)
    x = torch.randn(2, 4, 5, 7)
    torch.testing.assert_close(plain(x), x)


# --------------------------------------------------------------------------- ResidualBlockUpsample


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7)])
def test_residual_block_upsample_shape(h, w):
    assert ResidualBlockUpsample(6, 3)(torch.randn(2, 6, h, w)).shape == (2, 3, 2 * h, 2 * w)


def test_residual_block_upsample_zero_branch_leaves_the_subpel_shortcut():
    block = ResidualBlockUpsample(6, 3)
    _zero_(block.conv)
    x = torch.randn(2, 6, 4, 5)
    conv = block.upsample[0]
    torch.testing.assert_close(block(x), F.pixel_shuffle(F.conv2d(x, conv.weight, conv.bias), 2))


# --------------------------------------------------------------------------- ResBlock


@pytest.mark.parametrize("bottleneck", [False, True])
@pytest.mark.parametrize(("h", "w"), [(8, 8), (5, 7)])
def test_resblock_shape(bottleneck, h, w):
    block = ResBlock(6, bottleneck=bottleneck)
    assert block.conv1.out_channels == (3 if bottleneck else 6)
    assert block(torch.randn(2, 6, h, w)).shape == (2, 6, h, w)


@pytest.mark.parametrize("end_with_relu", [False, True])
def test_resblock_zero_last_conv_is_identity(end_with_relu):
    block = ResBlock(4, end_with_relu=end_with_relu)
    _zero_(block.conv2)
    x = torch.randn(2, 4, 5, 6)
    torch.testing.assert_close(block(x), x)


@pytest.mark.parametrize("end_with_relu", [False, True])
def test_resblock_is_pre_activation_reference(end_with_relu):
    slope = 0.2
    block = ResBlock(4, slope=slope, end_with_relu=end_with_relu, bottleneck=True)
    x = torch.randn(2, 4, 5, 6)
    out = F.conv2d(F.leaky_relu(x, slope), block.conv1.weight, block.conv1.bias, padding=1)
    out = F.conv2d(F.leaky_relu(out, slope), block.conv2.weight, block.conv2.bias, padding=1)
    if end_with_relu:
        out = F.leaky_relu(out, slope)
    torch.testing.assert_close(block(x), x + out)


# --------------------------------------------------------------------------- DepthConv


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "stride", "kernel", "h", "w", "out_hw"),
    [
        (4, 4, 1, 3, 6, 8, (6, 8)),
        (4, 4, 1, 3, 5, 7, (5, 7)),
        (4, 6, 1, 5, 5, 7, (5, 7)),
        (4, 6, 2, 3, 6, 8, (3, 4)),
        (4, 4, 2, 3, 10, 6, (5, 3)),
    ],
)
def test_depthconv_shape(in_ch, out_ch, stride, kernel, h, w, out_hw):
    block = DepthConv(in_ch, out_ch, depth_kernel=kernel, stride=stride)
    assert block(torch.randn(2, in_ch, h, w)).shape == (2, out_ch, *out_hw)


def test_depthconv_depthwise_conv_is_per_channel():
    block = DepthConv(4, 4)
    assert block.depth_conv.groups == 4 and block.depth_conv.weight.shape == (4, 1, 3, 3)


@pytest.mark.parametrize(("in_ch", "out_ch", "stride"), [(4, 4, 1), (4, 6, 1), (4, 6, 2), (4, 4, 2)])
def test_depthconv_zero_last_conv_leaves_identity_or_adaptor(in_ch, out_ch, stride):
    block = DepthConv(in_ch, out_ch, stride=stride)
    _zero_(block.conv2)
    x = torch.randn(2, in_ch, 6, 8)
    if in_ch == out_ch and stride == 1:
        assert block.adaptor is None
        torch.testing.assert_close(block(x), x)
    else:
        assert block.adaptor is not None
        expected_kernel = 2 if stride == 2 else 1
        assert block.adaptor.kernel_size == (expected_kernel, expected_kernel)
        torch.testing.assert_close(block(x), block.adaptor(x))


def test_depthconv_reference():
    block = DepthConv(4, 6, depth_kernel=3, stride=1, slope=0.05)
    x = torch.randn(2, 4, 5, 6)
    conv1 = block.conv1[0]
    out = F.leaky_relu(F.conv2d(x, conv1.weight, conv1.bias), 0.05)
    out = F.conv2d(out, block.depth_conv.weight, block.depth_conv.bias, padding=1, groups=4)
    out = F.conv2d(out, block.conv2.weight, block.conv2.bias)
    expected = out + F.conv2d(x, block.adaptor.weight, block.adaptor.bias)
    torch.testing.assert_close(block(x), expected)


def test_depthconv_rejects_other_strides():
    with pytest.raises(ValueError):
        DepthConv(4, 4, stride=3)


# --------------------------------------------------------------------------- ConvFFN / GatedConvFFN


@pytest.mark.parametrize(("channels", "inner"), [(4, 16), (256, 1024), (300, 1024), (600, 1200)])
def test_convffn_inner_width(channels, inner):
    assert ConvFFN(channels).conv[0].out_channels == inner


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7)])
def test_convffn_shape_and_zero_last_conv_is_identity(h, w):
    block = ConvFFN(4)
    x = torch.randn(2, 4, h, w)
    assert block(x).shape == x.shape
    _zero_(block.conv[2])
    torch.testing.assert_close(block(x), x)


def test_gated_convffn_zero_gate_half_is_identity_plus_output_bias():
    block = GatedConvFFN(4)
    inner = block.conv_out.in_channels
    assert block.conv.out_channels == 2 * inner
    with torch.no_grad():  # the gate is the second half of conv's output channels
        block.conv.weight[inner:].zero_()
        block.conv.bias[inner:].zero_()
    x = torch.randn(2, 4, 5, 7)
    torch.testing.assert_close(block(x), x + block.conv_out.bias.view(1, -1, 1, 1))
    with torch.no_grad():
        block.conv_out.bias.zero_()
    torch.testing.assert_close(block(x), x)


def test_gated_convffn_reference():
    block = GatedConvFFN(4, slope=0.1)
    x = torch.randn(2, 4, 5, 7)
    hidden = F.conv2d(x, block.conv.weight, block.conv.bias)
    value, gate = hidden[:, :8], hidden[:, 8:]
    expected = x + F.conv2d(value * F.leaky_relu(gate, 0.1), block.conv_out.weight, block.conv_out.bias)
    torch.testing.assert_close(block(x), expected)


# --------------------------------------------------------------------------- DepthConvBlock


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize(("stride", "h", "w", "out_hw"), [(1, 5, 7, (5, 7)), (2, 6, 8, (3, 4))])
def test_depthconv_block_shape_and_structure(gated, stride, h, w, out_hw):
    block = DepthConvBlock(4, 6, gated=gated, stride=stride)
    assert isinstance(block.block[0], DepthConv)
    assert type(block.block[1]) is (GatedConvFFN if gated else ConvFFN)
    assert block(torch.randn(2, 4, h, w)).shape == (2, 6, *out_hw)
    assert {key.split(".")[1] for key in block.state_dict()} == {"0", "1"}


def test_depthconv_block_is_depthconv_then_ffn():
    block = DepthConvBlock(4, 6, gated=True)
    x = torch.randn(1, 4, 5, 6)
    torch.testing.assert_close(block(x), block.block[1](block.block[0](x)))


# --------------------------------------------------------------------------- UNet


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize(("h", "w"), [(8, 8), (12, 20)])
def test_unet_shape(gated, h, w):
    net = UNet(3, 5, channels=(4, 6, 8), gated=gated)
    assert net(torch.randn(2, 3, h, w)).shape == (2, 5, h, w)


def test_unet_default_widths():
    net = UNet(16, 16)
    assert net.conv1.block[0].conv2.out_channels == 32
    assert net.conv2.block[0].conv2.out_channels == 64
    assert net.conv3.block[0].conv2.out_channels == 128
    assert len(net.context_refine) == 4


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    ("make", "in_ch", "h", "w"),
    [
        (lambda: ResidualBlockWithStride(3, 4, stride=2), 3, 8, 8),
        (lambda: ResidualBlockWithStride(4, 4, stride=1), 4, 8, 8),
        (lambda: ResidualBlockUpsample(4, 3), 4, 4, 4),
        (lambda: ResBlock(4, end_with_relu=True, bottleneck=True), 4, 6, 6),
        (lambda: DepthConv(4, 6, stride=2), 4, 6, 6),
        (lambda: DepthConv(4, 6), 4, 6, 6),
        (lambda: ConvFFN(4), 4, 5, 5),
        (lambda: GatedConvFFN(4), 4, 5, 5),
        (lambda: DepthConvBlock(4, 4), 4, 5, 5),
        (lambda: DepthConvBlock(4, 6, gated=True, stride=2), 4, 6, 6),
        (lambda: UNet(3, 3, channels=(4, 4, 4)), 3, 8, 8),
        (lambda: UNet(3, 3, channels=(4, 4, 4), gated=True), 3, 8, 8),
    ],
)
def test_gradients_reach_every_parameter(make, in_ch, h, w, assert_gradients_reach_every_parameter):
    block = make()
    x = torch.randn(2, in_ch, h, w, requires_grad=True)
    out = block(x)
    assert_gradients_reach_every_parameter(block, (out * torch.randn_like(out)).sum())
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_pad_to_multiple_replicates_right_and_bottom():
    y = torch.randn(1, 2, 6, 9)
    padded = pad_to_multiple(y, 4)
    assert padded.shape == (1, 2, 8, 12)
    assert torch.equal(padded[..., :6, :9], y)
    assert torch.equal(padded[..., 6:, :9], y[..., 5:6, :].expand(1, 2, 2, 9))
    assert torch.equal(padded[..., :6, 9:], y[..., :, 8:9].expand(1, 2, 6, 3))
    aligned = torch.randn(1, 2, 8, 4)
    assert torch.equal(pad_to_multiple(aligned, 4), aligned)
