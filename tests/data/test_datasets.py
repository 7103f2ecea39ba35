"""Training datasets and the DataModule: clip shapes, shared augmentation, splits, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lvc_zoo.data import BVIDVC, VideoDataModule, VideoFolder, Vimeo90kSeptuplet, write_video
from lvc_zoo.errors import InputError

HEIGHT, WIDTH = 32, 48


def noise(height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 random image: any two different crops of it differ."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def vimeo_tree(root: Path, same_frames: bool = False) -> Path:
    """3 septuplets of 32x48 PNGs; with `same_frames`, all 7 frames of a septuplet are one image."""
    names = ["00001/0001", "00001/0002", "00002/0001"]
    for k, name in enumerate(names):
        folder = root / "sequences" / name
        folder.mkdir(parents=True)
        for t in range(1, 8):
            Image.fromarray(noise(seed=10 * k + (0 if same_frames else t))).save(folder / f"im{t}.png")
    (root / "sep_trainlist.txt").write_text("\n".join(names[:2]) + "\n")
    (root / "sep_testlist.txt").write_text(names[2] + "\n")
    return root


def smooth(frames: int, seed: int = 0) -> torch.Tensor:
    """(T, 3, 32, 48) smooth clip in [0.2, 0.8] (survives 4:2:0 and lossy coding)."""
    coarse = torch.rand(frames, 3, 4, 6, generator=torch.Generator().manual_seed(seed))
    return 0.2 + 0.6 * torch.nn.functional.interpolate(coarse, size=(HEIGHT, WIDTH), mode="bilinear")


def folder_tree(root: Path) -> Path:
    """One .y4m, one _WxH_ .yuv, one .mp4 and one PNG folder (6 frames each) in nested folders."""
    write_video(root / "a" / "clip.y4m", smooth(6, 1))
    write_video(root / "a" / "b" / f"raw_{WIDTH}x{HEIGHT}_30.yuv", smooth(6, 2))
    write_video(root / "c.mp4", smooth(6, 3), lossless=True)
    write_video(root / "pngs" / "shot", smooth(6, 4))
    return root


def crop_positions(image: torch.Tensor, window: torch.Tensor) -> list[tuple[int, int, bool]]:
    """Every (top, left, flipped) where `window` (3, c, c) is a crop of `image` (3, H, W)."""
    c = window.shape[-1]
    found = []
    for top in range(image.shape[1] - c + 1):
        for left in range(image.shape[2] - c + 1):
            patch = image[:, top : top + c, left : left + c]
            for flipped, candidate in ((False, patch), (True, patch.flip(-1))):
                if torch.equal(candidate, window):
                    found.append((top, left, flipped))
    return found


# ------------------------------------------------------------------ Vimeo-90k


def test_vimeo_items_are_clips_of_the_first_frames_in_range(tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path)
    train = Vimeo90kSeptuplet(root, frames=5, crop=16)
    test = Vimeo90kSeptuplet(root, split="test", frames=3, crop=None)
    assert len(train) == 2 and len(test) == 1
    clip = train[0]
    assert clip.shape == (5, 3, 16, 16) and clip.dtype == torch.float32
    assert 0 <= clip.min() and clip.max() <= 1
    full = test[0]
    assert full.shape == (3, 3, HEIGHT, WIDTH)
    expected = torch.from_numpy(noise(seed=21)).permute(2, 0, 1).float() / 255  # im1 of 00002/0001
    assert torch.equal(full[0], expected)


def test_one_crop_and_flip_for_all_frames_of_a_clip(tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path, same_frames=True)
    image = torch.from_numpy(noise(seed=0)).permute(2, 0, 1).float() / 255
    flips = set()
    for seed in range(8):
        clip = Vimeo90kSeptuplet(root, frames=7, crop=16, seed=seed)[0]
        assert all(torch.equal(frame, clip[0]) for frame in clip)  # same source frames -> same window
        (position,) = crop_positions(image, clip[0])
        flips.add(position[2])
    assert flips == {False, True}  # both flip decisions occur over seeds


def test_shifted_frames_keep_their_motion_after_augmentation(tmp_path: Path) -> None:
    """Frame t is the base shifted right by t pixels: the shift survives a shared crop (and flips with it)."""
    base = noise(HEIGHT, WIDTH + 8, seed=5)
    folder = tmp_path / "sequences" / "00001" / "0001"
    folder.mkdir(parents=True)
    for t in range(1, 4):
        Image.fromarray(base[:, 8 - t : 8 - t + WIDTH]).save(folder / f"im{t}.png")
    (tmp_path / "sep_trainlist.txt").write_text("00001/0001\n")
    for seed in range(4):
        clip = Vimeo90kSeptuplet(tmp_path, frames=3, crop=16, seed=seed)[0]
        moved = torch.equal(clip[1][:, :, 1:], clip[0][:, :, :-1])  # content moves right ...
        mirrored = torch.equal(clip[1][:, :, :-1], clip[0][:, :, 1:])  # ... or left when flipped
        assert moved or mirrored
        assert moved == torch.equal(clip[2][:, :, 1:], clip[1][:, :, :-1])


def test_same_seed_same_item_and_test_split_is_centre_crop(tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path)
    a, b = Vimeo90kSeptuplet(root, frames=2, crop=16, seed=3), Vimeo90kSeptuplet(root, frames=2, crop=16, seed=3)
    assert all(torch.equal(a[i], b[i]) for i in range(len(a)))
    assert torch.equal(a[0], a[0])  # the same every epoch
    others = [Vimeo90kSeptuplet(root, frames=2, crop=16, seed=s)[0] for s in range(4, 8)]
    assert any(not torch.equal(a[0], other) for other in others)
    test = Vimeo90kSeptuplet(root, split="test", frames=2, crop=16, seed=9)[0]
    full = Vimeo90kSeptuplet(root, split="test", frames=2, crop=None)[0]
    assert torch.equal(test, full[..., 8:24, 16:32])


def test_vimeo_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sep_trainlist.txt not found"):
        Vimeo90kSeptuplet(tmp_path)
    (tmp_path / "sep_trainlist.txt").write_text("\n")
    with pytest.raises(InputError, match="lists no sequences"):
        Vimeo90kSeptuplet(tmp_path)
    (tmp_path / "sep_trainlist.txt").write_text("00009/0001\n")
    with pytest.raises(InputError, match="00009"):
        Vimeo90kSeptuplet(tmp_path, crop=None)[0]
    vimeo_tree(tmp_path / "v")
    with pytest.raises(InputError, match="0001 is 48x32, smaller than crop 40"):
        Vimeo90kSeptuplet(tmp_path / "v", crop=40)[0]
    with pytest.raises(InputError, match="7 frames"):
        Vimeo90kSeptuplet(tmp_path, frames=8)


# ------------------------------------------------------------------ VideoFolder


def test_video_folder_reads_every_format(tmp_path: Path) -> None:
    root = folder_tree(tmp_path)
    data = VideoFolder(root, frames=3, crop=16, val_fraction=0)
    assert {p.relative_to(root).as_posix() for p in data.videos} == {
        "a/clip.y4m", f"a/b/raw_{WIDTH}x{HEIGHT}_30.yuv", "c.mp4", "pngs/shot"
    }
    assert len(data) == 8  # 4 videos x 2 clips of 3 frames (stride 3)
    for clip in data:
        assert clip.shape == (3, 3, 16, 16) and 0 <= clip.min() and clip.max() <= 1
    overlapping = VideoFolder(root, frames=3, crop=None, stride=1, val_fraction=0, flip=False)
    assert len(overlapping) == 16
    shot = [i for i, c in enumerate(overlapping.clips) if c.path.name == "shot"]
    assert [overlapping.clips[i].start for i in shot] == [0, 1, 2, 3]
    first, second = overlapping[shot[0]], overlapping[shot[1]]
    assert first.shape == (3, 3, HEIGHT, WIDTH)
    assert torch.equal(first[1:], second[:2])  # the clip at start 1 reads frames 1, 2, 3


def test_val_split_is_by_video_and_deterministic(tmp_path: Path) -> None:
    root = folder_tree(tmp_path)
    for fraction in (0.1, 0.5, 0.9):
        train = VideoFolder(root, frames=2, crop=16, split="train", val_fraction=fraction)
        val = VideoFolder(root, frames=2, crop=16, split="val", val_fraction=fraction, seed=7)
        assert train.videos and val.videos
        assert not set(train.videos) & set(val.videos)
        assert len(train.videos) + len(val.videos) == 4
        assert {c.path for c in train.clips}.isdisjoint({c.path for c in val.clips})
        again = VideoFolder(root, frames=2, crop=16, split="val", val_fraction=fraction)
        assert again.videos == val.videos
    val = VideoFolder(root, frames=2, crop=16, split="val", val_fraction=0.5)
    assert torch.equal(val[0], val[0]) and val.train is False
    full = VideoFolder(root, frames=2, crop=None, split="val", val_fraction=0.5)
    assert torch.equal(val[0], full[0][..., 8:24, 16:32])


def test_empty_unreadable_and_short_videos(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no videos here")
    with pytest.raises(InputError, match=f"{tmp_path}.*holds no videos"):
        VideoFolder(tmp_path)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="Cannot read .*broken.mp4"):
        VideoFolder(tmp_path, val_fraction=0)
    (tmp_path / "broken.mp4").unlink()
    (tmp_path / "nosize.yuv").write_bytes(bytes(100))
    with pytest.raises(InputError, match="nosize.yuv.*size"):
        VideoFolder(tmp_path, val_fraction=0)
    (tmp_path / "nosize.yuv").unlink()
    write_video(tmp_path / "short.y4m", smooth(2))
    write_video(tmp_path / "long.y4m", smooth(5))
    with pytest.warns(UserWarning, match="short.y4m"):
        data = VideoFolder(tmp_path, frames=4, crop=16, val_fraction=0)
    assert [c.path.name for c in data.clips] == ["long.y4m"]
    with pytest.warns(UserWarning, match="long.y4m"), pytest.raises(InputError, match="No video .* has 6 frames"):
        VideoFolder(tmp_path, frames=6, crop=16, val_fraction=0)


# ------------------------------------------------------------------ BVI-DVC


def test_bvidvc_reads_8bit_and_refuses_10bit(tmp_path: Path) -> None:
    name = f"AAdvertisingMassagesBangkokVidevo_{WIDTH}x{HEIGHT}_25fps_8bit_420.yuv"
    write_video(tmp_path / name, smooth(4))
    write_video(tmp_path / "ignored.y4m", smooth(4))  # BVI-DVC reads .yuv only
    data = BVIDVC(tmp_path, frames=4, crop=16, val_fraction=0)
    assert [p.name for p in data.videos] == [name] and data[0].shape == (4, 3, 16, 16)
    ten = tmp_path / f"BBall_{WIDTH}x{HEIGHT}_25fps_10bit_420.yuv"
    ten.write_bytes(bytes(2 * WIDTH * HEIGHT * 3 // 2 * 4))
    with pytest.raises(InputError, match=r"BBall.*10-bit YUV is not supported by lvc_zoo.data yet"):
        BVIDVC(tmp_path, frames=4, crop=16, val_fraction=0)
    ten.rename(tmp_path / f"BBall_{WIDTH}x{HEIGHT}_25fps_yuv420p10le.yuv")
    with pytest.raises(InputError, match="10-bit YUV is not supported"):
        BVIDVC(tmp_path, frames=4, crop=16, val_fraction=0)


# ------------------------------------------------------------------ DataModule


@pytest.mark.parametrize("dataset", ["vimeo90k", "folder"])
def test_datamodule_batches(tmp_path: Path, dataset: str) -> None:
    root = vimeo_tree(tmp_path) if dataset == "vimeo90k" else folder_tree(tmp_path)
    module = VideoDataModule(dataset, root, frames=3, crop=16, batch_size=2, num_workers=0, val_fraction=0.3,
                             val_frames=2, val_crop=24)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch.shape == (2, 3, 3, 16, 16) and batch.dtype == torch.float32
    val = list(module.val_dataloader())
    assert val[0].shape[1:] == (2, 3, 24, 24)
    assert all(torch.equal(a, b) for a, b in zip(val, module.val_dataloader()))
    assert len(module.train_dataloader()) == len(module.train_set) // 2  # drop_last


def test_datamodule_with_two_workers(tmp_path: Path) -> None:
    root = folder_tree(tmp_path)
    module = VideoDataModule("folder", root, frames=2, crop=16, batch_size=2, num_workers=2, val_fraction=0.3)
    module.setup("fit")
    loader = module.train_dataloader()
    assert loader.persistent_workers and loader.drop_last
    batches = list(loader)
    assert len(batches) == len(module.train_set) // 2
    assert all(b.shape == (2, 2, 3, 16, 16) for b in batches)
    assert sum(b.shape[0] for b in module.val_dataloader()) == len(module.val_set)


def test_datamodule_rejects_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="vimeo90k"):
        VideoDataModule("kinetics", tmp_path)  # type: ignore[arg-type]


def test_items_do_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    root = folder_tree(tmp_path)
    dataset = VideoFolder(root, frames=2, crop=16, split="train", val_fraction=0.3, seed=3)
    in_process = [dataset[i] for i in range(len(dataset))]
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=2, shuffle=False)
    from_workers = [batch[0] for batch in loader]
    assert all(torch.equal(a, b) for a, b in zip(in_process, from_workers))
