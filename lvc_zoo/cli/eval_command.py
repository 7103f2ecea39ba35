"""`lvc-zoo eval`: the DCVC test conditions for any registered model.

    lvc-zoo eval --model dcvc_dc --weights DIR --input HEVC_B.json --json results/dcvc_dc.json --plot rd.png

codes every sequence at every quality and intra period into a real file, decodes the file,
checks it equals the encoder's reconstruction, and measures bpp (from the file size), PSNR
(RGB, Y/U/V, YUV 6:1:1), MS-SSIM and time per frame. See :mod:`lvc_zoo.eval.conditions` for
the inputs and :mod:`lvc_zoo.eval.runner` for the measurements.

[choice] One results file per intra period: ``--json out.json`` writes ``out_ip32.json`` and
``out_ip-1.json`` (always suffixed, even for one period, so a file name always says its
period). Each file is exactly the DCVC result layout, {dataset: {sequence: {"q<quality>":
record}}}, readable by `lvc-zoo bdrate`, `lvc_zoo.eval.load_results` and DCVC's own scripts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .help import COMMAND_HELP
from ..eval.conditions import DEFAULT_FRAMES, DEFAULT_INTRA_PERIODS, EvalConditions, collect_sequences
from ..eval.runner import RANDOM_SEED, EvalResults, evaluate, format_summary, resolve_model
from ..errors import InputError, WeightsNotFoundError
from ..registry import get_spec
from .codec_commands import parse_colour, parse_device, parse_intra_period, parse_positive, parse_size

__all__ = ["HELP", "register", "add_arguments", "run"]

HELP = COMMAND_HELP["eval"]
_DESCRIPTION = f"""\
{HELP}.

Inputs: .yuv (size and fps from names like BasketballDrive_1920x1080_50.yuv), .y4m, .mp4/.mkv,
folders of PNGs, folders of those, and dataset JSON files in the DCVC test-config layout:
  {{"root_path": "/data", "test_classes": {{"HEVC_B": {{"test": 1, "base_path": "HEVC_B",
    "src_type": "yuv420" | "png", "sequences": {{"BasketballDrive_1920x1080_50.yuv":
    {{"width": 1920, "height": 1080, "frames": 96, "intra_period": 32}}}}}}}}}}
The dataset name is the JSON class name, or the input's parent folder.

