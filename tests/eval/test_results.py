"""Results files in the DCVC layout: the VTM anchor, lvc_zoo's explicit fields, malformed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lvc_testing import require_reference
from lvc_zoo.errors import InputError
from lvc_zoo.eval import RDPoint, load_results

ANCHOR = "anchors/vtm_17.0_yuv420_LB_allf_ip0.json"


def lvc_point(quality: int, bpp: float, **overrides: Any) -> dict[str, Any]:
    """A rate point as `lvc-zoo eval` writes it (RGB source, BT.709)."""
    point = {
        "ave_all_frame_bpp": bpp, "ave_all_frame_psnr": 30.0 + quality, "ave_all_frame_msssim": 0.9,
        "bpp": bpp, "psnr_rgb": 30.0 + quality, "psnr_yuv": 31.5 + quality, "psnr_y": 30.8 + quality,
        "psnr_u": 36.0 + quality, "psnr_v": 37.0 + quality, "msssim_rgb": 0.95 + 0.01 * quality,
        "enc_ms_per_frame": 120.0, "dec_ms_per_frame": 80.0, "psnr_kind": "rgb", "colour_matrix": "bt709",
        "frame_count": 96, "intra_period": -1, "model": "dcvc_dc", "quality": quality,
    }
    point.update(overrides)
    return point


def write(tmp_path: Path, data: Any, name: str = "results.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_vtm_anchor_loads_with_stated_kind() -> None:
    results = load_results(require_reference(ANCHOR))
    assert list(results.datasets) == ["UVG", "MCL-JCV", "HEVC_B", "HEVC_E", "HEVC_C", "HEVC_D"]
    assert sum(1 for _ in results.sequences()) == 53
    points = results.datasets["UVG"]["Beauty_1920x1080_120fps_420_8bit_YUV.yuv"]
    assert len(points) == 10
    assert [p.bpp for p in points] == sorted(p.bpp for p in points)
    qp22 = next(p for p in points if p.rate_key == "022")
    assert qp22 == RDPoint("022", 0.057281, 40.086706, 0.982, "yuv611", None)
    assert results.psnr_kinds == {"yuv611"}
    assert results.name == "vtm_17.0_yuv420_LB_allf_ip0"


def test_kind_and_matrix_arguments_apply_to_files_without_lvc_zoo_fields(tmp_path: Path) -> None:
    path = write(tmp_path, {"D": {"s.yuv": {"0": {"ave_all_frame_bpp": 0.1, "ave_all_frame_psnr": 33.0}}}})
    point = load_results(path, psnr_kind="rgb", colour_matrix="bt601").datasets["D"]["s.yuv"][0]
    assert point == RDPoint("0", 0.1, 33.0, None, "rgb", "bt601")


def test_lvc_zoo_fields_win(tmp_path: Path) -> None:
    data = {"UVG": {"Beauty.yuv": {"3": lvc_point(3, 0.2), "0": lvc_point(0, 0.05)}}}
    results = load_results(write(tmp_path, data), psnr_kind="yuv611", colour_matrix="bt601")
    assert results.datasets["UVG"]["Beauty.yuv"] == [
        RDPoint("0", 0.05, 30.0, 0.95, "rgb", "bt709"),  # sorted by bpp; psnr_rgb as psnr_kind says
        RDPoint("3", 0.2, 33.0, 0.98, "rgb", "bt709"),
    ]
    assert results.name == "dcvc_dc"


def test_yuv611_kind_reads_psnr_yuv_and_null_matrix(tmp_path: Path) -> None:
    point = lvc_point(1, 0.1, psnr_kind="yuv611", colour_matrix=None, msssim_rgb=None, ave_all_frame_msssim=None)
    loaded = load_results(write(tmp_path, {"D": {"s.yuv": {"1": point}}})).datasets["D"]["s.yuv"][0]
    assert loaded == RDPoint("1", 0.1, 32.5, None, "yuv611", None)


def test_name_is_the_file_stem_when_models_differ(tmp_path: Path) -> None:
    data = {"D": {"s": {"0": lvc_point(0, 0.1, model="a"), "1": lvc_point(1, 0.2, model="b")}}}
    assert load_results(write(tmp_path, data, "mixed.json")).name == "mixed"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "the top level \\(datasets\\) must be a JSON object, got list"),
        ({}, "no datasets"),
        ({"D": []}, "dataset 'D' must be a JSON object"),
        ({"D": {"s": {}}}, "D/s has no rate points"),
        ({"D": {"s": {"0": 3}}}, "D/s/0 must be a JSON object"),
        ({"D": {"s": {"0": {"ave_all_frame_psnr": 30.0}}}}, "D/s/0: missing 'bpp' or 'ave_all_frame_bpp'"),
        ({"D": {"s": {"0": {"ave_all_frame_bpp": 0.1}}}}, "D/s/0: missing 'psnr_yuv' or 'ave_all_frame_psnr'"),
        ({"D": {"s": {"0": {"ave_all_frame_bpp": "0.1", "ave_all_frame_psnr": 30}}}}, "'ave_all_frame_bpp' must be a finite number"),
        ({"D": {"s": {"0": {"ave_all_frame_bpp": 0.0, "ave_all_frame_psnr": 30}}}}, "bpp must be > 0"),
        ({"D": {"s": {"0": lvc_point(0, 0.1, psnr_kind="yuv444")}}}, "psnr_kind must be one of yuv611, rgb, got 'yuv444'"),
        ({"D": {"s": {"0": lvc_point(0, 0.1, colour_matrix="bt2020")}}}, "colour_matrix must be one of bt709, bt601"),
    ],
)
def test_malformed_files_name_path_and_problem(tmp_path: Path, data: Any, match: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(InputError, match=match) as caught:
        load_results(path)
    assert str(caught.value).startswith(str(path))


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.json: results file not found"):
        load_results(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        load_results(bad)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"D": {"s": {"0": {"ave_all_frame_bpp": 0.1, "ave_all_frame_psnr": 30.0}}}})
    with pytest.raises(InputError, match="psnr_kind must be one of yuv611, rgb, got 'y'"):
        load_results(path, psnr_kind="y")
    with pytest.raises(InputError, match="colour_matrix must be one of bt709, bt601, got 'BT709'"):
        load_results(path, colour_matrix="BT709")
