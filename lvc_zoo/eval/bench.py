"""Benchmark a codec: parameters, MACs per frame, coding time split into network and entropy
coding, peak memory.

    codec ─► count_parameters ─────────────► total / intra / inter
          ─► count_macs (FakeTensorMode) ──► MACs of an I frame and a steady-state P frame
          ─► time_coding (real frames) ────► estimate / encode / decode ms per I and P frame,
                                             each split into network and entropy coding
          ─► BenchResult ─► format_bench (text) / to_dict (JSON)
                        └─► Baseline (an earlier run's JSON) ─► ratio column "vs base"

[choice] MACs are counted by `torch.utils.flop_counter.FlopCounterMode` (MACs = FLOPs / 2)
while the networks run under `FakeTensorMode`: tensors carry shapes only, so counting a
1080p frame takes a few seconds and no memory. The counter sees convolutions and matrix
products; grid-sample warps, interpolation and elementwise operations are not counted (the
reference measurement of the official DCVC-DC code counts the same way). Deformable
convolutions (torchvision's `deform_conv2d`, LSTVC's PGMC) count as the convolution they
compute (`deform_conv_flops`), without the bilinear sampling of their inputs. The P frame
counted is the third frame of the clip (I, P, P), whose buffer holds every reference, as
in any later frame. If a model's code path cannot run on fake tensors, the count falls back
to real tensors at the requested size and says so in `MacCount.method`.

[choice] Time split: every frame is coded through the codec's own loop with its `Coder`
wrapped in a `TimedCoder`, which adds up the wall time spent inside the coder's calls.
entropy = that time (estimate: rounding and likelihood bits; encode: the same plus
scale-table indices, range coding and the final flush; decode: table indices and range
decoding); network = the frame's time minus the entropy time. On CUDA the device is
synchronised around every timed call, so kernels are charged to the part that launched them.

[choice] Peak memory: on CUDA `torch.cuda.max_memory_allocated` over the timed runs
(weights included); on the CPU the increase of the process's maximum resident set size
(`resource.getrusage`) over the timed runs, which is 0 when an earlier peak of the process
was higher.

[choice] Baseline: any earlier result's JSON (`to_dict`, what `lvc-zoo bench --json` writes)
serves as a baseline. `Baseline.read` keeps its settings and the total ms per path and frame
type; `format_bench` then adds a column with this run's total / the baseline's, so a
slowdown shows at once. Comparing runs of other settings (model, size, frames, quality,
device, threads, parameter count) is refused: their times are not comparable.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils.flop_counter import FlopCounterMode

from .. import __version__
from ..coding.bitstream import CodedFrame
from ..coding.estimate import Coder, Estimate
from ..data import pan_clip
from ..errors import InputError
from ..models.codec import CoderMap, VideoCodec
from ..runtime import synchronize

__all__ = [
    "BenchResult",
    "Baseline",
    "ParamCount",
    "deform_conv_flops",
    "flop_counter",
    "MacCount",
    "TimeSplit",
    "PathTiming",
    "Timing",
    "Memory",
    "TimedCoder",
    "bench",
    "bench_clip",
    "count_parameters",
    "count_macs",
    "time_coding",
    "format_bench",
]

PAN_STEP = (0, 4)
"""(dy, dx) pixels per frame of the benchmark clip's camera pan (real motion for the P frames)."""

PATHS = ("estimate", "encode", "decode")
"""The coding paths `time_coding` times, in report order."""
FRAME_KINDS = (("I", "i_frame"), ("P", "p_frame"))
"""(frame type, field of `PathTiming`) of the timed frame kinds, in report order."""
BASELINE_SETTINGS = ("model", "width", "height", "frames", "quality", "device", "threads")
"""Settings two bench runs must share for their times to be compared (and the parameter count)."""

