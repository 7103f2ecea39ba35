"""Training of the zoo's codecs: recipes (data), objective, stage application, cascade and PCFS.

`VideoCodec.training_step` / `validation_step` / `configure_optimizers` are thin and call in
here; this package never imports `lvc_zoo.models` (it is duck-typed on `VideoCodec`) and
knows no paper: it addresses the parameter groups, rate tags, intermediates and loss terms a
model declares or hands over.
"""

from .cascade import LOSS_TERM, ClipStats, ValidationStats, detach_state, train_clip, validate_clip
from .objective import FrameTerms, RateTags, distortion, frame_terms, frame_weight, ms_ssim
from .recipe import LossName, Schedule, Stage, TrainingRecipe
from .stages import ClipDraw, apply_stage, draw_clip, intra_trains, trainable_globs, trainable_names

__all__ = [
    "TrainingRecipe",
    "Stage",
    "LossName",
    "Schedule",
    "FrameTerms",
    "RateTags",
    "distortion",
    "frame_terms",
    "frame_weight",
    "ms_ssim",
    "ClipDraw",
    "apply_stage",
    "draw_clip",
    "intra_trains",
    "trainable_globs",
    "trainable_names",
    "LOSS_TERM",
    "ClipStats",
    "ValidationStats",
    "detach_state",
    "train_clip",
    "validate_clip",
]
