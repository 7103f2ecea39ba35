"""`lvc-zoo bdrate RESULTS.json --anchor ANCHOR.json`: BD-rate per sequence, per dataset and overall.

Both files use the DCVC result layout (see :mod:`lvc_zoo.eval.results`). Files written by
`lvc-zoo eval` say which PSNR they hold; for other files (the VTM anchor, DCVC's own output)
`--anchor-kind` / `--results-kind` say it, "yuv611" by default.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from .help import COMMAND_HELP
from ..eval.bdrate import BD_METHODS, compare, format_table
from ..eval.plots import plot_rd
from ..eval.results import PSNR_KINDS, RDPoint, Results, load_results

__all__ = ["HELP", "register", "add_arguments", "run"]

HELP = COMMAND_HELP["bdrate"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `bdrate` subcommand to the `lvc-zoo` subparsers."""
    parser = commands.add_parser("bdrate", help=HELP, description=HELP + ".")
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo bdrate`."""
    parser.add_argument("results", type=Path, metavar="RESULTS.json", help="results to test (DCVC result layout)")
    parser.add_argument("--anchor", type=Path, required=True, metavar="ANCHOR.json", help="anchor results, e.g. VTM")
    parser.add_argument("--method", choices=BD_METHODS, default="pchip",
                        help="interpolation of log-rate vs PSNR (default pchip; cubic needs >= 4 points)")
    parser.add_argument("--anchor-kind", choices=PSNR_KINDS, default="yuv611",
                        help="PSNR the anchor holds when it has no lvc_zoo fields (default yuv611)")
    parser.add_argument("--results-kind", choices=PSNR_KINDS, default="yuv611",
                        help="PSNR the results hold when they have no lvc_zoo fields (default yuv611)")
    parser.add_argument("--plot", type=Path, default=None, metavar="RD.png",
                        help="also draw bpp vs PSNR of both files per dataset (.png or .svg)")


def run(args: argparse.Namespace) -> int:
    """Print the BD-rate table; optionally write the RD plot."""
    results = load_results(args.results, psnr_kind=args.results_kind)
    anchor = load_results(args.anchor, psnr_kind=args.anchor_kind)
    table = compare(results, anchor, method=args.method)
    print(format_table(table))
    if args.plot is not None:
        labels = _labels(results.name, anchor.name)
        compared = {(row.dataset, row.sequence) for row in table.sequences}
        plot_rd({labels[0]: _only(results, compared), labels[1]: _only(anchor, compared)}, args.plot)
        print(f"Wrote {args.plot}.")
    return 0


def _labels(results_name: str, anchor_name: str) -> tuple[str, str]:
    """Legend labels for the two files, distinct even when both have the same name."""
    if results_name == anchor_name:
        return f"{results_name} (results)", f"{anchor_name} (anchor)"
    return results_name, anchor_name


def _only(results: Results, compared: set[tuple[str, str]]) -> Results:
    """`results` restricted to the compared (dataset, sequence) pairs: both plotted curves average the same sequences."""
    datasets: dict[str, dict[str, list[RDPoint]]] = {}
    for dataset, sequence, points in results.sequences():
        if (dataset, sequence) in compared:
            datasets.setdefault(dataset, {})[sequence] = points
    return replace(results, datasets=datasets)
