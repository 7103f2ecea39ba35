"""The table of models: one frozen `ModelSpec` per paper, looked up by name or alias.

The table is static so `list_models()` works offline and a typo fails with suggestions
instead of a download attempt. Builders only build; name lookup, quality checks and weight
loading live once, in `lvc_zoo.load`.

The table names each builder by its import path ("lvc_zoo.models.dcvc_dc:DCVCDC"), imported on
first use of `ModelSpec.builder`, `.config` or `.rate`: reading the table (`lvc-zoo list`,
`--help`, `list_models()`) imports neither torch nor lightning. A new model is one entry:

    ModelSpec(
        name="dcvc_fm",
        model="lvc_zoo.models.dcvc_fm:DCVCFM",   # module:class, imported on use
        preset=None,                             # None: the config class's defaults; "tiny": a classmethod of it
        qualities=(0, 1, 2, 3),                  # as the model's rate says (tests/test_registry.py checks)
        paper="...", licence="MIT", description="...",
    ),
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, UnknownModelError, require_quality

if TYPE_CHECKING:
    from .models import VideoCodec
    from .rate import RateSpec

__all__ = ["ModelSpec", "MODELS", "get_spec", "spec_of_class", "list_models", "index_specs", "weights_label"]


_COMMIT = re.compile(r"[0-9a-f]{40}")
"""A full git commit id, the only kind of `ModelSpec.revision` that pins weights."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything the zoo knows about one model before building it.

    Attributes:
        name: registry key, snake_case (`dcvc_dc`).
        model: the model's `VideoCodec` subclass as "package.module:Class" (imported on first
            use, see `builder`), or the class itself.
        preset: the default configuration: None for `config_class()`, the name of a
            classmethod of the config class ("tiny": `DCVCDCConfig.tiny()`), or a config instance.
        qualities: the valid user-facing qualities, ascending (higher is better quality), as
            the model's rate has them; declared so the table is read without importing the model,
            and checked against the rate when it is first built.
        aliases: other accepted spellings (`dcvc-dc`).
        hub_repo: Hugging Face Hub repo (`ORG/NAME`) of the published weights, or None
            while none are published.
        revision: the commit (40 hex digits) of `hub_repo` that `load(name)` downloads, so a
            later push to the repo cannot change the default weights; None reads "main".
        files: sha256 per file of the published weights (empty while none are published);
            downloads are checked against these pins as well as against their config.json.
            A model with one weights file per quality pins each file; `load(name, quality)`
            fetches and checks config.json and that quality's file only.
        bundled: a weights directory shipped inside the lvc_zoo package, relative to it
            (e.g. "weights/dcvc_dc_tiny"): `load(name)` reads it with no download, checked
            against `files`. Only for models small enough to ship (the demo model).
        paper: citation of the paper the model reimplements.
        licence: licence of the weights and the official code (an SPDX id, e.g. "MIT").
        description: one line on what the model is.
    """

    name: str
    model: str | type[VideoCodec]
    preset: Any = None
    qualities: tuple[int, ...] = (0, 1, 2, 3)
    aliases: tuple[str, ...] = ()
    hub_repo: str | None = None
    revision: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    bundled: str | None = None
    paper: str = ""
    licence: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.model, str) and not re.fullmatch(r"[\w.]+:\w+", self.model):
            raise ConfigError(f"ModelSpec {self.name!r}: model {self.model!r} must read 'package.module:Class'.")
        if self.revision is not None and (self.hub_repo is None or not _COMMIT.fullmatch(self.revision)):
            raise ConfigError(
                f"ModelSpec {self.name!r}: revision {self.revision!r} must be a full commit id "
                "(40 hex digits) of hub_repo, so the default weights cannot change under users."
            )
        if self.bundled is not None and (self.hub_repo is not None or not self.files):
            raise ConfigError(
                f"ModelSpec {self.name!r}: bundled weights come from the package, not the Hub, and need "
                "sha256 pins in files."
            )
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    @property
    def class_name(self) -> str:
        """The model class's name ("DCVCDC"), without importing it."""
        return self.model.rpartition(":")[2] if isinstance(self.model, str) else self.model.__name__

    @cached_property
    def builder(self) -> type[VideoCodec]:
        """The model's `VideoCodec` subclass (imported on first use); `builder(config)` builds it.

        Raises:
            ConfigError: `model` names no importable class.
        """
        if not isinstance(self.model, str):
            return self.model
        module, _, name = self.model.partition(":")
        try:
            return getattr(import_module(module), name)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"ModelSpec {self.name!r}: cannot import {self.model!r}: {err}") from err

    @cached_property
    def config(self) -> Any:
        """The default configuration, an instance of `builder.config_class` (from `preset`).

        Raises:
            ConfigError: `preset` is neither None, a classmethod name of the config class nor one of its instances.
        """
        config_class = self.builder.config_class
        if self.preset is None:
            return config_class()
        if isinstance(self.preset, str):
            if not callable(getattr(config_class, self.preset, None)):
                raise ConfigError(f"ModelSpec {self.name!r}: {config_class.__name__} has no preset {self.preset!r}.")
            return getattr(config_class, self.preset)()
        if not isinstance(self.preset, config_class):
            raise ConfigError(
                f"ModelSpec {self.name!r}: config is a {type(self.preset).__name__}, "
                f"but {self.builder.__name__} takes a {config_class.__name__}."
            )
        return self.preset

    @cached_property
    def rate(self) -> RateSpec:
        """The model's rate description, `builder.rate_for(config)` (derived, not given).

        Raises:
            ConfigError: its qualities are not the declared `qualities`.
        """
        rate = self.builder.rate_for(self.config)
        if tuple(rate.qualities) != tuple(self.qualities):
            raise ConfigError(
                f"ModelSpec {self.name!r} declares qualities {self.qualities}, but its rate has {rate.qualities}: "
                "declare the rate's."
            )
        return rate

    @property
    def has_published_weights(self) -> bool:
        """Whether `load(name)` finds trained weights without `weights=` (bundled or on the Hub)."""
        return self.hub_repo is not None or self.bundled is not None

    def check_quality(self, quality: object) -> None:
        """Raise QualityError (naming the valid range) unless `quality` is valid or None."""
        if quality is not None:
            require_quality(self.name, quality, self.qualities)