TIME_SPLIT_METHOD = (
    "entropy = wall time inside the Coder's calls (estimate: rounding + likelihood bits; encode: that + "
    "scale-table indices + range coding + flush; decode: table indices + range decoding); "
    "network = frame time - entropy"
)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ParamCount:
    """Parameters of a codec: all of them, and those of its I-frame and P-frame networks."""

    total: int
    intra: int
    inter: int


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates of one frame of `width` x `height`, coded padded to `coded_width` x `coded_height`.

    Attributes:
        i_frame: MACs of an I frame.
        p_frame: MACs of a steady-state P frame (the third frame after an I frame).
        p_frame_by_module: P-frame MACs per top-level module class the counter saw.
        method: how they were counted (fake or real tensors, what is counted).
    """

    width: int
    height: int
    coded_width: int
    coded_height: int
    i_frame: int
    p_frame: int
    p_frame_by_module: dict[str, int]
    method: str


@dataclass(frozen=True)
class TimeSplit:
    """Milliseconds per frame: all of it, and its network and entropy-coding parts."""

    total_ms: float
    network_ms: float
    entropy_ms: float


@dataclass(frozen=True)
class PathTiming:
    """One coding path's time per I frame and per P frame (P: mean over the clip's P frames)."""

    i_frame: TimeSplit
    p_frame: TimeSplit


@dataclass(frozen=True)
class Timing:
    """Times of the three coding paths over the benchmark clip.

    Each split is the run with the median total time among `runs` runs, after `warmup`
    discarded runs.

    Attributes:
        estimate: `codec.estimate` (networks + likelihood bits, no entropy coder).
        encode: `codec.compress` (networks + range coder).
        decode: `codec.decompress` (decoder-side networks + range decoder).
        decode_exact: every run decoded exactly the encoder's reconstruction.
        method: what "network" and "entropy" mean.
    """

    estimate: PathTiming
    encode: PathTiming
    decode: PathTiming
    runs: int
    warmup: int
    decode_exact: bool
    method: str = TIME_SPLIT_METHOD


@dataclass(frozen=True)
class Memory:
    """Peak memory of the timed runs in MiB, and how it was measured."""

    peak_mib: float
    method: str


@dataclass(frozen=True)
class BenchResult:
    """Everything `bench` measured; `to_dict` gives its JSON form."""

    model: str
    weights: str
    width: int
    height: int
    frames: int
    frame_types: list[str]
    quality: int
    device: str
    threads: int
    params: ParamCount
    macs: MacCount
    timing: Timing
    memory: Memory
    torch_version: str
    lvc_zoo_version: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with the same field names, nested."""
        return asdict(self)


@dataclass(frozen=True)
class Baseline:
    """An earlier bench run to compare against: its settings and total ms per (path, frame type).

    Attributes:
        source: where it was read from (for the report).
        settings: the `BASELINE_SETTINGS` of that run, plus "params" (its total parameter count).
        total_ms: total ms per frame by (path, frame type), e.g. ("encode", "P").
    """

    source: str
    settings: dict[str, Any]
    total_ms: dict[tuple[str, str], float]

    @classmethod
    def read(cls, path: str | Path) -> Baseline:
        """The baseline in `path`, a bench result's JSON (`BenchResult.to_dict`, `lvc-zoo bench --json`).

        Raises:
            InputError: the file is not JSON or lacks a setting or a positive total time.
            OSError: the file cannot be read.
        """
        text = Path(path).read_text()
        fix = "use a file written by `lvc-zoo bench --json`"
        try:
            data = json.loads(text)
            settings = {name: data[name] for name in BASELINE_SETTINGS}
            settings["params"] = data["params"]["total"]
            total_ms = {
                (name, kind): float(data["timing"][name][field]["total_ms"]) for name in PATHS for kind, field in FRAME_KINDS
            }
        except json.JSONDecodeError as err:
            raise InputError(f"baseline {path} is not JSON ({err.msg}, line {err.lineno}): {fix}.") from None
        except KeyError as err:
            raise InputError(f"baseline {path} is not a bench result (no field {err}): {fix}.") from None
        except (TypeError, ValueError):
            raise InputError(f"baseline {path} is not a bench result (fields of the wrong type): {fix}.") from None
        if not all(math.isfinite(ms) and ms > 0 for ms in total_ms.values()):
            raise InputError(f"baseline {path} holds a time that is not a positive number: {fix}.")
        return cls(str(path), settings, total_ms)

    def check_comparable(self, settings: Mapping[str, Any]) -> None:
        """Raise InputError naming every setting in which `settings` differ from the baseline's."""
        differ = [
            f"{name} {settings[name]} (baseline: {self.settings[name]})" for name in self.settings if settings[name] != self.settings[name]
        ]
        if differ:
            raise InputError(
                f"baseline {self.source} was measured with other settings: {', '.join(differ)}; "
                "rerun with the baseline's settings or save a new baseline with --json."
            )

    def ratio(self, result: BenchResult, path: str, frame_type: str) -> float:
        """`result`'s total time of `path` and `frame_type` ("I" or "P") over the baseline's."""
        field = dict(FRAME_KINDS)[frame_type]
        return getattr(getattr(result.timing, path), field).total_ms / self.total_ms[(path, frame_type)]


