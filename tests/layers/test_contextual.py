"""Tests of lvc_zoo.layers.contextual: the reference-feature adaptors and the contextual codec's shapes."""

from __future__ import annotations

import torch
from torch import nn

from lvc_zoo.layers.contextual import (
    FEATURE_ADAPTOR_CYCLE,
    ContextualDecoder,
    ContextualEncoder,
    FeatureExtractor,
    ReconGeneration,
    adapt_reference_feature,
    feature_adaptors,
)
from lvc_zoo.layers.dpb import DPB


class Tag(nn.Module):
    """Returns a constant that names the module (to see which adaptor ran)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((1,), self.value)


def test_adapt_reference_feature_uses_the_frame_without_a_feature_else_the_cycle() -> None:
    intra, adaptors = Tag(-1.0), [Tag(0.0), Tag(1.0), Tag(2.0)]
    frame, feature = torch.zeros(1, 3, 4, 4), torch.zeros(1, 8, 4, 4)
    assert adapt_reference_feature(DPB(frame=frame, index=6), intra, adaptors).item() == -1.0
    for index in range(9):
        chosen = adapt_reference_feature(DPB(frame=frame, feature=feature, index=index), intra, adaptors)
        assert chosen.item() == FEATURE_ADAPTOR_CYCLE[(index + 1) % 4]


def test_feature_adaptors_shapes() -> None:
    intra, adaptors = feature_adaptors(8)
    assert intra(torch.zeros(1, 3, 4, 4)).shape == (1, 8, 4, 4)
    assert len(adaptors) == 3 and all(a(torch.zeros(1, 8, 4, 4)).shape == (1, 8, 4, 4) for a in adaptors)


def test_contextual_codec_shapes() -> None:
    c1, c2, c4, c8, c16, residual = 8, 8, 12, 12, 16, 4
    ctx = FeatureExtractor(c1, c2, c4)(torch.zeros(1, c1, 32, 32))
    assert [tuple(t.shape) for t in ctx] == [(1, c1, 32, 32), (1, c2, 16, 16), (1, c4, 8, 8)]
    y = ContextualEncoder(c1, c2, c4, c8, c16)(torch.zeros(1, 3, 32, 32), *ctx, torch.ones(1, c2 * 2, 1, 1))
    assert y.shape == (1, c16, 2, 2)
    res = ContextualDecoder(c2, c4, c8, c16, residual)(y, ctx[1], ctx[2], torch.ones(1, c2, 1, 1))
    assert res.shape == (1, residual, 32, 32)
    feature, x_hat = ReconGeneration(c1, residual, (4, 4, 8))(res, ctx[0])
    assert feature.shape == (1, c1, 32, 32) and x_hat.shape == (1, 3, 32, 32)
