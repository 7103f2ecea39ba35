"""`lvc-zoo` subcommands through `main(argv)`: output, exit codes, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.cli.main import main
from lvc_zoo.coding.bitstream import read_stream
from lvc_zoo.data import read_video
from lvc_zoo.models import DCVCDC, DCVCDCConfig, VideoCodec

ROW = re.compile(r"^\s+(\d+)\s+([IP])\s+(\d+)\s+(\d+\.\d{4})\s+(\d+)\s+(-?\d+\.\d\d|inf)\s+(\d+)\s+(\d+)$")
"""A demo table row: frame, type, bits in the file, bpp, estimated bits, PSNR, enc ms, dec ms."""


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
    assert code == 0 and all(command in out for command in ("convert", "encode", "decode", "demo"))


def test_convert_unknown_model_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["convert", "dcvc_dx", "--intra", "i.pth.tar", "--inter", "p.pth.tar", "-o", str(tmp_path)], capsys)
    assert_one_line_error(code, err, r"Unknown model 'dcvc_dx'\. Did you mean 'dcvc_dc'[,?]")


def test_convert_missing_checkpoint_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.pth.tar"
    code, _, err = run(["convert", "dcvc_dc", "--intra", str(missing), "--inter", str(missing), "-o", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, r"missing\.pth\.tar does not exist")


def test_missing_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["convert", "dcvc_dc"], capsys)
    assert_one_line_error(code, err, r"required: --intra, --inter, -o/--output \(see `lvc-zoo convert --help`\)")


@pytest.mark.slow
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


def test_demo_writes_its_files_and_reports_an_exact_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default output directory is ./lvc_zoo_demo
    code, out, err = run(["demo", "--small", "--frames", "3", "--size", "80x64", "--quality", "1", "--device", "cpu"], capsys)
    assert code == 0 and err == "", err
    assert "dcvc_dc_tiny at quality 1 on cpu" in out
    assert "clip: 3 frames of 80x64" in out
    assert "weights: random weights (pretrained=False), so PSNR is meaningless" in out and "(reduced test widths)" in out
    assert "(random weights: demo.lvc decodes only with the weights of this run" in out
    out_dir = tmp_path / "lvc_zoo_demo"
    assert sorted(p.name for p in out_dir.iterdir()) == ["decoded.y4m", "demo.lvc", "input.y4m"]
    assert f"wrote {Path('lvc_zoo_demo')}/: input.y4m" in out
    assert out.rstrip().endswith("decode matches the encoder: max |diff| = 0")

    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["frame", "type", "bits", "bpp", "est.", "bits", "RGB", "PSNR", "dB", "enc", "ms", "dec", "ms"])
    rows = [ROW.match(line) for line in lines[header + 1 : header + 4]]
    assert all(rows), lines[header + 1 : header + 4]
    assert [r.group(2) for r in rows] == ["I", "P", "P"]
    stream_header, frames = read_stream((out_dir / "demo.lvc").read_bytes())
    payload_bits = [8 * sum(len(chunk) for chunk in frame.chunks.values()) for frame in frames]
    assert [int(r.group(3)) for r in rows] == payload_bits  # "bits" are the bits in the file
    for r in rows:  # bpp = bits / (80 * 64), both rounded for printing; the estimate is close to the file
        assert float(r.group(4)) == pytest.approx(int(r.group(3)) / (80 * 64), abs=1e-3)
        assert int(r.group(5)) == pytest.approx(int(r.group(3)), rel=0.2, abs=200)
    total = lines[header + 4].split()
    assert total[0] == "total" and int(total[1]) == sum(payload_bits)
    assert (stream_header.width, stream_header.height, stream_header.frame_count, stream_header.quality) == (80, 64, 3, 1)
    decoded, info = read_video(out_dir / "decoded.y4m")
    assert tuple(decoded.shape) == (3, 3, 64, 80) and info.fps == stream_header.fps


@pytest.mark.slow
def test_demo_exits_non_zero_when_the_decode_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    decode_frames = VideoCodec.decode_frames
    monkeypatch.setattr(VideoCodec, "decode_frames", lambda self, data: (x.mul(0.5) for x in decode_frames(self, data)))
    code, out, _ = run(["demo", "--small", "--frames", "2", "--size", "64x64", "--device", "cpu", "--output-dir", str(tmp_path)], capsys)
    assert code == 1
    assert re.search(r"decode DIFFERS from the encoder: max \|diff\| = 0\.\d+", out)


@pytest.mark.slow
def test_demo_with_weights_says_where_they_come_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = lvc_zoo.save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path / "small")
    out_dir = tmp_path / "demo"
    argv = ["demo", "--model", "dcvc_dc", "--weights", str(weights), "--frames", "2", "--size", "64x64", "--quality", "0"]
    code, out, _ = run([*argv, "--device", "cpu", "--output-dir", str(out_dir)], capsys)
    assert code == 0
    assert "lvc-zoo demo: dcvc_dc at quality 0" in out
    assert f"weights: loaded from {weights}" in out and "random weights" not in out
    assert f"lvc-zoo decode {out_dir / 'demo.lvc'} -o decoded.y4m --weights {weights}" in out


@pytest.mark.slow
def test_demo_of_a_model_without_published_weights_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Full dcvc_dc widths, random weights: 32x32 and one frame keep it quick."""
    argv = ["demo", "--model", "dcvc-dc", "--frames", "1", "--size", "64x64", "--quality", "0", "--device", "cpu"]
    code, out, _ = run([*argv, "--output-dir", str(tmp_path)], capsys)
    assert code == 0
    assert "weights: random weights (pretrained=False), so PSNR is meaningless" in out
    assert "(dcvc_dc has no published weights yet; pass --weights DIR)" in out


