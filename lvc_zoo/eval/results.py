"""Results files in the DCVC result layout: one rate-distortion curve per test sequence.

The layout (microsoft/DCVC `test_video.py` output, and the VTM anchors published with it)::

    {dataset: {sequence file: {rate key: {"ave_all_frame_bpp": ..., "ave_all_frame_psnr": ...,
                                          "ave_all_frame_msssim": ..., ...}}}}

`lvc-zoo eval` writes the same layout and adds explicit fields to every rate point:
"bpp", "psnr_rgb", "psnr_yuv" (YUV weighted 6:1:1), "psnr_y", "psnr_u", "psnr_v",
"msssim_rgb", "enc_ms_per_frame", "dec_ms_per_frame", "psnr_kind" (what
"ave_all_frame_psnr" holds: "yuv611" or "rgb"), "colour_matrix" ("bt709", "bt601", or null
for native YUV sources), "frame_count", "intra_period", "model" and "quality".

A PSNR is only comparable with a PSNR of the same kind measured after the same colour
conversion, so every :class:`RDPoint` carries both. Files without the lvc_zoo fields (the
VTM anchor, official DCVC output) do not say which PSNR they hold: the caller states it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["PSNR_KINDS", "COLOUR_MATRICES", "RDPoint", "Results", "load_results", "parse_results"]

PSNR_KINDS = ("yuv611", "rgb")
"""PSNR kinds: "yuv611" = (6 PSNR_Y + PSNR_U + PSNR_V) / 8 on YUV 4:2:0, "rgb" = PSNR over R, G, B."""
COLOUR_MATRICES = ("bt709", "bt601")
"""Known RGB <-> YUV matrices; `None` means the source was YUV and nothing was converted."""

_PSNR_FIELD = {"yuv611": "psnr_yuv", "rgb": "psnr_rgb"}
"""lvc_zoo's explicit field for each PSNR kind."""


@dataclass(frozen=True)
class RDPoint:
    """One rate point of one sequence (averages over all its frames)."""

    rate_key: str  # the file's key for the point, e.g. "022" (a VTM QP) or "3" (a quality)
    bpp: float  # bits per pixel (> 0), pixels of the luma plane / the RGB frame
    psnr: float  # dB, of kind `psnr_kind`
    msssim: float | None  # in [0, 1]; None when the file has none
    psnr_kind: str  # one of PSNR_KINDS
    colour_matrix: str | None  # one of COLOUR_MATRICES, or None (native YUV, or not recorded)


@dataclass(frozen=True)
class Results:
    """The curves of one results file: dataset -> sequence file name -> points by increasing bpp."""

    datasets: dict[str, dict[str, list[RDPoint]]]
    name: str  # a label: the file's "model" field when it names one model, else the file stem
    source: str  # where the results came from (a path), for messages

    def sequences(self) -> Iterator[tuple[str, str, list[RDPoint]]]:
        """Yield (dataset, sequence, points) in file order."""
        for dataset, sequences in self.datasets.items():
            for sequence, points in sequences.items():
                yield dataset, sequence, points

    @property
    def psnr_kinds(self) -> set[str]:
        """The PSNR kinds found in the file (one, unless the file mixes kinds)."""
        return {point.psnr_kind for _, _, points in self.sequences() for point in points}


