"""Rate as data: which qualities a model codes, the lambda each was trained for, and how.

Every model declares one `RateSpec` (its class's `rate_for(config)`); training, evaluation,
the registry and `lvc_zoo.load` read it instead of typing qualities and lambdas again.

    kind                  qualities      weights                          papers
    "anchors"             0..N-1         one file, N q-scale anchors      DCVC-DC, SEVC, ECVC
    "q_index"             0..63          one file, continuous q_index     DCVC-FM, DCVC-LCG
    "per_quality_weights" 0..N-1         one file per quality             LSTVC

`quality` is user-facing and higher is better; how a model maps it to its internals (anchor
index, q_index) is the model's business. A neutral module: it imports only `lvc_zoo.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from .errors import ConfigError, QualityError

__all__ = ["RateKind", "RateSpec"]

RateKind = Literal["anchors", "q_index", "per_quality_weights"]
"""How a model reaches its qualities (see the module docstring)."""


@dataclass(frozen=True)
class RateSpec:
    """The rate description of one model.

    Attributes:
        kind: how the model reaches its qualities (`RateKind`).
        qualities: valid user-facing qualities, strictly ascending (higher is better quality).
        lambdas: training lambda of each quality, in the order of `qualities` (strictly rising).
        validation: the qualities validation samples, a non-empty subset of `qualities`, ascending.
        default: the quality used when none is given; None = the highest.
    Raises:
        ConfigError: any of the above does not hold (the message says which).
    """

    kind: RateKind
    qualities: tuple[int, ...]
    lambdas: tuple[float, ...]
    validation: tuple[int, ...]
    default: int | None = None

    def __post_init__(self) -> None:
        for name in ("qualities", "lambdas", "validation"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.kind not in get_args(RateKind):
            raise ConfigError(f"rate kind {self.kind!r} is unknown: use one of {', '.join(get_args(RateKind))}.")
        if not self.qualities or not _strictly_rising(self.qualities) or not all(_is_int(q) for q in self.qualities):
            raise ConfigError(f"rate qualities {list(self.qualities)} must be distinct integers in ascending order.")
        if len(self.lambdas) != len(self.qualities):
            raise ConfigError(
                f"rate has {len(self.lambdas)} lambdas for {len(self.qualities)} qualities: give one lambda per quality."
            )
        if not all(math.isfinite(x) and x > 0 for x in self.lambdas) or not _strictly_rising(self.lambdas):
            raise ConfigError(
                f"rate lambdas {list(self.lambdas)} must be positive and rise with quality (higher is better quality)."
            )
        if not self.validation or not _strictly_rising(self.validation) or not set(self.validation) <= set(self.qualities):
            raise ConfigError(
                f"rate validation qualities {list(self.validation)} must be a non-empty ascending subset of "
                f"{list(self.qualities)}."
            )
        if self.default is not None and self.default not in self.qualities:
            raise ConfigError(f"rate default quality {self.default!r} is not one of {list(self.qualities)}.")

    # ----------------------------------------------------------------------------- reading
    @property
    def default_quality(self) -> int:
        """The quality used when none is given: `default`, or the highest."""
        return self.qualities[-1] if self.default is None else self.default

    @property
    def weights_per_quality(self) -> bool:
        """Whether each quality has its own weights file (kind "per_quality_weights")."""
        return self.kind == "per_quality_weights"

    def lambda_of(self, quality: int) -> float:
        """The training lambda of `quality`.

        Raises:
            QualityError: `quality` is not one of `qualities`.
        """
        if not _is_int(quality) or quality not in self.qualities:
            raise QualityError(f"{self.kind} rate", quality, self.qualities)
        return self.lambdas[self.qualities.index(quality)]

    # ----------------------------------------------------------------------------- building
    @classmethod
    def anchors(cls, count: int, lambdas: Sequence[float], validation: Sequence[int] | None = None) -> RateSpec:
        """Discrete q-scale anchors: qualities 0..count-1 in one weights file (DCVC-DC, SEVC).

        Args:
            count: number of anchors.
            lambdas: training lambda of each anchor, lowest quality first.
            validation: qualities validation samples; None = all of them.
        """
        qualities = tuple(range(count))
        return cls("anchors", qualities, tuple(lambdas), qualities if validation is None else tuple(validation))

    @classmethod
    def q_index(
        cls, levels: int = 64, lambda_range: tuple[float, float] = (1.0, 2.0), validation: Sequence[int] | None = None
    ) -> RateSpec:
        """A continuous q_index: qualities 0..levels-1 with log-linear lambdas (DCVC-FM, DCVC-LCG).

        Args:
            levels: number of q_index values.
            lambda_range: (lowest, highest) lambda; quality i gets lo * (hi / lo) ** (i / (levels - 1)).
            validation: qualities validation samples; None = four evenly spaced ones ([choice]:
                the four rate points of the DCVC family's tests, 0, 21, 42, 63 for 64 levels).
        """
        if levels < 2:
            raise ConfigError(f"a q_index rate needs at least 2 levels, got {levels}.")
        low, high = lambda_range
        lambdas = tuple(low * (high / low) ** (i / (levels - 1)) for i in range(levels))
        spaced = tuple(sorted({round(i * (levels - 1) / 3) for i in range(4)}))
        return cls("q_index", tuple(range(levels)), lambdas, spaced if validation is None else tuple(validation))

    @classmethod
    def per_quality_weights(
        cls, lambdas: Sequence[float], validation: Sequence[int] | None = None, default: int | None = None
    ) -> RateSpec:
        """One weights file per quality: qualities 0..len(lambdas)-1 (LSTVC: one model per lambda).

        Args:
            lambdas: training lambda of each quality's weights, lowest quality first.
            validation: qualities validation samples; None = all of them.
            default: the quality `lvc_zoo.load` reads when none is given; None = the highest.
        """
        qualities = tuple(range(len(lambdas)))
        return cls(
            "per_quality_weights", qualities, tuple(lambdas), qualities if validation is None else tuple(validation), default
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strictly_rising(values: Sequence[float]) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))
