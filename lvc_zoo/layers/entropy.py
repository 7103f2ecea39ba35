"""Entropy models of the DCVC family, written once for every latent codec of the zoo.

One interface: each latent codec has `code(y | None, ..., coder) -> y_hat`. The `Coder`
decides what quantisation means and what happens to the symbols: `Estimate` rounds (or adds
noise, or rounds straight-through) and records bits per tag from the likelihoods;
entropy-coding coders (lvc_zoo.coding) push or pull the same integer symbols. Encoder-only
work is skipped when `y` is None, so the decoder runs exactly the encoder's arithmetic.

Bit formula (official DCVC-DC / DCVC-FM estimation path):
    P(s) = CDF(s + 1/2) - CDF(s - 1/2),  bits = max(0, -log2(P + 1e-5))
with zero-mean Laplace (P-frame latents) or Gaussian (I-frame latents) conditionals on the
residual s = round(y - mean), sigma = clamp(scale, 1e-5, 1e10), and a learned factorized
CDF for the hyper-latents z. The bits are computed in float32 even under autocast (bf16 /
fp16 mixed precision), so training and inference see the same likelihoods.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import pad_to_multiple, subpel_conv1x1

__all__ = [
    "Distribution",
    "probs_to_bits",
    "conditional_bits",
    "FactorizedBitEstimator",
    "Coder",
    "Estimate",
    "keep_intermediate",
    "QUADTREE_STEPS",
    "phase_mask",
    "QuadtreePrior",
    "Hyperprior",
    "ReferencePriorFusion",
    "QScale",
    "hyper_transforms",
]

Distribution = Literal["laplace", "gaussian"]

SCALE_MIN, SCALE_MAX = 1e-5, 1e10
"""Clamp of the predicted scales before the CDF (official estimation path)."""


def _at_least_float32(x: Tensor) -> Tensor:
    """`x` as float32 if it is of a narrower type (bf16 / fp16 under autocast); float64 stays."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def probs_to_bits(probs: Tensor) -> Tensor:
    """bits = max(0, -log2(probs + 1e-5)), elementwise (the official formula)."""
    return torch.clamp_min(-torch.log(probs + 1e-5) / math.log(2.0), 0)


def _laplace_cdf(v: Tensor, scale: Tensor) -> Tensor:
    return 0.5 - 0.5 * v.sign() * torch.expm1(-v.abs() / scale)


def _gaussian_cdf(v: Tensor, scale: Tensor) -> Tensor:
    return 0.5 * (1 + torch.erf(v * scale.reciprocal() / math.sqrt(2)))


_CDFS = {"laplace": _laplace_cdf, "gaussian": _gaussian_cdf}


def conditional_bits(symbols: Tensor, scales: Tensor, distribution: Distribution) -> Tensor:
    """Elementwise bits of integer residuals under a zero-mean Laplace or Gaussian.

    Args:
        symbols: residuals round(y - mean) (or their noisy relaxation), any shape.
        scales: predicted scales, same shape; clamped to [1e-5, 1e10].
        distribution: "laplace" (P-frame latents) or "gaussian" (I-frame latents).
    Returns: bits, same shape, >= 0, computed in float32 (or float64 for float64 inputs),
        autocast or not.
    """
    cdf = _CDFS.get(distribution)
    if cdf is None:
        raise ValueError(f"distribution must be one of {sorted(_CDFS)}, got {distribution!r}")
    with torch.autocast(symbols.device.type, enabled=False):
        symbols = _at_least_float32(symbols)
        sigma = _at_least_float32(scales).clamp(SCALE_MIN, SCALE_MAX)
        return probs_to_bits(cdf(symbols + 0.5, sigma) - cdf(symbols - 0.5, sigma))


class _BitParam(nn.Module):
    """One elementwise layer of the factorized CDF: t*softplus(h) + b (+ tanh(t)*tanh(a))."""

    def __init__(self, channels: int, final: bool = False) -> None:
        super().__init__()
        self.h = nn.Parameter(torch.empty(1, channels, 1, 1).normal_(0, 0.01))
        self.b = nn.Parameter(torch.empty(1, channels, 1, 1).normal_(0, 0.01))
        self.a = None if final else nn.Parameter(torch.empty(1, channels, 1, 1).normal_(0, 0.01))

    def forward(self, x: Tensor) -> Tensor:
        x = x * F.softplus(self.h) + self.b
        return x if self.a is None else x + torch.tanh(x) * torch.tanh(self.a)


