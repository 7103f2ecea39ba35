"""Run the test conditions: code every sequence at every quality and intra period, measure, record.

Per sequence, in one worker (which loads the model once)::

    read_video ─► frames ──► encode_frames ─► write_stream ─► SEQ_ipN_qQ.lvc ─► decode_frames (the file)
         │                        │ recon ─► metrics, sha256                     │ x_hat ─► sha256 == ? ─► else BitstreamError
         └─ source_planes (YUV) ──┘
    (--estimate: estimate_frames instead; no file, no decode)

Each (sequence, intra period, quality) gives one record in the DCVC result layout
({dataset: {sequence: {"q<quality>": record}}}, one layout per intra period), with every
field of the published anchors plus explicit lvc_zoo fields (see :func:`build_record`).

[choice] Rate: with real coding, "bpp" is 8 x the stream file's size (container header and
per-frame framing included) / (W x H x frames). The per-frame bits behind ave_i/p_frame_bpp
are each frame's bytes in the container plus an equal share of the stream header, so
ave_all_frame_bpp == bpp exactly. With --estimate the bits are the likelihood estimate;
"rate_source" says which ("file" or "estimate").

[choice] The decode check compares a sha256 of each decoded frame with the encoder's
reconstruction (bit-exact, and nothing but the digests is kept in memory); metrics are
computed on the encoder's reconstruction, which the check proves equal to the decoded file.

[choice] Timing: enc_ms_per_frame is the wall time of encode_frames plus writing the
container file, dec_ms_per_frame the wall time of reading the file, parsing it and
decode_frames, each divided by the frame count; metrics are not included. test_time is the
wall time in seconds of the whole point (coding, decoding and metrics), as DCVC reports it.

[choice] Workers: sequences are distributed over `workers` spawned processes, each with
`threads` torch threads (default: this process's threads split between workers). Decoding is
exact only on the thread count that encoded, and the reconstruction itself can change with the
thread count, so numbers are reproducible for a given `threads`: pass the same one to compare
runs. Random weights (--random-weights / --small) are built from a fixed seed, so every worker
holds the same model. `device="cuda"` on a machine with several GPUs runs one worker per GPU
(untested here: no multi-GPU machine).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import lvc_zoo

from .. import errors
from ..runtime import progress, timed, write_atomic
from ..coding.bitstream import MIN_FRAME_SIDE, CodedFrame, StreamHeader, header_size, write_stream
from ..data.colour import chroma_size
from ..data.video import VideoInfo, probe_video, read_video
from ..errors import BitstreamError, ConfigError, InputError, LvcZooError
from ..models.codec import VideoCodec
from ..registry import get_spec, weights_label
from .conditions import EvalConditions, SequenceSpec, psnr_kind_of, results_path, source_planes
from .metrics import FrameMetrics, frame_metrics, msssim_skip_reason

__all__ = [
    "RANDOM_SEED",
    "TIMING_FIELDS",
    "ModelSource",
    "PointResult",
    "EvalResults",
    "resolve_model",
    "build_codec",
    "SequenceCoder",
    "evaluate",
    "build_record",
    "rate_key",
    "format_summary",
]

RANDOM_SEED = 0
"""Seed of random weights, so every worker (and every run) builds the same random model."""
_RATE_FIELDS = ("bpp", "psnr", "msssim", "psnr_y", "psnr_u", "psnr_v", "msssim_y", "msssim_u", "msssim_v")
"""The per-frame-type averages of the DCVC layout, as ave_{i,p,all}_frame_<field>."""
TIMING_FIELDS = ("test_time", "enc_ms_per_frame", "dec_ms_per_frame")
"""Record fields that measure time (they differ between runs; everything else is reproducible)."""


# ----------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class ModelSource:
    """Where every worker gets the codec from.

    Attributes:
        name: registry name.
        weights_dir: a verified local lvc_zoo weights directory; None for random weights.
        label: what the results record as "weights" (`lvc_zoo.registry.weights_label`): the
            --weights argument, the bundled directory and its sha256 pins, the registry's Hub repo,
            or the random initialisation (full or reduced test widths).
        small: random reduced-width model (tests).
    """

    name: str
    weights_dir: Path | None
    label: str
    small: bool = False

    @property
    def is_random(self) -> bool:
        """Random weights (built from RANDOM_SEED), not loaded from a directory."""
        return self.weights_dir is None


def resolve_model(name: str, weights: str | None = None, *, random_weights: bool = False, small: bool = False) -> ModelSource:
    """Check the model and find its weights once (downloading them if needed), before any worker starts.

    Raises:
        UnknownModelError, WeightsNotFoundError, ChecksumError, ConfigError: as `lvc_zoo.load`;
            ConfigError also for weights together with random weights.
    """
    from ..hub import resolve_weights

    spec = get_spec(name)
    if (random_weights or small) and weights is not None:
        raise ConfigError("--weights was given with random weights (--random-weights): drop one of the two.")
    if small:
        if not hasattr(type(spec.config), "small"):
            raise ConfigError(f"{spec.name} has no reduced test configuration; use --random-weights.")
        label = weights_label(spec, random_init=f"seed {RANDOM_SEED}, reduced test widths")
        return ModelSource(spec.name, None, label, small=True)
    if random_weights:
        return ModelSource(spec.name, None, weights_label(spec, random_init=f"seed {RANDOM_SEED}"))
    directory = resolve_weights(spec, weights)
    return ModelSource(spec.name, directory, weights_label(spec, weights))


def build_codec(source: ModelSource, device: torch.device) -> VideoCodec:
    """The codec `source` describes, on `device`, in eval mode; random weights from RANDOM_SEED."""
    if not source.is_random:
        return lvc_zoo.load(source.name, weights=str(source.weights_dir), device=device)
    spec = get_spec(source.name)
    config = type(spec.config).small() if source.small else spec.config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        codec = spec.builder(config)
    return codec.to(device).eval()


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class PointResult:
    """One rate point: a sequence coded at one quality and intra period."""

    dataset: str
    sequence: str
    intra_period: int
    quality: int
    record: dict[str, Any]  # the JSON record (build_record)


@dataclass(frozen=True)
class EvalResults:
    """Everything an evaluation produced.

    Attributes:
        model: registry name.
        weights: the weights label (ModelSource.label).
        points: every rate point, in input order, then intra period, then quality.
        notes: remarks for the user (e.g. sequences shorter than the frames asked).
    """

    model: str
    weights: str
    points: tuple[PointResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def intra_periods(self) -> tuple[int, ...]:
        """The intra periods evaluated, in first-seen order."""
        return tuple(dict.fromkeys(point.intra_period for point in self.points))

    def layout(self, intra_period: int) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        """The DCVC result layout of one intra period: {dataset: {sequence: {"q<quality>": record}}}."""
        data: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for point in self.points:
            if point.intra_period == intra_period:
                data.setdefault(point.dataset, {}).setdefault(point.sequence, {})[rate_key(point.quality)] = point.record
        return data

    def write_json(self, json_path: str | os.PathLike[str]) -> dict[int, Path]:
        """Write one results file per intra period (out.json -> out_ip32.json, ...); returns them by period."""
        written = {}
        for intra_period in self.intra_periods:
            text = json.dumps(self.layout(intra_period), indent=2, allow_nan=False) + "\n"
            written[intra_period] = write_atomic(results_path(json_path, intra_period), text.encode("utf-8"))
        return written


def rate_key(quality: int) -> str:
    """The results key of a quality: "q3"."""
    return f"q{quality}"


@dataclass(frozen=True)
class _Frame:
    """One coded frame: its type, bits (file share or estimate), estimated bits and metrics."""

    frame_type: str
    bits: float
    estimated_bits: float
    metrics: FrameMetrics


@dataclass(frozen=True)
class _Coded:
    """What coding one point produced, before it becomes a record."""

    frames: list[_Frame]
    file_bytes: int | None  # None with --estimate
    enc_ms: float
    dec_ms: float | None  # None with --estimate


def build_record(
    coded: _Coded,
    *,
    sequence: SequenceSpec,
    info: VideoInfo,
    quality: int,
    intra_period: int,
    seconds: float,
    source: ModelSource,
    fingerprint: str,
    device: torch.device,
) -> dict[str, Any]:
    """The JSON record of one point: the DCVC anchor fields, then explicit lvc_zoo fields.

    DCVC fields (per frame type ``i``, ``p`` and ``all``): ave_<t>_frame_bpp, _psnr, _msssim,
    _psnr_y/u/v, _msssim_y/u/v; frame_pixel_num, i_frame_num, p_frame_num, test_time (s), qp
    (= quality), ds_name, seq_name. A frame type with no frames averages to 0, as DCVC writes
    it. ave_*_psnr and ave_*_msssim hold the kind in "psnr_kind": "yuv611" (6:1:1 over Y, U, V)
    for YUV sources, "rgb" for PNG sources. MS-SSIM values are null where a plane is smaller
    than 176 px ("msssim_reason" says why).
    """
    pixels = info.width * info.height
    kind = psnr_kind_of(info)
    frames = coded.frames
    record: dict[str, Any] = {
        "frame_pixel_num": pixels,
        "i_frame_num": sum(f.frame_type == "I" for f in frames),
        "p_frame_num": sum(f.frame_type == "P" for f in frames),
    }
    for label, subset in (("i", [f for f in frames if f.frame_type == "I"]), ("p", [f for f in frames if f.frame_type == "P"])):
        record.update({f"ave_{label}_frame_{k}": v for k, v in _averages(subset, kind, pixels).items()})
    record["test_time"] = seconds
    record.update({f"ave_all_frame_{k}": v for k, v in _averages(frames, kind, pixels).items()})
    count = len(frames)
    colour = info.colour
    record.update(
        {
            "qp": quality,
            "ds_name": sequence.dataset,
            "seq_name": sequence.name,
            # lvc_zoo fields
            "bpp": record["ave_all_frame_bpp"],
            "bpp_estimated": sum(f.estimated_bits for f in frames) / (pixels * count),
            "rate_source": "estimate" if coded.file_bytes is None else "file",
            "file_bytes": coded.file_bytes,
            "psnr_kind": kind,
            "psnr_rgb": _mean([f.metrics.psnr_rgb for f in frames]),
            "psnr_yuv": _mean([f.metrics.psnr_yuv for f in frames]),
            "psnr_y": record["ave_all_frame_psnr_y"],
            "psnr_u": record["ave_all_frame_psnr_u"],
            "psnr_v": record["ave_all_frame_psnr_v"],
            "msssim_rgb": _mean([f.metrics.msssim_rgb for f in frames]),
            "msssim_yuv": _mean([f.metrics.msssim_yuv for f in frames]),
            "msssim_reason": _msssim_reason(info),
            "colour_matrix": None if kind == "rgb" else colour.matrix,
            "colour_range": None if kind == "rgb" else colour.range,
            "yuv_metrics_colour": str(colour),
            "enc_ms_per_frame": coded.enc_ms / count,
            "dec_ms_per_frame": None if coded.dec_ms is None else coded.dec_ms / count,
            "decode_checked": coded.file_bytes is not None,
            "frame_count": count,
            "width": info.width,
            "height": info.height,
            "intra_period": intra_period,
            "model": source.name,
            "quality": quality,
            "weights": source.label,
            "weights_fingerprint": fingerprint,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "lvc_zoo_version": lvc_zoo.__version__,
        }
    )
    return record


def _averages(frames: list[_Frame], kind: str, pixels: int) -> dict[str, float | int | None]:
    """The DCVC per-frame-type averages of `frames`; all 0 when there are none (as DCVC writes them)."""
    if not frames:
        return dict.fromkeys(_RATE_FIELDS, 0)
    m = [f.metrics for f in frames]
    yuv = kind == "yuv611"
    return {
        "bpp": _mean([f.bits / pixels for f in frames]),
        "psnr": _mean([x.psnr_yuv if yuv else x.psnr_rgb for x in m]),
        "msssim": _mean([x.msssim_yuv if yuv else x.msssim_rgb for x in m]),
        "psnr_y": _mean([x.psnr_y for x in m]),
        "psnr_u": _mean([x.psnr_u for x in m]),
        "psnr_v": _mean([x.psnr_v for x in m]),
        "msssim_y": _mean([x.msssim_y for x in m]),
        "msssim_u": _mean([x.msssim_u for x in m]),
        "msssim_v": _mean([x.msssim_v for x in m]),
    }


def _mean(values: Sequence[float | None]) -> float | None:
    """The mean, or None when any value is None (a metric that could not be computed)."""
    if any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


def _msssim_reason(info: VideoInfo) -> str | None:
    """Why some MS-SSIM fields are null, or None when all are computed."""
    frame = msssim_skip_reason(info.height, info.width, "frames")
    if frame is not None:
        return frame + "; every MS-SSIM field is null"
    chroma = msssim_skip_reason(*chroma_size(info.height, info.width), "4:2:0 chroma planes")
    if chroma is not None:
        return chroma + "; msssim_u/v and msssim_yuv (and ave_*_msssim of YUV sources) are null"
    return None


# ----------------------------------------------------------------------------- one sequence
class SequenceCoder:
    """Codes sequences with one loaded codec; what every worker (or this process) runs.

    Args:
        codec: the model, on `device`.
        source: where it came from (recorded as "weights").
        device: where it runs.
        notify: called with 1 after each frame encoded (and each decoded), for progress bars.
    """

    def __init__(self, codec: VideoCodec, source: ModelSource, device: torch.device, notify: Callable[[int], None]) -> None:
        self.codec = codec
        self.source = source
        self.device = device
        self.notify = notify
        self.fingerprint = codec.weights_fingerprint()

    def run(self, sequence: SequenceSpec, conditions: EvalConditions) -> list[PointResult]:
        """Every point of `sequence`: its intra periods x qualities."""
        frames, info = read_video(sequence.path, size=sequence.size, colour=conditions.colour, frames=conditions.frames_of(sequence))
        _check_size(sequence, info)
        planes = source_planes(sequence.path, info, info.frame_count)
        planes = [None] * info.frame_count if planes is None else list(planes)
        if len(planes) != info.frame_count:
            raise InputError(f"{sequence.path}: read {len(planes)} frames of YUV planes but {info.frame_count} of RGB; the file is corrupt.")
        with _streams_folder(conditions.output_dir) as directory:
            points = []
            for intra_period in conditions.intra_periods_of(sequence):
                for quality in conditions.qualities:
                    start = time.perf_counter()
                    if conditions.estimate:
                        coded = self._estimate(frames, planes, info, quality, intra_period)
                    else:
                        stream = directory / sequence.dataset / f"{Path(sequence.name).stem}_ip{intra_period}_q{quality}.lvc"
                        coded = self._code(sequence, frames, planes, info, quality, intra_period, stream)
                    record = build_record(
                        coded, sequence=sequence, info=info, quality=quality, intra_period=intra_period,
                        seconds=time.perf_counter() - start, source=self.source, fingerprint=self.fingerprint,
                        device=self.device,
                    )
                    points.append(PointResult(sequence.dataset, sequence.name, intra_period, quality, record))
        return points

    def _metrics(self, x_hat: Tensor, frames: Tensor, planes: list[Any], index: int, info: VideoInfo) -> FrameMetrics:
        """Metrics of frame `index`, computed where the codec runs (MS-SSIM of a 1080p frame takes seconds on a CPU)."""
        reference = None if planes[index] is None else tuple(p.to(x_hat.device) for p in planes[index])
        return frame_metrics(x_hat[0], frames[index].to(x_hat.device), info.colour, reference)

    def _estimate(self, frames: Tensor, planes: list[Any], info: VideoInfo, quality: int, intra_period: int) -> _Coded:
        results, enc_ms = [], 0.0
        for index, (estimate, ms) in enumerate(timed(self.codec.estimate_frames(frames, quality, intra_period), self.device)):
            enc_ms += ms
            metrics = self._metrics(estimate.recon, frames, planes, index, info)
            results.append(_Frame(estimate.frame_type, estimate.bits, estimate.bits, metrics))
            self.notify(1)
        return _Coded(results, None, enc_ms, None)

    def _code(
        self, sequence: SequenceSpec, frames: Tensor, planes: list[Any], info: VideoInfo, quality: int, intra_period: int, stream: Path
    ) -> _Coded:
        """Encode to `stream`, decode that file, check it bit for bit, and account bits per frame."""
        coded: list[CodedFrame] = []
        estimated, digests, metrics = [], [], []
        enc_ms = 0.0
        for index, (frame, ms) in enumerate(timed(self.codec.encode_frames(frames, quality, intra_period), self.device)):
            enc_ms += ms
            coded.append(frame.coded)
            estimated.append(frame.estimated_bits)
            digests.append(_digest(frame.recon))
            metrics.append(self._metrics(frame.recon, frames, planes, index, info))
            self.notify(1)
        start = time.perf_counter()
        colour = info.colour
        header = self.codec.stream_header(frames, quality, intra_period, fps=info.fps, colour_matrix=colour.matrix, colour_range=colour.range)
        write_atomic(stream, write_stream(header, coded))
        enc_ms += (time.perf_counter() - start) * 1e3

        dec_ms = self._decode_and_check(sequence, stream, digests, quality, intra_period)
        file_bytes = stream.stat().st_size
        bits = _file_bits_per_frame(header, coded, file_bytes)
        results = [_Frame(c.frame_type, b, e, m) for c, b, e, m in zip(coded, bits, estimated, metrics)]
        return _Coded(results, file_bytes, enc_ms, dec_ms)

    def _decode_and_check(self, sequence: SequenceSpec, stream: Path, digests: list[str], quality: int, intra_period: int) -> float:
        """Decode the stream file; BitstreamError naming the sequence and point unless every frame matches."""
        where = f"{sequence.label} at quality {quality}, intra period {intra_period} ({stream.name})"
        start = time.perf_counter()
        try:
            decoded = self.codec.decode_frames(stream.read_bytes())
        except BitstreamError as err:
            raise type(err)(f"{where}: the stream does not decode: {err}") from None
        dec_ms = (time.perf_counter() - start) * 1e3
        count = 0
        for index, (x_hat, ms) in enumerate(timed(decoded, self.device)):
            dec_ms += ms
            count += 1
            if index >= len(digests) or _digest(x_hat) != digests[index]:
                raise BitstreamError(
                    f"{where}: decoded frame {index} differs from the encoder's reconstruction; the decoder is not "
                    "exact on this machine (report it with the model, device and torch version)."
                )
            self.notify(1)
        if count != len(digests):
            raise BitstreamError(f"{where}: decoded {count} frames, the encoder coded {len(digests)}.")
        return dec_ms


def _digest(x_hat: Tensor) -> str:
    """sha256 of a frame's float values (bit-exact identity)."""
    return hashlib.sha256(x_hat.detach().to("cpu").contiguous().numpy().tobytes()).hexdigest()


