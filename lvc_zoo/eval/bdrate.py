"""Bjøntegaard delta rate and PSNR, and per-sequence BD-rate tables against an anchor.

BD-rate (Bjøntegaard, VCEG-M33, 2001) is the mean difference of two rate-distortion curves
along the quality axis: interpolate log10(rate) as a function of PSNR for the anchor and the
test, integrate both over the PSNR interval they share, and turn the mean difference back
into a rate ratio::

    BD-rate = 10 ** ((∫ log10 R_test dP - ∫ log10 R_anchor dP) / (P_hi - P_lo)) - 1   (in %)

Negative means the test needs fewer bits for the same quality. BD-PSNR swaps the axes: PSNR
as a function of log10(rate), mean difference in dB over the shared log-rate interval.

Two interpolations:

- "pchip" (default): piecewise cubic Hermite (scipy's PchipInterpolator), integrated exactly.
  Used by the JCT-VC / JVET common test conditions and by microsoft/DCVC's BD-rate script.
- "cubic": one least-squares cubic polynomial through all points (np.polyfit, degree 3),
  integrated analytically; the original VCEG-M33 method. Needs at least 4 points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..errors import InputError
from .results import RDPoint, Results

__all__ = [
    "BD_METHODS",
    "bd_rate",
    "bd_psnr",
    "SequenceBDRate",
    "DatasetBDRate",
    "BDRateTable",
    "compare",
    "format_table",
]

BD_METHODS = ("pchip", "cubic")
MIN_POINTS = {"pchip": 2, "cubic": 4}
"""Fewest rate points per curve for each method."""


def bd_rate(
    anchor_rates: Sequence[float],
    anchor_psnrs: Sequence[float],
    test_rates: Sequence[float],
    test_psnrs: Sequence[float],
    method: str = "pchip",
) -> float:
    """Bjøntegaard delta rate of the test curve against the anchor curve.

    Args:
        anchor_rates: anchor rates (> 0; bpp, kbit/s, any unit shared with `test_rates`).
        anchor_psnrs: anchor PSNRs in dB, one per rate, in any order.
        test_rates: test rates, same unit as `anchor_rates`.
        test_psnrs: test PSNRs in dB (same kind as the anchor's).
        method: "pchip" (>= 2 points per curve) or "cubic" (>= 4 points per curve).
    Returns: the average rate difference in percent over the shared PSNR interval
        (-10.0 means the test needs 10 % fewer bits at equal PSNR).
    Raises:
        InputError: too few points, rates <= 0, non-finite values, a curve whose rate and
            PSNR do not both increase, or PSNR intervals that do not overlap.
    """
    anchor = _curve(anchor_rates, anchor_psnrs, method, "anchor")
    test = _curve(test_rates, test_psnrs, method, "test")
    lo, hi = _overlap(anchor[1], test[1], "PSNR", "dB")
    mean_log_ratio = (_integral(test[1], test[0], lo, hi, method)
                      - _integral(anchor[1], anchor[0], lo, hi, method)) / (hi - lo)
    return float((10.0 ** mean_log_ratio - 1.0) * 100.0)


def bd_psnr(
    anchor_rates: Sequence[float],
    anchor_psnrs: Sequence[float],
    test_rates: Sequence[float],
    test_psnrs: Sequence[float],
    method: str = "pchip",
) -> float:
    """Bjøntegaard delta PSNR of the test curve against the anchor curve.

    Args: as :func:`bd_rate`.
    Returns: the average PSNR difference in dB over the shared log10-rate interval
        (positive means the test has higher quality at equal rate).
    Raises:
        InputError: as :func:`bd_rate`, with the overlap taken on the rate axis.
    """
    anchor = _curve(anchor_rates, anchor_psnrs, method, "anchor")
    test = _curve(test_rates, test_psnrs, method, "test")
    lo, hi = _overlap(anchor[0], test[0], "log10 rate", "")
    return float((_integral(test[0], test[1], lo, hi, method)
                  - _integral(anchor[0], anchor[1], lo, hi, method)) / (hi - lo))


def _curve(rates: Sequence[float], psnrs: Sequence[float], method: str, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one RD curve; return (log10 rates, PSNRs) sorted by PSNR, both strictly increasing."""
    if method not in BD_METHODS:
        raise InputError(f"unknown BD-rate method {method!r}; use one of {', '.join(BD_METHODS)}.")
    rate = np.asarray(rates, dtype=np.float64)
    psnr = np.asarray(psnrs, dtype=np.float64)
    if rate.ndim != 1 or rate.shape != psnr.shape:
        raise InputError(f"the {who} curve needs one PSNR per rate (got {rate.size} rates, {psnr.size} PSNRs).")
    if rate.size < MIN_POINTS[method]:
        raise InputError(f"the {who} curve has {rate.size} points; {method} needs at least {MIN_POINTS[method]}.")
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(psnr))):
        raise InputError(f"the {who} curve has a non-finite rate or PSNR.")
    if np.any(rate <= 0):
        raise InputError(f"the {who} curve has a rate <= 0; BD-rate works on log10(rate).")
    order = np.argsort(psnr, kind="stable")
    rate, psnr = rate[order], psnr[order]
    if np.any(np.diff(psnr) <= 0) or np.any(np.diff(rate) <= 0):
        pairs = ", ".join(f"({r:g}, {p:g})" for r, p in zip(rate, psnr))
        raise InputError(f"the {who} curve must have rate and PSNR both strictly increasing after "
                         f"sorting by PSNR; got (rate, PSNR) {pairs}.")
    return np.log10(rate), psnr


