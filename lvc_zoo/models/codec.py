"""`VideoCodec`: the LightningModule every video codec of the zoo subclasses.

A codec is an intra (I-frame) network and an inter (P-frame) network driven by one loop,
the official DCVC test loop, which serves estimation, encoding, decoding and training:

    frame 0 (and every `intra_period`-th) ─► code_intra ─► x_hat, dpb = inter.start(x_hat)
    other frames                          ─► code_inter(x, dpb) ─► x_hat, next dpb

`code_frame` is the per-frame step; `code_clip` runs it over a clip and the training
cascade (`lvc_zoo.training.cascade`) over a batch of clips. A frame codes any number of
named chunks (`chunk_names`): single-layer codecs one `FRAME_CHUNK`, SEVC a "base" and an
"enhancement" chunk per P frame. Each chunk gets its own `Coder` (a `CoderMap`): estimation
and training hand one `Estimate` to every chunk, encoding one `Encode` with its own writer
per chunk, decoding one `Decode` per chunk it needs. A model with `layers` (SEVC: "base")
can be decoded up to one of them, reading only that layer's chunks. A model extends the
loop only through `chunk_names`, `output_size`, `code_intra` / `code_inter` and the
buffer type its inter network returns; it never re-implements the loop.

Frames are replicate-padded on the right and bottom to the model's padding multiple before
coding and cropped back afterwards. Both networks return reconstructions clamped to [0, 1],
so the reference a P frame reads is the clamped picture (the official loop clamps the I
reconstruction in place).

Training (Lightning, manual optimization) codes training clips through the same
`code_frame` with `Estimate(mode=recipe.quantization)`; the logic lives in
`lvc_zoo.training` and the methods here only wire it to Lightning: `training_step` applies
the stage in force at `global_step` (trainable parameters, lr), draws the batch's quality
(among `trained_qualities`: a model with one weights file per quality trains only the one it
holds) and clip start from (recipe.seed, global_step), and lets `lvc_zoo.training.train_clip`
back-propagate and step once per PCFS group; `on_before_optimizer_step` clips the gradient
norm (after AMP unscaling); `validation_step` estimates the validation qualities
(`rate.validation`) with `Estimate("round")`. What training addresses by name, a model
declares: `parameter_groups` (for stages' `trainable`), `rate_tags` (which bits are motion,
which a base layer's), and the model-side operations `initialise_q_scales` and
`initialise_flow`.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any, ClassVar, Protocol

import lightning as L
import torch
from torch import Tensor, nn

from ..coding.bitstream import LAYOUTS, CodedFrame, StreamHeader, header_problem, read_stream, software_id, write_stream
from ..coding.coders import Decode, Encode
from ..coding.entropy_coder import ChunkReader, ChunkWriter
from ..coding.estimate import Coder, Estimate
from ..errors import BitstreamError, ConfigError, ExactnessWarning, InputError, ModelMismatchError, QualityError, require_quality
from ..layers import SpyNet, pad_to_multiple
from ..rate import RateSpec
from ..runtime import ChannelsLastWeights, keep_freed_memory, torch_threads
from ..version import __version__
from ..training import RateTags, TrainingRecipe, apply_stage, draw_clip, train_clip, validate_clip

__all__ = [
    "VideoCodec", "EstimateResult", "FrameEstimate", "EncodedFrame", "FRAME_CHUNK", "CoderMap", "IntraNetwork",
    "InterNetwork", "psnr", "require_quality",
]


FRAME_CHUNK = "frame"
"""Name of the one chunk per frame of single-layer codecs (and of every codec's I frames so far)."""

CoderMap = Mapping[str, Coder]
"""A frame's coders by chunk name (`VideoCodec.chunk_names`)."""


class IntraNetwork(Protocol):
    """What `VideoCodec` needs of an I-frame network."""

    def code(self, x: Tensor | None, size: tuple[int, int], quality: int, coder: Coder) -> Tensor:
        """Code one padded frame; returns the clamped (B, 3, H, W) reconstruction."""


class InterNetwork(Protocol):
    """What `VideoCodec` needs of a P-frame network."""

    def start(self, x_hat: Tensor, index: int) -> Any:
        """Decoded-picture buffer after an I frame at display index `index`."""

    def code(self, x: Tensor | None, dpb: Any, quality: int, coder: Coder) -> tuple[Tensor, Any]:
        """Code one padded P frame against `dpb`; returns (clamped x_hat, next dpb)."""


@dataclass(frozen=True)
class FrameEstimate:
    """One frame's estimate, as `VideoCodec.estimate_frames` yields it.

    Attributes:
        index: display index in the clip.
        frame_type: "I" or "P".
        recon: (1, 3, H, W) reconstruction in [0, 1], cropped to the input size.
        bits: estimated bits of the frame.
        components: bits per latent tag ("y", "z", "mv_y", "mv_z", ...).
        psnr: RGB PSNR in dB against the input (peak 1).
    """

    index: int
    frame_type: str
    recon: Tensor
    bits: float
    components: dict[str, float]
    psnr: float


@dataclass(frozen=True)
class EncodedFrame:
    """One entropy-coded frame, as `VideoCodec.encode_frames` yields it.

    Attributes:
        coded: the frame's type and named chunks, as the container stores them.
        recon: (1, 3, H, W) encoder-side reconstruction (what the decoder will output).
        estimated_bits: bits estimated from the likelihoods (as `estimate` reports them).
        ideal_bits: the coder's ideal length: -log2 of the table probabilities actually used.
    """

    coded: CodedFrame
    recon: Tensor
    estimated_bits: float
    ideal_bits: float

    @property
    def bits(self) -> int:
        """Bits of the coded chunks' payloads."""
        return 8 * sum(len(payload) for payload in self.coded.chunks.values())


@dataclass(frozen=True)
class EstimateResult:
    """Result of `VideoCodec.estimate`; fields are also readable as ``res["bits"]``.

    Attributes:
        recon: (T, 3, H, W) reconstruction in [0, 1], cropped to the input size.
        bits: estimated bits per frame (sum of the components).
        components: bits per frame and latent, e.g. {"y": [...], "z": [...], "mv_y": ...};
            a latent a frame does not code (motion in an I frame) counts 0.
        psnr: RGB PSNR in dB per frame against the input (peak 1).
        frame_types: "I" or "P" per frame.
    """

    recon: Tensor
    bits: list[float]
    components: dict[str, list[float]]
    psnr: list[float]
    frame_types: list[str]

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def bpp(self) -> list[float]:
        """Bits per pixel per frame."""
        pixels = self.recon.shape[-2] * self.recon.shape[-1]
        return [b / pixels for b in self.bits]


def psnr(x_hat: Tensor, x: Tensor) -> float:
    """PSNR in dB with peak 1, computed in float32 as the official DCVC test does."""
    mse = torch.mean((x_hat.float() - x.float()) ** 2)
    return math.inf if mse == 0 else float(20 * torch.log10(1 / torch.sqrt(mse)))


class VideoCodec(L.LightningModule):
    """Base class of the zoo's video codecs (an intra and an inter network and their loop).

    Args:
        intra: I-frame network (`IntraNetwork`).
        inter: P-frame network (`InterNetwork`).
        rate: the model's rate description (`self.rate`; its qualities are `self.qualities`,
            its default quality the initial `self.quality`).
        padding_multiple: frames are padded to a multiple of this before coding.
        config: the subclass's config dataclass (stored as `self.config`).
        recipe: how to train; None = `TrainingRecipe()`.
        init_from: weights to start training from, kept as data (a hyperparameter): a registry
            name, a local lvc_zoo weights directory, "hf-hub:ORG/NAME[@REV]" or a Lightning
            checkpoint. The constructor does not load them; `lvc_zoo.initialise.initialise` does
            (the `lightning` CLI applies it after building the model).
    Raises:
        ConfigError: the recipe does not fit the model's rate (`TrainingRecipe.check_rate`).
    """

    #: registry name of the model; only the model's own class sets it.
    model_name: ClassVar[str] = ""
    #: the frozen config dataclass the subclass takes (`config.json` stores it; tests build it small).
    config_class: ClassVar[type]
    #: layers that decoding can stop at, lowest first (SEVC: ("base",)); empty for single-layer codecs.
    layers: ClassVar[tuple[str, ...]] = ()
    #: registry names of other models whose weights this one may start from (`init_from`): every
    #: tensor whose key and shape match is copied, the rest keeps its initialisation.
    initialisable_from: ClassVar[tuple[str, ...]] = ()
    #: parameter groups a stage's `trainable` may name: group name -> fnmatch globs over parameter names.
    parameter_groups: ClassVar[Mapping[str, tuple[str, ...]]] = {"intra": ("intra.*",), "inter": ("inter.*",)}
    #: how the networks tag their bits: motion latents "mv_*" (the DCVC family's), no base layer.
    rate_tags: ClassVar[RateTags] = RateTags(motion="mv_")
    #: submodules (dotted paths) whose convolution weights are held channels-last when coding:
    #: faster on CPU, rounded differently, so streams record it (`coding_layout`); empty = none.
    channels_last_modules: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Allow the subclass's config in checkpoints loaded with torch.load(weights_only=True)."""
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__:
            torch.serialization.add_safe_globals([cls.config_class])

    def __init__(
        self,
        intra: nn.Module,
        inter: nn.Module,
        rate: RateSpec,
        padding_multiple: int = 16,
        config: Any = None,
        recipe: TrainingRecipe | None = None,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["intra", "inter", "rate", "padding_multiple"])
        self.automatic_optimization = False  # PCFS steps the optimizer several times per batch
        self.intra = intra
        self.inter = inter
        self.rate = rate
        self.qualities = rate.qualities
        self.padding_multiple = padding_multiple
        self.quality = rate.default_quality
        self.config = config
        self.recipe = recipe or TrainingRecipe()
        self.recipe.check_rate(self.rate)
        if self.recipe.q_scales is not None:
            self.initialise_q_scales(self.recipe.q_scales)
        self._channels_last = ChannelsLastWeights()

    @property
    def coding_layout(self) -> int:
        """The memory layout this codec estimates and encodes in (index into `lvc_zoo.coding.bitstream.LAYOUTS`):
        "channels_last" when the model names `channels_last_modules`, else "contiguous"."""
        return LAYOUTS.index("channels_last" if self.channels_last_modules else "contiguous")

    def computing_in(self, layout: int | None = None) -> AbstractContextManager[None]:
        """A context in which the networks compute in memory layout `layout` (None = `coding_layout`).

        For "channels_last" the weights of `channels_last_modules` are held channels-last in
        the block (cached copies; the parameters themselves stay contiguous); for
        "contiguous" nothing changes. `code_clip` runs every frame in one.
        """
        channels_last = (self.coding_layout if layout is None else layout) == LAYOUTS.index("channels_last")
        return self._channels_last.active([self.get_submodule(path) for path in self.channels_last_modules] if channels_last else [])

    @classmethod
    def rate_for(cls, config: Any) -> RateSpec:
        """The rate description of this model built with `config` (the registry and `load` read it)."""
        raise NotImplementedError(f"{cls.__name__} declares no rate: define the classmethod rate_for(config).")

    # ----------------------------------------------------------------------------- helpers
    def check_quality(self, quality: int | None) -> int:
        """Return `quality`, or the default one when None; raise QualityError if invalid.

        A model with one weights file per quality codes only the quality it was loaded for.
        """
        if quality is None:
            return self.quality
        name = self.model_name or type(self).__name__
        require_quality(name, quality, self.qualities)
        if self.rate.weights_per_quality and quality != self.quality:
            raise QualityError(name, quality, self.qualities, loaded=self.quality)
        return quality

    def check_frames(self, frames: Tensor) -> Tensor:
        """Validate (T, 3, H, W) RGB frames in [0, 1] and return them as float32."""
        if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
            shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
            raise InputError(f"frames must be a (T, 3, H, W) RGB tensor, got {shape}.")
        if frames.shape[0] == 0:
            raise InputError("frames is empty: pass at least one frame.")
        if not frames.is_floating_point():
            raise InputError(f"frames must be float in [0, 1], got dtype {frames.dtype}; divide 8-bit input by 255.")
        if not torch.isfinite(frames).all():
            raise InputError("frames contain NaN or infinite values; check the decoder or conversion that made them.")
        if frames.min() < 0 or frames.max() > 1:
            raise InputError("frames must lie in [0, 1]; clamp or rescale the input first.")
        return frames.float()

    @staticmethod
    def is_intra(index: int, intra_period: int) -> bool:
        """Frame `index` is an I frame: the first one, and every `intra_period`-th if > 0."""
        return index == 0 or (intra_period > 0 and index % intra_period == 0)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) of a height x width frame after padding to `padding_multiple`."""
        return height + -height % self.padding_multiple, width + -width % self.padding_multiple

    def frame_types(self, count: int, intra_period: int) -> list[str]:
        """"I" or "P" for each of `count` frames under `intra_period` (see `is_intra`)."""
        return ["I" if self.is_intra(index, intra_period) else "P" for index in range(count)]

    def weights_fingerprint(self) -> str:
        """16 hex digits of a sha256 over the state_dict and the config that shapes decoding.

        Written into every bitstream (format version 3 on), so a decoder with other weights, or
        with the same weights under another config (e.g. another `align_max_residual`, which
        has no tensor), refuses the stream instead of decoding garbage. The config enters as
        the sorted JSON of `dataclasses.asdict(self.config)`.
        """
        return self._fingerprint(with_config=True)

    def legacy_weights_fingerprint(self) -> str:
        """The fingerprint of format version 2 streams: 16 hex digits of a sha256 over the state_dict alone.

        `check_stream` compares a version 2 header with it, so streams written before the
        config entered the fingerprint still decode.
        """
        return self._fingerprint(with_config=False)

    def _fingerprint(self, with_config: bool) -> str:
        """sha256 over the state_dict's names, dtypes, shapes and values (sorted by name), then the config's JSON."""
        digest = hashlib.sha256()
        for key, tensor in sorted(self.state_dict().items()):
            tensor = tensor.detach().to("cpu").contiguous()
            digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
            digest.update(tensor.view(torch.uint8).numpy() if tensor.numel() else b"")
        if with_config:
            config = asdict(self.config) if is_dataclass(self.config) else self.config
            digest.update(b"config:" + json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
        return digest.hexdigest()[:16]

    # ----------------------------------------------------------------------------- training
    def initialise_q_scales(self, anchors: Sequence[float]) -> None:
        """Set every `*q_enc.scale` (A, 1, 1, 1) to `anchors` and every `*q_dec.scale` to their reciprocals.

        See `TrainingRecipe.q_scales`.

        Raises:
            ConfigError: the model has no such parameter, or one has another number of anchors.
        """
        values = torch.tensor(list(anchors), dtype=torch.float32).view(-1, 1, 1, 1)
        found = 0
        with torch.no_grad():
            for name, parameter in self.named_parameters():
                for suffix, target in (("q_enc.scale", values), ("q_dec.scale", values.reciprocal())):
                    if name.endswith(suffix):
                        if parameter.shape != target.shape:
                            raise ConfigError(f"{name} has {parameter.shape[0]} anchors, recipe.q_scales {len(anchors)}.")
                        parameter.copy_(target)
                        found += 1
        if not found:
            raise ConfigError(f"{type(self).__name__} has no q_enc / q_dec scales for recipe.q_scales; leave it null.")

    def initialise_flow(self) -> list[nn.Parameter]:
        """Restart every SpyNet of the model as the analytic flow step (`Stage.flow_init="gradient"`).

        Returns: the flow networks' parameters, whose optimizer moments the caller drops with
            their old values, so the first updates are not steered by them.
        Raises:
            ConfigError: the model has no SpyNet.
        """
        flows = [module for module in self.modules() if isinstance(module, SpyNet)]
        if not flows:
            raise ConfigError(f"{type(self).__name__} has no SpyNet flow network for flow_init; remove it from the stage.")
        for flow in flows:
            flow.init_gradient_flow_()
        return [parameter for flow in flows for parameter in flow.parameters()]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW over every parameter; the stage in force sets the lr and which parameters get gradients."""
        return torch.optim.AdamW(
            self.parameters(), lr=self.recipe.stages[0].lr, weight_decay=self.recipe.weight_decay
        )

    def training_step(self, batch: Tensor, batch_idx: int) -> None:
        """Train on a batch of (B, T, 3, H, W) clips in [0, 1] under the stage in force.

        Raises:
            InputError: the clips have fewer frames than the stage codes.
        """
        step = self.global_step
        stage_index = self.recipe.stage_index_at(step)
        stage = self.recipe.stages[stage_index]
        optimizer = self.optimizers()
        apply_stage(self, optimizer, stage, self.recipe, step - self.recipe.stage_start(stage_index))
        frames = 1 if stage.loss == "intra" else stage.frames
        if batch.shape[1] < frames:
            raise InputError(
                f"stage {stage.name!r} codes {frames} frames per clip but the batches hold {batch.shape[1]}: "
                f"set data.frames >= {frames}."
            )
        qualities = self.trained_qualities
        draw = draw_clip(self.recipe.seed, step, len(qualities), batch.shape[1], frames)
        quality = qualities[draw.quality_index]

        def optimizer_step(loss: Tensor) -> None:
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()

        clip = batch[:, draw.start : draw.start + frames]
        lmbda = self.recipe.lambda_of(self.rate, quality)
        stats = train_clip(self, clip, quality, lmbda, stage, self.recipe, optimizer_step, self._steps_left(step))
        batch_size = batch.shape[0]
        self.log("train/loss", stats.loss, prog_bar=True, batch_size=batch_size)
        self.log("train/bpp", stats.bpp, batch_size=batch_size)
        self.log("train/psnr", stats.psnr, prog_bar=True, batch_size=batch_size)
        self.log("train/stage", float(stage_index), batch_size=batch_size)

    @property
    def trained_qualities(self) -> tuple[int, ...]:
        """The qualities training draws from and validation codes: all of them, or with one weights
        file per quality only the one this codec holds (`quality`)."""
        return (self.quality,) if self.rate.weights_per_quality else self.rate.qualities

    def _steps_left(self, step: int) -> int | None:
        """Optimizer steps a batch starting at `step` may take: up to the next stage or the trainer's max_steps.

        Only PCFS batches take more than one, and they stop there, so a stage lasts exactly its
        `steps` and a run exactly `max_steps`. None: no limit.
        """
        limits = [self.recipe.steps_left_in_stage(step)]
        if self.trainer.max_steps >= 0:
            limits.append(self.trainer.max_steps - step)
        return min((limit for limit in limits if limit is not None), default=None)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the global gradient norm to recipe.grad_clip (called after AMP unscaling)."""
        if self.recipe.grad_clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.recipe.grad_clip, gradient_clip_algorithm="norm")

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        """Estimate (B, T, 3, H, W) clips at the validation qualities with rounding, as inference does.

        The qualities are recipe.validation_qualities, or the model's `rate.validation`; a
        model with one weights file per quality validates the quality it holds.
        Logs val/q{q}/bpp, val/q{q}/psnr, val/q{q}/ms_ssim (frames >= 176 px) per quality q,
        the same split by frame type (val/q{q}/i_bpp, i_psnr for the first frame, p_bpp, p_psnr
        for the mean P frame), and val/loss, the mean over qualities of bpp + lambda * D.
        """
        self._evaluate(batch, "val")

    def test_step(self, batch: Tensor, batch_idx: int) -> None:
        """As `validation_step`, logged under test/ (`lightning test -c RECIPE --ckpt_path CKPT`)."""
        self._evaluate(batch, "test")

    def _evaluate(self, batch: Tensor, prefix: str) -> None:
        """Log {prefix}/q{q}/bpp, psnr, ms_ssim per validation quality and {prefix}/loss for a (B, T, 3, H, W) batch."""
        log = dict(batch_size=batch.shape[0], sync_dist=True)  # averaged over the batches of every rank
        losses = []
        qualities = self.trained_qualities if self.rate.weights_per_quality else self.recipe.validation_of(self.rate)
        for quality in qualities:
            stats = validate_clip(self, batch, quality, self.recipe.lambda_of(self.rate, quality), self.recipe.distortion)
            self.log(f"{prefix}/q{quality}/bpp", stats.bpp, **log)
            self.log(f"{prefix}/q{quality}/psnr", stats.psnr, **log)
            if stats.ms_ssim is not None:
                self.log(f"{prefix}/q{quality}/ms_ssim", stats.ms_ssim, **log)
            self.log(f"{prefix}/q{quality}/i_bpp", stats.i_bpp, **log)
            self.log(f"{prefix}/q{quality}/i_psnr", stats.i_psnr, **log)
            if stats.p_bpp is not None:
                self.log(f"{prefix}/q{quality}/p_bpp", stats.p_bpp, **log)
                self.log(f"{prefix}/q{quality}/p_psnr", stats.p_psnr, **log)
            losses.append(stats.loss)
        self.log(f"{prefix}/loss", math.fsum(losses) / len(losses), prog_bar=True, **log)

    # ----------------------------------------------------------------------------- coding
    def chunk_names(self, frame_type: str, layer: str | None = None) -> tuple[str, ...]:
        """The named chunks a frame of `frame_type` ("I" or "P") codes, or needs to decode up to `layer`.

        Single-layer codecs code one `FRAME_CHUNK` per frame; a model with several chunks
        (SEVC: "base" and "enhancement" on P frames) overrides this and `layers`.
        """
        return (FRAME_CHUNK,)

    @classmethod
    def output_size(cls, size: tuple[int, int], layer: str | None = None) -> tuple[int, int]:
        """(H, W) of the frames decoded up to `layer` from a size[0] x size[1] video (all layers: `size`)."""
        return size

    def code_frame(
        self,
        x: Tensor | None,
        frame_type: str,
        dpb: Any,
        size: tuple[int, int],
        quality: int,
        coders: CoderMap,
        index: int,
        layer: str | None = None,
    ) -> tuple[Tensor, Any]:
        """Code one padded frame: the per-frame step of the coding loop and of training.

        Args:
            x: (B, 3, H, W) frame padded to `padding_multiple`, or None when decoding.
            frame_type: "I" or "P".
            dpb: the buffer after the previous frame (ignored by I frames).
            size: (H, W) of the padded frame.
            quality: one of `self.qualities`.
            coders: the frame's coder per chunk name (`chunk_names`); one `Estimate` may serve
                every chunk.
            index: display index of the frame.
            layer: decode only up to this layer (one of `layers`); None = all of them.
        Returns: the clamped (B, 3, h, w) reconstruction (the layer's size when `layer` is
            given) and the buffer after the frame.
        """
        if frame_type == "I":
            return self.code_intra(x, size, quality, coders, index, layer)
        return self.code_inter(x, dpb, quality, coders, layer)

    def code_intra(
        self, x: Tensor | None, size: tuple[int, int], quality: int, coders: CoderMap, index: int, layer: str | None = None
    ) -> tuple[Tensor, Any]:
        """Code an I frame and start the P-frame buffer from it (see `code_frame`)."""
        x_hat = self.intra.code(x, size, quality, coders[FRAME_CHUNK])
        return x_hat, self.inter.start(x_hat, index)

    def code_inter(self, x: Tensor | None, dpb: Any, quality: int, coders: CoderMap, layer: str | None = None) -> tuple[Tensor, Any]:
        """Code a P frame against `dpb` (see `code_frame`)."""
        return self.inter.code(x, dpb, quality, coders[FRAME_CHUNK])

    def shared_coders(self, frame_type: str, coder: Coder) -> CoderMap:
        """One coder for every chunk of a frame (estimation and training count all bits together)."""
        return dict.fromkeys(self.chunk_names(frame_type), coder)

    def encode_coders(self, frame_type: str) -> dict[str, Encode]:
        """A fresh `Encode` with its own chunk writer for every chunk of a frame."""
        return {name: Encode(ChunkWriter()) for name in self.chunk_names(frame_type)}

    def decode_coders(self, frame: CodedFrame, layer: str | None = None) -> dict[str, Decode]:
        """A `Decode` reading each chunk that decoding `frame` up to `layer` needs."""
        return {name: Decode(ChunkReader(frame.chunks[name])) for name in self.chunk_names(frame.frame_type, layer)}

    def code_clip(
        self,
        frames: Tensor | None,
        types: Sequence[str],
        size: tuple[int, int],
        quality: int,
        coders_for: Callable[[int], CoderMap],
        layer: str | None = None,
        layout: int | None = None,
    ) -> Iterator[tuple[Tensor, CoderMap]]:
        """The one coding loop behind estimate, encode, decode and validation (frames is None when decoding).

        Public for tools that bring their own coders (e.g. `lvc-zoo bench` times the coders'
        calls); everything else uses the methods built on it.

        Args:
            frames: (T, 3, H, W) RGB in [0, 1], or None when decoding.
            types: "I" or "P" per frame.
            size: (H, W) before padding.
            quality: one of `self.qualities` (not checked here).
            coders_for: frame index -> its coders by chunk name (`shared_coders`,
                `encode_coders`, `decode_coders`).
            layer: decode only up to this layer (one of `layers`; not checked here).
            layout: the memory layout to compute in (index into `LAYOUTS`; a stream's when
                decoding); None = `coding_layout` (see `computing_in`, which holds for the whole loop).
        Yields: each frame's (1, 3, h, w) clamped reconstruction, cropped to
            `output_size(size, layer)`, and the coders that coded it.
        """
        keep_freed_memory()  # once per process: feature maps reuse freed memory instead of fresh pages
        h, w = self.output_size(size, layer)
        padded = self.padded_size(*size)
        dpb = None
        with self.computing_in(layout):
            for index, frame_type in enumerate(types):
                x = None if frames is None else pad_to_multiple(frames[index : index + 1], self.padding_multiple)
                coders = coders_for(index)
                x_hat, dpb = self.code_frame(x, frame_type, dpb, padded, quality, coders, index, layer)
                yield x_hat[..., :h, :w], coders

    def estimate_frames(self, frames: Tensor, quality: int | None = None, intra_period: int = -1) -> Iterator[FrameEstimate]:
        """Estimate frame by frame, yielding each frame's result as soon as it is coded.

        The generator form lets callers time frames or show progress; `estimate` collects it.
        Arguments as for `estimate`; they are checked before the first frame is coded.
        """
        return self._estimate_frames(*self._checked(frames, quality), intra_period)

    def _checked(self, frames: Tensor, quality: int | None) -> tuple[Tensor, int]:
        """(frames as float32 on the model's device, quality), both checked (`check_quality`, `check_frames`)."""
        quality = self.check_quality(quality)
        return self.check_frames(frames).to(self.device), quality

    @torch.inference_mode()
    def _estimate_frames(self, frames: Tensor, quality: int, intra_period: int) -> Iterator[FrameEstimate]:
        types = self.frame_types(frames.shape[0], intra_period)
        coders_for = lambda index: self.shared_coders(types[index], Estimate(mode="round"))  # noqa: E731
        for index, (x_hat, coders) in enumerate(self.code_clip(frames, types, tuple(frames.shape[-2:]), quality, coders_for)):
            coder = next(iter(coders.values()))
            components = {tag: float(bits) for tag, bits in coder.bits.items()}
            yield FrameEstimate(index, types[index], x_hat, float(coder.total_bits()), components, psnr(x_hat, frames[index : index + 1]))

    def estimate(self, frames: Tensor, quality: int | None = None, intra_period: int = -1) -> EstimateResult:
        """Estimate bits and reconstruct a clip without an entropy coder.

        Bits come from the likelihoods of the rounded latents, exactly as the official test
        loop's estimation path computes them.

        Args:
            frames: (T, 3, H, W) RGB in [0, 1].
            quality: one of `self.qualities`; None uses `self.quality`.
            intra_period: -1 codes only frame 0 as intra; N > 0 every N-th frame too.
        Returns: an `EstimateResult`.
        """
        results = list(self.estimate_frames(frames, quality, intra_period))
        tags = sorted({tag for r in results for tag in r.components}, key=lambda t: (t.startswith("mv"), t))
        return EstimateResult(
            recon=torch.cat([r.recon for r in results]),
            bits=[r.bits for r in results],
            components={tag: [r.components.get(tag, 0.0) for r in results] for tag in tags},
            psnr=[r.psnr for r in results],
            frame_types=[r.frame_type for r in results],
        )

    def encode_frames(self, frames: Tensor, quality: int | None = None, intra_period: int = -1) -> Iterator[EncodedFrame]:
        """Entropy-code a clip frame by frame (see `compress`, which assembles the container).

        Arguments as for `estimate`; they are checked before the first frame is coded.
        """
        return self._encode_frames(*self._checked(frames, quality), intra_period)

    @torch.inference_mode()
    def _encode_frames(self, frames: Tensor, quality: int, intra_period: int) -> Iterator[EncodedFrame]:
        types = self.frame_types(frames.shape[0], intra_period)
        coders_for = lambda index: self.encode_coders(types[index])  # noqa: E731
        for index, (x_hat, coders) in enumerate(self.code_clip(frames, types, tuple(frames.shape[-2:]), quality, coders_for)):
            yield EncodedFrame(
                CodedFrame(types[index], {name: coder.writer.finish() for name, coder in coders.items()}),
                recon=x_hat,
                estimated_bits=sum(float(coder.total_bits()) for coder in coders.values()),
                ideal_bits=sum(coder.writer.ideal_bits for coder in coders.values()),
            )

    def stream_header(self, frames: Tensor, quality: int, intra_period: int, **info: Any) -> StreamHeader:
        """The container header for coding `frames` (T, 3, H, W) with this codec.

        Args:
            info: optional `fps`, `colour_matrix`, `colour_range` of the source (see `StreamHeader`).
        Raises:
            InputError: an unknown `info` name, or a value outside the container's limits
                (`lvc_zoo.coding.bitstream.header_problem`: frame size, count, fps, ...).
        """
        unknown = sorted(set(info) - {"fps", "colour_matrix", "colour_range"})
        if unknown:
            raise InputError(f"unknown stream info {', '.join(unknown)}: pass only fps, colour_matrix and colour_range.")
        header = StreamHeader(
            model=self.model_name,
            weights_hash=self.weights_fingerprint(),
            quality=quality,
            width=frames.shape[-1],
            height=frames.shape[-2],
            frame_count=frames.shape[0],
            intra_period=intra_period,
            threads=torch.get_num_threads(),
            software=software_id(),
            layout=self.coding_layout,
            **info,
        )
        problem = header_problem(header)
        if problem:
            raise InputError(
                f"{self.model_name} cannot write this clip into a stream: {problem}; pass frames and options within "
                "these limits (see lvc_zoo.coding.bitstream)."
            )
        return header

    def compress(self, frames: Tensor, quality: int | None = None, intra_period: int = -1, **info: Any) -> bytes:
        """Entropy-code a clip into an lvc_zoo bitstream.

        Args:
            frames: (T, 3, H, W) RGB in [0, 1].
            quality: one of `self.qualities`; None uses `self.quality`.
            intra_period: -1 codes only frame 0 as intra; N > 0 every N-th frame too.
            info: optional `fps` (Fraction), `colour_matrix`, `colour_range`, recorded in the header.
        Returns: the bitstream; `decompress` of it equals the encoder's reconstruction, which
            is also `estimate(...).recon`.
        Raises:
            QualityError: `quality` is not one of `qualities`.
            InputError: frames that are not (T, 3, H, W) in [0, 1], or that or an option lies
                outside the container's limits (`stream_header`); checked before any coding.
        """
        frames, quality = self._checked(frames, quality)
        header = self.stream_header(frames, quality, intra_period, **info)  # every argument checked before coding
        coded = [frame.coded for frame in self._encode_frames(frames, quality, intra_period)]
        return write_stream(header, coded)

    def check_stream(self, header: StreamHeader) -> None:
        """Refuse a stream written by another model, or other weights or config, naming which.

        A format version 2 header carries `legacy_weights_fingerprint` (the state_dict alone), a
        later header `weights_fingerprint` (state_dict and config).
        """
        if header.model != self.model_name:
            raise ModelMismatchError(
                f"the stream was written by model {header.model!r}, this codec is {self.model_name!r}: "
                f"decode it with lvc_zoo.load({header.model!r}, ...)"
            )
        fingerprint = self.legacy_weights_fingerprint() if header.format_version < 3 else self.weights_fingerprint()
        if header.weights_hash != fingerprint:
            raise ModelMismatchError(
                f"the stream was written with other {header.model} weights or config (fingerprint "
                f"{header.weights_hash}, these are {fingerprint}): decode it with the weights directory that encoded it"
            )
        if header.quality not in self.qualities:
            raise BitstreamError(f"the stream's quality {header.quality} is not one of {list(self.qualities)}; it is corrupt")
        if header.software and header.software != software_id():
            warnings.warn(
                f"the stream was encoded with other torch or lvc_zoo versions than these (torch {torch.__version__}, "
                f"lvc_zoo {__version__}): the decoded frames may differ from the encoder's in the last bits; decode "
                "with the versions that encoded it for an exact reconstruction",
                ExactnessWarning,
                stacklevel=3,
            )

    def decode_frames(self, data: bytes, layer: str | None = None) -> Iterator[Tensor]:
        """Decode a bitstream frame by frame; yields (1, 3, h, w) reconstructions in [0, 1].

        Args:
            data: a stream written by `compress`.
            layer: decode only up to this layer (one of `layers`, e.g. SEVC's "base"); the
                frames then come out at `output_size(size, layer)`. None decodes everything.
        The whole stream is parsed and verified (magic, version, model, weights, CRCs, chunks)
        before the first frame is decoded.
        """
        if layer is not None and layer not in self.layers:
            layers = f"its layers are {list(self.layers)}" if self.layers else "it has one layer: pass no layer"
            raise InputError(f"{self.model_name or type(self).__name__} cannot decode up to layer {layer!r}; {layers}.")
        header, coded = read_stream(data)
        self.check_stream(header)
        types = self.frame_types(header.frame_count, header.intra_period)
        for index, frame in enumerate(coded):
            if frame.frame_type != types[index]:
                raise BitstreamError(
                    f"frame {index} has type {frame.frame_type}, but intra period {header.intra_period} makes it "
                    f"type {types[index]}; the stream is corrupt"
                )
            names = self.chunk_names(frame.frame_type)  # all layers'
            if tuple(frame.chunks) != names:
                raise BitstreamError(
                    f"frame {index} has chunks {list(frame.chunks)}, but {self.model_name}'s {frame.frame_type} frames "
                    f"have {list(names)}; the stream is corrupt"
                )
        return self._decode_frames(header, coded, layer)

    @torch.inference_mode()
    def _decode_frames(self, header: StreamHeader, coded: list[CodedFrame], layer: str | None) -> Iterator[Tensor]:
        """Decode verified frames; a chunk the entropy decoder rejects, or one that decodes to
        non-finite pixels (only data no encoder wrote does), raises BitstreamError."""
        types = [frame.frame_type for frame in coded]
        coders_for = lambda index: self.decode_coders(coded[index], layer)  # noqa: E731
        frames = self.code_clip(None, types, (header.height, header.width), header.quality, coders_for, layer, header.layout)
        for index in range(len(coded)):
            with torch_threads(header.threads):  # the encoder's thread count: torch's reductions depend on it
                x_hat, _ = next(frames)
            if not torch.isfinite(x_hat).all():
                raise BitstreamError(f"frame {index} decodes to NaN or infinite pixels; the stream is corrupt")
            yield x_hat

    def decompress(self, data: bytes, layer: str | None = None) -> Tensor:
        """Decode an lvc_zoo bitstream into (T, 3, H, W) RGB frames in [0, 1].

        Args:
            data: a stream written by `compress`.
            layer: decode only up to this layer (see `decode_frames`); None decodes everything.
        Raises:
            BitstreamError: truncated or corrupt data, or a newer format version.
            ModelMismatchError: the stream was written by another model or other weights.
            InputError: `layer` is not one of the model's layers.
        """
        return torch.cat(list(self.decode_frames(data, layer)))
