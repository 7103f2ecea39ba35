"""VideoDataModule: train and val clip loaders for Lightning, built from YAML by LightningCLI.

    data:
      class_path: lvc_zoo.data.VideoDataModule
      init_args: {dataset: folder, root: /data/my_videos, frames: 5, crop: 256, batch_size: 8}

The val loader reads the val (VideoFolder, BVIDVC) or test (Vimeo-90k) split: centre crops,
no flip, no shuffling, so validation numbers compare across runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from ..errors import InputError
from .datasets import BVIDVC, ClipDataset, VideoFolder, Vimeo90kSeptuplet

__all__ = ["VideoDataModule"]

DatasetName = Literal["vimeo90k", "folder", "bvidvc"]


class VideoDataModule(LightningDataModule):
    """Clips of consecutive frames for training codecs; batches are (B, T, 3, H, W) RGB in [0, 1].

    Args:
        dataset: "vimeo90k" (:class:`Vimeo90kSeptuplet`, val = its test list), "folder"
            (:class:`VideoFolder`) or "bvidvc" (:class:`BVIDVC`, 8-bit YUV only).
        root: the dataset folder.
        frames: frames per training clip T.
        crop: square training crop side; None: full frames (all videos must share one size).
        batch_size: clips per batch (train and val).
        num_workers: DataLoader worker processes; > 0 keeps them alive between epochs.
        val_fraction: share of videos held out for val (folder, bvidvc), split by path hash.
        seed: augmentation seed.
        val_frames: frames per val clip; None: `frames`.
        val_crop: val centre-crop side; None: `crop`.
        flip: horizontal flip augmentation in training.
        stride: frames between training clip starts (folder, bvidvc); None: `frames`.
    """

    def __init__(
        self,
        dataset: DatasetName,
        root: str | Path,
        frames: int = 7,
        crop: int | None = 256,
        batch_size: int = 4,
        num_workers: int = 4,
        val_fraction: float = 0.1,
        seed: int = 0,
        val_frames: int | None = None,
        val_crop: int | None = None,
        flip: bool = True,
        stride: int | None = None,
    ) -> None:
        super().__init__()
        if dataset not in ("vimeo90k", "folder", "bvidvc"):
            raise InputError(f"dataset must be 'vimeo90k', 'folder' or 'bvidvc', got {dataset!r}.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise InputError(f"num_workers must be an integer >= 0, got {num_workers!r}.")
        self.save_hyperparameters()
        self.dataset = dataset
        self.root = Path(root)
        self.frames = frames
        self.crop = crop
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.seed = seed
        self.val_frames = frames if val_frames is None else val_frames
        self.val_crop = crop if val_crop is None else val_crop
        self.flip = flip
        self.stride = stride
        self.train_set: ClipDataset | None = None
        self.val_set: ClipDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Build the train set (stage "fit" or None) and the val set (every stage that validates)."""
        if stage in ("fit", None) and self.train_set is None:
            self.train_set = self._build("train")
        if stage in ("fit", "validate", None) and self.val_set is None:
            self.val_set = self._build("val")

    def _build(self, split: Literal["train", "val"]) -> ClipDataset:
        train = split == "train"
        frames, crop = (self.frames, self.crop) if train else (self.val_frames, self.val_crop)
        if self.dataset == "vimeo90k":
            return Vimeo90kSeptuplet(
                self.root, split="train" if train else "test", frames=frames, crop=crop, flip=self.flip,
                seed=self.seed,
            )
        cls = VideoFolder if self.dataset == "folder" else BVIDVC
        return cls(
            self.root, frames=frames, crop=crop, flip=self.flip, stride=self.stride if train else None,
            split=split, val_fraction=self.val_fraction, seed=self.seed,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches (B, T, 3, crop, crop); the last incomplete batch is dropped."""
        if self.train_set is None:
            self.setup("fit")
        return DataLoader(
            self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=True,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        """Batches in a fixed order: centre crops, no flip, every clip (last batch may be smaller)."""
        if self.val_set is None:
            self.setup("validate")
        return DataLoader(
            self.val_set, batch_size=self.batch_size, shuffle=False, drop_last=False,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
        )