# ----------------------------------------------------------------------------- parameters
def count_parameters(codec: VideoCodec) -> ParamCount:
    """Number of parameters of `codec`, of `codec.intra` and of `codec.inter`."""

    def count(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    return ParamCount(total=count(codec), intra=count(codec.intra), inter=count(codec.inter))


# ----------------------------------------------------------------------------- MACs
def deform_conv_flops(
    input_shape: Sequence[int], weight_shape: Sequence[int], *args: Any, out_shape: Sequence[int], **kwargs: Any
) -> int:
    """FLOPs of torchvision's deform_conv2d: those of the convolution it computes (2 per MAC).

    (B, C_in, H, W) input, (C_out, C_in / groups, K_h, K_w) weight, (B, C_out, H', W') output;
    the bilinear sampling at the offsets is not counted, like `warp`'s.
    """
    batch, out_channels, out_h, out_w = out_shape
    return 2 * batch * out_channels * out_h * out_w * math.prod(weight_shape[1:])


def flop_counter() -> FlopCounterMode:
    """A silent FlopCounterMode that also counts deformable convolutions (torch.ops.torchvision exists once
    the layers, which use torchvision, are imported)."""
    return FlopCounterMode(display=False, custom_mapping={torch.ops.torchvision.deform_conv2d: deform_conv_flops})


def count_macs(
    codec: VideoCodec, width: int, height: int, quality: int | None = None, fake: bool = True
) -> MacCount:
    """MACs of an I frame and of a steady-state P frame of `width` x `height`.

    Runs the networks' `code()` with an `Estimate` coder under `FakeTensorMode` (shapes
    only); falls back to real random frames if the model's code path needs real values.

    Args:
        codec: the model (its weights stay untouched and are not copied).
        width, height: frame size; frames are padded to `codec.padding_multiple` as in coding.
        quality: quality to code at; None uses `codec.quality` (MACs do not depend on it
            for the zoo's models).
        fake: count under FakeTensorMode (the default); False runs real tensors (slow and
            memory-hungry at large sizes; tests use it to check the fake count).
    """
    quality = codec.check_quality(quality)
    how = "FlopCounterMode on real tensors"
    counts = None
    if fake:
        try:
            with FakeTensorMode(allow_non_fake_inputs=True):
                counts = _count_three_frames(codec, width, height, quality)
            how = "FlopCounterMode under FakeTensorMode (shapes only)"
        except (RuntimeError, NotImplementedError) as err:  # the code path needs real values
            how = f"FlopCounterMode on real tensors (fake tensors failed: {type(err).__name__})"
    if counts is None:
        counts = _count_three_frames(codec, width, height, quality)
    i_macs, p_macs, by_module, (coded_h, coded_w) = counts
    method = (
        f"{how}; MACs = FLOPs / 2 of convolutions and matrix products (warps, interpolation and "
        "elementwise ops not counted); P = third frame of I, P, P"
    )
    return MacCount(width, height, coded_w, coded_h, i_macs, p_macs, by_module, method)


def _count_three_frames(
    codec: VideoCodec, width: int, height: int, quality: int
) -> tuple[int, int, dict[str, int], tuple[int, int]]:
    """Code I, P, P frames of random content; MACs of the I frame and of the last P frame."""
    padded = codec.padded_size(height, width)
    device = codec.device
    with torch.inference_mode():
        frames = [torch.rand(1, 3, *padded, device=device) for _ in range(3)]
        with flop_counter() as intra_counter:
            x_hat = codec.intra.code(frames[0], padded, quality, Estimate("round"))
        dpb = codec.inter.start(x_hat, 0)
        _, dpb = codec.inter.code(frames[1], dpb, quality, Estimate("round"))
        with flop_counter() as inter_counter:
            codec.inter.code(frames[2], dpb, quality, Estimate("round"))
    by_module = {
        name: sum(ops.values()) // 2
        for name, ops in inter_counter.get_flop_counts().items()
        if name != "Global" and "." not in name
    }
    return intra_counter.get_total_flops() // 2, inter_counter.get_total_flops() // 2, by_module, padded


# ----------------------------------------------------------------------------- timing
class TimedCoder:
    """A `Coder` that delegates to `coder` and adds the wall time of its calls to `seconds`.

    Other attributes (e.g. `Encode.writer`, `Estimate.bits`) are read through to `coder`.

    Args:
        coder: the coder to time (`Estimate`, `Encode`, `Decode`, ...).
        device: the device the model runs on; CUDA is synchronised around every call.
    """

    def __init__(self, coder: Coder, device: torch.device) -> None:
        self.coder = coder
        self.device = device
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.coder, name)

    def time(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `call(*args, **kwargs)` and add its wall time to `seconds`."""
        synchronize(self.device)
        start = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            synchronize(self.device)
            self.seconds += time.perf_counter() - start

    def code_factorized(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.time(self.coder.code_factorized, *args, **kwargs)

    def code_conditional(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.time(self.coder.code_conditional, *args, **kwargs)


@dataclass(frozen=True)
class _FrameTime:
    total_s: float
    entropy_s: float


def _timed_clip(
    codec: VideoCodec,
    frames: Tensor | None,
    types: Sequence[str],
    size: tuple[int, int],
    quality: int,
    coders_for: Callable[[int], CoderMap],
    finish: Callable[[Mapping[str, TimedCoder]], None] = lambda coders: None,
) -> Iterator[tuple[Tensor, Mapping[str, TimedCoder], _FrameTime]]:
    """Each frame of the codec's coding loop, its timed coders by chunk, and its times.

    Chunks that share one coder (estimation) share one `TimedCoder`. `finish(coders)` runs
    after the frame's network (e.g. the encoder's flush) and counts as entropy coding.
    """
    device = codec.device

    def timed_coders(index: int) -> dict[str, TimedCoder]:
        timed: dict[int, TimedCoder] = {}
        return {name: timed.setdefault(id(coder), TimedCoder(coder, device)) for name, coder in coders_for(index).items()}

    clip = codec.code_clip(frames, types, size, quality, timed_coders)  # the loop behind estimate / compress / decompress
    while True:
        synchronize(device)
        start = time.perf_counter()
        try:
            x_hat, coders = next(clip)
        except StopIteration:
            return
        distinct = list({id(coder): coder for coder in coders.values()}.values())
        distinct[0].time(finish, coders)
        synchronize(device)
        yield x_hat, coders, _FrameTime(time.perf_counter() - start, sum(coder.seconds for coder in distinct))


def _run_once(codec: VideoCodec, frames: Tensor, types: list[str], quality: int) -> tuple[dict[str, list[_FrameTime]], bool]:
    """Estimate, encode and decode the clip once; per-frame times of each path and exactness of decode."""
    size = (frames.shape[-2], frames.shape[-1])
    times: dict[str, list[_FrameTime]] = {}
    with torch.inference_mode():
        estimated = _timed_clip(
            codec, frames, types, size, quality, lambda index: codec.shared_coders(types[index], Estimate(mode="round"))
        )
        times["estimate"] = [t for _, _, t in estimated]

        coded: list[CodedFrame] = []
        recons: list[Tensor] = []

        def flush(coders: Mapping[str, TimedCoder]) -> None:
            chunks = {name: coder.writer.finish() for name, coder in coders.items()}
            coded.append(CodedFrame(types[len(coded)], chunks))

        encoded = _timed_clip(codec, frames, types, size, quality, lambda index: codec.encode_coders(types[index]), flush)
        times["encode"] = []
        for x_hat, _, frame_time in encoded:
            recons.append(x_hat)
            times["encode"].append(frame_time)

        decoded = _timed_clip(codec, None, types, size, quality, lambda index: codec.decode_coders(coded[index]))
        times["decode"] = []
        exact = True
        for index, (x_hat, _, frame_time) in enumerate(decoded):
            exact = exact and torch.equal(x_hat, recons[index])
            times["decode"].append(frame_time)
    return times, exact


def _median_split(runs: list[list[_FrameTime]]) -> TimeSplit:
    """The split of the run whose (per-frame mean) total is the median; runs hold one frame type's times."""
    means = [
        _FrameTime(statistics.fmean(t.total_s for t in run), statistics.fmean(t.entropy_s for t in run)) for run in runs
    ]
    ranked = sorted(means, key=lambda t: t.total_s)
    median = ranked[(len(ranked) - 1) // 2]
    return TimeSplit(
        total_ms=median.total_s * 1e3,
        network_ms=(median.total_s - median.entropy_s) * 1e3,
        entropy_ms=median.entropy_s * 1e3,
    )


def time_coding(
    codec: VideoCodec, frames: Tensor, quality: int | None = None, runs: int = 3, warmup: int = 1
) -> tuple[Timing, Memory]:
    """Time estimate, encode and decode of `frames` (only frame 0 intra) and measure peak memory.

    Args:
        codec: the model, on its device and in eval mode.
        frames: (T, 3, H, W) RGB in [0, 1], T >= 2.
        quality: quality to code at; None uses `codec.quality`.
        runs: timed runs; each split is the run with the median total.
        warmup: discarded runs before them.
    Returns: the timing and the peak memory of the warm-up and timed runs.
    """
    quality = codec.check_quality(quality)
    frames = codec.check_frames(frames).to(codec.device)
    if frames.shape[0] < 2:
        raise InputError(f"the benchmark clip needs an I frame and at least one P frame, got {frames.shape[0]} frame(s).")
    if runs < 1 or warmup < 0:
        raise InputError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}.")
    types = codec.frame_types(frames.shape[0], intra_period=-1)
    device = codec.device

    memory = _MemoryMeter(device)
    with memory:
        for _ in range(warmup):
            _run_once(codec, frames, types, quality)
        results = [_run_once(codec, frames, types, quality) for _ in range(runs)]

    def path(name: str) -> PathTiming:
        intra = [[t for t, kind in zip(times[name], types) if kind == "I"] for times, _ in results]
        inter = [[t for t, kind in zip(times[name], types) if kind == "P"] for times, _ in results]
        return PathTiming(i_frame=_median_split(intra), p_frame=_median_split(inter))

    timing = Timing(
        estimate=path("estimate"),
        encode=path("encode"),
        decode=path("decode"),
        runs=runs,
        warmup=warmup,
        decode_exact=all(exact for _, exact in results),
    )
    return timing, memory.result()


