"""Shared base layers: each is used by several models of the zoo."""

from .alignment import (
    FlowGuidedDeformConv,
    MultiScaleContextFusion,
    OffsetDiversityAlignment,
    downsample2x,
    downsample_flow,
    multiscale_flow,
    upsample2x,
    warp,
)
from .attention import MultiHeadLinearCrossAttention, linear_cross_attention, normalised_queries_keys
from .blocks import (
    ConvFFN,
    DepthConv,
    DepthConvBlock,
    DualSlopeConvFFN,
    FFNKind,
    GatedConvFFN,
    GatedDepthConv,
    ResBlock,
    ResidualBlockPatchDown,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    conv1x1,
    conv3x3,
    pad_to_multiple,
    subpel_conv1x1,
    subpel_conv3x3,
    zero_initialised,
)
from .clustering import (
    ClusteredAttention,
    grid_centres,
    hard_assign,
    intra_cluster_attention,
    select_cluster_keys,
    soft_kmeans,
)
from .conditioning import FiLM, QualityEmbedding
from .convs import pointwise_depthwise, stride4_down
from .contextual import (
    FEATURE_ADAPTOR_CYCLE,
    ContextualDecoder,
    ContextualEncoder,
    FeatureExtractor,
    ReconGeneration,
    adapt_reference_feature,
    bottleneck_res_block,
    feature_adaptors,
)
from .dpb import DCVCDPB, DPB, FEATURE_REFRESH_INTERVAL, TemporalPriorDPB
from .entropy import (
    QUADTREE_STEPS,
    FactorizedBitEstimator,
    Hyperprior,
    QScale,
    QuadtreePrior,
    ReferencePriorFusion,
    SelectedSet,
    depth_hyper_transforms,
    hyper_transforms,
    log_linear_q,
    phase_mask,
    quadtree_net,
)
from .flow import SpyNet
from .inter import Contexts, DCVCInterCodec, QSteps, keep_motion_intermediates
from .layout import in_layout_of, is_channels_last
from .motion import MvDecoder, MvEncoder
from .resize import imresize
from .swin import (
    RSTB3D,
    SwinBlock3D,
    SwinFusion,
    SwinLayer3D,
    WindowAttention3D,
    relative_position_index,
    shifted_window_mask,
    window_merge,
    window_partition,
)
from .temporal_prior import PRIOR_SCALE, TemporalPrior

__all__ = [
    "warp", "upsample2x", "downsample2x", "downsample_flow", "multiscale_flow", "OffsetDiversityAlignment", "FlowGuidedDeformConv",
    "MultiScaleContextFusion", "MultiHeadLinearCrossAttention", "linear_cross_attention", "normalised_queries_keys",
    "conv1x1", "conv3x3", "subpel_conv1x1", "subpel_conv3x3", "ResidualBlockWithStride",
    "ResidualBlockUpsample", "ResidualBlockPatchDown", "ResBlock", "DepthConv", "GatedDepthConv", "ConvFFN",
    "GatedConvFFN", "DualSlopeConvFFN", "FFNKind", "DepthConvBlock", "UNet", "pad_to_multiple", "zero_initialised",
    "grid_centres", "soft_kmeans", "hard_assign", "select_cluster_keys", "intra_cluster_attention", "ClusteredAttention",
    "QualityEmbedding", "FiLM", "stride4_down", "pointwise_depthwise",
    "FEATURE_ADAPTOR_CYCLE", "feature_adaptors", "adapt_reference_feature", "FeatureExtractor", "ContextualEncoder",
    "ContextualDecoder", "ReconGeneration", "bottleneck_res_block",
    "DPB", "DCVCDPB", "TemporalPriorDPB", "FEATURE_REFRESH_INTERVAL", "PRIOR_SCALE", "TemporalPrior",
    "QUADTREE_STEPS", "FactorizedBitEstimator", "Hyperprior", "QScale", "QuadtreePrior", "ReferencePriorFusion",
    "SelectedSet", "hyper_transforms", "depth_hyper_transforms", "log_linear_q", "phase_mask", "quadtree_net",
    "SpyNet", "MvEncoder", "MvDecoder", "Contexts", "DCVCInterCodec", "QSteps", "keep_motion_intermediates",
    "in_layout_of", "is_channels_last",
    "imresize",
    "window_partition", "window_merge", "relative_position_index", "shifted_window_mask", "WindowAttention3D",
    "SwinBlock3D", "SwinLayer3D", "RSTB3D", "SwinFusion",
]
