"""Weights on disk: the lvc_zoo directory format, writing it and reading it back.

A weights directory holds

    config.json          {"model", "config", "qualities", "quality_to_q_index",
                          "lvc_zoo_version", "files": {filename: sha256}}
    model.safetensors    the state_dict (safetensors: nothing is ever unpickled)
    README.md            a Hugging Face model card

`load_local` rebuilds the model from config.json (so widths are never guessed from weight
shapes), verifies every listed file's sha256 and loads the weights strictly.
`resolve_weights` turns what the user passed to `lvc_zoo.load` into such a directory; a
Hub download (`hf-hub:ORG/NAME[@REV]` or the registry's default repo) will resolve to the
downloaded snapshot directory there and reuse the same loader.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from . import __version__
from .errors import ChecksumError, ConfigError, WeightsNotFoundError
from .models import VideoCodec
from .registry import ModelSpec, get_spec

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "CARD_FILE",
    "HUB_PREFIX",
    "save_pretrained",
    "load_local",
    "resolve_weights",
    "sha256_file",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
HUB_PREFIX = "hf-hub:"


# --------------------------------------------------------------------------------- saving
def save_pretrained(
    codec: VideoCodec,
    directory: str | os.PathLike[str],
    name: str | None = None,
    *,
    provenance: str | None = None,
) -> Path:
    """Write `codec` as an lvc_zoo weights directory that `lvc_zoo.load(name, weights=...)` reads.

    Args:
        codec: a model of the zoo (its class must be the registry builder of `name`).
        directory: created if missing; existing files of the format are overwritten.
        name: registry name or alias; defaults to `codec.model_name`.
        provenance: how the weights were made (converted from which checkpoints, trained
            with which recipe), for the model card; a generic line when None.
    Returns: the directory.
    Raises:
        UnknownModelError: `name` is not in the registry.
        ConfigError: `codec` is not an instance of that model's class.
    """
    spec = get_spec(name or codec.model_name)
    if type(codec) is not spec.builder:
        raise ConfigError(
            f"Cannot save a {type(codec).__name__} as {spec.name!r}, whose class is "
            f"{spec.builder.__name__}; pass the matching name=."
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / WEIGHTS_FILE
    state = {key: t.detach().cpu().clone(memory_format=torch.contiguous_format) for key, t in codec.state_dict().items()}
    save_file(state, str(weights_path), metadata={"format": "pt"})
    files = {WEIGHTS_FILE: sha256_file(weights_path)}
    meta = _config_json(spec, codec, files)
    (directory / CARD_FILE).write_text(_model_card(spec, meta, provenance), encoding="utf-8")
    # config.json last: a directory interrupted mid-save has none and is not mistaken for a complete one.
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return directory


def _config_json(spec: ModelSpec, codec: VideoCodec, files: Mapping[str, str]) -> dict[str, Any]:
    """The content of config.json for `codec` saved under `spec`."""
    return {
        "model": spec.name,
        "config": dataclasses.asdict(codec.config),
        "qualities": list(codec.qualities),
        # DCVC-DC style models use the quality itself as their q-scale anchor index.
        "quality_to_q_index": {str(q): q for q in codec.qualities},
        "lvc_zoo_version": __version__,
        "files": dict(files),
    }


def _model_card(spec: ModelSpec, meta: Mapping[str, Any], provenance: str | None) -> str:
    """A Hugging Face model card (README.md with YAML front matter) for a weights directory."""
    qualities = meta["qualities"]
    made = provenance or f"Saved with `lvc_zoo.save_pretrained` (lvc_zoo {meta['lvc_zoo_version']})."
    checksums = "\n".join(f"- `{fname}`: sha256 `{digest}`" for fname, digest in meta["files"].items())
    return f"""---
library_name: lvc_zoo
license: {spec.licence.lower()}
tags:
- lvc_zoo
- video-compression
- learned-video-codec
- {spec.name}
---

# {spec.name}

{spec.description}

- **Paper:** {spec.paper}
- **Qualities:** {qualities[0]}..{qualities[-1]} (higher is better quality)
- **Licence:** {spec.licence}

## Usage

```python
import lvc_zoo

codec = lvc_zoo.load("{spec.name}", weights="path/to/this/directory")  # or "hf-hub:ORG/NAME"
res = codec.estimate(frames)  # frames: (T, 3, H, W) RGB in [0, 1]
```

## How it was made

{made}

{checksums}

## Config

