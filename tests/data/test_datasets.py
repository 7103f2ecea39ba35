"""Training datasets and the DataModule: clip shapes, shared augmentation, splits, clear errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from lvc_zoo.data import (
    BT709_FULL,
    BT709_LIMITED,
    BVIDVC,
    ColourSpace,
    VideoDataModule,
    VideoFolder,
    Vimeo90kSeptuplet,
    read_video,
    write_video,
    yuv420_to_rgb,
)
from lvc_zoo.data.datasets import parse_bvidvc_name
from lvc_zoo.data.sampling import EpochSampler, ResumableDataLoader
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


def write_raw(path: Path, y: np.ndarray, u: np.ndarray, v: np.ndarray, dtype: str) -> Path:
    """Planar Y, U, V frames (T, H, W) / (T, H/2, W/2) back to back, samples as `dtype` ("<u2", "u1")."""
    frames = [np.concatenate([p[t].ravel() for p in (y, u, v)]) for t in range(y.shape[0])]
    path.write_bytes(np.concatenate(frames).astype(dtype).tobytes())
    return path


def codes_10bit(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random mid-range 10-bit codes: Y (T, 32, 48), U and V (T, 16, 24)."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(64, 960, (frames, HEIGHT, WIDTH)),
        rng.integers(64, 960, (frames, HEIGHT // 2, WIDTH // 2)),
        rng.integers(64, 960, (frames, HEIGHT // 2, WIDTH // 2)),
    )


def test_bvidvc_reads_8bit_files_as_read_video_does(tmp_path: Path) -> None:
    name = f"AAdvertisingMassagesBangkokVidevo_{WIDTH}x{HEIGHT}_25fps_8bit_420.yuv"
    write_video(tmp_path / name, smooth(4))
    write_video(tmp_path / "ignored.y4m", smooth(4))  # BVI-DVC reads .yuv only
    data = BVIDVC(tmp_path, frames=3, crop=None, stride=1, val_fraction=0, flip=False)
    assert [p.name for p in data.videos] == [name] and len(data) == 2
    assert torch.equal(data[1], read_video(tmp_path / name, frames=3, start=1)[0])
    limited = BVIDVC(tmp_path, frames=3, crop=None, val_fraction=0, flip=False, colour=BT709_LIMITED)
    assert torch.equal(limited[0], read_video(tmp_path / name, frames=3, colour=BT709_LIMITED)[0])


@pytest.mark.parametrize("colour", [BT709_FULL, ColourSpace("bt601", "limited")])
def test_bvidvc_converts_10bit_codes_without_8bit_rounding(tmp_path: Path, colour: ColourSpace) -> None:
    y, u, v = codes_10bit(3)
    y[:, 0, :4] = [512, 513, 514, 515]  # grey one 10-bit step apart: 8 bits would make them equal
    u[:, 0, :2] = v[:, 0, :2] = 512
    write_raw(tmp_path / f"Clip_{WIDTH}x{HEIGHT}_25fps_10bit_420.yuv", y, u, v, "<u2")
    clip = BVIDVC(tmp_path, frames=3, crop=None, val_fraction=0, flip=False, colour=colour)[0]
    assert clip.shape == (3, 3, HEIGHT, WIDTH) and clip.dtype == torch.float32
    if colour.range == "full":  # H.273 full range: Y / 1023, C = (code - 512) / 1023 + 0.5
        planes = [torch.from_numpy(y) / 1023, *((torch.from_numpy(c) - 512) / 1023 + 0.5 for c in (u, v))]
    else:  # H.273 limited range: Y = (code / 4 - 16) / 219, C = (code / 4 - 128) / 224 + 0.5
        planes = [(torch.from_numpy(y) / 4 - 16) / 219, *((torch.from_numpy(c) / 4 - 128) / 224 + 0.5 for c in (u, v))]
    expected = yuv420_to_rgb(*(p.float() for p in planes), colour)
    torch.testing.assert_close(clip, expected, rtol=0, atol=1e-6)
    greys = clip[0, :, 0, :4]
    assert bool((greys[:, 1:] > greys[:, :-1]).all())


def test_bvidvc_reads_only_the_window_and_matches_cropping_whole_frames(tmp_path: Path) -> None:
    for k, name in enumerate([f"A_{WIDTH}x{HEIGHT}_25fps_10bit_420.yuv", f"B_{WIDTH}x{HEIGHT}_yuv420p10le.yuv"]):
        write_raw(tmp_path / name, *codes_10bit(4, seed=k), "<u2")
    whole = BVIDVC(tmp_path, frames=2, crop=None, val_fraction=0, flip=False)
    offsets = set()
    for seed in range(6):
        data = BVIDVC(tmp_path, frames=2, crop=15, val_fraction=0, seed=seed)
        assert len(data) == 4 and data[3].shape == (2, 3, 15, 15)
        for index in range(len(data)):
            clip, full = data[index], whole[index]
            (top, left, flipped) = crop_positions(full[0], clip[0])[0]
            window = full[..., top : top + 15, left : left + 15]
            assert torch.equal(clip, window.flip(-1) if flipped else window)
            offsets.add((top % 2, left % 2))
    assert offsets == {(0, 0), (0, 1), (1, 0), (1, 1)}  # odd windows start inside a chroma block


def test_bvidvc_errors_name_the_file(tmp_path: Path) -> None:
    y, u, v = codes_10bit(2)
    bad = write_raw(tmp_path / f"Big_{WIDTH}x{HEIGHT}_10bit.yuv", y * 4, u, v, "<u2")  # 12-bit values
    with pytest.raises(InputError, match=r"Big_48x32_10bit.yuv holds samples above 1023"):
        BVIDVC(tmp_path, frames=2, crop=None, val_fraction=0)[0]
    bad.unlink()
    write_raw(tmp_path / f"Cut_{WIDTH}x{HEIGHT}_10bit.yuv", *codes_10bit(3), "u1")  # 8-bit: 1.5 10-bit frames
    with pytest.raises(InputError, match=r"Cannot read .*Cut_48x32_10bit.yuv: .* not a positive multiple .*10-bit"):
        BVIDVC(tmp_path, frames=2, crop=None, val_fraction=0)
    for name, message in [
        (f"C_{WIDTH}x{HEIGHT}_10bit_444.yuv", "chroma format 444"),
        (f"C_{WIDTH}x{HEIGHT}_yuv420p10be.yuv", "big-endian"),
        (f"C_{WIDTH}x{HEIGHT}_4bit.yuv", "4-bit"),
        ("C_10bit.yuv", "no frame size"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_bvidvc_name(name)
    assert parse_bvidvc_name("AAdvertisingMassagesBangkokVidevo_1920x1088_25fps_10bit_420.yuv") == (1920, 1088, 10)
    assert parse_bvidvc_name("clip_64x32.yuv").bit_depth == 8


# ------------------------------------------------------------------ epochs, sampler, resumable loader


def test_each_epoch_draws_fresh_crops_independent_of_workers(tmp_path: Path) -> None:
    root = vimeo_tree(tmp_path)
    data = Vimeo90kSeptuplet(root, frames=2, crop=16, seed=1)
    assert torch.equal(data[0], data[(0, 0)])  # a plain index is epoch 0
    epochs = [data[(0, epoch)] for epoch in range(6)]
    assert len({tuple(e.flatten()[:64].tolist()) for e in epochs}) > 1  # crops change between epochs
    assert torch.equal(epochs[3], Vimeo90kSeptuplet(root, frames=2, crop=16, seed=1)[(0, 3)])  # and repeat
    keys = [(i, epoch) for epoch in (2, 5) for i in range(len(data))]
    loader = torch.utils.data.DataLoader(data, batch_size=1, num_workers=2, sampler=keys)
    assert all(torch.equal(batch[0], data[key]) for batch, key in zip(loader, keys))


def test_epoch_sampler_shuffles_per_epoch_and_splits_ranks() -> None:
    data = list(range(10))
    sampler = EpochSampler(data, seed=3)
    sampler.set_epoch(1)
    first = list(sampler)
    assert sorted(i for i, _ in first) == data and {e for _, e in first} == {1}
    assert first == list(sampler)  # same epoch, same order
    sampler.set_epoch(2)
    assert [i for i, _ in sampler] != [i for i, _ in first]
    ranks = [EpochSampler(data, num_replicas=3, rank=r, seed=3) for r in range(3)]
    shares = [[i for i, _ in rank] for rank in ranks]
    assert all(len(share) == 4 for share in shares)  # 10 padded to 12
    assert set().union(*shares) == set(data)


def test_resumable_loader_continues_on_the_next_batch(tmp_path: Path) -> None:
    data = Vimeo90kSeptuplet(vimeo_tree(tmp_path), frames=1, crop=8, seed=2)
    data.clips = data.clips * 4  # 8 items

    def loader() -> ResumableDataLoader:
        return ResumableDataLoader(data, EpochSampler(data, seed=5), batch_size=2, drop_last=True)

    full = loader()
    full.sampler.set_epoch(1)
    expected = list(full)
    assert len(expected) == len(full) == 4
    killed = loader()
    killed.sampler.set_epoch(1)
    batches = iter(killed)
    seen = [next(batches), next(batches)]
    state = killed.state_dict()
    assert state == {"epoch": 1, "batches": 2}
    resumed = loader()
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(1)
    rest = list(resumed)
    assert len(rest) == 2 and all(torch.equal(a, b) for a, b in zip(seen + rest, expected))
    assert resumed.state_dict() == {"epoch": 1, "batches": 4}
    assert len(list(resumed)) == 4  # the next pass is whole again

    def epoch(number: int) -> list[torch.Tensor]:
        fresh = loader()
        fresh.sampler.set_epoch(number)
        return list(fresh)

    relabelled = loader()  # Lightning calls the resumed epoch 2 (a checkpoint written as training stopped)
    relabelled.load_state_dict(state)
    relabelled.sampler.set_epoch(2)
    assert all(torch.equal(a, b) for a, b in zip(list(relabelled), expected[2:], strict=True))
    relabelled.sampler.set_epoch(3)  # ... and the next one 3: it is our epoch 2
    assert all(torch.equal(a, b) for a, b in zip(list(relabelled), epoch(2), strict=True))
    finished = loader()  # a state at the end of epoch 1 continues with epoch 2
    finished.load_state_dict({"epoch": 1, "batches": 4})
    finished.sampler.set_epoch(2)
    assert all(torch.equal(a, b) for a, b in zip(list(finished), epoch(2), strict=True))
    assert finished.state_dict() == {"epoch": 2, "batches": 4}
    with pytest.raises(ValueError, match="drop_last"):
        ResumableDataLoader(data, EpochSampler(data), batch_size=2)


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
    del loader  # stop its persistent workers now: save_hyperparameters keeps this frame in a reference cycle
    assert len(batches) == len(module.train_set) // 2
    assert all(b.shape == (2, 2, 3, 16, 16) for b in batches)
    assert sum(b.shape[0] for b in module.val_dataloader()) == len(module.val_set)


def test_datamodule_train_loader_is_resumable_and_per_rank(tmp_path: Path) -> None:
    root = folder_tree(tmp_path)
    module = VideoDataModule("folder", root, frames=2, crop=16, batch_size=1, num_workers=0, val_fraction=0.3, seed=4)
    module.setup("fit")
    assert module.train_set is not None
    module.trainer = SimpleNamespace(world_size=2, global_rank=1)  # type: ignore[assignment]
    loader = module.train_dataloader()
    assert isinstance(loader, ResumableDataLoader)
    assert (loader.sampler.num_replicas, loader.sampler.rank, loader.sampler.seed) == (2, 1, 4)
    assert len(loader) == -(-len(module.train_set) // 2)


def test_datamodule_reads_bvidvc_with_its_colour(tmp_path: Path) -> None:
    for k in range(2):
        write_raw(tmp_path / f"S{k}_{WIDTH}x{HEIGHT}_25fps_10bit_420.yuv", *codes_10bit(3, seed=k), "<u2")
    module = VideoDataModule("bvidvc", tmp_path, frames=2, crop=16, batch_size=1, num_workers=0, colour="bt601-limited")
    module.setup("fit")
    assert isinstance(module.train_set, BVIDVC) and module.train_set.colour == ColourSpace("bt601", "limited")
    assert next(iter(module.train_dataloader())).shape == (1, 2, 3, 16, 16)
    with pytest.raises(InputError, match="MATRIX-RANGE"):
        VideoDataModule("bvidvc", tmp_path, colour="bt709")


def test_datamodule_photos_needs_no_files() -> None:
    module = VideoDataModule("photos", frames=2, crop=32, val_crop=64, batch_size=2, num_workers=0, clips=4)
    module.setup("fit")
    batches = list(module.train_dataloader())
    assert len(batches) == 2 and batches[0].shape == (2, 2, 3, 32, 32)
    val = list(module.val_dataloader())
    assert sum(b.shape[0] for b in val) == 16 and val[0].shape[1:] == (2, 3, 64, 64)
    assert all(torch.equal(a, b) for a, b in zip(val, module.val_dataloader()))  # a fixed val set
    with pytest.raises(InputError, match="set root"):
        VideoDataModule("folder")
    with pytest.raises(InputError, match="set crop"):
        VideoDataModule("photos", crop=None)


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
