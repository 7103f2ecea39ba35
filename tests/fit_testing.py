"""Helpers of the `lightning fit` tests: a tiny Vimeo-90k tree, tiny-model CLI arguments, probe callbacks.

The callbacks are named by class_path in test configs (``fit_testing.StateHash``); a
subprocess finds them with this folder on PYTHONPATH (`subprocess_env`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
RECIPES = REPO / "recipes"
SIZE = 64


@pytest.fixture
def cli_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run the CLI in-process from `tmp_path` (recipes may name relative output folders) and undo
    the PL_* variables `seed_everything` sets."""
    monkeypatch.chdir(tmp_path)
    for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS"):
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)


class Crash(RuntimeError):
    """Raised by `CrashAtStep`: stands for a killed process (no hook or checkpoint runs after it)."""


def vimeo_tree(root: Path, train: int = 2, test: int = 1, size: int = SIZE) -> Path:
    """A Vimeo-90k septuplet layout of `train` + `test` sequences of 7 random size x size PNGs."""
    rng = np.random.default_rng(0)
    names = [f"00001/{k:04d}" for k in range(1, train + test + 1)]
    for name in names:
        folder = root / "sequences" / name
        folder.mkdir(parents=True)
        for t in range(1, 8):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"im{t}.png")
    (root / "sep_trainlist.txt").write_text("\n".join(names[:train]) + "\n")
    (root / "sep_testlist.txt").write_text("\n".join(names[train:]) + "\n")
    return root


def small_config(recipe: Path) -> str:
    """The recipe's model config at test widths (`config_class.small()`) as the JSON of ``--model.config``."""
    class_path = yaml.safe_load(recipe.read_text())["model"]["class_path"]
    module, name = class_path.rsplit(".", 1)
    return json.dumps(asdict(getattr(importlib.import_module(module), name).config_class.small()))


def tiny_args(root: Path, run_dir: Path, recipe: Path = RECIPES / "dcvc_dc.yaml") -> list[str]:
    """CLI overrides that make `recipe` run on CPU at tiny widths on `root` in seconds."""
    return [
        "--trainer.accelerator", "cpu",
        "--trainer.devices", "1",
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        "--model.config", small_config(recipe),
        "--data.root", str(root),
        "--data.crop", str(SIZE),
        "--data.batch_size", "1",
        "--data.num_workers", "0",
        "--data.val_frames", "2",
    ]


def subprocess_env() -> dict[str, str]:
    """The environment of a `lightning` subprocess: one thread, this folder importable."""
    paths = [str(TESTS), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def lightning_command() -> list[str]:
    """The installed `lightning` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "lightning"
    return [str(script)]


def state_digest(module: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer (names and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class StateHash(pl.Callback):
    """Write ``rank<R>.json`` to `out_dir`: the weights' digest at the start and end of training,
    the global step, and the sum of the first batch this rank trained on."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.record: dict[str, Any] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record["start"] = state_digest(pl_module)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.record.setdefault("first_batch_sum", float(batch.double().sum()))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record.update(end=state_digest(pl_module), global_step=trainer.global_step)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.record))


class CrashAtStep(pl.Callback):
    """Raise `Crash` when the training step `step` (0-based global step) is about to run."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            raise Crash(f"crashed before step {self.step}")
