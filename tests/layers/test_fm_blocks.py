"""The DCVC-FM forms of the shared layers: gated-depth / dual-FFN blocks, patch-down residual block,
strided U-Net, per-level SpyNet kernels, multi-set bit estimator, log-linear q, depthwise hyper transforms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lvc_zoo.layers import (
    DepthConvBlock,
    DualSlopeConvFFN,
    FactorizedBitEstimator,
    GatedDepthConv,
    Hyperprior,
    ResidualBlockPatchDown,
    SpyNet,
    UNet,
    depth_hyper_transforms,
    log_linear_q,
)


def test_gated_depth_conv_reference() -> None:
    unit = GatedDepthConv(4, 6)
    x = torch.randn(2, 4, 5, 7)
    depth = unit.conv1[2](F.leaky_relu(unit.conv1[0](x), 0.01))
    expected = unit.adaptor(x) + unit.out_conv(depth * unit.conv2(x))
    torch.testing.assert_close(unit(x), expected)
    assert GatedDepthConv(4, 4).adaptor is None


def test_dual_slope_ffn_reference() -> None:
    ffn = DualSlopeConvFFN(3)
    x = torch.randn(1, 3, 4, 4)
    a, b = ffn.conv(x).chunk(2, 1)
    torch.testing.assert_close(ffn(x), x + ffn.conv_out(F.leaky_relu(a, 0.1) + F.leaky_relu(b, 0.01)))
    assert ffn.conv.out_channels == 12 and ffn.conv_out.in_channels == 6


def test_depth_conv_block_variants_hold_the_official_units() -> None:
    assert isinstance(DepthConvBlock(4, 8, ffn="dual").block[1], DualSlopeConvFFN)
    block3 = DepthConvBlock(4, 8, gated=True, gated_depth=True)
    assert isinstance(block3.block[0], GatedDepthConv) and block3(torch.randn(1, 4, 6, 6)).shape == (1, 8, 6, 6)
    with pytest.raises(ValueError, match="ffn"):
        DepthConvBlock(4, 4, ffn="other")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stride"):
        DepthConvBlock(4, 4, gated_depth=True, stride=2)


def test_residual_block_patch_down_reference() -> None:
    block = ResidualBlockPatchDown(3, 5)
    x = torch.randn(1, 3, 8, 6)
    down = block.down(x)
    branch = F.leaky_relu(block.conv[2](F.leaky_relu(block.conv[0](down), 0.01)), 0.01)
    torch.testing.assert_close(block(x), down + branch)
    assert block(x).shape == (1, 5, 4, 3)


def test_unet_strided_down_learns_its_downsampling() -> None:
    unet = UNet(4, 4, (4, 8, 8), gated=True, strided_down=True)
    assert unet.down1.kernel_size == (2, 2) and unet.down1.stride == (2, 2)
    assert unet(torch.randn(1, 4, 8, 8)).shape == (1, 4, 8, 8)
    assert not any("down" in name for name, _ in UNet(4, 4, (4, 8, 8)).named_parameters())  # max pooling


def test_spynet_takes_one_kernel_per_level() -> None:
    net = SpyNet(4, (4, 4, 4, 4), kernels=(7, 7, 5, 5))
    assert [level.conv1.kernel_size[0] for level in net.levels] == [7, 7, 5, 5]
    assert net(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)).shape == (1, 2, 16, 16)
    with pytest.raises(ValueError, match="one kernel size per level"):
        SpyNet(4, kernels=(7, 5))


def test_multi_set_bit_estimator_selects_one_set() -> None:
    estimator = FactorizedBitEstimator(3, sets=4)
    z = torch.randn(1, 3, 2, 2).round()
    single = FactorizedBitEstimator(3)
    with torch.no_grad():
        for name, param in single.named_parameters():
            param.copy_(dict(estimator.named_parameters())[name][2:3])
    selected = estimator.select(2)
    torch.testing.assert_close(selected.bits(z), single.bits(z))
    torch.testing.assert_close(selected.cdf(z), single.cdf(z))
    assert single.select(0) is single and selected.channels == 3
    with pytest.raises(Exception, match="sets 0..3"):
        estimator.select(4)


def test_hyperprior_codes_z_with_the_selected_set() -> None:
    from lvc_zoo.coding.estimate import Estimate

    hyper = Hyperprior(*depth_hyper_transforms(8, 4, DepthConvBlock), 4, tag="z", sets=3)
    y = torch.randn(1, 8, 4, 4) * 3
    bits = []
    with torch.no_grad():
        for index in range(3):
            coder = Estimate()
            hyper.code(y, (4, 4), coder, index=index)
            bits.append(float(coder.bits["z"]))
    assert len(set(bits)) == 3


def test_log_linear_q_interpolates_in_the_log_domain() -> None:
    ends = torch.tensor([0.5, 2.0]).view(2, 1, 1, 1)
    assert math.isclose(float(log_linear_q(ends, 0)), 0.5, rel_tol=1e-6)
    assert math.isclose(float(log_linear_q(ends, 63)), 2.0, rel_tol=1e-6)
    assert math.isclose(float(log_linear_q(ends, 21)), 0.5 * 4 ** (21 / 63), rel_tol=1e-6)
    assert log_linear_q(torch.ones(2, 5, 1, 1), 7).shape == (1, 5, 1, 1)


def test_depth_hyper_transforms_shapes() -> None:
    encoder, decoder = depth_hyper_transforms(8, 4, DepthConvBlock)
    z = encoder(torch.randn(1, 8, 8, 12))
    assert z.shape == (1, 4, 2, 3) and decoder(z).shape == (1, 8, 8, 12)
