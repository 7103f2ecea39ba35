"""DCVC-LCG (zoo design): Long-Term Temporal Context Gathering for Neural Video Compression.

Qi, Jia, Li, Li, Li, Lu, ECCV 2024. Only the abstract is public; this is the zoo's design on
DCVC-FM after it (shared/design/dcvc_lcg.md, marked [paper] / [choice] in model_cards/dcvc_lcg.md).
The P frame is DCVC-FM's (`DCVCFMInter`) with three additions:

    dpb.feature ─► feature_adaptor ─► feature_extractor ─► ref1, ref2, S (1/4 res)
    dpb.lt_feature, S ─► long_term_memory ─► L ─┬─► next buffer's lt_feature
    S, L ─► context_gathering (k-means clusters of L, intra-cluster search, gated fusion) ─► S'
    ref1, ref2, S' ─► warp / align / context_fusion ─► contexts (as DCVC-FM)
    q_index ─► quality_embedding ─► mv_prior_film(mv prior params), y_prior_film(y prior params)

* [paper] a long-term reference feature is searched for "diverse and relevant" context, which is
  integrated into the short-term reference feature; the search is intra-cluster.
* [paper] the quantisation parameter is an extra prior of the entropy model (no extra bits: the
  q_index is in the stream header already).
* [choice] the memory lives at 1/4 resolution (96 channels), starts as the I frame's reference
  feature and is renewed by a GRU-style gate after every frame; DCVC-FM's feature refresh (every
  32 frames) does not reset it, only an I frame does (`LongTermMemory`, `LCGDPB`).
* [choice] the fusion's output conv and both FiLMs start at zero, so an untrained DCVC-LCG codes
  exactly as the DCVC-FM whose weights it holds (`initialisable_from = ("dcvc_fm",)`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar

from torch import Tensor

from ..errors import ConfigError
from ..layers import FiLM, QualityEmbedding
from ..training import Stage, TrainingRecipe
from .dcvc_fm import DCVCFM, DCVCFMInter
from .dcvc_fm_config import DCVCFMConfig
from .dcvc_lcg_modules import LCGDPB, LongTermContextGathering, LongTermMemory

__all__ = ["DCVCLCG", "DCVCLCGConfig", "DCVCLCGInter", "LCG_PARAMETERS", "default_stages"]

LCG_PARAMETERS: tuple[str, ...] = (
    "inter.long_term_memory.*",
    "inter.context_gathering.*",
    "inter.quality_embedding.*",
    "inter.*_prior_film.*",
)
"""The modules DCVC-LCG adds to DCVC-FM (parameter group "lcg")."""


@dataclass(frozen=True)
class DCVCLCGConfig(DCVCFMConfig):
    """DCVC-FM's widths plus the long-term context gathering and the quality prior (spec section 3)."""

    lcg_key_channels: int = 64
    """d of the LCG queries and keys."""
    lcg_heads: int = 4
    """Attention heads of the intra-cluster search (4 x 16)."""
    lcg_grid: tuple[int, int] = (4, 4)
    """Grid initialisation of the k-means centres: K = rows x cols = 16 clusters."""
    lcg_iterations: int = 3
    """Soft k-means iterations."""
    lcg_max_keys: int = 1024
    """Keys kept per cluster (M): each query attends to at most M + 1 keys."""
    memory_mode: str = "gated"
    """"gated" (GRU-style renewal) or "anchor" (fixed, re-anchored at I frames and refreshes)."""
    quality_channels: int = 32
    """Width of the q_index embedding."""
    y_film_channels: int = 128
    """Hidden width of the FiLM on the latent's prior parameters."""
    mv_film_channels: int = 64
    """Hidden width of the FiLM on the motion latent's prior parameters."""

    limits: ClassVar[MappingProxyType] = MappingProxyType(
        {
            **DCVCFMConfig.limits,
            **dict.fromkeys(("lcg_key_channels", "quality_channels", "y_film_channels", "mv_film_channels"), (1, 1024)),
            "lcg_heads": (1, 64),
            "lcg_grid": (1, 16),
            "lcg_iterations": (0, 16),
            "lcg_max_keys": (1, 1 << 16),
        }
    )
    """Inclusive (lowest, highest) value of each field, checked when read from config.json."""

    def __post_init__(self) -> None:
        """DCVC-FM's checks, then the LCG ones. Raises ConfigError."""
        super().__post_init__()
        if self.memory_mode not in ("gated", "anchor"):
            raise ConfigError(f"memory_mode must be 'gated' or 'anchor', got {self.memory_mode!r}.")
        if self.lcg_key_channels % self.lcg_heads or self.ch_4x % self.lcg_heads:
            raise ConfigError(
                f"lcg_key_channels ({self.lcg_key_channels}) and ch_4x ({self.ch_4x}) must be divisible by "
                f"lcg_heads ({self.lcg_heads})."
            )

    @classmethod
    def small(cls) -> "DCVCLCGConfig":
        """DCVC-FM's small widths with a small search (2x2 clusters, 16 keys), for fast tests."""
        fm = DCVCFMConfig.small()
        return cls(
            **{field.name: getattr(fm, field.name) for field in fields(fm)},
            lcg_key_channels=8, lcg_heads=2, lcg_grid=(2, 2), lcg_max_keys=16,
            quality_channels=8, y_film_channels=16, mv_film_channels=16,
        )


