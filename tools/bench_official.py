"""Time lvc_zoo's `estimate` against the authors' own code: same weights, same frames, one process per side.

Not a test and not run in CI: it needs a checkout of the official repository, which the
project never ships or copies from. Usage (from the repository root):

    python tools/bench_official.py dcvc_dc /path/to/microsoft/DCVC
    python tools/bench_official.py dcvc_fm /path/to/microsoft/DCVC --sizes 256x256 --frames 5 --runs 7
    python tools/bench_official.py sevc /path/to/EsakaK/SEVC --json sevc_speed.json
    python tools/bench_official.py dcvc_dc ~/DCVC --sides official lvc_zoo --threads 1

Three sides (`--sides`, default all three), each in a worker process of its own:

- `official`: the official test loop's estimation path with its own settings
  (`torch.use_deterministic_algorithms(True)`, `torch.manual_seed(0)`, `torch.no_grad()`);
- `official-nondeterministic`: the same loop with deterministic algorithms off. Deterministic
  mode fills every new tensor (`fill_` of uninitialised memory, about 15 % of the official
  CPU time), so both are shown;
- `lvc_zoo`: `codec.estimate_frames(frames, quality, intra_period=-1)` (inference mode,
  estimated bits, reconstructions and PSNR).

Every side yields each frame's bits as soon as the frame is coded, and one wrapper times
each frame from the request for it to its bits, the same for all sides.

Why separate processes: each side sets process-wide state when it codes, the official test
its deterministic-algorithms switch, lvc_zoo its own (e.g. glibc malloc thresholds via
`mallopt`, thread settings); in one shared process each would leak into the other's timing.
The parent starts one persistent worker per side (`--worker SIDE`, the same script), which
sets `torch.set_num_threads(--threads)`, builds its networks once and then answers the
parent's JSON lines on stdin, one per clip to code ({"width", "height", "frames",
"quality"}), with one JSON line on stdout ({"seconds": per frame, "bits": per frame}); the
worker's own prints go to its stderr. The parent sends one request at a time, so only one
worker computes while the others wait on their stdin. A worker that dies or answers
something else stops the benchmark with one line naming the side and the end of its stderr.

What each side codes, for each size (default 256x256 and 832x480):

1. Weights: the deterministic reference weights of `<reference>/<model>/spec_{i,p}.json`
   (`refgen.state_dict_from_spec`, official key names; `--reference` or $LVC_ZOO_REFERENCE,
   default ../shared/reference next to the repository). The official I- and P-frame networks
   load them as they are, strict; the zoo loads `lvc_zoo.convert_official` of the same dicts.
2. Frames: `refgen.frames(seed=0, t=--frames, h, w)` (moving texture), RGB in [0, 1], made
   by each worker from the same seed.
3. Official loops: the networks built with the constructor arguments of the official test
   script (`inplace=True`, no entropy-coder thread), `eval()`; per frame: pad to a multiple
   of 16, I frame then P frames (intra period -1), clamp the reconstruction in place, crop.
   PNG reading and the quality metrics of the official loop are not timed. No C++ or CUDA
   extension is needed: the estimation paths are pure torch.
   - DCVC-DC (microsoft/DCVC, `DCVC-family/DCVC-DC`): `IntraNoAR.encode_decode` /
     `DMC.encode_decode` without an output path (test_video.py).
   - DCVC-FM (microsoft/DCVC, `DCVC-family/DCVC-FM`): the RGB route of `run_one_point_fast`
     (test_helper.py), as the FM reference README describes: each RGB frame through the
     official `rgb_to_ycbcr444` and `np_image_to_tensor` (timed, as the official loop times
     them), `DMCI.encode`, then `DMC.encode` with fa_idx = [0, 1, 0, 2, 0, 2, 0, 2][i % 8] and
     the reference feature dropped at i % 32 == 1. Its motion compensation falls back to the
     pure-torch `grid_sample` warp when the `block_mc` CUDA extension is not built; the
     worker sets SUPPRESS_CUSTOM_KERNEL_WARNING (only silences that notice) and, where the
     extension is built, switches it off (CPU tensors cannot use it). Quality is FM's q_index.
   - SEVC (EsakaK/SEVC): `IntraNoAR.evaluate` / `DMC.evaluate` (test.py), with the
     base-layer reference built by the official `imresize` and the reference features reset
     every 32 frames, as its test loop does. SEVC's official `src/models/common_model.py`
     has a mis-indented `@staticmethod` at its HEAD; the module is compiled from a
     re-indented copy of its text in memory (the checkout is not modified).
4. Rounds: `--warmup` discarded rounds, then `--runs` timed ones; in each round every side
   codes the clip once, and the order within a round alternates (forward, backward), so a
   load change on a shared machine hits all sides alike.

Printed per side: median seconds per clip, min, max and spread ((max - min) / median),
median ms of the I frame and of a P frame; then the ratios lvc_zoo / official and lvc_zoo /
official-nondeterministic, of the medians and as the median of the per-round pairs (the
figure least disturbed by load); then the per-frame bits of every side and their largest
relative difference to the first side's (all code the same clip with the same weights:
the two official sides agreed exactly in our runs, lvc_zoo to about 1e-7). `--json OUT`
also writes every round. Quality defaults to the highest rate: 3 for DCVC-DC and SEVC, q_index 63 for DCVC-FM.
CPU only, `--threads` torch threads per worker (default 2).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

REPO_ROOT = Path(__file__).resolve().parents[1]

SIDES = ("official", "official-nondeterministic", "lvc_zoo")
"""Every side the benchmark can run, in report order."""
ZOO = "lvc_zoo"
OFFICIAL_SIDES = ("official", "official-nondeterministic")
DEFAULT_QUALITY = {"dcvc_dc": 3, "dcvc_fm": 63, "sevc": 3}
"""The highest rate of each model: DCVC-DC's and SEVC's quality 3, DCVC-FM's q_index 63."""
REFRESH_INTERVAL = 32
"""The official SEVC and DCVC-FM test loops' feature-refresh interval (P frames drop `ref_feature`)."""
FM_INDEX_MAP = (0, 1, 0, 2, 0, 2, 0, 2)
"""The official DCVC-FM test loop's feature-adaptor index (fa_idx) by frame index modulo 8."""
SEVC_RATIO = 4
"""SEVC's base layer runs at 1/4 of the frame size (official test default `--ratio 4`)."""
STDERR_TAIL_LINES = 3
"""How many of a failed worker's last stderr lines the one-line error quotes."""

