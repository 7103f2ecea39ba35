"""Colour conversion between RGB and Y'CbCr (BT.709 / BT.601, full / limited range, 4:2:0).

Float planes are *normalised* whatever the range: Y in [0, 1], Cb and Cr in [0, 1] with
0.5 meaning no colour (ITU-T H.273 E'Y and E'PB / E'PR + 0.5). The range only decides how
floats become 8-bit codes (:func:`to_uint8_planes`) and back (:func:`from_uint8_planes`)::

    rgb (T,3,H,W) ──rgb_to_yuv444──► yuv (T,3,H,W) ──2x2 mean──► y (T,H,W), u, v (T,⌈H/2⌉,⌈W/2⌉)
                                                                    │ to_uint8_planes(colour)
    rgb ◄──yuv444_to_rgb (clip)── yuv ◄──nearest x2 (crop)── y, u, v ◄─┘ from_uint8_planes

[choice] Matrix and range are explicit (:class:`ColourSpace`), default BT.709 full range:
the convention of microsoft/DCVC and CompressAI (ecosystem_notes.md section 6).

[choice] 8-bit codes follow ITU-T H.273: full range Y = 255 E'Y, C = 128 + 255 E'C;
limited range Y = 16 + 219 E'Y (16..235), C = 128 + 224 E'C (16..240), rounded half to even
and clipped to 0..255. Neutral chroma is exactly code 128 in both ranges. (microsoft/DCVC
reads every plane as code / 255, which puts neutral chroma at 127.5: half a code away.)

[choice] 4:2:0 chroma is the mean of each 2x2 block (odd sizes: the last row / column is
replicated first), which places chroma samples at the centre of the block, as Y4M's
``C420jpeg`` says. Upsampling is nearest neighbour (each chroma sample covers its 2x2 block),
as in DCVC's 4:2:0 -> 4:4:4 conversion. Nearest is the exact right inverse of the 2x2 mean:
``downsample(upsample(c)) == c``, so 4:2:0 -> RGB -> 4:2:0 keeps chroma (up to RGB gamut
clipping) and a flat colour survives any number of round trips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

__all__ = [
    "ColourSpace",
    "BT709_FULL",
    "BT709_LIMITED",
    "rgb_to_yuv444",
    "yuv444_to_rgb",
    "rgb_to_yuv420",
    "yuv420_to_rgb",
    "chroma_size",
    "to_uint8_planes",
    "from_uint8_planes",
    "rgb_to_yuv420_codes",
]

MATRICES: dict[str, tuple[float, float]] = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
"""(Kr, Kb) of each supported matrix; Kg = 1 - Kr - Kb."""

RANGES = ("full", "limited")

_LIMITED_Y = (16.0, 219.0)  # offset, scale of limited-range luma codes (16..235)
_LIMITED_C = 224.0  # scale of limited-range chroma codes about 128 (16..240)


@dataclass(frozen=True)
class ColourSpace:
    """A Y'CbCr colour space: the matrix and the 8-bit code range.

    Attributes:
        matrix: "bt709" (Kr 0.2126, Kb 0.0722) or "bt601" (Kr 0.299, Kb 0.114).
        range: "full" (codes 0..255) or "limited" (Y 16..235, Cb/Cr 16..240).

    ``str(ColourSpace("bt601", "limited")) == "bt601-limited"``, and
    :meth:`parse` reads that form back (for command lines and result JSON).
    """

    matrix: str = "bt709"
    range: str = "full"

    def __post_init__(self) -> None:
        if self.matrix not in MATRICES:
            raise InputError(
                f"Unknown colour matrix {self.matrix!r}: use one of {', '.join(repr(m) for m in MATRICES)}."
            )
        if self.range not in RANGES:
            raise InputError(f"Unknown colour range {self.range!r}: use 'full' or 'limited'.")

    def __str__(self) -> str:
        return f"{self.matrix}-{self.range}"

    @classmethod
    def parse(cls, text: str) -> ColourSpace:
        """Read the short form "MATRIX-RANGE", e.g. "bt709-full" (case-insensitive)."""
        matrix, sep, range_ = text.strip().lower().partition("-")
        if not sep:
            raise InputError(
                f"Colour space {text!r} is not of the form MATRIX-RANGE: use e.g. 'bt709-full' or 'bt601-limited'."
            )
        return cls(matrix, range_)

    @property
    def kr_kb(self) -> tuple[float, float]:
        """(Kr, Kb) luma weights of red and blue."""
        return MATRICES[self.matrix]


BT709_FULL = ColourSpace("bt709", "full")
"""The default colour space of lvc_zoo (DCVC / CompressAI convention)."""
BT709_LIMITED = ColourSpace("bt709", "limited")
"""What video encoders (x264, ...) usually write; the default for MP4 and other containers."""


def rgb_to_yuv444(rgb: Tensor, colour: ColourSpace = BT709_FULL) -> Tensor:
    """RGB to normalised Y'CbCr 4:4:4 (no clipping; RGB in [0, 1] gives values in [0, 1]).

    Args:
        rgb: (*, 3, H, W) float RGB in [0, 1], e.g. (T, 3, H, W).
        colour: matrix to use; the range does not affect float planes (see the module docs).
    Returns: (*, 3, H, W) channels Y, Cb, Cr; Y in [0, 1], Cb/Cr in [0, 1] with 0.5 neutral.
    """
    _check_channels(rgb, "rgb")
    kr, kb = colour.kr_kb
    r, g, b = rgb.unbind(-3)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb)) + 0.5
    cr = (r - y) / (2 * (1 - kr)) + 0.5
    return torch.stack((y, cb, cr), dim=-3)


def yuv444_to_rgb(yuv: Tensor, colour: ColourSpace = BT709_FULL) -> Tensor:
    """Normalised Y'CbCr 4:4:4 to RGB, clipped to [0, 1].

    Args:
        yuv: (*, 3, H, W) float Y, Cb, Cr as returned by :func:`rgb_to_yuv444`.
        colour: matrix to use (the range does not affect float planes).
    Returns: (*, 3, H, W) RGB in [0, 1].
    """
    _check_channels(yuv, "yuv")
    kr, kb = colour.kr_kb
    y, cb, cr = yuv.unbind(-3)
    r = y + 2 * (1 - kr) * (cr - 0.5)
    b = y + 2 * (1 - kb) * (cb - 0.5)
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return torch.stack((r, g, b), dim=-3).clamp(0, 1)


def chroma_size(height: int, width: int) -> tuple[int, int]:
    """(⌈H/2⌉, ⌈W/2⌉): the chroma plane size of a 4:2:0 frame of `height` x `width`."""
    return math.ceil(height / 2), math.ceil(width / 2)


def rgb_to_yuv420(rgb: Tensor, colour: ColourSpace = BT709_FULL) -> tuple[Tensor, Tensor, Tensor]:
    """RGB to normalised Y'CbCr 4:2:0 planes; chroma is the mean of each 2x2 block.

    Args:
        rgb: (*, 3, H, W) float RGB in [0, 1], e.g. (T, 3, H, W); H and W may be odd
            (the last row / column is replicated before averaging).
        colour: matrix to use.
    Returns: y (*, H, W), cb and cr (*, ⌈H/2⌉, ⌈W/2⌉), all float in [0, 1].
    """
    yuv = rgb_to_yuv444(rgb, colour)
    chroma = _downsample2x(yuv[..., 1:, :, :])
    return yuv[..., 0, :, :], chroma[..., 0, :, :], chroma[..., 1, :, :]


def yuv420_to_rgb(y: Tensor, u: Tensor, v: Tensor, colour: ColourSpace = BT709_FULL) -> Tensor:
    """Normalised Y'CbCr 4:2:0 planes to RGB; chroma is upsampled by nearest neighbour.

    Args:
        y: (*, H, W) float luma in [0, 1].
        u: (*, ⌈H/2⌉, ⌈W/2⌉) float Cb in [0, 1] (0.5 neutral).
        v: (*, ⌈H/2⌉, ⌈W/2⌉) float Cr in [0, 1].
        colour: matrix to use.
    Returns: (*, 3, H, W) RGB in [0, 1] (clipped).
    """
    height, width = _check_planes(y, u, v)
    chroma = torch.stack((u, v), dim=-3)
    chroma = chroma.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)[..., :height, :width]
    return yuv444_to_rgb(torch.cat((y.unsqueeze(-3), chroma), dim=-3), colour)


def to_uint8_planes(
    y: Tensor, u: Tensor, v: Tensor, colour: ColourSpace = BT709_FULL
) -> tuple[Tensor, Tensor, Tensor]:
    """Quantise normalised float planes to 8-bit codes of `colour.range`.

    Full range: Y = 255 y, C = 128 + 255 (c - 0.5). Limited range: Y = 16 + 219 y (16..235),
    C = 128 + 224 (c - 0.5) (16..240). Rounded half to even, clipped to 0..255.

    Args:
        y, u, v: float planes in [0, 1] of any (equal or 4:2:0) shapes.
        colour: its range decides the codes.
    Returns: (y, u, v) uint8 tensors of the same shapes.
    """
    y_scale, y_offset, c_scale = _code_scales(colour)
    return (
        _quantise(y * y_scale + y_offset),
        _quantise((u - 0.5) * c_scale + 128),
        _quantise((v - 0.5) * c_scale + 128),
    )


def from_uint8_planes(
    y: Tensor, u: Tensor, v: Tensor, colour: ColourSpace = BT709_FULL
) -> tuple[Tensor, Tensor, Tensor]:
    """8-bit codes of `colour.range` to normalised float32 planes (inverse of :func:`to_uint8_planes`).

    Limited-range codes outside 16..235 / 16..240 give values outside [0, 1]; the RGB
    conversion clips them.

    Args:
        y, u, v: uint8 planes of any shapes.
        colour: its range decides how codes are read.
    Returns: (y, u, v) float32 tensors of the same shapes; y in [0, 1], u and v 0.5 neutral.
    """
    for name, plane in (("y", y), ("u", u), ("v", v)):
        if plane.dtype != torch.uint8:
            raise InputError(f"Plane {name} must be uint8 8-bit codes, got {plane.dtype}; floats need no decoding.")
    y_scale, y_offset, c_scale = _code_scales(colour)
    return (
        (y.float() - y_offset) / y_scale,
        (u.float() - 128) / c_scale + 0.5,
        (v.float() - 128) / c_scale + 0.5,
    )


def _code_scales(colour: ColourSpace) -> tuple[float, float, float]:
    """(luma scale, luma offset, chroma scale) of 8-bit codes in `colour.range`."""
    if colour.range == "full":
        return 255.0, 0.0, 255.0
    return _LIMITED_Y[1], _LIMITED_Y[0], _LIMITED_C


def _quantise(codes: Tensor) -> Tensor:
    """Float code values to uint8: round half to even, clip to 0..255."""
    return codes.round().clamp(0, 255).to(torch.uint8)


def _downsample2x(planes: Tensor) -> Tensor:
    """(*, C, H, W) -> (*, C, ⌈H/2⌉, ⌈W/2⌉): 2x2 block means after replicating an odd last row / column."""
    height, width = planes.shape[-2:]
    lead = planes.shape[:-2]
    flat = planes.reshape(-1, 1, height, width)
    if height % 2 or width % 2:
        flat = F.pad(flat, (0, width % 2, 0, height % 2), mode="replicate")
    pooled = F.avg_pool2d(flat, kernel_size=2, stride=2)
    return pooled.reshape(*lead, *pooled.shape[-2:])


def _check_channels(x: Tensor, name: str) -> None:
    """Raise InputError unless `x` is a float (*, 3, H, W) tensor."""
    if not isinstance(x, Tensor) or x.ndim < 3 or x.shape[-3] != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InputError(f"{name} must be a (T, 3, H, W) or (3, H, W) tensor, got {shape}.")
    if not x.is_floating_point():
        raise InputError(f"{name} must be float in [0, 1], got {x.dtype}: divide 8-bit values by 255.")


def _check_planes(y: Tensor, u: Tensor, v: Tensor) -> tuple[int, int]:
    """Raise InputError unless y, u, v are float 4:2:0 planes of one frame size; returns (H, W)."""
    if not all(isinstance(p, Tensor) and p.is_floating_point() and p.ndim >= 2 for p in (y, u, v)):
        raise InputError(
            "y, u, v must be float tensors (*, H, W) and (*, H/2, W/2): convert 8-bit codes with from_uint8_planes."
        )
    height, width = y.shape[-2:]
    expected = (*y.shape[:-2], *chroma_size(height, width))
    if tuple(u.shape) != expected or tuple(v.shape) != expected:
        raise InputError(
            f"4:2:0 chroma planes must be {expected} for luma {tuple(y.shape)} (half size, rounded up), "
            f"got u {tuple(u.shape)} and v {tuple(v.shape)}."
        )
    return height, width


def rgb_to_yuv420_codes(rgb: Tensor, colour: ColourSpace = BT709_FULL) -> tuple[Tensor, Tensor, Tensor]:
    """8-bit 4:2:0 codes of RGB frames: clip to [0, 1], convert with `colour`, quantise.

    Args:
        rgb: (*, 3, H, W) float RGB.
    Returns: uint8 Y (*, H, W), U and V (*, ⌈H/2⌉, ⌈W/2⌉).
    """
    return to_uint8_planes(*rgb_to_yuv420(rgb.clamp(0, 1), colour), colour)