def _file_bits_per_frame(header: StreamHeader, coded: list[CodedFrame], file_bytes: int) -> list[float]:
    """Each frame's bits in the file: its container bytes plus an equal share of the stream header."""
    header_bytes = header_size(header)
    frame_bytes = [len(write_stream(replace(header, frame_count=1), [frame])) - header_bytes for frame in coded]
    if header_bytes + sum(frame_bytes) != file_bytes:
        raise BitstreamError(f"the stream file has {file_bytes} bytes, its parts {header_bytes + sum(frame_bytes)}; it was changed while coding.")
    share = header_bytes / len(coded)
    return [8 * (size + share) for size in frame_bytes]


def _check_size(sequence: SequenceSpec, info: VideoInfo) -> None:
    if info.width < MIN_FRAME_SIDE or info.height < MIN_FRAME_SIDE:
        raise InputError(
            f"{sequence.label} is {info.width}x{info.height}: the codecs need frames of at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} "
            "pixels; leave it out of the evaluation."
        )


@contextmanager
def _streams_folder(output_dir: Path | None) -> Iterator[Path]:
    """The folder streams are written to: `output_dir`, or a temporary one removed afterwards."""
    if output_dir is not None:
        yield output_dir
        return
    with tempfile.TemporaryDirectory(prefix="lvc_zoo_eval_") as directory:
        yield Path(directory)


