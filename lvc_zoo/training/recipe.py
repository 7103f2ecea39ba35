"""Training recipes as data: what trains, on which loss, for how many steps.

A `TrainingRecipe` is plain dataclasses, so LightningCLI / jsonargparse build it from YAML:

    model:
      class_path: lvc_zoo.models.DCVCDC
      init_args:
        recipe:
          lambdas: [85.0, 170.0, 380.0, 840.0]
          stages:
            - {name: motion, steps: 20000, loss: motion, trainable: ["inter.flow.*", "inter.mv_*"], frames: 2}
            - ...

The stage in force is a pure function of the optimizer step (`TrainingRecipe.stage_at`), so a
resumed run continues in the stage it was killed in.

The default schedule is the DCVC-TCM / DCVC-HEM / DCVC-DC multi-stage one (motion warm-up,
reconstruction, contextual coding, all; see the TCM paper's training section and OpenDCVCs'
reimplementation). [choice] The papers give no step counts; ours are round numbers for a
batch-8 Vimeo-90k run (about 2.5 epochs per 20k steps), and the last stage trains on 1 I + 4
P frames cascaded, as OpenDCVCs' stage-4 fine-tune does.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

import torch

from ..errors import ConfigError

__all__ = [
    "LossName",
    "Stage",
    "TrainingRecipe",
    "MOTION_PARAMETERS",
    "CONTEXTUAL_PARAMETERS",
    "default_stages",
]

LossName = Literal["intra", "motion", "flow", "reconstruction", "contextual", "all", "base"]

MOTION_PARAMETERS: tuple[str, ...] = ("inter.flow.*", "inter.mv_*")
"""DCVC-DC's motion branch: SpyNet, motion encoder / decoder / hyperprior / prior / q-scales."""

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
"""Every DCVC-DC P-frame parameter outside the motion branch (contexts, contextual codec, recon)."""


@dataclass
class Stage:
    """One stage of a multi-stage schedule.

    Args:
        name: a label for logs.
        steps: optimizer steps (`global_step`) the stage lasts.
        loss: "intra": lambda*D(I recon) + R_I on frame 0 (trains the I codec);
            "motion": lambda*D(warped reference, x) + R_mv; "flow": lambda * flow_weight * MSE(decoded
            flow, the flow network's estimate) in px^2 + R_mv, which teaches a motion codec trained
            from scratch to carry the estimate (the warp's gradient does not reach displacements of
            more than about a pixel, so from zero output "motion" cannot); "reconstruction": lambda*D(x_hat, x)
            (no rate); "contextual": lambda*D(x_hat, x) + R_y + R_z; "all": lambda*D + every rate;
            "base" (models with a base layer, e.g. SEVC): lambda*D(base recon, base input) + R_base,
            the base layer alone at its own resolution. A model with a base layer takes the
            "motion" D and R_mv from its base layer too (see `lvc_zoo.training.objective`).
        trainable: fnmatch globs over parameter names (e.g. "inter.flow.*"); others stay fixed.
        frames: frames of each training clip coded (1 I + frames - 1 P).
        lr: learning rate during the stage.
        cascaded: gradients flow through the references (False: each reference is detached).
        group_size: PCFS (ECVC's partial cascaded fine-tuning): frames per group, the loss
            back-propagated and the optimizer stepped after each group; None = the whole clip.
        base_weight: alpha of SEVC's base-reconstruction constraint (its Eq. 5): an "all" stage
            of a model with a base layer adds weight * lambda * alpha * D(base recon, base input)
            to each P frame's loss; 0 = the plain loss. Only "all" stages take it.
        flow_init: "gradient": at the stage's first step every SpyNet of the model becomes the
            analytic gradient-based flow step (`SpyNet.init_gradient_flow_`) and its optimizer
            moments are dropped: [choice] a start for a flow network trained without pretrained
            weights, where SpyNet's own training needs far more steps (the demo model's card).
            A run resumed later in the stage keeps the checkpoint's (trained) weights.
        flow_weight: the "flow" loss's weight on the flow MSE (px^2); [choice] 0.01. A flow
            error of e px costs about mean(I_x^2) * e^2 of warp MSE; on the demo recipe's
            training photos mean(I_x^2) is 0.0018 per px^2 at full size (grey, [0, 1]) and up
            to 4x that after their 2x downscale, so 0.01 weighs a flow error 1.5-5x the warp
            error it causes: a little more, to pull a motion codec away from zero flow.
    """

    name: str
    steps: int
    loss: LossName
    trainable: list[str] = field(default_factory=lambda: ["*"])
    frames: int = 2
    lr: float = 1e-4
    cascaded: bool = True
    group_size: int | None = None
    base_weight: float = 0.0
    flow_init: Literal["gradient"] | None = None
    flow_weight: float = 0.01
    frame_weights: list[float] | None = None  # a plain default: stages pickled before it existed read None

    def __post_init__(self) -> None:
        if self.steps < 1 or self.frames < 1 or (self.group_size is not None and self.group_size < 1):
            raise ConfigError(
                f"Stage {self.name!r}: steps, frames and group_size must be >= 1 "
                f"(got steps={self.steps}, frames={self.frames}, group_size={self.group_size})."
            )
        if self.loss != "intra" and self.frames < 2:
            raise ConfigError(f"Stage {self.name!r} trains P frames: set frames >= 2 (1 I + frames - 1 P), got {self.frames}.")
        if self.frame_weights is not None and (not self.frame_weights or min(self.frame_weights) <= 0):
            raise ConfigError(f"Stage {self.name!r}: frame_weights must be positive numbers, got {self.frame_weights}.")
        if self.flow_weight <= 0:
            raise ConfigError(f"Stage {self.name!r}: flow_weight must be > 0, got {self.flow_weight}.")
        if self.base_weight < 0 or (self.base_weight and self.loss != "all"):
            raise ConfigError(
                f"Stage {self.name!r}: base_weight (alpha of the base-reconstruction constraint) must be >= 0 "
                f"and is used by 'all' stages only (got {self.base_weight} with loss {self.loss!r})."
            )


