"""`lvc-zoo`, the command line: list, convert, encode, decode, demo, eval, bdrate, bench, push;
fit, validate and test hand their arguments to the training CLI (`lvc_zoo.cli.fit`, the
`lightning` command), imported only then, so the other subcommands do not pay for it.

Every subcommand is a function of parsed arguments returning an exit code. Bad input
(unknown model, missing file, bad option, corrupt stream) prints one actionable line on
stderr and exits with 2, without a traceback; Ctrl-C prints one line and exits with 130.
Outputs are written atomically, so neither leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collections.abc import Collection
from importlib import import_module

import lvc_zoo

from ..errors import ConversionError, LvcZooError
from ..registry import MODELS, get_spec
from .help import COMMAND_HELP

__all__ = ["main"]

PROG = "lvc-zoo"
TRAINING_COMMANDS = {name: COMMAND_HELP[name] for name in ("fit", "validate", "test")}
"""Subcommands that are the training CLI's (lvc_zoo.cli.fit, the `lightning` command), with their help."""
REGISTER = {
    "list": "lvc_zoo.cli.main:register_list",
    "convert": "lvc_zoo.cli.main:register_convert",
    "encode": "lvc_zoo.cli.codec_commands:register_encode",
    "decode": "lvc_zoo.cli.codec_commands:register_decode",
    "demo": "lvc_zoo.cli.demo:register",
    "eval": "lvc_zoo.cli.eval_command:register",
    "bdrate": "lvc_zoo.cli.bdrate_command:register",
    "bench": "lvc_zoo.cli.bench_command:register",
    "push": "lvc_zoo.cli.push_command:register",
    "export": "lvc_zoo.cli.export_command:register",
}
"""Subcommand -> the function that adds its parser, imported only when that subcommand runs, so
`lvc-zoo --help` and `lvc-zoo list` import neither torch nor lightning."""


class UsageError(Exception):
    """A command line argparse rejects; raised instead of argparse's exit so `main` returns 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and do not exit the interpreter."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def main(argv: list[str] | None = None) -> int:
    """Run `lvc-zoo` with `argv` (default: sys.argv[1:]); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if any("\0" in arg for arg in argv):  # only an in-process call can pass one; open() would raise ValueError
        return fail("an argument holds a NUL character, which no file name or option value may contain", 2)
    if argv and argv[0] in TRAINING_COMMANDS:
        from . import fit  # Lightning's CLI: import it only for training

        return fit.main(argv)
    try:
        parser = build_parser(only=[arg for arg in argv[:1] if arg in REGISTER])
        args = parser.parse_args(argv)
        return args.run(args)
    except (UsageError, LvcZooError) as err:
        return fail(str(err), 2)
    except OSError as err:  # the file system refused (permissions, disk full, ...)
        return fail(f"{err}; check the path, its permissions and the free space", 2)
    except (MemoryError, RuntimeError) as err:  # torch reports a failed allocation as a RuntimeError
        if not isinstance(err, MemoryError) and not _out_of_memory(err):
            raise
        return fail("out of memory: use smaller or fewer frames, or a machine (or --device) with more memory", 1)
    except KeyboardInterrupt:
        return fail("interrupted (Ctrl-C); no partial output was left", 130)
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0


def _out_of_memory(err: RuntimeError) -> bool:
    """Whether torch raised `err` because an allocation failed (CPU allocator or CUDA)."""
    return "can't allocate memory" in str(err) or "out of memory" in str(err).lower()


def fail(message: str, code: int) -> int:
    """Print `message` as one `lvc-zoo: error:` line on stderr (line breaks folded) and return `code`."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return code


def build_parser(only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The `lvc-zoo` parser; subcommands in `only` (None: all) get their arguments, the others only their help."""
    parser = _Parser(prog=PROG, description="A model zoo of learned video codecs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {lvc_zoo.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMAND_HELP.items():  # fit, validate, test: main() hands them to lvc_zoo.cli.fit
        if name in REGISTER and (only is None or name in only):
            module, _, function = REGISTER[name].partition(":")
            getattr(import_module(module), function)(commands)
        else:
            commands.add_parser(name, help=help_text)
    return parser


def register_list(commands: argparse._SubParsersAction) -> None:
    """Add `list`."""
    commands.add_parser("list", help=COMMAND_HELP["list"]).set_defaults(run=run_list)


def register_convert(commands: argparse._SubParsersAction) -> None:
    """Add `convert`."""
    convert = commands.add_parser("convert", help=COMMAND_HELP["convert"])
    convert.add_argument("name", help="registry name, e.g. dcvc_dc")
    convert.add_argument("--intra", type=Path, required=True, help="official I-frame checkpoint (.pth.tar)")
    convert.add_argument("--inter", type=Path, required=True, help="official P-frame checkpoint (.pth.tar)")
    convert.add_argument("-o", "--output", type=Path, required=True, help="directory to write")
    convert.set_defaults(run=run_convert)


def run_list(args: argparse.Namespace) -> int:
    """Print one row per model: name, aliases, qualities, weights, paper."""
    rows = [("model", "aliases", "qualities", "weights", "paper")]
    for spec in sorted(MODELS, key=lambda s: s.name):
        weights = "bundled" if spec.bundled else spec.hub_repo or "none published (lvc-zoo convert)"
        qualities = f"{spec.qualities[0]}..{spec.qualities[-1]}"
        rows.append((spec.name, ", ".join(spec.aliases), qualities, weights, spec.paper))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Convert official checkpoints, check they load strictly, and save them in lvc_zoo format."""
    from ..hub import save_pretrained, sha256_file

    spec = get_spec(args.name)
    state = lvc_zoo.convert_official(spec.name, intra=args.intra, inter=args.inter)
    codec = lvc_zoo.load(spec.name, pretrained=False)
    try:
        codec.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ConversionError(f"the converted checkpoints do not fit {spec.name}: {err}") from err
    provenance = (
        f"Converted from the authors' official checkpoints with `{PROG} convert` "
        f"(lvc_zoo {lvc_zoo.__version__}):\n\n"
        f"- intra: `{args.intra.name}` (sha256 `{sha256_file(args.intra)}`)\n"
        f"- inter: `{args.inter.name}` (sha256 `{sha256_file(args.inter)}`)"
    )
    out = save_pretrained(codec, args.output, spec.name, provenance=provenance)
    print(f"Wrote {out} (config.json, model.safetensors, README.md).")
    print(f"Load it with lvc_zoo.load({spec.name!r}, weights={str(out)!r}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
