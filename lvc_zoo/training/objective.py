"""The rate-distortion objective: lambda * D + R, per frame, in float32.

    loss(frame) = weight * lambda * D + R / pixels

D is the MSE or 1 - MS-SSIM (torchmetrics) of a reconstruction against its input, R the bits
of the rate terms the stage counts, pixels B * H * W of the frames D compares, and weight the
frame's hierarchical weight (1 for an I frame). What D compares and which rate terms count
depends on the stage's loss (see `Stage`):

    intra           D(I recon, x)                              every rate term of the I frame
    motion          D(warped reference, x)                     motion terms ("mv_*")
    flow            flow_weight * MSE(decoded flow, estimate)  motion terms ("mv_*")
    reconstruction  D(x_hat, x)                                none
    contextual      D(x_hat, x)                                the other terms (y, z)
    all             D(x_hat, x) + alpha * D(base recon, base input)   every rate term
    base            D(base recon, base input)                  base-layer terms ("bl_*")

Models with a base layer (SEVC: a codec of the 4x-downscaled frame whose rate tags carry
the prefix "bl_") hand their base input and reconstruction to the objective; for them
"motion" is the base layer's (warped base reference against the base input, R = "bl_mv_*"),
and "base" and "motion" count pixels of the base frame, so their R is the base layer's own
bpp. alpha is `Stage.base_weight`, SEVC's base-reconstruction constraint:

    [choice] SEVC's Eq. 4 (independent optimisation) and Eq. 5 (joint optimisation) lost
    their symbols in the paper's text; from the prose around them we use
        base codec (Eq. 4):  L_BL = w_t * lambda * D(x_hat_BL, x_BL) + R_BL
        augmentative part:   L    = w_t * lambda * D(x_hat, x) + R        (base frozen)
        joint (Eq. 5):       L    = w_t * lambda * (D(x_hat, x) + alpha * D(x_hat_BL, x_BL)) + R
    with R_BL the base layer's bpp (per base-frame pixel), R the whole codec's bpp (both
    layers, per full-resolution pixel), w_t the hierarchical frame weight, and
    alpha = 0.05 (Table 6's best BD-rate).

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
    "BASE_TAG_PREFIX",
    "MOTION_TAG_PREFIX",
    "MS_SSIM_MIN_SIDE",
    "FrameTerms",
    "counts_rate",
    "distortion",
    "frame_terms",
    "frame_weight",
    "is_motion_tag",
    "ms_ssim",
]

MOTION_TAG_PREFIX = "mv_"
"""Rate tags of the motion latents ("mv_y", "mv_z"); the other tags are the contextual ones."""

BASE_TAG_PREFIX = "bl_"
"""Prefix of a base layer's rate tags ("bl_mv_y", "bl_y", ...; SEVC)."""

MS_SSIM_MIN_SIDE = 176
"""Smallest frame side (a multiple of 16) for 5-scale MS-SSIM with an 11-tap window (> 160)."""


def is_motion_tag(tag: str) -> bool:
    """Whether `tag` is a motion latent's ("mv_y", or a base layer's "bl_mv_y")."""
    return tag.removeprefix(BASE_TAG_PREFIX).startswith(MOTION_TAG_PREFIX)


def counts_rate(loss: LossName, tag: str) -> bool:
    """Whether a stage with loss `loss` counts the bits recorded under `tag`."""
    if loss in ("intra", "all"):
        return True
    if loss in ("motion", "flow"):
        return is_motion_tag(tag)
    if loss == "contextual":
        return not is_motion_tag(tag)
    if loss == "base":
        return tag.startswith(BASE_TAG_PREFIX)
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
    warped: Tensor | None = None,
    base_recon: Tensor | None = None,
    base_input: Tensor | None = None,
    base_weight: float = 0.0,
    flows: tuple[Tensor, Tensor] | None = None,
    flow_weight: float = 0.0,
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
        warped: the warped reference ("motion" only): (B, 3, H, W), or (B, 3, h, w) at the
            base layer's resolution when `base_input` is given.
        base_recon: (B, 3, h, w) the base layer's reconstruction, for "base" and alpha > 0;
            None for frames without a base layer (single-layer models, I frames).
        base_input: (B, 3, h, w) the base layer's input frame (with `base_recon`, or for "motion").
        base_weight: alpha of the base-reconstruction constraint ("all" only).
        flows: ("flow" only) the decoded flow and the flow network's estimate, (B, 2, H, W) in
            px each; the estimate is a target (no gradient reaches the flow network).
        flow_weight: the "flow" loss's weight on their MSE.
    Returns: the frame's `FrameTerms`.
    """
    batch, _, height, width = x.shape
    if loss == "base":
        d = distortion(base_recon, base_input, kind)
    elif loss == "motion":
        d = distortion(warped, x if base_input is None else base_input, kind)
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
    rate = sum((b for tag, b in bits.items() if counts_rate(loss, tag)), zero) / pixels
    total_bits = sum(bits.values(), zero).detach()
    with torch.autocast(x.device.type, enabled=False):
        mse = torch.mean((x_hat.detach().float() - x.float()) ** 2)
    return FrameTerms(weight * lmbda * d + rate, total_bits / (batch * height * width), mse)