```json
{json.dumps(meta["config"], indent=2)}
```
"""


# --------------------------------------------------------------------------------- loading
def resolve_weights(spec: ModelSpec, weights: str | os.PathLike[str] | None) -> Path:
    """The local lvc_zoo weights directory for what was passed as `load(..., weights=)`.

    Args:
        spec: the model being loaded.
        weights: a local directory, `"hf-hub:ORG/NAME[@REVISION]"`, or None for the
            registry's default weights.
    Raises:
        WeightsNotFoundError: the directory does not exist, or the weights would come from
            the Hub, where none are published yet; the message says how to make them.
    """
    if weights is None or str(weights).startswith(HUB_PREFIX):
        raise WeightsNotFoundError(_no_published_weights(spec, weights))
    directory = Path(weights)
    if not directory.is_dir():
        raise WeightsNotFoundError(
            f"Weights directory {str(directory)!r} does not exist. Pass a directory written by "
            f"`lvc-zoo convert {spec.name} ...` or lvc_zoo.save_pretrained."
        )
    return directory


def _no_published_weights(spec: ModelSpec, weights: str | os.PathLike[str] | None) -> str:
    """Why `weights` cannot be fetched yet, and the ways to get a model anyway."""
    asked = f"Hub weights {str(weights)!r}" if weights is not None else "the default weights"
    return (
        f"Cannot load {asked} for {spec.name!r}: no published weights yet (Hub downloads come "
        f"in a later version). Convert the authors' checkpoints with "
        f"lvc_zoo.convert_official / `lvc-zoo convert {spec.name} --intra I.pth.tar --inter P.pth.tar "
        f"-o DIR`, then lvc_zoo.load({spec.name!r}, weights=DIR); or pass pretrained=False for "
        f"random init."
    )


def load_local(directory: str | os.PathLike[str], expected_name: str) -> VideoCodec:
    """Build the model described by `directory`/config.json and load its verified weights.

    Args:
        directory: an lvc_zoo weights directory.
        expected_name: registry name the caller asked for; config.json must name the same model.
    Returns: the model, on the CPU and in training mode (`lvc_zoo.load` finishes the setup).
    Raises:
        WeightsNotFoundError: config.json or a weights file is missing.
        ConfigError: config.json is unreadable, names another model, or does not match the weights.
        ChecksumError: a file's sha256 differs from the one in config.json.
    """
    directory = Path(directory)
    meta = _read_config_json(directory)
    spec = get_spec(expected_name)
    saved_name = meta.get("model")
    if saved_name != spec.name:
        raise ConfigError(
            f"{directory / CONFIG_FILE} holds weights of model {saved_name!r}, not {spec.name!r}: "
            f"load it with lvc_zoo.load({saved_name!r}, weights=...) or pass a {spec.name} directory."
        )
    config = config_from_dict(spec.builder.config_class, meta.get("config", {}), directory / CONFIG_FILE)
    _verify_files(directory, meta.get("files", {}))
    codec = spec.builder(config)
    _load_weights(codec, directory / WEIGHTS_FILE)
    return codec


def _read_config_json(directory: Path) -> dict[str, Any]:
    """Parse `directory`/config.json into a dict."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{str(directory)!r} has no {CONFIG_FILE}, so it is not an lvc_zoo weights directory; "
            "write one with lvc_zoo.save_pretrained or `lvc-zoo convert`."
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err}); write the directory again.") from err
    if not isinstance(meta, dict):
        raise ConfigError(f"{path} must hold a JSON object; write the directory again.")
    return meta


def config_from_dict(config_class: type, values: Mapping[str, Any], source: Path) -> Any:
    """Rebuild a frozen config dataclass from its JSON form (JSON lists back to tuples).

    Args:
        config_class: the model's config dataclass.
        values: `dataclasses.asdict` of a config, after a JSON round trip.
        source: the file the values come from, for error messages.
    Raises:
        ConfigError: unknown fields, or values the dataclass rejects.
    """
    hints = typing.get_type_hints(config_class)
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(config_class)})
    if unknown:
        raise ConfigError(
            f"{source}: {config_class.__name__} has no fields {unknown}; the directory was written "
            "by a newer lvc_zoo, so upgrade lvc_zoo to read it."
        )
    kwargs = {key: _as_tuples(value) if _is_tuple_type(hints[key]) else value for key, value in values.items()}
    try:
        return config_class(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: invalid {config_class.__name__} ({err}).") from err


def _is_tuple_type(hint: Any) -> bool:
    """Whether a field annotation is a tuple type (or an optional / union with one)."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        return True
    return origin in (typing.Union, types.UnionType) and any(_is_tuple_type(a) for a in typing.get_args(hint))


def _as_tuples(value: Any) -> Any:
    """JSON lists (nested too) back to tuples."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def _verify_files(directory: Path, files: Mapping[str, str]) -> None:
    """Check every file listed in config.json against its recorded sha256 (the weights must be listed)."""
    if WEIGHTS_FILE not in files:
        raise ConfigError(
            f"{directory / CONFIG_FILE} records no sha256 for {WEIGHTS_FILE}, so the weights cannot be verified; "
            "write the directory again with lvc_zoo.save_pretrained."
        )
    for fname, expected in files.items():
        if Path(fname).is_absolute() or ".." in Path(fname).parts:
            raise ConfigError(f"{directory / CONFIG_FILE} lists {fname!r}, which is outside the directory.")
        path = directory / fname
        if not path.is_file():
            raise WeightsNotFoundError(f"{path} is listed in {CONFIG_FILE} but missing; copy or write it again.")
        actual = sha256_file(path)
        if actual != expected:
            raise ChecksumError(str(path), expected, actual)


def _load_weights(codec: VideoCodec, path: Path) -> None:
    """Load `path` (safetensors) into `codec` with strict key and shape matching."""
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; write the directory again with lvc_zoo.save_pretrained.")
    try:
        codec.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as err:
        raise ConfigError(f"{path} does not match the model in {CONFIG_FILE}: {err}") from err


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