# ----------------------------------------------------------------------------- many sequences
def evaluate(
    sequences: Sequence[SequenceSpec],
    conditions: EvalConditions,
    source: ModelSource,
    *,
    device: torch.device | str = "cpu",
    workers: int | None = None,
    threads: int | None = None,
    quiet: bool = True,
) -> EvalResults:
    """Code every sequence under `conditions` with the model `source` names.

    Args:
        sequences: from `collect_sequences`.
        conditions: qualities, frames, intra periods, colour, estimate, output folder.
        source: from `resolve_model`.
        device: "cpu", "cuda", "cuda:1", ...; "cuda" on a machine with several GPUs runs one
            worker per GPU.
        workers: worker processes (each loads the model once; at most one per sequence); None:
            1, or one per GPU. 1 runs in this process.
        threads: torch threads per worker; None: this process's threads split between workers
            (this process keeps its own when workers is 1).
        quiet: no progress bar (it is off anyway when stderr is not a terminal).
    Returns: the records of every (sequence, intra period, quality), in that order.
    Raises:
        InputError: unreadable sequences (checked before the model is built).
        BitstreamError: a stream that does not decode to the encoder's reconstruction,
            naming the sequence, quality and intra period.
    """
    device = torch.device(device)
    devices = _devices(device)
    workers = workers or len(devices)
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}.")
    workers = min(workers, len(sequences))  # a worker without a sequence would only load the model
    counts, notes = _frame_counts(sequences, conditions)
    passes = 1 if conditions.estimate else 2
    total = sum(c * passes * len(conditions.qualities) * len(conditions.intra_periods_of(s)) for s, c in zip(sequences, counts))
    desc = "eval (estimate)" if conditions.estimate else "eval (encode+decode)"
    with progress(total, desc, quiet) as bar:
        if workers == 1:
            per_sequence = _run_here(sequences, conditions, source, devices[0], threads, bar.update)
        else:
            threads = threads or max(1, torch.get_num_threads() // workers)
            per_sequence = _run_in_workers(sequences, conditions, source, devices, workers, threads, bar.update)
    points = tuple(point for points in per_sequence for point in points)
    return EvalResults(source.name, source.label, points, tuple(notes))


def _devices(device: torch.device) -> list[torch.device]:
    """One device per worker slot: every GPU for a bare "cuda" on a multi-GPU machine, else `device`."""
    if device.type == "cuda" and device.index is None and torch.cuda.device_count() > 1:
        return [torch.device("cuda", index) for index in range(torch.cuda.device_count())]
    return [device]


def _frame_counts(sequences: Sequence[SequenceSpec], conditions: EvalConditions) -> tuple[list[int], list[str]]:
    """Frames each sequence will code (probing every input before any model is built), and notes."""
    counts, notes = [], []
    for sequence in sequences:
        info = probe_video(sequence.path, size=sequence.size, colour=conditions.colour)
        _check_size(sequence, info)
        wanted = conditions.frames_of(sequence)
        counts.append(min(wanted, info.frame_count))
        if info.frame_count < wanted:
            notes.append(f"{sequence.label} has {info.frame_count} frames (fewer than {wanted}); all are coded")
    return counts, notes


def _run_here(
    sequences: Sequence[SequenceSpec], conditions: EvalConditions, source: ModelSource,
    device: torch.device, threads: int | None, notify: Callable[[int], None],
) -> list[list[PointResult]]:
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        coder = SequenceCoder(build_codec(source, device), source, device, notify)
        return [coder.run(sequence, conditions) for sequence in sequences]
    finally:
        torch.set_num_threads(previous)


def _run_in_workers(
    sequences: Sequence[SequenceSpec], conditions: EvalConditions, source: ModelSource,
    devices: list[torch.device], workers: int, threads: int, notify: Callable[[int], None],
) -> list[list[PointResult]]:
    """Run sequences in `workers` spawned processes, relaying their per-frame progress to `notify`."""
    context = multiprocessing.get_context("spawn")
    frames_done = context.Queue()
    slot = context.Value("i", 0)
    initargs = (source, [str(d) for d in devices], slot, threads, frames_done)
    with context.Pool(workers, initializer=_init_worker, initargs=initargs) as pool:
        pending = [pool.apply_async(_worker_run, (sequence, conditions)) for sequence in sequences]
        while True:
            _relay(frames_done, notify, timeout=0.2)
            for task in pending:
                if task.ready() and isinstance(outcome := task.get(), _Failure):  # get() re-raises other errors
                    raise outcome.rebuild()  # leaving the block terminates the other workers
            if all(task.ready() for task in pending):
                break
        _relay(frames_done, notify, timeout=0)
        return [task.get() for task in pending]


def _relay(frames_done: Any, notify: Callable[[int], None], timeout: float) -> None:
    """Pass on every progress message waiting in the queue (waiting up to `timeout` for the first)."""
    try:
        notify(frames_done.get(timeout=timeout) if timeout else frames_done.get_nowait())
        while True:
            notify(frames_done.get_nowait())
    except queue.Empty:
        pass


@dataclass(frozen=True)
class _Failure:
    """An LvcZooError raised in a worker, sent back as its class name and message.

    (Some error classes take other constructor arguments and do not survive pickling.)
    """

    error: str
    message: str

    def rebuild(self) -> LvcZooError:
        cls = getattr(errors, self.error, LvcZooError) if self.error in errors.__all__ else LvcZooError
        try:
            return cls(self.message)
        except TypeError:
            return LvcZooError(self.message)


_WORKER: dict[str, Any] = {}
"""The state of a worker process: its ModelSource, device, threads, progress queue and (once loaded) coder."""


def _init_worker(source: ModelSource, devices: list[str], slot: Any, threads: int, frames_done: Any) -> None:
    """Pool initializer: pick this worker's device and thread count (the model is loaded on first use)."""
    with slot.get_lock():
        index = slot.value
        slot.value += 1
    torch.set_num_threads(threads)
    _WORKER.update(source=source, device=torch.device(devices[index % len(devices)]), frames_done=frames_done)


def _worker_run(sequence: SequenceSpec, conditions: EvalConditions) -> list[PointResult] | _Failure:
    try:
        if "coder" not in _WORKER:
            source, device = _WORKER["source"], _WORKER["device"]
            _WORKER["coder"] = SequenceCoder(build_codec(source, device), source, device, _WORKER["frames_done"].put)
        return _WORKER["coder"].run(sequence, conditions)
    except LvcZooError as err:
        return _Failure(type(err).__name__, str(err))


# ----------------------------------------------------------------------------- summary
def format_summary(results: EvalResults) -> str:
    """A table: one row per point (intra period, dataset, sequence, quality, bpp, PSNR, MS-SSIM, ms/frame)."""
    header = ("ip", "dataset", "sequence", "q", "bpp", "PSNR dB", "kind", "MS-SSIM", "enc ms", "dec ms")
    rows = [header]
    for point in results.points:
        r = point.record
        rows.append((
            str(point.intra_period), point.dataset, point.sequence, str(point.quality),
            f"{r['ave_all_frame_bpp']:.4f}", f"{r['ave_all_frame_psnr']:.2f}", r["psnr_kind"],
            _optional(r["ave_all_frame_msssim"], ".4f"), f"{r['enc_ms_per_frame']:.0f}",
            _optional(r["dec_ms_per_frame"], ".0f"),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    text_columns = {1, 2, 6}
    lines = ["  ".join(cell.ljust(w) if i in text_columns else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    rate = "bits of the stream file" if results.points and results.points[0].record["rate_source"] == "file" else "estimated bits"
    lines.append(
        f"(bpp: {rate}; PSNR/MS-SSIM of kind yuv611 = (6Y+U+V)/8 for YUV sources, rgb for PNG sources; "
        "ms: per frame; -: not measured)"
    )
    return "\n".join(lines)


def _optional(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)