@pytest.mark.slow
def test_demo_by_default_runs_the_bundled_model_and_its_stream_decodes_with_lvc_zoo_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--frames", "2", "--size", "64x64", "--quality", "3", "--device", "cpu", "--output-dir", str(tmp_path)]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "lvc-zoo demo: dcvc_dc_tiny at quality 3" in out
    assert "weights: the trained dcvc_dc_tiny weights bundled with lvc_zoo" in out
    assert f"decode it again with: lvc-zoo decode {tmp_path / 'demo.lvc'} -o decoded.y4m\n" in out
    assert main(["decode", str(tmp_path / "demo.lvc"), "-o", str(tmp_path / "again.y4m"), "--device", "cpu"]) == 0
    assert torch.equal(read_video(tmp_path / "again.y4m")[0], read_video(tmp_path / "decoded.y4m")[0])


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--size", "64"], r"argument --size: '64' is not WIDTHxHEIGHT"),
        (["--size", "4096x64"], r"source width of 4128 px .* image has 600 px"),
        (["--frames", "0"], r"frames must be a positive integer"),
        (["--quality", "9"], r"Quality 9 is out of range for 'dcvc_dc_tiny': use an integer in 0\.\.3"),
        (["--model", "dcvc_dd"], r"Unknown model 'dcvc_dd'.*dcvc_dc"),
        (["--image", "lena"], r"argument --image: invalid choice: 'lena'"),
        (["--device", "gpu0"], r"argument --device: 'gpu0' is not a device name"),
    ],
)
def test_demo_bad_input_is_one_line(argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["demo", "--small", "--output-dir", str(tmp_path / "demo"), *argv], capsys)
    assert_one_line_error(code, err, match)
    assert not (tmp_path / "demo").exists()


RD_ROW = re.compile(r"^\s+(\d)\s+(\d+\.\d{4})\s+(\d+\.\d)\s+(-?\d+\.\d\d|inf)\s+(\d+)\s+(\d+)\s+(\d+\.\d\d)\s+(\d+\.\d{4})\s+(\d+)\s+(\d+)$")
"""A demo RD row: quality, bpp, kbps, RGB PSNR, I bits, mean P bits, P/I, file/estimate, enc ms, dec ms."""


@pytest.mark.slow
def test_demo_without_quality_sweeps_every_quality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo", "--small", "--frames", "2", "--size", "64x64", "--device", "cpu", "--output-dir", str(tmp_path)], capsys)
    assert code == 0 and "qualities 0..3" in out
    rows = [m for m in map(RD_ROW.match, out.splitlines()) if m]
    assert [int(m.group(1)) for m in rows] == [0, 1, 2, 3]
    header, frames = read_stream((tmp_path / "demo.lvc").read_bytes())
    assert header.quality == 3  # the stream kept is the best quality's
    best_bits = sum(8 * sum(len(c) for c in frame.chunks.values()) for frame in frames)
    assert float(rows[-1].group(2)) == pytest.approx(best_bits / (64 * 64 * 2), abs=1e-4)
    assert float(rows[-1].group(3)) == pytest.approx(best_bits / 2 * 30 / 1000, abs=0.05)  # kbps at the clip's 30 fps
    assert "x264 on the same frames (libx264 veryslow, tune psnr, 4:2:0; RGB PSNR as above):" in out
    assert "no BD-rate: x264's lowest quality (CRF 51)" in out  # random weights: far below x264's range
    assert out.rstrip().endswith("decode matches the encoder: max |diff| = 0")


@pytest.mark.parametrize("argv", [["--help"], ["list"]])
def test_help_and_list_import_neither_torch_nor_lightning(argv: list[str]) -> None:
    """A fresh interpreter runs `lvc-zoo --help` / `lvc-zoo list`, then reports what it imported."""
    probe = (
        "import sys\nfrom lvc_zoo.cli.main import main\ncode = main(sys.argv[1:])\n"
        "print(sorted(m for m in ('torch', 'lightning', 'numpy') if m in sys.modules), code)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines()[-1] == "[] 0"
    assert ("dcvc_dc_tiny" in done.stdout) == (argv == ["list"])
