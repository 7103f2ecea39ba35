"""SEVC's inter-layer prediction: hybrid spatial-temporal contexts and the latent prior.

Bian, Sheng, Li, Lu. "Augmented Deep Contexts for Spatially Embedded Video Coding",
CVPR 2025. The enhancement layer (EL) codes the full-resolution frame with two kinds of
help from the base layer (BL), which codes the 4x-downsampled frame first:

`InterLayerPrediction` is the Motion and Feature Co-Augmentation module (Sec. 3.2,
Fig. 4): the BL motion and BL feature (1/4 of the EL resolution) are augmented by the
EL reference feature, scale by scale, and turned into the EL contexts:

    BL feature --texture_adaptor--> t3 ----+                 EL ref feature
    BL mv ---------------------------------+                       |
                                           v                feature_extractor
    1/4: (t3, mv3) = mre3(f3, t3, mv)       <------------ f3 ---+  |
    1/2: (t2, mv2) = mre2(f2, up2(t3), 2 up(mv3)) <------ f2 ---+--+
    1:   (t1, mv1) = mre1(f1, up1(t2), 2 up(mv2)) <------ f1 ---+
    c1 = fuse1(align(f1 | warp(f1, mv1), warp(ref frame, mv1), mv1), t1)
    c2 = fuse2(warp(f2, mv2), t2);  c3 = fuse3(warp(f3, mv3), t3)
    (c1, c2, c3) = context_fusion(c1, c2, c3)

Each `mre*` runs `stages` Augment Stages: the motion is refined by an Augment Unit from
(f, t, mv), f is warped by it, and the texture is refined by another unit from
(warp(f, mv), t); both as residuals.

`LatentInterLayerPrediction` is the spatial-guided latent prior (Sec. 3.3, Fig. 6b):
the BL latent is upsampled 4x by two sub-pixel convolutions and used as the query slot of
a Swin fusion over [up(y_BL), ys[0], ys[1], ys[2]], the three previous EL latents (a
missing one is replaced by up(y_BL)).

[choice] Faithful to the official code's `inplace=True` arithmetic, which differs from
what its module definitions suggest (reference README, "Caveats"): the latent upsampler
has no activation between its sub-pixel convolutions (the official LeakyReLU receives
`inplace` as its slope, 1.0), and the Augment Unit's skip connection is the activated
stride-2 feature, leaky_relu(d0), because the official activation runs in place on it.

Attribute names equal the official `ILP.*` / `latent_ILP.*` keys except
`context_fusion` (official `context_fusion_net`, named as in DCVC-DC here) and the
upsampler's second convolution (`upsampler.1`, official `upsampler.2`); see
`lvc_zoo.convert.sevc_prediction`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.alignment import MultiScaleContextFusion, OffsetDiversityAlignment, upsample2x, warp
from ..layers.blocks import DepthConvBlock, ResBlock, subpel_conv1x1, subpel_conv3x3
from ..layers.contextual import FeatureExtractor
from ..layers.layout import in_layout_of
from ..layers.swin import SwinFusion

__all__ = ["AugmentUnit", "AugmentStages", "InterLayerPrediction", "LatentInterLayerPrediction"]

AUGMENT_SLOPE = 0.01
"""LeakyReLU slope inside the Augment Unit (the official `nn.LeakyReLU()` default)."""


class AugmentUnit(nn.Module):
    """Residual predictor of the MFCA module (supplementary Fig. b; official `RefineUnit`).

    Two stride-2 convolutions reduce the resolution to 1/4, two 1x1 sub-pixel convolutions
    bring it back with a skip at 1/2, and a 3x3 conv sees the input again at full size:

        d0 = lrelu(conv0(x))                      (it_ch, H/2, W/2)
        d2 = conv2(lrelu(conv1(d0)))              (4 it_ch, H/4, W/4)
        u1 = up1(lrelu(up2(d2)) | d0)             (it_ch, H, W)
        out = up0(lrelu(u1) | x)                  (out_ch, H, W)

    The skip is the activated d0 (the official in-place activation; module docstring).

    Args:
        in_ch: input channels; it_ch: width at 1/2 resolution; out_ch: output channels.
    Shapes: (B, in_ch, H, W) -> (B, out_ch, H, W), H and W multiples of 4.
    """

    def __init__(self, in_ch: int, it_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(in_ch, it_ch, 3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(it_ch, it_ch * 2, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(it_ch * 2, it_ch * 4, 3, padding=1)
        self.up2 = subpel_conv1x1(it_ch * 4, it_ch * 2, 2)
        self.up1 = subpel_conv1x1(it_ch * 3, it_ch, 2)
        self.up0 = nn.Conv2d(it_ch + in_ch, out_ch, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        d0 = F.leaky_relu(self.conv0(x), AUGMENT_SLOPE)
        d2 = self.conv2(F.leaky_relu(self.conv1(d0), AUGMENT_SLOPE))
        u1 = self.up1(torch.cat((F.leaky_relu(self.up2(d2), AUGMENT_SLOPE), d0), dim=1))
        return self.up0(torch.cat((F.leaky_relu(u1, AUGMENT_SLOPE), x), dim=1))


class AugmentStages(nn.Module):
    """Multi-stage co-augmentation of motion and texture at one scale (official `MultiRoundEnhancement`).

    Stage k: mv += motion_layers[k](f | t | mv); t += texture_layers[k](warp(f, mv) | t).

    Args:
        channels: C of the feature f and texture t at this scale.
        stages: number of Augment Stages (official 2).
    """

    def __init__(self, channels: int, stages: int = 2) -> None:
        super().__init__()
        self.motion_layers = nn.ModuleList(
            AugmentUnit(channels * 2 + 2, channels // 2, 2) for _ in range(stages)
        )
        self.texture_layers = nn.ModuleList(
            AugmentUnit(channels * 2, channels * 3 // 4, channels) for _ in range(stages)
        )

    def forward(self, feature: Tensor, texture: Tensor, mv: Tensor) -> tuple[Tensor, Tensor]:
        """Run the Augment Stages.

        Args:
            feature: (B, C, H, W) EL reference feature at this scale.
            texture: (B, C, H, W) spatial (BL-derived) feature.
            mv: (B, 2, H, W) motion in pixels of this scale, channels (dx, dy).
        Returns: augmented (texture, mv), same shapes.
        """
        for motion, texture_unit in zip(self.motion_layers, self.texture_layers):
            mv = mv + motion(torch.cat((feature, texture, mv), dim=1))
            texture = texture + texture_unit(torch.cat((warp(feature, mv), texture), dim=1))
        return texture, mv


class InterLayerPrediction(nn.Module):
    """Motion and Feature Co-Augmentation -> EL contexts c1, c2, c3 (official `ILP`).

    Args:
        c1, c2, c4: widths at 1, 1/2 and 1/4 of the EL resolution (official 48, 64, 96);
            the BL feature has c1 channels, the offset-diversity branch is c2 wide.
        stages: Augment Stages per scale (official 2).
        align_groups: offset-diversity channel groups (official 16; must divide c1).
    """

    def __init__(self, c1: int = 48, c2: int = 64, c4: int = 96, stages: int = 2, align_groups: int = 16) -> None:
        super().__init__()
        self.texture_adaptor = nn.Conv2d(c1, c4, 3, padding=1)
        self.feature_extractor = FeatureExtractor(c1, c2, c4)
        self.up2 = nn.Sequential(subpel_conv3x3(c4, c2, 2), ResBlock(c2))
        self.up1 = nn.Sequential(subpel_conv3x3(c2, c1, 2), ResBlock(c1))
        self.mre1 = AugmentStages(c1, stages)
        self.mre2 = AugmentStages(c2, stages)
        self.mre3 = AugmentStages(c4, stages)
        self.align = OffsetDiversityAlignment(c1, c1 + 3 + 2, hidden=c2, groups=align_groups)
        self.context_fusion = MultiScaleContextFusion(c1, c2, c4)
        self.fuse1 = DepthConvBlock(c1 * 2, c1)
        self.fuse2 = DepthConvBlock(c2 * 2, c2)
        self.fuse3 = DepthConvBlock(c4 * 2, c4)

    def forward(
        self, bl_feature: Tensor, bl_mv: Tensor, ref_feature: Tensor, ref_frame: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Hybrid spatial-temporal contexts of the current EL frame.

        Args:
            bl_feature: (B, c1, H/4, W/4) BL reconstruction feature (cropped to the unpadded BL size).
            bl_mv: (B, 2, H/4, W/4) decoded BL motion in BL pixels.
            ref_feature: (B, c1, H, W) adapted EL reference feature.
            ref_frame: (B, 3, H, W) EL reference frame.
            H and W are multiples of 16 (the padded EL frame).
        Returns: contexts c1 (B, c1, H, W), c2 (B, c2, H/2, W/2), c3 (B, c4, H/4, W/4).
        """
        feature1, feature2, feature3 = self.feature_extractor(ref_feature)
        # the BL's tensors and the frame join the EL's features in concatenations: store them alike
        bl_feature, bl_mv, ref_frame = (in_layout_of(t, feature1) for t in (bl_feature, bl_mv, ref_frame))
        texture3, mv3 = self.mre3(feature3, self.texture_adaptor(bl_feature), bl_mv)
        texture2, mv2 = self.mre2(feature2, self.up2(texture3), upsample2x(mv3) * 2.0)
        texture1, mv1 = self.mre1(feature1, self.up1(texture2), upsample2x(mv2) * 2.0)

        warped1 = warp(feature1, mv1)
        aux = torch.cat((warped1, warp(ref_frame, mv1), mv1), dim=1)
        context1 = self.fuse1(torch.cat((self.align(feature1, aux, mv1), texture1), dim=1))
        context2 = self.fuse2(torch.cat((warp(feature2, mv2), texture2), dim=1))
        context3 = self.fuse3(torch.cat((warp(feature3, mv3), texture3), dim=1))
        return self.context_fusion(context1, context2, context3)


