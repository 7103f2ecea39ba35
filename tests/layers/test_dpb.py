"""Tests of lvc_zoo.layers.dpb: the buffer base and how a model extends it."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
import torch

from lvc_zoo.layers.dpb import DCVCDPB, DPB, FEATURE_REFRESH_INTERVAL


def test_after_intra_holds_only_the_frame_and_keeps_the_subclass() -> None:
    frame = torch.rand(1, 3, 8, 8)
    dpb = DCVCDPB.after_intra(frame, index=5)
    assert type(dpb) is DCVCDPB and dpb.frame is frame and dpb.index == 5
    assert dpb.feature is None and dpb.mv_feature is None and dpb.y_hat is None and dpb.mv_hat is None


def test_advance_moves_the_index_and_replaces_what_is_given() -> None:
    dpb = DCVCDPB.after_intra(torch.zeros(1, 3, 8, 8), index=2)
    feature, y_hat = torch.ones(1, 4, 8, 8), torch.ones(1, 4, 1, 1)
    nxt = dpb.advance(frame=torch.ones(1, 3, 8, 8), feature=feature, y_hat=y_hat)
    assert type(nxt) is DCVCDPB and nxt.index == 3 and nxt.feature is feature and nxt.y_hat is y_hat
    assert dpb.index == 2 and dpb.feature is None  # the old buffer is unchanged
    with pytest.raises(FrozenInstanceError):
        nxt.index = 0  # type: ignore[misc]


def test_refreshed_drops_only_the_propagated_feature() -> None:
    dpb = DCVCDPB(frame=torch.zeros(1, 3, 8, 8), feature=torch.ones(1, 4, 8, 8), y_hat=torch.ones(1, 4, 1, 1), index=4)
    refreshed = dpb.refreshed()
    assert refreshed.feature is None and refreshed.y_hat is dpb.y_hat and refreshed.index == 4


@pytest.mark.parametrize("index", range(2 * FEATURE_REFRESH_INTERVAL))
def test_refreshed_every_refreshes_for_frames_k_with_k_mod_interval_one(index: int) -> None:
    dpb = DPB(frame=torch.zeros(1, 3, 8, 8), feature=torch.ones(1, 4, 8, 8), index=index)
    refreshed = dpb.refreshed_every(FEATURE_REFRESH_INTERVAL)
    assert (refreshed.feature is None) == ((index + 1) % FEATURE_REFRESH_INTERVAL == 1)