def default_stages() -> list[Stage]:
    """The DCVC family's motion -> reconstruction -> contextual -> all schedule (DCVC-DC names)."""
    return [
        Stage("motion", 20000, "motion", list(MOTION_PARAMETERS), frames=2, lr=1e-4),
        Stage("reconstruction", 20000, "reconstruction", list(CONTEXTUAL_PARAMETERS), frames=2, lr=1e-4),
        Stage("contextual", 20000, "contextual", list(CONTEXTUAL_PARAMETERS), frames=2, lr=1e-4),
        Stage("all", 60000, "all", ["*"], frames=5, lr=1e-4),
    ]


@dataclass
class TrainingRecipe:
    """Objective, schedule and optimizer settings of a training run.

    Args:
        lambdas: rate-distortion trade-off per quality (q_index order); [choice] the default
            85/170/380/840 are OpenDCVCs' DCVC-DC values (MSE on [0, 1] frames).
        distortion: "mse" or "ms-ssim" (1 - MS-SSIM; frames must be >= 176 px).
        frame_weights: distortion weight of P frame k (k = 0, 1, ...) is
            frame_weights[k % len]; [choice] OpenDCVCs' hierarchical [0.5, 1.2, 0.5, 0.9]. A stage
            may replace them while it lasts (`Stage.frame_weights`).
        grad_clip: max global gradient norm before each optimizer step; None = no clipping.
        quantization: training relaxation of rounding, "noise" (additive uniform) or "ste".
        intra: "frozen" (the I codec runs without grad outside "intra" stages) or "trained".
        stages: the schedule, run in order; the last stage continues past its `steps`.
        weight_decay: AdamW weight decay.
        seed: seeds the per-step draw of quality and clip start (with the step number).
        q_scales: initial q-scale anchors of a model trained from scratch, one per quality
            (lowest first): every `*q_enc.scale` starts at these values and every
            `*q_dec.scale` at their reciprocals. None keeps the constructors' ones (all 1, the
            official initialisation). [choice] Spread anchors let variable-rate training tell
            the qualities apart from the first step; from equal anchors Adam needs thousands of
            steps to separate them. `init_from` weights and resumed checkpoints replace them.
    """

    lambdas: list[float] = field(default_factory=lambda: [85.0, 170.0, 380.0, 840.0])
    distortion: Literal["mse", "ms-ssim"] = "mse"
    frame_weights: list[float] = field(default_factory=lambda: [0.5, 1.2, 0.5, 0.9])
    grad_clip: float | None = 1.0
    quantization: Literal["noise", "ste"] = "noise"
    intra: Literal["frozen", "trained"] = "frozen"
    stages: list[Stage] = field(default_factory=default_stages)
    weight_decay: float = 0.0
    seed: int = 0
    q_scales: list[float] | None = None

    def __post_init__(self) -> None:
        if not self.lambdas or not self.frame_weights or not self.stages:
            raise ConfigError("A TrainingRecipe needs at least one lambda, one frame weight and one stage.")
        if self.q_scales is not None and (len(self.q_scales) != len(self.lambdas) or min(self.q_scales) <= 0):
            raise ConfigError(
                f"recipe.q_scales must hold one positive value per lambda ({len(self.lambdas)}), got {self.q_scales}."
            )

    def _switches(self) -> list[int]:
        """The steps at which the next stage takes over: the ends of every stage but the last, which goes on."""
        return list(accumulate(stage.steps for stage in self.stages[:-1]))

    def stage_index_at(self, step: int) -> int:
        """Index of the stage in force at optimizer step `step` (the last one after the end)."""
        return bisect_right(self._switches(), step)

    def steps_left_in_stage(self, step: int) -> int | None:
        """Optimizer steps from `step` to the start of the next stage (None in the last stage, which goes on)."""
        switches = self._switches()
        index = bisect_right(switches, step)
        return switches[index] - step if index < len(switches) else None

    def stage_start(self, index: int) -> int:
        """The optimizer step at which stage `index` begins."""
        return ([0, *self._switches()])[index]

    def stage_at(self, step: int) -> Stage:
        """The stage in force at optimizer step `step`."""
        return self.stages[self.stage_index_at(step)]

    def schedule_before(self, step: int) -> list[tuple[int, dict[str, Any]]]:
        """(first step, fields but `steps`) of every stage in force at some step below `step`.

        Where each stage ends follows from the next one's start or, for the last one listed,
        lies at or beyond `step`, so its length does not matter here.
        """
        schedule: list[tuple[int, dict[str, Any]]] = []
        start = 0
        for stage in self.stages:
            if start >= step:
                break
            schedule.append((start, {k: v for k, v in dataclasses.asdict(stage).items() if k != "steps"}))
            start += stage.steps
        return schedule

    def continues(self, trained: "TrainingRecipe", step: int) -> bool:
        """Whether this recipe trains steps 0..`step`-1 exactly as `trained` did.

        True when every field but the stages is equal and the same stage is in force at every
        step below `step`: only later steps may change (a stage appended, a stage in progress
        made longer or shorter, but not shorter than `step`), so a resumed run stays exact.
        """
        same_fields = dataclasses.replace(self, stages=trained.stages) == trained
        return same_fields and self.schedule_before(step) == trained.schedule_before(step)


# Lightning checkpoints store the recipe in their hyper-parameters; let torch.load(weights_only=True) read it.
torch.serialization.add_safe_globals([Stage, TrainingRecipe])
