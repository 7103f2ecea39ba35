"""`tools/bench_official.py` without an official checkout: worker protocol and failures, round order, report arithmetic.

The worker processes here are plain Python (no torch import) that replay what `serve` wrote,
so the parent's side of the protocol is tested over real pipes in well under a second.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "bench_official.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_official", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def fake_worker(bench: ModuleType, code: str) -> object:
    return bench.Worker("fake", [sys.executable, "-c", code])


def test_serve_answers_each_request_with_seconds_and_bits(bench: ModuleType) -> None:
    clips = []

    def run(frames: torch.Tensor, quality: int) -> tuple[list[float], list[float]]:
        return [0.5] * frames.shape[0], [100.0 * quality + t for t in range(frames.shape[0])]

    def clip(frames: int, height: int, width: int) -> torch.Tensor:
        clips.append((frames, height, width))
        return torch.zeros(frames, 3, height, width)

    requests = [json.dumps({"width": 80, "height": 64, "frames": 3, "quality": 2}) + "\n"]
    replies = io.StringIO()
    bench.serve(run, clip, requests, replies, {"side": "fake"})
    lines = [json.loads(line) for line in replies.getvalue().splitlines()]
    assert lines == [{"ready": {"side": "fake"}}, {"seconds": [0.5, 0.5, 0.5], "bits": [200.0, 201.0, 202.0]}]
    assert clips == [(3, 64, 80)]


def test_the_parent_reads_what_serve_writes_over_pipes(bench: ModuleType) -> None:
    replies = io.StringIO()
    request = {"width": 64, "height": 64, "frames": 2, "quality": 3}
    bench.serve(lambda frames, q: ([0.25, 0.75], [10.0, 20.5]), lambda t, h, w: torch.zeros(t, 3, h, w), [json.dumps(request)],
                replies, {"side": "fake", "threads": 1})
    lines = replies.getvalue().splitlines()
    replay = (
        f"import sys\nlines = {lines!r}\nprint(lines[0], flush=True)\n"
        "for _, reply in zip(sys.stdin, lines[1:]):\n    print(reply, flush=True)\n"
    )
    with fake_worker(bench, replay) as worker:
        assert worker.ready() == {"side": "fake", "threads": 1}
        assert worker.run(64, 64, 2, 3) == ([0.25, 0.75], [10.0, 20.5])


@pytest.mark.parametrize(
    "code, message",
    [
        ("import sys; sys.stderr.write('Traceback\\nRuntimeError: out of memory\\n'); sys.exit(3)",
         r"the fake worker stopped \(exit code 3\); its stderr ends: Traceback \| RuntimeError: out of memory"),
        ("print('cannot import motion compensation in cuda', flush=True); import sys; sys.stdin.read()",
         r"the fake worker answered 'cannot import motion compensation in cuda', not the protocol; its stderr ends: \(nothing\)"),
    ],
    ids=["dies", "prints"],
)
def test_a_worker_that_dies_or_prints_garbage_is_named(bench: ModuleType, code: str, message: str) -> None:
    with fake_worker(bench, code) as worker, pytest.raises(bench.WorkerError, match=message):
        worker.ready()


@pytest.mark.parametrize(
    "reply", [{"seconds": [0.1], "bits": [1.0, 2.0]}, {"seconds": [0.1, "x"], "bits": [1.0, 2.0]}, {"bits": [1.0]}]
)
def test_a_reply_without_a_number_per_frame_is_refused(bench: ModuleType, reply: dict) -> None:
    code = (
        f"import sys\nprint('{{\"ready\": {{}}}}', flush=True)\nsys.stdin.readline()\n"
        f"print({json.dumps(reply)!r}, flush=True)\nsys.stdin.read()\n"
    )
    with fake_worker(bench, code) as worker:
        worker.ready()
        with pytest.raises(bench.WorkerError, match="the fake worker answered .* not the protocol"):
            worker.run(64, 64, 2, 3)


def test_rounds_alternate_the_order_and_drop_the_warm_up(bench: ModuleType) -> None:
    calls: list[str] = []

    def side(name: str, seconds: float):
        def run() -> tuple[list[float], list[float]]:
            calls.append(name)
            return [seconds * len(calls), seconds], [1.0, 2.0]

        return run

    runs = {"a": side("a", 1.0), "b": side("b", 2.0), "c": side("c", 3.0)}
    sides = bench.interleaved(runs, warmup=1, timed=2, log=lambda _: None)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert [s.name for s in sides] == ["a", "b", "c"]
    assert sides[0].frame_s == [[6.0, 1.0], [7.0, 1.0]] and sides[0].clip_s == [7.0, 8.0]
    assert sides[2].clip_s == [4 * 3.0 + 3.0, 9 * 3.0 + 3.0]


def test_report_ratios_spread_and_bits(bench: ModuleType, capsys: pytest.CaptureFixture) -> None:
    Side = bench.Side
    official = Side("official", [2.0, 4.0, 3.0], [[1.0, 1.0], [2.0, 2.0], [1.0, 2.0]], [1000.0, 500.0])
    loose = Side("official-nondeterministic", [1.5, 2.5, 2.0], [[0.5, 1.0]] * 3, [1000.0, 500.0])
    zoo = Side("lvc_zoo", [1.0, 3.0, 3.0], [[0.5, 0.5, 0.5]] * 3, [1000.0001, 500.0])

    result = bench.report("dcvc_fm", (64, 48), 3, 63, 2, [official, loose, zoo])

    assert official.spread == pytest.approx(2.0 / 3.0)
    assert official.median_frame_ms(intra=True) == pytest.approx(1000.0)
    assert official.median_frame_ms(intra=False) == pytest.approx(2000.0)
    versus_official = result["ratios"]["lvc_zoo/official"]
    assert versus_official["of_medians"] == pytest.approx(1.0)
    assert versus_official["pairs"] == pytest.approx([0.5, 0.75, 1.0])
    assert versus_official["median_of_pairs"] == pytest.approx(0.75)
    assert result["ratios"]["lvc_zoo/official-nondeterministic"]["of_medians"] == pytest.approx(1.5)
    assert result["bits_reference"] == "official"
    assert result["bits_relative_difference"] == pytest.approx({"official-nondeterministic": 0.0, "lvc_zoo": 1e-7})
    assert result["sides"]["lvc_zoo"]["median_s"] == pytest.approx(3.0) and result["sides"]["official"]["max_s"] == 4.0
    json.dumps(result)
    printed = capsys.readouterr().out
    assert "ratio lvc_zoo / official: 1.000 (medians); 0.750 median of the per-round pairs (range 0.500-1.000)" in printed
    assert "largest relative bits difference to official: official-nondeterministic 0.0e+00, lvc_zoo 1.0e-07" in printed


def test_a_run_without_lvc_zoo_has_no_ratio(bench: ModuleType) -> None:
    official = bench.Side("official", [2.0], [[1.0, 1.0]], [10.0, 20.0])
    assert bench.compare([official])["ratios"] == {} and bench.compare([official])["bits_relative_difference"] == {}


def test_arguments_default_to_every_side_and_the_models_highest_rate(bench: ModuleType) -> None:
    fm = bench.parse_args(["dcvc_fm", "/nowhere"])
    assert fm.sides == ["official", "official-nondeterministic", "lvc_zoo"] and fm.quality == 63
    assert fm.sizes == [(256, 256), (832, 480)]
    sevc = bench.parse_args(["sevc", "/nowhere", "--sides", "lvc_zoo", "official"])
    assert sevc.sides == ["official", "lvc_zoo"] and sevc.quality == 3


def test_each_frame_is_timed_from_its_request_to_its_bits(bench: ModuleType) -> None:
    def code(frames: torch.Tensor, quality: int) -> Iterator[float]:
        for index in range(frames.shape[0]):
            if index == 1:
                time.sleep(0.03)
            yield float(quality * 10 + index)

    seconds, bits = bench.timed_frames(code)(torch.zeros(3, 3, 8, 8), 2)
    assert bits == [20.0, 21.0, 22.0]
    assert len(seconds) == 3 and seconds[1] >= 0.03
