"""Training datasets: clips of consecutive frames as (T, 3, H, W) RGB float tensors in [0, 1].

    Vimeo90kSeptuplet(root)   root/sequences/00001/0001/im1.png..im7.png + sep_{train,test}list.txt
    VideoFolder(root)         any folder of videos, recursively: .mp4 .mkv .mov .avi, .y4m,
                              raw .yuv with its size in the name, folders of PNG frames
    BVIDVC(root)              BVI-DVC style raw 8-bit YUV 4:2:0 files (Name_1920x1088_25fps_...yuv)

Each item is one clip of `frames` consecutive frames, read alone (never the whole video)
through :func:`lvc_zoo.data.read_video`. Augmentation is shared by all frames of a clip, so
motion between them stays true: one random ``crop x crop`` window and one horizontal flip,
drawn from a generator seeded by ``(seed, index)``. An item is therefore the same every
epoch and every run with the same seed, whatever the loader's worker count. [choice] Fresh
crops per epoch (an epoch term in the seed) are left to the training loop. Validation and test splits take the
centre crop and never flip.

[choice] Epoch-independent augmentation: reproducible items are easier to debug and compare
than fresh crops per epoch; the crop still differs between items of one video.

[choice] VideoFolder's validation split is by video, from a hash of each file's path relative
to `root` (not from random state), so train and val never share a video and the split does
not change between runs, machines or worker counts. A video goes to val when
``sha1(path) / 2**160 < val_fraction``. With two or more videos neither split is left empty:
if no video falls in val, the one with the smallest hash goes there; if all do, the one with
the largest hash stays in train.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import InputError
from .video import probe_video, read_video

__all__ = ["ClipDataset", "Clip", "Vimeo90kSeptuplet", "VideoFolder", "BVIDVC", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".y4m", ".yuv")
"""File suffixes :class:`VideoFolder` picks up (besides folders of .png frames)."""
_HIGH_DEPTH_TOKEN = re.compile(r"(?:(\d+)bits?|(?:yuv)?4[0-4][0-4]p(\d+)(?:le|be)?)", flags=re.IGNORECASE)


class Clip(NamedTuple):
    """One item of a :class:`ClipDataset`: frames [start, start + frames) of `path`."""

    path: Path
    start: int


class ClipDataset(Dataset[Tensor]):
    """Clips of `frames` consecutive frames with shared crop and flip; the base of the datasets here.

    Args:
        clips: the (path, start) of each item.
        frames: frames per clip T (>= 1).
        crop: side of the square crop in pixels; None: the full frame.
        flip: flip clips horizontally with probability 1/2 (train only).
        train: random crop and flip; False: centre crop, no flip.
        seed: seed of the per-item augmentation generators.
    Returns of ``dataset[i]``: (T, 3, crop, crop) float32 RGB in [0, 1] ((T, 3, H, W) without crop).
    """

    def __init__(
        self, clips: Sequence[Clip], frames: int, crop: int | None, flip: bool, train: bool, seed: int
    ) -> None:
        self.clips = list(clips)
        self.frames = frames
        self.crop = crop
        self.flip = flip
        self.train = train
        self.seed = seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Tensor:
        if not 0 <= index < len(self.clips):
            raise IndexError(f"clip index {index} out of range for {len(self.clips)} clips")
        clip = self.read(self.clips[index])
        height, width = clip.shape[-2:]
        if self.crop is not None and (self.crop > height or self.crop > width):
            raise InputError(
                f"{self.clips[index].path} is {width}x{height}, smaller than crop {self.crop}: use crop <= "
                f"{min(height, width)}, crop=None, or remove the video."
            )
        return self.augment(clip, self.generator(index))

    def read(self, clip: Clip) -> Tensor:
        """Frames [start, start + T) of the clip's video, (T, 3, H, W); InputError naming the file when unreadable."""
        end = clip.start + self.frames - 1
        try:
            frames, _ = read_video(clip.path, frames=self.frames, start=clip.start)
        except (InputError, OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"Cannot read frames {clip.start}..{end} of {clip.path}: {exc}") from exc
        if frames.shape[0] != self.frames:
            raise InputError(
                f"{clip.path} ended after {clip.start + frames.shape[0]} frame(s), but frames {clip.start}..{end} "
                "were expected: the file is truncated or its header overstates its length; re-create or remove it."
            )
        return frames

    def generator(self, index: int) -> torch.Generator:
        """The augmentation generator of item `index`, seeded by (seed, index).

        Independent of the loader's worker count and of which worker loads the item, so a
        run's clips are reproducible whatever `num_workers` is.
        """
        state = np.random.SeedSequence([self.seed, index]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))

    def augment(self, clip: Tensor, generator: torch.Generator) -> Tensor:
        """One crop window (random for train, centre otherwise) and one flip decision for all frames.

        Args:
            clip: (T, 3, H, W) with H, W >= crop.
            generator: the item's generator (:meth:`generator`); unused outside training.
        Returns: (T, 3, crop, crop), or (T, 3, H, W) when crop is None.
        """
        height, width = clip.shape[-2:]
        if self.crop is not None:
            if self.train:
                top = int(torch.randint(height - self.crop + 1, (1,), generator=generator))
                left = int(torch.randint(width - self.crop + 1, (1,), generator=generator))
            else:
                top, left = (height - self.crop) // 2, (width - self.crop) // 2
            clip = clip[..., top : top + self.crop, left : left + self.crop]
        if self.train and self.flip and bool(torch.rand((), generator=generator) < 0.5):
            clip = clip.flip(-1)
        return clip.contiguous()


