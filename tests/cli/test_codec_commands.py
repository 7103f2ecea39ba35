"""`lvc-zoo encode` / `lvc-zoo decode` through `main(argv)`: round trips, headers, bad input."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import skimage.data
import torch

import lvc_zoo
from lvc_zoo.cli import codec_commands
from lvc_zoo.cli.main import main
from lvc_zoo.coding.bitstream import FORMAT_VERSION, read_header, read_stream, write_stream
from lvc_zoo.data import ColourSpace, VideoInfo, pan_clip, probe_video, read_video, write_video
from lvc_zoo.models import DCVCDC, DCVCDCConfig

QUALITY = 2
SOURCE_COLOUR = ColourSpace("bt601", "limited")
SUMMARY_SIZE = re.compile(r"^size: (\d+) bytes, (\d+\.\d{4}) bpp, (\d+\.\d) kbps at (\S+) fps$", re.MULTILINE)
SUMMARY_PSNR = re.compile(r"^PSNR: (-?\d+\.\d\d) dB", re.MULTILINE)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, match: str, expected_code: int = 2) -> None:
    assert code == expected_code
    assert err.count("\n") == 1 and err.startswith("lvc-zoo: error: "), err
    assert re.search(match, err), err
    assert "Traceback" not in err


def assert_nothing_written(directory: Path, *names: str) -> None:
    """Neither the outputs nor a hidden partial file are left in `directory`."""
    for name in names:
        assert not (directory / name).exists(), name
    assert not [p.name for p in directory.iterdir() if ".partial" in p.name]


def clip(width: int, height: int, frames: int = 3) -> torch.Tensor:
    return pan_clip(skimage.data.astronaut(), frames, (height, width), (2, 4))


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return lvc_zoo.save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path_factory.mktemp("weights") / "w")


@pytest.fixture(scope="module")
def codec(weights: Path) -> DCVCDC:
    return lvc_zoo.load("dcvc_dc", weights=weights)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory, weights: Path) -> tuple[Path, Path]:
    """(a 96x80 .y4m at 25 fps in BT.601 limited range, its stream from `lvc-zoo encode`).

    Y4M records the range but not the matrix, so the encoder is told with --colour.
    """
    directory = tmp_path_factory.mktemp("stream")
    frames = clip(96, 80)
    source = write_video(directory / "clip.y4m", frames, VideoInfo.of(frames, fps=25, colour=SOURCE_COLOUR))
    out = directory / "clip.lvc"
    argv = ["encode", source, "-o", out, "--model", "dcvc_dc", "--quality", QUALITY, "--weights", weights, "--colour", "bt601-limited"]
    assert main([str(a) for a in argv]) == 0
    return source, out


# ----------------------------------------------------------------------------- round trips
INPUTS = [
    # (file name, frame size, extra encode options, expected fps, expected colour)
    ("clip_96x80_25.yuv", (96, 80), [], Fraction(25), ColourSpace("bt709", "full")),
    ("clip.yuv", (96, 80), ["--size", "96x80", "--fps", "30000/1001"], Fraction(30000, 1001), ColourSpace("bt709", "full")),
    ("clip.y4m", (67, 65), ["--colour", "bt601-full"], Fraction(25), ColourSpace("bt601", "full")),
    ("png_frames", (64, 64), ["--fps", "24"], Fraction(24), ColourSpace("bt709", "full")),
    ("clip.mp4", (96, 80), [], Fraction(25), ColourSpace("bt709", "limited")),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "size", "options", "fps", "colour"), INPUTS, ids=[i[0] for i in INPUTS])
def test_encode_decode_round_trip_equals_the_encoder_reconstruction(
    name: str, size: tuple[int, int], options: list[str], fps: Fraction, colour: ColourSpace,
    weights: Path, codec: DCVCDC, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    width, height = size
    frames_in = clip(width, height)
    write_info = VideoInfo.of(frames_in, fps=25, colour=ColourSpace("bt709", "limited") if name.endswith(".mp4") else ColourSpace("bt709", "full"))
    source = write_video(tmp_path / name, frames_in, write_info)
    stream_path = tmp_path / "out" / "clip.lvc"

    code, out, err = run(["encode", source, "-o", stream_path, "--model", "dcvc-dc", "--quality", QUALITY, "--weights", weights, *options], capsys)
    assert code == 0 and err == "", err
    data = stream_path.read_bytes()
    header = read_header(data)
    assert (header.model, header.quality, header.intra_period) == ("dcvc_dc", QUALITY, -1)
    assert (header.width, header.height, header.frame_count) == (width, height, 3)
    assert header.fps == fps
    assert (header.colour_matrix, header.colour_range) == (colour.matrix, colour.range)

    # What the encoder coded: the file as read with the same options; its reconstruction is estimate's.
    size_option = (width, height) if "--size" in options else None
    frames, _ = read_video(source, size=size_option, colour=colour)
    expected = codec.estimate(frames, quality=QUALITY)
    assert torch.equal(codec.decompress(data), expected.recon)

    size_line = SUMMARY_SIZE.search(out)
    assert size_line and int(size_line[1]) == len(data)
    assert float(size_line[2]) == pytest.approx(8 * len(data) / (width * height * 3), abs=1e-4)
    assert float(size_line[3]) == pytest.approx(8 * len(data) * float(fps) / 3 / 1000, abs=0.1)
    assert float(SUMMARY_PSNR.search(out)[1]) == pytest.approx(sum(expected.psnr) / 3, abs=0.01)
    assert f"encoded 3 frames of {width}x{height}" in out and re.search(r"time: \d+ ms/frame encoding on cpu", out)

    decoded = tmp_path / "decoded.y4m"
    code, out, err = run(["decode", stream_path, "-o", decoded, "--weights", weights], capsys)
    assert code == 0 and err == "", err
    assert f"decoded 3 frames of {width}x{height}" in out and re.search(r"time: \d+ ms/frame decoding on cpu", out)
    reference = write_video(tmp_path / "reference.y4m", expected.recon, VideoInfo.of(expected.recon, fps=fps, colour=colour))
    assert decoded.read_bytes() == reference.read_bytes()  # same 8-bit planes, fps and colour tags


@pytest.mark.slow
@pytest.mark.parametrize("output", ["out.yuv", "out.y4m", "png_out", "out.mp4"])
def test_decode_writes_every_output_format(
    output: str, stream: tuple[Path, Path], weights: Path, codec: DCVCDC, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, stream_path = stream
    code, out, err = run(["decode", stream_path, "-o", tmp_path / output, "--weights", weights], capsys)
    assert code == 0 and err == "", err
    colour = SOURCE_COLOUR
    assert (read_header(stream_path.read_bytes()).colour_matrix, read_header(stream_path.read_bytes()).colour_range) == ("bt601", "limited")
    size = (96, 80) if output.endswith(".yuv") else None
    info = probe_video(tmp_path / output, size=size)
    assert (info.width, info.height, info.frame_count) == (96, 80, 3)
    if output.endswith(".mp4"):  # lossy: check what the container records
        assert info.fps == 25 and info.colour == colour
        return
    frames, _ = read_video(source, colour=colour)
    reference = write_video(tmp_path / f"reference_{output}", codec.estimate(frames, quality=QUALITY).recon, replace(info, fps=Fraction(25), colour=colour))
    decoded, _ = read_video(tmp_path / output, size=size, colour=colour)
    expected, _ = read_video(reference, size=size, colour=colour)
    assert torch.equal(decoded, expected)


@pytest.mark.slow
def test_intra_period_and_frames_are_honoured(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_video(tmp_path / "clip.y4m", clip(64, 64, frames=3))
    out = tmp_path / "a.lvc"
    code, _, _ = run(["encode", source, "-o", out, "--model", "dcvc_dc", "--quality", 0, "--weights", weights, "--intra-period", 1, "--frames", 2], capsys)
    assert code == 0
    header, frames = read_stream(out.read_bytes())
    assert (header.frame_count, header.intra_period) == (2, 1)
    assert [f.frame_type for f in frames] == ["I", "I"]


@pytest.mark.slow
def test_progress_bar_only_on_a_terminal_and_not_with_quiet(
    stream: tuple[Path, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, stream_path = stream
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(["decode", stream_path, "-o", tmp_path / "a.y4m", "--weights", weights], capsys)
    assert code == 0 and "decode" in err and "frame" in err
    code, _, err = run(["decode", stream_path, "-o", tmp_path / "b.y4m", "--weights", weights, "--quiet"], capsys)
    assert code == 0 and err == ""


# ----------------------------------------------------------------------------- bad input
def test_encode_bad_input_is_one_line_and_writes_nothing(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_video(tmp_path / "good.y4m", clip(64, 64, frames=2))
    small = write_video(tmp_path / "small.y4m", clip(64, 48, frames=2))
    raw = write_video(tmp_path / "raw_64x64.yuv", clip(64, 64, frames=2))
    (tmp_path / "garbage.mp4").write_bytes(b"not a video" * 100)
    (tmp_path / "empty.yuv").write_bytes(b"")
    base = ["--model", "dcvc_dc", "--quality", 1, "--weights", weights]
    cases = [
        ([good, "--model", "dcvc_dx", "--quality", 1], r"Unknown model 'dcvc_dx'\. Did you mean 'dcvc_dc'[,?]"),
        ([good, "--model", "dcvc_dc", "--quality", 7], r"Quality 7 is out of range for 'dcvc_dc': use an integer in 0\.\.3"),
        ([small, *base], r"small\.y4m is 64x48: lvc-zoo encode needs frames of at least 64x64"),
        ([tmp_path / "missing.y4m", *base], r"missing\.y4m does not exist"),
        ([tmp_path / "garbage.mp4", *base], r"garbage\.mp4 cannot be opened as a video"),
        ([tmp_path / "empty.yuv", "--size", "64x64", *base], r"empty\.yuv is empty \(0 bytes\)"),
        ([raw, "--size", "80x64", *base], r"not a multiple of the frame size .* check --size"),
        ([good, "--model", "dcvc_dc", "--quality", 1], r"no published weights yet.*lvc-zoo convert dcvc_dc"),
        ([good, "--model", "dcvc_dc", "--quality", 1, "--weights", tmp_path / "nowhere"], r"Weights directory .*nowhere' does not exist"),
        ([good, *base, "--intra-period", 0], r"argument --intra-period: '0': use -1"),
        ([good, *base, "--fps", "0"], r"argument --fps: '0' is not a positive frame rate"),
        ([good, *base, "--colour", "bt2020-full"], r"argument --colour: 'bt2020-full' is not one of bt709-full"),
    ]
    for argv, match in cases:
        code, out, err = run(["encode", argv[0], "-o", tmp_path / "out.lvc", *argv[1:]], capsys)
        assert_one_line_error(code, err, match)
        assert_nothing_written(tmp_path, "out.lvc")


def _decode_error(data: bytes, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    bad = tmp_path / "bad.lvc"
    bad.write_bytes(data)
    code, _, err = run(["decode", bad, "-o", tmp_path / "out.y4m", "--weights", weights], capsys)
    assert_nothing_written(tmp_path, "out.y4m")
    return code, err


@pytest.mark.slow
def test_decode_refuses_damaged_and_foreign_streams(stream: tuple[Path, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = stream[1].read_bytes()
    header, frames = read_stream(data)
    flipped = bytearray(data)
    flipped[-5] ^= 0x10  # inside the last frame's payload (the frame CRC follows it)
    newer, older = bytearray(data), bytearray(data)
    newer[4] = FORMAT_VERSION + 1  # the format version byte after "LVCZ"
    older[4] = 1  # version 2 is still read
    torch.manual_seed(1)
    other_weights = lvc_zoo.save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path / "other_weights")
    cases = [
        (data[:-5], weights, r"bad\.lvc: the stream is truncated in frame 2, chunk 'frame'"),
        (bytes(flipped), weights, r"bad\.lvc: CRC mismatch in frame 2, chunk 'frame'"),
        (write_stream(replace(header, model="other_codec"), frames), weights, r"written by model 'other_codec', which lvc_zoo .* does not have"),
        (data, other_weights, r"written with other dcvc_dc weights or config .*decode it with the weights directory that encoded it"),
        (bytes(newer), weights, rf"format version {FORMAT_VERSION + 1}, newer than this lvc_zoo reads \({FORMAT_VERSION}\); upgrade lvc_zoo"),
        (bytes(older), weights, r"format version 1, written by an older lvc_zoo .*encode the source again"),
        (b"", weights, r"truncated in the header"),
    ]
    for stream_data, decode_weights, match in cases:
        code, err = _decode_error(stream_data, decode_weights, tmp_path, capsys)
        assert_one_line_error(code, err, match)


@pytest.mark.slow
def test_decode_missing_stream_and_bad_output(stream: tuple[Path, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["decode", tmp_path / "missing.lvc", "-o", tmp_path / "out.y4m", "--weights", weights], capsys)
    assert_one_line_error(code, err, r"missing\.lvc does not exist: pass a bitstream written by `lvc-zoo encode`")
    code, _, err = run(["decode", stream[1], "-o", tmp_path / "out.webm", "--weights", weights], capsys)
    assert_one_line_error(code, err, r"unsupported output suffix '\.webm'")
    odd = tmp_path / "odd.lvc"
    assert main(["encode", str(write_video(tmp_path / "odd.y4m", clip(65, 64, 2))), "-o", str(odd), "--model", "dcvc_dc", "--quality", "0", "--weights", str(weights)]) == 0
    capsys.readouterr()
    code, _, err = run(["decode", odd, "-o", tmp_path / "out.mp4", "--weights", weights], capsys)
    assert_one_line_error(code, err, r"H\.264 \(yuv420p\) needs an even width and height, got 65x64")
    assert_nothing_written(tmp_path, "out.y4m", "out.webm", "out.mp4")


def test_multi_line_messages_are_folded(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fails(args: object) -> int:
        raise lvc_zoo.errors.InputError("first line\n  second line\n")

    monkeypatch.setattr(codec_commands, "run_encode", fails)
    code, _, err = run(["encode", "x.y4m", "-o", "x.lvc", "--model", "dcvc_dc", "--quality", "0"], capsys)
    assert_one_line_error(code, err, r"^lvc-zoo: error: first line second line$")


@pytest.mark.slow
def test_ctrl_c_exits_130_and_leaves_no_output(
    stream: tuple[Path, Path], weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_timed = codec_commands.timed

    def interrupted_after_one(items, device):  # noqa: ANN001, ANN202
        for index, item in enumerate(real_timed(items, device)):
            if index == 1:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(codec_commands, "timed", interrupted_after_one)
    source, stream_path = stream
    code, _, err = run(["encode", source, "-o", tmp_path / "out.lvc", "--model", "dcvc_dc", "--quality", 0, "--weights", weights], capsys)
    assert_one_line_error(code, err, r"interrupted \(Ctrl-C\)", expected_code=130)
    code, _, err = run(["decode", stream_path, "-o", tmp_path / "out.y4m", "--weights", weights], capsys)
    assert_one_line_error(code, err, r"interrupted \(Ctrl-C\)", expected_code=130)
    assert_nothing_written(tmp_path, "out.lvc", "out.y4m")
