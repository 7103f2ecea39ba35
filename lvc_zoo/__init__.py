"""lvc_zoo: a model zoo of learned video codecs.

    import lvc_zoo
    lvc_zoo.list_models()                                   # ["dcvc_dc", ...]
    codec = lvc_zoo.load("dcvc_dc", quality=3, weights="converted/dcvc_dc")
    res = codec.estimate(frames)                            # (T, 3, H, W) RGB in [0, 1]

The model table, the models and the weight loader are imported on first use, so
`import lvc_zoo.errors` or `import lvc_zoo.layers` stays light and does not build every model.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .version import __version__

if TYPE_CHECKING:
    import torch

    from .convert import convert_official
    from .hub import save_pretrained
    from .models import VideoCodec
    from .registry import list_models

__all__ = ["__version__", "load", "list_models", "save_pretrained", "convert_official"]



_LAZY_EXPORTS = {"list_models": ".registry", "save_pretrained": ".hub", "convert_official": ".convert"}
"""Public functions re-exported from the submodule that defines them, imported on first access."""


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        return getattr(import_module(_LAZY_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load(
    name: str,
    quality: int | None = None,
    *,
    pretrained: bool = True,
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
) -> VideoCodec:
    """Build a model of the zoo by name, with its weights, ready for inference.

    Args:
        name: registry name or alias (see `list_models()`).
        quality: default quality for later `estimate` calls; None keeps the model's default
            (its rate's default quality, the highest unless the model says otherwise). Checked
            before anything is built. For a model with one weights file per quality, only that
            quality's file is read (and downloaded), and the codec codes only that quality.
        pretrained: load weights; False builds a randomly initialised model.
        weights: a local lvc_zoo weights directory (config.json + model.safetensors),
            "hf-hub:ORG/NAME[@REVISION]" (downloaded into the Hugging Face cache), or None
            for the registry's default weights (its Hub repo at the pinned commit).
        device: where to put the model; None leaves it on the CPU.
    Returns: an instance of the model's class (e.g. `lvc_zoo.models.DCVCDC`) in eval mode.
    Raises:
        UnknownModelError: unknown name (the message suggests close names).
        QualityError: quality outside the model's range.
        WeightsNotFoundError: no weights where asked, or a Hub download failed (offline and
            not cached, repo / revision / file missing, Hub unreachable); the message says
            what was tried and how to get weights.
        ChecksumError: a weights file differs from the sha256 in its config.json or, for the
            registry's default weights, from the registry's pin.
        ConfigError: weights of another model, a malformed "hf-hub:" id, or `weights`
            together with pretrained=False.
    """
    from .hub import read_local, resolve_weights
    from .initialise import initialise
    from .registry import get_spec

    spec = get_spec(name)
    spec.check_quality(quality)
    if pretrained:
        stored = read_local(resolve_weights(spec, weights, quality), spec.name, quality)
        codec = spec.builder(stored.config)
        initialise(codec, stored)
    elif weights is not None:
        raise ConfigError(f"weights={str(weights)!r} was given with pretrained=False; drop one of the two.")
    else:
        codec = spec.builder(spec.config)
    if quality is not None:
        codec.quality = quality
    if device is not None:
        codec.to(device)
    return codec.eval()
