"""Swin transformer blocks for the denoising U-Net (``mrs.nets``).

Shifted-window self-attention (Liu et al. 2021, "Swin Transformer"), as ResShift's
``UNetModelSwin`` uses it inside its U-Net. A feature map ``[B, H, W, C]`` (channels last) is cut
into non-overlapping ``ws x ws`` windows; every token attends only to the ``N = ws^2`` tokens of
its window, with a learned bias for each relative offset:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + B_rel + M_shift) V      per window and head

Every second block first rolls the map by ``ws // 2`` so that the windows straddle the previous
block's window borders (information crosses windows). The roll wraps pixels from one image edge to
the other; ``M_shift`` (0 or -inf) stops those pixels from attending to their wrapped neighbours.
Both terms are additive, so they go into ``scaled_dot_product_attention`` as ``attn_mask``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["window_partition", "window_reverse", "relative_position_index", "shift_window_mask",
           "WindowAttention", "SwinBlock", "SwinLayer"]


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Cut ``x`` ``[B, H, W, C]`` into windows ``[B, nW, N, C]``, ``nW = (H/ws)(W/ws)``, ``N = ws^2``.

    Windows are numbered row by row, tokens inside a window row by row. H and W must be
    multiples of ``window_size``.
    """
    B, H, W, C = x.shape
    ws = window_size
    x = x.view(B, H // ws, ws, W // ws, ws, C)             # (B, nh, ws, nw, ws, C)
    x = x.permute(0, 1, 3, 2, 4, 5)                        # (B, nh, nw, ws, ws, C)
    return x.reshape(B, (H // ws) * (W // ws), ws * ws, C)  # (B, nW, N, C)


def window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:
    """Inverse of ``window_partition``: windows ``[B, nW, N, C]`` back to ``[B, H, W, C]``."""
    B, _, _, C = windows.shape
    ws = window_size
    x = windows.view(B, H // ws, W // ws, ws, ws, C)      # (B, nh, nw, ws, ws, C)
    x = x.permute(0, 1, 3, 2, 4, 5)                        # (B, nh, ws, nw, ws, C)
    return x.reshape(B, H, W, C)


def relative_position_index(window_size: int) -> torch.Tensor:
    """``[N, N]`` index into the ``(2 ws - 1)^2`` table of relative-position biases.

    Token ``i`` at ``(r_i, c_i)`` and token ``j`` at ``(r_j, c_j)`` of one window get the entry
    ``(r_i - r_j + ws - 1) * (2 ws - 1) + (c_i - c_j + ws - 1)``: one bias per offset, shared by
    every pair of tokens with that offset.
    """
    ws = window_size
    rows, cols = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()])  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :] + (ws - 1)  # (2, N, N), values 0..2ws-2
    return rel[0] * (2 * ws - 1) + rel[1]                      # (N, N)


@lru_cache(maxsize=32)
def _shift_window_mask_cpu(H: int, W: int, window_size: int, shift: int) -> torch.Tensor:
    ws = window_size
    # 1. label the regions of the rolled map: the last ``shift`` rows/columns came from the
    #    opposite edge, the ``ws - shift`` before them from the end of the image
    labels = torch.zeros(1, H, W, 1)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for i, rows in enumerate(cuts):
        for j, cols in enumerate(cuts):
            labels[:, rows, cols, :] = 3 * i + j
    # 2. two tokens of one window may attend to each other only if they share a label
    lab = window_partition(labels, ws).squeeze(-1).squeeze(0)  # (nW, N)
    blocked = lab[:, :, None] != lab[:, None, :]               # (nW, N, N)
    return torch.zeros(blocked.shape).masked_fill(blocked, float("-inf"))


def shift_window_mask(H: int, W: int, window_size: int, shift: int, device=None,
                      dtype=torch.float32) -> torch.Tensor:
    """Additive attention mask ``[nW, N, N]`` for windows of a map rolled by ``-shift``.

    Entry ``(w, i, j)`` is 0 if tokens ``i`` and ``j`` of window ``w`` were neighbours before the
    roll (same region) and ``-inf`` if one of them wrapped around from the opposite image edge.
    """
    return _shift_window_mask_cpu(H, W, window_size, shift).to(device=device, dtype=dtype)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a relative-position bias.

        out = proj(softmax(q k^T / sqrt(d_head) + B_rel[offset(i, j)] + M_shift) v)

    ``B_rel`` is a learned table ``[(2 ws - 1)^2, heads]``, one bias per relative offset and head.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.window_size = window_size
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_bias_table, std=0.02)
        self.register_buffer("relative_index", relative_position_index(window_size), persistent=False)

    def relative_bias(self) -> torch.Tensor:
        """The bias ``B_rel`` for every pair of tokens of a window: ``[heads, N, N]``."""
        bias = self.relative_bias_table[self.relative_index]  # (N, N, nh)
        return bias.permute(2, 0, 1)                          # (nh, N, N)

    def forward(self, x: torch.Tensor, shift_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: windows ``[B, nW, N, C]``; ``shift_mask``: ``[nW, N, N]`` (0 / -inf) or None."""
        B, nW, N, C = x.shape
        nh = self.num_heads
        qkv = self.qkv(x).view(B * nW, N, 3, nh, C // nh)       # (B*nW, N, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)         # 3 x (B*nW, nh, N, hs)
        bias = self.relative_bias().to(x.dtype)                # (nh, N, N)
        if shift_mask is not None:
            bias = bias + shift_mask[:, None]                  # (nW, nh, N, N)
            bias = bias.expand(B, nW, nh, N, N).reshape(B * nW, nh, N, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B*nW, nh, N, hs)
        out = out.transpose(1, 2).reshape(B, nW, N, C)         # (B, nW, N, C)
        return self.proj(out)


class SwinBlock(nn.Module):
    """One Swin transformer block on a channels-last map ``[B, H, W, C]``:

        x = x + W-MSA(LN(x))        (windows shifted by ``shift`` when ``shift > 0``)
        x = x + MLP(LN(x))          MLP = Linear(C, r C) -> GELU -> Linear(r C, C)

    When the map is a single window (``min(H, W) <= ws``) shifting only cuts that window into
    pieces, so the block attends without shift (as the Swin paper does).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, shift: int, mlp_ratio: float,
                 dropout: float = 0.0):
        super().__init__()
        if not 0 <= shift < window_size:
            raise ValueError(f"shift must lie in 0..window_size-1, got {shift}")
        self.window_size = window_size
        self.shift = shift
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        ws = self.window_size
        if H % ws or W % ws:
            raise ValueError(f"the feature map {H}x{W} is not a multiple of window_size {ws}")
        shift = self.shift if min(H, W) > ws else 0
        # 1. (shifted) window attention
        h = self.norm1(x)
        mask = None
        if shift:
            h = torch.roll(h, shifts=(-shift, -shift), dims=(1, 2))
            mask = shift_window_mask(H, W, ws, shift, device=x.device, dtype=x.dtype)
        h = window_partition(h, ws)                  # (B, nW, N, C)
        h = self.attn(h, mask)                       # (B, nW, N, C)
        h = window_reverse(h, ws, H, W)              # (B, H, W, C)
        if shift:
            h = torch.roll(h, shifts=(shift, shift), dims=(1, 2))
        x = x + self.drop(h)
        # 2. token-wise MLP
        return x + self.drop(self.mlp(self.norm2(x)))


