"""RD plots: valid PNG and SVG files, labelled axes, dataset selection, clear errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import pytest

from lvc_zoo.errors import InputError
from lvc_zoo.eval import Results, parse_results, plot_rd

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def results(scale: float, psnr_kind: str = "yuv611", msssim: bool = True) -> Results:
    """Two datasets, two sequences each, four rate points."""
    def point(i: int, offset: float) -> dict:
        fields = {"ave_all_frame_bpp": scale * 0.02 * 2**i, "ave_all_frame_psnr": 30.0 + 2 * i + offset}
        return fields | ({"ave_all_frame_msssim": 0.9 + 0.02 * i} if msssim else {})

    data = {dataset: {f"{dataset}_{s}.yuv": {f"{i}": point(i, s) for i in range(4)} for s in range(2)}
            for dataset in ("UVG", "HEVC_B")}
    return parse_results(data, source=f"scale{scale}.json", psnr_kind=psnr_kind)


def svg_text(path: Path) -> str:
    """All text in an SVG written with svg.fonttype "none" (text kept as <text> elements)."""
    return " ".join(element.text or "" for element in ET.parse(path).getroot().iter() if element.tag.endswith("text"))


def test_png_is_written(tmp_path: Path) -> None:
    path = plot_rd({"model": results(0.8), "VTM": results(1.0)}, tmp_path / "rd.png")
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rd.png"]  # no partial file left


@pytest.mark.slow
def test_svg_has_labelled_axes_one_subplot_per_dataset(tmp_path: Path) -> None:
    path = tmp_path / "rd.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        plot_rd({"model": results(0.8), "VTM": results(1.0)}, path)
    assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    text = svg_text(path)
    assert text.count("PSNR YUV 6:1:1 (dB)") == 2 and text.count("rate (bpp, bits per pixel)") == 2
    assert "UVG" in text and "HEVC_B" in text
    assert text.count("model") == 2 and text.count("VTM") == 2  # a legend per subplot


def test_one_dataset_rgb_kind_and_msssim(tmp_path: Path) -> None:
    path = tmp_path / "rd.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        plot_rd({"model": results(0.8, "rgb")}, path, dataset="HEVC_B")
    text = svg_text(path)
    assert "HEVC_B" in text and "UVG" not in text and "PSNR RGB (dB)" in text
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        plot_rd({"model": results(0.8)}, path, metric="msssim")
    assert svg_text(path).count("MS-SSIM") == 2


def test_errors(tmp_path: Path) -> None:
    curves = {"model": results(0.8)}
    with pytest.raises(InputError, match="use a .png or .svg file name"):
        plot_rd(curves, tmp_path / "rd.jpg")
    with pytest.raises(InputError, match="dataset 'MCL-JCV' is in none of the results; available: UVG, HEVC_B"):
        plot_rd(curves, tmp_path / "rd.png", dataset="MCL-JCV")
    with pytest.raises(InputError, match="unknown plot metric 'ssim'"):
        plot_rd(curves, tmp_path / "rd.png", metric="ssim")
    with pytest.raises(InputError, match="nothing to plot: no msssim values"):
        plot_rd({"model": results(0.8, msssim=False)}, tmp_path / "rd.png", metric="msssim")
    with pytest.raises(InputError, match="at least one results file"):
        plot_rd({}, tmp_path / "rd.png")
    assert list(tmp_path.iterdir()) == []
