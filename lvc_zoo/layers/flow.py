"""SpyNet-style coarse-to-fine optical flow (Ranjan & Black, CVPR 2017), as used by DCVC-DC."""

from __future__ import annotations

from collections.abc import Sequence

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
            x = F.relu(getattr(self, f"conv{i}")(x), inplace=True)
        return self.conv5(x)

    @torch.no_grad()
    def init_gradient_flow_(self, contrast: float = 0.125, gain: float = 100.0, sigma: float = 1.0) -> None:
        """Set the level to a classical gradient-based flow step: an analytic start for training.

        [choice] DCVC-DC starts from a pretrained SpyNet; a model trained from scratch without
        one (the demo model) gets no signal to leave zero flow (see its model card). This writes
        a brightness-constancy estimator into the five convs, in the spirit of Lucas-Kanade.
        With grey levels, It = G * (cur - warped ref) (G a Gaussian) and Ix, Iy the Gaussian
        derivatives of the two frames' mean, a residual motion u gives It ~ u * Ix, and

        - conv1 forms relu(+-c*It +- Ix) and the same with Iy (8 channels, c = `contrast`);
        - conv2 sums them to |c*It + Ix| - |c*It - Ix| = 2 sign(u) |Ix| min(c|u|, 1), box-averaged,
          and splits it into positive and negative parts (ReLU keeps both);
        - conv3, conv4 and conv5 box-average the signed value again; conv5 also scales it by `gain`.

        So the update is u weighted by the local gradient's size over a window of about
        4 * (kernel - 1) px, saturating beyond 1/c px. Other channels, the flow input and all
        biases are 0. [choice] The defaults were picked on pans of known shift over the
        training photos of `recipes/demo_tiny.yaml`, never the held-out one
        (`tools/demo_tiny/flow_init_grid.py`).

        Raises:
            ValueError: widths below (8, 4, 4, 4) or an even kernel.
        """
        convs = [getattr(self, f"conv{i}") for i in range(1, 6)]
        kernel = convs[0].kernel_size[0]
        widths = [conv.out_channels for conv in convs[:4]]
        if kernel % 2 == 0 or widths[0] < 8 or min(widths[1:]) < 4:
            raise ValueError(
                f"init_gradient_flow_ needs an odd kernel and widths of at least (8, 4, 4, 4), got {kernel} and {widths}."
            )
        for conv in convs:
            conv.weight.zero_()
            conv.bias.zero_()
        radius = torch.arange(kernel, dtype=torch.float32) - kernel // 2
        gauss = torch.exp(-(radius**2) / (2 * sigma**2))
        gauss = gauss / gauss.sum()
        slope = radius * gauss / (radius**2 * gauss).sum()  # correlated with a unit ramp: 1
        smooth = torch.outer(gauss, gauss)
        box = torch.full((kernel, kernel), 1.0 / kernel**2)
        grey = 1.0 / 3.0
        for axis, derivative in enumerate((torch.outer(gauss, slope), torch.outer(slope, gauss))):
            # units 4*axis + (0, 1, 2, 3) = relu(c*It + I'), relu(c*It - I'), relu(-c*It + I'), relu(-c*It - I')
            for unit, (sign_t, sign_d) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
                out = 4 * axis + unit
                convs[0].weight[out, 0:3] = grey * (sign_t * contrast * smooth + sign_d * derivative / 2)
                convs[0].weight[out, 3:6] = grey * (-sign_t * contrast * smooth + sign_d * derivative / 2)
                # |c*It + I'| - |c*It - I'|: units 0 and 3 add, 1 and 2 subtract; 2*axis + (0, 1) hold its +- parts
                combined = 1.0 if unit in (0, 3) else -1.0
                convs[1].weight[2 * axis, out] = combined * box
                convs[1].weight[2 * axis + 1, out] = -combined * box
            plus, minus = 2 * axis, 2 * axis + 1
            for conv in convs[2:4]:
                conv.weight[plus, plus] = conv.weight[minus, minus] = box
                conv.weight[plus, minus] = conv.weight[minus, plus] = -box
            convs[4].weight[axis, plus] = gain * box
            convs[4].weight[axis, minus] = -gain * box


class SpyNet(nn.Module):
    """Flow that warps `ref` onto `cur`, estimated on an average-pooled pyramid.

    Starting from zero flow below the coarsest level, each level (coarse to fine) upsamples
    the flow by 2 (doubling it), warps the reference with it and adds its network's update.

    Shapes: cur, ref (B, 3, H, W), H and W divisible by 2**levels -> flow (B, 2, H, W) in pixels.

    Args:
        levels: pyramid levels.
        channels: hidden widths of each level's network.
        kernels: kernel size of each level, coarsest first; None = 7 everywhere (DCVC-DC).
            DCVC-FM uses (7, 7, 5, 5).
    """

    def __init__(
        self, levels: int = 4, channels: tuple[int, int, int, int] = (32, 64, 32, 16), kernels: Sequence[int] | None = None
    ) -> None:
        super().__init__()
        kernels = tuple(kernels) if kernels is not None else (7,) * levels
        if len(kernels) != levels:
            raise ValueError(f"SpyNet needs one kernel size per level ({levels}), got {kernels}")
        self.levels = nn.ModuleList(FlowLevel(channels, kernel) for kernel in kernels)

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

    def init_gradient_flow_(self, **kwargs: float) -> None:
        """Set every level to the analytic gradient-based step (`FlowLevel.init_gradient_flow_`, same kwargs)."""
        for level in self.levels:
            level.init_gradient_flow_(**kwargs)
