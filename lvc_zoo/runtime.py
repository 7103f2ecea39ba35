"""Run-time helpers shared by the command line, evaluation and benchmarks.

Timing of generator-driven coding loops, per-frame progress bars and atomic file writes live
here, below `cli` and `eval`, so neither imports the other.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import torch
from tqdm import tqdm

__all__ = ["timed", "synchronize", "progress", "torch_threads", "atomic_path", "write_atomic"]

T = TypeVar("T")


def timed(items: Iterator[T], device: torch.device) -> Iterator[tuple[T, float]]:
    """Each item of `items` with the wall time in ms that producing it took.

    On CUDA the device is synchronised before each time stamp, so the time covers the kernels.
    """
    while True:
        synchronize(device)
        start = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        synchronize(device)
        yield item, (time.perf_counter() - start) * 1e3


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels (CUDA only), so a time stamp covers them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def progress(total: int, desc: str, quiet: bool) -> tqdm:
    """A per-frame progress bar on stderr; off with `quiet` or when stderr is not a terminal."""
    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, disable=disable, leave=False, dynamic_ncols=True)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with `count` torch intra-op threads (0: leave the count as it is), then restore it."""
    before = torch.get_num_threads()
    if count and count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count and count != before:
            torch.set_num_threads(before)


@contextmanager
def atomic_path(path: Path, directory: bool = False) -> Iterator[Path]:
    """Yield a hidden sibling of `path` to write; rename it to `path` on success, delete it on failure.

    The sibling keeps the suffix of `path` (writers that choose the format by suffix see the right
    one). With `directory`, the sibling is a folder to fill and an existing empty folder at `path`
    is replaced; the caller checks that it is empty. A file gets the mode a plain `open` gives
    (0o666 less the umask), whatever mode its writer chose: some (safetensors) create 0o600 files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial{'' if directory else path.suffix}")
    try:
        yield partial
        if not directory:
            os.chmod(partial, 0o666 & ~_umask())
        if directory and path.is_dir():
            path.rmdir()  # os.replace cannot replace a directory everywhere
        os.replace(partial, path)
    except BaseException:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read from /proc on Linux; elsewhere set and restored, as POSIX offers no read)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through `atomic_path` (flushed to disk before the rename; nothing is left on failure)."""
    with atomic_path(path) as partial, open(partial, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return path
