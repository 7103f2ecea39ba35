"""The command lines that printed tracebacks (#28) now print one line and exit 2 (1 for memory).

`lvc-zoo` cases run in-process through `main`; `lightning fit` ones through `lvc_zoo.cli.fit.main`,
and two through the installed `lightning` script in a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from fit_testing import RECIPES, cli_sandbox, lightning_command, subprocess_env, tiny_args, vimeo_tree  # noqa: F401 (a fixture)
from lvc_zoo.cli import fit
from lvc_zoo.cli import main as cli_main

BUNDLED = Path(cli_main.__file__).resolve().parents[1] / "weights" / "dcvc_dc_tiny"


def one_line_error(err: str, prog: str = "lvc-zoo") -> str:
    """The single `PROG: error:` line of `err` (no traceback, no usage text)."""
    assert "Traceback" not in err and "usage:" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(f"{prog}: error: ")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize(
    "argv, match",
    [
        (["encode", "{tmp}/in.y4m", "-o", "{tmp}/o.lvc", "--model", "dcvc_dc_tiny", "--quality", "0", "--device", "meta"],
         "argument --device: 'meta': lvc-zoo codes on cpu or cuda devices"),
        (["decode", "{tmp}/in.lvc", "-o", "{tmp}/o.y4m", "--device", "meta"], "'meta': lvc-zoo codes on cpu or cuda"),
        (["bench", "--model", "dcvc_dc_tiny", "--size", "99999x99999"], "'99999x99999' is too large: width and height must be at most 8192"),
        (["demo", "--size", "8193x64"], "'8193x64' is too large"),
        (["demo", "--size", "63x64"], "'63x64' is too small: width and height must be at least 64"),
        (["export", "{tmp}/empty.ckpt", "--model", "dcvc_dc_tiny", "-o", "{tmp}/out"],
         "empty.ckpt is not an lvc_zoo training checkpoint \\(lightning fit\\): EOFError, the file is cut short"),
        (["bdrate", "{tmp}/deep.json", "--anchor", "{tmp}/deep.json"], "deep.json: not valid JSON \\(maximum recursion depth"),
        (["eval", "--model", "dcvc_dc_tiny", "--input", "{tmp}/deep.json"], "deep.json: cannot read the dataset JSON"),
        (["decode", "a\0b.lvc", "-o", "{tmp}/o.y4m"], "an argument holds a NUL character"),
        (["push", "{tmp}/deep", "--repo", "org/name", "--dry-run"], "config.json is not valid JSON \\(RecursionError"),
    ],
)
def test_former_tracebacks_are_one_line(argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "deep.json").write_text("[" * 100_000)
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "config.json").write_text("[" * 100_000)
    code = cli_main.main([arg.format(tmp=tmp_path) for arg in argv])
    line = one_line_error(capsys.readouterr().err)
    assert code == 2
    assert re.search(match, line), line


def test_an_allocation_that_fails_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def allocate(args: object) -> int:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried to allocate 120007200108 bytes")

    monkeypatch.setattr(cli_main, "run_list", allocate)
    assert cli_main.main(["list"]) == 1
    assert "out of memory: use smaller or fewer frames" in one_line_error(capsys.readouterr().err)

    def bug(args: object) -> int:
        raise RuntimeError("a bug, not a failed allocation")

    monkeypatch.setattr(cli_main, "run_list", bug)
    with pytest.raises(RuntimeError, match="a bug"):  # other errors are not hidden
        cli_main.main(["list"])


# ----------------------------------------------------------------------------- lightning fit
@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    """Bad recipes and checkpoints next to a tiny Vimeo tree."""
    (tmp_path / "invalid.yaml").write_text("model: [unclosed\n  foo: : :")
    (tmp_path / "unknown.yaml").write_text("no_such_key: 1\n")
    (tmp_path / "wrong_type.yaml").write_text(
        "model:\n  class_path: lvc_zoo.models.DCVCDC\n  init_args:\n    config: {ch_1x: banana}\n"
    )
    (tmp_path / "garbage.ckpt").write_bytes(b"not a checkpoint")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    vimeo_tree(tmp_path / "vimeo", train=1, test=1)
    return tmp_path


@pytest.mark.usefixtures("cli_sandbox")
@pytest.mark.parametrize(
    "arguments, match",
    [
        (["-c", "{tmp}/missing.yaml"], "config: File does not exist: '.*missing.yaml' \\(see `lightning fit --help`\\)"),
        (["-c", "{tmp}/invalid.yaml"], "Problems parsing config: while parsing a flow sequence"),
        (["-c", "{tmp}/unknown.yaml"], "Subcommand 'fit' does not accept option 'no_such_key'"),
        (["-c", "{tmp}/wrong_type.yaml"], "model.config.ch_1x: Expected a <class 'int'>. Got value: banana"),
        (["-c", "{recipe}", "--trainer.max_steps", "x"], "trainer.max_steps: Expected a <class 'int'>. Got value: x"),
        (["-c", "{recipe}", "{tiny}", "--data.root", "{tmp}/missing_root"], "missing_root/sep_trainlist.txt not found"),
        (["-c", "{recipe}", "{tiny}", "--data.batch_size", "0"], "the config cannot be run: batch_size must be a positive integer, got 0"),
        (["-c", "{recipe}", "{tiny}", "--model.init_from", "{tmp}/empty.ckpt"], "empty.ckpt is not an lvc_zoo training checkpoint"),
        (["-c", "{recipe}", "{tiny}", "--model.init_from", "{tmp}/missing_dir"], "is neither a weights directory nor a Lightning checkpoint"),
        (["-c", "{recipe}", "{tiny}", "--ckpt_path", "{tmp}/missing.ckpt"], "checkpoint '.*missing.ckpt' does not exist"),
        (["-c", "{recipe}", "{tiny}", "--ckpt_path", "{tmp}/garbage.ckpt"], "garbage.ckpt is not an lvc_zoo training checkpoint"),
        (["-c", "{recipe}", "{tiny}", "--ckpt_path", "{tmp}/empty.ckpt"], "EOFError, the file is cut short"),
        (["-c", "{recipe}", "{tiny}", "--trainer.accelerator", "tpu"], "the config cannot be run: .*torch_xla"),
    ],
)
def test_bad_fit_command_lines_are_one_line(
    arguments: list[str], match: str, recipes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = RECIPES / "dcvc_dc.yaml"
    argv = ["fit"]
    for arg in arguments:
        if arg == "{tiny}":
            argv += [*tiny_args(recipes / "vimeo", recipes / "run", recipe), "--trainer.fast_dev_run", "true"]
        else:
            argv.append(arg.format(tmp=recipes, recipe=recipe))
    assert fit.main(argv) == 2
    line = one_line_error(capsys.readouterr().err, "lightning")
    assert re.search(match, line), line


def test_subcommand_errors_name_the_right_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert fit.main(["predict"]) == 2
    assert one_line_error(capsys.readouterr().err, "lightning").endswith("(see `lightning --help`)")


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["missing.yaml", "invalid.yaml"])
def test_the_lightning_script_prints_one_line(recipe: str, recipes: Path) -> None:
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(Path(fit.__file__).resolve().parents[2]), env["PYTHONPATH"]])  # this tree
    run = subprocess.run([*lightning_command(), "fit", "-c", str(recipes / recipe)], capture_output=True, text=True,
                         timeout=300, env=env, cwd=recipes)
    assert run.returncode == 2
    one_line_error(run.stderr, "lightning")
    assert run.stdout == ""


def test_an_unreachable_hub_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A failed name lookup becomes a HubError (tests/cli/test_push.py: the other connection errors)."""
    import socket

    import huggingface_hub

    class OfflineApi:
        def __init__(self, **kwargs: object) -> None:
            pass

        def create_repo(self, *args: object, **kwargs: object) -> None:
            raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(huggingface_hub, "HfApi", OfflineApi)
    assert cli_main.main(["push", str(BUNDLED), "--repo", "org/name"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "the Hub could not be reached (gaierror: [Errno -2] Name or service not known)" in line
