"""Video I/O: raw YUV, Y4M, PNG folders and containers round trip, and fail clearly."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lvc_zoo.data import (
    BT709_FULL,
    BT709_LIMITED,
    ColourSpace,
    VideoInfo,
    iter_planes,
    iter_video,
    parse_yuv_name,
    probe_video,
    read_video,
    rgb_to_yuv420,
    to_uint8_planes,
    write_video,
)
from lvc_zoo.errors import InputError

SIZES = [(48, 64), (17, 33)]  # (height, width); the odd one exercises ceil(H/2) chroma


def smooth_clip(frames: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(T, 3, H, W) smooth colours in [0.2, 0.8]: 4:2:0 loses little and nothing leaves the gamut."""
    coarse = torch.rand(frames, 3, 4, 5, generator=torch.Generator().manual_seed(seed))
    return 0.2 + 0.6 * F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=True)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (a - b).pow(2).mean()))


def listing(folder: Path) -> list[str]:
    """Everything in `folder`, hidden files included."""
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ raw YUV


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_yuv_round_trip_is_bit_exact_on_the_planes(tmp_path: Path, height: int, width: int) -> None:
    clip = smooth_clip(3, height, width)
    first = write_video(tmp_path / f"a_{width}x{height}.yuv", clip)
    frames, info = read_video(first)
    second = write_video(tmp_path / "b.yuv", frames, info)
    assert first.read_bytes() == second.read_bytes()
    ch, cw = (height + 1) // 2, (width + 1) // 2
    assert first.stat().st_size == 3 * (width * height + 2 * ch * cw)
    assert (info.width, info.height, info.frame_count, info.source_format) == (width, height, 3, "yuv")
    assert frames.shape == (3, 3, height, width) and frames.dtype == torch.float32
    assert psnr(frames, clip) > 30  # 8-bit 4:2:0 of smooth content