FrameBits = Callable[[Tensor, int], Iterator[float]]
"""(frames (T, 3, H, W) RGB, quality) -> each frame's estimated bits, yielded as soon as the frame is coded."""
ClipRun = Callable[[Tensor, int], tuple[list[float], list[float]]]
"""(frames (T, 3, H, W) RGB, quality) -> (seconds per frame, estimated bits per frame)."""


# ----------------------------------------------------------------------------- official code
@dataclass(frozen=True)
class OfficialCode:
    """Where a model's official code lives in its repository and which classes its test script builds."""

    subdir: Path
    intra: str
    """`module:Class` of the I-frame network."""
    inter: str
    """`module:Class` of the P-frame network."""


OFFICIAL = {
    "dcvc_dc": OfficialCode(Path("DCVC-family/DCVC-DC"), "src.models.image_model:IntraNoAR", "src.models.video_model:DMC"),
    "dcvc_fm": OfficialCode(Path("DCVC-family/DCVC-FM"), "src.models.image_model:DMCI", "src.models.video_model:DMC"),
    "sevc": OfficialCode(Path("."), "src.models.image_model:IntraNoAR", "src.models.SEVC_main_model:DMC"),
}


def official_dir(model: str, checkout: Path) -> Path:
    """The folder holding the official `src` package of `model` inside `checkout` (or `checkout` itself)."""
    code = OFFICIAL[model]
    marker = Path(*code.inter.split(":")[0].split(".")).with_suffix(".py")
    for folder in (checkout / code.subdir, checkout):
        if (folder / marker).is_file():
            return folder
    raise SystemExit(f"bench_official: {checkout} is not a checkout of the official {model} code (no {code.subdir / marker}).")


