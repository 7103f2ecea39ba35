"""Reading official checkpoints safely and applying rename tables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor

from ..errors import ConversionError

__all__ = ["Checkpoint", "Rule", "read_official", "rename", "check_against"]

Checkpoint = Union[str, PathLike, Mapping[str, Any]]
Rule = tuple[str, str]
"""(regex matched against the whole official key, replacement with \\1-style groups)."""


def read_official(checkpoint: Checkpoint) -> dict[str, Tensor]:
    """A plain {key: float tensor} state_dict from a path or a (possibly wrapped) mapping.

    Files are read with ``torch.load(weights_only=True)``: no pickled code is ever run.
    """
    if isinstance(checkpoint, (str, PathLike)):
        path = Path(checkpoint)
        if not path.is_file():
            raise ConversionError(f"Checkpoint {path} does not exist; pass the path of the authors' .pth.tar file.")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle errors carry no useful type
            raise ConversionError(f"Cannot read {path} as a weights-only PyTorch checkpoint: {err}") from err
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(f"A checkpoint must be a state_dict mapping, got {type(checkpoint).__name__}.")
    for wrapper in ("state_dict", "net"):
        if wrapper in checkpoint and isinstance(checkpoint[wrapper], Mapping):
            checkpoint = checkpoint[wrapper]
    state = {}
    for key, value in checkpoint.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        state[key] = torch.as_tensor(np.asarray(value)) if isinstance(value, np.ndarray) else value
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise ConversionError(f"Entries that are not tensors: {', '.join(bad[:5])}; is this a model checkpoint?")
    return state


def rename(state: Mapping[str, Tensor], rules: Sequence[Rule], dropped: Iterable[str], prefix: str) -> dict[str, Tensor]:
    """Apply the first matching rule to each key and prepend `prefix`; drop listed keys.

    Raises ConversionError listing every key no rule matches.
    """
    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    dropped = set(dropped)
    out: dict[str, Tensor] = {}
    unknown = []
    for key, value in state.items():
        if key in dropped:
            continue
        for pattern, repl in compiled:
            if pattern.fullmatch(key):
                out[prefix + pattern.sub(repl, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ConversionError(
            f"{len(unknown)} official keys have no mapping: {', '.join(sorted(unknown)[:8])}"
            f"{' ...' if len(unknown) > 8 else ''}. Is this the right model's checkpoint (intra vs inter)?"
        )
    return out


def check_against(state: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> None:
    """Raise ConversionError unless `state` has exactly the keys and shapes of `expected`."""
    missing = sorted(expected.keys() - state.keys())
    extra = sorted(state.keys() - expected.keys())
    shapes = [k for k in expected.keys() & state.keys() if tuple(expected[k].shape) != tuple(state[k].shape)]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys ({', '.join(missing[:5])})")
    if extra:
        problems.append(f"{len(extra)} unexpected keys ({', '.join(extra[:5])})")
    if shapes:
        k = sorted(shapes)[0]
        problems.append(
            f"{len(shapes)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)})"
        )
    if problems:
        raise ConversionError("Converted checkpoint does not fit the model: " + "; ".join(problems) + ".")
