"""`lightning fit -c recipes/dcvc_dc.yaml`: the LightningCLI over the zoo's codecs and datamodules.

    lightning fit -c recipes/dcvc_dc.yaml [--trainer.devices 8 --trainer.strategy ddp] [--ckpt_path last]
    lightning validate -c recipes/dcvc_dc.yaml --ckpt_path CKPT
    lightning test -c recipes/dcvc_dc.yaml --ckpt_path CKPT
    lightning fit -c recipes/dcvc_dc.yaml --print_config
    lvc-zoo fit ...                       the same command under the zoo's own name

`model:` is any :class:`lvc_zoo.models.VideoCodec` subclass (``class_path: lvc_zoo.models.DCVCDC``)
and `data:` any LightningDataModule (``class_path: lvc_zoo.data.VideoDataModule``): a recipe holds
only ``class_path`` / ``init_args`` (jsonargparse builds the config and recipe dataclasses, so
``--model.init_args.config.ch_1x 16`` overrides one field). Every run also gets
:class:`~lvc_zoo.training.callbacks.RNGStateCheckpoint`, so checkpoints carry the random state
and ``--ckpt_path last`` resumes exactly (it cannot be removed from the config by accident).

The console script ``lightning`` is this module's :func:`main`. lightning >= 2.5.1 ships no
``lightning`` script of its own; lightning <= 2.5.0 did, and pip lets whichever package was
installed last own ``bin/lightning`` (removing one removes the file). ``lvc-zoo fit`` and
``python -m lvc_zoo.cli.fit`` always reach this CLI.

``--model.init_from SOURCE`` (a registry name, a weights directory, ``hf-hub:ORG/NAME[@REV]``
or a ``.ckpt`` file) is applied by :func:`lvc_zoo.initialise.initialise` after the model is
built and before the run starts; a resumed run's ``--ckpt_path`` then replaces the weights, as
Lightning does. A source that names its config (a registry variant such as ``dcvc_dc_tiny``, a
weights directory, a checkpoint) also sets the model's config when the recipe gives none. A
partial initialisation (a model that declares it may start from another's weights) prints one
line per module it left fresh.

Runs keep to their own folder: a ``ModelCheckpoint`` without ``dirpath`` writes to
``<trainer.default_root_dir>/checkpoints`` (recipes set ``default_root_dir: runs/NAME``, which git
ignores), and a fresh ``fit`` (no ``--ckpt_path``) refuses a folder that already holds a
``last*.ckpt``, so a test or a second run never leaves a checkpoint that a later
``--ckpt_path last`` would resume by mistake. ``--trainer.fast_dev_run`` writes no checkpoint.

[choice] The config is saved next to the logs with ``overwrite=True``: a second run in the
same directory (a resume, a test) replaces ``config.yaml`` instead of refusing to start.

DDP (``--trainer.strategy ddp``) starts the other ranks by re-running this command line, so
the console script (or ``python -m lvc_zoo.cli.fit``) must be what was run, not an in-process
call from another program; torchrun and SLURM start every rank themselves.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
import warnings
from importlib import import_module
from typing import Any

import torch

from jsonargparse import ArgumentError, Namespace
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from ..errors import ConfigError, LvcZooError
from ..hub import StoredWeights
from ..initialise import initialise, read_checkpoint, read_source
from ..models import VideoCodec
from ..training import Stage, TrainingRecipe
from ..training.callbacks import RNGStateCheckpoint

__all__ = ["ZooCLI", "main", "PROG", "SUBCOMMANDS", "DDP_STRATEGIES"]

PROG = "lightning"
SUBCOMMANDS = ("fit", "validate", "test")
CKPT_KEYWORDS = ("last", "best", "hpc")
"""--ckpt_path values Lightning resolves itself (with "registry..."), not file paths."""
DDP_STRATEGIES = {
    name: f"{name}_find_unused_parameters_true" for name in ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")
}
"""[choice] ``--trainer.strategy ddp`` (and its spawn / fork / notebook forms) runs DDP with
``find_unused_parameters=True``: every stage of a zoo recipe leaves parameters without a
gradient (the frozen I-frame codec at least, the motion branch in later stages), which plain
DDP refuses at the second step. A strategy given as a class (``class_path: ...DDPStrategy``)
is used as it is."""


class ZooCLI(LightningCLI):
    """LightningCLI over VideoCodec subclasses and LightningDataModules, with fit / validate / test."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """The Trainer methods offered (no `predict`: codecs have no predict step)."""
        return {name: args for name, args in LightningCLI.subcommands().items() if name in SUBCOMMANDS}

    def _parse_ckpt_path(self) -> None:
        """Resume with the checkpoint's model arguments, except a recipe that only changes the future.

        With ``--ckpt_path``, LightningCLI (>= 2.3) parses the checkpoint's hyperparameters over
        the config, so the run goes on with the model config and recipe it started with. A
        recipe in the config that trains every step already run exactly as the checkpoint's did
        (`TrainingRecipe.continues`: say, a stage appended for the next session) is used
        instead; one that would rewrite steps already run is refused. Every other config value
        the checkpoint overrides is named on stderr.

        Raises:
            ConfigError: the config's recipe differs from the checkpoint's before its step.
        """
        subcommand = self.config.get("subcommand")
        model = self.config[subcommand].get("model") if subcommand else None
        given = self.config[subcommand].get("ckpt_path") if subcommand else None
        if given is not None and str(given) not in CKPT_KEYWORDS and not str(given).startswith("registry"):
            read_checkpoint(given)  # a missing file or one that is no checkpoint: one line, before any work
        if model is None:
            return super()._parse_ckpt_path()
        before = model.clone()
        super()._parse_ckpt_path()
        after = self.config[subcommand]["model"]
        ckpt_path = self.config[subcommand]["ckpt_path"]
        wanted, trained = before.get("init_args.recipe"), after.get("init_args.recipe")
        if wanted is not None and trained is not None and wanted != trained:
            step = int(torch.load(ckpt_path, map_location="cpu", weights_only=True)["global_step"])
            if not _recipe(wanted).continues(_recipe(trained), step):
                raise ConfigError(
                    f"the recipe in the config differs from the one {ckpt_path} trained with on steps it has run "
                    f"(it is at step {step}): change only stages from step {step} on (append stages, or lengthen "
                    "the last), or start a new run from its weights (lvc-zoo export, then --model.init_from DIR)."
                )
            after["init_args.recipe"] = wanted
            print(f"{PROG}: note: resuming at step {step} with the config's recipe, which trains the steps run "
                  "so far as the checkpoint's did.", file=sys.stderr)
        kept = _flat(after.as_dict())
        ignored = [key for key, value in _flat(before.as_dict()).items() if kept.get(key, value) != value]
        if ignored:
            print(
                f"{PROG}: note: resuming from {ckpt_path}, the model's arguments are the checkpoint's, so these "
                f"values of the config are ignored: {', '.join(sorted(ignored))}.",
                file=sys.stderr,
            )

    def before_instantiate_classes(self) -> None:
        """Name DDP strategies by their find-unused-parameters variant (see :data:`DDP_STRATEGIES`);
        read the ``init_from`` weights, and take their config when the recipe gives none."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        trainer = config["trainer"]
        if isinstance(trainer.get("strategy"), str) and trainer["strategy"] in DDP_STRATEGIES:
            trainer["strategy"] = DDP_STRATEGIES[trainer["strategy"]]
        self.init_weights: StoredWeights | None = None
        model = config.get("model")
        source = model.get("init_args.init_from") if model is not None else None
        if source is None:
            return
        module, _, name = model["class_path"].rpartition(".")
        codec_class = getattr(import_module(module), name)
        self.init_weights = read_source(source, model=codec_class.model_name or None, passed_as="--model.init_from {}")
        if model.get("init_args.config") is None and isinstance(self.init_weights.config, codec_class.config_class):
            model["init_args.config"] = Namespace(dataclasses.asdict(self.init_weights.config))

    def instantiate_classes(self) -> None:
        """Build the classes, then initialise the model from ``init_from`` (printing what a partial one left fresh).

        Raises:
            ConfigError: a class refuses its arguments (jsonargparse wraps the reason in a ValueError),
                or the trainer's do not fit this machine (an accelerator or strategy it lacks).
        """
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, RuntimeError, ImportError, MisconfigurationException) as err:
            if isinstance(err, LvcZooError):
                raise
            raise ConfigError(f"the config cannot be run: {_usage_problem(str(err))}") from err
        if self.init_weights is not None:
            report = initialise(self.model, self.init_weights)
            for line in report.lines():
                print(f"{PROG}: note: {line}", file=sys.stderr)

    def before_fit(self) -> None:
        """Give the run its own checkpoint folder (module docs)."""
        config = self.config[self.subcommand]
        keep_to_run_folder(self.trainer, config["trainer"].get("default_root_dir"), config.get("ckpt_path"))


