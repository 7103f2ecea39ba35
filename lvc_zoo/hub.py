"""Weights on disk: the lvc_zoo directory format, writing it and reading it back.

A weights directory holds

    config.json          {"model", "config", "qualities", "quality_to_q_index",
                          "lvc_zoo_version", "files": {filename: sha256}}
    model.safetensors    the state_dict (safetensors: nothing is ever unpickled)
    README.md            a Hugging Face model card

A model with one weights file per quality (rate kind "per_quality_weights", e.g. LSTVC) has
`model_q{Q}.safetensors` per quality instead of model.safetensors, and config.json maps each
quality to its file: "quality_files": {"0": "model_q0.safetensors", ...} (the qualities the
directory holds; "files" pins each). Loading quality Q reads, verifies and downloads only
config.json and that quality's file.

`read_local` reads config.json and the verified weights (so widths are never guessed from
weight shapes); `load_local` rebuilds the model from them and loads the weights strictly.
`resolve_weights` turns what the user passed to `lvc_zoo.load` into such a directory. A Hub
repo in this format (`hf-hub:ORG/NAME[@REV]`, or the registry's default repo) is fetched with
`huggingface_hub.hf_hub_download` -- config.json first, then every file it lists -- into the
standard Hugging Face cache, so HF_ENDPOINT, HF_HOME / HF_HUB_CACHE and HF_HUB_OFFLINE work as
they do for any Hub library; the snapshot directory then goes through the same loader.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import reprlib
import socket
import sys
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .errors import ChecksumError, ConfigError, HubError, WeightsNotFoundError
from .models import VideoCodec
from .registry import ModelSpec, get_spec
from .runtime import atomic_path, write_atomic

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "QUALITY_FILES",
    "quality_file",
    "StoredWeights",
    "read_local",
    "load_stored",
    "CARD_FILE",
    "HUB_PREFIX",
    "HubRef",
    "save_pretrained",
    "load_local",
    "resolve_weights",
    "parse_hub_id",
    "download_from_hub",
    "sha256_file",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
HUB_PREFIX = "hf-hub:"
QUALITY_FILES = "quality_files"
"""config.json key of a per-quality weights directory: {"Q": weights file of quality Q}."""


def quality_file(quality: int) -> str:
    """The weights file of `quality` in a per-quality weights directory."""
    return f"model_q{quality}.safetensors"


# --------------------------------------------------------------------------------- saving
def save_pretrained(
    codec: VideoCodec | Mapping[int, VideoCodec],
    directory: str | os.PathLike[str],
    name: str | None = None,
    *,
    provenance: str | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write `codec` as an lvc_zoo weights directory that `lvc_zoo.load(name, weights=...)` reads.

    Args:
        codec: a model of the zoo (its class must be the registry builder of `name`). For a
            model with one weights file per quality, a {quality: codec} mapping gathers the
            qualities trained apart into one directory (a single codec writes the quality it
            holds, `codec.quality`); all must share one config.
        directory: created if missing; existing files of the format are overwritten.
        name: registry name or alias; defaults to `codec.model_name`.
        provenance: how the weights were made (converted from which checkpoints, trained
            with which recipe), for the model card; a generic line when None.
        dtype: store the floating-point tensors as this dtype (torch.float16 halves the file,
            as the bundled demo model does); None keeps the model's. Loading casts them back to
            the model's dtype, so the weights in use are the stored values exactly.
    Returns: the directory.
    Raises:
        UnknownModelError: `name` is not in the registry.
        ConfigError: `codec` is not an instance of that model's class, a mapping was given for
            a model with one weights file for all qualities, or its codecs' configs differ.
    """
    codecs = dict(codec) if isinstance(codec, Mapping) else None
    first = next(iter(codecs.values())) if codecs else codec
    spec = get_spec(name or first.model_name)
    for one in codecs.values() if codecs else (codec,):
        if type(one) is not spec.builder:
            raise ConfigError(
                f"Cannot save a {type(one).__name__} as {spec.name!r}, whose class is "
                f"{spec.builder.__name__}; pass the matching name=."
            )
    if codecs is not None:
        if not spec.rate.weights_per_quality or not codecs:
            raise ConfigError(
                f"{spec.name} keeps all qualities in one weights file: pass one codec, not a mapping of qualities."
            )
        for quality, one in codecs.items():
            spec.check_quality(quality)
            if one.config != first.config:
                raise ConfigError(
                    f"the codec of quality {quality} has another config than that of quality {next(iter(codecs))}: "
                    "gather weights of one config into a directory."
                )
    elif spec.rate.weights_per_quality:
        codecs = {codec.quality: codec}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    by_file = {quality_file(q): codecs[q] for q in sorted(codecs)} if codecs else {WEIGHTS_FILE: codec}
    files = {}
    for fname, one in by_file.items():
        state = {
            key: _stored(t, dtype).detach().cpu().clone(memory_format=torch.contiguous_format)
            for key, t in one.state_dict().items()
        }
        with atomic_path(directory / fname) as partial:
            save_file(state, str(partial), metadata={"format": "pt"})
        files[fname] = sha256_file(directory / fname)
    meta = _config_json(spec, first, files)
    if codecs:
        meta[QUALITY_FILES] = {str(q): quality_file(q) for q in sorted(codecs)}
    write_atomic(directory / CARD_FILE, _model_card(spec, meta, provenance).encode("utf-8"))
    # config.json last: a directory interrupted mid-save has none and is not mistaken for a complete one.
    write_atomic(directory / CONFIG_FILE, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
    return directory


def _stored(tensor: Tensor, dtype: torch.dtype | None) -> Tensor:
    """`tensor` as saved: floating-point tensors cast to `dtype` (if given), others unchanged."""
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


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


PACKAGE_DIR = Path(__file__).parent
"""The installed lvc_zoo package; `ModelSpec.bundled` weights directories are relative to it."""


# --------------------------------------------------------------------------------- resolving
def resolve_weights(
    spec: ModelSpec, weights: str | os.PathLike[str] | None, quality: int | None = None, passed_as: str | None = None
) -> Path:
    """The local lvc_zoo weights directory for what was passed as `load(..., weights=)`.

    Args:
        spec: the model being loaded.
        weights: a local directory, `"hf-hub:ORG/NAME[@REVISION]"`, or None for the
            registry's default weights (`spec.hub_repo` at `spec.revision`, checked against
            the sha256 pins in `spec.files`).
        quality: for a model with one weights file per quality, the quality whose file a
            download fetches (None: the rate's default); the other qualities' files are not fetched.
        passed_as: how the caller's user passes other weights, with {} for them, e.g.
            "--model.init_from {}", for the message when the model has none published; None:
            as `lvc_zoo.load(NAME, weights=...)`.
    Returns: a directory holding config.json and the files it lists (for the Hub, the
        snapshot directory in the Hugging Face cache).
    Raises:
        ConfigError: `weights` starts with "hf-hub:" but is not a valid Hub id.
        WeightsNotFoundError: the directory does not exist, the model has no published
            weights, or a download failed; the message says what was tried and how to get weights.
        ChecksumError: a downloaded file differs from its registry pin.
    """
    if weights is None:
        return _registry_weights(spec, quality, passed_as)
    if isinstance(weights, str) and weights.startswith(HUB_PREFIX):
        return download_from_hub(parse_hub_id(weights), spec, quality=quality)
    directory = Path(weights)
    if not directory.is_dir():
        raise WeightsNotFoundError(
            f"Weights directory {str(directory)!r} does not exist. Pass a directory written by "
            f"`lvc-zoo convert {spec.name} ...` or lvc_zoo.save_pretrained."
        )
    return directory


def _registry_weights(spec: ModelSpec, quality: int | None = None, passed_as: str | None = None) -> Path:
    """The registry's default weights of `spec` (bundled, or downloaded), checked against its pins."""
    if spec.bundled is not None:
        directory = PACKAGE_DIR / spec.bundled
        if not (directory / CONFIG_FILE).is_file():
            raise WeightsNotFoundError(
                f"The weights of {spec.name!r} should ship inside lvc_zoo at {directory}, but they are missing: "
                "reinstall lvc_zoo (pip install --force-reinstall lvc_zoo, or pip install -e . in a checkout)."
            )
        _check_sha256(
            directory, spec.files, pinned_by=f"the lvc_zoo registry entry of {spec.name!r}", advice=_BUNDLED_PIN_ADVICE
        )
        return directory
    if spec.hub_repo is None:
        raise WeightsNotFoundError(_no_published_weights(spec, passed_as))
    directory = download_from_hub(HubRef(spec.hub_repo, spec.revision), spec, extra_files=spec.files, quality=quality)
    skipped = _other_quality_files(_read_config_json(directory), spec, quality)
    pins = {fname: digest for fname, digest in spec.files.items() if fname not in skipped}
    _check_sha256(directory, pins, pinned_by=f"the lvc_zoo registry entry of {spec.name!r}")
    return directory


def _no_published_weights(spec: ModelSpec, passed_as: str | None = None) -> str:
    """Why `spec` has no default weights, and the ways to get a model anyway: as `load` takes
    them (`passed_as` None), or as `passed_as` (e.g. "--model.init_from {}") does."""
    if passed_as is not None:
        return (
            f"Cannot start from {spec.name!r} weights: none are published yet. Convert the authors' checkpoints "
            f"with lvc_zoo.convert_official / `{_convert_command(spec)}`, then pass {passed_as.format('DIR')}; pass "
            f"{passed_as.format('hf-hub:ORG/NAME')} for weights someone published in the lvc_zoo format; or "
            f"{passed_as.format('null')} to start from random weights."
        )
    return (
        f"Cannot load the default weights for {spec.name!r}: no published weights yet. Convert the "
        f"authors' checkpoints with lvc_zoo.convert_official / `{_convert_command(spec)}`, then "
        f"lvc_zoo.load({spec.name!r}, weights=DIR); pass weights='hf-hub:ORG/NAME' for weights "
        "someone published in the lvc_zoo format; or pass pretrained=False for random init."
    )


def _convert_command(spec: ModelSpec) -> str:
    """The command line that makes a weights directory from the authors' checkpoints."""
    return f"lvc-zoo convert {spec.name} --intra I.pth.tar --inter P.pth.tar -o DIR"


# --------------------------------------------------------------------------------- the Hub
@dataclasses.dataclass(frozen=True)
class HubRef:
    """A Hub model repository in the lvc_zoo format and the revision to read.

    Attributes:
        repo_id: "ORG/NAME".
        revision: branch, tag or commit; None means the default branch ("main").
    """

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{HUB_PREFIX}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


_REVISION = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
"""Branch, tag or commit names accepted after "@" (e.g. "main", "v1.0", "refs/pr/3", a commit)."""


def parse_hub_id(weights: str) -> HubRef:
    """Split `"hf-hub:ORG/NAME[@REVISION]"` into repo and revision.

    Raises:
        ConfigError: not of that form; the message shows the expected form.
    """
    repo_id, at, revision = weights.removeprefix(HUB_PREFIX).partition("@")
    bad_revision = at and (not _REVISION.fullmatch(revision) or ".." in revision)
    if repo_id.count("/") != 1 or bad_revision or not _is_valid_repo_id(repo_id):
        raise ConfigError(
            f"{weights!r} is not a Hub id: use 'hf-hub:ORG/NAME' or 'hf-hub:ORG/NAME@REVISION' "
            "(REVISION a branch, tag or commit; names of letters, digits, '-', '_' and '.'), "
            "or pass a local directory."
        )
    return HubRef(repo_id, revision or None)


def _is_valid_repo_id(repo_id: str) -> bool:
    """Whether huggingface_hub accepts `repo_id` (characters, length, no '--' or '..')."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return False
    return True


def download_from_hub(ref: HubRef, spec: ModelSpec, extra_files: Iterable[str] = (), quality: int | None = None) -> Path:
    """Download an lvc_zoo weights directory from the Hub into the Hugging Face cache.

    config.json comes first, at `ref.revision`; every file it lists (subfolders included) and
    every name in `extra_files` then comes from the same commit, so a branch that moves
    meanwhile cannot mix two versions. Files already cached are not fetched again, and with
    HF_HUB_OFFLINE=1 only the cache is read.

    Args:
        ref: the repo and revision.
        spec: the model being loaded (for messages).
        extra_files: further file names to fetch (the registry's pinned files).
        quality: for a per-quality weights directory (config.json lists "quality_files"), the
            quality whose file is fetched (None: the rate's default); other qualities' files are skipped.
    Returns: the snapshot directory (`.../snapshots/<commit>`), holding config.json.
    Raises:
        WeightsNotFoundError: offline and not cached, repo / revision / file missing, or the
            Hub unreachable; the message names what was tried and how to get weights.
        ConfigError: config.json is not valid or lists a file outside the repo.
    """
    snapshot = _download_file(ref, CONFIG_FILE, ref.revision, spec).parent
    commit = snapshot.name  # the cache stores every file of one commit under snapshots/<commit>
    meta = _read_config_json(snapshot)
    listed = _listed_files(meta, snapshot / CONFIG_FILE)
    skipped = _other_quality_files(meta, spec, quality)
    for fname in sorted({*listed, *extra_files} - {CONFIG_FILE} - skipped):
        _check_inside(fname, snapshot / CONFIG_FILE)
        _download_file(ref, fname, commit, spec)
    return snapshot


def _download_file(ref: HubRef, filename: str, revision: str | None, spec: ModelSpec) -> Path:
    """`hf_hub_download` of one file, its failures turned into WeightsNotFoundError."""
    try:
        path = hf_hub_download(
            ref.repo_id, filename, revision=revision, library_name="lvc_zoo", library_version=__version__
        )
    except (RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError, LocalEntryNotFoundError) as err:
        reason = _failure_reason(err, filename, revision)
        raise WeightsNotFoundError(_download_failed(ref, filename, revision, reason, spec)) from err
    except HfHubHTTPError as err:
        reason = f"the Hub answered: {str(err).splitlines()[0]}"
        raise WeightsNotFoundError(_download_failed(ref, filename, revision, reason, spec)) from err
    return Path(path)


def _failure_reason(err: Exception, filename: str, revision: str | None) -> str:
    """What went wrong, in words, for one of huggingface_hub's not-found errors."""
    if isinstance(err, RepositoryNotFoundError):
        return "the repository does not exist, or it is private or gated (log in with `hf auth login`)"
    if isinstance(err, RevisionNotFoundError):
        return f"the repository has no revision {revision!r}"
    if isinstance(err, RemoteEntryNotFoundError):
        return f"the repository has no file {filename!r} at that revision"
    if constants.HF_HUB_OFFLINE:
        return f"HF_HUB_OFFLINE is set and the file is not in the cache {constants.HF_HUB_CACHE}"
    cause = f" ({type(err.__cause__).__name__}: {err.__cause__})" if err.__cause__ is not None else ""
    return f"the Hub could not be reached{cause} and the file is not in the cache {constants.HF_HUB_CACHE}"


def _download_failed(ref: HubRef, filename: str, revision: str | None, reason: str, spec: ModelSpec) -> str:
    """The message of a failed download: what was tried, why it failed, how to get weights."""
    return (
        f"Cannot download {filename!r} of {ref} (repo {ref.repo_id}, revision {revision or 'main'}) "
        f"from {constants.ENDPOINT}: {reason}. To get weights: run once online so the files are "
        "cached (later loads also work with HF_HUB_OFFLINE=1); or set HF_ENDPOINT to a Hub mirror "
        f"you can reach; or convert the authors' checkpoints with `{_convert_command(spec)}` and "
        f"call lvc_zoo.load({spec.name!r}, weights=DIR)."
    )


# --------------------------------------------------------------------------------- loading
@dataclasses.dataclass(frozen=True)
class StoredWeights:
    """The verified content of an lvc_zoo weights directory (one quality's, for per-quality models).

    Attributes:
        model: registry name of the model that wrote them.
        config: its config dataclass, rebuilt from config.json.
        state_dict: the weights, as stored (dtype included).
        quality: the quality whose file was read, for a model with one weights file per
            quality; None for other models.
        source: where they were read (for messages).
    """

    model: str
    config: Any
    state_dict: Mapping[str, Tensor]
    quality: int | None
    source: Path


def load_local(directory: str | os.PathLike[str], expected_name: str, quality: int | None = None) -> VideoCodec:
    """Build the model described by `directory`/config.json and load its verified weights.

    Args:
        directory: an lvc_zoo weights directory.
        expected_name: registry name the caller asked for; config.json must name the same model.
        quality: for a per-quality weights directory, the quality to load (None: the rate's
            default); the codec then codes only that quality.
    Returns: the model, on the CPU and in training mode (`lvc_zoo.load` finishes the setup).
    Raises:
        WeightsNotFoundError: config.json or a weights file is missing, or the directory lacks
            the quality asked for.
        ConfigError: config.json is unreadable, names another model, or does not match the weights.
        ChecksumError: a file's sha256 differs from the one in config.json.
    """
    stored = read_local(directory, expected_name, quality)
    codec = get_spec(expected_name).builder(stored.config)
    load_stored(codec, stored)
    return codec


def _check_shapes(builder: type[VideoCodec], stored: StoredWeights) -> None:
    """Refuse weights whose keys or shapes differ from the model's before it is built.

    The model is first built on the meta device (no memory), so a config.json whose widths
    do not fit its weights file is refused before the model takes more memory than the file.

    Raises:
        ConfigError: names the first key that is missing, unexpected or of another shape.
    """
    with torch.device("meta"):
        expected = {key: tuple(t.shape) for key, t in builder(stored.config).state_dict().items()}
    stored_shapes = {key: tuple(t.shape) for key, t in stored.state_dict.items()}
    for key in sorted(expected.keys() | stored_shapes.keys()):
        if expected.get(key) != stored_shapes.get(key):
            raise ConfigError(
                f"{stored.source} does not match the model in {CONFIG_FILE}: {key} has shape "
                f"{stored_shapes.get(key, 'missing')} in the weights and {expected.get(key, 'none')} in the model; "
                "write the directory again with lvc_zoo.save_pretrained."
            )


def load_stored(codec: VideoCodec, stored: StoredWeights) -> None:
    """Load `stored` into `codec` strictly; a per-quality codec then holds `stored.quality`.

    Raises:
        ConfigError: the weights do not fit the model (keys or shapes).
    """
    try:
        codec.load_state_dict(dict(stored.state_dict), strict=True)
    except RuntimeError as err:
        raise ConfigError(f"{stored.source} does not match the model in {CONFIG_FILE}: {err}") from err
    if stored.quality is not None:
        codec.quality = stored.quality


def read_local(directory: str | os.PathLike[str], expected_name: str | None, quality: int | None = None) -> StoredWeights:
    """Read config.json and the verified weights of an lvc_zoo weights directory (see `load_local`).

    `expected_name` None reads the weights of whichever model config.json names. The config
    is checked (`config_from_dict`) before any file is read, and the weights' keys and shapes
    against the model the config describes (built on the meta device) before anything builds it.
    """
    directory = Path(directory)
    meta = _read_config_json(directory)
    saved_name = meta.get("model")
    spec = get_spec(expected_name if expected_name is not None else str(saved_name))
    if saved_name != spec.name:
        raise ConfigError(
            f"{directory / CONFIG_FILE} holds weights of model {saved_name!r}, not {spec.name!r}: "
            f"load it with lvc_zoo.load({saved_name!r}, weights=...) or pass a {spec.name} directory."
        )
    config = config_from_dict(spec.builder.config_class, meta.get("config", {}), directory / CONFIG_FILE)
    quality, weights_file = _weights_file(meta, spec, quality, directory)
    skipped = _other_quality_files(meta, spec, quality)
    listed = {fname: digest for fname, digest in _listed_files(meta, directory / CONFIG_FILE).items() if fname not in skipped}
    _verify_files(directory, listed, weights_file)
    path = directory / weights_file
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; write the directory again with lvc_zoo.save_pretrained.")
    try:
        state_dict = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ConfigError(
            f"{path} is not a readable safetensors file ({err}); it is truncated or corrupt: download or write it again."
        ) from err
    stored = StoredWeights(spec.name, config, state_dict, quality, path)
    _check_shapes(spec.builder, stored)
    return stored


def _weights_file(meta: Mapping[str, Any], spec: ModelSpec, quality: int | None, directory: Path) -> tuple[int | None, str]:
    """(quality, file) to read: model.safetensors, or the asked (default) quality's file of a per-quality directory."""
    if QUALITY_FILES not in meta:
        return None, WEIGHTS_FILE
    table = _quality_files(meta, directory / CONFIG_FILE)
    quality = spec.rate.default_quality if quality is None else quality
    if str(quality) not in table:
        held = sorted(int(q) for q in table)
        raise WeightsNotFoundError(
            f"{directory} holds the {spec.name} weights of qualities {held}, not of quality {quality}: pass "
            f"quality= one of those, or a directory that holds quality {quality} (lvc_zoo.save_pretrained)."
        )
    return quality, table[str(quality)]


def _other_quality_files(meta: Mapping[str, Any], spec: ModelSpec, quality: int | None) -> set[str]:
    """The weights files of the qualities not asked for (empty unless the directory is per-quality)."""
    if QUALITY_FILES not in meta:
        return set()
    table = _quality_files(meta, Path(CONFIG_FILE))
    quality = spec.rate.default_quality if quality is None else quality
    return {fname for q, fname in table.items() if q != str(quality)}


MAX_CONFIG_BYTES = 1 << 20
"""Largest config.json read (1 MiB; the zoo's are about 1 kB)."""


def _quality_files(meta: Mapping[str, Any], source: Path) -> Mapping[str, str]:
    """The {"quality": file name} table of a per-quality directory's config.json, checked."""
    table = meta[QUALITY_FILES]
    if not isinstance(table, Mapping) or not all(
        re.fullmatch(r"-?[0-9]{1,9}", key) and isinstance(name, str) for key, name in table.items()
    ):
        raise ConfigError(
            f"{source}: {QUALITY_FILES!r} must map qualities (\"0\", \"1\", ...) to weights file names, got "
            f"{reprlib.repr(table)}; write the directory again with lvc_zoo.save_pretrained."
        )
    return table


def _read_config_json(directory: Path) -> dict[str, Any]:
    """Parse `directory`/config.json into a dict."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{str(directory)!r} has no {CONFIG_FILE}, so it is not an lvc_zoo weights directory; "
            "write one with lvc_zoo.save_pretrained or `lvc-zoo convert`."
        )
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is {size} bytes, more than a config.json holds ({MAX_CONFIG_BYTES}); write the directory again.")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as err:  # JSON and UTF-8 errors, numbers of too many digits, deep nesting
        raise ConfigError(f"{path} is not valid JSON ({type(err).__name__}: {err}); write the directory again.") from err
    if not isinstance(meta, dict):
        raise ConfigError(f"{path} must hold a JSON object; write the directory again.")
    return meta


MAX_TUPLE_ITEMS = 16
"""Most items of a variable-length tuple field of a config (e.g. SEVC's `swin_depths`)."""


def config_from_dict(config_class: type, values: Mapping[str, Any], source: Path) -> Any:
    """Rebuild a frozen config dataclass from its JSON form (JSON lists back to tuples), checked first.

    Every field must be present, of its annotated type (an int is no bool or float; a tuple
    field a list of the annotated length, or of 1..`MAX_TUPLE_ITEMS` items for `tuple[int, ...]`)
    and within the class's `limits` (e.g. widths 1..`lvc_zoo.models.dcvc_dc_config.MAX_CHANNELS`),
    so no config.json makes a model allocate more than those bounds allow.

    Args:
        config_class: the model's config dataclass.
        values: `dataclasses.asdict` of a config, after a JSON round trip.
        source: the file the values come from, for error messages.
    Raises:
        ConfigError: not a mapping, unknown or missing fields, a value of the wrong type or
            outside its limits, or values the dataclass rejects; one line naming the field.
    """
    name = config_class.__name__
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: 'config' must be a JSON object of {name} fields, got {type(values).__name__}.")
    hints = typing.get_type_hints(config_class)
    fields = [f.name for f in dataclasses.fields(config_class)]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: {name} has no fields {unknown}; the directory was written "
            "by a newer lvc_zoo, so upgrade lvc_zoo to read it."
        )
    missing = [field for field in fields if field not in values]
    if missing:
        raise ConfigError(f"{source}: {name} misses fields {missing}; write the directory again with lvc_zoo.save_pretrained.")
    limits = getattr(config_class, "limits", {})
    kwargs = {field: _checked_field(field, hints[field], values[field], limits.get(field), source) for field in fields}
    try:
        return config_class(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: invalid {name} ({err}).") from err


def _checked_field(field: str, hint: Any, value: Any, limits: tuple[float, float] | None, source: Path) -> Any:
    """`value` of config field `field` as the dataclass takes it (lists to tuples); ConfigError if it does not fit."""
    if typing.get_origin(hint) is not tuple:
        return _checked_scalar(field, hint, value, limits, source)
    items = typing.get_args(hint)
    variadic = len(items) == 2 and items[1] is Ellipsis
    if variadic:
        fits, length = isinstance(value, list) and 1 <= len(value) <= MAX_TUPLE_ITEMS, f"1..{MAX_TUPLE_ITEMS}"
    else:
        fits, length = isinstance(value, list) and len(value) == len(items), str(len(items))
    if not fits:
        raise ConfigError(
            f"{source}: field {field!r} must be a list of {length} {items[0].__name__}s{_range(limits)}, got "
            f"{reprlib.repr(value)}; fix config.json or write the directory again with lvc_zoo.save_pretrained."
        )
    return tuple(
        _checked_scalar(f"{field}[{index}]", items[0] if variadic else items[index], item, limits, source)
        for index, item in enumerate(value)
    )


def _checked_scalar(field: str, hint: Any, value: Any, limits: tuple[float, float] | None, source: Path) -> Any:
    """`value` if it is of type `hint` (int, float, str, bool) and within `limits`; ConfigError otherwise."""
    if hint is float:
        fits = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif hint is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, hint)
    if fits and limits is not None:
        fits = limits[0] <= value <= limits[1]
    if not fits:
        raise ConfigError(
            f"{source}: field {field!r} must be {_type_name(hint)}{_range(limits)}, got {reprlib.repr(value)}; "
            "fix config.json or write the directory again with lvc_zoo.save_pretrained."
        )
    return float(value) if hint is float else value


def _type_name(hint: Any) -> str:
    """'an int', 'a float', ... for messages."""
    name = getattr(hint, "__name__", str(hint))
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _range(limits: tuple[float, float] | None) -> str:
    """' in LOW..HIGH' for messages, or nothing without limits."""
    return "" if limits is None else f" in {limits[0]}..{limits[1]}"


def _verify_files(directory: Path, files: Mapping[str, str], weights_file: str = WEIGHTS_FILE) -> None:
    """Check every file listed in config.json against its recorded sha256 (the weights must be listed)."""
    if weights_file not in files:
        raise ConfigError(
            f"{directory / CONFIG_FILE} records no sha256 for {weights_file}, so the weights cannot be verified; "
            "write the directory again with lvc_zoo.save_pretrained."
        )
    for fname in files:
        _check_inside(fname, directory / CONFIG_FILE)
        path = directory / fname
        if not path.is_file():
            raise WeightsNotFoundError(f"{path} is listed in {CONFIG_FILE} but missing; copy or write it again.")
    _check_sha256(directory, files)


def _listed_files(meta: Mapping[str, Any], source: Path) -> Mapping[str, str]:
    """The {filename: sha256} table of a parsed config.json."""
    files = meta.get("files", {})
    if not isinstance(files, Mapping):
        raise ConfigError(f"{source}: 'files' must map file names to sha256; write the directory again.")
    return files


def _check_inside(fname: str, source: Path) -> None:
    """Refuse a listed file name that would point outside its directory."""
    if not fname or Path(fname).is_absolute() or ".." in Path(fname).parts:
        raise ConfigError(f"{source} lists {fname!r}, which is outside the directory.")


_HUB_PIN_ADVICE = (
    "The Hub repo no longer holds the weights this lvc_zoo release was tested with; "
    "upgrade lvc_zoo, or pass weights='hf-hub:ORG/NAME@REVISION' to use them deliberately."
)
_BUNDLED_PIN_ADVICE = "The weights shipped inside lvc_zoo were modified; reinstall lvc_zoo."


def _check_sha256(
    directory: Path, files: Mapping[str, str], pinned_by: str | None = None, advice: str = _HUB_PIN_ADVICE
) -> None:
    """Compare each file's sha256 with `files`.

    `pinned_by` names where the pins come from when not from config.json; `advice` is then
    what the ChecksumError tells the user to do.
    """
    for fname, expected in files.items():
        actual = sha256_file(directory / fname)
        if actual != expected:
            if pinned_by is None:
                raise ChecksumError(str(directory / fname), expected, actual)
            raise ChecksumError(f"{directory / fname} (pinned by {pinned_by})", expected, actual, advice=advice)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------- publishing
@dataclasses.dataclass(frozen=True)
class PushFile:
    """One file `push_pretrained` uploads: its path in the directory (and repo), size and sha256."""

    path: str
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class PushResult:
    """What `push_pretrained` uploaded, or would upload with `dry_run=True`.

    Attributes:
        model: registry name of the weights (from config.json).
        repo_id: target model repo, "ORG/NAME".
        revision: target branch ("main" unless another was asked for).
        private: whether a repo created by the push is private.
        files: every uploaded file, sorted by path.
        dry_run: nothing was sent.
        commit_url: the Hub commit of the upload; None for a dry run.
    """

    model: str
    repo_id: str
    revision: str
    private: bool
    files: tuple[PushFile, ...]
    dry_run: bool
    commit_url: str | None = None


def push_pretrained(
    directory: str | os.PathLike[str],
    repo_id: str,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    dry_run: bool = False,
    endpoint: str | None = None,
) -> PushResult:
    """Upload an lvc_zoo weights directory to a Hub model repo, after checking it loads.

    The directory is first checked exactly as `lvc_zoo.load(name, weights=directory)` does
    (`load_local`: config.json present and valid, every listed file's sha256 matching, weights
    loading strictly into the model config.json names), so a broken directory is refused before
    any request. Then `HfApi(endpoint).create_repo(exist_ok=True)` (an existing repo keeps its
    visibility), `create_branch` when `revision` names a branch other than main, and
    `upload_folder` of exactly the listed files in one commit. Hidden files and folders (names
    starting with ".") are not uploaded. Users then load the weights with
    `lvc_zoo.load(model, weights="hf-hub:ORG/NAME[@REVISION]")`.

    Args:
        directory: an lvc_zoo weights directory (`save_pretrained`, `lvc-zoo convert`).
        repo_id: "ORG/NAME" of the model repo; created if missing.
        revision: branch to commit to (created from main if missing), or "refs/pr/N"; None: main.
        private: create the repo private (ignored for an existing repo).
        token: Hub token; None uses the usual sources (HF_TOKEN, the cached `hf auth login`).
        dry_run: only check the directory and return what would be uploaded; no network access.
        endpoint: Hub URL; None uses HF_ENDPOINT or huggingface.co.
    Returns: a `PushResult` listing the files (path, size, sha256) and the target.
    Raises:
        WeightsNotFoundError: the directory, its config.json or a listed file is missing.
        ChecksumError: a listed file's sha256 differs from config.json.
        ConfigError: invalid repo id or revision, or a config.json the model cannot load.
        UnknownModelError: config.json names a model this lvc_zoo does not have.
        HubError: the Hub refused the upload (no token, no write access, ...) or could not be reached
            (connection and timeout errors); any other exception propagates as itself.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise WeightsNotFoundError(
            f"{str(directory)!r} is not a directory: pass a weights directory written by "
            "lvc_zoo.save_pretrained or `lvc-zoo convert`."
        )
    _check_push_target(repo_id, revision)
    meta = _read_config_json(directory)
    model = meta.get("model")
    if not isinstance(model, str):
        raise ConfigError(f"{directory / CONFIG_FILE} names no model; write the directory again with lvc_zoo.save_pretrained.")
    qualities = _quality_files(meta, directory / CONFIG_FILE) if QUALITY_FILES in meta else {None: None}
    for quality in qualities:  # everything lvc_zoo.load will check after downloading, for every quality held
        load_local(directory, model, None if quality is None else int(quality))
    files = tuple(
        PushFile(path.relative_to(directory).as_posix(), path.stat().st_size, sha256_file(path))
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    result = PushResult(get_spec(model).name, repo_id, revision or "main", private, files, dry_run)
    if dry_run:
        return result

    from huggingface_hub import HfApi  # looked up at call time, so tests can substitute a recording fake
    from huggingface_hub.errors import LocalTokenNotFoundError

    api = HfApi(endpoint=endpoint, library_name="lvc_zoo", library_version=__version__)
    try:
        api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True)
        if revision is not None and revision != "main" and not revision.startswith("refs/"):
            api.create_branch(repo_id, branch=revision, token=token, repo_type="model", exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=directory,
            repo_type="model",
            revision=revision,
            token=token,
            allow_patterns=[re.sub(r"([\[\]*?])", r"[\1]", f.path) for f in files],  # literal paths
            commit_message=f"Upload {result.model} weights with lvc_zoo {__version__}",
        )
    except LocalTokenNotFoundError as err:
        raise HubError(
            f"Cannot upload to {repo_id}: no Hub token. Log in with `hf auth login` or set HF_TOKEN "
            "to a token with write access."
        ) from err
    except HfHubHTTPError as err:
        raise HubError(
            f"Uploading {directory} to {repo_id} (revision {result.revision}) failed: the Hub answered "
            f"{str(err).splitlines()[0]}. Check the repo name and that your token (HF_TOKEN or "
            "`hf auth login`) has write access to it."
        ) from err
    except _unreachable_errors() as err:
        raise HubError(
            f"Uploading {directory} to {repo_id} failed: the Hub could not be reached ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no answer'}). Check the network connection (and HF_ENDPOINT)."
        ) from err
    return dataclasses.replace(result, commit_url=getattr(commit, "commit_url", None))


UNREACHABLE_ERRORS = {
    "requests.exceptions": ("ConnectionError", "Timeout"),  # huggingface_hub < 1.0 (subclasses of OSError)
    "urllib3.exceptions": ("MaxRetryError", "TimeoutError", "ProtocolError"),  # what requests may let through
    "httpx": ("TransportError",),  # huggingface_hub >= 1.0: connect, read, timeout, proxy and protocol errors
    "httpx2": ("TransportError",),
}
"""Per HTTP client module, the exception classes that mean the Hub could not be reached."""


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    """The exceptions meaning "the Hub could not be reached": the OS's (refused, reset, timed out, a
    failed name lookup; huggingface_hub's OfflineModeIsEnabled is a ConnectionError) and those of
    whichever HTTP client huggingface_hub has imported. Anything else (a bug on the upload path)
    propagates."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError, socket.gaierror]
    for module_name, names in UNREACHABLE_ERRORS.items():
        module = sys.modules.get(module_name)
        found += [getattr(module, name) for name in names if module is not None and hasattr(module, name)]
    return tuple(found)


def _check_push_target(repo_id: str, revision: str | None) -> None:
    """Refuse a repo id that is not "ORG/NAME", or a malformed revision, before any request."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not _is_valid_repo_id(repo_id):
        raise ConfigError(
            f"{repo_id!r} is not a Hub repo id: use ORG/NAME (letters, digits, '-', '_' and '.'; "
            "ORG is your user name or an organisation)."
        )
    if revision is not None and (not _REVISION.fullmatch(revision) or ".." in revision):
        raise ConfigError(
            f"{revision!r} is not a branch name: use letters, digits, '-', '_', '.' and '/' "
            "(e.g. main, v1.0, refs/pr/3)."
        )


__all__ += ["push_pretrained", "PushResult", "PushFile"]