class _MemoryMeter:
    """Context manager measuring the peak memory of what runs inside it (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mib = 0.0
        self._before = 0

    def __enter__(self) -> _MemoryMeter:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._before = _max_rss_bytes()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self.peak_mib = (_max_rss_bytes() - self._before) / 2**20

    def result(self) -> Memory:
        if self.device.type == "cuda":
            method = "torch.cuda.max_memory_allocated during warm-up and timed runs (weights included)"
        else:
            method = "increase of the process max RSS (resource.getrusage) during warm-up and timed runs"
        return Memory(peak_mib=self.peak_mib, method=method)


def _max_rss_bytes() -> int:
    """The process's maximum resident set size so far, in bytes."""
    import resource  # POSIX only; imported here so the module imports everywhere

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # macOS reports bytes, Linux KiB


# ----------------------------------------------------------------------------- clip and driver
def bench_clip(frames: int, width: int, height: int) -> Tensor:
    """A (frames, 3, height, width) clip panning across a photo (skimage's astronaut), scaled up when small.

    Real content and real motion, so the P frames and the entropy coder see realistic symbols.
    """
    image = torch.from_numpy(np.ascontiguousarray(skimage.data.astronaut())).permute(2, 0, 1).float() / 255
    travel_y, travel_x = ((frames - 1) * abs(step) for step in PAN_STEP)
    scale = max((height + travel_y) / image.shape[1], (width + travel_x) / image.shape[2], 1.0)
    if scale > 1.0:
        size = (math.ceil(image.shape[1] * scale), math.ceil(image.shape[2] * scale))
        image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0].clamp(0, 1)
    return pan_clip(image.permute(1, 2, 0), frames, (height, width), step=PAN_STEP)


