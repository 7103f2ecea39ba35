"""`lvc-zoo push`: upload an lvc_zoo weights directory to a Hugging Face Hub model repo.

    DIR ─► hub.push_pretrained (check as lvc_zoo.load does ─► create_repo ─► upload_folder) ─► summary

The token comes from the usual places (HF_TOKEN, or the login cached by `hf auth login`), and
HF_ENDPOINT selects another Hub; there is no --token option, so no token lands in the shell
history. `--dry-run` checks the directory and lists what would be uploaded without any
network access.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .help import COMMAND_HELP
from ..hub import HUB_PREFIX, PushResult, push_pretrained

__all__ = ["HELP", "add_arguments", "run", "register", "format_push"]

HELP = COMMAND_HELP["push"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add `push` to the `lvc-zoo` subcommands."""
    parser = commands.add_parser("push", help=HELP, description=HELP + ".")
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lvc-zoo push`."""
    parser.add_argument("directory", type=Path, metavar="DIR", help="weights directory: config.json, model.safetensors, README.md")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="Hub model repo; created if missing")
    parser.add_argument("--revision", default=None, metavar="REV", help="branch to commit to, created if missing (default main)")
    parser.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)")
    parser.add_argument("--dry-run", action="store_true", help="check the directory and list what would be uploaded; send nothing")


def run(args: argparse.Namespace) -> int:
    """Check and upload the directory (or list it with --dry-run); print a summary."""
    result = push_pretrained(args.directory, args.repo, revision=args.revision, private=args.private, dry_run=args.dry_run)
    print(format_push(result))
    return 0


def format_push(result: PushResult) -> str:
    """The summary `lvc-zoo push` prints: target, files (path, bytes, sha256) and how to load them."""
    total = sum(f.size for f in result.files)
    visibility = "private if created" if result.private else "public if created"
    target = f"{result.repo_id}, revision {result.revision} ({visibility})"
    count = f"{len(result.files)} files ({total:,} bytes) of {result.model} weights"
    head = f"dry run: would upload {count} to {target}; nothing was sent" if result.dry_run else f"uploaded {count} to {target}"
    width = max(len(f.path) for f in result.files)
    size_width = max(len(f"{f.size:,}") for f in result.files)
    rows = [f"  {f.path:<{width}}  {f'{f.size:,}':>{size_width}}  sha256 {f.sha256}" for f in result.files]
    hub_id = f"{HUB_PREFIX}{result.repo_id}" + (f"@{result.revision}" if result.revision != "main" else "")
    tail = [] if result.commit_url is None else [f"commit: {result.commit_url}"]
    verb = "once uploaded, load" if result.dry_run else "load"
    tail.append(f"{verb} them with lvc_zoo.load({result.model!r}, weights={hub_id!r})")
    return "\n".join([head, *rows, *tail])
