"""`lvc-zoo bench`: parameters, MACs per frame, encode / decode time and peak memory of a model.

    --model ─► load (weights, or random) ─► lvc_zoo.eval.bench.bench ─► table on stdout (+ --json)
    --baseline OLD.json (an earlier --json) ────────────────────────────► "vs base" column: new / old

[choice] Without published weights (and with `--weights none`) the model is randomly
initialised (seeded, so two runs measure the same network) and the report says so: the
network's time and MACs do not depend on the weights, the entropy coder's time does a little
(it codes the symbols the weights produce).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import lvc_zoo

from .help import COMMAND_HELP
from ..errors import InputError
from ..eval.bench import Baseline, bench, format_bench
from ..models import VideoCodec
from ..registry import ModelSpec, get_spec, weights_label
from ..runtime import write_atomic
from .codec_commands import parse_device, parse_frame_size, parse_positive

__all__ = ["HELP", "add_arguments", "run", "register"]

HELP = COMMAND_HELP["bench"]
NO_WEIGHTS = "none"
"""`--weights none`: random initialisation."""
SEED = 0
"""Seed of the random initialisation, so two runs measure the same network."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `bench` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("bench", help=HELP, description=HELP + ".")
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo bench`."""
    parser.add_argument("--model", required=True, help="registry name, e.g. dcvc_dc (see `lvc-zoo list`)")
    parser.add_argument("--size", type=parse_frame_size, default=(256, 256), metavar="WxH", help="frame size (default 256x256)")
    parser.add_argument("--frames", type=parse_positive, default=4, metavar="N", help="clip length: 1 I frame + N-1 P frames (default 4, at least 2)")
    parser.add_argument("--quality", type=int, default=None, metavar="Q", help="quality index (default: the model's highest)")
    parser.add_argument("--device", type=parse_device, default=torch.device("cpu"), help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument(
        "--weights",
        default=None,
        metavar="DIR|hf-hub:ORG/NAME|none",
        help="weights to load; 'none' for random initialisation (default: the registry's published weights, "
        "random initialisation when there are none)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT.json", help="also write the results as JSON (usable as a later --baseline)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="OLD.json",
        help="an earlier run's --json with the same settings: print each time's ratio to it (a regression shows above 1.00x)",
    )
    parser.add_argument("--threads", type=parse_positive, default=None, metavar="N", help="CPU threads for torch (default: torch's default)")
    parser.add_argument("--runs", type=parse_positive, default=3, metavar="N", help="timed runs; the median is reported (default 3, after 1 warm-up run)")
    parser.add_argument("--small", action="store_true", help=argparse.SUPPRESS)  # reduced widths, random weights: for tests


def run(args: argparse.Namespace) -> int:
    """Load the model, benchmark it, print the table and write the JSON."""
    spec = get_spec(args.model)
    spec.check_quality(args.quality)
    width, height = args.size  # parse_frame_size checked the sides
    if args.frames < 2:
        raise InputError("--frames must be at least 2: the benchmark times an I frame and P frames.")
    baseline = None if args.baseline is None else Baseline.read(args.baseline)
    threads = torch.get_num_threads()
    try:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        codec, weights = _load(spec, args)
        result = bench(codec, width, height, args.frames, args.quality, runs=args.runs, weights=weights, baseline=baseline)
    finally:
        torch.set_num_threads(threads)  # main() may run in a process that goes on (tests)
    print(format_bench(result, baseline))
    if args.json is not None:
        write_atomic(args.json, (json.dumps(result.to_dict(), indent=2) + "\n").encode())
        print(f"wrote {args.json}")
    return 0


def _load(spec: ModelSpec, args: argparse.Namespace) -> tuple[VideoCodec, str]:
    """The model to measure, on its device and in eval mode, and a description of its weights."""
    if args.small:
        if args.weights not in (None, NO_WEIGHTS):
            raise InputError("--small builds a reduced-width model with random weights: drop --weights.")
        small = getattr(spec.builder.config_class, "small", None)
        if small is None:
            raise InputError(f"{spec.name} has no reduced-width configuration: drop --small.")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            codec = spec.builder(small())
        return codec.to(args.device).eval(), weights_label(spec, random_init=f"seed {SEED}, reduced widths (--small)")
    if args.weights == NO_WEIGHTS or (args.weights is None and not spec.has_published_weights):
        why = "--weights none" if args.weights == NO_WEIGHTS else f"no published weights for {spec.name}"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            codec = lvc_zoo.load(spec.name, args.quality, pretrained=False, device=args.device)
        return codec, (
            f"{weights_label(spec, random_init=f'seed {SEED}; {why}')}: network time and MACs are those of the "
            "trained model, entropy-coding time may differ"
        )
    codec = lvc_zoo.load(spec.name, args.quality, weights=args.weights, device=args.device)
    return codec, weights_label(spec, args.weights)