class FactorizedBitEstimator(nn.Module):
    """Per-channel learned CDF of hyper-latents (Balle et al. 2018, DCVC's BitEstimator).

    Four stacked monotone elementwise layers f1..f4; CDF(x) = sigmoid(f4(f3(f2(f1(x))))).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.f1 = _BitParam(channels)
        self.f2 = _BitParam(channels)
        self.f3 = _BitParam(channels)
        self.f4 = _BitParam(channels, final=True)

    def cdf(self, x: Tensor) -> Tensor:
        """CDF at `x` (B, C, H, W), channel c under channel c's distribution."""
        return torch.sigmoid(self.f4(self.f3(self.f2(self.f1(x)))))

    def bits(self, z_hat: Tensor) -> Tensor:
        """Elementwise bits of integer (or noisy) hyper-latents (B, C, H, W), in float32 or wider, autocast or not."""
        with torch.autocast(z_hat.device.type, enabled=False):
            z_hat = _at_least_float32(z_hat)
            return probs_to_bits(self.cdf(z_hat + 0.5) - self.cdf(z_hat - 0.5))


class Coder(Protocol):
    """Decides what quantisation means and where the symbols go (estimate, encode, decode)."""

    def code_factorized(self, z: Tensor | None, estimator: FactorizedBitEstimator, shape: Sequence[int], tag: str) -> Tensor:
        """Quantise hyper-latents `z` of `shape` (None when decoding) and return z_hat."""

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        """Quantise `residual` = y - mean where `mask` is 1; return the symbols, 0 elsewhere."""


class Estimate:
    """A `Coder` without an entropy coder: quantises and records bits per tag.

    Args:
        mode: "round" (inference; torch.round, half to even as the official code),
            "noise" (additive uniform noise, training) or "ste" (rounding with a
            straight-through gradient, training).
        keep: names of intermediates to record when a model hands them over with
            `keep_intermediate` (e.g. "warped_frame" for the motion loss); empty = none.
    Attributes:
        bits: summed bits per tag (0-dim, float32 or wider; differentiable in "noise"/"ste" modes).
        kept: the intermediates recorded, by name.
    """

    def __init__(self, mode: Literal["round", "noise", "ste"] = "round", keep: Collection[str] = ()) -> None:
        if mode not in ("round", "noise", "ste"):
            raise ValueError(f"mode must be 'round', 'noise' or 'ste', got {mode!r}")
        self.mode = mode
        self.bits: dict[str, Tensor] = {}
        self.keep = frozenset(keep)
        self.kept: dict[str, Tensor] = {}

    def quantize(self, x: Tensor) -> Tensor:
        """Quantise `x` according to `mode`."""
        if self.mode == "round":
            return torch.round(x)
        if self.mode == "noise":
            return x + torch.empty_like(x).uniform_(-0.5, 0.5)
        return x + (torch.round(x) - x).detach()

    def _add(self, tag: str, bits: Tensor) -> None:
        total = bits.sum()
        self.bits[tag] = self.bits[tag] + total if tag in self.bits else total

    def total_bits(self) -> Tensor:
        """Sum of the bits of every tag."""
        return sum(self.bits.values(), torch.zeros(()))

    def code_factorized(self, z: Tensor | None, estimator: FactorizedBitEstimator, shape: Sequence[int], tag: str) -> Tensor:
        if z is None:
            raise ValueError("Estimate needs the encoder's latents; decoding needs an entropy decoder")
        z_hat = self.quantize(_at_least_float32(z))
        self._add(tag, estimator.bits(z_hat))
        return z_hat

    def code_conditional(
        self, residual: Tensor | None, scales: Tensor, mask: Tensor, distribution: Distribution, tag: str
    ) -> Tensor:
        if residual is None:
            raise ValueError("Estimate needs the encoder's latents; decoding needs an entropy decoder")
        symbols = self.quantize(_at_least_float32(residual)) * mask
        self._add(tag, conditional_bits(symbols, scales * mask, distribution))
        return symbols


def keep_intermediate(coder: Coder, name: str, make: Callable[[], Tensor]) -> None:
    """Hand a named intermediate to a coder that asked for it (`Estimate(keep=...)`).

    `make` runs only then, so inference and entropy coding pay nothing.

    Args:
        coder: the frame's coder.
        name: what the intermediate is, e.g. "warped_frame".
        make: computes the tensor.
    """
    if isinstance(coder, Estimate) and name in coder.keep:
        coder.kept[name] = make()


