"""Widen the demo run's I-frame latent (intra_latent_channels) in a training checkpoint, keeping its function.

Why (session 13): the I codec of `dcvc_dc_tiny` caps every frame of the demo clip. Its 48-channel
latent at 1/16 resolution keeps 48 numbers per 16x16x3 = 768 pixel values; a linear code of
the same size (the first 48 principal components of 16x16 blocks of 8 training photos)
reconstructs the demo clip's first frame at only 28.25 dB, and the codec's unquantised autoencoder
reaches 27.9 dB, so no amount of rate (a doubled lambda, a finer quantiser) lifts it. 72
channels raise that bound to 29.9 dB and keep the float16 weights under 10 MB (4.54 M
parameters). Training a wider codec from scratch took about 20,000 CPU steps to get where
this one is (run 3, `../demo_tiny_wide/`), so the trained weights are widened instead:

- every tensor whose shape depends on the latent width is copied into the wider one. Those
  dimensions are k blocks of a quarter latent (the quadtree prior codes the latent's channel
  quarters at different phases, and its parameters are quarter blocks too), so old channel j
  goes to (j // q) * q' + j % q (q = 48 / 4, q' = 72 / 4); the new channels are the tail of
  each block. A sub-pixel conv's output keeps PixelShuffle's (channel, sub-pixel) order.
- new output channels start small and random (0.03 x the tensor's weight spread: they carry
  a signal to learn from), old outputs read nothing from new inputs (0), new biases are 0, and
  a new channel of the factorized hyper-latent model copies an old channel's density. So the
  widened model reconstructs every frame exactly as before; the new latent channels round to
  0 and cost about nothing until training puts them to use.
- AdamW restarts the widened tensors (step 0, empty moments), as for new parameters; the
  other tensors keep their state. (A first try kept the old entries' moments and gave the
  new ones the tensor's mean second moment: their gradients are far smaller than that, so
  Adam's steps on them were too, and 2,000 steps later the new channels had not moved.)

The checkpoint's model config becomes the wider one, so `lightning fit --ckpt_path` resumes
the same run, at the same step, with the same random state, in the wider model.

    python tools/demo_tiny/widen_intra.py IN.ckpt OUT.ckpt [--channels 72]
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import torch
from torch import Tensor

from lvc_zoo.models import DCVCDC
from lvc_zoo.models.dcvc_dc_config import DCVCDCConfig

NEW_WEIGHT_SPREAD = 0.03
"""New output channels start at this fraction of the standard deviation of the tensor's old weights."""
SUBPEL_KEYS = (".subpel_conv.0.", ".upsample.0.")
"""Convs followed by PixelShuffle(2) in the I codec (`ResidualBlockUpsample`): output channel c * 4 + s."""


def channel_map(old: int, new: int, quarter: int, new_quarter: int, subpel: bool = False) -> Tensor:
    """Where each of `old` channels goes among `new`: quarter blocks, or (channel, sub-pixel) pairs for sub-pixel convs."""
    if subpel:
        inner = channel_map(old // 4, new // 4, quarter, new_quarter)
        return (inner.view(-1, 1) * 4 + torch.arange(4)).flatten()
    if old % quarter or new != old // quarter * new_quarter:
        raise ValueError(f"a dimension of {old} -> {new} channels is not a number of latent quarters ({quarter} -> {new_quarter})")
    index = torch.arange(old)
    return index // quarter * new_quarter + index % quarter


def widen_tensor(name: str, old: Tensor, shape: torch.Size, quarter: int, new_quarter: int, generator: torch.Generator) -> Tensor:
    """`old` placed in a tensor of `shape` as the module docstring says (old positions exact)."""
    if old.shape == shape:
        return old.clone()
    maps = [
        channel_map(o, n, quarter, new_quarter, subpel=dim == 0 and any(k in name for k in SUBPEL_KEYS)) if o != n else None
        for dim, (o, n) in enumerate(zip(old.shape, shape))
    ]
    if "z_bits" in name:  # (1, C, 1, 1) density parameters: new channels copy the old channel of their offset
        (target,) = [m for m in maps if m is not None]
        new = torch.arange(shape[1])
        source = new // new_quarter * quarter + new % new_quarter % quarter
        widened = old[:, source].clone()
        widened[:, target] = old
        return widened
    if name.endswith(".bias"):
        widened = torch.zeros(shape, dtype=old.dtype)
    else:
        spread = NEW_WEIGHT_SPREAD * float(old.std())
        widened = torch.randn(shape, generator=generator, dtype=old.dtype) * spread
    rows = maps[0] if maps[0] is not None else torch.arange(shape[0])
    if len(shape) > 1:
        widened[rows] = 0.0  # old outputs read nothing from new inputs
        cols = maps[1] if maps[1] is not None else torch.arange(shape[1])
        widened[rows.view(-1, 1), cols.view(1, -1)] = old
    else:
        widened[rows] = old
    return widened


def widen_checkpoint(checkpoint: dict[str, Any], channels: int, seed: int = 0) -> dict[str, Any]:
    """The checkpoint with its I codec's latent widened to `channels` (see the module docstring)."""
    config = DCVCDCConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in checkpoint["hyper_parameters"]["config"].items()})
    wide = dataclasses.replace(config, intra_latent_channels=channels)
    quarter, new_quarter = config.intra_latent_channels // 4, channels // 4
    model = DCVCDC(wide)
    names = [name for name, _ in model.named_parameters()]
    shapes = {name: tensor.shape for name, tensor in model.state_dict().items()}
    state = checkpoint["state_dict"]
    if set(state) != set(shapes):
        raise ValueError("the checkpoint's state dict does not match DCVCDC's keys")
    generator = torch.Generator().manual_seed(seed)
    widened_state = {name: widen_tensor(name, state[name], shapes[name], quarter, new_quarter, generator) for name in state}

    optimizer = checkpoint["optimizer_states"][0]
    for index, moments in optimizer["state"].items():
        shape = shapes[names[index]]
        if moments["exp_avg"].shape != shape:
            moments["step"] = torch.zeros_like(moments["step"])
            moments["exp_avg"] = torch.zeros(shape, dtype=moments["exp_avg"].dtype)
            moments["exp_avg_sq"] = torch.zeros(shape, dtype=moments["exp_avg_sq"].dtype)

    checkpoint["state_dict"] = widened_state
    checkpoint["hyper_parameters"]["config"]["intra_latent_channels"] = channels
    return checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--channels", type=int, default=72)
    args = parser.parse_args()
    checkpoint = torch.load(args.source, map_location="cpu", weights_only=True)
    torch.save(widen_checkpoint(checkpoint, args.channels), args.target)


if __name__ == "__main__":
    main()
