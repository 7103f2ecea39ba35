"""Evaluation: test conditions and the `lvc-zoo eval` runner, metrics, results files,
BD-rate against anchors, rate-distortion plots and benchmarks."""

from .bdrate import BD_METHODS, BDRateTable, DatasetBDRate, SequenceBDRate, bd_psnr, bd_rate, compare, format_table
from .bench import Baseline, BenchResult, bench, count_macs, count_parameters, format_bench, time_coding
from .conditions import EvalConditions, SequenceSpec, collect_sequences, read_dataset_config
from .metrics import FrameMetrics, frame_metrics, msssim, psnr_rgb, weighted_yuv
from .plots import plot_rd
from .results import RDPoint, Results, load_results, parse_results
from .runner import EvalResults, evaluate, format_summary

__all__ = [
    # results files and BD-rate
    "RDPoint", "Results", "load_results", "parse_results",
    "BD_METHODS", "bd_rate", "bd_psnr", "compare", "format_table", "BDRateTable", "DatasetBDRate", "SequenceBDRate",
    "plot_rd",
    # lvc-zoo eval
    "EvalConditions", "SequenceSpec", "collect_sequences", "read_dataset_config",
    "FrameMetrics", "frame_metrics", "msssim", "psnr_rgb", "weighted_yuv",
    "EvalResults", "evaluate", "format_summary",
    # lvc-zoo bench
    "Baseline", "BenchResult", "bench", "count_macs", "count_parameters", "format_bench", "time_coding",
]