_Q_INDEX: tuple[int, ...] = tuple(range(64))
"""The qualities of DCVC-FM and the models built on it: q_index 0..63."""

_LSTVC_PAPER = (
    "Wang, Chen. Exploring Long- and Short-Range Temporal Information for Learned Video Compression. IEEE TIP 2024."
)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="dcvc_dc",
        model="lvc_zoo.models.dcvc_dc:DCVCDC",
        aliases=("dcvc-dc",),
        hub_repo=None,
        revision=None,
        files={},
        paper="Li, Li, Lu. Neural Video Compression with Diverse Contexts. CVPR 2023.",
        licence="MIT",
        description=(
            "DCVC-DC: conditional coding with offset-diversity alignment, hierarchical "
            "quality structure and quadtree entropy model; variable rate by q-scale anchors."
        ),
    ),
    ModelSpec(
        name="dcvc_fm",
        model="lvc_zoo.models.dcvc_fm:DCVCFM",
        qualities=_Q_INDEX,
        aliases=("dcvc-fm",),
        hub_repo=None,
        revision=None,
        files={},
        paper="Li, Li, Lu. Neural Video Compression with Feature Modulation. CVPR 2024.",
        licence="MIT",
        description=(
            "DCVC-FM: one model for 64 rates (q_index 0..63) by feature modulation, reference-feature "
            "refresh every 32 frames for long sequences; codes BT.709 YCbCr 4:4:4 inside an RGB API."
        ),
    ),
    ModelSpec(
        name="dcvc_lcg",
        model="lvc_zoo.models.dcvc_lcg:DCVCLCG",
        qualities=_Q_INDEX,
        aliases=("dcvc-lcg",),
        hub_repo=None,
        revision=None,
        files={},
        paper=(
            "Qi, Jia, Li, Li, Li, Lu. Long-Term Temporal Context Gathering for Neural Video Compression. "
            "ECCV 2024 (zoo design after the abstract)."
        ),
        licence="MIT",
        description=(
            "DCVC-LCG (zoo design): DCVC-FM plus a long-term reference feature searched by k-means "
            "clustering and intra-cluster attention, fused into the short-term reference feature, and the "
            "q_index as an extra entropy-model prior; variable rate by q_index 0..63."
        ),
    ),
    ModelSpec(
        name="sevc",
        model="lvc_zoo.models.sevc:SEVC",
        paper="Bian et al. Augmented Deep Contexts for Spatially Embedded Video Coding. CVPR 2025.",
        licence="MIT",
        description=(
            "SEVC: a DCVC-DC base layer codes the 4x-downsampled video (decodable alone); an "
            "enhancement layer codes the full frame with motion/feature co-augmented contexts and a "
            "spatial-guided Swin latent prior; variable rate by q-scale anchors."
        ),
    ),
    ModelSpec(
        name="lstvc",
        model="lvc_zoo.models.lstvc:LSTVC",
        paper=_LSTVC_PAPER,
        licence="MIT",
        description=(
            "LSTVC: DCVC-style conditional coding with an updatable long-range temporal prior, progressive "
            "guided motion compensation and a parallel multistage (quadtree) entropy model; one weights file per quality."
        ),
    ),
    ModelSpec(
        name="lstvc_plus",
        model="lvc_zoo.models.lstvc:LSTVCPlus",
        preset="plus",
        aliases=("lstvc+",),
        paper=_LSTVC_PAPER,
        licence="MIT",
        description="LSTVC+: LSTVC with a heavier contextual transform; one weights file per quality.",
    ),
    ModelSpec(
        name="ecvc",
        model="lvc_zoo.models.ecvc:ECVC",
        paper=(
            "Jiang, Li, Zhang, Zhang. ECVC: Exploiting Non-Local Correlations in Multiple Frames for Contextual "
            "Video Compression. CVPR 2025."
        ),
        licence="MIT",
        description=(
            "ECVC: DCVC-DC with a second reference (t-2, successive flow warping and a multi-scale refiner, no "
            "extra motion bits) and non-local contexts by multi-head linear cross attention; PCFS fine-tuning; "
            "variable rate by q-scale anchors."
        ),
    ),
    ModelSpec(
        name="dcvc_dc_tiny",
        model="lvc_zoo.models.dcvc_dc:DCVCDCTiny",
        preset="tiny",
        aliases=("dcvc-dc-tiny",),
        bundled="weights/dcvc_dc_tiny",
        files={"model.safetensors": "da6c47ce06fc7f120b35d59ff88e9ea5cef3a685e56fff2086cf6aec2e1871c2"},
        paper="Li, Li, Lu. Neural Video Compression with Diverse Contexts. CVPR 2023 (the architecture).",
        licence="MIT",
        description=(
            "The demo model: DCVC-DC at reduced widths (4.5 M parameters), trained by lvc_zoo on camera "
            "pans across scikit-image's photos (recipes/demo_tiny.yaml); its weights ship in the package."
        ),
    ),
)
"""Every model of the zoo, in the order the papers appeared (the demo model last)."""


