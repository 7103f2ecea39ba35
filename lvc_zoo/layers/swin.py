"""3-D (video) Swin Transformer layers: shifted-window attention over (D, H, W) token grids.

Window self-attention with a learned relative position bias (Liu et al., "Swin
Transformer", ICCV 2021), extended to a depth/time axis as in Video Swin, and stacked
into Residual Swin Transformer Blocks (RSTB, Liang et al., "SwinIR", ICCV 2021). The
multi-frame fusion network `SwinFusion` is the SwinIRFM-style network SEVC uses for its
spatial-guided latent prior (Sec. 3.3 and supplementary Sec. B): it fuses a stack of
slots (a query slot plus reference slots) into one output for slot 0.

Tokens are channels-last, (B, D, H, W, C), inside the blocks. A window holds
N = wd * wh * ww tokens; odd blocks roll the grid by the shift before partitioning and
mask attention between tokens that came from different regions with -100 (the
standard Swin mask). Attribute names follow the official SwinIR/SEVC modules
(`layers.N.residual_group.blocks.M.attn.qkv`, ...), so official weights load after a
prefix rename; the relative position index is derived here (a non-persistent buffer),
never loaded.

    slots (B, T, C, H, W) -> replicate-pad H, W to the window -> patch_embed (LayerNorm)
      -> layers[0..L-1]: RSTB = residual_group (Swin blocks, shifts on odd blocks)
                               -> conv (3x3 per slot) -> + input
      -> norm -> slot 0 -> conv_after_body -> + input slot 0 -> crop -> (B, C, H, W)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "window_partition",
    "window_merge",
    "relative_position_index",
    "shifted_window_mask",
    "WindowAttention3D",
    "MLP",
    "SwinBlock3D",
    "SwinLayer3D",
    "RSTB3D",
    "SwinFusion",
]

Size3 = tuple[int, int, int]
"""(depth, height, width) of a token grid, a window or a shift."""

MASK_VALUE = -100.0
"""Attention logit added between tokens of different regions in a shifted window (official Swin)."""


def window_partition(x: Tensor, window: Size3) -> Tensor:
    """Split a token grid into non-overlapping windows.

    Args:
        x: (B, D, H, W, C) tokens; D, H, W multiples of the window.
        window: (wd, wh, ww).
    Returns: (B * nW, wd * wh * ww, C) with nW = (D/wd)(H/wh)(W/ww) windows per batch item,
        ordered depth-major, then rows, then columns; tokens inside a window likewise.
    """
    b, d, h, w, c = x.shape
    wd, wh, ww = window
    x = x.view(b, d // wd, wd, h // wh, wh, w // ww, ww, c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, wd * wh * ww, c)


def window_merge(windows: Tensor, window: Size3, size: Size3) -> Tensor:
    """Inverse of `window_partition`: (B * nW, N, C) windows -> (B, D, H, W, C) grid of `size`."""
    d, h, w = size
    wd, wh, ww = window
    c = windows.shape[-1]
    x = windows.view(-1, d // wd, h // wh, w // ww, wd, wh, ww, c)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(-1, d, h, w, c)


def relative_position_index(window: Size3) -> Tensor:
    """Index into the relative position bias table for every pair of tokens in a window.

    For tokens i, j with offsets (dz, dy, dx) = pos(i) - pos(j) the index is
    (dz + wd - 1)(2wh - 1)(2ww - 1) + (dy + wh - 1)(2ww - 1) + (dx + ww - 1); for the
    (4, 8, 8) window that is (dz + 3) * 225 + (dy + 7) * 15 + (dx + 7).

    Returns: (N, N) int64, N = wd * wh * ww, values in [0, (2wd-1)(2wh-1)(2ww-1)).
    """
    wd, wh, ww = window
    grids = torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww), indexing="ij")
    coords = torch.stack(grids).flatten(1)  # (3, N)
    rel = coords[:, :, None] - coords[:, None, :]  # (3, N, N)
    return (rel[0] + wd - 1) * (2 * wh - 1) * (2 * ww - 1) + (rel[1] + wh - 1) * (2 * ww - 1) + (rel[2] + ww - 1)


def _region_labels(length: int, window: int, shift: int, device: torch.device) -> Tensor:
    """Per-position region (0, 1, 2) along one axis after a cyclic shift by `shift`.

    Region 0 never wraps; regions 1 and 2 are the last window's part that stays and the
    part that came round from the start. No shift: one region.
    """
    pos = torch.arange(length, device=device)
    if shift == 0:
        return torch.zeros_like(pos)
    return (pos >= length - window).long() + (pos >= length - shift).long()


def shifted_window_mask(size: Size3, window: Size3, shift: Size3, device: torch.device | None = None) -> Tensor:
    """Attention mask of shifted windows: 0 within a region, -100 across regions.

    Args:
        size: (D, H, W) of the (padded) token grid, multiples of the window.
        window: (wd, wh, ww).
        shift: (sd, sh, sw) cyclic shift of the grid, each <= the window size.
    Returns: (nW, N, N) float32 additive mask for the windows of one batch item.
    """
    labels = [_region_labels(n, w, s, device) for n, w, s in zip(size, window, shift)]
    region = labels[0].view(-1, 1, 1) * 9 + labels[1].view(1, -1, 1) * 3 + labels[2].view(1, 1, -1)
    region = window_partition(region[None, ..., None], window).squeeze(-1)  # (nW, N)
    differs = region[:, None, :] != region[:, :, None]
    return torch.zeros(differs.shape, device=device).masked_fill_(differs, MASK_VALUE)


def _drop_path(x: Tensor, rate: float, training: bool) -> Tensor:
    """Stochastic depth: zero a residual branch per sample with probability `rate` (training only)."""
    if rate == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - rate)
    return x * keep / (1.0 - rate)


class WindowAttention3D(nn.Module):
    """Multi-head self-attention inside a window, with a relative position bias per head.

    Args:
        dim: token channels C.
        window: (wd, wh, ww).
        num_heads: heads; C must be divisible by it. Scores are scaled by (C / heads)^-0.5.
    """

    def __init__(self, dim: int, window: Size3, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        wd, wh, ww = window
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Attend within each window.

        Args:
            x: (B * nW, N, C) windows from `window_partition`.
            mask: (nW, N, N) additive mask (`shifted_window_mask`) or None.
        Returns: (B * nW, N, C).
        """
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B*nW, heads, N, N)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1)
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(bw // nw, nw, self.num_heads, n, n) + mask[None, :, None]).view(bw, self.num_heads, n, n)
        out = attn.softmax(dim=-1) @ v  # (B*nW, heads, N, C/heads)
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class MLP(nn.Module):
    """Token feed-forward: fc1 -> GELU (exact, erf) -> fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock3D(nn.Module):
    """Pre-norm Swin block: x + W-MSA(norm1(x)), then + MLP(norm2(x)); (B, D, H, W, C) -> same.

    A grid that is not a multiple of the window is zero-padded after `norm1` and cropped
    after the attention (the official behaviour; `SwinFusion` replicate-pads H and W
    beforehand, so only the depth can need it there).

    Args:
        dim: channels C.
        num_heads: attention heads.
        window: (wd, wh, ww).
        shift: cyclic shift (sd, sh, sw); all zero for a plain window block.
        mlp_ratio: MLP hidden width / C.
        drop_path: stochastic depth rate of both residual branches (training only).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window: Size3,
        shift: Size3 = (0, 0, 0),
        mlp_ratio: float = 2.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.window = tuple(window)
        self.shift = tuple(shift)
        self.drop_path = drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, self.window, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    @property
    def shifted(self) -> bool:
        """Whether this block rolls the grid (and so needs the shifted-window mask)."""
        return any(s > 0 for s in self.shift)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """Window attention (shifted if `shift` is non-zero), then the MLP, both residual.

        Args:
            x: (B, D, H, W, C) tokens.
            mask: (nW, N, N) `shifted_window_mask` of the padded grid; used only if `shifted`.
        Returns: (B, D, H, W, C).
        """
        b, d, h, w, c = x.shape
        pads = [-n % k for n, k in zip((d, h, w), self.window)]
        y = self.norm1(x)
        if any(pads):
            y = F.pad(y, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        size = (d + pads[0], h + pads[1], w + pads[2])
        dims = (1, 2, 3)
        if self.shifted:
            y = torch.roll(y, shifts=tuple(-s for s in self.shift), dims=dims)
        y = self.attn(window_partition(y, self.window), mask if self.shifted else None)
        y = window_merge(y, self.window, size)
        if self.shifted:
            y = torch.roll(y, shifts=self.shift, dims=dims)
        x = x + _drop_path(y[:, :d, :h, :w], self.drop_path, self.training)
        return x + _drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class SwinLayer3D(nn.Module):
    """`depth` Swin blocks; odd blocks are shifted (official `BasicLayer`, attribute `blocks`).

    Args:
        dim, num_heads, window, mlp_ratio: as in `SwinBlock3D`.
        depth: number of blocks.
        shift: shift of the odd blocks (official SEVC: (wd, wh/2, ww/2)).
        drop_path: per-block stochastic depth rates (length `depth`).
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window: Size3,
        shift: Size3,
        mlp_ratio: float = 2.0,
        drop_path: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        rates = list(drop_path) if drop_path is not None else [0.0] * depth
        self.blocks = nn.ModuleList(
            SwinBlock3D(dim, num_heads, window, shift if i % 2 else (0, 0, 0), mlp_ratio, rates[i])
            for i in range(depth)
        )

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """(B, D, H, W, C) -> (B, D, H, W, C); `mask` as in `SwinBlock3D.forward`."""
        for block in self.blocks:
            x = block(x, mask)
        return x


class RSTB3D(nn.Module):
    """Residual Swin Transformer Block: x + conv3x3(Swin blocks(x)), the conv applied per slot.

    Args: as in `SwinLayer3D`. Attributes `residual_group` (the blocks) and `conv` match
    the official `RSTB` with `resi_connection="1conv"`.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window: Size3,
        shift: Size3,
        mlp_ratio: float = 2.0,
        drop_path: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.residual_group = SwinLayer3D(dim, depth, num_heads, window, shift, mlp_ratio, drop_path)
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """(B, D, H, W, C) -> (B, D, H, W, C); `mask` as in `SwinBlock3D.forward`."""
        b, d, h, w, c = x.shape
        # contiguous NCHW: a channels-last view would make the conv sum in another order than the official one
        y = self.residual_group(x, mask).permute(0, 1, 4, 2, 3).reshape(b * d, c, h, w).contiguous()
        y = self.conv(y).view(b, d, c, h, w).permute(0, 1, 3, 4, 2)
        return x + y


class _TokenNorm(nn.Module):
    """LayerNorm over the channels of (B, D, H, W, C) tokens, kept as `norm` for the official key.

    With patch size 1 the official "patch embedding" is only this normalisation.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


class SwinFusion(nn.Module):
    """Fuses a stack of slots into slot 0 with RSTBs (SwinIRFM-style, SEVC's latent fusion).

    Args:
        dim: channels C of every slot (official 128).
        depths: Swin blocks per RSTB (official (4, 4, 4, 4)).
        num_heads: heads in every block (official 8).
        window: (wd, wh, ww) (official (4, 8, 8)).
        shift: shift of odd blocks; default (wd, wh // 2, ww // 2) (official (4, 4, 4)).
        mlp_ratio: MLP width ratio (official 2).
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks
            (official 0.1; active in training only).
    """

    def __init__(
        self,
        dim: int = 128,
        depths: Sequence[int] = (4, 4, 4, 4),
        num_heads: int = 8,
        window: Size3 = (4, 8, 8),
        shift: Size3 | None = None,
        mlp_ratio: float = 2.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.window = tuple(window)
        self.shift = tuple(shift) if shift is not None else (window[0], window[1] // 2, window[2] // 2)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()  # also under a meta device
        starts = [sum(depths[:i]) for i in range(len(depths))]
        self.patch_embed = _TokenNorm(dim)
        self.layers = nn.ModuleList(
            RSTB3D(dim, depth, num_heads, self.window, self.shift, mlp_ratio, rates[start : start + depth])
            for start, depth in zip(starts, depths)
        )
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, slots: Tensor) -> Tensor:
        """Fuse the slots into a residual update of slot 0.

        Args:
            slots: (B, T, C, H, W); slot 0 is the query (SEVC: the upsampled base-layer latent).
        Returns: (B, C, H, W) = slot 0 + conv_after_body(norm(RSTBs(patch_embed(slots)))[slot 0]).
            H and W are replicate-padded to the window internally and cropped back.
        """
        b, t, c, h, w = slots.shape
        pad_h, pad_w = -h % self.window[1], -w % self.window[2]
        if pad_h or pad_w:
            flat = F.pad(slots.reshape(b * t, c, h, w), (0, pad_w, 0, pad_h), mode="replicate")
            slots = flat.view(b, t, c, h + pad_h, w + pad_w)
        x = self.patch_embed(slots.permute(0, 1, 3, 4, 2))  # (B, T, H', W', C)
        size = (t + -t % self.window[0], h + pad_h, w + pad_w)
        mask = shifted_window_mask(size, self.window, self.shift, slots.device).to(slots.dtype)
        for layer in self.layers:
            x = layer(x, mask)
        out = self.conv_after_body(self.norm(x[:, 0]).permute(0, 3, 1, 2).contiguous()) + slots[:, 0]
        return out[..., :h, :w]
