"""Synthetic clips made from one still image, for demos and tests that need no video files.

A window moves across the image by a fixed step per frame (a camera pan), optionally
shrinking a little each frame (a zoom in), so consecutive frames are related by known
motion: a P-frame codec has real temporal redundancy to exploit.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

__all__ = ["pan_clip"]


def pan_clip(
    image: np.ndarray | Tensor,
    frames: int,
    size: tuple[int, int],
    step: tuple[int, int] = (0, 8),
    zoom: float = 0.0,
) -> Tensor:
    """Frames of a window panning (and zooming) across `image`.

    The path of the window is centred in the image. With `zoom=0` frames are exact crops,
    so frame t+1 is frame t shifted by `step`:
    ``clip[t + 1][:, :-dy or None, :-dx or None] == clip[t][:, dy:, dx:]`` for dy, dx >= 0.

    Args:
        image: (H, W, 3) RGB, uint8 or float in [0, 1], e.g. `skimage.data.astronaut()`.
        frames: number of frames T >= 1.
        size: (height, width) of the frames.
        step: (dy, dx) whole pixels the window moves per frame (negative: up / left).
        zoom: >= 0; the window shrinks by a factor 1 + zoom per frame (about its centre)
            and is resampled bilinearly to `size`.
    Returns: (T, 3, height, width) float32 in [0, 1].
    Raises:
        InputError: bad arguments, or a path that leaves the image.
    """
    picture = _as_float_chw(image)
    height, width = _check_args(frames, size, step, zoom)
    top0 = _path_start(picture.shape[1], height, (frames - 1) * step[0], "height")
    left0 = _path_start(picture.shape[2], width, (frames - 1) * step[1], "width")
    clip = [
        _zoomed_crop(picture, top0 + t * step[0], left0 + t * step[1], (height, width), (1 + zoom) ** t)
        for t in range(frames)
    ]
    return torch.stack(clip).contiguous()


def _as_float_chw(image: np.ndarray | Tensor) -> Tensor:
    """(H, W, 3) uint8 or float image as a (3, H, W) float32 tensor in [0, 1]."""
    picture = torch.as_tensor(np.asarray(image))
    if picture.ndim != 3 or picture.shape[-1] != 3:
        raise InputError(f"image must be (H, W, 3) RGB, got shape {tuple(picture.shape)}.")
    if picture.dtype == torch.uint8:
        picture = picture.float() / 255
    elif picture.is_floating_point():
        if picture.min() < 0 or picture.max() > 1:
            raise InputError("a float image must lie in [0, 1]; divide 8-bit values by 255.")
        picture = picture.float()
    else:
        raise InputError(f"image must be uint8 or float in [0, 1], got {picture.dtype}.")
    return picture.permute(2, 0, 1)


def _check_args(frames: int, size: tuple[int, int], step: tuple[int, int], zoom: float) -> tuple[int, int]:
    """Validate the clip arguments; returns (height, width)."""
    if not isinstance(frames, int) or frames < 1:
        raise InputError(f"frames must be a positive integer, got {frames!r}.")
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise InputError(f"size must be (height, width) in positive whole pixels, got {size!r}.")
    if len(step) != 2 or not all(isinstance(s, int) for s in step):
        raise InputError(f"step must be (dy, dx) in whole pixels, got {step!r}.")
    if zoom < 0:
        raise InputError(f"zoom must be >= 0 (a zoom in), got {zoom}.")
    return size[0], size[1]


def _path_start(extent: int, window: int, travel: int, axis: str) -> int:
    """First window offset along one axis so the window's whole path is centred in the image."""
    needed = window + abs(travel)
    if needed > extent:
        raise InputError(
            f"The pan needs a source {axis} of {needed} px ({window} px window + {abs(travel)} px travel), "
            f"but the image has {extent} px: use a smaller size, fewer frames or a smaller step."
        )
    return (extent - needed) // 2 - min(travel, 0)


def _zoomed_crop(picture: Tensor, top: int, left: int, size: tuple[int, int], scale: float) -> Tensor:
    """The `size` window at (top, left), shrunk by `scale` about its centre and resampled to `size`."""
    height, width = size
    if scale == 1:
        return picture[:, top : top + height, left : left + width]
    crop_h, crop_w = max(1, round(height / scale)), max(1, round(width / scale))
    top, left = top + (height - crop_h) // 2, left + (width - crop_w) // 2
    crop = picture[None, :, top : top + crop_h, left : left + crop_w]
    return F.interpolate(crop, size=size, mode="bilinear", align_corners=False)[0].clamp(0, 1)