class Vimeo90kSeptuplet(ClipDataset):
    """Vimeo-90k septuplets (Xue et al., IJCV 2019): the first `frames` of each 7-frame sequence.

    Layout: ``root/sequences/00001/0001/im1.png .. im7.png``, with ``root/sep_trainlist.txt``
    and ``root/sep_testlist.txt`` listing sequences one per line (``00001/0001``).

    Args:
        root: the folder holding ``sequences/`` and the list files.
        split: "train" (random crop and flip) or "test" (centre crop, no flip).
        frames: frames per clip, 1..7.
        crop: square crop side; None: the full 448x256 frames.
        flip: horizontal flip augmentation (train only).
        seed: augmentation seed.
    Raises:
        InputError: missing or empty list file, bad arguments; at item time, missing or unreadable frames.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "test"] = "train",
        frames: int = 7,
        crop: int | None = 256,
        flip: bool = True,
        seed: int = 0,
    ) -> None:
        root = Path(root)
        if split not in ("train", "test"):
            raise InputError(f"Vimeo90kSeptuplet split must be 'train' or 'test', got {split!r}.")
        _check_args(frames, crop, seed)
        if frames > 7:
            raise InputError(f"Vimeo-90k septuplets have 7 frames; frames={frames} asks for more: use 1..7.")
        list_file = root / f"sep_{split}list.txt"
        if not list_file.is_file():
            raise InputError(
                f"{list_file} not found: expected the Vimeo-90k septuplet layout under {root} "
                "(sep_trainlist.txt, sep_testlist.txt and sequences/00001/0001/im1.png ...)."
            )
        names = [line.strip() for line in list_file.read_text().splitlines() if line.strip()]
        if not names:
            raise InputError(
                f"{list_file} lists no sequences: the Vimeo-90k dataset under {root} is empty; expected lines "
                "such as '00001/0001'."
            )
        clips = [Clip(root / "sequences" / name, 0) for name in names]
        super().__init__(clips, frames, crop, flip, train=split == "train", seed=seed)


class VideoFolder(ClipDataset):
    """Every video under a folder, cut into clips of `frames` consecutive frames.

    Videos are found recursively (hidden files and folders are skipped): .mp4 .mkv .mov .avi
    (PyAV), .y4m, raw 8-bit YUV 4:2:0 .yuv with the size in the name (``Name_1920x1080_30.yuv``)
    and folders holding .png frames. Clips start at 0, stride, 2 * stride, ... and end within
    the video. Videos shorter than `frames` (or smaller than `crop`) are skipped with a warning.

    Args:
        root: the folder of videos.
        frames: frames per clip T (>= 1).
        crop: square crop side; None: full frames (then a DataLoader batch needs one frame size).
        flip: horizontal flip augmentation (train only).
        stride: frames between clip starts; None: `frames` (clips do not overlap).
        split: "train" or "val"; videos are split by a hash of their relative path (module docs).
        val_fraction: share of videos in val, in [0, 1).
        seed: augmentation seed.
    Raises:
        InputError: no videos under `root`, an unreadable video (naming it), nothing long enough,
            bad arguments.
    """

    suffixes: tuple[str, ...] = VIDEO_SUFFIXES
    png_folders: bool = True
    kind = "videos (.mp4 .mkv .mov .avi .y4m, .yuv named with WxH, or folders of .png frames)"

    def __init__(
        self,
        root: str | os.PathLike[str],
        frames: int = 7,
        crop: int | None = 256,
        flip: bool = True,
        stride: int | None = None,
        split: Literal["train", "val"] = "train",
        val_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        root = Path(root)
        _check_args(frames, crop, seed)
        stride = frames if stride is None else stride
        if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
            raise InputError(f"stride must be a positive number of frames (or None for `frames`), got {stride!r}.")
        if split not in ("train", "val"):
            raise InputError(f"{type(self).__name__} split must be 'train' or 'val', got {split!r}.")
        if not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
            raise InputError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
        if not root.is_dir():
            raise InputError(f"{root} is not a folder: pass the folder that holds the {self.kind}.")
        videos = self.find_videos(root)
        if not videos:
            raise InputError(f"{root} holds no {self.kind}: nothing to train on.")
        chosen = split_videos(root, videos, val_fraction)[split]
        if not chosen:
            raise InputError(
                f"The {split} split of {root} is empty ({len(videos)} video(s), val_fraction={val_fraction}): "
                "add videos or change val_fraction."
            )
        self.root = root
        self.videos = chosen
        clips = self._index(chosen, frames, crop, stride, root, split)
        super().__init__(clips, frames, crop, flip, train=split == "train", seed=seed)

    def find_videos(self, root: Path) -> list[Path]:
        """Video files and PNG folders under `root`, sorted; hidden names skipped."""
        videos = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            visible = [f for f in files if not f.startswith(".")]
            if self.png_folders and any(f.lower().endswith(".png") for f in visible):
                videos.append(Path(folder))
            videos += [Path(folder) / f for f in visible if Path(f).suffix.lower() in self.suffixes]
        return sorted(videos)

    def probe(self, path: Path) -> tuple[int, int, int]:
        """(frame count, width, height) of a video; InputError naming the file when it cannot be read."""
        try:
            info = probe_video(path)
        except (InputError, OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"Cannot read {path}: {exc}") from exc
        return info.frame_count, info.width, info.height

    def _index(
        self, videos: list[Path], frames: int, crop: int | None, stride: int, root: Path, split: str
    ) -> list[Clip]:
        clips: list[Clip] = []
        skipped = []
        for path in videos:
            count, width, height = self.probe(path)
            if count < frames:
                skipped.append(f"{path} ({count} frame(s))")
                continue
            if crop is not None and (width < crop or height < crop):
                skipped.append(f"{path} ({width}x{height} < crop {crop})")
                continue
            clips += [Clip(path, start) for start in range(0, count - frames + 1, stride)]
        if skipped:
            warnings.warn(
                f"Skipped {len(skipped)} video(s) under {root} too short for {frames}-frame clips or smaller than "
                f"the crop: {', '.join(skipped)}",
                stacklevel=3,
            )
        if not clips:
            raise InputError(
                f"No video of the {split} split under {root} has {frames} frames"
                f"{'' if crop is None else f' and {crop}x{crop} pixels'}: lower frames/crop or add longer videos."
            )
        return clips


class BVIDVC(VideoFolder):
    """BVI-DVC (Ma, Zhang, Bull, IEEE TMM 2021) style raw YUV files, cut into clips.

    Reads every ``.yuv`` under `root` named with its size and frame rate, as BVI-DVC names its
    sequences (``AAdvertisingMassagesBangkokVidevo_1920x1088_25fps_8bit_420.yuv``), through the
    raw YUV reader of :mod:`lvc_zoo.data.video`. Arguments as :class:`VideoFolder`.

    Limitation: only 8-bit YUV 4:2:0 is supported. BVI-DVC is distributed as 10-bit; lvc_zoo.data
    does not read 10-bit YUV yet, and a file whose name says 10 bits (``10bit``, ``yuv420p10le``)
    raises InputError naming it. Convert such files first, e.g.
    ``ffmpeg -f rawvideo -pix_fmt yuv420p10le -s WxH -i in.yuv -pix_fmt yuv420p out_8bit.yuv``.
    A 10-bit file whose name does not say so cannot be told apart and reads as garbage.
    """

    suffixes = (".yuv",)
    png_folders = False
    kind = "BVI-DVC style .yuv files (8-bit YUV 4:2:0 named like Name_1920x1088_25fps_8bit_420.yuv)"

    def probe(self, path: Path) -> tuple[int, int, int]:
        for token in re.split(r"[_\-\s.]+", path.stem):
            match = _HIGH_DEPTH_TOKEN.fullmatch(token)
            depth = match and (match[1] or match[2])
            if depth and int(depth) != 8:
                raise InputError(
                    f"{path} is {depth}-bit YUV (from its name): {depth}-bit YUV is not supported by lvc_zoo.data "
                    "yet. Convert it to 8-bit 4:2:0 first, e.g. `ffmpeg -f rawvideo -pix_fmt yuv420p10le -s WxH "
                    "-i in.yuv -pix_fmt yuv420p out_8bit.yuv`."
                )
        return super().probe(path)


def split_videos(root: Path, videos: Sequence[Path], val_fraction: float) -> dict[str, list[Path]]:
    """{"train": [...], "val": [...]}: the deterministic split by hash of the path relative to `root`."""
    keys = {path: _hash_fraction(path.relative_to(root).as_posix()) for path in videos}
    val = [path for path in videos if keys[path] < val_fraction]
    if len(videos) >= 2 and val_fraction > 0:
        if not val:  # a small folder: the lowest hash still goes to val
            val = [min(videos, key=lambda path: keys[path])]
        elif len(val) == len(videos):  # and the highest stays in train
            val.remove(max(videos, key=lambda path: keys[path]))
    chosen = set(val)
    return {"train": [path for path in videos if path not in chosen], "val": val}


def _hash_fraction(text: str) -> float:
    """A number in [0, 1) from the sha1 of `text`, the same on every machine and run."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest(), "big") / 2**160


def _check_args(frames: int, crop: int | None, seed: int) -> None:
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        raise InputError(f"frames must be a positive number of frames per clip, got {frames!r}.")
    if crop is not None and (not isinstance(crop, int) or isinstance(crop, bool) or crop < 1):
        raise InputError(f"crop must be a positive number of pixels or None (full frames), got {crop!r}.")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}.")