class DCVCLCGInter(DCVCFMInter):
    """DCVC-LCG's P-frame codec: `DCVCFMInter` with the long-term memory, the LCG search and the quality prior."""

    def __init__(self, cfg: DCVCLCGConfig = DCVCLCGConfig()) -> None:
        super().__init__(cfg)
        self.long_term_memory = LongTermMemory(cfg.ch_4x, cfg.memory_mode)  # type: ignore[arg-type]
        self.context_gathering = LongTermContextGathering(
            cfg.ch_4x, cfg.lcg_key_channels, cfg.lcg_heads, cfg.lcg_grid, cfg.lcg_iterations, cfg.lcg_max_keys
        )
        self.quality_embedding = QualityEmbedding(cfg.q_levels, cfg.quality_channels)
        self.mv_prior_film = FiLM(cfg.quality_channels, cfg.mv_film_channels, cfg.mv_channels * 3)
        self.y_prior_film = FiLM(cfg.quality_channels, cfg.y_film_channels, cfg.ch_16x * 3)

    def start(self, x_hat: Tensor, index: int) -> LCGDPB:
        """Buffer after an I frame: no memory yet (the next P frame starts it from this frame's feature)."""
        return LCGDPB.after_intra(x_hat, index)

    def references(self, dpb: LCGDPB) -> tuple[tuple[Tensor, Tensor, Tensor], dict[str, Any]]:
        """DCVC-FM's reference features with S' in place of S, and the renewed memory for the next buffer."""
        ref1, ref2, short = self.reference_features(dpb)
        rebuilt = dpb.feature is None  # after an I frame or a refresh
        memory = self.long_term_memory(dpb.lt_feature, short, rebuilt)
        return (ref1, ref2, self.context_gathering(short, memory)), {"lt_feature": memory}

    def modulate_prior(self, params: Tensor, quality: int, tag: str) -> Tensor:
        """The prior parameters of `tag` modulated by the q_index embedding (identity at initialisation)."""
        film = self.y_prior_film if tag == "y" else self.mv_prior_film
        return film(params, self.quality_embedding(quality))


def default_stages() -> list[Stage]:
    """Spec section 4: the new modules alone on short clips, then everything on long clips, then a fine-tune."""
    return [
        Stage("lcg", 40000, "all", ["lcg"], frames=7, lr=1e-4),
        Stage("long", 60000, "all", ["*"], frames=32, lr=1e-4),
        Stage("fine_tune", 10000, "all", ["*"], frames=32, lr=1e-5),
    ]


class DCVCLCG(DCVCFM):
    """DCVC-LCG (zoo design) on DCVC-FM: qualities = q_index 0..63, as DCVC-FM.

    Args:
        config: widths; None = `DCVCLCGConfig()` (DCVC-FM's official widths plus the spec's search).
        recipe: how to train (see `VideoCodec`); None = `default_stages()`.
        init_from: weights to start training from, kept as data (see `VideoCodec`); DCVC-FM
            weights load partially (`initialisable_from`), leaving the LCG modules fresh.
    """

    model_name = "dcvc_lcg"
    config_class = DCVCLCGConfig
    initialisable_from = ("dcvc_fm",)
    parameter_groups = {**DCVCFM.parameter_groups, "lcg": LCG_PARAMETERS}
    inter_class = DCVCLCGInter

    def __init__(
        self,
        config: DCVCLCGConfig | None = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
    ) -> None:
        super().__init__(config or DCVCLCGConfig(), recipe or TrainingRecipe(stages=default_stages()), init_from)
