"""Fuzzing the command line (#28): no argument list makes `lvc-zoo` print a traceback.

Each derandomised Hypothesis case takes a working command line of one subcommand (encode,
decode, eval, bdrate, bench, export, push, convert, demo, list, fit) and damages one thing:
an option's value (out of range, odd sizes, bad fps, missing, empty or unreadable files, a
file where a directory belongs, bad --weights directories, devices this machine lacks), a
dropped or an unknown argument, or the subcommand itself. It runs in-process through
`lvc_zoo.cli.main.main` within 10 s of CPU time, and must either succeed (exit 0) or print
exactly one error line, no traceback, exit code 2 (1 only for an allocation that failed).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_testing import CASE_SECONDS, FUZZ, report
from lvc_zoo.cli.main import main
from lvc_zoo.data import ColourSpace, VideoInfo, write_video

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "lvc_zoo" / "weights" / "dcvc_dc_tiny"
EXIT_CODES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Inputs the command lines name, good and bad, in a folder that is also the working directory."""
    root = tmp_path_factory.mktemp("cli_fuzz")
    frames = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    write_video(root / "clip.y4m", iter(list(frames)), VideoInfo(64, 64, 1, Fraction(30), ColourSpace("bt709", "full")))
    (root / "garbage.y4m").write_bytes(b"YUV4MPEG2 W64 H64 F30:1\nFRAME\n\x01\x02")
    (root / "garbage.lvc").write_bytes(b"LVCZ\x03\x00\x10garbage")
    (root / "empty").write_bytes(b"")
    (root / "bad.json").write_text("{not json")
    (root / "deep.json").write_text("[" * 50_000)
    (root / "bad.yaml").write_text("model: [unclosed\n  x: : :")
    (root / "unknown.yaml").write_text("no_such_key: 1\n")
    (root / "garbage.ckpt").write_bytes(b"not a checkpoint")
    (root / "folder").mkdir()
    (root / "weights_bad").mkdir()
    (root / "weights_bad" / "config.json").write_text(json.dumps({"model": "dcvc_dc_tiny", "config": {"ch_1x": -4}}))
    (root / "results.json").write_text(json.dumps({"HEVC_B": {"seq": {"q0": {"bpp": 0.1, "psnr": 30.0}}}}))
    paths = {name: str(root / name) for name in ("clip.y4m", "garbage.y4m", "garbage.lvc", "empty", "bad.json", "deep.json",
                                                 "bad.yaml", "unknown.yaml", "garbage.ckpt", "folder", "weights_bad", "results.json")}
    paths["missing"] = str(root / "missing.y4m")
    paths["stream"] = str(root / "clip.lvc")
    paths["out"] = str(root / "out")
    with contextlib.chdir(root):
        assert main(["encode", paths["clip.y4m"], "-o", paths["stream"], "--model", "dcvc_dc_tiny", "--quality", "0", "--quiet"]) == 0
        yield paths


def templates(f: dict[str, str]) -> dict[str, list[str]]:
    """A command line of each subcommand that works (or fails cleanly, for inputs no test file holds)."""
    out = f["out"]
    return {
        "encode": ["encode", f["clip.y4m"], "-o", out + ".lvc", "--model", "dcvc_dc_tiny", "--quality", "0", "--fps", "25", "--quiet"],
        "decode": ["decode", f["stream"], "-o", out + ".y4m", "--quiet"],
        "eval": ["eval", "--model", "dcvc_dc_tiny", "--input", f["clip.y4m"], "--qualities", "0", "--frames", "1",
                 "--intra-period", "-1", "--estimate", "--quiet"],
        "bdrate": ["bdrate", f["results.json"], "--anchor", f["results.json"], "--method", "pchip"],
        "bench": ["bench", "--model", "dcvc_dc", "--small", "--size", "64x64", "--frames", "2", "--runs", "1", "--quality", "0"],
        "export": ["export", f["garbage.ckpt"], "--model", "dcvc_dc_tiny", "-o", out + "_export", "--dtype", "float16"],
        "push": ["push", str(BUNDLED), "--repo", "org/name", "--revision", "main", "--dry-run"],
        "convert": ["convert", "dcvc_dc", "--intra", f["garbage.ckpt"], "--inter", f["garbage.ckpt"], "-o", out + "_convert"],
        "demo": ["demo", "--frames", "2", "--size", "64x64", "--quality", "0", "--output-dir", out + "_demo", "--device", "cpu"],
        "list": ["list"],
        "fit": ["fit", "-c", str(REPO / "recipes" / "dcvc_dc.yaml"), "--print_config"],
    }