def _overlap(anchor: np.ndarray, test: np.ndarray, axis: str, unit: str) -> tuple[float, float]:
    """The interval [lo, hi] both sorted sample arrays cover; InputError if it is empty."""
    lo, hi = max(anchor[0], test[0]), min(anchor[-1], test[-1])
    if hi <= lo:
        raise InputError(
            f"the curves do not overlap in {axis}: anchor {anchor[0]:.4f}..{anchor[-1]:.4f}{unit and ' ' + unit}, "
            f"test {test[0]:.4f}..{test[-1]:.4f}{unit and ' ' + unit}; BD metrics need a shared interval."
        )
    return float(lo), float(hi)


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """∫ y(x) dx over [lo, hi] for the curve through (x, y) interpolated by `method` (x increasing)."""
    if method == "pchip":
        return float(PchipInterpolator(x, y).integrate(lo, hi))
    centre = 0.5 * (x[0] + x[-1])  # fitting around the centre keeps the cubic well conditioned
    antiderivative = np.polyint(np.polyfit(x - centre, y, 3))
    return float(np.polyval(antiderivative, hi - centre) - np.polyval(antiderivative, lo - centre))


# --------------------------------------------------------------------------------------------
# Tables against an anchor


@dataclass(frozen=True)
class SequenceBDRate:
    """The BD-rate of one sequence."""

    dataset: str
    sequence: str  # file name, as in both results files
    bd_rate: float  # percent; negative = fewer bits than the anchor


@dataclass(frozen=True)
class DatasetBDRate:
    """The mean BD-rate of the compared sequences of one dataset."""

    dataset: str
    bd_rate: float  # percent, unweighted mean over `sequence_count` sequences
    sequence_count: int


@dataclass(frozen=True)
class BDRateTable:
    """BD-rates of a results file against an anchor, per sequence, per dataset and overall."""

    method: str  # "pchip" or "cubic"
    psnr_kind: str  # the PSNR kind both sides share
    sequences: tuple[SequenceBDRate, ...]  # in the order of the results file
    datasets: tuple[DatasetBDRate, ...]
    average: float  # percent: unweighted mean of the dataset means
    only_in_results: tuple[str, ...]  # "dataset/sequence" skipped: not in the anchor
    only_in_anchor: tuple[str, ...]  # "dataset/sequence" skipped: not in the results


def compare(results: Results, anchor: Results, method: str = "pchip") -> BDRateTable:
    """BD-rate (bpp vs PSNR) of every sequence of `results` that `anchor` also has.

    Sequences match by dataset and file name; those on one side only are listed in the table
    and skipped. A dataset's BD-rate is the mean over its sequences, the average the mean over
    datasets (the way the DCVC papers report them).

    Args:
        results: the test curves.
        anchor: the reference curves (e.g. the VTM anchor).
        method: "pchip" or "cubic" (see :func:`bd_rate`).
    Returns: the table.
    Raises:
        InputError: no sequence in common; a matched pair with different PSNR kinds (or pairs of
            several kinds in one table), or with two
            different known colour matrices (an unknown matrix, None, matches any); or a
            sequence whose curves :func:`bd_rate` rejects (named in the message).
    """
    if method not in BD_METHODS:
        raise InputError(f"unknown BD-rate method {method!r}; use one of {', '.join(BD_METHODS)}.")
    pairs = _matched(results, anchor)
    rows = tuple(_sequence_bd_rate(dataset, sequence, test, ref, method) for dataset, sequence, test, ref in pairs)
    datasets = _dataset_means(rows)
    return BDRateTable(
        method=method,
        psnr_kind=pairs[0][2][0].psnr_kind,
        sequences=rows,
        datasets=datasets,
        average=float(np.mean([row.bd_rate for row in datasets])),
        only_in_results=_missing(results, anchor),
        only_in_anchor=_missing(anchor, results),
    )