def import_reindented(name: str, path: Path) -> ModuleType:
    """Import module `name` from `path` with lines indented by a non-multiple of 4 re-indented (in memory)."""
    lines = []
    for line in path.read_text().splitlines():
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * (indent // 4 * 4) + line.lstrip(" ") if line.strip() and indent % 4 else line)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile("\n".join(lines) + "\n", str(path), "exec"), module.__dict__)  # noqa: S102
    return module


def official_class(model: str, target: str) -> type[nn.Module]:
    """The class `module:Class` of the official code (a clear exit when the checkout has another model's code)."""
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if cls is None:
        raise SystemExit(f"bench_official: {module_name} has no {class_name}: the checkout is not the official {model} code.")
    return cls


def official_networks(
    model: str, folder: Path, intra: dict[str, Tensor], inter: dict[str, Tensor]
) -> tuple[nn.Module, nn.Module]:
    """The official I- and P-frame networks as the official test script builds them, weights loaded strict."""
    sys.path.insert(0, str(folder))
    if model == "sevc":
        importlib.import_module("src.models")
        import_reindented("src.models.common_model", folder / "src/models/common_model.py")
    if model == "dcvc_fm":
        os.environ["SUPPRESS_CUSTOM_KERNEL_WARNING"] = "1"
        importlib.import_module("src.models.block_mc").CUSTOMIZED_CUDA = False  # the pure-torch warp, as on a CPU-only machine
    code = OFFICIAL[model]
    i_net = official_class(model, code.intra)(ec_thread=False, stream_part=1, inplace=True)
    p_net = official_class(model, code.inter)(ec_thread=False, stream_part=1, inplace=True)
    i_net.load_state_dict(intra, strict=True)
    p_net.load_state_dict(inter, strict=True)
    return i_net.eval(), p_net.eval()


def official_dcvc_dc_frames(i_net: nn.Module, p_net: nn.Module) -> FrameBits:
    """The official DCVC-DC test loop's estimation path (test_video.py, no bitstream)."""
    helper = importlib.import_module("src.utils.stream_helper")

    @torch.no_grad()
    def code(frames: Tensor, quality: int) -> Iterator[float]:
        height, width = frames.shape[-2:]
        left, right, top, bottom = helper.get_padding_size(height, width, 16)
        dpb = None
        for index in range(frames.shape[0]):
            x = F.pad(frames[index : index + 1], (left, right, top, bottom), mode="replicate")
            if index == 0:
                result = i_net.encode_decode(x, True, quality, None, pic_height=height, pic_width=width)
                dpb = {"ref_frame": result["x_hat"], "ref_feature": None, "ref_mv_feature": None, "ref_y": None, "ref_mv_y": None}
            else:
                result = p_net.encode_decode(x, dpb, True, quality, None, pic_height=height, pic_width=width, frame_idx=index % 4)
                dpb = result["dpb"]
            recon = dpb["ref_frame"].clamp_(0, 1)
            F.pad(recon, (-left, -right, -top, -bottom))
            yield float(result["bit"])

    return code


def official_dcvc_fm_frames(i_net: nn.Module, p_net: nn.Module) -> FrameBits:
    """The official DCVC-FM test loop's estimation path, RGB route (test_helper.py `run_one_point_fast`)."""
    helper = importlib.import_module("src.utils.stream_helper")
    test_helper = importlib.import_module("src.utils.test_helper")
    colour = importlib.import_module("src.transforms.functional")

    @torch.no_grad()
    def code(frames: Tensor, quality: int) -> Iterator[float]:
        rgb = frames.numpy()  # what the official PNG reader hands over: (3, H, W) float32 in [0, 1] per frame
        height, width = frames.shape[-2:]
        left, right, top, bottom = helper.get_padding_size(height, width, 16)
        dpb = None
        for index in range(frames.shape[0]):
            y, uv = colour.rgb_to_ycbcr444(rgb[index])
            x = test_helper.np_image_to_tensor(np.concatenate((y, uv), axis=0))
            x = F.pad(x, (left, right, top, bottom), mode="replicate")
            if index == 0:
                result = i_net.encode(x, quality)
                dpb = {"ref_frame": result["x_hat"], "ref_feature": None, "ref_mv_feature": None, "ref_y": None, "ref_mv_y": None}
                recon = result["x_hat"]
            else:
                if index % REFRESH_INTERVAL == 1:
                    dpb["ref_feature"] = None
                result = p_net.encode(x, dpb, quality, FM_INDEX_MAP[index % len(FM_INDEX_MAP)])
                dpb = result["dpb"]
                recon = dpb["ref_frame"]
            F.pad(recon.clamp_(0, 1), (-left, -right, -top, -bottom))
            yield float(result["bit"])

    return code


def official_sevc_frames(i_net: nn.Module, p_net: nn.Module) -> FrameBits:
    """The official SEVC test loop's estimation path (test.py: `evaluate` of both networks)."""
    helper = importlib.import_module("src.utils.stream_helper")
    imresize = importlib.import_module("src.utils.core").imresize

    @torch.no_grad()
    def code(frames: Tensor, quality: int) -> Iterator[float]:
        height, width = frames.shape[-2:]
        slice_shape = helper.get_slice_shape(height, width, p=16)
        dpb_base = dpb_enhancement = None
        for index in range(frames.shape[0]):
            x = frames[index : index + 1]
            if index == 0:
                x_padded, _ = helper.pad_for_x(x, p=16, mode="replicate")
                result = i_net.evaluate(x_padded, True, quality)
                ref_base = imresize(result["x_hat"], scale=1 / SEVC_RATIO)
                if slice_shape == (0, 0, 0, 0):
                    ref_base, _ = helper.pad_for_x(ref_base, p=16)
                dpb_base = {"ref_frame": ref_base, "ref_feature": None, "ref_mv_feature": None, "ref_y": None, "ref_mv_y": None}
                dpb_enhancement = {
                    "ref_frame": result["x_hat"],
                    "ref_feature": None,
                    "ref_mv_feature": None,
                    "ref_ys": [None, None, None],
                    "ref_mv_y": None,
                }
                recon = result["x_hat"]
            else:
                if index % REFRESH_INTERVAL == 1:
                    dpb_base["ref_feature"] = dpb_enhancement["ref_feature"] = None
                frame_idx = (index % REFRESH_INTERVAL) % 4
                result = p_net.evaluate(x, dpb_base, dpb_enhancement, True, quality, frame_idx=frame_idx)
                dpb_base, dpb_enhancement = result["dpb_BL"], result["dpb_EL"]
                recon = dpb_enhancement["ref_frame"]
            helper.slice_to_x(recon.clamp_(0, 1), slice_shape)
            yield float(result["bit"])

    return code


OFFICIAL_LOOPS = {"dcvc_dc": official_dcvc_dc_frames, "dcvc_fm": official_dcvc_fm_frames, "sevc": official_sevc_frames}


# ----------------------------------------------------------------------------- lvc_zoo
def use_this_checkout() -> None:
    """Import lvc_zoo from the repository this script belongs to, installed or not (not from another install)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def zoo_side(model: str, intra: dict[str, Tensor], inter: dict[str, Tensor]) -> tuple[FrameBits, dict[str, Any]]:
    """lvc_zoo's estimation with the official weights converted, frame by frame (+ where lvc_zoo came from).

    Imported here, in the lvc_zoo worker only: the official workers never load lvc_zoo.
    """
    use_this_checkout()
    import lvc_zoo

    codec = lvc_zoo.load(model, pretrained=False)
    codec.load_state_dict(lvc_zoo.convert_official(model, intra=intra, inter=inter), strict=True)
    codec.eval()

    def code(frames: Tensor, quality: int) -> Iterator[float]:
        return (frame.bits for frame in codec.estimate_frames(frames, quality, intra_period=-1))

    return code, {"lvc_zoo": lvc_zoo.__version__, "lvc_zoo_path": str(Path(lvc_zoo.__file__).parent)}


# ----------------------------------------------------------------------------- worker process
def timed_frames(code: FrameBits) -> ClipRun:
    """`code` with each frame timed from the request for it to its bits, every side alike (argument checks untimed)."""

    def run(frames: Tensor, quality: int) -> tuple[list[float], list[float]]:
        seconds, bits = [], []
        coded = code(frames, quality)
        while True:
            start = time.perf_counter()
            try:
                frame_bits = next(coded)
            except StopIteration:
                return seconds, bits
            seconds.append(time.perf_counter() - start)
            bits.append(frame_bits)

    return run


def load_refgen(reference: Path) -> ModuleType:
    """The reference folder's `refgen` helper (imported from there, never copied)."""
    if not (reference / "refgen.py").is_file():
        raise SystemExit(f"bench_official: no refgen.py in {reference}; pass --reference or set LVC_ZOO_REFERENCE.")
    sys.path.insert(0, str(reference))
    return importlib.import_module("refgen")


def serve(run: ClipRun, clip: Callable[[int, int, int], Tensor], requests: Iterable[str], replies: IO[str], hello: dict) -> None:
    """Answer `hello` once, then each request line {"width", "height", "frames", "quality"} with {"seconds", "bits"}.

    `clip(frames, height, width)` gives the (T, 3, H, W) clip to code. Returns at the end of `requests`.
    """
    replies.write(json.dumps({"ready": hello}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        seconds, bits = run(clip(request["frames"], request["height"], request["width"]), request["quality"])
        replies.write(json.dumps({"seconds": seconds, "bits": bits}) + "\n")
        replies.flush()


def worker_main(side: str, model: str, checkout: Path, threads: int, reference: Path) -> int:
    """One side's worker: build its networks once, then code the clips the parent asks for (`serve`)."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything else printed (official notices) goes to stderr
    sys.stdout = sys.stderr
    torch.set_num_threads(threads)
    refgen = load_refgen(reference)
    intra, inter = (
        {key: torch.from_numpy(value) for key, value in refgen.state_dict_from_spec(spec).items()}
        for spec in (reference / model / "spec_i.json", reference / model / "spec_p.json")
    )
    hello: dict[str, Any] = {"side": side, "torch": torch.__version__, "threads": torch.get_num_threads()}
    if side == ZOO:
        code, versions = zoo_side(model, intra, inter)
        hello.update(versions)
    else:
        torch.use_deterministic_algorithms(side == "official")  # the official test's init_func sets True
        torch.manual_seed(0)
        code = OFFICIAL_LOOPS[model](*official_networks(model, official_dir(model, checkout), intra, inter))
    hello["deterministic"] = torch.are_deterministic_algorithms_enabled()

    @functools.cache
    def clip(frames: int, height: int, width: int) -> Tensor:
        return torch.from_numpy(refgen.frames(0, frames, height, width))

    serve(timed_frames(code), clip, sys.stdin, replies, hello)
    return 0


# ----------------------------------------------------------------------------- parent side
class WorkerError(RuntimeError):
    """A worker process stopped or answered something that is not the protocol."""


class Worker:
    """A side's worker process, spoken to in JSON lines; its stderr is kept in a temporary file for error reports."""

    def __init__(self, side: str, argv: list[str]) -> None:
        self.side = side
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1
        )

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ready(self) -> dict[str, Any]:
        """Wait until the worker has built its networks; its hello (versions, threads)."""
        hello = self._reply("ready")["ready"]
        if not isinstance(hello, dict):
            self._garbage(json.dumps(hello))
        return hello

    def run(self, width: int, height: int, frames: int, quality: int) -> tuple[list[float], list[float]]:
        """Code the reference clip of that size once: (seconds per frame, bits per frame)."""
        try:
            self._process.stdin.write(json.dumps({"width": width, "height": height, "frames": frames, "quality": quality}) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            self._stopped()
        reply = self._reply("seconds")
        seconds, bits = reply.get("seconds"), reply.get("bits")
        if not (numbers(seconds, frames) and numbers(bits, frames)):
            self._garbage(json.dumps(reply))
        return seconds, bits

    def close(self) -> None:
        """End the worker (end of its input; killed if it does not exit within 30 s)."""
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        self._stderr.close()

    def _reply(self, key: str) -> dict:
        """The worker's next line, a JSON object with `key` (a clear error when it stopped or printed anything else)."""
        line = self._process.stdout.readline()
        if not line:
            self._stopped()
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            reply = None
        if not isinstance(reply, dict) or key not in reply:
            self._garbage(line)
        return reply

    def _stopped(self) -> None:
        code = self._process.wait()
        raise WorkerError(f"the {self.side} worker stopped (exit code {code}); its stderr ends: {self.stderr_tail()}")

    def _garbage(self, line: str) -> None:
        self._process.kill()
        self._process.wait()
        raise WorkerError(
            f"the {self.side} worker answered {line.strip()[:200]!r}, not the protocol; its stderr ends: {self.stderr_tail()}"
        )

    def stderr_tail(self) -> str:
        """The worker's last non-empty stderr lines, joined on one line."""
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - 4096))
        lines = [line.strip() for line in self._stderr.read().decode(errors="replace").splitlines() if line.strip()]
        return " | ".join(lines[-STDERR_TAIL_LINES:]) or "(nothing)"


def numbers(values: object, count: int) -> bool:
    """Whether `values` is a list of `count` finite numbers."""
    return (
        isinstance(values, list)
        and len(values) == count
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    )


# ----------------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Side:
    """One side's timed rounds: seconds per clip, per-frame seconds of each round, the last round's bits per frame."""

    name: str
    clip_s: list[float]
    frame_s: list[list[float]]
    bits: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.clip_s)

    @property
    def spread(self) -> float:
        """(max - min) / median of the clip times."""
        return (max(self.clip_s) - min(self.clip_s)) / self.median_s

    def median_frame_ms(self, intra: bool) -> float:
        """Median over rounds of the I frame's time (intra) or of the mean P-frame time, in ms."""
        per_round = [run[0] if intra else statistics.fmean(run[1:]) for run in self.frame_s]
        return statistics.median(per_round) * 1e3

    def summary(self) -> dict[str, Any]:
        """The rounds and their statistics, JSON-ready."""
        return asdict(self) | {
            "median_s": self.median_s,
            "min_s": min(self.clip_s),
            "max_s": max(self.clip_s),
            "spread": self.spread,
            "i_ms": self.median_frame_ms(True),
            "p_ms": self.median_frame_ms(False),
        }


