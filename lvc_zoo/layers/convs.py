"""Two small convolution stacks that several models compose.

* `stride4_down`: conv 3x3 s2 ─► LeakyReLU(0.1) ─► conv 3x3 s2, a 1/4-resolution prior encoder
  (the DCVC family's temporal prior encoder; LSTVC's motion and hybrid prior encoders).
* `pointwise_depthwise`: conv 1x1 ─► depthwise conv 3x3, a cheap projection with local context
  (MHLCA's query, key and value embeddings; DCVC-LCG's query and key projections).

Both return an `nn.Sequential`, so their checkpoint keys are "0.*" and "2.*" (or "1.*").
"""

from __future__ import annotations

from torch import nn

__all__ = ["stride4_down", "pointwise_depthwise"]


def stride4_down(in_ch: int, hidden_ch: int, out_ch: int) -> nn.Sequential:
    """Two stride-2 3x3 convs with a LeakyReLU(0.1) between: (B, in_ch, h, w) -> (B, out_ch, h/4, w/4)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden_ch, 3, stride=2, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(hidden_ch, out_ch, 3, stride=2, padding=1)
    )


def pointwise_depthwise(in_ch: int, out_ch: int) -> nn.Sequential:
    """1x1 conv then depthwise 3x3 conv: (B, in_ch, h, w) -> (B, out_ch, h, w)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), nn.Conv2d(out_ch, out_ch, 3, padding=1, groups=out_ch))
