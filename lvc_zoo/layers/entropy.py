"""Entropy models of the DCVC family, written once for every latent codec of the zoo.

One interface: each latent codec has `code(y | None, ..., coder) -> y_hat`. The `Coder`
(lvc_zoo.coding.estimate) decides what quantisation means and what happens to the symbols:
`Estimate` rounds (or adds noise, or rounds straight-through) and records bits per tag from
the likelihoods (`lvc_zoo.coding.distributions`); entropy-coding coders (lvc_zoo.coding)
push or pull the same integer symbols. Encoder-only work is skipped when `y` is None, so the
decoder runs exactly the encoder's arithmetic.

Here: the learned factorized CDF of the hyper-latents (`FactorizedBitEstimator`), the
quadtree-partition spatial prior in its DCVC-DC and DCVC-FM forms (`QuadtreePrior`), the
hyperprior, the fusion with the previous latent, and DCVC-DC's q-scale variable rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..coding.distributions import DISTRIBUTIONS, Distribution, at_least_float32, probs_to_bits
from ..coding.estimate import Coder
from ..errors import ConfigError
from .blocks import DepthConvBlock, ResidualBlockUpsample, pad_to_multiple, subpel_conv1x1

__all__ = [
    "FactorizedBitEstimator",
    "SelectedSet",
    "QUADTREE_STEPS",
    "RateMode",
    "RATE_MODES",
    "phase_mask",
    "QuadtreePrior",
    "quadtree_net",
    "Hyperprior",
    "ReferencePriorFusion",
    "QScale",
    "hyper_transforms",
    "depth_hyper_transforms",
    "log_linear_q",
]


class _BitParam(nn.Module):
    """One elementwise layer of the factorized CDF: t*softplus(h) + b (+ tanh(t)*tanh(a)), `sets` parameter sets."""

    def __init__(self, channels: int, final: bool = False, sets: int = 1) -> None:
        super().__init__()
        self.h = nn.Parameter(torch.empty(sets, channels, 1, 1).normal_(0, 0.01))
        self.b = nn.Parameter(torch.empty(sets, channels, 1, 1).normal_(0, 0.01))
        self.a = None if final else nn.Parameter(torch.empty(sets, channels, 1, 1).normal_(0, 0.01))

    def forward(self, x: Tensor, index: int = 0) -> Tensor:
        x = x * F.softplus(self.h[index : index + 1]) + self.b[index : index + 1]
        return x if self.a is None else x + torch.tanh(x) * torch.tanh(self.a[index : index + 1])


class FactorizedBitEstimator(nn.Module):
    """Per-channel learned CDF of hyper-latents (Balle et al. 2018, DCVC's BitEstimator).

    Four stacked monotone elementwise layers f1..f4; CDF(x) = sigmoid(f4(f3(f2(f1(x))))).
    With `sets` > 1 every layer holds that many parameter sets (DCVC-FM's intra model: one per
    q_index) and `select(index)` gives the distribution of one of them.
    """

    def __init__(self, channels: int, sets: int = 1) -> None:
        super().__init__()
        self.channels = channels
        self.sets = sets
        self.f1 = _BitParam(channels, sets=sets)
        self.f2 = _BitParam(channels, sets=sets)
        self.f3 = _BitParam(channels, sets=sets)
        self.f4 = _BitParam(channels, final=True, sets=sets)

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return self.f1.h.device

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' dtype."""
        return self.f1.h.dtype

    def cdf(self, x: Tensor, index: int = 0) -> Tensor:
        """CDF at `x` (B, C, H, W), channel c under channel c's distribution of parameter set `index`."""
        return torch.sigmoid(self.f4(self.f3(self.f2(self.f1(x, index), index), index), index))

    def bits(self, z_hat: Tensor, index: int = 0) -> Tensor:
        """Elementwise bits of integer (or noisy) hyper-latents (B, C, H, W) under set `index`, in float32 or wider."""
        with torch.autocast(z_hat.device.type, enabled=False):
            z_hat = at_least_float32(z_hat)
            return probs_to_bits(self.cdf(z_hat + 0.5, index) - self.cdf(z_hat - 0.5, index))

    def parameters_key(self, index: int = 0) -> bytes:
        """Bytes of parameter set `index` with the dtype and device: equal keys, equal CDFs (the coder's table cache key)."""
        with torch.no_grad():
            values = torch.cat([p[index].reshape(-1) for p in self.parameters()]).cpu()
        return f"{self.channels} {values.dtype} {self.device}|".encode() + values.view(torch.uint8).numpy().tobytes()

    def select(self, index: int) -> "FactorizedBitEstimator | SelectedSet":
        """The distribution of parameter set `index` (a `FactorizedDistribution`; self when there is one set).

        Raises:
            ConfigError: `index` is not in 0..sets-1.
        """
        if not 0 <= index < self.sets:
            raise ConfigError(f"parameter set {index} does not exist: this bit estimator has sets 0..{self.sets - 1}.")
        return self if self.sets == 1 else SelectedSet(self, index)


class SelectedSet:
    """One parameter set of a multi-set `FactorizedBitEstimator`, seen as a `FactorizedDistribution`."""

    def __init__(self, estimator: FactorizedBitEstimator, index: int) -> None:
        self.estimator = estimator
        self.index = index
        self.channels = estimator.channels

    @property
    def device(self) -> torch.device:
        return self.estimator.device

    @property
    def dtype(self) -> torch.dtype:
        return self.estimator.dtype

    def cdf(self, x: Tensor) -> Tensor:
        return self.estimator.cdf(x, self.index)

    def bits(self, z_hat: Tensor) -> Tensor:
        return self.estimator.bits(z_hat, self.index)

    def parameters_key(self) -> bytes:
        return self.estimator.parameters_key(self.index)


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


RateMode = Literal["divide", "reciprocal", "sigmoid"]
"""How a `QuadtreePrior` reads the quantisation step from its parameters (see there)."""

RATE_MODES: tuple[str, ...] = get_args(RateMode)
"""Every `RateMode`."""


class QuadtreePrior(nn.Module):
    """Four-step quadtree-partition spatial prior (DCVC-DC / DCVC-FM four-part prior).

    The latent's channels are split in four quarters and its positions in four 2x2 phases;
    step k codes quarter c at phase `steps[k][c]`. Step 1 uses the scales and means of the
    common parameters; before steps 2-4 the shared `net` predicts new scales and means from
    `adaptors[k - 1](cat(y_hat so far, context))`, where context is the parameters, or
    `reduction(parameters)` when a reduction is given. The latent is scaled by a quantisation
    step before coding and y_hat is scaled back afterwards; `rate_mode` says how:

        "divide"      params = quant_step | scales | means (3C); q = clamp_min(quant_step, 0.5);
                      codes y / q, returns y_hat * q (DCVC-DC, video and intra).
        "reciprocal"  the same split; codes y * (1 / q), returns y_hat * q (DCVC-FM video; not
                      bit-identical to "divide").
        "sigmoid"     params = q (2) | scales | means (2C + 2); q_enc | q_dec = sigmoid(q) * 1.5
                      + 0.5, spatially varying, shared over channels; codes y * q_enc, returns
                      y_hat * q_dec (DCVC-FM intra).

    Official key names map as `*_spatial_prior_adaptor_{k}` -> `adaptors.{k - 1}`,
    `*_spatial_prior.{i}` -> `net.{i}` and `*_spatial_prior_reduction` -> `reduction`.

    Args:
        channels: latent channels C (a multiple of 4).
        net: shared prior network, adaptor output -> (B, 2C, H, W) scales | means.
        distribution: "laplace" or "gaussian".
        steps: the coding order (data, see `QUADTREE_STEPS`); together the steps must code
            every channel quarter at every phase once.
        rate_mode: "divide", "reciprocal" or "sigmoid" (above).
        adaptors: one module per step after the first, (B, C + R, H, W) -> input of `net`, with
            R the context's channels; None = 1x1 convolutions C + P -> P, P the parameters'
            channels (DCVC-DC and DCVC-FM video: 4C -> 3C).
        reduction: applied to the parameters to give the adaptors' context, e.g. DCVC-FM intra's
            1x1 conv 2C + 2 -> C; None = the parameters themselves.
    Raises:
        ConfigError: on channels, distribution, steps, rate_mode or adaptors that do not fit.
    """

    def __init__(
        self,
        channels: int,
        net: nn.Module,
        distribution: Distribution,
        steps: Sequence[Sequence[int]] = QUADTREE_STEPS,
        rate_mode: RateMode = "divide",
        adaptors: Sequence[nn.Module] | None = None,
        reduction: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if channels % 4:
            raise ConfigError(f"QuadtreePrior needs channels that are a multiple of 4, got {channels}.")
        if distribution not in DISTRIBUTIONS:
            raise ConfigError(f"distribution must be one of {list(DISTRIBUTIONS)}, got {distribution!r}.")
        if rate_mode not in RATE_MODES:
            raise ConfigError(f"rate_mode must be one of {list(RATE_MODES)}, got {rate_mode!r}.")
        self.steps = tuple(tuple(step) for step in steps)
        if any(len(step) != 4 for step in self.steps) or any(sorted(phases) != [0, 1, 2, 3] for phases in zip(*self.steps)):
            raise ConfigError(f"steps must code each channel quarter at each 2x2 phase once, got {self.steps}.")
        self.channels = channels
        self.distribution = distribution
        self.rate_mode = rate_mode
        if adaptors is None:
            width = self.params_channels(channels, rate_mode)
            adaptors = [nn.Conv2d(channels + width, width, 1) for _ in self.steps[1:]]
        if len(adaptors) != len(self.steps) - 1:
            raise ConfigError(f"QuadtreePrior needs one adaptor per step after the first ({len(self.steps) - 1}), got {len(adaptors)}.")
        self.adaptors = nn.ModuleList(adaptors)
        self.net = net
        self.reduction = reduction

    @staticmethod
    def params_channels(channels: int, rate_mode: RateMode) -> int:
        """Channels of the parameters a prior of `channels` latent channels takes: 3C, or 2C + 2 for "sigmoid"."""
        return channels * 2 + 2 if rate_mode == "sigmoid" else channels * 3

    def split(self, params: Tensor) -> tuple[Tensor | None, Tensor, Tensor, Tensor]:
        """Read the parameters (B, P, H, W) according to `rate_mode`.

        Returns: q_enc (what y is multiplied by; None in "divide" mode, where y is divided by
            q_dec), q_dec (what y_hat is multiplied by; (B, C, H, W), or (B, 1, H, W) in
            "sigmoid" mode), scales and means (B, C, H, W).
        """
        if self.rate_mode == "sigmoid":
            q_enc, q_dec = (torch.sigmoid(params[:, :2]) * 1.5 + 0.5).chunk(2, dim=1)
            scales, means = params[:, 2:].chunk(2, dim=1)
            return q_enc, q_dec, scales, means
        quant_step, scales, means = params.chunk(3, dim=1)
        q_dec = torch.clamp_min(quant_step, 0.5)
        return (None if self.rate_mode == "divide" else q_dec.reciprocal()), q_dec, scales, means

    def code(self, y: Tensor | None, params: Tensor, coder: Coder, tag: str) -> Tensor:
        """Code latent `y` (B, C, H, W; None when decoding) given params (B, P, H, W).

        P = `params_channels(C, rate_mode)`. Returns y_hat (B, C, H, W).
        """
        q_enc, q_dec, scales, means = self.split(params)
        if y is not None:
            y = y / q_dec if q_enc is None else y * q_enc
        context = params if self.reduction is None else self.reduction(params)
        _, c, h, w = means.shape
        y_hat = torch.zeros_like(means)
        for k, phases in enumerate(self.steps):
            if k > 0:
                scales, means = self.net(self.adaptors[k - 1](torch.cat((y_hat, context), dim=1))).chunk(2, dim=1)
            mask = phase_mask(phases, c, h, w, means.dtype, means.device)
            residual = None if y is None else y - means
            symbols = coder.code_conditional(residual, scales, mask, self.distribution, tag)
            y_hat = y_hat + (symbols + means) * mask
        return y_hat * q_dec


def quadtree_net(channels: int) -> nn.Sequential:
    """The shared prior network of DCVC-DC's (and DCVC-FM's) video quadtree priors.

    Three `DepthConvBlock`s 3C -> 3C -> 3C -> 2C: (B, 3C, H, W) adaptor output -> scales | means.
    """
    c = channels
    return nn.Sequential(DepthConvBlock(c * 3, c * 3), DepthConvBlock(c * 3, c * 3), DepthConvBlock(c * 3, c * 2))


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
        sets: parameter sets of the bit estimator (DCVC-FM intra: 64, one per q_index).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, z_channels: int, tag: str, sets: int = 1) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.z_bits = FactorizedBitEstimator(z_channels, sets)
        self.tag = tag

    def code(self, y: Tensor | None, latent_size: tuple[int, int], coder: Coder, batch: int = 1, index: int = 0) -> Tensor:
        """Code the side information of `y` (None when decoding) with latent size (h, w).

        `index` picks the bit estimator's parameter set. Returns hyper parameters at the
        padded latent size (ceil(h/4)*4, ceil(w/4)*4).
        """
        h, w = latent_size
        z_shape = (batch, self.z_bits.channels, -(-h // 4), -(-w // 4))
        z = None if y is None else self.encoder(pad_to_multiple(y, 4))
        z_hat = coder.code_factorized(z, self.z_bits.select(index), z_shape, self.tag)
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

    @classmethod
    def depthwise(cls, params: int, ref: int, hidden: int, out: int) -> "ReferencePriorFusion":
        """The DCVC P-frame form: `DepthConvBlock`s params -> hidden (or params + ref -> hidden), then hidden -> out -> out.

        Args:
            params: channels of the concatenated prior parameters.
            ref: channels of the reference latent.
            hidden: width after the adaptor.
            out: channels of the fused parameters.
        """
        return cls(
            without_ref=DepthConvBlock(params, hidden),
            with_ref=DepthConvBlock(params + ref, hidden),
            fuse=nn.Sequential(DepthConvBlock(hidden, out), DepthConvBlock(out, out)),
        )

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
        return self.basic * log_linear_q(self.scale[[0, -1]], q_index, levels)


def log_linear_q(ends: Tensor, q_index: int, levels: int = 64) -> Tensor:
    """Point `q_index` of `levels` log-spaced points from ends[0] to ends[1] (DCVC-FM's q for 64 rates).

    Args:
        ends: (2, C, 1, 1) lowest-rate and highest-rate scales (C = 1 for a scalar q).
    Returns: (1, C, 1, 1) exp(log ends[0] + q_index * (log ends[1] - log ends[0]) / (levels - 1)).
    """
    low, high = torch.log(ends[0:1]), torch.log(ends[1:2])
    return torch.exp(low + (high - low) / (levels - 1) * q_index)


def depth_hyper_transforms(
    latent_channels: int, z_channels: int, block: Callable[[int, int], nn.Module]
) -> tuple[nn.Sequential, nn.Sequential]:
    """Hyper-encoder and hyper-decoder built around depthwise blocks (DCVC-DC intra, every DCVC-FM hyperprior).

    Encoder: block C -> Cz, two stride-2 3x3 convs; decoder: two sub-pixel residual upsamplers
    and block Cz -> C.

    Args:
        latent_channels: channels C of the latent y.
        z_channels: channels Cz of the hyper-latent z.
        block: builds a depthwise block (in, out) -> module (e.g. a gated or "dual" `DepthConvBlock`).
    Returns: encoder (B, C, h, w) -> (B, Cz, h/4, w/4); decoder (B, Cz, h/4, w/4) -> (B, C, h, w).
    """
    encoder = nn.Sequential(
        block(latent_channels, z_channels),
        nn.Conv2d(z_channels, z_channels, 3, stride=2, padding=1),
        nn.LeakyReLU(),
        nn.Conv2d(z_channels, z_channels, 3, stride=2, padding=1),
    )
    decoder = nn.Sequential(
        ResidualBlockUpsample(z_channels, z_channels), ResidualBlockUpsample(z_channels, z_channels), block(z_channels, latent_channels)
    )
    return encoder, decoder


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