def bench(
    codec: VideoCodec,
    width: int = 256,
    height: int = 256,
    frames: int = 4,
    quality: int | None = None,
    runs: int = 3,
    warmup: int = 1,
    weights: str = "",
    baseline: Baseline | None = None,
) -> BenchResult:
    """Measure `codec`: parameters, MACs per frame, coding times and peak memory.

    Args:
        codec: the model, on the device to measure and in eval mode.
        width, height: frame size.
        frames: clip length: 1 I frame and frames - 1 P frames (>= 2).
        quality: quality to code at; None uses `codec.quality`.
        runs, warmup: timed and discarded runs (see `time_coding`).
        weights: what the weights are, for the report (e.g. a directory, "random").
        baseline: an earlier run this one will be compared with; checked before measuring
            (`Baseline.check_comparable`), so a mismatch fails at once.
    Returns: a `BenchResult`; `format_bench` prints it, `to_dict` gives its JSON form.
    """
    quality = codec.check_quality(quality)
    if frames < 2:
        raise InputError(f"the benchmark needs an I frame and at least one P frame: use 2 or more frames, not {frames}.")
    settings = {
        "model": codec.model_name or type(codec).__name__,
        "width": width,
        "height": height,
        "frames": frames,
        "quality": quality,
        "device": str(codec.device),
        "threads": torch.get_num_threads(),
    }
    params = count_parameters(codec)
    if baseline is not None:
        baseline.check_comparable({**settings, "params": params.total})
    clip = bench_clip(frames, width, height)
    macs = count_macs(codec, width, height, quality)
    timing, memory = time_coding(codec, clip, quality, runs, warmup)
    return BenchResult(
        **settings,
        weights=weights,
        frame_types=codec.frame_types(frames, intra_period=-1),
        params=params,
        macs=macs,
        timing=timing,
        memory=memory,
        torch_version=torch.__version__,
        lvc_zoo_version=__version__,
    )