_BAD_VALUES = [
    "", "-1", "0", "4", "x", "nan", "inf", "-inf", "1e309", "2000", "1/0", "30000/0", "99999999999999999999",
    "0x0", "63x64", "65x63", "99999x99999", "64x", "meta", "cuda:7", "tpu", "hf-hub:", "hf-hub:a/b/c", "a\x00b",
]
_FILE_VALUES = ["missing", "folder", "empty", "garbage.y4m", "garbage.lvc", "bad.json", "deep.json", "bad.yaml",
                "unknown.yaml", "garbage.ckpt", "weights_bad", "stream", "clip.y4m"]
_MUTATIONS = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 50), st.sampled_from(_BAD_VALUES)),
    st.tuples(st.just("file"), st.integers(0, 50), st.sampled_from(_FILE_VALUES)),
    st.tuples(st.just("drop"), st.integers(0, 50), st.none()),
    st.tuples(st.just("extra"), st.integers(0, 50), st.sampled_from(["--bogus", "--weights", "--quality", "stray", "-o", "--help"])),
    st.tuples(st.just("subcommand"), st.just(0), st.sampled_from(["encod", "", "--bogus", "info", "ENCODE", "predict"])),
)
_NO_DROP = {"fit": {"--print_config"}, "push": {"--dry-run"}}  # without them `fit` would train, `push` upload


def mutate(argv: list[str], kind: str, at: int, value: str | None, f: dict[str, str]) -> list[str]:
    """`argv` with one thing damaged (`at` picks the position among the arguments after the subcommand)."""
    argv = list(argv)
    position = 1 + at % max(1, len(argv) - 1)
    if kind == "subcommand":
        return [value, *argv[1:]] if value else argv[1:]
    if kind == "extra":
        argv.insert(position, value)
        return argv
    if len(argv) == 1:
        return argv + [value or "extra"]
    if kind == "drop":
        if argv[position] not in _NO_DROP.get(argv[0], ()):
            del argv[position]
        return argv
    if argv[position] in _NO_DROP.get(argv[0], ()):
        return argv
    argv[position] = value if kind == "value" else f[value]
    return argv


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of `lvc-zoo ARGV` run in-process."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    return code, err.getvalue()


def test_bad_command_lines_are_one_line_errors(files: dict[str, str]) -> None:
    commands = templates(files)
    subcommands: Counter[str] = Counter()
    seconds: Counter[str] = Counter()  # CPU seconds per subcommand

    @settings(FUZZ, max_examples=150)  # eleven subcommands: about a dozen cases each
    @given(name=st.sampled_from(sorted(commands)), mutation=_MUTATIONS)
    def case(name: str, mutation: tuple[str, int, str | None]) -> None:
        argv = mutate(commands[name], *mutation, files)
        subcommands[name] += 1
        start = time.process_time()
        with contextlib.chdir(Path(files["out"]).parent):
            code, err = run_cli(argv)
        seconds[name] += time.process_time() - start
        assert time.process_time() - start < CASE_SECONDS, argv
        EXIT_CODES[code] += 1
        assert "Traceback" not in err, argv
        if code == 0:
            return
        errors = [line for line in err.splitlines() if line.startswith(("lvc-zoo: error: ", "lightning: error: "))]
        assert len(errors) == 1 and "usage:" not in err, (argv, err)
        assert code == 2 or (code == 1 and "out of memory" in errors[0]), (argv, code, err)
        assert len([line for line in err.splitlines() if line.strip() and "error" in line.lower()]) == 1, (argv, err)

    case()
    report("bad CLI arguments", sum(subcommands.values()), exit_codes=dict(EXIT_CODES), subcommands=dict(subcommands),
           cpu_seconds={name: round(value, 1) for name, value in seconds.items()})