def interleaved(
    runs: dict[str, Callable[[], tuple[list[float], list[float]]]], warmup: int, timed: int, log: Callable[[str], None] = print
) -> list[Side]:
    """Run every side `warmup + timed` rounds, one after another, the order reversed every other round; keep the timed rounds."""
    names = list(runs)
    clip_s: dict[str, list[float]] = {name: [] for name in names}
    frame_s: dict[str, list[list[float]]] = {name: [] for name in names}
    bits: dict[str, list[float]] = {}
    for round_index in range(warmup + timed):
        for name in names if round_index % 2 == 0 else names[::-1]:
            seconds, bits[name] = runs[name]()
            if round_index >= warmup:
                clip_s[name].append(sum(seconds))
                frame_s[name].append(seconds)
        if round_index < warmup:
            log(f"  warm-up {round_index + 1}/{warmup} done")
        else:
            log(f"  round {round_index + 1 - warmup}/{timed}: " + "  ".join(f"{name} {clip_s[name][-1]:.2f} s" for name in names))
    return [Side(name, clip_s[name], frame_s[name], bits[name]) for name in names]


def relative_difference(bits: list[float], reference: list[float]) -> float:
    """Largest |bits - reference| / max(|reference|, 1) over the frames."""
    return max(abs(b - r) / max(abs(r), 1.0) for b, r in zip(bits, reference, strict=True))


