"""Colour conversion: matrices, ranges, 8-bit codes and 4:2:0 sampling."""

from __future__ import annotations

import pytest
import torch

from lvc_zoo.data.colour import (
    BT709_FULL,
    ColourSpace,
    chroma_size,
    from_uint8_planes,
    rgb_to_yuv420,
    rgb_to_yuv444,
    to_uint8_planes,
    yuv420_to_rgb,
    yuv444_to_rgb,
)
from lvc_zoo.errors import InputError

SPACES = [ColourSpace(m, r) for m in ("bt709", "bt601") for r in ("full", "limited")]


def flat(colour: tuple[float, float, float], height: int, width: int, frames: int = 2) -> torch.Tensor:
    """(T, 3, H, W) frames of one RGB colour."""
    return torch.tensor(colour).view(1, 3, 1, 1).expand(frames, 3, height, width).contiguous()


def test_colour_space_string_form_and_parse() -> None:
    space = ColourSpace("bt601", "limited")
    assert str(space) == "bt601-limited"
    assert ColourSpace.parse("bt601-limited") == space
    assert ColourSpace.parse(" BT709-Full ") == BT709_FULL
    assert ColourSpace() == BT709_FULL
    assert space.kr_kb == (0.299, 0.114)


@pytest.mark.parametrize("args", [("bt2020", "full"), ("bt709", "tv"), ("BT709", "full")])
def test_colour_space_rejects_unknown_values(args: tuple[str, str]) -> None:
    with pytest.raises(InputError, match="use"):
        ColourSpace(*args)


def test_colour_space_parse_needs_matrix_and_range() -> None:
    with pytest.raises(InputError, match="MATRIX-RANGE"):
        ColourSpace.parse("bt709")


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_rgb_yuv444_round_trip(space: ColourSpace) -> None:
    rgb = torch.rand(2, 3, 17, 33, generator=torch.Generator().manual_seed(0))
    yuv = rgb_to_yuv444(rgb, space)
    assert yuv.shape == rgb.shape
    assert yuv.min() >= -1e-6 and yuv.max() <= 1 + 1e-6
    assert torch.allclose(yuv444_to_rgb(yuv, space), rgb, atol=1e-5)


def test_known_values_bt709() -> None:
    red = rgb_to_yuv444(flat((1.0, 0.0, 0.0), 2, 2), BT709_FULL)[0, :, 0, 0]
    kr, kb = 0.2126, 0.0722
    expected = [kr, (0 - kr) / (2 * (1 - kb)) + 0.5, 1.0]  # Cr of pure red is the maximum
    assert torch.allclose(red, torch.tensor(expected), atol=1e-6)
    for grey in (0.0, 0.3, 1.0):
        yuv = rgb_to_yuv444(flat((grey, grey, grey), 2, 2), BT709_FULL)[0, :, 0, 0]
        assert torch.allclose(yuv, torch.tensor([grey, 0.5, 0.5]), atol=1e-6)


def test_matrices_differ_and_use_their_weights() -> None:
    green = flat((0.0, 1.0, 0.0), 2, 2)
    assert rgb_to_yuv444(green, ColourSpace("bt709"))[0, 0, 0, 0].item() == pytest.approx(1 - 0.2126 - 0.0722)
    assert rgb_to_yuv444(green, ColourSpace("bt601"))[0, 0, 0, 0].item() == pytest.approx(1 - 0.299 - 0.114)


def test_yuv444_to_rgb_clips() -> None:
    yuv = torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1)  # white luma with extreme chroma: out of gamut
    rgb = yuv444_to_rgb(yuv)
    assert rgb.min() >= 0 and rgb.max() <= 1


@pytest.mark.parametrize(
    ("range_", "black", "white"), [("full", (0, 128, 128), (255, 128, 128)), ("limited", (16, 128, 128), (235, 128, 128))]
)
def test_black_and_white_codes(range_: str, black: tuple[int, ...], white: tuple[int, ...]) -> None:
    space = ColourSpace("bt709", range_)
    for colour, codes in (((0.0, 0.0, 0.0), black), ((1.0, 1.0, 1.0), white)):
        planes = to_uint8_planes(*rgb_to_yuv420(flat(colour, 4, 4), space), space)
        assert all(p.dtype == torch.uint8 for p in planes)
        assert tuple(int(p[0, 0, 0]) for p in planes) == codes


