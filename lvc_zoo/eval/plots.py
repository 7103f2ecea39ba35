"""Rate-distortion plots: bpp against PSNR or MS-SSIM, one subplot per dataset, one curve per file.

A dataset's curve is the mean over its sequences at each rate key (the way the DCVC papers
draw them): mean bpp against mean PSNR for the keys that every sequence of the dataset has.
Figures are drawn without pyplot on matplotlib's Agg canvas, so no display is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import InputError
from ..runtime import atomic_path
from .results import RDPoint, Results

__all__ = ["PLOT_METRICS", "plot_rd"]

PLOT_METRICS = ("psnr", "msssim")
PLOT_FORMATS = {".png": "png", ".svg": "svg"}
PSNR_LABELS = {"yuv611": "YUV 6:1:1", "rgb": "RGB"}
COLUMNS = 3
"""Subplots per row."""


def plot_rd(
    curves: Mapping[str, Results], path: str | Path, metric: str = "psnr", dataset: str | None = None
) -> Path:
    """Draw RD curves and write them to a PNG or SVG file.

    Args:
        curves: legend label -> results (e.g. {"dcvc_dc": results, "VTM 17.0": anchor}).
        path: output file; the suffix (.png or .svg) picks the format. Written atomically.
        metric: "psnr" (y in dB, the PSNR kind in the label) or "msssim" (y in [0, 1]).
        dataset: draw only this dataset; None draws every dataset any curve has.
    Returns: `path`.
    Raises:
        InputError: no curves, unknown metric or suffix, unknown dataset, or nothing to draw
            (e.g. no MS-SSIM values).
    """
    path = Path(path)
    if not curves:
        raise InputError("plot_rd needs at least one results file to draw.")
    if metric not in PLOT_METRICS:
        raise InputError(f"unknown plot metric {metric!r}; use one of {', '.join(PLOT_METRICS)}.")
    fmt = PLOT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: cannot tell the plot format; use a .png or .svg file name.")
    names = _datasets(curves, dataset)
    figure = _figure(curves, names, metric)
    _save(figure, path, fmt)
    return path


def _datasets(curves: Mapping[str, Results], dataset: str | None) -> list[str]:
    """The datasets to draw, in order of first appearance."""
    names = list(dict.fromkeys(name for results in curves.values() for name in results.datasets))
    if dataset is None:
        return names
    if dataset not in names:
        raise InputError(f"dataset {dataset!r} is in none of the results; available: {', '.join(names)}.")
    return [dataset]


def _figure(curves: Mapping[str, Results], datasets: list[str], metric: str) -> Figure:
    """One subplot per dataset with one line per results file."""
    columns = min(COLUMNS, len(datasets))
    rows = math.ceil(len(datasets) / columns)
    figure = Figure(figsize=(5.0 * columns, 4.0 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    kinds = sorted({point.psnr_kind for results in curves.values() for _, _, points in results.sequences()
                    for point in points})
    drawn = 0
    for index, dataset in enumerate(datasets):
        axes = figure.add_subplot(rows, columns, index + 1)
        for label, results in curves.items():
            line = _dataset_curve(results, dataset, metric)
            if line is not None:
                axes.plot(line[0], line[1], marker="o", markersize=4, label=label)
                drawn += 1
        axes.set_title(dataset)
        axes.set_xlabel("rate (bpp, bits per pixel)")
        axes.set_ylabel(_y_label(metric, kinds))
        axes.grid(True, alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small")
    if drawn == 0:
        raise InputError(f"nothing to plot: no {metric} values in the datasets {', '.join(datasets)}.")
    return figure


def _dataset_curve(results: Results, dataset: str, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean bpp, mean metric) per rate key shared by all sequences of `dataset`, by increasing bpp; None if empty."""
    sequences = results.datasets.get(dataset, {})
    by_key: list[dict[str, RDPoint]] = [{point.rate_key: point for point in points} for points in sequences.values()]
    if not by_key:
        return None
    keys = [key for key in by_key[0] if all(key in points for points in by_key)]
    values = [(np.mean([points[key].bpp for points in by_key]), _mean_metric([points[key] for points in by_key], metric))
              for key in keys]
    values = sorted((bpp, value) for bpp, value in values if value is not None)
    if not values:
        return None
    bpp, value = zip(*values)
    return np.asarray(bpp), np.asarray(value)


def _mean_metric(points: list[RDPoint], metric: str) -> float | None:
    """Mean PSNR (dB) or MS-SSIM of `points`; None if any point lacks the MS-SSIM."""
    values = [point.psnr if metric == "psnr" else point.msssim for point in points]
    return None if any(value is None for value in values) else float(np.mean(values))


def _y_label(metric: str, kinds: list[str]) -> str:
    """The y-axis label, naming the PSNR kind(s)."""
    if metric == "msssim":
        return "MS-SSIM"
    return f"PSNR {' / '.join(PSNR_LABELS[kind] for kind in kinds)} (dB)"


def _save(figure: Figure, path: Path, fmt: str) -> None:
    """Write `figure` to `path` atomically (no partial file is left)."""
    with atomic_path(path) as partial:
        figure.savefig(partial, format=fmt, dpi=150)
