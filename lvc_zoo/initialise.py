"""One way to start a model from existing weights: `initialise(codec, source)`.

`lvc_zoo.load`, the `lightning` CLI's ``--model.init_from`` and tests all go through it; the
model constructors never resolve weights (`models` import neither the registry nor the Hub).

    source ─► read_source ─► StoredWeights(model, config, state_dict) ─► initialise(codec, ...)

A source is a registry name (its published or bundled weights), a local lvc_zoo weights
directory, "hf-hub:ORG/NAME[@REV]", or a Lightning checkpoint file (``*.ckpt``, read with
``torch.load(weights_only=True)``: its "state_dict" and the model class and config in its
hyperparameters). The rules:

- weights of the same model (the codec's class, or a registry variant of it such as
  `DCVCDCTiny` of `DCVCDC`: one class a subclass of the other, with the same config class)
  and the same config load strictly;
- the same model with another config is refused (ConfigError, one line naming the fields);
- weights of a model the codec's class declares in `initialisable_from` load partially:
  every tensor whose key and shape match is copied, and the report names, one line each,
  the top-level modules (e.g. ``inter.t2_align``) that keep their fresh initialisation;
- weights of any other model are refused (ConfigError, one line).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .errors import ConfigError, WeightsNotFoundError
from .hub import HUB_PREFIX, StoredWeights, config_from_dict, download_from_hub, load_stored, parse_hub_id, read_local, resolve_weights
from .models import VideoCodec
from .registry import ModelSpec, get_spec, spec_of_class

__all__ = [
    "InitReport", "TrainingCheckpoint", "initialise", "read_source", "read_checkpoint", "read_training_checkpoint",
    "CHECKPOINT_SUFFIX",
]

CHECKPOINT_SUFFIX = ".ckpt"
"""A source path ending so is a Lightning checkpoint (`lightning fit`), not a weights directory."""

MODULE_DEPTH = 2
"""Fresh tensors are reported by module path of this depth ("inter.t2_align")."""


@dataclass(frozen=True)
class InitReport:
    """What `initialise` loaded.

    Attributes:
        source: the source as given (or the directory / file read).
        model: registry name of the model whose weights were read.
        strict: every tensor came from the source (same model and config).
        fresh: for a partial initialisation, each top-level module that kept (some of) its
            fresh initialisation, with the count of its tensors that did, e.g.
            {"inter.t2_align": (12, 12)} (fresh, total); empty when strict.
    """

    source: str
    model: str
    strict: bool
    fresh: Mapping[str, tuple[int, int]]

    def lines(self) -> list[str]:
        """One line on the source, then one per module initialised fresh."""
        if self.strict:
            return [f"initialised from {self.source} ({self.model} weights, every tensor)"]
        head = f"initialised from {self.source} ({self.model} weights): every tensor whose key and shape match"
        return [head] + [
            f"{module}: initialised fresh" + ("" if count == total else f" ({count} of {total} tensors)")
            for module, (count, total) in self.fresh.items()
        ]


def read_source(
    source: str | os.PathLike[str], quality: int | None = None, model: str | None = None, passed_as: str = "init_from={}"
) -> StoredWeights:
    """Read weights to start from (see the module docstring for the kinds of source).

    Args:
        source: registry name, weights directory, "hf-hub:ORG/NAME[@REV]" or a ``.ckpt`` file.
        quality: for per-quality weights, the quality whose file is read (None: the default).
        model: registry name of the model being initialised, for download messages and for
            checkpoints that do not record their class; None = the source's own.
        passed_as: how the user passes a source, with {} for it (the `lightning` CLI:
            "--model.init_from {}"), for the message when a registry name has no published weights.
    Raises:
        UnknownModelError: an unknown registry name, or a config.json naming an unknown model.
        WeightsNotFoundError, ChecksumError: as `lvc_zoo.load`.
        ConfigError: a malformed Hub id or config.json, or a file that is no lvc_zoo checkpoint.
    """
    text = os.fspath(source)
    if text.startswith(HUB_PREFIX):
        spec = get_spec(model) if model is not None else None
        if spec is None:
            raise ConfigError(f"{text}: say which model the Hub weights are for (initialise a codec with them).")
        return read_local(download_from_hub(parse_hub_id(text), spec, quality=quality), None, quality)
    path = Path(text)
    if path.suffix == CHECKPOINT_SUFFIX:
        trained = read_training_checkpoint(path, model)
        return StoredWeights(trained.spec.name, trained.config, trained.state_dict, None, path)
    if path.exists() or "/" in text or os.sep in text:
        if not path.is_dir():
            raise WeightsNotFoundError(
                f"{text!r} is neither a weights directory nor a Lightning checkpoint ({CHECKPOINT_SUFFIX}): pass a "
                "directory written by lvc_zoo.save_pretrained / `lvc-zoo export`, a .ckpt file or a registry name."
            )
        return read_local(path, None, quality)
    spec = get_spec(text)
    return read_local(resolve_weights(spec, None, quality, passed_as), spec.name, quality)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The contents of a Lightning checkpoint, read with ``torch.load(weights_only=True)`` (no pickled code runs).

    Raises:
        WeightsNotFoundError: `path` is not a file.
        ConfigError: the file is no checkpoint (not a torch file, truncated, or without a "state_dict").
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint {str(path)!r} does not exist; pass the path of a .ckpt file.")
    problem = f"{path} is not an lvc_zoo training checkpoint (lightning fit)"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, EOFError, pickle.UnpicklingError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else f"{type(err).__name__}, the file is cut short"
        raise ConfigError(f"{problem}: {reason}") from err
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), Mapping):
        raise ConfigError(f"{problem}: it holds no state_dict; pass a .ckpt file that lightning fit wrote.")
    return checkpoint


@dataclass(frozen=True)
class TrainingCheckpoint:
    """What a `lightning fit` checkpoint trained: the model, its config and its weights.

    Attributes:
        path: the file read.
        spec: the registry entry of the class the run trained.
        class_path: the class path LightningCLI recorded; None when the run did not record it.
        config: the model's config dataclass, or None when the run recorded none (the default).
        hyper_parameters: everything the run recorded (e.g. LSTVC's "quality").
        state_dict: the trained weights.
    """

    path: Path
    spec: ModelSpec
    class_path: str | None
    config: Any
    hyper_parameters: Mapping[str, Any]
    state_dict: Mapping[str, Tensor]


def read_training_checkpoint(path: str | os.PathLike[str], model: str | None = None) -> TrainingCheckpoint:
    """Read a Lightning checkpoint of an lvc_zoo model (`initialise` and `lvc-zoo export` use it).

    A checkpoint must record its hyperparameters (`lightning fit` always does): without them
    nothing says which model or config the weights are, and guessing the default config could
    load or export weights under a config they were not trained with.

    Args:
        path: the ``.ckpt`` file.
        model: registry name to assume when the run did not record its class path (a run
            started with ``Trainer.fit`` rather than LightningCLI); None = refuse such a run.
    Raises:
        WeightsNotFoundError, ConfigError: as `read_checkpoint`; also ConfigError when the file
            records no hyperparameters, or trained a class that is no lvc_zoo model.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)
    hyper = checkpoint.get("hyper_parameters")
    if not isinstance(hyper, Mapping):
        raise ConfigError(
            f"{path} is not an lvc_zoo training checkpoint (lightning fit): it records no hyper_parameters, so "
            "neither its model nor its config is known; pass a .ckpt that lightning fit wrote, or a weights "
            "directory (lvc_zoo.save_pretrained)."
        )
    class_path = hyper.get("_class_path")  # LightningCLI runs record it
    spec = spec_of_class(class_path.rsplit(".", 1)[-1]) if class_path else get_spec(model) if model else None
    if spec is None:
        raise ConfigError(
            f"{path} trained {class_path or 'an unrecorded class'}, which is no lvc_zoo model: pass a checkpoint of "
            "a model of the zoo (lvc_zoo.list_models())."
        )
    config = hyper.get("config")
    if isinstance(config, Mapping):
        config = config_from_dict(spec.builder.config_class, config, path)  # LightningCLI stores YAML values
    return TrainingCheckpoint(path, spec, class_path, config, hyper, checkpoint["state_dict"])


