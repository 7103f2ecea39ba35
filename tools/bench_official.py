"""Time lvc_zoo's `estimate` against the authors' own code, same weights, same frames, one process.

Not a test and not run in CI: it needs a checkout of the official repository, which the
project never ships or copies from. Usage (from the repository root):

    python tools/bench_official.py dcvc_dc /path/to/microsoft/DCVC
    python tools/bench_official.py sevc /path/to/EsakaK/SEVC --sizes 256x256 --frames 5 --runs 7
    python tools/bench_official.py dcvc_dc ~/DCVC --json dcvc_dc_speed.json

What it does, for each size (default 256x256 and 832x480):

1. Weights: the deterministic reference weights of `<reference>/<model>/spec_{i,p}.json`
   (`refgen.state_dict_from_spec`, official key names; `--reference` or $LVC_ZOO_REFERENCE,
   default ../shared/reference next to the repository). The official I- and P-frame networks
   load them as they are, strict; the zoo loads `lvc_zoo.convert_official` of the same dicts.
2. Frames: `refgen.frames(seed=0, t=--frames, h, w)` (moving texture), RGB in [0, 1].
3. Official side: the networks built with the constructor arguments of the official test
   script (`inplace=True`, no entropy-coder thread), `eval()`, and the per-frame estimation
   path of its test loop under its own settings (`torch.no_grad()`,
   `torch.use_deterministic_algorithms(True)`; no CUDA and no C++ extension is needed, the
   estimation path is pure torch): pad to a multiple of 16, I frame then P frames
   (intra period -1; SEVC also resets the reference features every 32 frames), clamp the
   reconstruction in place, crop. PNG reading and the quality metrics of the official loop are not timed.
   DCVC-DC: `IntraNoAR.encode_decode` / `DMC.encode_decode` without an output path.
   SEVC: `IntraNoAR.evaluate` / `DMC.evaluate`, with the base-layer reference built by the
   official `imresize` as its test loop does. SEVC's official `src/models/common_model.py`
   has a mis-indented `@staticmethod` at its HEAD; the module is compiled from a re-indented
   copy of its text in memory (the checkout is not modified).
4. Zoo side: `codec.estimate_frames(frames, quality, intra_period=-1)` (inference mode,
   estimated bits, reconstructions and PSNR), each frame timed as it is yielded.
5. The two run alternately, `--warmup` discarded pairs then `--runs` timed pairs, and the
   order within a pair alternates, so a load change on a shared machine hits both alike.
   Printed per implementation: median seconds per clip, min, max and spread
   ((max - min) / median), median ms of the I frame and of a P frame; then the ratio
   lvc_zoo / official of the medians and the median of the per-pair ratios (the figure
   least disturbed by load), and the per-frame bits of both as a check that both coded the
   same clip with the same weights (they agree to the parity tolerance, 0.5 %).

CPU only, `--threads` torch threads (default 2). The official package is imported from
the checkout (its `src` package shadows nothing of lvc_zoo's); one model per process,
since DCVC-DC and SEVC both name their package `src`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing

import lvc_zoo  # noqa: E402
from lvc_zoo.models import VideoCodec  # noqa: E402
from lvc_zoo.cli.codec_commands import parse_frame_size  # noqa: E402

OFFICIAL_SUBDIR = {"dcvc_dc": Path("DCVC-family/DCVC-DC"), "sevc": Path(".")}
"""Where each model's official code lives inside its repository checkout."""
OFFICIAL_MARKER = {"dcvc_dc": Path("src/models/video_model.py"), "sevc": Path("src/models/SEVC_main_model.py")}
REFRESH_INTERVAL = 32
"""The official SEVC test loop's default feature-refresh interval (P frames reset `ref_feature`)."""
SEVC_RATIO = 4
"""SEVC's base layer runs at 1/4 of the frame size (official test default `--ratio 4`)."""

