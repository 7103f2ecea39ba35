"""Every error lvc_zoo raises on purpose, in one hierarchy.

Each class subclasses :class:`LvcZooError` and the closest builtin, so ``except ValueError``
keeps working, and each message says what to do next.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = [
    "LvcZooError",
    "UnknownModelError",
    "QualityError",
    "WeightsNotFoundError",
    "ChecksumError",
    "ConversionError",
    "HubError",
    "ConfigError",
    "InputError",
    "BitstreamError",
    "ModelMismatchError",
    "ExactnessWarning",
    "require_quality",
]


class LvcZooError(Exception):
    """Base class of every error raised on purpose by lvc_zoo."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class UnknownModelError(LvcZooError, KeyError):
    """A model name that is not in the registry; suggests close names."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(
            f"Unknown model {name!r}.{hint} Available: {', '.join(sorted(known))} "
            "(see lvc_zoo.list_models() or `lvc-zoo list`)."
        )
        self.name = name


class QualityError(LvcZooError, ValueError):
    """A quality outside the model's valid range, or not the one a per-quality model was loaded for.

    Args:
        model: registry name of the model.
        quality: the quality asked for.
        valid: the model's qualities.
        loaded: for a model with one weights file per quality, the quality whose weights the
            codec holds (the only one it codes); None for other models.
    """

    def __init__(self, model: str, quality: object, valid: Sequence[int], loaded: int | None = None) -> None:
        valid = list(valid)
        span = f"{valid[0]}..{valid[-1]}" if valid == list(range(valid[0], valid[-1] + 1)) else str(valid)
        if loaded is not None and quality in valid:
            message = (
                f"Quality {quality!r} is not the one this {model!r} codec was loaded for ({loaded}): {model} has one "
                f"weights file per quality, so load it with lvc_zoo.load({model!r}, quality={quality!r})."
            )
        else:
            message = f"Quality {quality!r} is out of range for {model!r}: use an integer in {span} (higher is better quality)."
        super().__init__(message)
        self.quality = quality
        self.valid = tuple(valid)


class WeightsNotFoundError(LvcZooError, FileNotFoundError):
    """No weights could be found or downloaded; the message says how to get them."""


class ChecksumError(LvcZooError, ValueError):
    """A weights file whose sha256 differs from the recorded one."""

    def __init__(self, path: str, expected: str, actual: str, advice: str | None = None) -> None:
        advice = advice or "The file is corrupt or was modified; delete it and download or convert it again."
        super().__init__(f"Checksum mismatch for {path}: expected sha256 {expected}, got {actual}. {advice}")
        self.path = path
        self.expected = expected
        self.actual = actual


class ConversionError(LvcZooError, ValueError):
    """An official checkpoint that does not convert (unknown or missing keys, wrong shapes)."""


class HubError(LvcZooError, OSError):
    """The Hugging Face Hub refused or failed an upload; the message says what to check."""


class ConfigError(LvcZooError, ValueError):
    """A config.json or model configuration that cannot be used."""


class InputError(LvcZooError, ValueError):
    """Input frames or files that the codec cannot take (wrong shape, range, size)."""


class BitstreamError(LvcZooError, ValueError):
    """A bitstream that cannot be decoded: truncated, corrupt or of an unknown version."""


class ModelMismatchError(BitstreamError):
    """A bitstream written by another model or other weights than the decoder's."""


class ExactnessWarning(UserWarning):
    """A stream decoded under other torch or lvc_zoo versions than encoded it: the frames may differ in the last bits."""


def require_quality(model: str, quality: object, qualities: Sequence[int]) -> None:
    """Raise QualityError (naming the valid range) unless `quality` is one of `qualities`."""
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in qualities:
        raise QualityError(model, quality, qualities)
