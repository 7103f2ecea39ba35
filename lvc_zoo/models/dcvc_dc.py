"""DCVC-DC: Neural Video Compression with Diverse Contexts (Li, Li, Lu, CVPR 2023).

The P-frame codec of the framework figure (Fig. 2 of the paper) is the DCVC family's coding
procedure, `lvc_zoo.layers.inter.DCVCInterCodec` (its docstring draws the data flow):
motion estimation and coding, motion compensation into three contexts, contextual coding of y
with a hyperprior, temporal and reference-latent priors and the quadtree prior, reconstruction.

Diverse contexts in time: the reference feature passes one of three 1x1 adaptors chosen by
the frame's position in a cycle of four (`FEATURE_ADAPTOR_CYCLE` in `lvc_zoo.layers.contextual`,
a hierarchical quality structure), and the first P frame after an I frame builds it from the
decoded frame (`feature_adaptor_intra`). Diverse contexts in space: offset-diversity alignment and the
quadtree-partition entropy model. P-frame latents use Laplace conditionals. The blocks are the
DCVC family's shared layers (`lvc_zoo.layers.motion`, `.contextual`, `.entropy`, `.dpb`, `.inter`,
the last shared with DCVC-FM).

Zoo choices: none in the estimation path, which follows the official test loop exactly
(see `VideoCodec`).

Training: the parameter groups "motion" (`MOTION_PARAMETERS`) and "contextual"
(`CONTEXTUAL_PARAMETERS`) split the P-frame network; `default_recipe` is the DCVC-TCM /
DCVC-HEM / DCVC-DC multi-stage schedule (motion warm-up, reconstruction, contextual coding,
all; see the TCM paper's training section and OpenDCVCs' reimplementation). [choice] The
papers give no step counts; ours are round numbers for a batch-8 Vimeo-90k run (about 2.5
epochs per 20k steps), and the last stage trains on 1 I + 4 P frames cascaded, as OpenDCVCs'
stage-4 fine-tune does.
"""

from __future__ import annotations


from ..layers import (
    ContextualDecoder,
    ContextualEncoder,
    DCVCInterCodec,
    Hyperprior,
    MvDecoder,
    MvEncoder,
    QScale,
    QSteps,
    QuadtreePrior,
    ReconGeneration,
    ReferencePriorFusion,
    SpyNet,
    hyper_transforms,
    quadtree_net,
    stride4_down,
)
from ..rate import RateSpec
from ..training import Stage, TrainingRecipe
from .codec import VideoCodec
from .dcvc_dc_config import DCVCDCConfig
from .intra import DCVCDCIntra

__all__ = [
    "DCVCDC",
    "DCVCDCTiny",
    "DCVCDCConfig",
    "DCVCDCInter",
    "DCVC_DC_LAMBDAS",
    "MOTION_PARAMETERS",
    "CONTEXTUAL_PARAMETERS",
    "default_stages",
    "default_recipe",
]

DCVC_DC_LAMBDAS: tuple[float, ...] = (85.0, 170.0, 380.0, 840.0)
"""lambda of qualities 0..3: [choice] OpenDCVCs' DCVC-DC values (MSE on [0, 1] frames)."""

MOTION_PARAMETERS: tuple[str, ...] = ("inter.flow.*", "inter.mv_*")
"""The motion branch (parameter group "motion"): SpyNet, motion encoder / decoder / hyperprior / prior / q-scales."""

CONTEXTUAL_PARAMETERS: tuple[str, ...] = (
    "inter.feature_*",
    "inter.align.*",
    "inter.context_fusion.*",
    "inter.contextual_*",
    "inter.hyperprior.*",
    "inter.temporal_prior_encoder.*",
    "inter.y_*",
    "inter.recon_generation.*",
)
"""Every P-frame parameter outside the motion branch (parameter group "contextual"): contexts, contextual codec, recon."""


def default_stages() -> list[Stage]:
    """The DCVC family's motion -> reconstruction -> contextual -> all schedule."""
    return [
        Stage("motion", 20000, "motion", ["motion"], frames=2, lr=1e-4),
        Stage("reconstruction", 20000, "reconstruction", ["contextual"], frames=2, lr=1e-4),
        Stage("contextual", 20000, "contextual", ["contextual"], frames=2, lr=1e-4),
        Stage("all", 60000, "all", ["*"], frames=5, lr=1e-4),
    ]


def default_recipe() -> TrainingRecipe:
    """DCVC-DC's training: `default_stages` at the model's lambdas (`DCVC_DC_LAMBDAS`)."""
    return TrainingRecipe(stages=default_stages())


