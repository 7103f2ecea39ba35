"""`lvc-zoo export`: a training checkpoint -> an lvc_zoo weights directory.

    last.ckpt ─► torch.load(weights_only) ─► MODEL(config, recipe) + state_dict ─► save_pretrained ─► DIR

The checkpoint's config (widths and all) rebuilds the model, its state_dict fills it, so the
directory loads with `lvc_zoo.load(NAME, weights=DIR)` and publishes with `lvc-zoo push`.
Checkpoints are read with `torch.load(weights_only=True)`: no pickled code runs.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import torch

from .help import COMMAND_HELP
from ..errors import ConfigError, WeightsNotFoundError
from ..hub import config_from_dict, load_local, save_pretrained
from ..registry import get_spec

__all__ = ["HELP", "STORED_DTYPES", "register", "run"]

STORED_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
"""--dtype choices: how `save_pretrained` stores the floating-point tensors."""

HELP = COMMAND_HELP["export"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add `export` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("export", help=HELP, description=HELP + ".")
    parser.add_argument("checkpoint", type=Path, metavar="CKPT", help="a Lightning checkpoint, e.g. checkpoints/last.ckpt")
    parser.add_argument("--model", required=True, metavar="NAME", help="registry name the weights are for, e.g. dcvc_dc")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="directory to write")
    parser.add_argument("--provenance", default=None, help="how the weights were trained, for the model card")
    parser.add_argument(
        "--dtype", choices=sorted(STORED_DTYPES), default="float32",
        help="dtype of the stored weights (float16 halves the file; loading casts back to float32)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild the model from the checkpoint, save it, and check the directory loads back."""
    spec = get_spec(args.model)
    if not args.checkpoint.is_file():
        raise WeightsNotFoundError(f"checkpoint {str(args.checkpoint)!r} does not exist; pass the path of a .ckpt file.")
    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        hyper, state = checkpoint["hyper_parameters"], checkpoint["state_dict"]
    except (RuntimeError, KeyError, TypeError, pickle.UnpicklingError) as err:
        raise ConfigError(f"{args.checkpoint} is not an lvc_zoo training checkpoint (lightning fit): {err}") from err
    builder = spec.builder
    class_path = hyper.get("_class_path", f"{builder.__module__}.{builder.__name__}")  # LightningCLI runs record it
    # the builder's class, or a class it is a registry variant of (dcvc_dc_tiny's DCVCDCTiny of DCVCDC)
    trained_as = {cls.__name__ for cls in builder.__mro__ if getattr(cls, "config_class", None) is builder.config_class}
    trained = class_path.rsplit(".", 1)[-1] in trained_as
    config = hyper.get("config")
    if isinstance(config, dict) and trained:
        config = config_from_dict(builder.config_class, config, args.checkpoint)  # LightningCLI stores YAML values
    if not trained or not isinstance(config, (builder.config_class, type(None))):
        raise ConfigError(
            f"{args.checkpoint} is not a {builder.__name__} training checkpoint (it trained {class_path}); "
            "pass the --model it was trained as."
        )
    codec = builder(config=config)
    codec.load_state_dict(state, strict=True)
    provenance = args.provenance or f"Trained with lvc_zoo (lightning fit); exported from {args.checkpoint.name}."
    directory = save_pretrained(codec, args.output, spec.name, provenance=provenance, dtype=STORED_DTYPES[args.dtype])
    load_local(directory, spec.name)  # fails loudly now rather than at the user's first load()
    print(f"wrote {spec.name} weights to {directory}; load them with lvc_zoo.load({spec.name!r}, weights={str(directory)!r})")
    return 0