def keep_to_run_folder(trainer: Trainer, root_dir: str | None, ckpt_path: str | None) -> None:
    """Point checkpoint callbacks without a dirpath at `root_dir`/checkpoints and guard the folder.

    Under ``fast_dev_run`` the checkpoint callbacks are removed: a smoke test writes nothing.
    Raises:
        ConfigError: a fresh run (`ckpt_path` None) in a folder that already holds a ``last*.ckpt``.
    """
    callbacks = [callback for callback in trainer.callbacks if isinstance(callback, ModelCheckpoint)]
    if trainer.fast_dev_run:
        trainer.callbacks = [callback for callback in trainer.callbacks if callback not in callbacks]
        return
    for callback in callbacks:
        if callback.dirpath is None and root_dir is not None:
            callback.dirpath = str(Path(root_dir) / "checkpoints")
        folder = None if callback.dirpath is None else Path(callback.dirpath)
        if ckpt_path is None and folder is not None and any(folder.glob("last*.ckpt")):
            raise ConfigError(
                f"{folder} already holds a run's last checkpoint: resume it with --ckpt_path last, or start this "
                "run in its own folder with --trainer.default_root_dir runs/NEW_NAME."
            )


def _recipe(value: Any) -> TrainingRecipe:
    """A recipe as jsonargparse holds it before instantiation (a Namespace) as a TrainingRecipe."""
    fields = value.as_dict() if hasattr(value, "as_dict") else dataclasses.asdict(value)
    stages = [Stage(**stage) if isinstance(stage, dict) else stage for stage in fields.pop("stages")]
    return TrainingRecipe(**fields, stages=stages)


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as {"init_args.recipe.lambdas": value, ...} (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def main(argv: list[str] | None = None) -> int:
    """Run the training CLI with `argv` (default: sys.argv[1:]); returns the exit code.

    Bad arguments (a missing or invalid recipe, an unknown key, a value of the wrong type) and lvc_zoo
    errors (an empty dataset, a bad recipe, missing weights, a file that is no checkpoint) print one
    ``lightning: error:`` line, without the usage text or a traceback, and return 2.
    """
    try:
        with warnings.catch_warnings():  # `lvc-zoo fit ...` passes argv on purpose
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended", category=UserWarning)
            ZooCLI(
                VideoCodec,
                LightningDataModule,
                subclass_mode_model=True,
                subclass_mode_data=True,
                save_config_kwargs={"overwrite": True},
                parser_kwargs={"exit_on_error": False},  # usage errors raise ArgumentError: one line below
                trainer_defaults={"callbacks": [RNGStateCheckpoint()]},
                args=argv,
            )
    except LvcZooError as err:
        return _fail(str(err))
    except ArgumentError as err:
        return _fail(f"{_usage_problem(str(err))} (see `{_help_command(argv)}`)")
    except SystemExit as done:  # --help, --print_config
        return done.code if isinstance(done.code, int) else 0
    return 0


def _fail(message: str) -> int:
    """Print `message` as one ``lightning: error:`` line on stderr (line breaks folded) and return 2."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return 2


_USAGE_NOISE = ("Does not validate against", "Subtypes:", "Errors:", "Expected a <class 'NoneType'>", "Given value")
"""Lines of jsonargparse's union errors that name alternatives nobody asked for or echo the value."""


def _usage_problem(message: str) -> str:
    """A jsonargparse error in one line: the dotted key it is about, then the reason.

    'Parser key "model": ... Parser key "config": ... Parser key "ch_1x": Expected a <class 'int'>.
    Got value: banana' becomes 'model.config.ch_1x: Expected a <class 'int'>. Got value: banana'.
    """
    lines = [line.strip().removeprefix("- ").strip() for line in message.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_USAGE_NOISE)]
    keys, reasons = [], []
    for at, line in enumerate(lines):
        key = re.fullmatch(r'Parser key "(.+)":(.*)', line)
        if key:
            keys.append(key[1])
            reasons += [key[2].strip()] if key[2].strip() else []
        elif not (line.startswith("Problem with given class_path") and at + 1 < len(lines) and lines[at + 1].startswith("Parser key")):
            reasons.append(line)
    problem = " ".join(reasons) or "invalid arguments"
    return f"{'.'.join(keys)}: {problem}" if keys else problem


def _help_command(argv: list[str] | None) -> str:
    """The help command for the subcommand named on the command line: `lightning fit --help`, or `lightning --help`."""
    words = sys.argv[1:] if argv is None else argv
    return " ".join([PROG, *[word for word in words if word in SUBCOMMANDS][:1], "--help"])


if __name__ == "__main__":
    sys.exit(main())
