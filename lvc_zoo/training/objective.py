"""The rate-distortion objective: lambda * D + R, per frame, in float32.

    loss(frame) = weight * lambda * D + R / pixels

D is the MSE or 1 - MS-SSIM (torchmetrics) of a reconstruction against its input, R the bits
of the rate terms the stage counts, pixels B * H * W of the frames D compares, and weight the
frame's hierarchical weight (1 for an I frame). What D compares and which rate terms count
depends on the stage's loss (see `Stage`):

    intra           D(I recon, x)                              every rate term of the I frame
    motion          D(warped reference, x)                     motion terms (`RateTags.motion`)
    compensation    the model's weighted loss terms            motion terms
    flow            flow_weight * MSE(decoded flow, estimate)  motion terms
    reconstruction  D(x_hat, x)                                none
    contextual      D(x_hat, x)                                the other terms
    all             D(x_hat, x) + alpha * D(base recon, base input)   every rate term
    base            D(base recon, base input)                  base-layer terms (`RateTags.layer`)

Models with a lower scalable layer, a base layer (e.g. SEVC's codec of the downscaled frame),
hand their base input and reconstruction to the objective and tag the base layer's bits with
a prefix they declare (`RateTags.layer`); for them "motion" is the base layer's (warped base
reference against the base input, R = the base layer's motion terms), and "base" and
"motion" count pixels of the base frame, so their R is the base layer's own bpp. alpha is
`Stage.base_weight`, a base-reconstruction constraint (SEVC's Eq. 5, whose reconstructed form
`lvc_zoo.models.sevc` gives):

    L = w_t * lambda * (D(x_hat, x) + alpha * D(x_hat_BL, x_BL)) + R

Which tags are motion terms and which a base layer's is the model's to say (`RateTags`,
which a model declares as `rate_tags`). A stage's `loss_terms` add weighted terms the model
computes itself (`lvc_zoo.training.cascade.LOSS_TERM`) to each P frame's loss.

Everything is computed in float32 with autocast off, so mixed precision changes the networks'
arithmetic, not the objective's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from ..errors import InputError
from .recipe import LossName

__all__ = [
    "MS_SSIM_MIN_SIDE",
    "RateTags",
    "FrameTerms",
    "counts_rate",
    "distortion",
    "frame_terms",
    "frame_weight",
    "is_motion_tag",
    "ms_ssim",
]

MS_SSIM_MIN_SIDE = 176
"""Smallest frame side (a multiple of 16) for 5-scale MS-SSIM with an 11-tap window (> 160)."""


@dataclass(frozen=True)
class RateTags:
    """How a model names its rate terms (`Estimate.bits` tags), as it declares them (`rate_tags`).

    Attributes:
        motion: prefix of the motion latents' tags (e.g. "mv_" for "mv_y", "mv_z"); the
            other tags are the contextual ones.
        layer: prefix of a base layer's tags (e.g. "bl_" for "bl_mv_y", "bl_y"); None for a
            model without one. A base layer's motion tags are `layer + motion + ...`.
    """

    motion: str
    layer: str | None = None


def is_motion_tag(tag: str, tags: RateTags) -> bool:
    """Whether `tag` is a motion latent's (e.g. "mv_y", or a base layer's "bl_mv_y")."""
    return tag.removeprefix(tags.layer or "").startswith(tags.motion)


def counts_rate(loss: LossName, tag: str, tags: RateTags) -> bool:
    """Whether a stage with loss `loss` counts the bits recorded under `tag` by a model tagging as `tags`."""
    if loss in ("intra", "all"):
        return True
    if loss in ("motion", "compensation", "flow"):
        return is_motion_tag(tag, tags)
    if loss == "contextual":
        return not is_motion_tag(tag, tags)
    if loss == "base":
        return tags.layer is not None and tag.startswith(tags.layer)
    return False


def ms_ssim(x_hat: Tensor, x: Tensor) -> Tensor:
    """Batch-mean MS-SSIM of (B, 3, H, W) frames in [0, 1], float32 (H, W >= `MS_SSIM_MIN_SIDE`).

    Raises:
        InputError: frames smaller than `MS_SSIM_MIN_SIDE` (train on larger crops or use "mse").
    """
    if min(x.shape[-2:]) < MS_SSIM_MIN_SIDE:
        raise InputError(
            f"MS-SSIM needs frames of at least {MS_SSIM_MIN_SIDE}x{MS_SSIM_MIN_SIDE}, got "
            f"{tuple(x.shape[-2:])}: use a larger crop (data.crop) or distortion: mse."
        )
    with torch.autocast(x.device.type, enabled=False):
        return multiscale_structural_similarity_index_measure(x_hat.float(), x.float(), data_range=1.0)


def distortion(x_hat: Tensor, x: Tensor, kind: str) -> Tensor:
    """Batch-mean distortion of (B, 3, H, W) frames in [0, 1]: MSE or 1 - MS-SSIM, float32.

    Args:
        x_hat: reconstruction (or warped reference).
        x: the input frame.
        kind: "mse" or "ms-ssim".
    Returns: a 0-dim float32 tensor.
    """
    if kind == "ms-ssim":
        return 1 - ms_ssim(x_hat, x)
    with torch.autocast(x.device.type, enabled=False):
        return torch.mean((x_hat.float() - x.float()) ** 2)


def frame_weight(frame_weights: Sequence[float], index: int) -> float:
    """Hierarchical distortion weight of the frame at clip index `index` (0 = the I frame, weight 1).

    P frame k = index - 1 gets `frame_weights[k % len(frame_weights)]`.
    """
    return 1.0 if index == 0 else frame_weights[(index - 1) % len(frame_weights)]


@dataclass(frozen=True)
class FrameTerms:
    """One frame's objective and what is logged of it (all 0-dim float32 tensors).

    Attributes:
        loss: weight * lambda * D + R_counted / pixels (differentiable).
        bpp: bits per pixel of every rate term of the frame (detached).
        mse: MSE of the reconstruction x_hat (detached), for PSNR.
    """

    loss: Tensor
    bpp: Tensor
    mse: Tensor


def frame_terms(
    loss: LossName,
    bits: Mapping[str, Tensor],
    x_hat: Tensor,
    x: Tensor,
    lmbda: float,
    weight: float,
    kind: str,
    *,
    tags: RateTags,
    warped: Tensor | None = None,
    base_recon: Tensor | None = None,
    base_input: Tensor | None = None,
    base_weight: float = 0.0,
    flows: tuple[Tensor, Tensor] | None = None,
    flow_weight: float = 0.0,
    model_distortion: Tensor | None = None,
) -> FrameTerms:
    """Objective of one coded frame (see the module docstring for each loss).

    Args:
        loss: the stage's loss (decides what D compares and which rate terms count).
        bits: the frame's bits per tag (`Estimate.bits`).
        x_hat: (B, 3, H, W) the reconstruction.
        x: (B, 3, H, W) the input frame in [0, 1].
        lmbda: the quality's lambda.
        weight: the frame's hierarchical weight.
        kind: "mse" or "ms-ssim".
        tags: how the model tags its bits (which count under `loss`).
        warped: the warped reference ("motion" only): (B, 3, H, W), or (B, 3, h, w) at the
            base layer's resolution when `base_input` is given.
        base_recon: (B, 3, h, w) the base layer's reconstruction, for "base" and alpha > 0;
            None for frames without a base layer (single-layer models, I frames).
        base_input: (B, 3, h, w) the base layer's input frame (with `base_recon`, or for "motion").
        base_weight: alpha of the base-reconstruction constraint ("all" only).
        flows: ("flow" only) the decoded flow and the flow network's estimate, (B, 2, H, W) in
            px each; the estimate is a target (no gradient reaches the flow network).
        flow_weight: the "flow" loss's weight on their MSE.
        model_distortion: ("compensation" only) the 0-dim distortion the model computed, its
            stage's weighted loss terms.
    Returns: the frame's `FrameTerms`.
    """
    batch, _, height, width = x.shape
    if loss == "base":
        d = distortion(base_recon, base_input, kind)
    elif loss == "motion":
        d = distortion(warped, x if base_input is None else base_input, kind)
    elif loss == "compensation":
        d = model_distortion.float()
    elif loss == "flow":
        with torch.autocast(x.device.type, enabled=False):
            d = flow_weight * torch.mean((flows[0].float() - flows[1].detach().float()) ** 2)
    else:
        d = distortion(x_hat, x, kind)
        if base_weight and base_recon is not None:
            d = d + base_weight * distortion(base_recon, base_input, kind)
    at_base = loss == "base" or (loss == "motion" and base_input is not None)
    pixels = batch * (base_input.shape[-2] * base_input.shape[-1] if at_base else height * width)
    zero = torch.zeros((), device=x.device)
    rate = sum((b for tag, b in bits.items() if counts_rate(loss, tag, tags)), zero) / pixels
    total_bits = sum(bits.values(), zero).detach()
    with torch.autocast(x.device.type, enabled=False):
        mse = torch.mean((x_hat.detach().float() - x.float()) ** 2)
    return FrameTerms(weight * lmbda * d + rate, total_bits / (batch * height * width), mse)
