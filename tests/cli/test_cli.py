"""`lvc-zoo` subcommands through `main(argv)`: output, exit codes, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.cli.main import main
from lvc_zoo.models import DCVCDC, DCVCDCConfig

ROW = re.compile(r"^\s+(\d+)\s+([IP])\s+(\d+)\s+(\d+\.\d{4})\s+(-?\d+\.\d\d|inf)\s+(\d+)$")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("lvc-zoo: error: "), err
    assert re.search(match, err), err
    assert "Traceback" not in err


def test_list_prints_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["model", "aliases", "qualities", "weights"]
    row = next(line for line in lines if line.startswith("dcvc_dc "))
    assert "dcvc-dc" in row and "0..3" in row and "none published" in row and "CVPR 2023" in row
    assert len(lines) == 1 + len(lvc_zoo.list_models())


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "convert" in out and "demo" in out


def test_convert_unknown_model_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["convert", "dcvc_dx", "--intra", "i.pth.tar", "--inter", "p.pth.tar", "-o", str(tmp_path)], capsys)
    assert_one_line_error(code, err, r"Unknown model 'dcvc_dx'\. Did you mean 'dcvc_dc'\?")


def test_convert_missing_checkpoint_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.pth.tar"
    code, _, err = run(["convert", "dcvc_dc", "--intra", str(missing), "--inter", str(missing), "-o", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, r"missing\.pth\.tar does not exist")


def test_missing_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["convert", "dcvc_dc"], capsys)
    assert_one_line_error(code, err, r"required: --intra, --inter, -o/--output \(see `lvc-zoo convert --help`\)")


def test_convert_official_checkpoints_end_to_end(refgen, reference_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Official-format .pth.tar files -> `lvc-zoo convert` -> a directory load() reads back."""
    intra = refgen.state_dict_from_spec(reference_dir / "dcvc_dc" / "spec_i_ladder.json")
    inter = refgen.state_dict_from_spec(reference_dir / "dcvc_dc" / "spec_p_ladder.json")
    torch.save({"state_dict": {k: torch.as_tensor(v) for k, v in intra.items()}}, tmp_path / "i.pth.tar")
    torch.save({k: torch.as_tensor(v) for k, v in inter.items()}, tmp_path / "p.pth.tar")
    out_dir = tmp_path / "dcvc_dc"
    code, out, _ = run(["convert", "dcvc-dc", "--intra", str(tmp_path / "i.pth.tar"), "--inter", str(tmp_path / "p.pth.tar"), "-o", str(out_dir)], capsys)
    assert code == 0 and f"weights={str(out_dir)!r}" in out
    codec = lvc_zoo.load("dcvc_dc", weights=out_dir)
    assert type(codec) is DCVCDC
    expected = lvc_zoo.convert_official("dcvc_dc", intra=intra, inter=inter)
    state = codec.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], expected[key]) for key in expected)
    assert "Converted from the authors' official checkpoints" in (out_dir / "README.md").read_text()


def test_demo_prints_a_row_per_frame_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo", "--small", "--frames", "3", "--size", "64x48", "--quality", "1", "--device", "cpu"], capsys)
    assert code == 0
    assert "dcvc_dc at quality 1 on cpu" in out
    assert "clip: 3 frames of 64x48" in out
    assert "weights: random weights (pretrained=False): no trained dcvc_dc weights ship yet, so PSNR is meaningless" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["frame", "type", "bits", "bpp", "PSNR", "dB", "ms"])
    rows = [ROW.match(line) for line in lines[header + 1 : header + 4]]
    assert all(rows), lines[header + 1 : header + 4]
    assert [r.group(2) for r in rows] == ["I", "P", "P"]
    bits = [int(r.group(3)) for r in rows]
    assert all(b > 0 for b in bits)
    for r in rows:  # bpp = bits / (64 * 48), both rounded for printing
        assert float(r.group(4)) == pytest.approx(int(r.group(3)) / (64 * 48), abs=1e-3)
    total = lines[header + 4].split()
    assert total[0] == "total" and abs(int(total[1]) - sum(bits)) <= 2


def test_demo_with_weights_says_where_they_come_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = lvc_zoo.save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path / "small")
    code, out, _ = run(["demo", "--weights", str(weights), "--frames", "2", "--size", "32x32", "--device", "cpu"], capsys)
    assert code == 0
    assert f"weights: loaded from {weights}" in out and "random weights" not in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--size", "64"], r"argument --size: '64' is not WIDTHxHEIGHT"),
        (["--size", "4096x64"], r"source width of 4128 px .* image has 512 px"),
        (["--frames", "0"], r"frames must be a positive integer"),
        (["--quality", "9"], r"Quality 9 is out of range for 'dcvc_dc': use an integer in 0\.\.3"),
        (["--image", "lena"], r"argument --image: invalid choice: 'lena'"),
        (["--device", "gpu0"], r"argument --device: 'gpu0' is not a device name"),
    ],
)
def test_demo_bad_input_is_one_line(argv: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["demo", "--small", *argv], capsys)
    assert_one_line_error(code, err, match)
