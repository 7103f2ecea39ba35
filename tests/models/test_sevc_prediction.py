"""Tests of lvc_zoo.models.sevc_prediction (SEVC inter-layer prediction) and its key conversion."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from lvc_testing import require_reference
from lvc_zoo.convert.common import check_against, rename
from lvc_zoo.convert.sevc_prediction import DROPPED_LATENT_ILP, ILP_RULES, LATENT_ILP_RULES
from lvc_zoo.models.sevc_prediction import (
    AugmentStages,
    AugmentUnit,
    InterLayerPrediction,
    LatentInterLayerPrediction,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _tiny_ilp() -> InterLayerPrediction:
    return InterLayerPrediction(c1=8, c2=12, c4=16, stages=2, align_groups=4)


def _tiny_latent() -> LatentInterLayerPrediction:
    return LatentInterLayerPrediction(channels=8, depths=(2,), num_heads=2, window=(4, 4, 4), drop_path_rate=0.0)


# --------------------------------------------------------------------------- pixel-domain ILP


@pytest.mark.parametrize(("h", "w"), [(64, 64), (48, 80)])
def test_ilp_context_shapes(h, w):
    ilp = _tiny_ilp()
    bl_feature, bl_mv = torch.randn(2, 8, h // 4, w // 4), torch.randn(2, 2, h // 4, w // 4)
    c1, c2, c3 = ilp(bl_feature, bl_mv, torch.randn(2, 8, h, w), torch.rand(2, 3, h, w))
    assert c1.shape == (2, 8, h, w) and c2.shape == (2, 12, h // 2, w // 2) and c3.shape == (2, 16, h // 4, w // 4)


def test_ilp_gradients_reach_every_parameter():
    ilp = _tiny_ilp()
    bl_feature, bl_mv = torch.randn(1, 8, 8, 8), torch.randn(1, 2, 8, 8)
    contexts = ilp(bl_feature, bl_mv, torch.randn(1, 8, 32, 32), torch.rand(1, 3, 32, 32))
    sum(c.square().mean() for c in contexts).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ilp.parameters())


def test_augment_unit_skip_is_the_activated_stride2_feature():
    unit = AugmentUnit(6, 4, 3)
    x = torch.randn(1, 6, 16, 16)
    d0 = unit.conv0(x)
    d2 = unit.conv2(F.leaky_relu(unit.conv1(F.leaky_relu(d0, 0.01)), 0.01))
    up2 = F.leaky_relu(unit.up2(d2), 0.01)

    def output(skip: torch.Tensor) -> torch.Tensor:
        u1 = unit.up1(torch.cat((up2, skip), dim=1))
        return unit.up0(torch.cat((F.leaky_relu(u1, 0.01), x), dim=1))

    ours = unit(x)
    torch.testing.assert_close(ours, output(F.leaky_relu(d0, 0.01)))  # the official in-place activation
    assert (ours - output(d0)).abs().max() > 1e-4


def test_augment_stages_refine_motion_then_texture_as_residuals():
    stages = AugmentStages(8, stages=1)
    for unit in (stages.motion_layers[0], stages.texture_layers[0]):
        torch.nn.init.zeros_(unit.up0.weight)
        torch.nn.init.zeros_(unit.up0.bias)
    feature, texture, mv = torch.randn(1, 8, 16, 16), torch.randn(1, 8, 16, 16), torch.randn(1, 2, 16, 16)
    out_texture, out_mv = stages(feature, texture, mv)
    torch.testing.assert_close(out_texture, texture)  # zero residuals leave both unchanged
    torch.testing.assert_close(out_mv, mv)
    assert len(stages.motion_layers) == len(stages.texture_layers) == 1


# --------------------------------------------------------------------------- latent ILP


def test_latent_prior_shape_and_crop():
    latent = _tiny_latent()
    y_bl = torch.randn(1, 8, 2, 3)
    assert latent(y_bl, [None, None, None]).shape == (1, 8, 8, 12)
    refs = [torch.randn(1, 8, 6, 10), None, torch.randn(1, 8, 6, 10)]
    assert latent(y_bl, refs, size=(6, 10)).shape == (1, 8, 6, 10)


def test_latent_missing_references_are_the_upsampled_base_latent():
    latent = _tiny_latent().eval()
    y_bl = torch.randn(1, 8, 2, 2)
    with torch.no_grad():
        query = latent.upsampler(y_bl)
        torch.testing.assert_close(latent(y_bl, [None, None, None]), latent(y_bl, [query, query, query]))
        ref = torch.randn(1, 8, 8, 8)
        torch.testing.assert_close(latent(y_bl, [None, ref, None]), latent(y_bl, [query, ref, query]))


def test_latent_crop_takes_the_top_left_of_the_upsampled_base_latent():
    latent = _tiny_latent().eval()
    y_bl = torch.randn(1, 8, 2, 3)
    with torch.no_grad():
        query = latent.upsampler(y_bl)[..., :6, :10]
        fused = latent.fusion(torch.stack([query] * 4, dim=1))
        torch.testing.assert_close(latent(y_bl, [None] * 3, size=(6, 10)), fused)


def test_latent_upsampler_has_no_activation():
    """The official LeakyReLU gets `inplace=True` as its slope (1.0): the upsampler is affine."""
    up = _tiny_latent().upsampler
    a, b = torch.randn(1, 8, 3, 3), torch.randn(1, 8, 3, 3)
    zero = up(torch.zeros_like(a))
    torch.testing.assert_close(up(a + b) - zero, (up(a) - zero) + (up(b) - zero), rtol=1e-4, atol=1e-5)
    assert up(a).shape == (1, 8, 12, 12)


# --------------------------------------------------------------------------- official widths and keys


def test_parameter_counts_at_official_widths():
    with torch.device("meta"):
        ilp, latent = InterLayerPrediction(), LatentInterLayerPrediction()
    assert sum(p.numel() for p in ilp.parameters()) == 7_200_924
    assert sum(p.numel() for p in latent.parameters()) == 4_461_824 - 221_440  # without conv_first*


@pytest.mark.parametrize(
    ("prefix", "rules", "dropped", "module"),
    [
        ("ILP.", ILP_RULES, (), InterLayerPrediction),
        ("latent_ILP.", LATENT_ILP_RULES, DROPPED_LATENT_ILP, LatentInterLayerPrediction),
    ],
)
def test_official_keys_convert_onto_ours(prefix, rules, dropped, module):
    """Every official key is renamed onto one of ours with the same shape or dropped; none of ours is missing."""
    spec = json.loads((require_reference("sevc") / "spec_p.json").read_text())["tensors"]
    official = {
        k[len(prefix) :]: torch.empty(v["shape"], device="meta") for k, v in spec.items() if k.startswith(prefix)
    }
    assert set(dropped) <= official.keys(), "the drop list names keys the official model does not have"
    with torch.device("meta"):
        ours = module().state_dict()
    converted = rename(official, rules, dropped, prefix="")
    check_against(converted, ours)  # same keys, same shapes, nothing extra
    assert len(converted) == len(official) - len(dropped)


def test_drop_list_is_the_unused_convs_and_index_buffers():
    assert len(DROPPED_LATENT_ILP) == 4 + 16
    assert all(k.startswith("fusion.conv_first") or k.endswith("relative_position_index") for k in DROPPED_LATENT_ILP)
