"""Coding a training clip: the cascade of P frames, and PCFS (partial cascaded fine-tuning).

The clip goes through the codec's per-frame step `code_frame` with
`Estimate(mode=recipe.quantization)`, batched over B, exactly as inference codes it:

    frame 0 ─► code_frame("I") ─► x_hat, dpb ─► code_frame("P", frame 1, dpb) ─► ... ─► frame T-1

Cascaded, gradients flow back through the references (dpb) into earlier frames; a stage with
`cascaded=False` detaches every reference. PCFS (ECVC, Jiang et al., CVPR 2025) cuts the clip
into groups of `group_size` frames: each group's loss is back-propagated and the optimizer
stepped before the next group, whose references are carried over detached, so the memory
held for backward is that of one group, however long the clip.

The objective reads what it needs beyond x_hat from intermediates the P-frame network hands
the `Estimate` (`lvc_zoo.coding.estimate.keep_intermediate`): `WARPED_FRAME` for "motion",
`DECODED_FLOW` and `ESTIMATED_FLOW` for "flow", a model with a base layer (a lower scalable
layer) `BASE_INPUT` and `BASE_FRAME`, for "base", its "motion" and the base-reconstruction
constraint of "all" stages with `base_weight` > 0, and `LOSS_TERM` + name for each of a
stage's `loss_terms`.

This module is duck-typed on `lvc_zoo.models.VideoCodec` (code_frame, shared_coders,
padded_size, padding_multiple, rate_tags); it never imports the models. Every frame goes
through the codec's per-frame step `code_frame`, the one that estimation, encoding and
decoding use.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..coding.estimate import DECODED_FLOW, ESTIMATED_FLOW, WARPED_FRAME, Estimate
from ..errors import ConfigError
from ..layers import pad_to_multiple
from .objective import MS_SSIM_MIN_SIDE, distortion, frame_terms, frame_weight, ms_ssim
from .recipe import Stage, TrainingRecipe
from .stages import intra_trains

__all__ = [
    "ClipStats",
    "ValidationStats",
    "detach_state",
    "train_clip",
    "validate_clip",
    "WARPED_FRAME",
    "DECODED_FLOW",
    "ESTIMATED_FLOW",
    "BASE_INPUT",
    "BASE_FRAME",
    "LOSS_TERM",
]

BASE_INPUT = "base_input"
"""Intermediate of a model with a base layer (a lower scalable layer): its (B, 3, h, w) input frame."""
BASE_FRAME = "base_frame"
"""Intermediate of a model with a base layer: the base layer's (B, 3, h, w) clamped reconstruction."""
LOSS_TERM = "loss/"
"""Prefix of the intermediates that are loss terms a model computes itself: a P-frame network
hands a 0-dim tensor as `LOSS_TERM + name`, and a stage with `loss_terms` {name: weight} adds
weight * term to the frame's loss."""


@dataclass(frozen=True)
class ClipStats:
    """What a training clip logs (detached 0-dim float32 tensors).

    Attributes:
        loss: mean of the group losses that were back-propagated.
        bpp: bits per pixel over every coded frame.
        psnr: PSNR (dB, peak 1) of the mean MSE over every coded frame.
        steps: optimizer steps taken (1, or one per PCFS group with a loss).
    """

    loss: Tensor
    bpp: Tensor
    psnr: Tensor
    steps: int


@dataclass(frozen=True)
class ValidationStats:
    """One quality's validation of a batch of clips (floats).

    Attributes:
        loss: bpp + lambda * D over every frame (unweighted), D the recipe's distortion.
        bpp: bits per pixel over every frame.
        psnr: mean per-frame PSNR in dB (peak 1).
        ms_ssim: mean per-frame MS-SSIM, or None when frames are smaller than `MS_SSIM_MIN_SIDE`.
        i_bpp, i_psnr: the I frame's (the clip's first) bpp and PSNR.
        p_bpp, p_psnr: the mean P frame's bpp and PSNR, or None for one-frame clips.
    """

    loss: float
    bpp: float
    psnr: float
    ms_ssim: float | None
    i_bpp: float
    i_psnr: float
    p_bpp: float | None
    p_psnr: float | None


def detach_state(state: Any) -> Any:
    """`state` (a decoded-picture buffer: tensors, dataclasses, tuples, lists, dicts) with every tensor detached."""
    if isinstance(state, Tensor):
        return state.detach()
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return dataclasses.replace(
            state, **{f.name: detach_state(getattr(state, f.name)) for f in dataclasses.fields(state) if f.init}
        )
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(item) for item in state)
    if isinstance(state, dict):
        return {key: detach_state(value) for key, value in state.items()}
    return state


