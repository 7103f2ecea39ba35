"""The README's fine-tuning session: `lightning fit -c recipes/finetune_tiny.yaml --data.root VIDEOS`
on generated MP4s, its memory check, its run folder, and the export that follows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.cli.main import main as lvc_zoo_main
from lvc_zoo.data import write_video
from lvc_zoo.data.synthetic import TRAINING_PHOTOS, load_photo, pan_clip
from lvc_zoo.errors import ConfigError
from lvc_zoo.training.memory import MemoryCheck, MemoryNeed, available_memory

from fit_testing import RECIPES, cli_sandbox, state_digest  # noqa: F401 (a fixture)

RECIPE = RECIPES / "finetune_tiny.yaml"


def my_videos(folder: Path, count: int = 3, side: int = 64, frames: int = 5) -> Path:
    """`count` MP4s (PyAV, H.264) of camera pans across the training photos, side x (side + 16)."""
    for k in range(count):
        photo = load_photo(TRAINING_PHOTOS[k])
        write_video(folder / f"clip{k}.mp4", pan_clip(photo, frames, (side, side + 16), step=(1, 4)))
    return folder


def documented(videos: Path, *extra: str) -> list[str]:
    """The README's command with a test's small sizes: 2 steps, 32-pixel crops, batch 2 (the recipe's 5 frames)."""
    return [
        "fit", "-c", str(RECIPE), "--data.root", str(videos),
        "--trainer.max_steps", "2", "--trainer.val_check_interval", "2", "--trainer.limit_val_batches", "1",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--data.crop", "32", "--data.val_crop", "32", "--data.batch_size", "2", "--data.num_workers", "0", *extra,
    ]


@pytest.mark.slow
def test_the_readme_session_fine_tunes_exports_and_resumes(tmp_path: Path, cli_sandbox: None, capsys: pytest.CaptureFixture[str]) -> None:
    videos = my_videos(tmp_path / "my_videos")
    assert lvc_zoo_main(documented(videos)) == 0
    err = capsys.readouterr().err
    assert "initialised from" in err and "memory check: batches of 2 x 5 frames at 32x32 need about" in err
    run = tmp_path / "runs" / "finetune_tiny"
    assert (run / "checkpoints" / "last.ckpt").is_file()  # the recipe's run folder, under the working directory
    assert lvc_zoo_main(["export", str(run / "checkpoints" / "last.ckpt"), "--model", "dcvc_dc_tiny", "-o", "my_tiny"]) == 0
    tuned = lvc_zoo.load("dcvc_dc_tiny", weights="my_tiny")
    assert state_digest(tuned) != state_digest(lvc_zoo.load("dcvc_dc_tiny"))  # it trained
    # a second fresh run into the same folder is refused in one line: it would leave a second last checkpoint
    assert lvc_zoo_main(documented(videos)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "error" in line] == err[-1:]  # one line, and no traceback
    assert err[-1].startswith("lightning: error: ") and "already holds a run's last checkpoint: resume it with --ckpt_path last" in err[-1]


@pytest.mark.slow
def test_fast_dev_run_leaves_no_checkpoint(tmp_path: Path, cli_sandbox: None) -> None:
    videos = my_videos(tmp_path / "my_videos", count=2)
    assert lvc_zoo_main([*documented(videos), "--trainer.fast_dev_run", "true"]) == 0
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("budget", "label", "advice"),
    [
        (2 * 2**30, "a test's 2 GiB", r"use --data\.batch_size [1-9]\d*\b"),
        (60 * 2**20, "a test's 60 MiB", r"not even one clip fits: lower --data\.crop or --data\.frames"),
    ],
    ids=["names_a_batch_that_fits", "says_when_no_clip_fits"],
)
def test_a_batch_that_does_not_fit_stops_with_one_line_naming_one_that_does(
    budget: int, label: str, advice: str,
    tmp_path: Path, cli_sandbox: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("lvc_zoo.training.memory.available_memory", lambda device: (budget, label))
    videos = my_videos(tmp_path / "my_videos", count=2)
    assert lvc_zoo_main([*documented(videos), "--data.batch_size", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "error" in line.lower()] == err[-1:]  # one line, and no traceback
    line = err[-1]
    assert line.startswith("lightning: error: batches of 64 x 5 frames at 32x32 need about")
    assert re.search(rf"available \({label}\): {advice}", line), line
    assert not list(tmp_path.rglob("*.ckpt"))


def test_memory_need_names_the_largest_batch_that_fits() -> None:
    need = MemoryNeed(fixed=100, per_clip=50, headroom=1.5)
    assert need.total(4) == 450
    assert need.batch_that_fits(450) == 4 and need.batch_that_fits(449) == 3 and need.batch_that_fits(100) == 0
    assert available_memory(torch.device("cpu"))[0] > 0
    with pytest.raises(ConfigError, match="headroom must be a number >= 1"):
        MemoryCheck(headroom=0.5)


@pytest.mark.slow
def test_the_estimate_grows_with_the_crop_and_the_frames() -> None:
    codec = lvc_zoo.load("dcvc_dc_tiny")  # its recipe: the default, one "all" stage
    check = MemoryCheck()
    small = check.estimate(codec, 1, 2, 32, 0).per_clip
    assert check.estimate(codec, 1, 2, 64, 0).per_clip == pytest.approx(4 * small, rel=0.01)
    assert check.estimate(codec, 1, 1, 32, 0).per_clip < small  # one frame coded, not two