# ----------------------------------------------------------------------------- report
def format_bench(result: BenchResult, baseline: Baseline | None = None) -> str:
    """A human-readable report of `result` (several lines, no trailing newline).

    With a `baseline`, the time table gains a "vs base" column: this run's total / the baseline's.
    """
    r, macs, timing = result, result.macs, result.timing
    p_count = r.frame_types.count("P")
    threads = f"{r.threads} CPU thread{'s' if r.threads != 1 else ''}"
    lines = [
        f"{r.model} at {r.width}x{r.height} (coded as {macs.coded_width}x{macs.coded_height}), quality {r.quality}, "
        f"{r.frames} frames (1 I + {p_count} P), {r.device}, {threads}",
        f"weights: {r.weights}",
        "",
        f"parameters    total {r.params.total:,}   intra {r.params.intra:,}   inter {r.params.inter:,}",
        f"MACs/frame    I {_giga(macs.i_frame)}   P {_giga(macs.p_frame)}",
        f"              {macs.method}",
        "",
        f"time, ms/frame (run with the median total of {timing.runs}, after {timing.warmup} warm-up run(s))",
        f"  {'path':<9}{'frame':<7}{'total':>10}{'network':>10}{'entropy':>10}" + (f"{'vs base':>10}" if baseline else ""),
    ]
    for name in PATHS:
        path: PathTiming = getattr(timing, name)
        for frame_type, field in FRAME_KINDS:
            split: TimeSplit = getattr(path, field)
            label = name if frame_type == "I" else ""
            ratio = f"{baseline.ratio(result, name, frame_type):>9.2f}x" if baseline else ""
            lines.append(
                f"  {label:<9}{frame_type:<7}{split.total_ms:>10.1f}{split.network_ms:>10.1f}{split.entropy_ms:>10.1f}{ratio}"
            )
    lines.append(f"  {timing.method}")
    if baseline:
        lines.append(f"  vs base = total / the total of the baseline {baseline.source} (above 1.00x: slower)")
    lines += [
        f"  decode reproduces the encoder's reconstruction exactly: {'yes' if timing.decode_exact else 'NO'}",
        "",
        f"peak memory   {r.memory.peak_mib:.1f} MiB ({r.memory.method})",
    ]
    return "\n".join(lines)


def _giga(macs: int) -> str:
    return f"{macs / 1e9:,.2f} G"