def test_yuv_reads_known_codes(tmp_path: Path) -> None:
    h, w = 4, 6
    frame = np.concatenate([np.full(h * w, 235), np.full(2 * (h // 2) * (w // 2), 128)]).astype(np.uint8)
    path = tmp_path / "grey.yuv"
    path.write_bytes(frame.tobytes() * 2)
    full, _ = read_video(path, size=(w, h))
    limited, info = read_video(path, size=f"{w}x{h}", colour=BT709_LIMITED)
    assert torch.allclose(full, torch.full_like(full, 235 / 255), atol=1e-6)
    assert torch.allclose(limited, torch.ones_like(limited), atol=1e-6)
    assert info.colour == BT709_LIMITED and info.frame_count == 2


@pytest.mark.parametrize(
    ("name", "size", "fps"),
    [
        ("BasketballPass_416x240_50.yuv", (416, 240), Fraction(50)),
        ("Beauty_1920x1080_120fps_420_8bit_YUV.yuv", (1920, 1080), Fraction(120)),
        ("RaceHorses_832x480_30fps_extra.yuv", (832, 480), Fraction(30)),
        ("Kimono1_1920x1080_24.yuv", (1920, 1080), Fraction(24)),
        ("clip_832x480_29.97fps.yuv", (832, 480), Fraction(30000, 1001)),
        ("clip-352x288-25.yuv", (352, 288), Fraction(25)),
        ("clip_1280X720_60.yuv", (1280, 720), Fraction(60)),
        ("Name_1920x1080.yuv", (1920, 1080), None),
        ("Name_1920x1080_420.yuv", (1920, 1080), None),  # a chroma format, not a frame rate
        ("Name_1920x1080_420_8bit.yuv", (1920, 1080), None),
        ("video.yuv", None, None),
        ("video_24fps.yuv", None, Fraction(24)),
        ("big_0x0_30.yuv", None, Fraction(30)),
        ("take2x_final.yuv", None, None),
    ],
)
def test_parse_yuv_name(name: str, size: tuple[int, int] | None, fps: Fraction | None) -> None:
    assert parse_yuv_name(name) == (size, fps)


@pytest.mark.parametrize(("name", "what"), [("a_1920x1080_50_10bit.yuv", "10-bit"), ("a_1920x1080_444.yuv", "444")])
def test_parse_yuv_name_refuses_other_formats(name: str, what: str) -> None:
    with pytest.raises(InputError, match=what):
        parse_yuv_name(name)


def test_yuv_fps_from_name_default_and_argument(tmp_path: Path) -> None:
    clip = smooth_clip(1, 8, 8)
    named = write_video(tmp_path / "x_8x8_50.yuv", clip)
    plain = write_video(tmp_path / "x.yuv", clip)
    assert read_video(named)[1].fps == 50
    assert read_video(plain, size=(8, 8))[1].fps == 30
    assert read_video(named, fps=25)[1].fps == 25
    assert read_video(named, fps=29.97)[1].fps == Fraction(30000, 1001)


def test_yuv_wrong_file_size_names_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "clip_64x48.yuv"
    path.write_bytes(bytes(5000))
    with pytest.raises(InputError) as caught:
        read_video(path)
    message = str(caught.value)
    assert "5000" in message and "4608" in message and "--size" in message


def test_yuv_without_size_asks_for_it(tmp_path: Path) -> None:
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(4608))
    with pytest.raises(InputError, match="size="):
        read_video(path)


def test_frames_and_start(tmp_path: Path) -> None:
    clip = smooth_clip(5, 8, 10)
    path = write_video(tmp_path / "c_10x8.yuv", clip)
    everything, _ = read_video(path)
    part, info = read_video(path, frames=2, start=1)
    assert torch.equal(part, everything[1:3]) and info.frame_count == 2
    assert torch.equal(read_video(path, frames=9, start=3)[0], everything[3:])
    assert probe_video(path).frame_count == 5
    with pytest.raises(InputError, match="past the last"):
        read_video(path, start=5)
    with pytest.raises(InputError, match="positive"):
        read_video(path, frames=0)


def test_iter_video_yields_the_frames_of_read_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "c.y4m", smooth_clip(4, 8, 10))
    frames = list(iter_video(path, start=1))
    assert len(frames) == 3 and frames[0].shape == (3, 8, 10)
    assert torch.equal(torch.stack(frames), read_video(path)[0][1:])


# ------------------------------------------------------------------ Y4M


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_y4m_round_trip(tmp_path: Path, height: int, width: int) -> None:
    clip = smooth_clip(3, height, width)
    info = VideoInfo.of(clip, fps=Fraction(30000, 1001))
    path = write_video(tmp_path / "c.y4m", clip, info)
    header = path.read_bytes().split(b"\n", 1)[0].split(b" ")
    assert header[:4] == [b"YUV4MPEG2", f"W{width}".encode(), f"H{height}".encode(), b"F30000:1001"]
    assert b"C420jpeg" in header
    frames, read_info = read_video(path)
    assert read_info == replace(info, source_format="y4m")
    as_yuv, _ = read_video(write_video(tmp_path / f"c_{width}x{height}.yuv", clip))
    assert torch.equal(frames, as_yuv)  # same planes as the raw YUV path


def write_y4m(path: Path, header: str, frames: int = 2, marker: bytes = b"FRAME\n", size: tuple[int, int] = (4, 2)) -> Path:
    """A handmade Y4M file with grey frames (codes 100 / 128)."""
    w, h = size
    planes = bytes([100] * (w * h) + [128] * (2 * ((w + 1) // 2) * ((h + 1) // 2)))
    path.write_bytes(header.encode() + b"\n" + (marker + planes) * frames)
    return path


@pytest.mark.parametrize("chroma", ["", " C420", " C420jpeg", " C420paldv", " C420mpeg2"])
def test_y4m_header_parsing(tmp_path: Path, chroma: str) -> None:
    path = write_y4m(tmp_path / "a.y4m", f"YUV4MPEG2 W4 H2 F25:1 It A0:0{chroma} XYSCSS=420JPEG", marker=b"FRAME Ixyz\n")
    frames, info = read_video(path)
    assert (info.width, info.height, info.frame_count, info.fps) == (4, 2, 2, 25)
    assert info.colour == BT709_FULL
    assert torch.allclose(frames, torch.full_like(frames, 100 / 255), atol=1e-6)


def test_y4m_colour_range_tag(tmp_path: Path) -> None:
    path = write_y4m(tmp_path / "a.y4m", "YUV4MPEG2 W4 H2 F25:1 C420jpeg XCOLORRANGE=LIMITED")
    assert read_video(path)[1].colour == BT709_LIMITED
    assert read_video(path, colour=ColourSpace("bt601", "full"))[1].colour == ColourSpace("bt601", "full")


@pytest.mark.parametrize("chroma", ["C444", "C422", "Cmono", "C420p10"])
def test_y4m_other_chroma_formats_are_refused(tmp_path: Path, chroma: str) -> None:
    path = write_y4m(tmp_path / "a.y4m", f"YUV4MPEG2 W4 H2 F25:1 {chroma}")
    with pytest.raises(InputError, match=chroma):
        read_video(path)


def test_y4m_truncated_frame(tmp_path: Path) -> None:
    path = write_y4m(tmp_path / "a.y4m", "YUV4MPEG2 W4 H2 F25:1")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(InputError, match=r"a\.y4m.*frame 1 is truncated"):
        read_video(path)


def test_y4m_without_frames_or_header(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frames"):
        read_video(write_y4m(tmp_path / "a.y4m", "YUV4MPEG2 W4 H2 F25:1", frames=0))
    with pytest.raises(InputError, match="not a Y4M"):
        read_video(write_y4m(tmp_path / "b.y4m", "RIFF W4 H2"))
    (tmp_path / "c.y4m").write_bytes(b"YUV4MPEG2 W4 H2")
    with pytest.raises(InputError, match="cut off"):
        read_video(tmp_path / "c.y4m")
    with pytest.raises(InputError, match="FRAME marker"):
        read_video(write_y4m(tmp_path / "d.y4m", "YUV4MPEG2 W4 H2 F25:1", marker=b"FRAMX\n"))


def test_size_argument_is_checked_for_other_formats(tmp_path: Path) -> None:
    path = write_y4m(tmp_path / "a.y4m", "YUV4MPEG2 W4 H2 F25:1")
    assert read_video(path, size=(4, 2))[1].width == 4
    with pytest.raises(InputError, match="4x2"):
        read_video(path, size=(2, 4))


# ------------------------------------------------------------------ PNG folders


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_png_round_trip_is_exact(tmp_path: Path, height: int, width: int) -> None:
    clip = torch.randint(0, 256, (3, 3, height, width), generator=torch.Generator().manual_seed(0)).float() / 255
    out = write_video(tmp_path / "frames", clip)
    assert listing(out) == ["im00001.png", "im00002.png", "im00003.png"]
    frames, info = read_video(out)
    assert torch.equal(frames, clip)
    assert (info.width, info.height, info.frame_count, info.source_format) == (width, height, 3, "png")


def test_png_modes_and_natural_order(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    Image.fromarray(rgba, mode="RGBA").save(folder / "im2.png")
    Image.fromarray(np.full((2, 3), 77, np.uint8), mode="L").save(folder / "im10.png")
    (folder / "notes.txt").write_text("not a frame")
    frames, info = read_video(folder)
    assert info.frame_count == 2
    assert torch.allclose(frames[0, 0], torch.full((2, 3), 200 / 255)) and frames[0, 1:].max() == 0  # alpha dropped
    assert torch.allclose(frames[1], torch.full((3, 2, 3), 77 / 255))  # gray expanded, im10 after im2


def test_png_sizes_must_match(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "im00001.png")
    Image.new("RGB", (4, 4)).save(folder / "im00002.png")
    Image.new("RGB", (6, 4)).save(folder / "im00003.png")
    with pytest.raises(InputError, match=r"im00003\.png is 6x4.*4x4"):
        read_video(folder)


def test_png_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .png files"):
        read_video(tmp_path / "empty")


def test_png_output_folder_must_be_new_or_empty(tmp_path: Path) -> None:
    clip = smooth_clip(1, 4, 4)
    (tmp_path / "empty").mkdir()
    assert listing(write_video(tmp_path / "empty", clip)) == ["im00001.png"]
    with pytest.raises(InputError, match="not an empty directory"):
        write_video(tmp_path / "empty", clip)


# ------------------------------------------------------------------ containers (PyAV)


@pytest.mark.parametrize(("suffix", "fps"), [(".mp4", Fraction(25)), (".mkv", Fraction(30000, 1001))])
def test_container_lossless_round_trip(tmp_path: Path, suffix: str, fps: Fraction) -> None:
    clip = smooth_clip(4, 48, 64)
    info = VideoInfo.of(clip, fps=fps, colour=BT709_LIMITED)
    path = write_video(tmp_path / f"c{suffix}", clip, info, lossless=True)
    frames, read_info = read_video(path)
    assert read_info == replace(info, source_format=suffix[1:])
    assert psnr(frames, clip) > 40
    reference, _ = read_video(write_video(tmp_path / "c.y4m", clip, info))
    assert torch.equal(frames, reference)  # qp 0: exactly the 8-bit 4:2:0 planes


def test_container_colour_tags_round_trip(tmp_path: Path) -> None:
    clip = smooth_clip(2, 16, 16)
    space = ColourSpace("bt601", "full")
    path = write_video(tmp_path / "c.mp4", clip, VideoInfo.of(clip, colour=space), lossless=True)
    assert probe_video(path).colour == space
    assert read_video(path, colour=BT709_LIMITED)[1].colour == BT709_LIMITED  # the caller wins


def test_container_default_is_high_quality_limited_range(tmp_path: Path) -> None:
    clip = smooth_clip(3, 48, 64)
    path = write_video(tmp_path / "c.mp4", clip)
    frames, info = read_video(path)
    assert info.colour == BT709_LIMITED and info.fps == 30 and info.frame_count == 3
    assert psnr(frames, clip) > 35


def test_container_refuses_odd_sizes_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="even width and height.*y4m"):
        write_video(tmp_path / "c.mp4", smooth_clip(1, 17, 33))
    with pytest.raises(InputError, match="crf"):
        write_video(tmp_path / "c.y4m", smooth_clip(1, 8, 8), crf=20)
    with pytest.raises(InputError, match="0..51"):
        write_video(tmp_path / "c.mp4", smooth_clip(1, 8, 8), crf=60)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100])
def test_unreadable_container(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"bad\.mp4"):
        read_video(path)


# ------------------------------------------------------------------ common errors and atomic writes


def test_missing_empty_and_unknown_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_video(tmp_path / "missing.y4m")
    (tmp_path / "empty_8x8.yuv").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        read_video(tmp_path / "empty_8x8.yuv")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match=r"\.y4m"):
        read_video(tmp_path / "a.txt")
    with pytest.raises(InputError, match=r"\.mp4"):
        write_video(tmp_path / "out.gif", smooth_clip(1, 8, 8))


def test_info_must_describe_the_frames(tmp_path: Path) -> None:
    clip = smooth_clip(2, 8, 8)
    with pytest.raises(InputError, match="dataclasses.replace"):
        write_video(tmp_path / "a.y4m", clip, VideoInfo(8, 6, 2))
    with pytest.raises(InputError, match="frame_count"):
        write_video(tmp_path / "a.y4m", iter(clip), VideoInfo(8, 8, 3))
    assert listing(tmp_path) == []


OUTPUTS = ["out.yuv", "out.y4m", "out_frames", "out.mp4", "out.mkv"]


@pytest.mark.parametrize("name", OUTPUTS)
def test_wrong_frames_are_refused_before_writing(tmp_path: Path, name: str) -> None:
    for frames in (torch.rand(3, 8, 8), torch.rand(2, 4, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8)):
        with pytest.raises(InputError):
            write_video(tmp_path / name, frames)
    nan = torch.full((1, 3, 8, 8), float("nan"))
    with pytest.raises(InputError, match="NaN"):
        write_video(tmp_path / name, nan)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("name", OUTPUTS)
def test_failing_write_leaves_no_partial_output(tmp_path: Path, name: str) -> None:
    good = smooth_clip(2, 8, 8)
    frames = [good[0], good[1], torch.rand(3, 10, 8)]  # the third frame fails mid-write
    with pytest.raises(InputError, match="one size"):
        write_video(tmp_path / name, frames)
    assert listing(tmp_path) == []


def test_failing_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.y4m", smooth_clip(2, 8, 8))
    before = path.read_bytes()
    with pytest.raises(InputError):
        write_video(path, [smooth_clip(1, 8, 8)[0], torch.rand(3, 6, 8)])
    assert path.read_bytes() == before and listing(tmp_path) == ["a.y4m"]


def test_writing_an_iterable_and_creating_parents(tmp_path: Path) -> None:
    clip = smooth_clip(3, 8, 8)
    path = write_video(tmp_path / "new" / "dir" / "a_8x8.yuv", (frame for frame in clip))
    assert read_video(path)[1].frame_count == 3


@pytest.mark.parametrize("suffix", [".yuv", ".y4m", ".mkv"])
def test_iter_planes_returns_the_files_own_codes(tmp_path: Path, suffix: str) -> None:
    torch.manual_seed(0)
    frames = torch.rand(3, 3, 32, 48)
    path = tmp_path / f"clip_48x32_25{suffix}"
    lossless = {"lossless": True} if suffix == ".mkv" else {}
    write_video(path, frames, **lossless)
    colour = BT709_LIMITED if suffix == ".mkv" else BT709_FULL  # the writers' defaults
    expected = [to_uint8_planes(*rgb_to_yuv420(frame, colour), colour) for frame in frames]
    planes = list(iter_planes(path, frames=2, start=1))
    assert len(planes) == 2
    for got, want in zip(planes, expected[1:]):
        assert [p.dtype for p in got] == [torch.uint8] * 3
        assert [tuple(p.shape) for p in got] == [(32, 48), (16, 24), (16, 24)]
        assert all(torch.equal(g, w) for g, w in zip(got, want))


def test_iter_planes_refuses_png_folders(tmp_path: Path) -> None:
    write_video(tmp_path / "pngs", torch.rand(2, 3, 16, 16))
    with pytest.raises(InputError, match="PNG folder"):
        iter_planes(tmp_path / "pngs")
