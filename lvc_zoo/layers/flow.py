"""SpyNet-style coarse-to-fine optical flow (Ranjan & Black, CVPR 2017), as used by DCVC-DC."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .alignment import upsample2x, warp

__all__ = ["FlowLevel", "SpyNet"]


class FlowLevel(nn.Module):
    """One pyramid level: five 7x7 convs with ReLUs mapping (cur, warped ref, flow) to a flow update.

    (B, 8, H, W) -> (B, 2, H, W).
    """

    def __init__(self, channels: tuple[int, int, int, int] = (32, 64, 32, 16), kernel: int = 7) -> None:
        super().__init__()
        widths = (8, *channels, 2)
        for i in range(5):
            self.add_module(f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], kernel, 1, padding=kernel // 2))

    def forward(self, x: Tensor) -> Tensor:
        for i in range(1, 5):
            x = F.relu(getattr(self, f"conv{i}")(x))
        return self.conv5(x)


class SpyNet(nn.Module):
    """Flow that warps `ref` onto `cur`, estimated on an average-pooled pyramid.

    Starting from zero flow below the coarsest level, each level (coarse to fine) upsamples
    the flow by 2 (doubling it), warps the reference with it and adds its network's update.

    Shapes: cur, ref (B, 3, H, W), H and W divisible by 2**levels -> flow (B, 2, H, W) in pixels.
    """

    def __init__(self, levels: int = 4, channels: tuple[int, int, int, int] = (32, 64, 32, 16)) -> None:
        super().__init__()
        self.levels = nn.ModuleList(FlowLevel(channels) for _ in range(levels))

    def forward(self, cur: Tensor, ref: Tensor) -> Tensor:
        curs, refs = [cur], [ref]
        for _ in range(len(self.levels) - 1):
            curs.append(F.avg_pool2d(curs[-1], kernel_size=2, stride=2))
            refs.append(F.avg_pool2d(refs[-1], kernel_size=2, stride=2))
        b, _, h, w = refs[-1].shape
        flow = torch.zeros(b, 2, h // 2, w // 2, dtype=cur.dtype, device=cur.device)
        for level, net in enumerate(self.levels):
            scale = len(self.levels) - 1 - level
            flow_up = upsample2x(flow) * 2.0
            flow = flow_up + net(torch.cat((curs[scale], warp(refs[scale], flow_up), flow_up), dim=1))
        return flow