def initialise(codec: VideoCodec, source: str | os.PathLike[str] | StoredWeights) -> InitReport:
    """Load the weights of `source` into `codec` by the module's rules.

    Args:
        codec: the model to initialise (built already, e.g. by the CLI from the recipe).
        source: what `read_source` reads, or weights read already.
    Returns: an `InitReport`; for a partial initialisation its `lines()` name the fresh modules.
    Raises:
        ConfigError: weights of the same model with another config (one line naming the
            differing fields), weights that do not fit, or weights of a model the codec's class
            does not declare in `initialisable_from`.
        UnknownModelError, WeightsNotFoundError, ChecksumError: as `read_source`.
    """
    target = type(codec)
    own_name = codec.model_name or target.__name__
    if isinstance(source, StoredWeights):
        stored, label = source, str(source.source)
    else:
        quality = codec.quality if codec.rate.weights_per_quality else None
        stored, label = read_source(source, quality, codec.model_name or None), os.fspath(source)
    if stored.model in target.initialisable_from:
        return _partial(codec, stored, label)
    source_class = get_spec(stored.model).builder
    same_model = source_class.config_class is target.config_class and (
        issubclass(target, source_class) or issubclass(source_class, target)
    )
    if not same_model:
        declared = f" or from {', '.join(target.initialisable_from)}" if target.initialisable_from else ""
        raise ConfigError(
            f"init_from={label!r} holds {stored.model} weights, but {own_name} starts only from its own weights"
            f"{declared}: pass weights of one of those (a registry name, a directory, hf-hub:ORG/NAME or a .ckpt)."
        )
    differing = _differing_fields(codec.config, stored.config)
    if differing:
        raise ConfigError(
            f"init_from={label!r} holds weights of another {stored.model} config: {'; '.join(differing)}. "
            "Set model.config to the weights' config or start from matching weights."
        )
    load_stored(codec, stored)
    return InitReport(label, stored.model, strict=True, fresh={})


def _differing_fields(here: Any, there: Any) -> list[str]:
    """"field (there, here)" for each config field that differs (none when either config is unknown)."""
    if not is_dataclass(here) or type(there) is not type(here):
        return []
    return [
        f"{f.name} ({getattr(there, f.name)!r} there, {getattr(here, f.name)!r} here)"
        for f in fields(here)
        if getattr(there, f.name) != getattr(here, f.name)
    ]


def _partial(codec: VideoCodec, stored: StoredWeights, label: str) -> InitReport:
    """Copy every tensor of `stored` whose key and shape match; report the modules left fresh."""
    own: dict[str, Tensor] = codec.state_dict()
    copied = {key: value for key, value in stored.state_dict.items() if key in own and own[key].shape == value.shape}
    codec.load_state_dict(copied, strict=False)
    totals: dict[str, list[int]] = {}
    for key in own:
        counts = totals.setdefault(".".join(key.split(".")[:MODULE_DEPTH]), [0, 0])
        counts[0] += key not in copied
        counts[1] += 1
    fresh = {module: (count, total) for module, (count, total) in totals.items() if count}
    return InitReport(label, stored.model, strict=False, fresh=fresh)