def compare(sides: list[Side]) -> dict[str, Any]:
    """Ratios lvc_zoo / each official side (of the medians; per round, and their median), bits against the first side."""
    by_name = {side.name: side for side in sides}
    ratios = {}
    if ZOO in by_name:
        zoo = by_name[ZOO]
        for official in (by_name[name] for name in OFFICIAL_SIDES if name in by_name):
            pairs = [z / o for z, o in zip(zoo.clip_s, official.clip_s, strict=True)]
            ratios[f"{ZOO}/{official.name}"] = {
                "of_medians": zoo.median_s / official.median_s,
                "median_of_pairs": statistics.median(pairs),
                "pairs": pairs,
            }
    first = sides[0]
    return {
        "ratios": ratios,
        "bits_reference": first.name,
        "bits_relative_difference": {side.name: relative_difference(side.bits, first.bits) for side in sides[1:]},
    }


def report(model: str, size: tuple[int, int], frames: int, quality: int, threads: int, sides: list[Side]) -> dict[str, Any]:
    """Print the comparison for one size; return it as a JSON-ready dict."""
    comparison = compare(sides)
    width, height = size
    column = max(len(side.name) for side in sides) + 2
    print(f"\n{model} {width}x{height}, {frames} frames (1 I + {frames - 1} P), quality {quality}, {threads} threads per worker, "
          f"{len(sides[0].clip_s)} interleaved rounds")
    print(f"  {'':<{column}}{'median s':>10}{'min':>8}{'max':>8}{'spread':>8}{'I ms':>9}{'P ms':>9}")
    for side in sides:
        print(
            f"  {side.name:<{column}}{side.median_s:>10.3f}{min(side.clip_s):>8.3f}{max(side.clip_s):>8.3f}{side.spread:>7.1%}"
            f"{side.median_frame_ms(True):>9.0f}{side.median_frame_ms(False):>9.0f}"
        )
    for name, ratio in comparison["ratios"].items():
        pairs = ratio["pairs"]
        print(
            f"  ratio {name.replace('/', ' / ')}: {ratio['of_medians']:.3f} (medians); "
            f"{ratio['median_of_pairs']:.3f} median of the per-round pairs (range {min(pairs):.3f}-{max(pairs):.3f})"
        )
    print("  bits per frame: " + "; ".join(f"{side.name} {[round(b) for b in side.bits]}" for side in sides))
    if comparison["bits_relative_difference"]:
        differences = ", ".join(f"{name} {value:.1e}" for name, value in comparison["bits_relative_difference"].items())
        print(f"  largest relative bits difference to {comparison['bits_reference']}: {differences}")
    return {
        "model": model,
        "width": width,
        "height": height,
        "frames": frames,
        "quality": quality,
        "threads": threads,
        "sides": {side.name: side.summary() for side in sides},
    } | comparison


