"""Training datasets: clips of consecutive frames as (T, 3, H, W) RGB float tensors in [0, 1].

    Vimeo90kSeptuplet(root)   root/sequences/00001/0001/im1.png..im7.png + sep_{train,test}list.txt
    VideoFolder(root)         any folder of videos, recursively: .mp4 .mkv .mov .avi, .y4m,
                              raw .yuv with its size in the name, folders of PNG frames
    BVIDVC(root)              BVI-DVC style raw YUV 4:2:0 files, 10-bit or 8-bit
                              (Name_1920x1088_25fps_10bit_420.yuv)

Each item is one clip of `frames` consecutive frames, read alone (never the whole video)
through :func:`lvc_zoo.data.read_video` (BVI-DVC: its own raw reader). Augmentation is shared
by all frames of a clip, so motion between them stays true: one random ``crop x crop`` window
and one horizontal flip, drawn from a generator seeded by ``(seed, epoch, index)``. An item
is keyed by its index, or by ``(index, epoch)`` as :class:`lvc_zoo.data.sampling.EpochSampler`
yields them: every epoch draws fresh crops, and a run with the same seed sees the same clips
whatever the loader's worker count (the epoch travels with the key into the worker, so
persistent workers need no shared state). A plain index is epoch 0. Validation and test
splits take the centre crop and never flip.

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
from .colour import BT709_FULL, ColourSpace, chroma_size, yuv420_to_rgb
from .video import probe_video, read_video

__all__ = [
    "ClipDataset",
    "Clip",
    "ClipKey",
    "Vimeo90kSeptuplet",
    "VideoFolder",
    "BVIDVC",
    "RawYUVName",
    "parse_bvidvc_name",
    "VIDEO_SUFFIXES",
]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".y4m", ".yuv")
"""File suffixes :class:`VideoFolder` picks up (besides folders of .png frames)."""
ClipKey = int | tuple[int, int]
"""What indexes a :class:`ClipDataset`: ``index``, or ``(index, epoch)`` for fresh crops per epoch."""
_DEPTH_TOKEN = re.compile(r"(\d+)bits?", flags=re.IGNORECASE)
_PIX_FMT_TOKEN = re.compile(r"(?:yuv)?(420|422|444)p(\d*)(le|be)?", flags=re.IGNORECASE)
_CHROMA_TOKEN = re.compile(r"(?:yuv)?(420|422|444|400)p?", flags=re.IGNORECASE)
_SIZE_TOKEN = re.compile(r"(\d+)[xX](\d+)")


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

    def __getitem__(self, key: ClipKey) -> Tensor:
        """Clip `index` augmented as in `epoch`; `key` is ``index`` (epoch 0) or ``(index, epoch)``."""
        index, epoch = (key, 0) if isinstance(key, int) else key
        if not 0 <= index < len(self.clips):
            raise IndexError(f"clip index {index} out of range for {len(self.clips)} clips")
        return self.load(self.clips[index], self.generator(index, epoch))

    def load(self, clip: Clip, generator: torch.Generator) -> Tensor:
        """Read `clip`, then cut its window and flip it (a reader that can read a window alone overrides this).

        Args:
            clip: the item's video and first frame.
            generator: the item's generator (:meth:`generator`): window first, then flip.
        Returns: (T, 3, crop, crop), or (T, 3, H, W) when crop is None.
        """
        frames = self.read(clip)
        height, width = frames.shape[-2:]
        top, left = self.window(clip, height, width, generator)
        if self.crop is not None:
            frames = frames[..., top : top + self.crop, left : left + self.crop]
        return self.maybe_flip(frames, generator)

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

    def generator(self, index: int, epoch: int = 0) -> torch.Generator:
        """The augmentation generator of item `index` in `epoch`, seeded by (seed, epoch, index).

        Independent of the loader's worker count and of which worker loads the item, so a
        run's clips are reproducible whatever `num_workers` is; a new epoch draws new crops.
        """
        if epoch < 0:
            raise IndexError(f"epoch must be >= 0, got {epoch}")
        state = np.random.SeedSequence([self.seed, epoch, index]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))

    def window(self, clip: Clip, height: int, width: int, generator: torch.Generator) -> tuple[int, int]:
        """(top, left) of the crop window of a height x width clip: random in training, else centred.

        (0, 0) when crop is None. Draws from `generator` only in training with a crop.
        Raises:
            InputError: the frames are smaller than the crop (naming the clip's file).
        """
        if self.crop is None:
            return 0, 0
        if self.crop > height or self.crop > width:
            raise InputError(
                f"{clip.path} is {width}x{height}, smaller than crop {self.crop}: use crop <= "
                f"{min(height, width)}, crop=None, or remove the video."
            )
        if not self.train:
            return (height - self.crop) // 2, (width - self.crop) // 2
        top = int(torch.randint(height - self.crop + 1, (1,), generator=generator))
        left = int(torch.randint(width - self.crop + 1, (1,), generator=generator))
        return top, left

    def maybe_flip(self, frames: Tensor, generator: torch.Generator) -> Tensor:
        """All frames flipped horizontally with probability 1/2 (training with `flip` only), contiguous."""
        if self.train and self.flip and bool(torch.rand((), generator=generator) < 0.5):
            frames = frames.flip(-1)
        return frames.contiguous()


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
            raise InputError(f"{root} is not a folder: put the {self.kind} there, or point --data.root at their folder.")
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


class RawYUVName(NamedTuple):
    """What a BVI-DVC style file name declares: frame size and bit depth."""

    width: int
    height: int
    bit_depth: int


def parse_bvidvc_name(path: str | os.PathLike[str]) -> RawYUVName:
    """Frame size and bit depth from a raw YUV 4:2:0 name such as BVI-DVC's.

    ``AAdvertisingMassagesBangkokVidevo_1920x1088_25fps_10bit_420.yuv`` -> (1920, 1088, 10);
    ``clip_64x64_yuv420p10le.yuv`` -> (64, 64, 10). Name parts are separated by "_", "-",
    "." or spaces. The size is the first ``WxH`` part; the depth an ``<N>bit`` part or an FFmpeg
    pixel format (``yuv420p10le``); [choice] a name without a depth is 8-bit.

    Raises:
        InputError: no size, a depth outside 8..16, big-endian samples, or chroma other than 4:2:0.
    """
    tokens = [t for t in re.split(r"[_\-\s.]+", Path(path).stem) if t]
    sizes = [m for m in map(_SIZE_TOKEN.fullmatch, tokens) if m]
    if not sizes or min(int(n) for n in sizes[0].groups()) < 1:
        raise InputError(
            f"{path}: the name holds no frame size: name raw YUV files like Name_1920x1088_25fps_10bit_420.yuv."
        )
    depths = [int(m[1]) for m in map(_DEPTH_TOKEN.fullmatch, tokens) if m]
    for token in tokens:
        format_ = _PIX_FMT_TOKEN.fullmatch(token) or _CHROMA_TOKEN.fullmatch(token)
        if format_ is None:
            continue
        if format_[1] != "420":
            raise InputError(f"{path}: the name says chroma format {token}, but only YUV 4:2:0 is supported.")
        if format_.re is _PIX_FMT_TOKEN and (format_[3] or "").lower() == "be":
            raise InputError(f"{path}: big-endian samples ({token}) are not supported: convert to little-endian.")
        if format_.re is _PIX_FMT_TOKEN and format_[2]:
            depths.append(int(format_[2]))
    depth = depths[0] if depths else 8
    if not 8 <= depth <= 16:
        raise InputError(f"{path}: the name says {depth}-bit samples; raw YUV of 8 to 16 bits is supported.")
    width, height = (int(n) for n in sizes[0].groups())
    return RawYUVName(width, height, depth)


class BVIDVC(VideoFolder):
    """BVI-DVC (Ma, Zhang, Bull, IEEE TMM 2021) style raw YUV 4:2:0 files, cut into clips.

    Reads every ``.yuv`` under `root` named with its size and bit depth, as BVI-DVC names its
    sequences (``AAdvertisingMassagesBangkokVidevo_1920x1088_25fps_10bit_420.yuv``,
    see :func:`parse_bvidvc_name`). Frames are planar Y, U, V back to back; samples of more than
    8 bits are little-endian 16-bit words (FFmpeg's ``yuv420p10le``). Codes become float planes
    without rounding to 8 bits first, then RGB with the declared `colour`:

        full range:    y = Y / (2^N - 1),          c = (C - 2^(N-1)) / (2^N - 1) + 0.5
        limited range: y = (Y / 2^(N-8) - 16) / 219, c = (C / 2^(N-8) - 128) / 224 + 0.5

    (ITU-T H.273; for N = 8 exactly :func:`lvc_zoo.data.from_uint8_planes`, so 8-bit files read
    as :func:`lvc_zoo.data.read_video` reads them.) A sample above 2^N - 1 means the name's depth
    is wrong; it raises InputError naming the file.

    [choice] `colour` defaults to BT.709 full range, lvc_zoo's default for raw .yuv and the
    microsoft/DCVC test convention (its readers scale codes by the full code range), so models
    train on the colours they are tested on. Pass ``ColourSpace("bt709", "limited")`` to honour
    video-range codes instead.

    Only the crop window's samples are read and converted (:meth:`read_window`): a 256x256
    crop of 7 1080p 10-bit frames takes tens of milliseconds instead of a second.

    Args: as :class:`VideoFolder`, plus
        colour: the Y'CbCr matrix and range of the files.
    """

    suffixes = (".yuv",)
    png_folders = False
    kind = "BVI-DVC style .yuv files (YUV 4:2:0 named like Name_1920x1088_25fps_10bit_420.yuv)"

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
        colour: ColourSpace = BT709_FULL,
    ) -> None:
        if not isinstance(colour, ColourSpace):
            raise InputError(f"colour must be a ColourSpace such as ColourSpace('bt709', 'full'), got {colour!r}.")
        self.colour = colour
        super().__init__(root, frames, crop, flip, stride, split, val_fraction, seed)

    def probe(self, path: Path) -> tuple[int, int, int]:
        name = parse_bvidvc_name(path)
        frame_bytes, file_bytes = _raw_frame_bytes(name), path.stat().st_size
        if file_bytes == 0 or file_bytes % frame_bytes:
            raise InputError(
                f"Cannot read {path}: {file_bytes} bytes is not a positive multiple of one {name.width}x{name.height} "
                f"{name.bit_depth}-bit YUV 4:2:0 frame ({frame_bytes} bytes): check the size and depth in its name."
            )
        return file_bytes // frame_bytes, name.width, name.height

    def load(self, clip: Clip, generator: torch.Generator) -> Tensor:
        """Read only the crop window's samples (the size is in the name), convert, flip; as the base class."""
        name = parse_bvidvc_name(clip.path)
        top, left = self.window(clip, name.height, name.width, generator)
        size = (name.height, name.width) if self.crop is None else (self.crop, self.crop)
        return self.maybe_flip(self.read_window(clip, top, left, size), generator)

    def read_window(self, clip: Clip, top: int, left: int, size: tuple[int, int]) -> Tensor:
        """Frames [start, start + T) of rows top.. and columns left.. as (T, 3, *size) RGB.

        Converts the file's own N-bit codes of the even-aligned window around it (the pixels'
        RGB only depends on their luma and their 2x2 block's chroma), so it equals the crop of
        whole converted frames.
        """
        name = parse_bvidvc_name(clip.path)
        count, width, height = self.probe(clip.path)
        if clip.start + self.frames > count:
            raise InputError(
                f"{clip.path} has {count} frame(s), but frames {clip.start}..{clip.start + self.frames - 1} were "
                "expected: the file changed since the dataset was indexed; re-create the dataset."
            )
        dtype = np.dtype(np.uint8) if name.bit_depth == 8 else np.dtype("<u2")
        chroma_h, chroma_w = chroma_size(height, width)
        data = np.memmap(clip.path, dtype=dtype, mode="r", shape=(count, _raw_frame_bytes(name) // dtype.itemsize))
        frames = data[clip.start : clip.start + self.frames]
        top0, left0 = top - top % 2, left - left % 2  # the window grown to whole 2x2 chroma blocks
        bottom, right = top + size[0], left + size[1]
        rows, cols = slice(top0 // 2, (bottom + 1) // 2), slice(left0 // 2, (right + 1) // 2)
        luma = frames[:, : width * height].reshape(-1, height, width)[:, top0:bottom, left0:right]
        cb = frames[:, width * height : width * height + chroma_h * chroma_w].reshape(-1, chroma_h, chroma_w)
        cr = frames[:, width * height + chroma_h * chroma_w :].reshape(-1, chroma_h, chroma_w)
        y, u, v = (torch.from_numpy(plane.astype(np.float32)) for plane in (luma, cb[:, rows, cols], cr[:, rows, cols]))
        peak = 2**name.bit_depth - 1
        if max(float(plane.max()) for plane in (y, u, v)) > peak:
            raise InputError(
                f"{clip.path} holds samples above {peak}: it is not {name.bit_depth}-bit little-endian YUV 4:2:0 "
                "as its name says; fix the name or convert the file."
            )
        rgb = yuv420_to_rgb(*_normalise_codes(y, u, v, name.bit_depth, self.colour), self.colour)
        return rgb[..., top - top0 : top - top0 + size[0], left - left0 : left - left0 + size[1]]


def _raw_frame_bytes(name: RawYUVName) -> int:
    """Bytes of one raw 4:2:0 frame: 1 byte per sample at 8 bits, 2 (little-endian) above."""
    chroma_h, chroma_w = chroma_size(name.height, name.width)
    return (name.width * name.height + 2 * chroma_h * chroma_w) * (1 if name.bit_depth == 8 else 2)


def _normalise_codes(
    y: Tensor, u: Tensor, v: Tensor, bit_depth: int, colour: ColourSpace
) -> tuple[Tensor, Tensor, Tensor]:
    """N-bit integer codes to normalised float32 planes (ITU-T H.273; see :class:`BVIDVC`)."""
    if colour.range == "full":
        peak, neutral = float(2**bit_depth - 1), float(2 ** (bit_depth - 1))
        return y.float() / peak, (u.float() - neutral) / peak + 0.5, (v.float() - neutral) / peak + 0.5
    scale = float(2 ** (bit_depth - 8))
    return (
        (y.float() / scale - 16) / 219,
        (u.float() / scale - 128) / 224 + 0.5,
        (v.float() / scale - 128) / 224 + 0.5,
    )


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
