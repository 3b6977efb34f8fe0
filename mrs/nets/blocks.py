"""The U-Net's building blocks: residual blocks with time conditioning, resampling, the time
embedding. ``mrs.nets.unet`` assembles them with the Swin layers of ``mrs.nets.swin``."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .swin import SwinLayer

__all__ = ["count_parameters", "timestep_embedding", "group_norm", "zero_init", "ResBlock",
           "Downsample", "Upsample", "UNetBlock"]


def count_parameters(module: nn.Module) -> int:
    """The number of scalar parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[B, dim]`` of integer times ``t`` ``[B]`` (Transformer / DDPM):

        emb(t) = [cos(t w_0), ..., cos(t w_{k-1}), sin(t w_0), ..., sin(t w_{k-1})],
        w_i = max_period^(-i / k),   k = dim // 2          (a zero column pads an odd dim)
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]                    # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # (B, 2 * half)
    return F.pad(emb, (0, dim % 2))


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups (fewer when ``channels`` is not a multiple of 32)."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


def zero_init(module: nn.Module) -> nn.Module:
    """``module`` with its parameters set to zero (a residual branch that starts as a no-op)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """Residual block with scale-shift conditioning on the time embedding ``e``:

        h = conv1(SiLU(GN(x)))
        (s, b) = Linear(SiLU(e))                  (one scale and one shift per channel)
        h = conv2(Dropout(SiLU(GN(h) * (1 + s) + b)))       conv2 starts at zero
        out = skip(x) + h                         skip: identity, or 1x1 conv when channels change
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(emb_dim, 2 * out_channels)
        self.norm2 = group_norm(out_channels)
        self.drop = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = (nn.Identity() if in_channels == out_channels
                     else nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb_proj(F.silu(emb))[:, :, None, None].chunk(2, dim=1)  # 2 x (B, C, 1, 1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Halve the resolution with a stride-2 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour x2, then a 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class UNetBlock(nn.Module):
    """A residual block, then optionally a Swin layer, then optionally an up-sampling."""

    def __init__(self, res: ResBlock, swin: SwinLayer | None = None, up: Upsample | None = None):
        super().__init__()
        self.res = res
        self.swin = swin
        self.up = up

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.res(h, emb)
        if self.swin is not None:
            h = self.swin(h)
        if self.up is not None:
            h = self.up(h)
        return h
