"""`lvc_zoo.eval.bench` and `lvc-zoo bench`: fields, plausibility, MACs against the reference."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import re

import pytest
import torch

import lvc_zoo
from lvc_testing import reference_root
from lvc_zoo.cli.main import main
from lvc_zoo.eval.bench import BASELINE_SETTINGS, Baseline, bench, bench_clip, count_macs, count_parameters, format_bench
from lvc_zoo.models import DCVCDC, DCVCLCG, DCVCDCConfig, DCVCLCGConfig

REFERENCE_MACS_P_1920X1088 = 2_789_979_985_920
"""MACs of a steady-state DCVC-DC P frame at 1920x1088, measured on the official code
(shared/reference/dcvc_dc/measurements.json, "macs_p_1920x1088")."""
REFERENCE_PARAMS = {"intra": 30_998_187, "inter": 19_778_563}
"""Parameters of the official IntraNoAR and DMC (same file, "param_count_i" / "param_count_p")."""

SMALL = ["bench", "--model", "dcvc_dc", "--small", "--size", "64x64", "--runs", "1", "--threads", "1"]


def one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("lvc-zoo: error: "), err
    assert re.search(match, err), err


BASELINE_MS = {"estimate": 100.0, "encode": 200.0, "decode": 400.0}
"""I-frame totals of the baseline the bench fixture compares with (P frames: half of them)."""


def small_baseline() -> dict:
    """A saved baseline with the settings of `SMALL` and the times of `BASELINE_MS` (the fields `Baseline.read` uses)."""
    small = DCVCDC(DCVCDCConfig.small())
    settings = {"model": "dcvc_dc", "width": 64, "height": 64, "frames": 4, "quality": 3, "device": "cpu", "threads": 1}
    timing = {path: {"i_frame": {"total_ms": ms}, "p_frame": {"total_ms": ms / 2}} for path, ms in BASELINE_MS.items()}
    return {**settings, "params": {"total": sum(p.numel() for p in small.parameters())}, "timing": timing}


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """`lvc-zoo bench --small` at 64x64 against a saved `--baseline`: its JSON and its stdout."""
    folder = tmp_path_factory.mktemp("bench")
    out, baseline = folder / "bench.json", folder / "baseline.json"
    baseline.write_text(json.dumps(small_baseline()))
    threads = torch.get_num_threads()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([*SMALL, "--json", str(out), "--baseline", str(baseline)])
    assert code == 0
    assert torch.get_num_threads() == threads, "--threads must not leak out of main()"
    return json.loads(out.read_text()), stdout.getvalue()


@pytest.mark.slow
def test_bench_json_has_every_field_with_plausible_values(bench_json: tuple[dict, str]) -> None:
    result, _ = bench_json
    small = DCVCDC(DCVCDCConfig.small())
    assert result["model"] == "dcvc_dc" and "random" in result["weights"] and "--small" in result["weights"]
    assert (result["width"], result["height"], result["frames"]) == (64, 64, 4)
    assert result["frame_types"] == ["I", "P", "P", "P"]
    assert result["quality"] == 3 and result["device"] == "cpu" and result["threads"] == 1
    assert result["params"] == {
        "total": sum(p.numel() for p in small.parameters()),
        "intra": sum(p.numel() for p in small.intra.parameters()),
        "inter": sum(p.numel() for p in small.inter.parameters()),
    }
    assert result["params"]["total"] == result["params"]["intra"] + result["params"]["inter"]

    macs = result["macs"]
    assert macs["i_frame"] > 0 and macs["p_frame"] > 0
    assert (macs["coded_width"], macs["coded_height"]) == (64, 64)
    assert "FakeTensorMode" in macs["method"]
    assert sum(macs["p_frame_by_module"].values()) == macs["p_frame"]

    timing = result["timing"]
    assert (timing["runs"], timing["warmup"]) == (1, 1) and timing["decode_exact"] is True
    assert "Coder" in timing["method"]
    for path in ("estimate", "encode", "decode"):
        for frame in ("i_frame", "p_frame"):
            split = timing[path][frame]
            assert split["total_ms"] > 0 and split["network_ms"] > 0 and split["entropy_ms"] > 0, (path, frame, split)
            assert split["network_ms"] + split["entropy_ms"] == pytest.approx(split["total_ms"])

    assert result["memory"]["peak_mib"] >= 0 and "getrusage" in result["memory"]["method"]
    assert result["torch_version"] == torch.__version__ and result["lvc_zoo_version"] == lvc_zoo.__version__


def test_bench_prints_a_table(bench_json: tuple[dict, str]) -> None:
    result, out = bench_json
    assert "dcvc_dc at 64x64" in out and "1 CPU thread" in out and "random initialisation" in out
    assert f"total {result['params']['total']:,}" in out
    assert re.search(r"MACs/frame\s+I [\d.]+ G\s+P [\d.]+ G", out)
    for path in ("estimate", "encode", "decode"):
        assert re.search(rf"^\s+{path}\s+I(\s+\d+\.\d){{3}}\s+\d+\.\d\dx$", out, re.M), out
    assert len(re.findall(r"^\s+P(\s+\d+\.\d){3}\s+\d+\.\d\dx$", out, re.M)) == 3
    assert "entropy = wall time inside the Coder's calls" in out
    assert "peak memory" in out and "MiB" in out


@pytest.mark.slow
def test_macs_of_the_full_model_at_1920x1088_equal_the_reference() -> None:
    reference = reference_root()
    if reference is not None and (reference / "dcvc_dc" / "measurements.json").is_file():
        measured = json.loads((reference / "dcvc_dc" / "measurements.json").read_text())
        assert measured["macs_p_1920x1088"] == REFERENCE_MACS_P_1920X1088
        assert (measured["param_count_i"], measured["param_count_p"]) == (REFERENCE_PARAMS["intra"], REFERENCE_PARAMS["inter"])
    codec = lvc_zoo.load("dcvc_dc", pretrained=False)
    macs = count_macs(codec, 1920, 1088)
    assert "FakeTensorMode" in macs.method  # shapes only: seconds, no memory
    assert (macs.coded_width, macs.coded_height) == (1920, 1088)
    assert macs.p_frame == pytest.approx(REFERENCE_MACS_P_1920X1088, rel=0.01)
    assert count_macs(codec, 1920, 1080).p_frame == macs.p_frame  # 1080 rows are coded padded to 1088
    params = count_parameters(codec)
    assert (params.intra, params.inter) == (REFERENCE_PARAMS["intra"], REFERENCE_PARAMS["inter"])


@pytest.mark.slow
def test_macs_under_fake_tensors_equal_those_of_real_tensors() -> None:
    codec = DCVCDC(DCVCDCConfig.small()).eval()
    fake, real = count_macs(codec, 64, 64), count_macs(codec, 64, 64, fake=False)
    assert "FakeTensorMode" in fake.method and "real tensors" in real.method
    assert (fake.i_frame, fake.p_frame, fake.p_frame_by_module) == (real.i_frame, real.p_frame, real.p_frame_by_module)
    padded = count_macs(codec, 72, 50)  # coded padded to the model's multiple of 16
    assert (padded.width, padded.height, padded.coded_width, padded.coded_height) == (72, 50, 80, 64)
    assert padded.p_frame > fake.p_frame


@pytest.mark.slow
def test_macs_fall_back_to_real_tensors_when_fake_ones_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingFakeMode:  # a model whose code path needs real values fails inside FakeTensorMode
        def __init__(self, **kwargs: object) -> None:
            pass

        def __enter__(self) -> None:
            raise NotImplementedError("data-dependent operation")

        def __exit__(self, *exc: object) -> None:
            return None

    codec = DCVCDC(DCVCDCConfig.small()).eval()
    real = count_macs(codec, 64, 64, fake=False)
    bench_module = importlib.import_module("lvc_zoo.eval.bench")  # the package exports a `bench` function too
    monkeypatch.setattr(bench_module, "FakeTensorMode", FailingFakeMode)
    fallback = count_macs(codec, 64, 64)
    assert "fake tensors failed: NotImplementedError" in fallback.method
    assert (fallback.i_frame, fallback.p_frame) == (real.i_frame, real.p_frame)


@pytest.mark.slow
def test_macs_of_a_data_dependent_search_are_counted_on_real_tensors() -> None:
    """DCVC-LCG's clustering has data-dependent shapes: the counter falls back to real tensors and sees the search."""
    macs = count_macs(DCVCLCG(DCVCLCGConfig.small()).eval(), 64, 64)
    assert "fake tensors failed" in macs.method and macs.i_frame > 0
    assert macs.p_frame_by_module["LongTermContextGathering"] > 0 and macs.p_frame_by_module["LongTermMemory"] > 0


