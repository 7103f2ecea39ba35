"""Training of the zoo's codecs: recipes (data), objective, stage application, cascade and PCFS.

`VideoCodec.training_step` / `validation_step` / `configure_optimizers` are thin and call in
here; this package never imports `lvc_zoo.models` (it is duck-typed on `VideoCodec`).
"""

from .cascade import ClipStats, ValidationStats, detach_state, train_clip, validate_clip
from .objective import FrameTerms, distortion, frame_terms, frame_weight, ms_ssim
from .recipe import CONTEXTUAL_PARAMETERS, MOTION_PARAMETERS, LossName, Stage, TrainingRecipe, default_stages
from .stages import ClipDraw, apply_stage, draw_clip, initialise_flow, initialise_q_scales, intra_trains, trainable_names

__all__ = [
    "TrainingRecipe",
    "Stage",
    "LossName",
    "MOTION_PARAMETERS",
    "CONTEXTUAL_PARAMETERS",
    "default_stages",
    "FrameTerms",
    "distortion",
    "frame_terms",
    "frame_weight",
    "ms_ssim",
    "ClipDraw",
    "apply_stage",
    "draw_clip",
    "initialise_flow",
    "initialise_q_scales",
    "intra_trains",
    "trainable_names",
    "ClipStats",
    "ValidationStats",
    "detach_state",
    "train_clip",
    "validate_clip",
]
