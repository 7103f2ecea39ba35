"""Tests of DCVC-LCG's own modules: the long-term buffer, memory update and context gathering (small widths)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lvc_zoo.errors import ConfigError
from lvc_zoo.models.dcvc_lcg_modules import LCGDPB, LongTermContextGathering, LongTermMemory

C = 8


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_buffer_keeps_the_memory_through_a_refresh_and_drops_it_after_an_intra_frame() -> None:
    memory = torch.randn(1, C, 4, 4)
    dpb = LCGDPB(frame=torch.rand(1, 3, 16, 16), feature=torch.randn(1, 4, 16, 16), lt_feature=memory, index=32)
    refreshed = dpb.refreshed_every(32)
    assert refreshed.feature is None and refreshed.lt_feature is memory
    after_intra = LCGDPB.after_intra(torch.rand(1, 3, 16, 16), index=40)
    assert type(after_intra) is LCGDPB and after_intra.lt_feature is None


@pytest.mark.parametrize("mode", ["gated", "anchor"])
def test_memory_starts_as_the_short_term_feature(mode: str) -> None:
    short = torch.randn(1, C, 4, 4)
    assert LongTermMemory(C, mode)(None, short, rebuilt=True) is short


def test_gated_memory_starts_slow() -> None:
    memory = LongTermMemory(C)
    both = torch.randn(1, 2 * C, 4, 4)
    z = torch.sigmoid(memory.update_gate(both))
    assert 0.0 < z.mean() < 0.3  # bias -2: sigmoid(-2) ~ 0.12


def test_forcing_the_update_gate_shut_keeps_the_memory_and_open_takes_the_candidate() -> None:
    memory_module = LongTermMemory(C)
    memory, short = torch.randn(1, C, 4, 4), torch.randn(1, C, 4, 4)
    nn.init.zeros_(memory_module.update_gate.weight)
    with torch.no_grad():
        memory_module.update_gate.bias.fill_(-1e4)  # z == 0
        kept = memory_module(memory, short, rebuilt=False)
        for _ in range(3):
            kept = memory_module(kept, torch.randn_like(short), rebuilt=False)
        memory_module.update_gate.bias.fill_(1e4)  # z == 1
        taken = memory_module(memory, short, rebuilt=False)
        r = torch.sigmoid(memory_module.reset_gate(torch.cat((memory, short), dim=1)))
        candidate = memory_module.candidate(torch.cat((r * memory, short), dim=1))
    assert torch.equal(kept, memory)
    assert torch.equal(taken, candidate)


def test_anchor_memory_stays_until_the_feature_is_rebuilt() -> None:
    memory_module = LongTermMemory(C, "anchor")
    memory, short = torch.randn(1, C, 4, 4), torch.randn(1, C, 4, 4)
    assert memory_module(memory, short, rebuilt=False) is memory
    assert memory_module(memory, short, rebuilt=True) is short


def test_only_the_gated_memory_has_parameters() -> None:
    """The gates and the candidate exist where they are used; "anchor" is a rule without weights."""
    assert {key.split(".")[0] for key in LongTermMemory(C).state_dict()} == {"update_gate", "reset_gate", "candidate"}
    assert not LongTermMemory(C, "anchor").state_dict()


def test_unknown_memory_mode_raises_a_config_error() -> None:
    with pytest.raises(ConfigError, match="gated"):
        LongTermMemory(C, "lstm")  # type: ignore[arg-type]


def test_gathering_starts_as_the_exact_identity_on_the_short_term_feature() -> None:
    gathering = LongTermContextGathering(C, key_channels=8, heads=2, max_keys=16)
    short, memory = torch.randn(2, C, 8, 8), torch.randn(2, C, 8, 8)
    fused = gathering(short, memory)
    assert torch.equal(fused, short)


def test_trained_gathering_uses_the_memory_and_every_parameter_learns() -> None:
    gathering = LongTermContextGathering(C, key_channels=8, heads=2, max_keys=16)
    nn.init.normal_(gathering.out.weight, std=0.1)
    nn.init.normal_(gathering.attention.null_key)
    short, memory = torch.randn(1, C, 8, 8), torch.randn(1, C, 8, 8)
    fused = gathering(short, memory)
    assert not torch.equal(fused, short) and not torch.equal(fused, gathering(short, memory + 1))
    fused.square().sum().backward()
    still = [name for name, p in gathering.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not still, f"parameters without a gradient: {still}"
