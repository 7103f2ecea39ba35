"""`lvc-zoo eval` through `main(argv)`: DCVC-layout JSON, decode check, rates, inputs, workers, summary, plot.

Tiny clips (64x64, 3 frames; one 192x192 pair for MS-SSIM) and the reduced-width random model
(`--small`), so the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
import torch

from lvc_zoo.cli.main import main
from lvc_zoo.data import ColourSpace, VideoInfo, pan_clip, probe_video, read_video, rgb_to_yuv420, to_uint8_planes, write_video
from lvc_zoo.errors import InputError
from lvc_zoo.eval.conditions import collect_sequences, results_path, source_planes
from lvc_zoo.eval.metrics import psnr_from_mse, psnr_rgb
from lvc_zoo.eval.runner import TIMING_FIELDS, ModelSource, build_codec
from lvc_zoo.models import VideoCodec
from lvc_zoo.registry import get_spec
from lvc_testing import reference_root

ANCHOR_FIELDS = (
    "frame_pixel_num", "i_frame_num", "p_frame_num", "test_time", "qp", "ds_name", "seq_name",
    *(f"ave_{t}_frame_{m}" for t in ("i", "p", "all")
      for m in ("bpp", "psnr", "msssim", "psnr_y", "psnr_u", "psnr_v", "msssim_y", "msssim_u", "msssim_v")),
)
"""Every field of a record of the published VTM anchor (shared/reference/anchors)."""
LVC_FIELDS: dict[str, Any] = {
    "bpp": float, "bpp_estimated": float, "rate_source": str, "file_bytes": (int, type(None)),
    "psnr_kind": str, "psnr_rgb": float, "psnr_yuv": float, "psnr_y": float, "psnr_u": float, "psnr_v": float,
    "msssim_rgb": (float, type(None)), "msssim_yuv": (float, type(None)), "msssim_reason": (str, type(None)),
    "colour_matrix": (str, type(None)), "colour_range": (str, type(None)), "yuv_metrics_colour": str,
    "enc_ms_per_frame": float, "dec_ms_per_frame": (float, type(None)), "decode_checked": bool,
    "frame_count": int, "width": int, "height": int, "intra_period": int, "model": str, "quality": int,
    "weights": str, "weights_fingerprint": str, "device": str, "torch_threads": int, "lvc_zoo_version": str,
}
"""The explicit lvc_zoo fields of a record and their JSON types."""
INT_FIELDS = ("frame_pixel_num", "i_frame_num", "p_frame_num", "qp")
SMALL = ["--model", "dcvc_dc", "--small"]
QUALITIES = (0, 3)


def clip(size: int, frames: int = 3, step: tuple[int, int] = (2, 4)) -> torch.Tensor:
    return pan_clip(skimage.data.astronaut(), frames, (size, size), step)


def run(argv: list[Any]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def records(data: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for dataset, sequences in data.items():
        for sequence, rates in sequences.items():
            for key, record in rates.items():
                yield dataset, sequence, key, record


def assert_one_line_error(code: int, err: str, *patterns: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("lvc-zoo: error: "), err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DS/ with the same kind of 64x64 3-frame clip as .yuv, .y4m and a PNG folder."""
    root = tmp_path_factory.mktemp("sequences")
    frames = clip(64)
    write_video(root / "DS" / "Pan_64x64_25.yuv", frames, VideoInfo.of(frames, fps=25))
    write_video(root / "DS" / "pan.y4m", clip(64, step=(4, 2)))
    write_video(root / "DS" / "panpng", clip(64, step=(1, 3)))
    return root


