"""BD-rate and BD-PSNR: hand-computed cases, the `bjontegaard` package's example, tables, the CLI."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.interpolate import PchipInterpolator

from lvc_testing import require_reference
from lvc_zoo.cli.main import main
from lvc_zoo.errors import InputError
from lvc_zoo.eval import bd_psnr, bd_rate, compare, format_table, load_results, parse_results

METHODS = ("pchip", "cubic")
ANCHOR = "anchors/vtm_17.0_yuv420_LB_allf_ip0.json"

RATES = [0.02, 0.045, 0.09, 0.17, 0.31]
PSNRS = [31.2, 33.5, 35.6, 37.4, 39.0]

# The README example of the `bjontegaard` package (FAU-LMS/bjontegaard, PyPI 1.3.0): libx265
# with two presets, kbit/s and dB. The README prints no result, so the expected values were
# obtained by running that package (source at commit aef9b4d, outside this project; it is not
# a dependency): bd_rate / bd_psnr with method "pchip" and "cubic".
BJONTEGAARD_RATE_ANCHOR = [9487.76, 4593.60, 2486.44, 1358.24]
BJONTEGAARD_PSNR_ANCHOR = [40.037, 38.615, 36.845, 34.851]
BJONTEGAARD_RATE_TEST = [9787.80, 4469.00, 2451.52, 1356.24]
BJONTEGAARD_PSNR_TEST = [40.121, 38.651, 36.970, 34.987]
BJONTEGAARD_BD_RATE = {"pchip": -4.417485350589045, "cubic": -4.420462706125383}  # percent
BJONTEGAARD_BD_PSNR = {"pchip": 0.11969278542479489, "cubic": 0.12040941911451103}  # dB


# --------------------------------------------------------------------------------------------
# bd_rate / bd_psnr


@pytest.mark.parametrize("method", METHODS)
def test_rates_times_0_9_at_equal_psnr_is_minus_ten_percent(method: str) -> None:
    assert bd_rate(RATES, PSNRS, [0.9 * r for r in RATES], PSNRS, method) == pytest.approx(-10.0, abs=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_psnr_shift_on_linear_log_rate_has_closed_form(method: str) -> None:
    # log10 R = a + b P for both curves, the test shifted by d dB at equal rate:
    # log10 R_test(P) - log10 R_anchor(P) = -b d  ->  BD-rate = 10^(-b d) - 1, BD-PSNR = d.
    a, b, d = -6.0, 0.12, 0.5
    psnr = np.array([30.0, 32.0, 34.5, 36.0, 38.0, 40.0])
    rate = 10.0 ** (a + b * psnr)
    expected = (10.0 ** (-b * d) - 1.0) * 100.0  # -12.9449...%
    assert bd_rate(rate, psnr, rate, psnr + d, method) == pytest.approx(expected, abs=1e-9)
    assert bd_psnr(rate, psnr, rate, psnr + d, method) == pytest.approx(d, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_bjontegaard_package_example(method: str) -> None:
    args = (BJONTEGAARD_RATE_ANCHOR, BJONTEGAARD_PSNR_ANCHOR, BJONTEGAARD_RATE_TEST, BJONTEGAARD_PSNR_TEST)
    assert bd_rate(*args, method=method) == pytest.approx(BJONTEGAARD_BD_RATE[method], abs=1e-6)
    assert bd_psnr(*args, method=method) == pytest.approx(BJONTEGAARD_BD_PSNR[method], abs=1e-6)


def test_pchip_equals_numeric_integration() -> None:
    """An independent route: quadrature of the interpolants over the shared PSNR interval."""
    test_rates = [0.018, 0.043, 0.081, 0.16, 0.27]
    test_psnrs = [31.0, 33.6, 35.4, 37.6, 38.8]
    lo, hi = max(PSNRS[0], test_psnrs[0]), min(PSNRS[-1], test_psnrs[-1])
    anchor = PchipInterpolator(PSNRS, np.log10(RATES))
    test = PchipInterpolator(test_psnrs, np.log10(test_rates))
    mean_log_ratio = quad(lambda p: test(p) - anchor(p), lo, hi, points=sorted(PSNRS + test_psnrs), limit=200)[0]
    expected = (10.0 ** (mean_log_ratio / (hi - lo)) - 1.0) * 100.0
    assert bd_rate(RATES, PSNRS, test_rates, test_psnrs, "pchip") == pytest.approx(expected, abs=1e-8)


def test_cubic_equals_numeric_integration_of_least_squares_fit() -> None:
    test_rates = [0.018, 0.043, 0.081, 0.16, 0.27]
    test_psnrs = [31.0, 33.6, 35.4, 37.6, 38.8]
    lo, hi = max(PSNRS[0], test_psnrs[0]), min(PSNRS[-1], test_psnrs[-1])
    anchor = np.polynomial.Polynomial.fit(PSNRS, np.log10(RATES), 3)
    test = np.polynomial.Polynomial.fit(test_psnrs, np.log10(test_rates), 3)
    mean_log_ratio = quad(lambda p: test(p) - anchor(p), lo, hi)[0] / (hi - lo)
    expected = (10.0 ** mean_log_ratio - 1.0) * 100.0
    assert bd_rate(RATES, PSNRS, test_rates, test_psnrs, "cubic") == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_order_of_points_does_not_matter(method: str) -> None:
    order = [3, 0, 4, 1, 2]
    test_rates = [0.85 * r for r in RATES]
    shuffled = bd_rate([RATES[i] for i in order], [PSNRS[i] for i in order],
                       [test_rates[i] for i in order], [PSNRS[i] + 0.1 for i in order], method)
    assert shuffled == pytest.approx(bd_rate(RATES, PSNRS, test_rates, [p + 0.1 for p in PSNRS], method), abs=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_swapping_anchor_and_test_inverts_the_rate_ratio(method: str) -> None:
    test_rates, test_psnrs = [0.018, 0.043, 0.081, 0.16, 0.27], [31.0, 33.6, 35.4, 37.6, 38.8]
    forward = bd_rate(RATES, PSNRS, test_rates, test_psnrs, method)
    backward = bd_rate(test_rates, test_psnrs, RATES, PSNRS, method)
    assert (1 + forward / 100) * (1 + backward / 100) == pytest.approx(1.0, abs=1e-12)


def test_pchip_takes_two_points_cubic_needs_four() -> None:
    assert bd_rate([1, 2], [30, 33], [0.9, 1.8], [30, 33], "pchip") == pytest.approx(-10.0)
    with pytest.raises(InputError, match="has 1 points; pchip needs at least 2"):
        bd_rate([1], [30], [0.9, 1.8], [30, 33], "pchip")
    with pytest.raises(InputError, match="test curve has 3 points; cubic needs at least 4"):
        bd_rate(RATES, PSNRS, RATES[:3], PSNRS[:3], "cubic")


@pytest.mark.parametrize(
    ("rates", "psnrs", "match"),
    [
        ([0.1, 0.3, 0.2, 0.4], [30, 32, 34, 36], "both strictly increasing"),  # rate falls as PSNR rises
        ([0.1, 0.2, 0.3, 0.4], [30, 32, 32, 36], "both strictly increasing"),  # repeated PSNR
        ([0.0, 0.2, 0.3, 0.4], [30, 32, 34, 36], "rate <= 0"),
        ([0.1, 0.2, math.nan, 0.4], [30, 32, 34, 36], "non-finite"),
        ([0.1, 0.2, 0.3], [30, 32, 34, 36], "one PSNR per rate"),
    ],
)
def test_bad_curves_are_refused(rates: list[float], psnrs: list[float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        bd_rate(RATES[:4], PSNRS[:4], rates, psnrs, "pchip")


def test_curves_without_overlap_are_refused() -> None:
    with pytest.raises(InputError, match=r"do not overlap in PSNR: anchor 31\.2000\.\.39\.0000 dB, test 40"):
        bd_rate(RATES, PSNRS, RATES, [p + 9 for p in PSNRS])
    with pytest.raises(InputError, match="do not overlap in log10 rate"):
        bd_psnr(RATES, PSNRS, [r * 100 for r in RATES], PSNRS)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(InputError, match="unknown BD-rate method 'akima'; use one of pchip, cubic"):
        bd_rate(RATES, PSNRS, RATES, PSNRS, "akima")


# --------------------------------------------------------------------------------------------
# compare: tables against an anchor


def curves(sequences: dict[str, dict[str, tuple[list[float], list[float]]]], **fields: Any) -> dict:
    """A results dict in the DCVC layout; `fields` are added to every rate point (lvc_zoo fields)."""
    return {
        dataset: {
            sequence: {f"{i}": {"ave_all_frame_bpp": r, "ave_all_frame_psnr": p, **fields} for i, (r, p) in enumerate(zip(*rd))}
            for sequence, rd in seqs.items()
        }
        for dataset, seqs in sequences.items()
    }


def scaled(data: dict, factor: float) -> dict:
    """A deep copy of a DCVC-layout dict with every bpp multiplied by `factor`."""
    data = copy.deepcopy(data)
    for sequences in data.values():
        for points in sequences.values():
            for point in points.values():
                point["ave_all_frame_bpp"] *= factor
    return data


@pytest.fixture(scope="module")
def vtm_anchor_file() -> Path:
    return require_reference(ANCHOR)


@pytest.mark.parametrize("method", METHODS)
def test_vtm_anchor_scaled_by_0_9_is_minus_ten_percent_everywhere(vtm_anchor_file: Path, method: str) -> None:
    """The acceptance check: the shipped VTM anchor with every rate * 0.9 against itself."""
    anchor = load_results(vtm_anchor_file)
    data = json.loads(vtm_anchor_file.read_text())
    table = compare(parse_results(scaled(data, 0.9), source="scaled"), anchor, method)
    assert len(table.sequences) == sum(len(sequences) for sequences in data.values()) == 53
    assert [row.dataset for row in table.datasets] == list(data)
    for value in [row.bd_rate for row in table.sequences] + [row.bd_rate for row in table.datasets] + [table.average]:
        assert value == pytest.approx(-10.0, abs=1e-9)
    assert table.only_in_results == table.only_in_anchor == ()
    assert table.psnr_kind == "yuv611" and table.method == method


def test_dataset_mean_and_average_over_datasets() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    anchor = parse_results(curves({"A": {"a1": base, "a2": base}, "B": {"b1": base}}), source="anchor")
    factors = {"a1": 0.9, "a2": 0.7, "b1": 1.1}
    results = parse_results(
        curves({"A": {s: ([f * r for r in base[0]], base[1]) for s, f in factors.items() if s != "b1"},
                "B": {"b1": ([1.1 * r for r in base[0]], base[1])}}),
        source="results",
    )
    table = compare(results, anchor, "cubic")
    assert [(row.dataset, row.sequence_count) for row in table.datasets] == [("A", 2), ("B", 1)]
    assert table.datasets[0].bd_rate == pytest.approx(-20.0)  # mean of -10 and -30
    assert table.datasets[1].bd_rate == pytest.approx(10.0)
    assert table.average == pytest.approx(-5.0)  # mean of the dataset means, not of the 3 sequences


def test_sequences_on_one_side_only_are_listed_and_skipped() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    anchor = parse_results(curves({"A": {"a1": base, "a2": base}, "C": {f"c{i}": base for i in range(4)}}), source="anchor")
    results = parse_results(scaled(curves({"A": {"a1": base, "a3": base}, "B": {"b1": base}}), 0.9), source="results")
    table = compare(results, anchor)
    assert [(row.dataset, row.sequence) for row in table.sequences] == [("A", "a1")]
    assert table.only_in_results == ("A/a3", "B/b1")
    assert table.only_in_anchor == ("A/a2", "C/c0", "C/c1", "C/c2", "C/c3")
    text = format_table(table)
    assert "skipped, not in the anchor (2): A/a3, B/b1" in text
    assert "skipped, not in the results (5): A/a2, C (4 sequences)" in text  # long lists are summarised


def test_no_sequence_in_common_is_refused() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    with pytest.raises(InputError, match="results and anchor have no sequence in common"):
        compare(parse_results(curves({"A": {"x": base}}), source="results"),
                parse_results(curves({"A": {"y": base}}), source="anchor"))


def test_different_psnr_kinds_are_refused() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    anchor = parse_results(curves({"A": {"a1": base}}), source="anchor.json")  # yuv611 by default
    results = parse_results(curves({"A": {"a1": base}}, psnr_kind="rgb", colour_matrix="bt709"),
                            source="results.json")
    with pytest.raises(InputError, match=r"A/a1: cannot compare PSNR kinds rgb \(results.json\) and yuv611 \(anchor.json\)"):
        compare(results, anchor)
    rgb_anchor = parse_results(curves({"A": {"a1": base}}), source="anchor.json", psnr_kind="rgb")
    with pytest.raises(InputError, match="cannot compare PSNR kinds yuv611 .* and rgb"):
        compare(anchor, rgb_anchor)


def test_one_table_holds_one_psnr_kind() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    data = curves({"A": {"a1": base}})
    data["B"] = curves({"B": {"b1": base}}, psnr_kind="rgb")["B"]
    both = parse_results(data, source="both.json")
    with pytest.raises(InputError, match=r"the compared sequences mix PSNR kinds \(rgb, yuv611\)"):
        compare(both, both)


def test_different_colour_matrices_are_refused_unknown_matches_any() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    bt709 = parse_results(curves({"A": {"a1": base}}, psnr_kind="yuv611", colour_matrix="bt709"), source="r709.json")
    bt601 = parse_results(curves({"A": {"a1": base}}), source="a601.json", colour_matrix="bt601")
    native = parse_results(curves({"A": {"a1": base}}), source="native.json")  # colour_matrix None
    with pytest.raises(InputError, match=r"A/a1: cannot compare PSNRs measured after different colour matrices \(bt601, bt709\)"):
        compare(bt709, bt601)
    assert compare(bt709, native).average == pytest.approx(0.0, abs=1e-12)
    assert compare(native, bt601).average == pytest.approx(0.0, abs=1e-12)


def test_a_failing_sequence_is_named() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    high = ([0.02, 0.05, 0.1, 0.2], [42.0, 44.0, 46.0, 48.0])
    with pytest.raises(InputError, match="^A/a1: the curves do not overlap in PSNR"):
        compare(parse_results(curves({"A": {"a1": high}})), parse_results(curves({"A": {"a1": base}})))


def test_format_table_rows() -> None:
    base = ([0.02, 0.05, 0.1, 0.2], [32.0, 34.0, 36.0, 38.0])
    anchor = parse_results(curves({"A": {"a1": base, "a2": base}}))
    text = format_table(compare(parse_results(scaled(curves({"A": {"a1": base, "a2": base}}), 0.9)), anchor))
    lines = text.splitlines()
    assert lines[0].startswith("BD-rate (pchip, bpp vs PSNR yuv611")
    assert lines[1].split() == ["dataset", "sequence", "BD-rate"]
    assert lines[2].split() == ["A", "a1", "-10.00", "%"]
    assert lines[3].split() == ["A", "a2", "-10.00", "%"]
    assert lines[4].split() == ["A", "(mean", "of", "2)", "-10.00", "%"]
    assert lines[5].split() == ["average", "(mean", "of", "1", "dataset)", "-10.00", "%"]


# --------------------------------------------------------------------------------------------
# lvc-zoo bdrate


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_cli_prints_the_table(vtm_anchor_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              method: str) -> None:
    results = tmp_path / "scaled.json"
    results.write_text(json.dumps(scaled(json.loads(vtm_anchor_file.read_text()), 0.9)))
    plot = tmp_path / "rd.png"
    code = main(["bdrate", str(results), "--anchor", str(vtm_anchor_file), "--method", method, "--plot", str(plot)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"BD-rate ({method}, bpp vs PSNR yuv611" in out
    assert re.search(r"^UVG\s+Beauty_1920x1080_120fps_420_8bit_YUV\.yuv\s+-10\.00 %$", out, re.M)
    assert re.search(r"^HEVC_B\s+\(mean of 5\)\s+-10\.00 %$", out, re.M)
    assert re.search(r"^average\s+\(mean of 6 datasets\)\s+-10\.00 %$", out, re.M)
    assert out.count("-10.00 %") == 53 + 6 + 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_different_kinds_in_one_line(vtm_anchor_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bdrate", str(vtm_anchor_file), "--anchor", str(vtm_anchor_file), "--anchor-kind", "rgb"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("lvc-zoo: error: ") and "Traceback" not in err
    assert "cannot compare PSNR kinds yuv611" in err and "and rgb" in err


def test_cli_missing_results_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.json"
    code = main(["bdrate", str(missing), "--anchor", str(missing)])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1
    assert re.search(r"missing\.json: results file not found", err)


def test_cli_needs_an_anchor(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bdrate", "results.json"])
    _, err = capsys.readouterr()
    assert code == 2 and "--anchor" in err and err.count("\n") == 1