def index_specs(specs: Iterable[ModelSpec]) -> dict[str, ModelSpec]:
    """Map every name and alias (lower case) to its spec.

    Raises:
        ConfigError: a name or alias is used twice, or is not lower case, so a lookup
            could silently pick the wrong model.
    """
    index: dict[str, ModelSpec] = {}
    for spec in specs:
        for key in (spec.name, *spec.aliases):
            if key != key.lower():
                raise ConfigError(f"Registry key {key!r} of {spec.name!r} must be lower case.")
            if key in index:
                raise ConfigError(
                    f"Registry key {key!r} is used by both {index[key].name!r} and {spec.name!r}; "
                    "names and aliases must be unique."
                )
            index[key] = spec
    return index


_INDEX = index_specs(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The spec of model `name` (a registry name or alias, any case).

    Raises:
        UnknownModelError: no such model; the message suggests close names.
    """
    spec = _INDEX.get(name.lower()) if isinstance(name, str) else None
    if spec is None:
        raise UnknownModelError(str(name), list_models())
    return spec


def spec_of_class(class_name: str) -> ModelSpec | None:
    """The spec whose builder is the class named `class_name` (e.g. "DCVCDC"); None if no model's is."""
    specs = [spec for spec in _INDEX.values() if spec.class_name == class_name]
    return next((spec for spec in specs if spec.name == spec.builder.model_name), specs[0] if specs else None)


def list_models() -> list[str]:
    """Registry names of the models implemented so far, sorted."""
    return sorted(spec.name for spec in MODELS)


def weights_label(
    spec: ModelSpec, weights: str | os.PathLike[str] | None = None, *, random_init: str | None = None
) -> str:
    """One line naming the weights a run used, as `bench` and `eval` print and record them.

    Args:
        spec: the model.
        weights: what was passed as `load(..., weights=)`: a weights directory or
            "hf-hub:ORG/NAME[@REV]" (named as given), or None for the registry's default weights
            (bundled: the package directory and the sha256 of each file; on the Hub: repo and revision).
        random_init: for a randomly initialised model, how it was made (e.g. "seed 0"); then
            `weights` must be None.
    Returns: e.g. "bundled lvc_zoo/weights/dcvc_dc_tiny (model.safetensors sha256:da6c...)",
        "hf-hub:ORG/NAME@REV (registry default)", "runs/tiny/weights" or "random initialisation (seed 0)".
    Raises:
        ConfigError: both `weights` and `random_init` were given, or neither while `spec` has no
            published weights.
    """
    if random_init is not None:
        if weights is not None:
            raise ConfigError(f"weights {str(weights)!r} were given with random initialisation: drop one of the two.")
        return f"random initialisation ({random_init})"
    if weights is not None:
        return str(weights)
    if spec.bundled is not None:
        pins = ", ".join(f"{fname} sha256:{digest}" for fname, digest in sorted(spec.files.items()))
        return f"bundled lvc_zoo/{spec.bundled} ({pins})"
    if spec.hub_repo is None:
        raise ConfigError(
            f"{spec.name} has no published weights to name: pass the weights used (a directory or hf-hub:ORG/NAME), "
            "or random_init for a randomly initialised model."
        )
    return f"hf-hub:{spec.hub_repo}@{spec.revision or 'main'} (registry default)"