class LatentInterLayerPrediction(nn.Module):
    """Spatial-guided latent prior: Swin fusion of up(y_BL) with past EL latents (official `latent_ILP`).

    Args:
        channels: latent channels C of the BL and EL (official 128).
        depths, num_heads, window, mlp_ratio, drop_path_rate: of the `SwinFusion`
            (official (4, 4, 4, 4), 8, (4, 8, 8), 2, 0.1).
    """

    def __init__(
        self,
        channels: int = 128,
        depths: Sequence[int] = (4, 4, 4, 4),
        num_heads: int = 8,
        window: tuple[int, int, int] = (4, 8, 8),
        mlp_ratio: float = 2.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        # no activation between the two stages: the official one is a LeakyReLU of slope 1.0
        self.upsampler = nn.Sequential(subpel_conv3x3(channels, channels, 2), subpel_conv3x3(channels, channels, 2))
        self.fusion = SwinFusion(
            channels, depths, num_heads, window, mlp_ratio=mlp_ratio, drop_path_rate=drop_path_rate
        )

    def forward(self, y_hat_bl: Tensor, ref_ys: Sequence[Tensor | None], size: tuple[int, int] | None = None) -> Tensor:
        """Latent prior of the current EL frame.

        Args:
            y_hat_bl: (B, C, h, w) quantised BL latent (h = H_BL/16 of the padded BL frame).
            ref_ys: the past EL latents in the official slot order (3 in SEVC, the DPB's `ys`),
                each (B, C, H', W') or None (not decoded yet; replaced by the upsampled BL latent).
            size: (H', W') EL latent size to crop the upsampled BL latent to, top-left (the
                official crop by the BL padding / 4 when the BL frame was zero-padded); None
                keeps (4h, 4w).
        Returns: (B, C, H', W') latent prior.
        """
        query = self.upsampler(y_hat_bl)
        if size is not None:
            query = query[..., : size[0], : size[1]]
        slots = torch.stack([query] + [query if y is None else y for y in ref_ys], dim=1)
        return self.fusion(slots)