def _psnr(mse: Tensor) -> Tensor:
    return -10 * torch.log10(mse.clamp_min(1e-10))


def _code_frame(codec: Any, x: Tensor, index: int, dpb: Any, size: tuple[int, int], quality: int, coder: Estimate) -> tuple[Tensor, Any]:
    """Code padded frame `index` (I when 0) with the codec's per-frame step (`VideoCodec.code_frame`).

    Every chunk of the frame shares `coder`. Returns (x_hat cropped to `size`, next dpb).
    """
    frame_type = "I" if index == 0 else "P"
    coders = codec.shared_coders(frame_type, coder)
    x_hat, dpb = codec.code_frame(x, frame_type, dpb, codec.padded_size(*size), quality, coders, index)
    return x_hat[..., : size[0], : size[1]], dpb


def _intermediates(stage: Stage) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(intermediates a P frame keeps, those it must hand over) under `stage`."""
    terms = tuple(LOSS_TERM + name for name in stage.loss_terms or {})
    if stage.loss == "motion":
        return (WARPED_FRAME, BASE_INPUT, *terms), (WARPED_FRAME, *terms)
    if stage.loss == "flow":
        return (DECODED_FLOW, ESTIMATED_FLOW, *terms), (DECODED_FLOW, ESTIMATED_FLOW, *terms)
    if stage.loss == "base" or stage.base_weight:
        return (BASE_FRAME, BASE_INPUT, *terms), (BASE_FRAME, BASE_INPUT, *terms)
    return terms, terms


def _check_kept(codec: Any, coder: Estimate, stage: Stage, required: tuple[str, ...]) -> None:
    """Raise ConfigError when the P-frame network handed over less than `stage` needs."""
    missing = [name for name in required if name not in coder.kept]
    if missing and missing[0].startswith(LOSS_TERM):
        raise ConfigError(
            f"{type(codec.inter).__name__}.code hands over no loss term {missing[0].removeprefix(LOSS_TERM)!r} "
            f"(keep_intermediate(coder, {missing[0]!r}, ...)), so stage {stage.name!r} cannot weight it: "
            "remove it from the stage's loss_terms or add it to the network."
        )
    if missing:
        needs = f"base_weight {stage.base_weight}" if stage.loss == "all" else f"the {stage.loss!r} loss"
        raise ConfigError(
            f"{type(codec.inter).__name__}.code hands over no {missing[0]!r} (lvc_zoo.coding.estimate.keep_intermediate), "
            f"so stage {stage.name!r} cannot train with {needs}: use another stage loss (base_weight 0) or add it to the network."
        )


def train_clip(
    codec: Any,
    frames: Tensor,
    quality: int,
    lmbda: float,
    stage: Stage,
    recipe: TrainingRecipe,
    step: Callable[[Tensor], None],
    max_steps: int | None = None,
) -> ClipStats:
    """Code a training clip under `stage` and call `step(loss)` once per group (once if no PCFS).

    `step` back-propagates the loss and steps the optimizer (`VideoCodec` passes its manual
    optimization step). An "intra" stage codes frame 0 only. The I frame runs without grad
    unless the I-frame network trains (`intra_trains`) and counts in the loss only then and
    only for "intra" and "all" losses. Each P frame's loss gains weight * term for every
    term of `stage.loss_terms`, which the P-frame network hands over (`LOSS_TERM`).

    Args:
        codec: a `VideoCodec`.
        frames: (B, T, 3, H, W) clips in [0, 1]; all T frames are coded.
        quality: the model-internal quality passed to the networks.
        lmbda: the quality's lambda.
        stage: the stage in force.
        recipe: the recipe (distortion, frame weights, quantization, intra).
        step: back-propagates a group's loss and steps the optimizer.
        max_steps: stop after this many optimizer steps, leaving the clip's later frames
            uncoded (None: no limit). A PCFS clip takes one step per group, so a batch near
            the end of a stage or of the run must not take more than are left.
    Returns: the clip's `ClipStats` over the frames coded.
    """
    count = 1 if stage.loss == "intra" else frames.shape[1]
    size = (frames.shape[-2], frames.shape[-1])
    group_size = stage.group_size or count
    intra_grad = intra_trains(stage, recipe)
    keep, required = _intermediates(stage)
    group: list[Tensor] = []
    losses: list[Tensor] = []
    bpps: list[Tensor] = []
    mses: list[Tensor] = []
    dpb = None
    for index in range(count):
        x = frames[:, index]
        coder = Estimate(mode=recipe.quantization, keep=keep)
        with torch.set_grad_enabled(torch.is_grad_enabled() and (index > 0 or intra_grad)):
            x_hat, dpb = _code_frame(codec, pad_to_multiple(x, codec.padding_multiple), index, dpb, size, quality, coder)
        if not stage.cascaded:
            dpb = detach_state(dpb)
        if index > 0:
            _check_kept(codec, coder, stage, required)
        kept = coder.kept
        terms = frame_terms(
            stage.loss if index > 0 else "intra",  # an I frame's loss is the same in "intra" and "all" stages
            coder.bits,
            x_hat,
            x,
            lmbda,
            frame_weight(stage.frame_weights or recipe.frame_weights, index),
            recipe.distortion,
            tags=codec.rate_tags,
            warped=kept[WARPED_FRAME][..., : size[0], : size[1]] if WARPED_FRAME in kept else None,
            base_recon=kept.get(BASE_FRAME),
            base_input=kept.get(BASE_INPUT),
            base_weight=stage.base_weight,
            flows=(kept[DECODED_FLOW], kept[ESTIMATED_FLOW]) if DECODED_FLOW in kept else None,
            flow_weight=stage.flow_weight,
        )
        bpps.append(terms.bpp)
        mses.append(terms.mse)
        if index > 0:
            extra = [weight * kept[LOSS_TERM + name].float() for name, weight in (stage.loss_terms or {}).items()]
            group.append(terms.loss + sum(extra) if extra else terms.loss)
        elif intra_grad and stage.loss in ("intra", "all"):
            group.append(terms.loss)
        if (index + 1) % group_size == 0 or index == count - 1:
            if group:
                loss = torch.stack(group).mean()
                step(loss)
                losses.append(loss.detach())
            group = []
            dpb = detach_state(dpb)
            if max_steps is not None and len(losses) >= max_steps:
                break
    return ClipStats(
        loss=torch.stack(losses).mean() if losses else torch.zeros(()),
        bpp=torch.stack(bpps).mean(),
        psnr=_psnr(torch.stack(mses).mean()),
        steps=len(losses),
    )


def validate_clip(codec: Any, frames: Tensor, quality: int, lmbda: float, kind: str) -> ValidationStats:
    """Code every frame of (B, T, 3, H, W) clips with `Estimate("round")`, as inference does.

    Args:
        codec: a `VideoCodec`.
        frames: (B, T, 3, H, W) clips in [0, 1].
        quality: the model-internal quality.
        lmbda: the quality's lambda (for the loss).
        kind: "mse" or "ms-ssim", the distortion of the loss.
    Returns: the quality's `ValidationStats`.
    """
    size = (frames.shape[-2], frames.shape[-1])
    with_ms_ssim = min(size) >= MS_SSIM_MIN_SIDE
    bpps: list[float] = []
    psnrs: list[float] = []
    ssims: list[float] = []
    distortions: list[float] = []
    dpb = None
    for index in range(frames.shape[1]):
        x = frames[:, index]
        coder = Estimate(mode="round")
        x_hat, dpb = _code_frame(codec, pad_to_multiple(x, codec.padding_multiple), index, dpb, size, quality, coder)
        terms = frame_terms("all", coder.bits, x_hat, x, lmbda, 1.0, "mse", tags=codec.rate_tags)
        bpps.append(float(terms.bpp))
        psnrs.append(float(_psnr(terms.mse)))
        if with_ms_ssim:
            ssims.append(float(ms_ssim(x_hat, x)))
        distortions.append(float(terms.mse) if kind == "mse" else float(distortion(x_hat, x, kind)))
    bpp = math.fsum(bpps) / len(bpps)
    p_frames = len(bpps) - 1
    return ValidationStats(
        loss=bpp + lmbda * math.fsum(distortions) / len(distortions),
        bpp=bpp,
        psnr=math.fsum(psnrs) / len(psnrs),
        ms_ssim=math.fsum(ssims) / len(ssims) if with_ms_ssim else None,
        i_bpp=bpps[0],
        i_psnr=psnrs[0],
        p_bpp=math.fsum(bpps[1:]) / p_frames if p_frames else None,
        p_psnr=math.fsum(psnrs[1:]) / p_frames if p_frames else None,
    )