@pytest.mark.parametrize(("range_", "lowest", "highest"), [("full", 0, 255), ("limited", 16, 240)])
def test_chroma_extremes(range_: str, lowest: int, highest: int) -> None:
    space = ColourSpace("bt709", range_)
    blue = rgb_to_yuv444(flat((0.0, 0.0, 1.0), 1, 1), space)  # Cb = 1
    yellow = rgb_to_yuv444(flat((1.0, 1.0, 0.0), 1, 1), space)  # Cb = 0
    assert int(to_uint8_planes(blue[:, 0], blue[:, 1], blue[:, 2], space)[1][0, 0, 0]) == highest
    assert int(to_uint8_planes(yellow[:, 0], yellow[:, 1], yellow[:, 2], space)[1][0, 0, 0]) == lowest


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_uint8_codes_round_trip(space: ColourSpace) -> None:
    codes = torch.arange(256, dtype=torch.uint8).view(16, 16)
    floats = from_uint8_planes(codes, codes, codes, space)
    assert all(p.dtype == torch.float32 for p in floats)
    assert all(torch.equal(p, codes) for p in to_uint8_planes(*floats, space))


def test_limited_codes_are_scaled() -> None:
    space = ColourSpace("bt709", "limited")
    y, u, v = from_uint8_planes(*(torch.tensor([16, 235, 240], dtype=torch.uint8),) * 3, space)
    assert torch.allclose(y[:2], torch.tensor([0.0, 1.0]))
    assert u[2].item() == pytest.approx(1.0) and v[0].item() == pytest.approx(0.0)


def test_from_uint8_planes_needs_uint8() -> None:
    with pytest.raises(InputError, match="uint8"):
        from_uint8_planes(torch.zeros(2, 2), torch.zeros(1, 1), torch.zeros(1, 1))


@pytest.mark.parametrize(("height", "width"), [(48, 64), (17, 33)])
@pytest.mark.parametrize("space", SPACES, ids=str)
def test_420_round_trip_of_a_flat_colour_is_exact(height: int, width: int, space: ColourSpace) -> None:
    rgb = flat((0.8, 0.3, 0.1), height, width)
    y, u, v = rgb_to_yuv420(rgb, space)
    assert y.shape == (2, height, width) and u.shape == v.shape == (2, *chroma_size(height, width))
    assert torch.allclose(yuv420_to_rgb(y, u, v, space), rgb, atol=1e-6)
    codes = to_uint8_planes(y, u, v, space)
    again = to_uint8_planes(*rgb_to_yuv420(yuv420_to_rgb(*from_uint8_planes(*codes, space), space), space), space)
    assert all(torch.equal(a, b) for a, b in zip(codes, again))


def test_420_chroma_is_the_2x2_mean_with_replicated_edges() -> None:
    rgb = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    yuv = rgb_to_yuv444(rgb)
    _, u, v = rgb_to_yuv420(rgb)
    assert u.shape == (1, 3, 4)
    assert torch.allclose(u[0, 0, 0], yuv[0, 1, :2, :2].mean())
    assert torch.allclose(v[0, 1, 3], yuv[0, 2, 2:4, 6].mean())  # last column replicated
    assert torch.allclose(u[0, 2, 3], yuv[0, 1, 4, 6])  # corner: one sample, replicated 4 times


def test_420_upsampling_is_nearest_and_downsampling_inverts_it() -> None:
    gen = torch.Generator().manual_seed(2)
    y = torch.full((1, 4, 6), 0.5)
    u = 0.45 + 0.1 * torch.rand(1, 2, 3, generator=gen)  # small chroma: no gamut clipping
    v = 0.45 + 0.1 * torch.rand(1, 2, 3, generator=gen)
    rgb = yuv420_to_rgb(y, u, v)
    assert torch.equal(rgb[..., 0:2, 0:2], rgb[..., 0:1, 0:1].expand(1, 3, 2, 2))  # each 2x2 block flat
    _, u2, v2 = rgb_to_yuv420(rgb)
    assert torch.allclose(u2, u, atol=1e-6) and torch.allclose(v2, v, atol=1e-6)


def test_single_frame_without_time_axis() -> None:
    rgb = torch.rand(3, 6, 8)
    y, u, v = rgb_to_yuv420(rgb)
    assert y.shape == (6, 8) and u.shape == (3, 4)
    assert yuv420_to_rgb(y, u, v).shape == (3, 6, 8)


def test_bad_shapes_raise_input_error() -> None:
    with pytest.raises(InputError, match=r"\(T, 3, H, W\)"):
        rgb_to_yuv444(torch.rand(2, 4, 8, 8))
    with pytest.raises(InputError, match="divide 8-bit values by 255"):
        rgb_to_yuv444(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(InputError, match="chroma planes must be"):
        yuv420_to_rgb(torch.rand(1, 6, 8), torch.rand(1, 6, 8), torch.rand(1, 6, 8))