# ----------------------------------------------------------------------------- driver
def frame_size(text: str) -> tuple[int, int]:
    """WxH as the CLI parses it (imported on use: the official workers never load lvc_zoo)."""
    use_this_checkout()
    from lvc_zoo.cli.codec_commands import parse_frame_size

    return parse_frame_size(text)


def checkout_revision(checkout: Path) -> str | None:
    """The checkout's git commit, when it is a git work tree."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return result.stdout.strip()
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    default_reference = os.environ.get("LVC_ZOO_REFERENCE") or str(REPO_ROOT.parent / "shared" / "reference")
    parser = argparse.ArgumentParser(
        description="lvc_zoo estimate vs the official test loop (deterministic and not), same weights and frames, "
        "one worker process per side, interleaved."
    )
    parser.add_argument("model", choices=sorted(OFFICIAL))
    parser.add_argument("checkout", type=Path, help="official repository checkout (microsoft/DCVC or EsakaK/SEVC)")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES), help="sides to run (default all three)")
    parser.add_argument("--sizes", type=frame_size, nargs="+", default=[(256, 256), (832, 480)], metavar="WxH")
    parser.add_argument("--frames", type=int, default=3, help="clip length, 1 I + N-1 P (default 3)")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds before them (default 1)")
    parser.add_argument(
        "--quality", type=int, default=None, help="quality of every side (default the highest rate: 3; DCVC-FM q_index 63)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads of each worker (default 2)")
    parser.add_argument("--reference", type=Path, default=Path(default_reference), help="parity data folder with refgen.py")
    parser.add_argument("--json", type=Path, default=None, help="also write every round as JSON")
    parser.add_argument("--worker", choices=SIDES, default=None, help=argparse.SUPPRESS)  # internal: serve one side
    args = parser.parse_args(argv)
    if args.frames < 2 or args.runs < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("need --frames >= 2, --runs >= 1, --warmup >= 0 and --threads >= 1")
    args.sides = [side for side in SIDES if side in args.sides]
    if args.quality is None:
        args.quality = DEFAULT_QUALITY[args.model]
    return args


def start_workers(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Worker]:
    """One worker per side, started together (building the networks is not timed); returns them once all are ready."""
    workers = {}
    for side in args.sides:
        argv = [sys.executable, str(Path(__file__).resolve()), args.model, str(args.checkout), "--worker", side]
        argv += ["--threads", str(args.threads), "--reference", str(args.reference)]
        workers[side] = stack.enter_context(Worker(side, argv))
    return workers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker_main(args.worker, args.model, args.checkout, args.threads, args.reference)
    load_refgen(args.reference)  # a clear exit before any worker starts
    if any(side in OFFICIAL_SIDES for side in args.sides):
        official_dir(args.model, args.checkout)
    results = []
    try:
        with contextlib.ExitStack() as stack:
            workers = start_workers(args, stack)
            hellos = {side: worker.ready() for side, worker in workers.items()}
            zoo = f", lvc_zoo {hellos[ZOO]['lvc_zoo']} from {hellos[ZOO]['lvc_zoo_path']}" if ZOO in hellos else ""
            print(f"{args.model}: workers ready ({', '.join(args.sides)}), {args.threads} threads each{zoo}", flush=True)
            for width, height in args.sizes:
                print(f"{args.model} {width}x{height}: {args.warmup} warm-up + {args.runs} timed rounds, interleaved", flush=True)
                clip = (width, height, args.frames, args.quality)
                runs = {side: functools.partial(worker.run, *clip) for side, worker in workers.items()}
                sides = interleaved(runs, args.warmup, args.runs, log=functools.partial(print, flush=True))
                results.append(report(args.model, (width, height), args.frames, args.quality, args.threads, sides))
    except WorkerError as error:
        raise SystemExit(f"bench_official: {error}") from None
    if args.json is not None:
        meta = {"checkout": str(args.checkout), "checkout_revision": checkout_revision(args.checkout), "workers": hellos}
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
