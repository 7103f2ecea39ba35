"""pan_clip (shape, range, frames that are exact shifts of each other) and the PhotoPans training set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvc_zoo.data import pan_clip
from lvc_zoo.data.synthetic import HELD_OUT_PHOTO, TRAINING_PHOTOS, PhotoPans, load_photo
from lvc_zoo.errors import InputError


@pytest.fixture
def image() -> np.ndarray:
    """A random (H, W, 3) uint8 photo stand-in: every shift changes the content."""
    return np.random.default_rng(0).integers(0, 256, size=(80, 120, 3), dtype=np.uint8)


def test_shape_dtype_and_range(image: np.ndarray) -> None:
    clip = pan_clip(image, 4, (32, 48), (1, 3))
    assert clip.shape == (4, 3, 32, 48) and clip.dtype == torch.float32
    assert clip.min() >= 0 and clip.max() <= 1
    assert clip.is_contiguous()


@pytest.mark.parametrize("step", [(0, 8), (2, 5), (-3, 4), (4, -6), (0, 0)])
def test_consecutive_frames_are_shifted_by_the_step(image: np.ndarray, step: tuple[int, int]) -> None:
    dy, dx = step
    clip = pan_clip(image, 5, (32, 40), step)
    h, w = 32, 40
    for t in range(4):
        later = clip[t + 1][:, max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
        earlier = clip[t][:, max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
        assert torch.equal(later, earlier), t


def test_frames_are_crops_of_the_image_at_full_precision(image: np.ndarray) -> None:
    clip = pan_clip(image, 3, (20, 30), (0, 5))
    as_float = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    top, left = (80 - 20) // 2, (120 - 30 - 10) // 2  # the path is centred
    assert torch.equal(clip[0], as_float[:, top : top + 20, left : left + 30])


def test_float_images_are_accepted(image: np.ndarray) -> None:
    assert torch.equal(pan_clip(image / 255.0, 2, (16, 16)), pan_clip(image, 2, (16, 16)))


def test_zoom_magnifies_the_centre(image: np.ndarray) -> None:
    clip = pan_clip(image, 3, (32, 32), (0, 0), zoom=0.25)
    assert clip.shape == (3, 3, 32, 32) and clip.min() >= 0 and clip.max() <= 1
    assert torch.equal(clip[0], pan_clip(image, 1, (32, 32))[0])  # frame 0 is not zoomed
    assert not torch.equal(clip[1], clip[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frames": 0}, "frames must be a positive integer"),
        ({"size": (0, 16)}, "size must be"),
        ({"size": (81, 16)}, r"source height of 81 px .* image has 80 px"),
        ({"frames": 10, "step": (0, -12)}, r"source width of 124 px \(16 px window \+ 108 px travel\)"),
        ({"step": (0.5, 1)}, "whole pixels"),
        ({"zoom": -0.1}, "zoom must be >= 0"),
    ],
)
def test_bad_arguments_raise_input_error(image: np.ndarray, kwargs: dict, match: str) -> None:
    args = {"frames": 2, "size": (16, 16), "step": (0, 8)} | kwargs
    with pytest.raises(InputError, match=match):
        pan_clip(image, **args)


def test_bad_images_raise_input_error() -> None:
    with pytest.raises(InputError, match=r"\(H, W, 3\) RGB"):
        pan_clip(np.zeros((8, 8), np.uint8), 1, (4, 4))
    with pytest.raises(InputError, match=r"lie in \[0, 1\]"):
        pan_clip(np.full((8, 8, 3), 2.0), 1, (4, 4))


# ----------------------------------------------------------------------------- PhotoPans


def test_load_photo_gives_rgb_uint8_for_colour_and_grey_photos():
    for name in ("astronaut", "camera", "stereo_motorcycle"):
        image = load_photo(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3
    grey = load_photo("camera")
    assert np.array_equal(grey[..., 0], grey[..., 2])


def test_load_photo_refuses_unknown_names():
    with pytest.raises(InputError, match="not an 8-bit scikit-image photo"):
        load_photo("no_such_photo")


def test_held_out_photo_is_not_trained_on():
    assert HELD_OUT_PHOTO not in TRAINING_PHOTOS


def test_photo_pans_items_are_clips_in_range_and_reproducible():
    data = PhotoPans(("astronaut", "coffee"), frames=3, crop=64, clips=8, seed=5)
    clip = data[2]
    assert clip.shape == (3, 3, 64, 64) and clip.dtype == torch.float32
    assert 0 <= clip.min() and clip.max() <= 1
    assert torch.equal(clip, PhotoPans(("astronaut", "coffee"), frames=3, crop=64, clips=8, seed=5)[2])
    assert not torch.equal(data[2], data[3])


def test_photo_pans_draws_fresh_clips_each_epoch():
    data = PhotoPans(("astronaut",), frames=2, crop=64, clips=4)
    assert torch.equal(data[0], data[(0, 0)])
    assert not torch.equal(data[(0, 0)], data[(0, 1)])
    assert torch.equal(data[(0, 1)], data[(0, 1)])


def test_photo_pans_without_zoom_are_exact_camera_pans():
    data = PhotoPans(("astronaut",), frames=3, crop=48, clips=16, max_step=6, max_zoom=0.0)
    for index in range(len(data)):
        clip = data[index]
        # some shift (dy, dx) with |dy|, |dx| <= 6 maps frame t onto frame t + 1 on their overlap
        matches = [
            (dy, dx)
            for dy in range(-6, 7)
            for dx in range(-6, 7)
            if torch.equal(
                clip[1][:, max(0, -dy) : 48 - max(0, dy), max(0, -dx) : 48 - max(0, dx)],
                clip[0][:, max(0, dy) : 48 - max(0, -dy), max(0, dx) : 48 - max(0, -dx)],
            )
        ]
        assert matches, f"item {index} is not a pan"


def test_photo_pans_refuses_bad_arguments():
    with pytest.raises(InputError, match="too small"):
        PhotoPans(("chelsea",), frames=8, crop=200, max_step=8)
    with pytest.raises(InputError, match="at least one photo"):
        PhotoPans(())
    with pytest.raises(InputError, match="0 <= recolour < 1"):
        PhotoPans(("astronaut",), recolour=1.0)


def test_recolour_shuffles_and_scales_the_channels_of_the_same_clip():
    plain = PhotoPans(("camera", "astronaut"), frames=2, crop=32, clips=16, seed=3)
    tinted = PhotoPans(("camera", "astronaut"), frames=2, crop=32, clips=16, recolour=0.5, seed=3)
    greys = 0
    for index in range(len(plain)):
        before, after = plain[index], tinted[index]
        assert not torch.equal(before, after)
        # every output channel is some input channel times a gain in [0.5, 1]; the largest gain is 1
        gains = []
        for channel in after.unbind(1):
            ratios = [channel.sum() / source.sum() for source in before.unbind(1)]
            gains.append(next(float(r) for r, source in zip(ratios, before.unbind(1)) if torch.allclose(channel, source * r, atol=1e-6)))
        assert all(0.5 - 1e-6 <= g <= 1 + 1e-6 for g in gains) and max(gains) == pytest.approx(1.0)
        if torch.equal(before[:, 0], before[:, 1]):  # a clip of the grey "camera" comes out tinted
            greys += 1
            assert not torch.equal(after[:, 0], after[:, 1]) or not torch.equal(after[:, 1], after[:, 2])
    assert 0 < greys < len(plain)


def test_photo_pans_at_the_photos_own_scale_fit_large_crops():
    data = PhotoPans(("coffee",), frames=3, crop=256, clips=2, max_scale=1.0)
    assert data[1].shape == (3, 3, 256, 256)
    with pytest.raises(InputError, match="max_scale"):
        PhotoPans(("coffee",), frames=3, crop=256, max_scale=0.5)
