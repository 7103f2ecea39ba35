"""convert_official("dcvc_fm") on the official state_dict specs (../shared/reference/dcvc_fm): key renames only."""

from __future__ import annotations

import re

import pytest
import torch

import lvc_zoo
from lvc_zoo.convert.dcvc_fm import INTER_RULES, INTRA_RULES
from lvc_zoo.errors import ConversionError
from parity_testing import official_state_dicts


@pytest.fixture
def official(refgen, reference_dir) -> tuple[dict, dict]:
    return official_state_dicts(refgen, reference_dir / "dcvc_fm")


@pytest.mark.slow
def test_every_official_tensor_lands_unchanged_under_a_renamed_key(official: tuple[dict, dict]) -> None:
    intra, inter = official
    state = lvc_zoo.convert_official("dcvc_fm", intra=intra, inter=inter)
    assert len(state) == len(intra) + len(inter) == 377 + 762
    model = lvc_zoo.load("dcvc_fm", pretrained=False)
    model.load_state_dict(state, strict=True)
    assert torch.equal(state["inter.flow.levels.3.conv1.weight"], inter["optic_flow.me_1x.conv1.weight"])
    assert state["inter.flow.levels.3.conv1.weight"].shape[-1] == 5 and state["inter.flow.levels.0.conv1.weight"].shape[-1] == 7
    assert torch.equal(state["intra.hyperprior.z_bits.f1.h"], intra["bit_estimator_z.f1.h"])  # (64, 128, 1, 1): per q_index
    assert torch.equal(state["inter.y_q_enc"], inter["y_q_enc"])
    assert torch.equal(state["intra.spatial_prior.reduction.weight"], intra["y_spatial_prior_reduction.weight"])


@pytest.mark.parametrize(("rules", "which"), [(INTRA_RULES, 0), (INTER_RULES, 1)])
def test_every_rule_is_used(rules, which: int, official: tuple[dict, dict]) -> None:
    keys = official[which].keys()
    unused = [pattern for pattern, _ in rules if not any(re.fullmatch(pattern, key) for key in keys)]
    assert not unused


def test_swapped_checkpoints_are_refused(official: tuple[dict, dict]) -> None:
    intra, inter = official
    with pytest.raises(ConversionError):
        lvc_zoo.convert_official("dcvc_fm", intra=inter, inter=intra)