class DCVCDCInter(DCVCInterCodec):
    """DCVC-DC's P-frame codec (official `DMC`): the DCVC family's procedure (`DCVCInterCodec`) with q-scale anchors."""

    def __init__(self, cfg: DCVCDCConfig = DCVCDCConfig()) -> None:
        super().__init__()
        c1, c2, c4, c8, c16, mv = cfg.ch_1x, cfg.ch_2x, cfg.ch_4x, cfg.ch_8x, cfg.ch_16x, cfg.mv_channels
        self.flow = SpyNet(cfg.flow_levels, cfg.flow_channels)

        self.mv_encoder = MvEncoder(mv)
        self.mv_hyperprior = Hyperprior(*hyper_transforms(mv, cfg.mv_hyper_channels), cfg.mv_hyper_channels, tag="mv_z")
        self.mv_prior_fusion = ReferencePriorFusion.depthwise(mv, mv, mv * 2, mv * 3)
        self.mv_spatial_prior = QuadtreePrior(mv, quadtree_net(mv), distribution="laplace")
        self.mv_decoder = MvDecoder(mv)

        self.add_context_modules(c1, c2, c4, cfg.align_groups, cfg.align_offsets, cfg.align_max_residual)

        self.contextual_encoder = ContextualEncoder(c1, c2, c4, c8, c16)
        self.hyperprior = Hyperprior(*hyper_transforms(c16, c16, compact=True), c16, tag="z")
        self.temporal_prior_encoder = stride4_down(c4, c8, c16)
        self.y_prior_fusion = ReferencePriorFusion.depthwise(c16 * 2, c16, c16 * 3, c16 * 3)
        self.y_spatial_prior = QuadtreePrior(c16, quadtree_net(c16), distribution="laplace")
        self.contextual_decoder = ContextualDecoder(c2, c4, c8, c16, cfg.residual_channels)
        self.recon_generation = ReconGeneration(c1, cfg.residual_channels, cfg.unet_channels)

        self.mv_q_enc = QScale(mv, cfg.anchors)
        self.mv_q_dec = QScale(mv, cfg.anchors)
        self.y_q_enc = QScale(c2 * 2, cfg.anchors)
        self.y_q_dec = QScale(c2, cfg.anchors)

    def q_steps(self, quality: int) -> QSteps:
        """The q-scale anchor `quality` of each of the four q-scales."""
        return QSteps(self.mv_q_enc(quality), self.mv_q_dec(quality), self.y_q_enc(quality), self.y_q_dec(quality))


class DCVCDC(VideoCodec):
    """DCVC-DC (Li, Li, Lu, CVPR 2023): `DCVCDCIntra` + `DCVCDCInter`, qualities 0..3.

    Quality q selects q-scale anchor q of both networks (0 = lowest rate), as the official
    test with four rate points does.

    Args:
        config: widths; None = `default_config()`, the official model's.
        recipe: how to train (see `VideoCodec`); None = `training_recipe()`, the DCVC family's stages.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "dcvc_dc"
    config_class = DCVCDCConfig
    parameter_groups = {**VideoCodec.parameter_groups, "motion": MOTION_PARAMETERS, "contextual": CONTEXTUAL_PARAMETERS}
    lambdas = DCVC_DC_LAMBDAS
    """Training lambda of each q-scale anchor (`rate_for`)."""
    channels_last_modules = ("inter",)
    """[choice] The P-frame network; the I-frame codec stays contiguous: channels-last moves the
    bundled dcvc_dc_tiny's I-frame reconstructions by up to 1e-6, the numbers snapshot's limit."""
    default_config = DCVCDCConfig
    """Builds the config used when none is given (the official widths)."""
    inter_class: type[DCVCDCInter] = DCVCDCInter
    """The P-frame network built from the config (a model extending DCVC-DC's names its subclass)."""

    @staticmethod
    def training_recipe() -> TrainingRecipe:
        """The recipe used when none is given: `default_recipe()`."""
        return default_recipe()

    @classmethod
    def rate_for(cls, config: DCVCDCConfig) -> RateSpec:
        """q-scale anchors 0..config.anchors-1 with `lambdas`; validation samples all of them."""
        return RateSpec.anchors(config.anchors, cls.lambdas)

    def __init__(
        self,
        config: DCVCDCConfig | None = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
    ) -> None:
        config = config or self.default_config()
        super().__init__(
            intra=DCVCDCIntra(config),
            inter=self.inter_class(config),
            rate=self.rate_for(config),
            padding_multiple=16,
            config=config,
            recipe=recipe or self.training_recipe(),
            init_from=init_from,
        )


class DCVCDCTiny(DCVCDC):
    """The demo model `dcvc_dc_tiny`: DCVC-DC at `DCVCDCConfig.tiny()` widths, trained by lvc_zoo.

    Args:
        config: widths; None = `DCVCDCConfig.tiny()`.
        recipe: how to train (see `VideoCodec`); recipes/demo_tiny.yaml is its run.
        init_from: weights to start training from, kept as data (see `VideoCodec`).
    """

    model_name = "dcvc_dc_tiny"
    lambdas = (256.0, 512.0, 1024.0, 2048.0)
    """[choice] recipes/demo_tiny.yaml's doubling ladder: a model this small needs high lambdas."""
    default_config = DCVCDCConfig.tiny