def _matched(results: Results, anchor: Results) -> list[tuple[str, str, list[RDPoint], list[RDPoint]]]:
    """(dataset, sequence, test points, anchor points) of the sequences both sides have, checked compatible."""
    pairs = []
    for dataset, sequence, test in results.sequences():
        ref = anchor.datasets.get(dataset, {}).get(sequence)
        if ref is not None:
            _check_compatible(f"{dataset}/{sequence}", test, ref, results, anchor)
            pairs.append((dataset, sequence, test, ref))
    kinds = {test[0].psnr_kind for _, _, test, _ in pairs}
    if len(kinds) > 1:
        raise InputError(f"the compared sequences mix PSNR kinds ({', '.join(sorted(kinds))}); one table needs one "
                         "kind: compare the datasets of each kind separately.")
    if not pairs:
        raise InputError(
            f"{results.source} and {anchor.source} have no sequence in common (matched by dataset and file "
            f"name); results: {_names(results)}; anchor: {_names(anchor)}."
        )
    return pairs


def _check_compatible(where: str, test: list[RDPoint], ref: list[RDPoint], results: Results, anchor: Results) -> None:
    """InputError if the PSNRs of the two curves are of different kinds or after different colour matrices."""
    kinds = sorted({point.psnr_kind for point in test}), sorted({point.psnr_kind for point in ref})
    if len(kinds[0]) != 1 or kinds[0] != kinds[1]:
        raise InputError(
            f"{where}: cannot compare PSNR kinds {'/'.join(kinds[0])} ({results.source}) and {'/'.join(kinds[1])} "
            f"({anchor.source}); compare like with like (for files without lvc_zoo fields state the kind, "
            "e.g. `--anchor-kind rgb`)."
        )
    matrices = {point.colour_matrix for point in (*test, *ref)} - {None}
    if len(matrices) > 1:
        raise InputError(
            f"{where}: cannot compare PSNRs measured after different colour matrices ({', '.join(sorted(matrices))}) "
            f"in {results.source} and {anchor.source}; evaluate both with the same matrix."
        )


def _sequence_bd_rate(dataset: str, sequence: str, test: list[RDPoint], ref: list[RDPoint], method: str) -> SequenceBDRate:
    """The BD-rate (bpp vs PSNR) of one matched sequence; errors name it."""
    try:
        value = bd_rate([p.bpp for p in ref], [p.psnr for p in ref], [p.bpp for p in test], [p.psnr for p in test], method)
    except InputError as err:
        raise InputError(f"{dataset}/{sequence}: {err}") from None
    return SequenceBDRate(dataset, sequence, value)


def _dataset_means(rows: tuple[SequenceBDRate, ...]) -> tuple[DatasetBDRate, ...]:
    """Mean BD-rate per dataset, datasets in order of first appearance."""
    by_dataset: dict[str, list[float]] = {}
    for row in rows:
        by_dataset.setdefault(row.dataset, []).append(row.bd_rate)
    return tuple(DatasetBDRate(name, float(np.mean(values)), len(values)) for name, values in by_dataset.items())


def _missing(have: Results, other: Results) -> tuple[str, ...]:
    """"dataset/sequence" of `have` that `other` lacks."""
    return tuple(f"{dataset}/{sequence}" for dataset, sequence, _ in have.sequences()
                 if sequence not in other.datasets.get(dataset, {}))


def _names(results: Results, limit: int = 4) -> str:
    """A short list of a file's "dataset/sequence" names for messages."""
    names = [f"{dataset}/{sequence}" for dataset, sequence, _ in results.sequences()]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def format_table(table: BDRateTable) -> str:
    """The table as text: one row per sequence, one per dataset mean, the average, then skipped sequences."""
    rows = [("dataset", "sequence", "BD-rate")]
    for dataset in table.datasets:
        members = [row for row in table.sequences if row.dataset == dataset.dataset]
        rows += [(row.dataset, row.sequence, f"{row.bd_rate:.2f} %") for row in members]
        rows.append((dataset.dataset, f"(mean of {dataset.sequence_count})", f"{dataset.bd_rate:.2f} %"))
    plural = "s" if len(table.datasets) > 1 else ""
    rows.append(("average", f"(mean of {len(table.datasets)} dataset{plural})", f"{table.average:.2f} %"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"BD-rate ({table.method}, bpp vs PSNR {table.psnr_kind}; negative = fewer bits than the anchor)"]
    lines += [f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2].rjust(9)}" for row in rows]
    for label, names in (("not in the anchor", table.only_in_results), ("not in the results", table.only_in_anchor)):
        if names:
            lines.append(f"skipped, {label} ({len(names)}): {_summary(names)}")
    return "\n".join(lines)


def _summary(names: tuple[str, ...], limit: int = 3) -> str:
    """"dataset/sequence" names, a dataset with more than `limit` of them as "dataset (N sequences)"."""
    by_dataset: dict[str, list[str]] = {}
    for name in names:
        by_dataset.setdefault(name.split("/", 1)[0], []).append(name)
    parts = [", ".join(group) if len(group) <= limit else f"{dataset} ({len(group)} sequences)"
             for dataset, group in by_dataset.items()]
    return ", ".join(parts)
