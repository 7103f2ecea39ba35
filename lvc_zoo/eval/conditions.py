"""Test conditions of `lvc-zoo eval`: which sequences, how many frames, which intra periods.

Inputs (any number, mixed):

| input                              | sequences                                   | dataset name        |
| ---------------------------------- | ------------------------------------------- | ------------------- |
| ``Name_1920x1080_50.yuv``          | the file (size, fps from the name)          | its parent folder   |
| ``clip.y4m``, ``clip.mp4``, ...    | the file                                    | its parent folder   |
| a folder of ``.png`` images        | the folder                                  | its parent folder   |
| a folder of videos / PNG folders   | each of them                                | the folder          |
| ``dataset.json``                   | the sequences it lists (below)              | the class name      |

A dataset JSON follows the test configs of the microsoft/DCVC family
(``dataset_config_example_yuv420.json``)::

    {
      "root_path": "/data/test_sequences",              # optional; relative: to the JSON's folder
      "test_classes": {
        "HEVC_B": {
          "test": 1,                                     # 0 skips the class (default 1)
          "base_path": "HEVC_B",                         # under root_path (default: the class name)
          "src_type": "yuv420",                          # "yuv420" (a file) or "png" (a folder)
          "sequences": {
            "BasketballDrive_1920x1080_50.yuv": {
              "width": 1920, "height": 1080,             # required for .yuv without WxH in the name
              "frames": 96,                              # optional, frames to code
              "intra_period": 32                         # optional
            }
          }
        }
      }
    }

[choice] Frames and intra periods: an explicit ``--frames`` / ``--intra-period`` wins for
every sequence (like DCVC's ``--force_frame_num`` / ``--force_intra_period``); otherwise a
sequence's "frames" / "intra_period" from its JSON, else 96 frames and both intra periods
32 and -1. A sequence shorter than asked is coded whole (the record's "frame_count" says how
many frames were coded).

[choice] PSNR kind follows the source, as the DCVC tests do: YUV sources (.yuv, .y4m,
containers) are measured in YUV 4:2:0 against the file's own planes ("yuv611"), PNG sources
in RGB ("rgb").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.colour import ColourSpace
from ..data.video import VideoInfo, iter_planes
from ..errors import InputError
from .metrics import Planes

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_INTRA_PERIODS",
    "VIDEO_SUFFIXES",
    "SequenceSpec",
    "EvalConditions",
    "collect_sequences",
    "read_dataset_config",
    "psnr_kind_of",
    "source_planes",
    "results_path",
]

DEFAULT_FRAMES = 96
"""Frames coded per sequence (DCVC test conditions)."""
DEFAULT_INTRA_PERIODS = (32, -1)
"""Intra periods evaluated when neither the command line nor the dataset JSON gives one."""
VIDEO_SUFFIXES = (".yuv", ".y4m", ".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm")
"""File suffixes `collect_sequences` takes for videos (the formats `lvc_zoo.data.read_video` reads)."""
_SRC_TYPES = {"yuv420": "a video file", "png": "a folder of PNG images"}


@dataclass(frozen=True)
class SequenceSpec:
    """One test sequence.

    Attributes:
        dataset: dataset name (results key): the JSON's class name or the input's parent folder.
        name: sequence key in the results: the file or folder name ("Cactus_1920x1080_50.yuv").
        path: the video file or PNG folder.
        size: (width, height) for a raw .yuv (from the dataset JSON or --size); None: from the name.
        frames: frames to code from the dataset JSON; None: the run's default.
        intra_period: intra period from the dataset JSON; None: the run's default.
    """

    dataset: str
    name: str
    path: Path
    size: tuple[int, int] | None = None
    frames: int | None = None
    intra_period: int | None = None

    @property
    def label(self) -> str:
        """"dataset/name", for messages."""
        return f"{self.dataset}/{self.name}"


@dataclass(frozen=True)
class EvalConditions:
    """How every sequence is coded.

    Attributes:
        qualities: qualities to code, ascending.
        frames: frames per sequence; None: each sequence's own (dataset JSON), else DEFAULT_FRAMES.
        intra_periods: intra periods; None: each sequence's own, else DEFAULT_INTRA_PERIODS.
        colour: Y'CbCr colour space of YUV sources and of the Y/U/V metrics; None: each format's
            default (BT.709 full range for .yuv, .y4m and PNG; a container's tags).
        estimate: estimate the rate from likelihoods instead of coding a file.
        output_dir: where the bitstreams are kept; None: a temporary folder, removed afterwards.
    """

    qualities: tuple[int, ...]
    frames: int | None = None
    intra_periods: tuple[int, ...] | None = None
    colour: ColourSpace | None = None
    estimate: bool = False
    output_dir: Path | None = None

    def frames_of(self, sequence: SequenceSpec) -> int:
        """Frames to code of `sequence` (at most; a shorter file is coded whole)."""
        return self.frames or sequence.frames or DEFAULT_FRAMES

    def intra_periods_of(self, sequence: SequenceSpec) -> tuple[int, ...]:
        """Intra periods to code `sequence` with."""
        if self.intra_periods:
            return self.intra_periods
        return (sequence.intra_period,) if sequence.intra_period is not None else DEFAULT_INTRA_PERIODS


def collect_sequences(inputs: Sequence[str | os.PathLike[str]], size: tuple[int, int] | None = None) -> list[SequenceSpec]:
    """The sequences named by command-line inputs (see the module docs), in the order given.

    Args:
        inputs: video files, PNG folders, folders of those, and dataset JSON files.
        size: (width, height) of raw .yuv inputs given directly (not those of a dataset JSON).
    Raises:
        InputError: a missing input, a folder with nothing to code, a malformed dataset JSON, or
            two sequences with the same dataset and name.
    """
    sequences: list[SequenceSpec] = []
    for entry in inputs:
        path = Path(entry)
        if not path.exists():
            raise InputError(f"{path} does not exist: pass video files, PNG folders or a dataset JSON.")
        if path.is_file() and path.suffix.lower() == ".json":
            sequences += read_dataset_config(path)
        elif path.is_dir() and not _is_png_folder(path):
            sequences += _folder_sequences(path, size)
        else:
            sequences.append(_file_sequence(path, _dataset_of(path), size))
    _check_unique(sequences)
    if not sequences:
        raise InputError("no sequences to evaluate: every dataset JSON class has \"test\": 0.")
    return sequences


def read_dataset_config(path: str | os.PathLike[str]) -> list[SequenceSpec]:
    """The sequences of a DCVC-style dataset JSON (module docs), classes with "test": 0 left out.

    Raises:
        InputError: unreadable JSON, a missing or ill-typed field, an unknown "src_type", or a
            listed sequence that does not exist or is not of its class's src_type.
    """
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:  # JSON and UTF-8 errors, too many digits, deep nesting
        raise InputError(f"{path}: cannot read the dataset JSON ({err}).") from None
    config = _object(config, path, "the top level")
    root = Path(_typed(config, "root_path", str, path, "the top level", default="."))
    root = root if root.is_absolute() else path.parent / root
    classes = _object(config.get("test_classes"), path, '"test_classes"')
    sequences = []
    for dataset, entry in classes.items():
        entry = _object(entry, path, f"class {dataset!r}")
        if not _typed(entry, "test", (int, bool), path, dataset, default=1):
            continue
        base = root / _typed(entry, "base_path", str, path, dataset, default=dataset)
        src_type = _typed(entry, "src_type", str, path, dataset, default="yuv420")
        if src_type not in _SRC_TYPES:
            raise InputError(f'{path}: class {dataset!r} has "src_type": {src_type!r}; use "yuv420" or "png".')
        for name, fields in _object(entry.get("sequences"), path, f'class {dataset!r} "sequences"').items():
            sequences.append(_config_sequence(path, dataset, base / name, src_type, _object(fields, path, f"{dataset}/{name}")))
    return sequences


def psnr_kind_of(info: VideoInfo) -> str:
    """"rgb" for PNG sources, "yuv611" for YUV sources (.yuv, .y4m, containers)."""
    return "rgb" if info.source_format == "png" else "yuv611"


def source_planes(path: Path, info: VideoInfo, count: int) -> Iterator[Planes] | None:
    """The file's own 8-bit 4:2:0 planes of its first `count` frames; None for PNG sources.

    Args:
        path: the source `info` was read from.
        info: its VideoInfo (as returned by `read_video` / `probe_video`).
        count: frames to read.
    Returns: an iterator of (Y (H, W), U, V (⌈H/2⌉, ⌈W/2⌉)) uint8 tensors, or None.
    """
    if info.source_format == "png":
        return None
    return iter_planes(path, size=(info.width, info.height), frames=count)


def results_path(json_path: str | os.PathLike[str], intra_period: int) -> Path:
    """The results file of one intra period: out.json -> out_ip32.json, out_ip-1.json."""
    json_path = Path(json_path)
    return json_path.with_name(f"{json_path.stem}_ip{intra_period}{json_path.suffix or '.json'}")


# ----------------------------------------------------------------------------- inputs
def _is_png_folder(path: Path) -> bool:
    return any(p.suffix.lower() == ".png" for p in path.iterdir())


def _dataset_of(path: Path) -> str:
    """The name of the folder holding `path` (its absolute parent, so "clip.yuv" works too)."""
    return path.resolve().parent.name or "dataset"


def _folder_sequences(folder: Path, size: tuple[int, int] | None) -> list[SequenceSpec]:
    """Each video file and PNG folder inside `folder`, in name order; the dataset is the folder's name."""
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    found = [
        p for p in entries
        if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (p.is_dir() and _is_png_folder(p))
    ]
    if not found:
        raise InputError(
            f"{folder} holds no .png images, videos ({' '.join(VIDEO_SUFFIXES)}) or folders of PNGs: "
            "pass a sequence or a folder of sequences."
        )
    dataset = folder.resolve().name
    return [_file_sequence(p, dataset, size) for p in found]


def _file_sequence(path: Path, dataset: str, size: tuple[int, int] | None) -> SequenceSpec:
    return SequenceSpec(dataset, path.name, path, size=size if path.suffix.lower() == ".yuv" else None)


def _config_sequence(source: Path, dataset: str, path: Path, src_type: str, fields: Mapping[str, Any]) -> SequenceSpec:
    where = f"{dataset}/{path.name}"
    width = _typed(fields, "width", int, source, where, default=None)
    height = _typed(fields, "height", int, source, where, default=None)
    frames = _typed(fields, "frames", int, source, where, default=None)
    intra_period = _typed(fields, "intra_period", int, source, where, default=None)
    if (width is None) != (height is None) or (width is not None and min(width, height) < 1):
        raise InputError(f'{source}: {where} needs both "width" and "height" as positive integers, or neither.')
    if frames is not None and frames < 1:
        raise InputError(f'{source}: {where} has "frames": {frames}; use a positive number.')
    if intra_period is not None and intra_period != -1 and intra_period < 1:
        raise InputError(f'{source}: {where} has "intra_period": {intra_period}; use -1 or a period >= 1.')
    is_folder = src_type == "png"
    if not path.exists() or path.is_dir() != is_folder:
        state = "does not exist" if not path.exists() else f"is not {_SRC_TYPES[src_type]}"
        raise InputError(
            f'{source}: {where}: {path} {state} ("src_type": "{src_type}" means {_SRC_TYPES[src_type]}); '
            'check "root_path", "base_path" and the sequence name.'
        )
    size = (width, height) if width is not None else None
    return SequenceSpec(dataset, path.name, path, size=size, frames=frames, intra_period=intra_period)


def _check_unique(sequences: list[SequenceSpec]) -> None:
    seen: dict[tuple[str, str], Path] = {}
    for sequence in sequences:
        key = (sequence.dataset, sequence.name)
        if key in seen:
            raise InputError(
                f"two inputs are both sequence {sequence.label} ({seen[key]} and {sequence.path}): results are keyed "
                "by dataset and name, so rename one or put it in a folder of another name."
            )
        seen[key] = sequence.path


def _object(value: Any, source: Path, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(
            f"{source}: {where} must be a JSON object, got {type(value).__name__}; see the dataset JSON layout in "
            "`lvc-zoo eval --help`."
        )
    return value


def _typed(fields: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: Path, where: str, default: Any) -> Any:
    """fields[key] if present and of `kind` (bools are not ints unless asked), else `default`."""
    if key not in fields or fields[key] is None:
        return default
    value = fields[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise InputError(f'{source}: {where}: "{key}" must be {names}, got {value!r}.')
    return value