By default every sequence is coded into a real stream file, the file is decoded and checked
to equal the encoder's reconstruction, and bpp comes from the file size; --estimate uses the
likelihoods instead (no entropy coder). --json out.json writes one file per intra period
(out_ip32.json, out_ip-1.json) in the DCVC result layout {{dataset: {{sequence: {{"q<quality>": {{...}}}}}}}}.
"""
_RANDOM_NOTE = "no trained weights, so bpp and PSNR only show that the pipeline runs"


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `eval` subcommand to the `lvc-zoo` subparsers."""
    parser = commands.add_parser("eval", help=HELP, description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo eval`."""
    parser.add_argument("--model", required=True, help="registry name, e.g. dcvc_dc (see `lvc-zoo list`)")
    parser.add_argument("--input", nargs="+", type=Path, required=True, metavar="PATH", help="sequences: .yuv, .y4m, .mp4, PNG folders, folders of them, dataset .json")
    parser.add_argument("--weights", default=None, help="trained weights: a directory from `lvc-zoo convert` / save_pretrained, or hf-hub:ORG/NAME[@REV] (default: the registry's published weights)")
    parser.add_argument("--random-weights", action="store_true", help=f"randomly initialised model (full widths, fixed seed): shows the pipeline before trained weights exist; recorded as \"weights\": \"random initialisation (seed {RANDOM_SEED})\"")
    parser.add_argument("--qualities", type=int, nargs="+", default=None, metavar="Q", help="qualities to code (default: all of the model's)")
    parser.add_argument("--frames", type=parse_positive, default=None, metavar="N", help=f"frames per sequence (default: the dataset JSON's, else {DEFAULT_FRAMES}; shorter sequences are coded whole)")
    parser.add_argument("--intra-period", type=parse_intra_period, action="append", default=None, metavar="N", help=f"intra period, repeatable: -1 only frame 0 is intra (default: the dataset JSON's, else {' and '.join(map(str, DEFAULT_INTRA_PERIODS))})")
    parser.add_argument("--colour", type=parse_colour, default=None, metavar="MATRIX-RANGE", help="YUV<->RGB conversion of YUV sources and of the Y/U/V metrics: bt709-full (default for .yuv and PNG), bt709-limited, bt601-full, bt601-limited (.y4m and containers default to their tags)")
    parser.add_argument("--size", type=parse_size, default=None, metavar="WxH", help="frame size of .yuv inputs whose names do not say it")
    parser.add_argument("--estimate", action="store_true", help="estimate the rate from the likelihoods (no entropy coder, no file, no decode check)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json", help="write results, one file per intra period: OUT_ip32.json, OUT_ip-1.json")
    parser.add_argument("--plot", type=Path, default=None, metavar="RD.png", help="draw bpp vs PSNR per dataset (.png or .svg), one curve per intra period")
    parser.add_argument("--workers", type=parse_positive, default=None, metavar="N", help="worker processes, each loading the model once (default 1; with --device cuda, one per GPU)")
    parser.add_argument("--threads", type=parse_positive, default=None, metavar="N", help="torch threads per worker (default: the cores split between workers); results are reproducible for a given value")
    parser.add_argument("--device", type=parse_device, default=torch.device("cpu"), help="cpu (default), cuda (every GPU, one worker each), cuda:1, ...")
    parser.add_argument("--output-dir", type=Path, default=None, metavar="DIR", help="keep the streams here as DIR/DATASET/SEQ_ipN_qQ.lvc (default: a temporary folder, removed)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    # A random reduced-width model, so the tests run the whole command in seconds.
    parser.add_argument("--small", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Check the options and inputs, resolve the weights, evaluate, print the table, write JSON and plot."""
    spec = get_spec(args.model)
    for quality in args.qualities or ():
        spec.check_quality(quality)
    if args.estimate and args.output_dir is not None:
        raise InputError("--output-dir keeps the stream files, but --estimate writes none: drop one of the two.")
    if args.plot is not None and args.plot.suffix.lower() not in (".png", ".svg"):
        raise InputError(f"{args.plot}: the plot is written as .png or .svg; pass such a file name.")
    sequences = collect_sequences(args.input, size=args.size)
    try:
        source = resolve_model(spec.name, args.weights, random_weights=args.random_weights, small=args.small)
    except WeightsNotFoundError as err:
        if args.weights is not None:
            raise
        raise WeightsNotFoundError(f"{err} (`lvc-zoo eval --random-weights` runs the pipeline with random weights.)") from None
    conditions = EvalConditions(
        qualities=tuple(sorted(set(args.qualities))) if args.qualities else spec.rate.qualities,
        frames=args.frames,
        intra_periods=tuple(dict.fromkeys(args.intra_period)) if args.intra_period else None,
        colour=args.colour,
        estimate=args.estimate,
        output_dir=args.output_dir,
    )
    _print_plan(args, spec.name, source.label, conditions, len(sequences))
    results = evaluate(
        sequences, conditions, source, device=args.device, workers=args.workers, threads=args.threads, quiet=args.quiet
    )
    print()
    print(format_summary(results))
    for note in results.notes:
        print(f"note: {note}")
    written = results.write_json(args.json) if args.json is not None else {}
    for intra_period, path in written.items():
        print(f"wrote {path} (intra period {intra_period})")
    if args.output_dir is not None and not args.estimate:
        print(f"streams kept in {args.output_dir}/")
    if args.plot is not None:
        print(f"wrote {_plot(results, written, args.plot)}")
    return 0


def _print_plan(args: argparse.Namespace, model: str, weights: str, conditions: EvalConditions, count: int) -> None:
    periods = " ".join(map(str, conditions.intra_periods)) if conditions.intra_periods else "per sequence (default 32 -1)"
    frames = conditions.frames or f"per sequence (default {DEFAULT_FRAMES})"
    print(f"lvc-zoo eval: {model}, {count} sequence(s), qualities {' '.join(map(str, conditions.qualities))}, "
          f"intra periods {periods}, frames {frames}, on {args.device}")
    if args.small:
        print(f"weights: random, reduced widths (--small, for tests): {_RANDOM_NOTE}")
    elif args.random_weights:
        print(f"weights: random (--random-weights): {_RANDOM_NOTE}")
    else:
        print(f"weights: {weights}")
    if conditions.estimate:
        print("rate: estimated from the likelihoods (--estimate): no entropy coder, no stream file, no decode check")
    else:
        print("rate: real coding: each point is encoded into a file, the file is decoded and checked bit-exact")


def _plot(results: EvalResults, written: dict[int, Path], path: Path) -> Path:
    """Draw one curve per intra period with lvc_zoo.eval.plots (imported only when asked)."""
    try:
        from ..eval.plots import plot_rd
        from ..eval.results import load_results, parse_results
    except ImportError as err:
        raise InputError(f"--plot needs lvc_zoo.eval.plots, which cannot be imported here ({err}); drop --plot.") from None
    periods = results.intra_periods
    curves = {}
    for intra_period in periods:
        label = results.model if len(periods) == 1 else f"{results.model} ip{intra_period}"
        if intra_period in written:
            curves[label] = load_results(written[intra_period])
        else:
            curves[label] = parse_results(results.layout(intra_period), source=f"{results.model} ip{intra_period}")
    return plot_rd(curves, path)