class SwinLayer(nn.Module):
    """ResShift's Swin layer for a conv feature map ``[B, C, H, W]``, added residually:

        h + proj_out(SwinBlock_D( ... SwinBlock_1(proj_in(h))))

    ``proj_in`` / ``proj_out`` are per-pixel linear maps (1x1 convolutions) ``C -> E -> C`` between
    the conv channels ``C`` and the transformer width ``E = embed_dim``; blocks alternate plain
    and shifted windows (shift ``ws // 2`` on every second block).
    """

    def __init__(self, channels: int, embed_dim: int, depth: int, num_heads: int, window_size: int,
                 mlp_ratio: float, dropout: float = 0.0):
        super().__init__()
        self.proj_in = nn.Linear(channels, embed_dim)
        self.blocks = nn.ModuleList(
            SwinBlock(embed_dim, num_heads, window_size, shift=0 if i % 2 == 0 else window_size // 2,
                      mlp_ratio=mlp_ratio, dropout=dropout)
            for i in range(depth)
        )
        self.proj_out = nn.Linear(embed_dim, channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.proj_in(h.permute(0, 2, 3, 1))     # (B, H, W, E)
        for block in self.blocks:
            x = block(x)
        x = self.proj_out(x).permute(0, 3, 1, 2)    # (B, C, H, W)
        return h + x
