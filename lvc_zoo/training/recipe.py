"""Training recipes as data: what trains, on which loss, at which learning rate, for how many steps.

A `TrainingRecipe` is plain dataclasses, so LightningCLI / jsonargparse build it from YAML:

    model:
      class_path: lvc_zoo.models.DCVCDC
      init_args:
        recipe:
          lambdas: [85.0, 170.0, 380.0, 840.0]
          stages:
            - {name: motion, steps: 20000, loss: motion, trainable: [motion], frames: 2}
            - {name: all, steps: 60000, loss: all, trainable: ["inter.*"], frames: 5, schedule: cosine}
            - ...

A stage's `trainable` entries name parameter groups the model declares
(`VideoCodec.parameter_groups`, e.g. DCVC-DC's "motion" and "contextual") or are fnmatch globs
over parameter names. The stage in force is a pure function of the optimizer step
(`TrainingRecipe.stage_at`) and its learning rate a pure function of the steps since the
stage began (`Stage.lr_at`), so a resumed run continues exactly where it was killed.

This module knows no paper: each model's default schedule lives with the model (e.g.
`lvc_zoo.models.dcvc_dc.default_recipe`).
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

import torch

from ..errors import ConfigError
from ..rate import RateSpec

__all__ = ["LossName", "Schedule", "Stage", "TrainingRecipe"]

LossName = Literal["intra", "motion", "compensation", "flow", "reconstruction", "contextual", "all", "base"]
Schedule = Literal["constant", "step", "cosine"]


@dataclass
class Stage:
    """One stage of a multi-stage schedule.

    Args:
        name: a label for logs.
        steps: optimizer steps (`global_step`) the stage lasts.
        loss: "intra": lambda*D(I recon) + R_I on frame 0 (trains the I codec);
            "motion": lambda*D(warped reference, x) + R_mv; "compensation": lambda * (the stage's
            `loss_terms`, weighted) + R_mv, a motion warm-up whose distortion the model computes
            itself (LSTVC's rate-compensation loss, lambda * d(context, feature of x) + R_mv); "flow": lambda * flow_weight * MSE(decoded
            flow, the flow network's estimate) in px^2 + R_mv, which teaches a motion codec trained
            from scratch to carry the estimate (the warp's gradient does not reach displacements of
            more than about a pixel, so from zero output "motion" cannot); "reconstruction": lambda*D(x_hat, x)
            (no rate); "contextual": lambda*D(x_hat, x) + R_y + R_z; "all": lambda*D + every rate;
            "base" (models with a lower scalable layer, a base layer): lambda*D(base recon, base
            input) + R_base, the base layer alone at its own resolution. A model with a base
            layer takes the "motion" D and R_mv from its base layer too (see
            `lvc_zoo.training.objective`).
        trainable: parameter groups the model declares (`VideoCodec.parameter_groups`) or
            fnmatch globs over parameter names; the others stay fixed.
        frames: frames of each training clip coded (1 I + frames - 1 P).
        lr: learning rate at the stage's start (after its warm-up); see `schedule`.
        cascaded: gradients flow through the references (False: each reference is detached).
        group_size: PCFS (ECVC's partial cascaded fine-tuning): frames per group, the loss
            back-propagated and the optimizer stepped after each group; None = the whole clip.
        base_weight: alpha of a base-reconstruction constraint (SEVC's Eq. 5): an "all" stage
            of a model with a base layer adds weight * lambda * alpha * D(base recon, base input)
            to each P frame's loss; 0 = the plain loss. Only "all" stages take it.
        flow_init: "gradient": at the stage's first step the model's flow networks restart as
            the analytic gradient-based flow step (the model's `initialise_flow()`) and their
            optimizer moments are dropped: [choice] a start for a flow network trained without
            pretrained weights (the demo model's card). A run resumed later in the stage keeps
            the checkpoint's (trained) weights.
        flow_weight: the "flow" loss's weight on the flow MSE (px^2); [choice] 0.01. A flow
            error of e px costs about mean(I_x^2) * e^2 of warp MSE; on the demo recipe's
            training photos mean(I_x^2) is 0.0018 per px^2 at full size (grey, [0, 1]) and up
            to 4x that after their 2x downscale, so 0.01 weighs a flow error 1.5-5x the warp
            error it causes: a little more, to pull a motion codec away from zero flow.
        frame_weights: the stage's own hierarchical P-frame weights; None = the recipe's.
        schedule: how the learning rate moves over the stage (`lr_at`): "constant" (`lr`),
            "step" (`lr` * gamma ** (steps // step_size)) or "cosine" (from `lr` down to
            `min_lr` over the stage's `steps`, then `min_lr` while the last stage goes on).
        min_lr: the "cosine" schedule's final learning rate.
        step_size: the "step" schedule's period in optimizer steps.
        gamma: the "step" schedule's factor per period.
        warmup_steps: steps at the stage's start over which the learning rate rises linearly
            to `lr` (lr * (k + 1) / warmup_steps at step k); the schedule runs after them.
        loss_terms: extra terms the model hands over (see `lvc_zoo.training.cascade.LOSS_TERM`),
            by name, with their weights: each P frame's loss gains weight * term (a
            "compensation" stage's distortion is their weighted sum instead). None = none.
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
    # Fields added later have plain (class attribute) defaults, so stages pickled before they
    # existed unpickle with them and still compare equal to the same stage written today.
    frame_weights: list[float] | None = None
    schedule: Schedule = "constant"
    min_lr: float = 0.0
    step_size: int | None = None
    gamma: float = 0.1
    warmup_steps: int = 0
    loss_terms: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.steps < 1 or self.frames < 1 or (self.group_size is not None and self.group_size < 1):
            raise ConfigError(
                f"Stage {self.name!r}: steps, frames and group_size must be >= 1 "
                f"(got steps={self.steps}, frames={self.frames}, group_size={self.group_size})."
            )
        if self.loss != "intra" and self.frames < 2:
            raise ConfigError(f"Stage {self.name!r} trains P frames: set frames >= 2 (1 I + frames - 1 P), got {self.frames}.")
        if self.loss == "compensation" and not self.loss_terms:
            raise ConfigError(
                f"Stage {self.name!r}: the 'compensation' loss weighs the model's own distortion terms: name them in "
                "loss_terms (e.g. {context_distortion: 1.0})."
            )
        if self.frame_weights is not None and (not self.frame_weights or min(self.frame_weights) <= 0):
            raise ConfigError(f"Stage {self.name!r}: frame_weights must be positive numbers, got {self.frame_weights}.")
        if self.flow_weight <= 0:
            raise ConfigError(f"Stage {self.name!r}: flow_weight must be > 0, got {self.flow_weight}.")
        if self.base_weight < 0 or (self.base_weight and self.loss != "all"):
            raise ConfigError(
                f"Stage {self.name!r}: base_weight (alpha of the base-reconstruction constraint) must be >= 0 "
                f"and is used by 'all' stages only (got {self.base_weight} with loss {self.loss!r})."
            )
        if not 0 <= self.warmup_steps < self.steps:
            raise ConfigError(f"Stage {self.name!r}: warmup_steps must be >= 0 and < steps ({self.steps}), got {self.warmup_steps}.")
        if self.schedule == "step" and (self.step_size is None or self.step_size < 1 or self.gamma <= 0):
            raise ConfigError(
                f"Stage {self.name!r}: the 'step' schedule needs step_size >= 1 and gamma > 0 "
                f"(got step_size={self.step_size}, gamma={self.gamma})."
            )
        if self.schedule == "cosine" and not 0 <= self.min_lr <= self.lr:
            raise ConfigError(f"Stage {self.name!r}: the 'cosine' schedule needs 0 <= min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}.")

    def lr_at(self, step: int) -> float:
        """The learning rate `step` optimizer steps after the stage began (see `schedule`).

        A pure function of the stage and `step`, so a resumed run sets what the killed run would have.
        """
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        step -= self.warmup_steps
        if self.schedule == "step":
            return self.lr * self.gamma ** (step // self.step_size)
        if self.schedule == "cosine":
            progress = min(step / (self.steps - self.warmup_steps), 1.0)
            return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
        return self.lr


@dataclass
class TrainingRecipe:
    """Objective, schedule and optimizer settings of a training run.

    Args:
        lambdas: rate-distortion trade-off per quality (lowest quality first); None = the
            model's own (`VideoCodec.rate.lambdas`).
        distortion: "mse" or "ms-ssim" (1 - MS-SSIM; frames must be >= 176 px).
        frame_weights: distortion weight of P frame k (k = 0, 1, ...) is
            frame_weights[k % len]; [choice] OpenDCVCs' hierarchical [0.5, 1.2, 0.5, 0.9]. A stage
            may replace them while it lasts (`Stage.frame_weights`).
        grad_clip: max global gradient norm before each optimizer step; None = no clipping.
        quantization: training relaxation of rounding, "noise" (additive uniform) or "ste".
        intra: "frozen" (the I codec runs without grad outside "intra" stages) or "trained".
        stages: the schedule, run in order; the last stage continues past its `steps`. The
            default trains every parameter on the full loss; models give their own
            (e.g. `lvc_zoo.models.dcvc_dc.default_recipe`).
        weight_decay: AdamW weight decay.
        seed: seeds the per-step draw of quality and clip start (with the step number).
        q_scales: initial q-scale anchors of a model trained from scratch, one per quality
            (lowest first), which the model's `initialise_q_scales` sets (DCVC-DC: every
            `*q_enc.scale` to these values, every `*q_dec.scale` to their reciprocals). None keeps the constructors' ones (all 1, the
            official initialisation). [choice] Spread anchors let variable-rate training tell
            the qualities apart from the first step; from equal anchors Adam needs thousands of
            steps to separate them. `init_from` weights and resumed checkpoints replace them.
        validation_qualities: the qualities validation and test code; None = the model's own
            (`VideoCodec.rate.validation`).
    """

    lambdas: list[float] | None = None
    distortion: Literal["mse", "ms-ssim"] = "mse"
    frame_weights: list[float] = field(default_factory=lambda: [0.5, 1.2, 0.5, 0.9])
    grad_clip: float | None = 1.0
    quantization: Literal["noise", "ste"] = "noise"
    intra: Literal["frozen", "trained"] = "frozen"
    stages: list[Stage] = field(default_factory=lambda: [Stage("all", 1, "all")])
    weight_decay: float = 0.0
    seed: int = 0
    q_scales: list[float] | None = None
    validation_qualities: list[int] | None = None  # a plain default: recipes pickled before it existed read None

    def __post_init__(self) -> None:
        if self.lambdas == [] or not self.frame_weights or not self.stages:
            raise ConfigError("A TrainingRecipe needs at least one frame weight and one stage, and lambdas null or one per quality.")
        if self.q_scales is not None and min(self.q_scales) <= 0:
            raise ConfigError(f"recipe.q_scales must hold one positive value per quality, got {self.q_scales}.")

    def check_rate(self, rate: RateSpec) -> None:
        """Raise ConfigError unless the recipe fits a model of rate `rate`.

        lambdas and q_scales, where given, hold one value per quality of the model, and
        validation_qualities are some of its qualities.
        """
        count = len(rate.qualities)
        if self.lambdas is not None and len(self.lambdas) != count:
            raise ConfigError(
                f"recipe.lambdas has {len(self.lambdas)} values but the model has {count} qualities "
                f"{list(rate.qualities)}: give one lambda per quality, lowest quality first, or null for the model's own."
            )
        if self.lambdas is None and len(rate.lambdas) != count:
            raise ConfigError(
                f"the model's lambdas {list(rate.lambdas)} are not one per quality {list(rate.qualities)}: set recipe.lambdas."
            )
        if self.q_scales is not None and len(self.q_scales) != count:
            raise ConfigError(f"recipe.q_scales must hold one positive value per quality ({count}), got {self.q_scales}.")
        unknown = sorted(set(self.validation_qualities or ()) - set(rate.qualities))
        if unknown or self.validation_qualities == []:
            raise ConfigError(
                f"recipe.validation_qualities {self.validation_qualities} must be some of the model's qualities "
                f"{list(rate.qualities)}, or null for the model's own {list(rate.validation)}."
            )

    def lambda_of(self, rate: RateSpec, quality: int) -> float:
        """The lambda training and validation use for `quality`: recipe.lambdas' or else the model's."""
        if self.lambdas is None:
            return rate.lambda_of(quality)
        return self.lambdas[rate.qualities.index(quality)]

    def validation_of(self, rate: RateSpec) -> tuple[int, ...]:
        """The qualities validation codes: recipe.validation_qualities, or else the model's."""
        return rate.validation if self.validation_qualities is None else tuple(self.validation_qualities)

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
