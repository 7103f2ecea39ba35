"""Tests of lvc_zoo.layers.motion: the motion encoder and decoder."""

from __future__ import annotations

import torch

from lvc_zoo.layers.motion import MvDecoder, MvEncoder


def test_motion_branch_shapes() -> None:
    c = 8
    q = torch.ones(1, c, 1, 1)
    encoder, decoder = MvEncoder(c), MvDecoder(c)
    mv_y = encoder(torch.zeros(1, 2, 32, 32), None, q)
    assert mv_y.shape == (1, c, 2, 2)
    mv_hat, mv_feature = decoder(mv_y, q)
    assert mv_hat.shape == (1, 2, 32, 32) and mv_feature.shape == (1, c, 8, 8)
    assert encoder(torch.zeros(1, 2, 32, 32), mv_feature, q).shape == (1, c, 2, 2)
