"""`tools/demo_tiny/widen_intra.py`: the demo run's I-frame latent widened without changing what it codes."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.data.synthetic import TRAINING_PHOTOS, load_photo, pan_clip
from lvc_zoo.models import DCVCDC
from lvc_zoo.models.dcvc_dc_config import DCVCDCConfig

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "demo_tiny" / "widen_intra.py"
NARROW = dataclasses.replace(DCVCDCConfig.small(), intra_latent_channels=16)


@pytest.fixture(scope="module")
def widen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("widen_intra", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checkpoint(model: DCVCDC) -> dict:
    """The parts of a Lightning checkpoint the script reads and writes, with AdamW moments after one step on the I codec."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    frame = torch.rand(1, 3, 32, 32)
    model.code_frame(frame, "I", None, (32, 32), 1, model.shared_coders("I", Estimate(mode="noise")), 0)[0].square().mean().backward()
    optimizer.step()
    return {
        "global_step": 7,
        "state_dict": {name: tensor.detach().clone() for name, tensor in model.state_dict().items()},
        "optimizer_states": [optimizer.state_dict()],
        "hyper_parameters": {"config": dataclasses.asdict(model.config)},
    }


@pytest.mark.slow
def test_the_widened_model_reconstructs_exactly_as_before_and_costs_about_the_same(widen: ModuleType) -> None:
    torch.manual_seed(0)
    narrow = DCVCDC(NARROW)
    checkpoint = _checkpoint(narrow)
    old_state = {name: tensor.clone() for name, tensor in checkpoint["state_dict"].items()}
    widened = widen.widen_checkpoint(checkpoint, 24)

    assert widened["hyper_parameters"]["config"]["intra_latent_channels"] == 24
    wide = DCVCDC(dataclasses.replace(NARROW, intra_latent_channels=24))
    wide.load_state_dict(widened["state_dict"], strict=True)
    narrow.load_state_dict(old_state, strict=True)
    clip = pan_clip(load_photo(TRAINING_PHOTOS[0]), 2, (64, 96), (2, 4))
    for quality in (0, 3):
        before, after = narrow.eval().estimate(clip, quality), wide.eval().estimate(clip, quality)
        torch.testing.assert_close(after.recon, before.recon, rtol=0, atol=1e-6)
        assert before.bits[0] <= after.bits[0] < 1.05 * before.bits[0]
        assert after.bits[1] == pytest.approx(before.bits[1], rel=1e-4)  # the P frame is untouched


@pytest.mark.slow
def test_adam_restarts_the_widened_tensors_and_keeps_the_others(widen: ModuleType) -> None:
    torch.manual_seed(0)
    narrow = DCVCDC(NARROW)
    checkpoint = _checkpoint(narrow)
    old_moments = {index: {k: v.clone() for k, v in m.items()} for index, m in checkpoint["optimizer_states"][0]["state"].items()}
    widened = widen.widen_checkpoint(checkpoint, 24)
    wide = DCVCDC(dataclasses.replace(NARROW, intra_latent_channels=24))
    params = dict(enumerate(wide.parameters()))
    names = [name for name, _ in wide.named_parameters()]
    restarted = 0
    for index, moments in widened["optimizer_states"][0]["state"].items():
        assert moments["exp_avg"].shape == params[index].shape == moments["exp_avg_sq"].shape
        old = old_moments[index]
        if old["exp_avg"].shape != params[index].shape:
            restarted += 1
            assert names[index].startswith("intra.")
            assert moments["step"] == 0 and not moments["exp_avg"].any() and not moments["exp_avg_sq"].any()
        else:
            assert all(torch.equal(moments[k], old[k]) for k in old)
    assert restarted > 20
    torch.optim.AdamW(wide.parameters(), lr=1e-4).load_state_dict(widened["optimizer_states"][0])


def test_a_width_that_is_not_whole_quarters_is_refused(widen: ModuleType) -> None:
    with pytest.raises(ValueError, match="latent quarters"):
        widen.channel_map(16, 26, 4, 6)
