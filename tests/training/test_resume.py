"""Exact resume: a run that crashes, or stops, mid-epoch and resumes with `--ckpt_path last` ends
where an uninterrupted run ends: same weights, optimizer state, global step, stage, loader
position and random state."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from fit_testing import RECIPES, Crash, cli_sandbox, tiny_args, vimeo_tree  # noqa: F401 (a fixture)
from lvc_zoo.cli import fit
from lvc_zoo.training import Stage, TrainingRecipe
from lvc_zoo.training.callbacks import CHECKPOINT_KEY, RNGStateCheckpoint, collect_rng_state, restore_rng_state

pytestmark = [pytest.mark.usefixtures("cli_sandbox"), pytest.mark.slow]

MAX_STEPS = 6  # 4 batches per epoch: epoch 0, then 2 steps of epoch 1
STOP_AT = 3  # steps 0..2 done and checkpointed; the crash hits as step 3 is about to run
RECIPE = TrainingRecipe(
    stages=[
        Stage("motion", 4, "motion", ["inter.flow.*", "inter.mv_*"], frames=2),
        Stage("all", 10, "all", ["inter.*"], frames=3),  # starts at step 4, after the resume
    ]
)


def recipe_json() -> str:
    """RECIPE as the JSON value of ``--model.recipe``."""
    stages = [vars(stage) for stage in RECIPE.stages]
    return json.dumps({"stages": stages, "lambdas": RECIPE.lambdas})


def run(root: Path, run_dir: Path, *extra: str) -> int:
    """`lightning fit` in-process on `root`: tiny DCVC-DC, batch 1, a checkpoint after every step."""
    return fit.main([
        "fit", "-c", str(RECIPES / "dcvc_dc.yaml"), *tiny_args(root, run_dir),
        "--data.frames", "3",
        "--model.recipe", recipe_json(),
        "--trainer.max_steps", str(MAX_STEPS),
        "--trainer.limit_val_batches", "0",
        "--trainer.num_sanity_val_steps", "0",
        "--trainer.callbacks", "lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.every_n_train_steps", "1",
        "--trainer.callbacks.save_top_k", "-1",
        "--trainer.callbacks.save_last", "true",
        *extra,
    ])


def checkpoint(run_dir: Path, step: int) -> dict:
    (path,) = (run_dir / "checkpoints").glob(f"epoch=*-step={step}.ckpt")
    return torch.load(path, map_location="cpu", weights_only=False)


def assert_same(a: object, b: object, where: str = "") -> None:
    """Nested dicts / lists / tensors equal exactly."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    else:
        assert a == b, where


@pytest.mark.slow
def test_crashed_or_stopped_run_resumed_from_last_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path / "vimeo", train=4, test=1)
    assert run(root, tmp_path / "straight") == 0
    straight = checkpoint(tmp_path / "straight", MAX_STEPS)
    assert straight["global_step"] == MAX_STEPS
    assert straight["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches": 2}]

    with pytest.raises(Crash):  # killed: nothing is written after the step-3 checkpoint
        run(root, tmp_path / "crashed", "--trainer.callbacks+", "fit_testing.CrashAtStep",
            "--trainer.callbacks.step", str(STOP_AT))
    # stopped with no periodic checkpoint yet: Lightning writes last.ckpt at the end of training,
    # with the epoch marked finished although one batch of it is left
    assert run(root, tmp_path / "stopped", "--trainer.max_steps", str(STOP_AT),
               "--trainer.callbacks.every_n_train_steps", "1000") == 0
    stopped = torch.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt", weights_only=False)
    assert stopped["global_step"] == STOP_AT and stopped["epoch"] == 1  # Lightning's next epoch would be 1
    for name in ("crashed", "stopped"):
        at_stop = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        assert run(root, tmp_path / name, "--ckpt_path", "last") == 0
        resumed = checkpoint(tmp_path / name, MAX_STEPS)
        assert resumed["global_step"] == MAX_STEPS, name
        assert RECIPE.stage_index_at(resumed["global_step"] - 1) == 1  # the resumed run changed stage
        assert_same(straight["state_dict"], resumed["state_dict"], f"{name}: state_dict")
        assert_same(straight["optimizer_states"], resumed["optimizer_states"], f"{name}: optimizer_states")
        assert_same(straight[CHECKPOINT_KEY], resumed[CHECKPOINT_KEY], f"{name}: rng")
        loader = resumed["loops"]["fit_loop"]["state_dict"]["combined_loader"]
        assert loader == [{"epoch": 1, "batches": 2}], name
        assert any(not torch.equal(at_stop[key], value) for key, value in resumed["state_dict"].items())  # trained on


def test_rng_state_round_trip_and_deferred_restore() -> None:
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    state = collect_rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(2), np.random.seed(2), random.seed(2)
    callback = RNGStateCheckpoint()
    trainer = type("T", (), {"world_size": 1, "global_rank": 0})()
    callback.on_load_checkpoint(trainer, None, {CHECKPOINT_KEY: [state]})  # type: ignore[arg-type]
    assert torch.rand(1).item() != expected[0][0].item()  # nothing restored at load time
    callback.on_train_batch_start(trainer, None, None, 0)  # type: ignore[arg-type]
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(again[0], expected[0]) and np.array_equal(again[1], expected[1]) and again[2] == expected[2]
    callback.on_train_batch_start(trainer, None, None, 1)  # type: ignore[arg-type]
    assert not torch.equal(torch.rand(3), expected[0])  # restored once only
    saved: dict = {}
    callback.on_save_checkpoint(trainer, None, saved)  # type: ignore[arg-type]
    assert len(saved[CHECKPOINT_KEY]) == 1  # one rank
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)  # plain tensors and values only
    assert torch.equal(loaded[CHECKPOINT_KEY][0]["torch"], saved[CHECKPOINT_KEY][0]["torch"])


def test_rng_states_of_another_world_size_are_not_restored() -> None:
    callback = RNGStateCheckpoint()
    trainer = type("T", (), {"world_size": 2, "global_rank": 1})()
    with pytest.warns(UserWarning, match="random states of 1 rank"):
        callback.on_load_checkpoint(trainer, None, {CHECKPOINT_KEY: [collect_rng_state()]})  # type: ignore[arg-type]
    assert callback.pending is None
    restore_rng_state(collect_rng_state())  # the round trip itself works on any rank