ClipRun = Callable[[Tensor, int], tuple[list[float], list[float]]]
"""(frames (T, 3, H, W), quality) -> (seconds per frame, estimated bits per frame)."""


# ----------------------------------------------------------------------------- official code
def official_dir(model: str, checkout: Path) -> Path:
    """The folder holding the official `src` package of `model` inside `checkout` (or `checkout` itself)."""
    for folder in (checkout / OFFICIAL_SUBDIR[model], checkout):
        if (folder / OFFICIAL_MARKER[model]).is_file():
            return folder
    raise SystemExit(f"bench_official: {checkout} is not a checkout of the official {model} code (no {OFFICIAL_MARKER[model]}).")


def import_official(folder: Path) -> None:
    """Put the official `src` package first on the import path; refuse when another `src` is loaded."""
    loaded = sys.modules.get("src")
    if loaded is not None and Path(loaded.__file__ or "").resolve().parent != (folder / "src").resolve():
        raise SystemExit("bench_official: another package named `src` is already imported; run one model per process.")
    sys.path.insert(0, str(folder))


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


def official_networks(model: str, folder: Path, intra: dict[str, Tensor], inter: dict[str, Tensor]) -> tuple[nn.Module, nn.Module]:
    """The official I- and P-frame networks as the official test script builds them, weights loaded strict."""
    import_official(folder)
    if model == "sevc":
        importlib.import_module("src.models")
        import_reindented("src.models.common_model", folder / "src/models/common_model.py")
        main_model = importlib.import_module("src.models.SEVC_main_model")
    else:
        main_model = importlib.import_module("src.models.video_model")
    image_model = importlib.import_module("src.models.image_model")
    i_net = image_model.IntraNoAR(ec_thread=False, stream_part=1, inplace=True)
    p_net = main_model.DMC(ec_thread=False, stream_part=1, inplace=True)
    i_net.load_state_dict(intra, strict=True)
    p_net.load_state_dict(inter, strict=True)
    return i_net.eval(), p_net.eval()


@contextlib.contextmanager
def official_settings() -> Iterator[None]:
    """The official test's global settings (`no_grad`, deterministic algorithms), restored afterwards."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic)


def official_dcvc_dc_clip(i_net: nn.Module, p_net: nn.Module) -> ClipRun:
    """The official DCVC-DC test loop's estimation path (test_video.py, no bitstream)."""
    helper = importlib.import_module("src.utils.stream_helper")

    def run(frames: Tensor, quality: int) -> tuple[list[float], list[float]]:
        seconds, bits = [], []
        height, width = frames.shape[-2:]
        left, right, top, bottom = helper.get_padding_size(height, width, 16)
        dpb = None
        with official_settings():
            for index in range(frames.shape[0]):
                start = time.perf_counter()
                x = F.pad(frames[index : index + 1], (left, right, top, bottom), mode="replicate")
                if index == 0:
                    result = i_net.encode_decode(x, True, quality, None, pic_height=height, pic_width=width)
                    dpb = {"ref_frame": result["x_hat"], "ref_feature": None, "ref_mv_feature": None, "ref_y": None, "ref_mv_y": None}
                else:
                    result = p_net.encode_decode(
                        x, dpb, True, quality, None, pic_height=height, pic_width=width, frame_idx=index % 4
                    )
                    dpb = result["dpb"]
                recon = dpb["ref_frame"].clamp_(0, 1)
                F.pad(recon, (-left, -right, -top, -bottom))
                seconds.append(time.perf_counter() - start)
                bits.append(float(result["bit"]))
        return seconds, bits

    return run


