"""DDP through the installed `lightning` command: 2 CPU processes (gloo) train to identical weights,
across a stage change (other parameters frozen) and through PCFS (two optimizer steps per batch)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from fit_testing import RECIPES, lightning_command, subprocess_env, tiny_args, vimeo_tree
from lvc_zoo.training.callbacks import CHECKPOINT_KEY

STAGES = [  # step 0: the motion stage; then 4-frame clips in PCFS groups of 2 frames: 2 optimizer steps per batch
    {"name": "motion", "steps": 1, "loss": "motion", "trainable": ["inter.flow.*", "inter.mv_*"], "frames": 2},
    {"name": "pcfs", "steps": 10, "loss": "all", "trainable": ["inter.*"], "frames": 4, "group_size": 2},
]


@pytest.mark.slow
def test_two_process_ddp_ends_with_the_same_weights_on_both_ranks(tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path / "vimeo", train=4, test=1)
    probe = tmp_path / "probe"
    command = [
        *lightning_command(), "fit", "-c", str(RECIPES / "dcvc_dc.yaml"), *tiny_args(root, tmp_path / "run"),
        "--trainer.devices", "2", "--trainer.strategy", "ddp",
        "--data.frames", "4", "--model.recipe", json.dumps({"stages": STAGES}),
        "--trainer.max_steps", "3", "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
        "--trainer.callbacks", "fit_testing.StateHash", "--trainer.callbacks.out_dir", str(probe),
        "--trainer.callbacks+", "lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath", str(tmp_path / "ckpt"), "--trainer.callbacks.save_last", "true",
    ]
    done = subprocess.run(command, cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "GLOBAL_RANK: 1" in done.stderr + done.stdout and "distributed_backend=gloo" in done.stderr + done.stdout
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["global_step"] == ranks[1]["global_step"] == 3  # 1 motion step + 2 PCFS steps
    assert ranks[0]["start"] == ranks[1]["start"]  # DDP broadcast the initial weights
    assert ranks[0]["end"] == ranks[1]["end"] != ranks[0]["start"]  # trained, and in lockstep
    assert ranks[0]["first_batch_sum"] != ranks[1]["first_batch_sum"]  # each rank read its own share
    last = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 3 and len(last[CHECKPOINT_KEY]) == 2  # the random states of both ranks
