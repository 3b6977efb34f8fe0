"""The Swin layer of ResShift's official ``UNetModelSwin``, reproduced exactly (``BasicLayer``).

Unlike ``mrs.nets.swin`` (this project's variant), everything here follows the official module, so
that its released weights load under the same names and give the same numbers:

* the layer works on a conv feature map ``[B, C, H, W]`` and *replaces* it (no residual around it):

      h -> patch_unembed(SwinBlock_D( ... SwinBlock_1(patch_embed(h))))

  with ``patch_embed`` / ``patch_unembed`` 1x1 convolutions ``C -> E -> C``;
* a block is ``x + W-MSA(GN(x))`` then ``x + MLP(GN(x))``: GroupNorm with 32 groups (not LayerNorm)
  and an MLP of two 1x1 convolutions with GELU between them;
* every second block shifts the windows by ``ws // 2``; a block built for a map no larger than its
  window uses one window of the map's side and no shift (decided at construction, from the
  resolution the net was built for);
* the shift mask is the official one, -100 (not -inf) between tokens that must not attend, with
  two slips of the official ``calculate_mask`` kept: its 3 x 3 region labels are written into a
  ``[1, 1, H, W]`` tensor with the row and column slices one axis too early (so only row regions
  exist), and its windows of labels are transposed before flattening (so inside a window the
  labels run along the columns). The result: nothing is masked except in the last row of
  windows, where the tokens of columns ``[0, ws - shift)`` and ``[ws - shift, ws)`` of each window
  are kept apart. The released weights were trained with that mask, so it is reproduced as is.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["official_shift_mask", "relative_position_index", "WindowAttention", "Mlp", "SwinBlock",
           "PatchEmbed", "PatchUnEmbed", "BasicLayer", "MASKED"]

MASKED = -100.0  # the official additive mask value between tokens that must not attend


def relative_position_index(ws: int) -> torch.Tensor:
    """``[N, N]`` (``N = ws^2``) index into the ``(2 ws - 1)^2`` table of relative-position biases:
    tokens at ``(r_i, c_i)`` and ``(r_j, c_j)`` use entry
    ``(r_i - r_j + ws - 1) (2 ws - 1) + (c_i - c_j + ws - 1)``."""
    r, c = torch.meshgrid(torch.arange(ws, device="cpu"), torch.arange(ws, device="cpu"),
                          indexing="ij")
    r, c = r.flatten(), c.flatten()
    return (r[:, None] - r[None] + ws - 1) * (2 * ws - 1) + (c[:, None] - c[None] + ws - 1)


@lru_cache(maxsize=64)
def _shift_mask_cpu(H: int, W: int, ws: int, shift: int) -> torch.Tensor:
    # 1. region labels by row only (the official slices land on the row axis)
    label = torch.zeros(H, device="cpu")
    label[slice(-ws, -shift)] = 1.0
    label[slice(-shift, None)] = 2.0
    lab = label[:, None].expand(H, W)
    # 2. windows [nW, ws_r, ws_c], read column by column (the official transpose) while the
    #    attention's tokens run row by row
    win = lab.reshape(H // ws, ws, W // ws, ws).permute(0, 2, 3, 1).reshape(-1, ws * ws)  # (nW, N)
    blocked = win[:, :, None] != win[:, None, :]                                        # (nW, N, N)
    return torch.zeros(blocked.shape, device="cpu").masked_fill(blocked, MASKED)


def official_shift_mask(H: int, W: int, ws: int, shift: int, device=None,
                        dtype=torch.float32) -> torch.Tensor:
    """The official additive mask ``[nW, N, N]`` for a map rolled by ``-shift`` (0 or -100).

    What the official ``calculate_mask`` computes (see the module docstring): only the last row of
    windows is masked, and there token ``(i, j)`` of a window is kept apart from token
    ``(i', j')`` when ``j < ws - shift <= j'`` or the reverse, i.e. by **column** inside the
    window. (The intended Swin mask separates the wrapped rows of the bottom windows and the
    wrapped columns of the right-hand windows.) A fresh tensor is returned.
    """
    return _shift_mask_cpu(H, W, ws, shift).to(device=device, dtype=dtype, copy=True)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window with a relative-position bias:

        out = proj(softmax(q k^T / sqrt(d_head) + B_rel + M_shift) v)
    """

    def __init__(self, dim: int, ws: int, num_heads: int, proj_drop: float = 0.0):
        super().__init__()
        self.num_heads, self.ws = num_heads, ws
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(ws))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: windows ``[B, nW, N, C]``; ``mask``: ``[nW, N, N]`` or None."""
        B, nW, N, C = x.shape
        nh = self.num_heads
        qkv = self.qkv(x).view(B * nW, N, 3, nh, C // nh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)                                            # (B nW, nh, N, hd)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(N, N, nh).permute(2, 0, 1).to(x.dtype)           # (nh, N, N)
        if mask is not None:
            bias = (bias + mask[:, None]).expand(B, nW, nh, N, N).reshape(B * nW, nh, N, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)     # (B nW, nh, N, hd)
        out = out.transpose(1, 2).reshape(B, nW, N, C)
        return self.proj_drop(self.proj(out))


class Mlp(nn.Module):
    """Per-pixel MLP of a Swin block: ``fc2(GELU(fc1(x)))`` with 1x1 convolutions."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class SwinBlock(nn.Module):
    """One official Swin block on ``[B, C, H, W]`` (``SwinTransformerBlock``), built for maps of
    side ``resolution``: ``x + W-MSA(GN(x))``, then ``x + fc2(GELU(fc1(GN(x))))``."""

    def __init__(self, dim: int, resolution: int, num_heads: int, window_size: int, shift: int,
                 mlp_ratio: float, drop: float = 0.0):
        super().__init__()
        if resolution <= window_size:       # one window covers the map: no partition, no shift
            window_size, shift = resolution, 0
        self.ws, self.shift = window_size, shift
        self.norm1 = nn.GroupNorm(32, dim)
        self.attn = WindowAttention(dim, window_size, num_heads, drop)
        self.norm2 = nn.GroupNorm(32, dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        # kept for the official state dict (its key ``attn_mask``); forward computes the mask for
        # the size it is given, which for the built size is this one
        if shift:
            self.register_buffer("attn_mask", official_shift_mask(resolution, resolution,
                                                                  window_size, shift))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        ws, s = self.ws, self.shift
        h = self.norm1(x)
        if s:
            h = torch.roll(h, shifts=(-s, -s), dims=(2, 3))
        win = h.view(B, C, H // ws, ws, W // ws, ws).permute(0, 2, 4, 3, 5, 1)   # (B, nh, nw, ws, ws, C)
        win = win.reshape(B, (H // ws) * (W // ws), ws * ws, C)
        mask = _shift_mask_cpu(H, W, ws, s).to(x.device, x.dtype) if s else None  # read only
        win = self.attn(win, mask)                                             # (B, nW, N, C)
        h = win.view(B, H // ws, W // ws, ws, ws, C).permute(0, 5, 1, 3, 2, 4).reshape(B, C, H, W)
        if s:
            h = torch.roll(h, shifts=(s, s), dims=(2, 3))
        x = x + h
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """``C -> E`` per pixel (a 1x1 conv), then GroupNorm when ``patch_norm``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_norm: bool):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, 1)
        self.norm = nn.GroupNorm(32, embed_dim) if patch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class PatchUnEmbed(nn.Module):
    """``E -> C`` per pixel (a 1x1 conv), then GroupNorm when ``patch_norm``."""

    def __init__(self, out_chans: int, embed_dim: int, patch_norm: bool):
        super().__init__()
        self.proj = nn.Conv2d(embed_dim, out_chans, 1)
        self.norm = nn.GroupNorm(32, out_chans) if patch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class BasicLayer(nn.Module):
    """The official Swin layer: ``patch_unembed(blocks(patch_embed(h)))``, replacing ``h``.

    Blocks alternate plain and shifted (``ws // 2``) windows; ``resolution`` is the side of the
    map the layer was built for (it fixes each block's window and shift).
    """

    def __init__(self, in_chans: int, embed_dim: int, num_heads: int, window_size: int, depth: int,
                 resolution: int, mlp_ratio: float, drop: float = 0.0, patch_norm: bool = False):
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_norm)
        self.patch_unembed = PatchUnEmbed(in_chans, embed_dim, patch_norm)
        self.blocks = nn.ModuleList(
            SwinBlock(embed_dim, resolution, num_heads, window_size,
                      0 if i % 2 == 0 else window_size // 2, mlp_ratio, drop)
            for i in range(depth))

    @property
    def windows(self) -> tuple:
        """The window side of each block (a map must be a multiple of each)."""
        return tuple(b.ws for b in self.blocks)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(h)
        for block in self.blocks:
            x = block(x)
        return self.patch_unembed(x)