@pytest.fixture(scope="module")
def main_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `lvc-zoo eval` of the three clips at two qualities and the default intra periods, with --json and --plot."""
    out = tmp_path_factory.mktemp("main_run")
    ds = data_dir / "DS"
    argv = ["eval", *SMALL, "--input", ds / "Pan_64x64_25.yuv", ds / "pan.y4m", ds / "panpng",
            "--qualities", *QUALITIES, "--json", out / "res.json", "--plot", out / "rd.png"]
    code, stdout, stderr = run(argv)
    assert code == 0, stderr
    return {"out": out, "stdout": stdout}


# ----------------------------------------------------------------------------- the JSON
@pytest.mark.slow
def test_two_intra_periods_give_two_result_files_in_the_dcvc_layout(main_run: dict[str, Any]) -> None:
    out = main_run["out"]
    assert sorted(p.name for p in out.glob("*.json")) == ["res_ip-1.json", "res_ip32.json"]
    for intra_period in (32, -1):
        data = json.loads(results_path(out / "res.json", intra_period).read_text())
        assert list(data) == ["DS"]
        assert list(data["DS"]) == ["Pan_64x64_25.yuv", "pan.y4m", "panpng"]
        for _, _, key, record in records(data):
            assert key == f"q{record['quality']}" and record["quality"] in QUALITIES
            assert record["intra_period"] == intra_period
        assert {key for _, _, key, _ in records(data)} == {"q0", "q3"}


def test_every_anchor_field_and_the_lvc_zoo_fields_with_their_types(main_run: dict[str, Any]) -> None:
    anchor_root = reference_root()
    if anchor_root is not None:  # the list above is the anchor's own
        anchor = json.loads((anchor_root / "anchors" / "vtm_17.0_yuv420_LB_allf_ip0.json").read_text())
        assert {k for *_, r in records(anchor) for k in r} == set(ANCHOR_FIELDS)
    data = json.loads((main_run["out"] / "res_ip32.json").read_text())
    for dataset, sequence, _, record in records(data):
        assert set(ANCHOR_FIELDS) <= set(record)
        for field in ANCHOR_FIELDS:
            value = record[field]
            if field in INT_FIELDS:
                assert type(value) is int, field
            elif field in ("ds_name", "seq_name"):
                assert value == {"ds_name": dataset, "seq_name": sequence}[field]
            elif "msssim" in field and value is None:
                assert record["msssim_reason"], field  # null only with the reason recorded
            elif record["p_frame_num"] == 0 and field.startswith("ave_p_"):
                assert value == 0
            else:
                assert type(value) is float and math.isfinite(value), (field, value)
        for field, kind in LVC_FIELDS.items():
            assert isinstance(record[field], kind) and not (kind is int and isinstance(record[field], bool)), field
        assert record["frame_pixel_num"] == 64 * 64 and record["frame_count"] == 3
        assert record["i_frame_num"] == 1 and record["p_frame_num"] == 2
        assert record["weights"] == "random initialisation (seed 0, reduced test widths)" and record["model"] == "dcvc_dc"
        assert record["rate_source"] == "file" and record["decode_checked"] is True
        assert record["bpp"] == record["ave_all_frame_bpp"] == pytest.approx(8 * record["file_bytes"] / (64 * 64 * 3))
        assert "176" in record["msssim_reason"] and record["msssim_rgb"] is None


def test_psnr_kind_follows_the_source(main_run: dict[str, Any]) -> None:
    data = json.loads((main_run["out"] / "res_ip-1.json").read_text())["DS"]
    for name in ("Pan_64x64_25.yuv", "pan.y4m"):
        record = data[name]["q3"]
        assert record["psnr_kind"] == "yuv611"
        assert (record["colour_matrix"], record["colour_range"]) == ("bt709", "full")
        assert record["ave_all_frame_psnr"] == pytest.approx(record["psnr_yuv"])
        assert record["psnr_yuv"] == pytest.approx((6 * record["psnr_y"] + record["psnr_u"] + record["psnr_v"]) / 8)
    png = data["panpng"]["q3"]
    assert png["psnr_kind"] == "rgb" and png["colour_matrix"] is None
    assert png["ave_all_frame_psnr"] == pytest.approx(png["psnr_rgb"])
    assert png["yuv_metrics_colour"] == "bt709-full"


def test_results_are_readable_by_the_results_reader(main_run: dict[str, Any]) -> None:
    if importlib.util.find_spec("lvc_zoo.eval.results") is None:
        pytest.skip("lvc_zoo.eval.results is not in this checkout")
    from lvc_zoo.eval.results import load_results

    results = load_results(main_run["out"] / "res_ip32.json")
    assert results.name == "dcvc_dc"
    assert results.psnr_kinds == {"yuv611", "rgb"}


# ----------------------------------------------------------------------------- output
def test_summary_table_is_printed(main_run: dict[str, Any]) -> None:
    stdout = main_run["stdout"]
    assert "random, reduced widths" in stdout
    header = next(line for line in stdout.splitlines() if line.startswith("ip "))
    for column in ("dataset", "sequence", "q", "bpp", "PSNR dB", "MS-SSIM", "enc ms", "dec ms"):
        assert column in header
    rows = [line.split() for line in stdout.splitlines() if re.match(r"^(32|-1)\s+DS\s", line)]
    assert len(rows) == 3 * len(QUALITIES) * 2
    assert {(row[2], row[3]) for row in rows} == {(s, str(q)) for s in ("Pan_64x64_25.yuv", "pan.y4m", "panpng") for q in QUALITIES}
    assert all(row[7] == "-" for row in rows)  # no MS-SSIM at 64x64
    assert "wrote" in stdout and "res_ip32.json" in stdout


def test_plot_is_written(main_run: dict[str, Any]) -> None:
    if importlib.util.find_spec("lvc_zoo.eval.plots") is None:
        pytest.skip("lvc_zoo.eval.plots is not in this checkout (another developer adds it)")
    png = main_run["out"] / "rd.png"
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- rate and decode
@pytest.mark.slow
def test_real_bpp_comes_from_the_file_and_differs_from_the_estimate(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / "DS" / "Pan_64x64_25.yuv"
    common = [*SMALL, "--input", source, "--qualities", 2, "--intra-period", -1]
    code, _, err = run(["eval", *common, "--json", tmp_path / "real.json", "--output-dir", tmp_path / "streams"])
    assert code == 0, err
    code, out, err = run(["eval", *common, "--json", tmp_path / "est.json", "--estimate"])
    assert code == 0, err
    assert "estimated from the likelihoods" in out
    real = json.loads((tmp_path / "real_ip-1.json").read_text())["DS"][source.name]["q2"]
    estimate = json.loads((tmp_path / "est_ip-1.json").read_text())["DS"][source.name]["q2"]

    stream = tmp_path / "streams" / "DS" / "Pan_64x64_25_ip-1_q2.lvc"
    assert real["file_bytes"] == stream.stat().st_size
    assert real["bpp"] == pytest.approx(8 * stream.stat().st_size / (64 * 64 * 3), rel=1e-12)
    assert real["ave_all_frame_bpp"] == pytest.approx(real["bpp"], rel=1e-12)
    assert (estimate["rate_source"], estimate["file_bytes"], estimate["dec_ms_per_frame"]) == ("estimate", None, None)
    assert estimate["decode_checked"] is False
    assert estimate["bpp"] != pytest.approx(real["bpp"], rel=1e-3)
    assert estimate["bpp"] == pytest.approx(real["bpp_estimated"], rel=1e-6)  # the same likelihoods
    assert estimate["psnr_rgb"] == pytest.approx(real["psnr_rgb"], abs=1e-9)  # the same reconstruction

    # The metrics by hand: decode the kept stream, compare with the source RGB and with the file's own planes.
    codec = build_codec(ModelSource("dcvc_dc", None, "random-small", small=True), torch.device("cpu"))
    decoded = codec.decompress(stream.read_bytes())
    info = probe_video(source)
    raw = np.fromfile(source, dtype=np.uint8).reshape(3, -1)
    frames = [torch.from_numpy(raw[t, : 64 * 64].reshape(64, 64).copy()) for t in range(3)]
    colour = ColourSpace("bt709", "full")
    rgb, _ = read_video(source)
    assert real["psnr_rgb"] == pytest.approx(sum(psnr_rgb(decoded[t], rgb[t]) for t in range(3)) / 3, abs=1e-9)
    y_hat = [to_uint8_planes(*rgb_to_yuv420(decoded[t], colour), colour)[0] for t in range(3)]
    psnr_y = [psnr_from_mse(((y_hat[t].double() - frames[t].double()) ** 2).mean().item(), 255) for t in range(3)]
    assert real["psnr_y"] == pytest.approx(sum(psnr_y) / 3, abs=1e-9)
    assert info.frame_count == 3


def test_a_decode_that_differs_fails_naming_the_sequence(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = VideoCodec.decode_frames

    def tampered(self: VideoCodec, data: bytes) -> Iterator[torch.Tensor]:
        for index, x_hat in enumerate(original(self, data)):
            if index == 1:
                x_hat = x_hat.clone()
                x_hat[0, 0, 5, 7] = 1.0 - x_hat[0, 0, 5, 7]
            yield x_hat

    monkeypatch.setattr(VideoCodec, "decode_frames", tampered)
    argv = ["eval", *SMALL, "--input", data_dir / "DS" / "pan.y4m", "--qualities", 1, "--intra-period", -1]
    code, _, err = run(argv)
    assert_one_line_error(code, err, r"DS/pan\.y4m", r"quality 1", r"intra period -1", r"decoded frame 1 differs")


# ----------------------------------------------------------------------------- inputs and conditions
def test_dataset_json_config(data_dir: Path, tmp_path: Path) -> None:
    config = {
        "root_path": str(Path("..") / data_dir.name),  # relative to the JSON's folder
        "test_classes": {
            "ClassA": {"test": 1, "base_path": "DS", "src_type": "yuv420",
                       "sequences": {"Pan_64x64_25.yuv": {"width": 64, "height": 64, "frames": 3, "intra_period": 2}}},
            "ClassB": {"test": 1, "base_path": "DS", "src_type": "png", "sequences": {"panpng": {"frames": 2}}},
            "ClassC": {"test": 0, "base_path": "missing", "src_type": "yuv420", "sequences": {"gone_64x64_30.yuv": {}}},
        },
    }
    path = data_dir.parent / "configs" / "tests.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(config))
    code, _, err = run(["eval", *SMALL, "--input", path, "--qualities", 1, "--estimate", "--json", tmp_path / "cfg.json"])
    assert code == 0, err
    # ClassA: intra period 2 from its JSON; ClassB: the defaults 32 and -1.
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["cfg_ip-1.json", "cfg_ip2.json", "cfg_ip32.json"]
    a = json.loads((tmp_path / "cfg_ip2.json").read_text())
    assert list(a) == ["ClassA"]
    record = a["ClassA"]["Pan_64x64_25.yuv"]["q1"]
    assert (record["ds_name"], record["frame_count"], record["i_frame_num"], record["p_frame_num"]) == ("ClassA", 3, 2, 1)
    b = json.loads((tmp_path / "cfg_ip32.json").read_text())
    assert list(b) == ["ClassB"] and b["ClassB"]["panpng"]["q1"]["frame_count"] == 2
    # An explicit --frames / --intra-period wins over the JSON.
    code, _, err = run(["eval", *SMALL, "--input", path, "--qualities", 1, "--estimate", "--frames", 1,
                        "--intra-period", -1, "--json", tmp_path / "forced.json"])
    assert code == 0, err
    forced = json.loads((tmp_path / "forced_ip-1.json").read_text())
    assert {r["frame_count"] for *_, r in records(forced)} == {1} and list(forced) == ["ClassA", "ClassB"]


def test_dataset_json_errors_name_the_problem(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"root_path": str(data_dir), "test_classes": {"X": {"src_type": "rgb", "sequences": {}}}}))
    assert_one_line_error(*run(["eval", *SMALL, "--input", bad])[::2], r"bad\.json", "src_type", "yuv420")
    bad.write_text(json.dumps({"root_path": str(data_dir), "test_classes": {"DS": {"sequences": {"nope_64x64_30.yuv": {}}}}}))
    assert_one_line_error(*run(["eval", *SMALL, "--input", bad])[::2], r"DS/nope_64x64_30\.yuv", "does not exist")


@pytest.mark.slow
def test_msssim_is_computed_at_192_pixels(tmp_path: Path) -> None:
    frames = clip(192, frames=2)
    write_video(tmp_path / "Big" / "big.y4m", frames)
    write_video(tmp_path / "Big" / "bigpng", frames)
    argv = ["eval", *SMALL, "--input", tmp_path / "Big", "--qualities", 3, "--intra-period", -1, "--estimate", "--json", tmp_path / "big.json"]
    code, out, err = run(argv)
    assert code == 0, err
    data = json.loads((tmp_path / "big_ip-1.json").read_text())["Big"]  # a folder of sequences: its name is the dataset
    png, y4m = data["bigpng"]["q3"], data["big.y4m"]["q3"]
    for record in (png, y4m):
        assert 0 < record["msssim_rgb"] <= 1 and 0 < record["ave_all_frame_msssim_y"] <= 1
        assert record["ave_all_frame_msssim_u"] is None and "chroma" in record["msssim_reason"]
    assert png["ave_all_frame_msssim"] == pytest.approx(png["msssim_rgb"])  # rgb kind
    assert y4m["ave_all_frame_msssim"] is None  # yuv611 needs the 96x96 chroma planes
    assert f"{png['msssim_rgb']:.4f}" in out


def test_source_planes_are_the_files_own_codes(tmp_path: Path) -> None:
    frames = clip(64, frames=2)
    colour = ColourSpace("bt709", "full")
    expected = [to_uint8_planes(*rgb_to_yuv420(f, colour), colour) for f in frames]
    for name in ("s_64x64_30.yuv", "s.y4m", "s.mp4"):
        path = write_video(tmp_path / name, frames, VideoInfo.of(frames, colour=colour), **({"lossless": True} if name.endswith("mp4") else {}))
        info = probe_video(path)
        planes = list(source_planes(path, info, 5))
        assert len(planes) == 2
        for got, want in zip(planes, expected):
            for g, w in zip(got, want):
                assert torch.equal(g, w), name
    png = write_video(tmp_path / "p", frames)
    assert source_planes(png, probe_video(png), 2) is None


def test_collect_sequences_from_folders_and_duplicates(data_dir: Path, tmp_path: Path) -> None:
    sequences = collect_sequences([data_dir / "DS"])
    assert [(s.dataset, s.name) for s in sequences] == [("DS", "Pan_64x64_25.yuv"), ("DS", "pan.y4m"), ("DS", "panpng")]
    with pytest.raises(InputError, match="both sequence DS/pan.y4m"):
        collect_sequences([data_dir / "DS" / "pan.y4m", data_dir / "DS"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no"):
        collect_sequences([tmp_path / "empty"])
    assert results_path(tmp_path / "r.json", -1).name == "r_ip-1.json"
    assert results_path(tmp_path / "r", 32).name == "r_ip32.json"


# ----------------------------------------------------------------------------- workers
@pytest.mark.slow
def test_two_workers_give_the_same_numbers_as_one(data_dir: Path, tmp_path: Path) -> None:
    ds = data_dir / "DS"
    common = [*SMALL, "--input", ds / "Pan_64x64_25.yuv", ds / "panpng", "--qualities", 1, "--intra-period", -1, "--threads", 1]
    assert run(["eval", *common, "--json", tmp_path / "one.json"])[0] == 0
    code, _, err = run(["eval", *common, "--workers", 2, "--json", tmp_path / "two.json"])
    assert code == 0, err
    one = json.loads((tmp_path / "one_ip-1.json").read_text())
    two = json.loads((tmp_path / "two_ip-1.json").read_text())
    assert list(one["DS"]) == list(two["DS"]) == ["Pan_64x64_25.yuv", "panpng"]
    for (*_, a), (*_, b) in zip(records(one), records(two), strict=True):
        assert {k: v for k, v in a.items() if k not in TIMING_FIELDS} == {k: v for k, v in b.items() if k not in TIMING_FIELDS}


# ----------------------------------------------------------------------------- weights and errors
def test_without_weights_the_load_error_is_one_line(data_dir: Path) -> None:
    code, out, err = run(["eval", "--model", "dcvc_dc", "--input", data_dir / "DS" / "pan.y4m"])
    assert_one_line_error(code, err, "no published weights", r"lvc-zoo convert dcvc_dc", r"--random-weights")
    assert "ip " not in out


@pytest.mark.slow
def test_random_weights_say_so(data_dir: Path, tmp_path: Path) -> None:
    argv = ["eval", "--model", "dcvc_dc", "--random-weights", "--input", data_dir / "DS" / "pan.y4m", "--qualities", 0,
            "--intra-period", -1, "--frames", 1, "--estimate", "--json", tmp_path / "r.json"]
    code, out, err = run(argv)
    assert code == 0, err
    assert "weights: random (--random-weights)" in out
    record = json.loads((tmp_path / "r_ip-1.json").read_text())["DS"]["pan.y4m"]["q0"]
    assert record["weights"] == "random initialisation (seed 0)" and record["frame_count"] == 1


@pytest.mark.slow
def test_bundled_weights_are_named_with_their_sha256(data_dir: Path, tmp_path: Path) -> None:
    argv = ["eval", "--model", "dcvc_dc_tiny", "--input", data_dir / "DS" / "pan.y4m", "--qualities", 3,
            "--intra-period", -1, "--frames", 1, "--estimate", "--json", tmp_path / "r.json"]
    code, out, err = run(argv)
    assert code == 0, err
    digest = get_spec("dcvc_dc_tiny").files["model.safetensors"]
    label = f"bundled lvc_zoo/weights/dcvc_dc_tiny (model.safetensors sha256:{digest})"
    assert f"weights: {label}" in out and "hf-hub:None" not in out
    record = json.loads((tmp_path / "r_ip-1.json").read_text())["DS"]["pan.y4m"]["q3"]
    assert record["weights"] == label


@pytest.mark.parametrize(
    ("extra", "patterns"),
    [
        (["--qualities", 7], [r"Quality 7 is out of range", r"0\.\.3"]),
        (["--random-weights", "--weights", "somewhere"], [r"--weights was given with random weights"]),
        (["--estimate", "--output-dir", "x"], [r"--output-dir keeps the stream files"]),
        (["--plot", "rd.jpg"], [r"\.png or \.svg"]),
        (["--intra-period", 0], [r"use -1"]),
    ],
)
def test_bad_options_are_one_line_errors(data_dir: Path, extra: list[Any], patterns: list[str]) -> None:
    code, _, err = run(["eval", *SMALL, "--input", data_dir / "DS" / "pan.y4m", *extra])
    assert_one_line_error(code, err, *patterns)


def test_missing_input_is_one_line_error(tmp_path: Path) -> None:
    code, _, err = run(["eval", *SMALL, "--input", tmp_path / "nothing.yuv"])
    assert_one_line_error(code, err, r"nothing\.yuv does not exist")