def load_results(path: str | Path, psnr_kind: str = "yuv611", colour_matrix: str | None = None) -> Results:
    """Read a results JSON file in the DCVC result layout.

    Args:
        path: the JSON file.
        psnr_kind: what "ave_all_frame_psnr" holds in points without lvc_zoo fields:
            "yuv611" (default; true of the VTM anchors and of DCVC's YUV420 tests) or "rgb"
            (DCVC's RGB tests). Points that carry "psnr_kind" use their own.
        colour_matrix: the RGB <-> YUV matrix of points without a "colour_matrix" field:
            "bt709", "bt601" or None (default: native YUV, or unknown; compatible with any).
    Returns: the curves, each sorted by increasing bpp.
    Raises:
        InputError: the file is missing, is not JSON, or does not follow the layout; the
            message names the path and the first problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: results file not found; check the path.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the results file ({err}).") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:  # also numbers of too many digits and deep nesting
        raise InputError(f"{path}: not valid JSON ({err}); pass a results file written by "
                         "`lvc-zoo eval` or DCVC's test_video.py.") from None
    return parse_results(data, source=str(path), psnr_kind=psnr_kind, colour_matrix=colour_matrix)


def parse_results(
    data: Any, source: str = "<results>", psnr_kind: str = "yuv611", colour_matrix: str | None = None
) -> Results:
    """Build :class:`Results` from already-parsed JSON (see :func:`load_results` for the arguments).

    Args:
        data: {dataset: {sequence: {rate key: {field: value}}}}.
        source: a name for the data in error messages (a path).
    """
    _check_choice(psnr_kind, PSNR_KINDS, "psnr_kind", source)
    if colour_matrix is not None:
        _check_choice(colour_matrix, COLOUR_MATRICES, "colour_matrix", source)
    datasets = _mapping(data, source, "the top level (datasets)")
    if not datasets:
        raise InputError(f"{source}: no datasets; expected {{dataset: {{sequence: {{rate key: {{...}}}}}}}}.")
    parsed: dict[str, dict[str, list[RDPoint]]] = {}
    models: set[str] = set()
    for dataset, sequences in datasets.items():
        parsed[dataset] = {}
        for sequence, rates in _mapping(sequences, source, f"dataset {dataset!r}").items():
            where = f"{dataset}/{sequence}"
            rates = _mapping(rates, source, where)
            if not rates:
                raise InputError(f"{source}: {where} has no rate points.")
            points = [_point(key, _mapping(fields, source, f"{where}/{key}"), psnr_kind, colour_matrix,
                             f"{source}: {where}/{key}") for key, fields in rates.items()]
            parsed[dataset][sequence] = sorted(points, key=lambda point: point.bpp)
            models.update(str(fields["model"]) for fields in rates.values() if fields.get("model"))
    name = models.pop() if len(models) == 1 else Path(source).stem
    return Results(datasets=parsed, name=name, source=source)


def _point(key: str, fields: Mapping[str, Any], psnr_kind: str, colour_matrix: str | None, where: str) -> RDPoint:
    """One rate point; lvc_zoo fields (marked by "psnr_kind") win over the DCVC ones."""
    if "psnr_kind" in fields:
        psnr_kind = fields["psnr_kind"]
        _check_choice(psnr_kind, PSNR_KINDS, "psnr_kind", where)
        colour_matrix = fields.get("colour_matrix", colour_matrix)
        if colour_matrix is not None:
            _check_choice(colour_matrix, COLOUR_MATRICES, "colour_matrix", where)
    bpp = _number(fields, ("bpp", "ave_all_frame_bpp"), where)
    if bpp <= 0:
        raise InputError(f"{where}: bpp must be > 0, got {bpp}.")
    psnr = _number(fields, (_PSNR_FIELD[psnr_kind], "ave_all_frame_psnr"), where)
    msssim = _optional_number(fields, ("msssim_rgb", "ave_all_frame_msssim"), where)
    return RDPoint(str(key), bpp, psnr, msssim, psnr_kind, colour_matrix)


def _mapping(value: Any, source: str, where: str) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an InputError naming `where`."""
    if not isinstance(value, Mapping):
        raise InputError(f"{source}: {where} must be a JSON object, got {type(value).__name__}; expected "
                         "{dataset: {sequence: {rate key: {field: value}}}}.")
    return value


def _number(fields: Mapping[str, Any], names: tuple[str, ...], where: str) -> float:
    """The first of `names` present in `fields`, as a finite float."""
    value = _optional_number(fields, names, where)
    if value is None:
        raise InputError(f"{where}: missing {' or '.join(repr(name) for name in names)}.")
    return value


def _optional_number(fields: Mapping[str, Any], names: tuple[str, ...], where: str) -> float | None:
    """The first of `names` present and not null in `fields`, as a finite float; None if none is."""
    for name in names:
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{where}: {name!r} must be a finite number, got {value!r}.")
        return float(value)
    return None


def _check_choice(value: Any, choices: tuple[str, ...], name: str, where: str) -> None:
    """InputError unless `value` is one of `choices`."""
    if value not in choices:
        raise InputError(f"{where}: {name} must be one of {', '.join(choices)}, got {value!r}.")