QUADTREE_STEPS: tuple[tuple[int, int, int, int], ...] = ((0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 0, 3, 2))
"""Step k codes channel quarter c at 2x2 phase QUADTREE_STEPS[k][c] (DCVC-DC quadtree prior).

Phases are numbered row-major inside each 2x2 cell: 0 = (0, 0), 1 = (0, 1), 2 = (1, 0),
3 = (1, 1). Each step covers a quarter of all elements and the four steps cover each once."""


def phase_mask(phases: Sequence[int], channels: int, height: int, width: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(1, channels, height, width) 0/1 mask: channel quarter c is 1 at 2x2 phase `phases[c]`.

    Odd sizes are handled as in the official code (the 2x2 tiling is cropped).
    """
    rows = torch.arange(height, device=device).view(height, 1) % 2
    cols = torch.arange(width, device=device).view(1, width) % 2
    phase_map = rows * 2 + cols  # (H, W) phase index of each element
    per_quarter = torch.stack([(phase_map == p) for p in phases])  # (len(phases), H, W)
    mask = per_quarter.repeat_interleave(channels // len(phases), dim=0)
    return mask.unsqueeze(0).to(dtype)


class QuadtreePrior(nn.Module):
    """Four-step quadtree-partition spatial prior (DCVC-DC "quadtree partition-based entropy coding").

    The latent's channels are split in four quarters and its positions in four 2x2 phases;
    step k codes quarter c at phase `steps[k][c]`. Step 1 uses the scales and means of the
    common parameters; before steps 2-4 the shared `net` predicts new scales and means from
    `adaptors[k - 1](cat(y_hat so far, params))`. The latent is divided by a predicted
    quantisation step (clamped to >= 0.5) before coding and multiplied back afterwards.

    Args:
        channels: latent channels C (a multiple of 4).
        net: shared prior network, (B, 3C, H, W) -> (B, 2C, H, W) scales | means.
        distribution: "laplace" or "gaussian".
        steps: the coding order (data, see `QUADTREE_STEPS`).
    """

    def __init__(
        self,
        channels: int,
        net: nn.Module,
        distribution: Distribution,
        steps: Sequence[Sequence[int]] = QUADTREE_STEPS,
    ) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"channels must be a multiple of 4, got {channels}")
        if distribution not in _CDFS:
            raise ValueError(f"distribution must be one of {sorted(_CDFS)}, got {distribution!r}")
        self.channels = channels
        self.distribution = distribution
        self.steps = tuple(tuple(s) for s in steps)
        self.adaptors = nn.ModuleList(nn.Conv2d(channels * 4, channels * 3, 1) for _ in self.steps[1:])
        self.net = net

    def code(self, y: Tensor | None, params: Tensor, coder: Coder, tag: str) -> Tensor:
        """Code latent `y` (B, C, H, W; None when decoding) given params (B, 3C, H, W).

        params = quant_step | scales | means along channels. Returns y_hat (B, C, H, W).
        """
        quant_step, scales, means = params.chunk(3, dim=1)
        quant_step = torch.clamp_min(quant_step, 0.5)
        if y is not None:
            y = y / quant_step
        _, c, h, w = means.shape
        y_hat = torch.zeros_like(means)
        for k, phases in enumerate(self.steps):
            if k > 0:
                scales, means = self.net(self.adaptors[k - 1](torch.cat((y_hat, params), dim=1))).chunk(2, dim=1)
            mask = phase_mask(phases, c, h, w, means.dtype, means.device)
            residual = None if y is None else y - means
            symbols = coder.code_conditional(residual, scales, mask, self.distribution, tag)
            y_hat = y_hat + (symbols + means) * mask
        return y_hat * quant_step


class Hyperprior(nn.Module):
    """Hyper-latent side information: y -> z -> factorized coding -> hyper parameters.

    y is replicate-padded to a multiple of 4 before `encoder` (two stride-2 stages), so z is
    at 1/4 of the padded latent size; the returned parameters stay at the padded size and
    the caller crops them with `crop` where the official model does.

    Args:
        encoder: (B, C, h, w) -> (B, Cz, h/4, w/4).
        decoder: (B, Cz, h/4, w/4) -> (B, Cp, h, w).
        z_channels: Cz, channels of the factorized bit estimator.
        tag: name under which the coder records z's bits (e.g. "z", "mv_z").
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, z_channels: int, tag: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.z_bits = FactorizedBitEstimator(z_channels)
        self.tag = tag

    def code(self, y: Tensor | None, latent_size: tuple[int, int], coder: Coder, batch: int = 1) -> Tensor:
        """Code the side information of `y` (None when decoding) with latent size (h, w).

        Returns hyper parameters at the padded latent size (ceil(h/4)*4, ceil(w/4)*4).
        """
        h, w = latent_size
        z_shape = (batch, self.z_bits.channels, -(-h // 4), -(-w // 4))
        z = None if y is None else self.encoder(pad_to_multiple(y, 4))
        z_hat = coder.code_factorized(z, self.z_bits, z_shape, self.tag)
        return self.decoder(z_hat)

    @staticmethod
    def crop(params: Tensor, latent_size: tuple[int, int]) -> Tensor:
        """Crop padded parameters back to the latent size (h, w)."""
        h, w = latent_size
        return params[..., :h, :w]


class ReferencePriorFusion(nn.Module):
    """Fuses prior parameters with the previous frame's latent when there is one.

    cat(params..., [ref]) -> `with_ref` or `without_ref` adaptor -> `fuse`. The first P frame
    after an I frame has no reference latent and takes the `without_ref` branch (the
    official `*_prior_fusion_adaptor_0`; `_1` is `with_ref`).
    """

    def __init__(self, without_ref: nn.Module, with_ref: nn.Module, fuse: nn.Module) -> None:
        super().__init__()
        self.without_ref = without_ref
        self.with_ref = with_ref
        self.fuse = fuse

    def forward(self, params: Sequence[Tensor], ref: Tensor | None) -> Tensor:
        if ref is None:
            return self.fuse(self.without_ref(torch.cat(tuple(params), dim=1)))
        return self.fuse(self.with_ref(torch.cat((*params, ref), dim=1)))


class QScale(nn.Module):
    """DCVC-DC variable rate: q = basic (1, C, 1, 1, learned per channel) * scale[anchor].

    `scale` holds one learned scalar per anchor (quality); `fine(q_index, levels)` gives the
    official log-linear interpolation between the first and last anchor (64 levels), which
    DCVC-DC uses when more rate points than anchors are tested.
    """

    def __init__(self, channels: int, anchors: int = 4) -> None:
        super().__init__()
        self.basic = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.scale = nn.Parameter(torch.ones(anchors, 1, 1, 1))

    def forward(self, anchor: int) -> Tensor:
        """(1, C, 1, 1) multiplier of anchor `anchor` (0 = lowest rate)."""
        return self.basic * self.scale[anchor, 0, 0, 0]

    def fine(self, q_index: int, levels: int = 64) -> Tensor:
        """(1, C, 1, 1) multiplier at `q_index` of `levels` log-spaced points between the end anchors."""
        log_lo, log_hi = torch.log(self.scale[0, 0, 0, 0]), torch.log(self.scale[-1, 0, 0, 0])
        return self.basic * torch.exp(log_lo + (log_hi - log_lo) * q_index / (levels - 1))


def hyper_transforms(latent_channels: int, z_channels: int, compact: bool = False) -> tuple[nn.Sequential, nn.Sequential]:
    """Hyper-encoder and hyper-decoder of the DCVC P-frame codecs (/4 down, x4 up).

    Args:
        latent_channels: channels C of the latent y.
        z_channels: channels of the hyper-latent z.
        compact: the three-conv encoder of DCVC-DC's contextual hyperprior (the official
            `reduce_enc_layer=True`) instead of the five-conv one of its motion hyperprior.
    Returns: encoder (B, C, h, w) -> (B, Cz, h/4, w/4); decoder (B, Cz, h/4, w/4) -> (B, C, h, w).
    """
    if compact:
        encoder = nn.Sequential(
            nn.Conv2d(latent_channels, z_channels, 3, stride=1, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(z_channels, z_channels, 3, stride=2, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(z_channels, z_channels, 3, stride=2, padding=1),
        )
    else:
        encoder = nn.Sequential(
            nn.Conv2d(latent_channels, z_channels, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(z_channels, z_channels, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(z_channels, z_channels, 3, stride=2, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(z_channels, z_channels, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv2d(z_channels, z_channels, 3, stride=2, padding=1),
        )
    decoder = nn.Sequential(
        nn.Conv2d(z_channels, latent_channels, 3, padding=1),
        nn.LeakyReLU(),
        subpel_conv1x1(latent_channels, latent_channels, 2),
        nn.LeakyReLU(),
        nn.Conv2d(latent_channels, latent_channels, 3, padding=1),
        nn.LeakyReLU(),
        subpel_conv1x1(latent_channels, latent_channels, 2),
        nn.LeakyReLU(),
        nn.Conv2d(latent_channels, latent_channels, 3, padding=1),
    )
    return encoder, decoder
