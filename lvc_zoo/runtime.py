"""Run-time helpers shared by the command line, evaluation, benchmarks and the coding loop.

Timing of generator-driven coding loops, per-frame progress bars, thread counts, the process's
memory allocator settings and atomic file writes live here, below `cli` and `eval`, so
neither imports the other.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor, nn
from tqdm import tqdm

__all__ = [
    "timed",
    "synchronize",
    "progress",
    "torch_threads",
    "keep_freed_memory",
    "ChannelsLastWeights",
    "atomic_path",
    "write_atomic",
]

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


KEEP_MEMORY_ENV = "LVC_ZOO_KEEP_MEMORY"
"""Set to 0 to leave the C allocator as it is (see `keep_freed_memory`)."""

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4  # glibc's mallopt parameter numbers (malloc.h)
_ALLOCATOR_SETTINGS = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
_allocator_tuned = False


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for reuse instead of returning it to the system; once per process.

    A codec frame allocates and frees hundreds of feature maps of 1-80 MB. glibc serves each
    one above its mmap threshold with a fresh mapping and unmaps it when freed, so every
    allocation pays page faults and zeroing by the kernel: a fifth to a quarter of CPU coding
    time at 256x256 (profiled: the convolutions' first writes). This sets, process-wide,
    `M_MMAP_MAX` 0 (large blocks come from the heap and are reused), `M_TRIM_THRESHOLD` 1 GiB
    and `M_TOP_PAD` 64 MiB (freed heap up to that size stays mapped): the process keeps up to
    about its peak coding memory after a clip, and numbers are unchanged (only where memory
    comes from). The coding loop calls it; it does nothing outside glibc (macOS, Windows,
    musl), when a replacement allocator such as jemalloc is preloaded (glibc's settings are
    then unused), or with LVC_ZOO_KEEP_MEMORY=0 in the environment.

    Returns: whether the settings were applied by this call.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return False
    _allocator_tuned = True
    if os.environ.get(KEEP_MEMORY_ENV, "1") == "0" or not _is_glibc():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(parameter, value) == 1 for parameter, value in _ALLOCATOR_SETTINGS)


def _is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # not a GNU system
        return False


class ChannelsLastWeights:
    """Channels-last copies of some modules' convolution weights, swapped in while a block runs.

    A convolution whose weight is channels-last runs oneDNN's NHWC kernels on the CPU and
    returns a channels-last result, whatever its input's layout (a contiguous input is copied
    first; `lvc_zoo.layers.layout` keeps feature maps channels-last so that it rarely is), so
    a whole network computes channels-last without reordering every feature map into and out
    of blocked formats: 17 % less CPU time in DCVC-DC's convolutions at 256x256 (measured,
    2 threads; on CUDA it is unmeasured). The result is the same network rounded differently in the last bits, which is why a
    stream records its layout (`lvc_zoo.coding.bitstream.LAYOUTS`).

    The modules keep their contiguous parameters (state_dict, optimiser and checkpoints see
    them only); `active(modules)` sets each 4-D parameter's data to its cached channels-last
    copy for the block and back afterwards. A copy is rebuilt when its parameter changed (an
    optimiser step or `load_state_dict` moves the parameter's version or storage), so the
    cache holds about one copy of the convolution weights.
    """

    def __init__(self) -> None:
        self._copies: dict[int, tuple[tuple[int, int], Tensor]] = {}

    def _copy(self, parameter: nn.Parameter) -> Tensor:
        key = (parameter.data_ptr(), parameter._version)
        cached = self._copies.get(id(parameter))
        if cached is None or cached[0] != key:
            with torch.inference_mode(False), torch.no_grad():  # a plain tensor, usable outside inference mode too
                cached = (key, parameter.detach().contiguous(memory_format=torch.channels_last))
            self._copies[id(parameter)] = cached
        return cached[1]

    @contextmanager
    def active(self, modules: Sequence[nn.Module]) -> Iterator[None]:
        """Run the block with the 4-D parameters of `modules` held channels-last."""
        swapped: list[tuple[nn.Parameter, Tensor]] = []
        try:
            for module in modules:
                for parameter in module.parameters():
                    if parameter.dim() == 4 and not parameter.is_contiguous(memory_format=torch.channels_last):
                        swapped.append((parameter, parameter.data))
                        parameter.data = self._copy(parameter)
            yield
        finally:
            for parameter, original in reversed(swapped):
                parameter.data = original


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