@pytest.mark.slow
def test_bench_api_returns_a_result_the_table_shows() -> None:
    codec = DCVCDC(DCVCDCConfig.small()).eval()
    result = bench(codec, width=64, height=64, frames=2, runs=1, warmup=0, weights="random")
    assert result.frame_types == ["I", "P"] and result.timing.decode_exact
    assert result.params == count_parameters(codec)
    table = format_bench(result)
    assert "2 frames (1 I + 1 P)" in table and "weights: random" in table
    assert "vs base" not in table


def test_bench_clip_moves_and_stays_in_range() -> None:
    clip = bench_clip(3, 600, 100)  # wider than the 512-pixel photo: it is scaled up
    assert clip.shape == (3, 3, 100, 600) and clip.min() >= 0 and clip.max() <= 1
    assert torch.equal(clip[1][..., :-4], clip[0][..., 4:])  # a pan: real motion for the P frames


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--frames", "1"], r"--frames must be at least 2"),
        (["--size", "32x32"], r"too small: width and height must be at least 64"),
        (["--weights", "some/dir"], r"--small builds a reduced-width model with random weights: drop --weights"),
        (["--quality", "9"], r"Quality 9 is out of range for 'dcvc_dc'"),
        (["--size", "64by64"], r"is not WIDTHxHEIGHT"),
    ],
)
def test_bad_options_are_one_line_errors(extra: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*SMALL, *extra])
    one_line_error(code, capsys.readouterr().err, match)


