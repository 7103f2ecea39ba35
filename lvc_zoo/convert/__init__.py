"""Official checkpoints -> lvc_zoo state_dicts, by key renames only (one module per family)."""

from __future__ import annotations

from torch import Tensor

from ..errors import UnknownModelError
from . import dcvc_dc, dcvc_fm, sevc
from .common import Checkpoint, read_official

__all__ = ["convert_official", "read_official", "CONVERTERS"]

CONVERTERS = {"dcvc_dc": dcvc_dc.convert, "dcvc_fm": dcvc_fm.convert, "sevc": sevc.convert}
"""Registry name -> converter(intra_state, inter_state) -> lvc_zoo state_dict."""


def convert_official(name: str, intra: Checkpoint, inter: Checkpoint) -> dict[str, Tensor]:
    """Convert the authors' I-frame and P-frame checkpoints of model `name`.

    Args:
        name: registry name (or its hyphen alias), e.g. "dcvc_dc".
        intra, inter: a checkpoint path (read with ``torch.load(weights_only=True)``) or an
            in-memory state_dict; ``{"state_dict": ...}`` / ``{"net": ...}`` wrappers and
            ``module.`` prefixes are accepted.
    Returns: a state_dict that ``lvc_zoo.load(name, pretrained=False)`` loads with strict=True.
    Raises:
        UnknownModelError: no converter for `name`.
        ConversionError: unknown, missing or mis-shaped keys (the message lists them).
    """
    key = name.replace("-", "_").lower()
    if key not in CONVERTERS:
        raise UnknownModelError(name, list(CONVERTERS))
    return CONVERTERS[key](read_official(intra), read_official(inter))