def official_sevc_clip(i_net: nn.Module, p_net: nn.Module) -> ClipRun:
    """The official SEVC test loop's estimation path (test.py: `evaluate` of both networks)."""
    helper = importlib.import_module("src.utils.stream_helper")
    imresize = importlib.import_module("src.utils.core").imresize

    def run(frames: Tensor, quality: int) -> tuple[list[float], list[float]]:
        seconds, bits = [], []
        height, width = frames.shape[-2:]
        slice_shape = helper.get_slice_shape(height, width, p=16)
        dpb_base = dpb_enhancement = None
        with official_settings():
            for index in range(frames.shape[0]):
                start = time.perf_counter()
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
                seconds.append(time.perf_counter() - start)
                bits.append(float(result["bit"]))
        return seconds, bits

    return run


OFFICIAL_LOOPS = {"dcvc_dc": official_dcvc_dc_clip, "sevc": official_sevc_clip}


# ----------------------------------------------------------------------------- lvc_zoo
def zoo_clip(codec: VideoCodec) -> ClipRun:
    """lvc_zoo's estimation: `estimate_frames`, each frame timed as it is yielded."""

    def run(frames: Tensor, quality: int) -> tuple[list[float], list[float]]:
        seconds, bits = [], []
        coded = codec.estimate_frames(frames, quality, intra_period=-1)
        while True:
            start = time.perf_counter()
            try:
                frame = next(coded)
            except StopIteration:
                return seconds, bits
            seconds.append(time.perf_counter() - start)
            bits.append(frame.bits)

    return run


# ----------------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Side:
    """One implementation's timed runs: seconds per clip, per-frame seconds of each run, last run's bits."""

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
        """Median over runs of the I frame's time (intra) or of the mean P-frame time, in ms."""
        per_run = [run[0] if intra else statistics.fmean(run[1:]) for run in self.frame_s]
        return statistics.median(per_run) * 1e3


def interleaved(runs: dict[str, ClipRun], frames: Tensor, quality: int, warmup: int, timed: int) -> list[Side]:
    """Run every implementation `warmup + timed` times, alternating them and their order; keep the timed runs."""
    names = list(runs)
    clip_s: dict[str, list[float]] = {name: [] for name in names}
    frame_s: dict[str, list[list[float]]] = {name: [] for name in names}
    bits: dict[str, list[float]] = {}
    for round_index in range(warmup + timed):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            seconds, bits[name] = runs[name](frames, quality)
            if round_index >= warmup:
                clip_s[name].append(sum(seconds))
                frame_s[name].append(seconds)
        if round_index < warmup:
            print(f"  warm-up {round_index + 1}/{warmup} done", flush=True)
        else:
            times = "  ".join(f"{name} {clip_s[name][-1]:.2f} s" for name in names)
            print(f"  run {round_index + 1 - warmup}/{timed}: {times}", flush=True)
    return [Side(name, clip_s[name], frame_s[name], bits[name]) for name in names]


def report(model: str, size: tuple[int, int], frames: int, quality: int, official: Side, zoo: Side) -> dict:
    """Print the comparison for one size; return it as a JSON-ready dict."""
    pair_ratios = [z / o for z, o in zip(zoo.clip_s, official.clip_s)]
    ratio = zoo.median_s / official.median_s
    bits_diff = max(abs(z - o) / max(abs(o), 1.0) for z, o in zip(zoo.bits, official.bits))
    width, height = size
    print(f"\n{model} {width}x{height}, {frames} frames (1 I + {frames - 1} P), quality {quality}, {torch.get_num_threads()} threads, "
          f"{len(zoo.clip_s)} interleaved runs")
    print(f"  {'':<10}{'median s':>10}{'min':>8}{'max':>8}{'spread':>8}{'I ms':>9}{'P ms':>9}")
    for side in (official, zoo):
        print(
            f"  {side.name:<10}{side.median_s:>10.3f}{min(side.clip_s):>8.3f}{max(side.clip_s):>8.3f}{side.spread:>7.1%}"
            f"{side.median_frame_ms(True):>9.0f}{side.median_frame_ms(False):>9.0f}"
        )
    print(f"  ratio lvc_zoo / official: {ratio:.3f} (medians); {statistics.median(pair_ratios):.3f} median of the per-run pairs "
          f"(range {min(pair_ratios):.3f}-{max(pair_ratios):.3f})")
    print(f"  bits per frame: official {[round(b) for b in official.bits]}, lvc_zoo {[round(b) for b in zoo.bits]} "
          f"(largest difference {bits_diff:.2e} relative)")
    return {
        "model": model,
        "width": width,
        "height": height,
        "frames": frames,
        "quality": quality,
        "threads": torch.get_num_threads(),
        "official": asdict(official),
        "lvc_zoo": asdict(zoo),
        "ratio_of_medians": ratio,
        "pair_ratios": pair_ratios,
        "max_relative_bits_difference": bits_diff,
    }