def test_unknown_model_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--model", "dcvc_dx", "--small"])
    one_line_error(code, capsys.readouterr().err, r"Unknown model 'dcvc_dx'\. Did you mean 'dcvc_dc'[,?]")


@pytest.mark.slow
def test_bench_names_bundled_weights_with_their_sha256(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--model", "dcvc_dc_tiny", "--size", "64x64", "--frames", "2", "--runs", "1", "--threads", "1"]
    assert main(args) == 0
    digest = lvc_zoo.registry.get_spec("dcvc_dc_tiny").files["model.safetensors"]
    out = capsys.readouterr().out
    assert f"weights: bundled lvc_zoo/weights/dcvc_dc_tiny (model.safetensors sha256:{digest})" in out
    assert "hf-hub:None" not in out


def test_bench_prints_the_ratio_to_the_saved_baseline(bench_json: tuple[dict, str]) -> None:
    result, out = bench_json
    assert re.search(r"^\s+path\s+frame\s+total\s+network\s+entropy\s+vs base$", out, re.M), out
    rows = re.findall(r"^\s+(estimate|encode|decode)?\s+([IP])\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)x$", out, re.M)
    assert [(label, frame_type) for label, frame_type, _, _ in rows] == [row for p in BASELINE_MS for row in ((p, "I"), ("", "P"))], out
    path = ""
    for label, frame_type, total, ratio in rows:
        path = label or path
        old = BASELINE_MS[path] if frame_type == "I" else BASELINE_MS[path] / 2
        measured = result["timing"][path]["i_frame" if frame_type == "I" else "p_frame"]["total_ms"]
        assert float(total) == pytest.approx(measured, abs=0.051)
        assert float(ratio) == pytest.approx(measured / old, abs=0.0051), (path, frame_type)
    assert re.search(r"vs base = total / the total of the baseline \S+baseline.json", out)


def test_a_saved_json_reads_back_as_a_baseline(bench_json: tuple[dict, str], tmp_path) -> None:
    result, _ = bench_json
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(result))
    baseline = Baseline.read(saved)
    assert baseline.total_ms[("encode", "P")] == result["timing"]["encode"]["p_frame"]["total_ms"]
    assert len(baseline.total_ms) == 6
    baseline.check_comparable({**{name: result[name] for name in BASELINE_SETTINGS}, "params": result["params"]["total"]})


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"No such file"),
        ("{not json", r"baseline .* is not JSON .*lvc-zoo bench --json"),
        ('{"model": "dcvc_dc"}', r"baseline .* is not a bench result \(no field 'width'\)"),
        ("[1, 2]", r"baseline .* is not a bench result \(fields of the wrong type\)"),
    ],
)
def test_a_bad_baseline_file_is_one_line_error(content: str | None, match: str, tmp_path, capsys) -> None:
    baseline = tmp_path / "baseline.json"
    if content is not None:
        baseline.write_text(content)
    code = main([*SMALL, "--baseline", str(baseline)])
    one_line_error(code, capsys.readouterr().err, match)


def test_a_baseline_with_other_settings_or_a_bad_time_is_refused(tmp_path, capsys) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({**small_baseline(), "width": 128, "threads": 2}))
    code = main([*SMALL, "--baseline", str(baseline)])
    one_line_error(code, capsys.readouterr().err, r"other settings: width 64 \(baseline: 128\), threads 1 \(baseline: 2\)")
    broken = small_baseline()
    broken["timing"]["decode"]["p_frame"]["total_ms"] = 0.0
    baseline.write_text(json.dumps(broken))
    code = main([*SMALL, "--baseline", str(baseline)])
    one_line_error(code, capsys.readouterr().err, r"not a positive number")
