"""VideoDataModule: train and val clip loaders for Lightning, built from YAML by LightningCLI.

    data:
      class_path: lvc_zoo.data.VideoDataModule
      init_args: {dataset: folder, root: /data/my_videos, frames: 5, crop: 256, batch_size: 8}

The train loader is a :class:`~lvc_zoo.data.sampling.ResumableDataLoader` over an
:class:`~lvc_zoo.data.sampling.EpochSampler`: fresh crops every epoch, this rank's share under
DDP, and a position in the epoch that checkpoints save, so ``--ckpt_path last`` resumes on the
next batch. The val loader (also the test loader) reads the val (VideoFolder, BVIDVC) or test
(Vimeo-90k) split: centre crops, no flip, no shuffling, so validation numbers compare across runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..errors import InputError
from .colour import ColourSpace
from .datasets import BVIDVC, VideoFolder, Vimeo90kSeptuplet
from .sampling import EpochSampler, ResumableDataLoader
from .synthetic import HELD_OUT_PHOTO, TRAINING_PHOTOS, PhotoPans

__all__ = ["VideoDataModule"]

DatasetName = Literal["vimeo90k", "folder", "bvidvc", "photos"]

PHOTO_VAL_CLIPS = 16
"""[choice] Clips of the photos dataset's val set: pans across HELD_OUT_PHOTO at its own scale."""


class VideoDataModule(LightningDataModule):
    """Clips of consecutive frames for training codecs; batches are (B, T, 3, H, W) RGB in [0, 1].

    Args:
        dataset: "vimeo90k" (:class:`Vimeo90kSeptuplet`, val = its test list), "folder"
            (:class:`VideoFolder`), "bvidvc" (:class:`BVIDVC`, 8- or 10-bit YUV 4:2:0) or
            "photos" (:class:`~lvc_zoo.data.synthetic.PhotoPans` over the bundled TRAINING_PHOTOS,
            val = PHOTO_VAL_CLIPS pans across HELD_OUT_PHOTO; no files needed).
        root: the dataset folder (not used by "photos").
        frames: frames per training clip T.
        crop: square training crop side; None: full frames (all videos must share one size).
        batch_size: clips per batch (train and val).
        num_workers: DataLoader worker processes; > 0 keeps them alive between epochs.
        val_fraction: share of videos held out for val (folder, bvidvc), split by path hash.
        seed: seed of the shuffle and of the augmentation (with the epoch).
        val_frames: frames per val clip; None: `frames`.
        val_crop: val centre-crop side; None: `crop`.
        flip: horizontal flip augmentation in training.
        stride: frames between training clip starts (folder, bvidvc); None: `frames`.
        colour: Y'CbCr matrix and range of the bvidvc files, "MATRIX-RANGE" (e.g. "bt709-limited").
        clips: training clips per epoch of "photos".
        recolour: colour augmentation of the "photos" training clips (`PhotoPans` recolour; 0: none).
    """

    def __init__(
        self,
        dataset: DatasetName,
        root: str | Path | None = None,
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
        colour: str = "bt709-full",
        clips: int = 1000,
        recolour: float = 0.0,
    ) -> None:
        super().__init__()
        if dataset not in ("vimeo90k", "folder", "bvidvc", "photos"):
            raise InputError(f"dataset must be 'vimeo90k', 'folder', 'bvidvc' or 'photos', got {dataset!r}.")
        if root is None and dataset != "photos":
            raise InputError(f"dataset {dataset!r} reads files: set root (--data.root) to its folder.")
        if dataset == "photos" and crop is None:
            raise InputError("dataset 'photos' makes square clips: set crop to their side in pixels.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise InputError(f"num_workers must be an integer >= 0, got {num_workers!r}.")
        self.save_hyperparameters()
        self.dataset = dataset
        self.root = None if root is None else Path(root)
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
        self.colour = ColourSpace.parse(colour)
        self.clips, self.recolour = clips, recolour
        self.train_set: Dataset[Tensor] | None = None
        self.val_set: Dataset[Tensor] | None = None

    def setup(self, stage: str | None = None) -> None:
        """Build the train set (stage "fit" or None) and the held-out set (fit, validate, test)."""
        if stage in ("fit", None) and self.train_set is None:
            self.train_set = self._build("train")
        if stage in ("fit", "validate", "test", None) and self.val_set is None:
            self.val_set = self._build("val")

    def _build(self, split: Literal["train", "val"]) -> Dataset[Tensor]:
        train = split == "train"
        frames, crop = (self.frames, self.crop) if train else (self.val_frames, self.val_crop)
        if self.dataset == "photos":
            assert crop is not None
            if train:
                return PhotoPans(
                    TRAINING_PHOTOS, frames=frames, crop=crop, clips=self.clips, recolour=self.recolour, seed=self.seed
                )
            return PhotoPans(
                (HELD_OUT_PHOTO,), frames=frames, crop=crop, clips=PHOTO_VAL_CLIPS, max_scale=1.0, seed=self.seed
            )
        assert self.root is not None
        if self.dataset == "vimeo90k":
            return Vimeo90kSeptuplet(
                self.root, split="train" if train else "test", frames=frames, crop=crop, flip=self.flip,
                seed=self.seed,
            )
        common = dict(
            frames=frames, crop=crop, flip=self.flip, stride=self.stride if train else None, split=split,
            val_fraction=self.val_fraction, seed=self.seed,
        )
        if self.dataset == "bvidvc":
            return BVIDVC(self.root, colour=self.colour, **common)
        return VideoFolder(self.root, **common)

    def train_dataloader(self) -> ResumableDataLoader:
        """Shuffled batches (B, T, 3, crop, crop) of this rank; the last incomplete batch is dropped.

        The shuffle and the crops change every epoch (Lightning sets the sampler's epoch) and
        depend only on `seed`, the epoch and the world size, never on `num_workers`.
        """
        if self.train_set is None:
            self.setup("fit")
        assert self.train_set is not None
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        sampler = EpochSampler(self.train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=self.seed)
        return ResumableDataLoader(
            self.train_set, sampler, batch_size=self.batch_size, drop_last=True, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0, generator=torch.Generator().manual_seed(self.seed),
        )

    def val_dataloader(self) -> DataLoader:
        """Batches in a fixed order: centre crops, no flip, every clip (last batch may be smaller)."""
        if self.val_set is None:
            self.setup("validate")
        assert self.val_set is not None
        return DataLoader(
            self.val_set, batch_size=self.batch_size, shuffle=False, drop_last=False,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
        )

    def test_dataloader(self) -> DataLoader:
        """The val loader: `lightning test` evaluates on the same held-out clips (there is no third split)."""
        return self.val_dataloader()
