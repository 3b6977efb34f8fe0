"""Convolutional layers of ResShift's official ``UNetModelSwin``, under the official names.

``in_layers`` / ``emb_layers`` / ``out_layers`` / ``skip_connection`` of a residual block, ``op`` of
a down-sampling and ``conv`` of an up-sampling are the attribute names (and ``nn.Sequential``
positions) of the official modules, so that a released state dict loads without renames.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["EmbSequential", "ResBlock", "Downsample", "Upsample", "feature_extractor"]


class EmbSequential(nn.Sequential):
    """A sequence of layers; residual blocks also receive the time embedding ``emb``."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


class ResBlock(nn.Module):
    """Residual block conditioned on the time embedding ``e`` (scale-shift form when
    ``use_scale_shift_norm``, an added bias otherwise):

        h = conv(SiLU(GN(x)))
        h = conv(Dropout(SiLU(GN(h) (1 + s) + b)))    (s, b) = Linear(SiLU(e))
        h = conv(Dropout(SiLU(GN(h + b))))            b = Linear(SiLU(e))        (plain form)
        out = skip(x) + h                             skip: identity or a 1x1 conv
    """

    def __init__(self, channels: int, emb_channels: int, dropout: float, out_channels: int | None = None,
                 use_scale_shift_norm: bool = True):
        super().__init__()
        out_channels = out_channels or channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(nn.GroupNorm(32, channels), nn.SiLU(),
                                       nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, (2 if use_scale_shift_norm else 1) * out_channels))
        out_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(out_conv.weight)
        nn.init.zeros_(out_conv.bias)
        self.out_layers = nn.Sequential(nn.GroupNorm(32, out_channels), nn.SiLU(),
                                        nn.Dropout(dropout), out_conv)
        self.skip_connection = (nn.Identity() if out_channels == channels
                                else nn.Conv2d(channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        e = self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        norm, rest = self.out_layers[0], self.out_layers[1:]
        if self.use_scale_shift_norm:
            scale, shift = e.chunk(2, dim=1)
            h = rest(norm(h) * (1 + scale) + shift)
        else:
            h = rest(norm(h + e))
        return self.skip_connection(x) + h


class Downsample(nn.Module):
    """Halve the resolution: a stride-2 3x3 conv (``use_conv``) or a 2x2 average pool."""

    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        if use_conv:
            self.op = nn.Conv2d(channels, out_channels, 3, stride=2, padding=1)
        elif out_channels != channels:
            raise ValueError("a pooling Downsample cannot change the number of channels")
        else:
            self.op = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour x2, then a 3x3 conv when ``use_conv``."""

    def __init__(self, channels: int, use_conv: bool):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1) if use_conv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x if self.conv is None else self.conv(x)


def feature_extractor(in_channels: int, stages: int) -> tuple[nn.Module, int]:
    """The official image-resolution conditioning and its number of output channels.

    With ``stages = log2(lq_size / image_size)`` stages of ``conv3x3 -> SiLU -> stride-2 conv3x3``
    (widths 16, 32, 64, ...: each stage doubles the width and halves the side), ``[y, mask]`` at
    ``2^stages`` times the latent side comes down to the latent side. With no stage it is the
    identity (``y`` and the mask enter as they are).
    """
    if stages == 0:
        return nn.Identity(), in_channels
    layers, ch, width = [], in_channels, 16
    for _ in range(stages):
        layers += [nn.Conv2d(ch, width, 3, padding=1), nn.SiLU(),
                   Downsample(width, True, out_channels=2 * width)]
        ch = width = 2 * width
    return nn.Sequential(*layers), ch