# ----------------------------------------------------------------------------- driver
def load_refgen(reference: Path) -> ModuleType:
    """The reference folder's `refgen` helper (imported from there, never copied)."""
    if not (reference / "refgen.py").is_file():
        raise SystemExit(f"bench_official: no refgen.py in {reference}; pass --reference or set LVC_ZOO_REFERENCE.")
    sys.path.insert(0, str(reference))
    return importlib.import_module("refgen")


def main(argv: list[str] | None = None) -> int:
    default_reference = os.environ.get("LVC_ZOO_REFERENCE") or str(REPO_ROOT.parent / "shared" / "reference")
    parser = argparse.ArgumentParser(description="lvc_zoo estimate vs the official code, same weights and frames, interleaved.")
    parser.add_argument("model", choices=sorted(OFFICIAL_LOOPS))
    parser.add_argument("checkout", type=Path, help="official repository checkout (microsoft/DCVC or EsakaK/SEVC)")
    parser.add_argument("--sizes", type=parse_frame_size, nargs="+", default=[(256, 256), (832, 480)], metavar="WxH")
    parser.add_argument("--frames", type=int, default=3, help="clip length, 1 I + N-1 P (default 3)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each implementation (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded runs of each before them (default 1)")
    parser.add_argument("--quality", type=int, default=3, help="q_index of both (default 3, the highest rate)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--reference", type=Path, default=Path(default_reference), help="parity data folder with refgen.py")
    parser.add_argument("--json", type=Path, default=None, help="also write every run as JSON")
    args = parser.parse_args(argv)
    if args.frames < 2 or args.runs < 1 or args.warmup < 0:
        parser.error("need --frames >= 2, --runs >= 1 and --warmup >= 0")

    torch.set_num_threads(args.threads)
    refgen = load_refgen(args.reference)
    specs = args.reference / args.model
    intra = {k: torch.from_numpy(v) for k, v in refgen.state_dict_from_spec(specs / "spec_i.json").items()}
    inter = {k: torch.from_numpy(v) for k, v in refgen.state_dict_from_spec(specs / "spec_p.json").items()}

    codec = lvc_zoo.load(args.model, pretrained=False)
    codec.load_state_dict(lvc_zoo.convert_official(args.model, intra=intra, inter=inter), strict=True)
    codec.eval()
    i_net, p_net = official_networks(args.model, official_dir(args.model, args.checkout), intra, inter)
    runs = {"official": OFFICIAL_LOOPS[args.model](i_net, p_net), "lvc_zoo": zoo_clip(codec)}

    results = []
    for width, height in args.sizes:
        frames = torch.from_numpy(refgen.frames(0, args.frames, height, width))
        print(f"{args.model} {width}x{height}: {args.warmup} warm-up + {args.runs} timed runs of each, interleaved", flush=True)
        official, zoo = interleaved(runs, frames, args.quality, args.warmup, args.runs)
        results.append(report(args.model, (width, height), args.frames, args.quality, official, zoo))
    if args.json is not None:
        meta = {"torch": torch.__version__, "lvc_zoo": lvc_zoo.__version__, "checkout": str(args.checkout)}
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
