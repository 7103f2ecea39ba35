"""Synthetic clips made from still images, for demos, tests and the demo model's training.

A window moves across the image by a fixed step per frame (a camera pan), optionally
shrinking a little each frame (a zoom in), so consecutive frames are related by known
motion: a P-frame codec has real temporal redundancy to exploit.

    pan_clip(image, frames, size, step, zoom)   one clip from one image
    PhotoPans(photos, frames, crop, clips)      a training set of random pans and zooms across
                                                scikit-image's bundled photos (no download)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import InputError

__all__ = ["pan_clip", "load_photo", "PhotoPans", "TRAINING_PHOTOS", "HELD_OUT_PHOTO"]

TRAINING_PHOTOS = (
    "astronaut", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina",
    "stereo_motorcycle", "camera", "brick", "grass", "gravel", "moon", "clock", "coins",
)
"""scikit-image photos bundled with the package (no download) that PhotoPans trains on by default."""
HELD_OUT_PHOTO = "coffee"
"""The bundled photo kept out of training: the demo model's proof clip pans across it."""


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


def load_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos as (H, W, 3) uint8 RGB (grey ones repeated to 3 channels).

    Raises:
        InputError: `name` is not a bundled photo that loads without a download.
    """
    loader = getattr(skimage.data, name, None)
    try:
        image = loader() if callable(loader) else None
    except (ImportError, OSError, ValueError) as exc:  # photos fetched by pooch need a download
        raise InputError(f"scikit-image photo {name!r} is not bundled (it needs a download): {exc}") from exc
    if isinstance(image, tuple):  # stereo pairs: the left view
        image = image[0]
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InputError(f"{name!r} is not an 8-bit scikit-image photo; choose from {', '.join(TRAINING_PHOTOS)}.")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


class PhotoPans(Dataset[Tensor]):
    """Random camera pans and zooms across still photos: (T, 3, crop, crop) clips in [0, 1].

    Item i draws, from a generator seeded by (seed, epoch, i): a photo, a downscale of it
    (1x to `max_scale`, so textures vary in size), a pan step (dy, dx) of up to `max_step` pixels per
    frame, a zoom in of up to `max_zoom` per frame (half the clips do not zoom), the window's
    place in the photo, a horizontal flip and, with `recolour`, a colour change. The same (seed, epoch, i) always gives the
    same clip, whatever the loader's worker count. Items are keyed like the ClipDatasets':
    ``data[i]`` is epoch 0, ``data[(i, epoch)]`` that epoch's clip (the training loader's
    EpochSampler yields such keys, so every epoch brings fresh clips).

    Args:
        photos: names of bundled scikit-image photos (see `load_photo`).
        frames: frames per clip T.
        crop: side of the square frames in pixels.
        clips: items per epoch.
        max_step: largest pan in pixels per frame along each axis.
        max_zoom: largest zoom in per frame (0.02 = the window shrinks 2 % per frame).
        max_scale: largest downscale of the photo (1: photos at their own size).
        recolour: 0 keeps the photos' colours; above 0, each clip's channels are shuffled and
            scaled by gains drawn from [1 - recolour, 1] (the largest set to 1), so grey photos
            become tinted and colour ones change hue: a few photos, half of them grey, would
            otherwise teach a codec little about colour (the demo model used 0.5).
        seed: augmentation seed.
    """

    def __init__(
        self,
        photos: Sequence[str] = TRAINING_PHOTOS,
        frames: int = 3,
        crop: int = 128,
        clips: int = 1000,
        max_step: int = 8,
        max_zoom: float = 0.02,
        max_scale: float = 2.0,
        recolour: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not photos:
            raise InputError("PhotoPans needs at least one photo name.")
        if frames < 1 or crop < 16 or clips < 1 or max_step < 0 or max_zoom < 0 or max_scale < 1 or not 0 <= recolour < 1:
            raise InputError(
                "PhotoPans needs frames >= 1, crop >= 16, clips >= 1, max_step >= 0, max_zoom >= 0, "
                f"max_scale >= 1 and 0 <= recolour < 1; got frames={frames}, crop={crop}, clips={clips}, "
                f"max_step={max_step}, max_zoom={max_zoom}, max_scale={max_scale}, recolour={recolour}."
            )
        self.images = [_as_float_chw(load_photo(name)) for name in photos]
        travel = crop + (frames - 1) * max_step
        for name, image in zip(photos, self.images):
            if min(image.shape[-2:]) < max_scale * travel + 1:
                raise InputError(
                    f"photo {name!r} ({image.shape[-1]}x{image.shape[-2]}) is too small for {frames} frames of "
                    f"{crop} px panning up to {max_step} px per frame at {max_scale}x downscale: lower crop, "
                    "frames, max_step or max_scale."
                )
        self.frames, self.crop, self.clips = frames, crop, clips
        self.max_step, self.max_zoom, self.max_scale, self.seed = max_step, max_zoom, max_scale, seed
        self.recolour = recolour

    def __len__(self) -> int:
        return self.clips

    def __getitem__(self, key: int | tuple[int, int]) -> Tensor:
        index, epoch = (key, 0) if isinstance(key, int) else key
        if not 0 <= index < self.clips:
            raise IndexError(f"clip index {index} out of range for {self.clips} clips")
        state = np.random.SeedSequence([self.seed, epoch, index]).generate_state(2, dtype=np.uint32)
        gen = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
        uniform = lambda: float(torch.rand((), generator=gen))  # noqa: E731
        image = self.images[int(torch.randint(len(self.images), (), generator=gen))]
        scale = 1 + (self.max_scale - 1) * uniform()
        size = (max(1, round(image.shape[1] / scale)), max(1, round(image.shape[2] / scale)))
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)
        step = tuple(int(v) for v in torch.randint(-self.max_step, self.max_step + 1, (2,), generator=gen))
        zoom = self.max_zoom * uniform() if uniform() < 0.5 else 0.0
        region_h = self.crop + abs(step[0]) * (self.frames - 1)
        region_w = self.crop + abs(step[1]) * (self.frames - 1)
        top = int(torch.randint(size[0] - region_h + 1, (), generator=gen))
        left = int(torch.randint(size[1] - region_w + 1, (), generator=gen))
        region = image[:, top : top + region_h, left : left + region_w]
        clip = pan_clip(region.permute(1, 2, 0), self.frames, (self.crop, self.crop), step, zoom)
        clip = clip.flip(-1) if uniform() < 0.5 else clip
        if self.recolour > 0:  # drawn last: recolour=0 leaves every other draw as it was
            order = torch.randperm(3, generator=gen)
            gains = 1 - self.recolour * torch.rand(3, generator=gen)
            clip = clip[:, order] * (gains / gains.max()).view(1, 3, 1, 1)
        return clip
