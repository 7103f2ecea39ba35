"""`lvc-zoo export`: training checkpoints -> an lvc_zoo weights directory.

    last.ckpt ─► torch.load(weights_only) ─► MODEL(config, recipe) + state_dict ─► save_pretrained ─► DIR

The checkpoint's config (widths and all) rebuilds the model, its state_dict fills it, so the
directory loads with `lvc_zoo.load(NAME, weights=DIR)` and publishes with `lvc-zoo push`.
Checkpoints are read with `torch.load(weights_only=True)`: no pickled code runs.

A model with one weights file per quality (LSTVC) trains each quality in its own run; export
takes the runs' checkpoints together and gathers them into one directory, each under the
quality its run trained (the checkpoint's `quality` hyperparameter):

    lvc-zoo export runs/q0/last.ckpt ... runs/q3/last.ckpt --model lstvc -o weights/lstvc
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .help import COMMAND_HELP
from ..errors import ConfigError
from ..hub import config_from_dict, load_local, save_pretrained
from ..initialise import read_training_checkpoint
from ..models import VideoCodec
from ..registry import ModelSpec, get_spec

__all__ = ["HELP", "STORED_DTYPES", "register", "run"]

STORED_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
"""--dtype choices: how `save_pretrained` stores the floating-point tensors."""

HELP = COMMAND_HELP["export"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add `export` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("export", help=HELP, description=HELP + ".")
    parser.add_argument(
        "checkpoints", type=Path, nargs="+", metavar="CKPT",
        help="a Lightning checkpoint, e.g. checkpoints/last.ckpt; for a model with one weights file per quality "
        "(lstvc) one per quality, each from the run that trained it",
    )
    parser.add_argument("--model", required=True, metavar="NAME", help="registry name the weights are for, e.g. dcvc_dc")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="directory to write")
    parser.add_argument("--provenance", default=None, help="how the weights were trained, for the model card")
    parser.add_argument(
        "--dtype", choices=sorted(STORED_DTYPES), default="float32",
        help="dtype of the stored weights (float16 halves the file; loading casts back to float32)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild the model from each checkpoint, save them, and check the directory loads back."""
    spec = get_spec(args.model)
    codecs = [_codec_of(spec, path) for path in args.checkpoints]
    if spec.rate.weights_per_quality:
        by_quality: dict[int, VideoCodec] = {}
        for path, codec in zip(args.checkpoints, codecs):
            if codec.quality in by_quality:
                raise ConfigError(f"two checkpoints trained quality {codec.quality} (the second is {path}); pass one per quality.")
            by_quality[codec.quality] = codec
        saved: VideoCodec | dict[int, VideoCodec] = by_quality
    elif len(codecs) > 1:
        raise ConfigError(f"{spec.name} keeps every quality in one weights file: pass one checkpoint, not {len(codecs)}.")
    else:
        saved = codecs[0]
    names = ", ".join(path.name for path in args.checkpoints)
    provenance = args.provenance or f"Trained with lvc_zoo (lightning fit); exported from {names}."
    directory = save_pretrained(saved, args.output, spec.name, provenance=provenance, dtype=STORED_DTYPES[args.dtype])
    for quality in sorted(saved) if isinstance(saved, dict) else (None,):
        load_local(directory, spec.name, quality)  # fails loudly now rather than at the user's first load()
    which = f" (qualities {', '.join(map(str, sorted(saved)))})" if isinstance(saved, dict) else ""
    print(f"wrote {spec.name} weights{which} to {directory}; load them with lvc_zoo.load({spec.name!r}, weights={str(directory)!r})")
    return 0


def _codec_of(spec: ModelSpec, path: Path) -> VideoCodec:
    """The model `path` (a Lightning checkpoint) trained, rebuilt from its config and weights.

    A model with one weights file per quality gets the quality its run trained.
    """
    trained = read_training_checkpoint(path, spec.name)
    builder = spec.builder
    # the builder's class, or a class it is a registry variant of (dcvc_dc_tiny's DCVCDCTiny of DCVCDC)
    variants = [cls for cls in builder.__mro__ if getattr(cls, "config_class", None) is builder.config_class]
    config = trained.config
    if trained.spec.builder not in variants or not isinstance(config, (builder.config_class, type(None))):
        raise ConfigError(
            f"{path} is not a {builder.__name__} training checkpoint (it trained {trained.class_path or trained.spec.builder.__name__}); "
            "pass the --model it was trained as."
        )
    codec = builder(config=config)
    codec.load_state_dict(trained.state_dict, strict=True)
    if spec.rate.weights_per_quality:
        quality = trained.hyper_parameters.get("quality")
        if quality is None:
            raise ConfigError(
                f"{path} does not record which quality it trained: {spec.name} trains one quality per run "
                "(--model.quality Q); export checkpoints of such runs."
            )
        spec.check_quality(quality)
        codec.quality = quality
    return codec
