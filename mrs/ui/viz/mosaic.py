"""Many small images in one axes (a mosaic): one ``imshow`` instead of one axes per image.

A grid of 32x32 images drawn as separate axes costs matplotlib a few hundred milliseconds per
figure (every axes builds its ticks and transforms); the interactive apps redraw on every slider
move, so they paste the tiles into one RGB canvas and write the titles as text.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ...data import to_numpy

__all__ = ["tile_rgb", "draw_mosaic"]


def tile_rgb(img, cmap: str | None = None, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """An ``(H, W, 3)`` float array in [0, 1] to paste into a mosaic.

    ``img``: an image tensor in [-1, 1] (``[C, H, W]`` or ``[1, C, H, W]``), or a map (tensor or
    array ``[H, W]``) coloured with ``cmap`` between ``vmin`` and ``vmax``."""
    import matplotlib

    if cmap is None:
        if not isinstance(img, torch.Tensor):
            raise ValueError("an image tile must be a tensor in [-1, 1]; give cmap for a map")
        a = to_numpy(img)
        return np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]
    a = img.detach().float().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img, float)
    a = a.reshape(a.shape[-2:])
    if not vmax > vmin:
        raise ValueError(f"vmax must exceed vmin, got {vmin!r}, {vmax!r}")
    return matplotlib.colormaps[cmap](np.clip((a - vmin) / (vmax - vmin), 0, 1))[..., :3]


def draw_mosaic(ax, rows: Sequence[Sequence], gap: int = 3, title_space: int = 9,
                caption_space: int = 0, fontsize: float = 11, row_labels: Sequence[str] = ()):
    """Draw rows of tiles on ``ax``; a tile is ``(rgb, title)`` or ``(rgb, title, caption)``
    (``rgb`` from ``tile_rgb``, all tiles the same size; ``None`` leaves a blank). Titles go
    above the tiles, captions below (``caption_space`` data pixels, 0 = none), row labels on
    the left. Returns the ``AxesImage``."""
    tiles = [t for row in rows for t in row if t is not None]
    if not tiles:
        raise ValueError("rows must hold at least one tile")
    H, W = tiles[0][0].shape[:2]
    if any(t[0].shape[:2] != (H, W) for t in tiles):
        raise ValueError("all tiles of a mosaic must have the same size")
    ncols = max(len(r) for r in rows)
    row_h = title_space + H + caption_space + gap
    canvas = np.ones((row_h * len(rows), ncols * (W + gap) - gap, 3))
    for r, row in enumerate(rows):
        top = r * row_h + title_space
        for c, tile in enumerate(row):
            if tile is None:
                continue
            left = c * (W + gap)
            canvas[top:top + H, left:left + W] = tile[0]
            ax.text(left + W / 2, top - 1, tile[1], ha="center", va="bottom", fontsize=fontsize)
            if len(tile) > 2 and tile[2]:
                ax.text(left + W / 2, top + H + 1, tile[2], ha="center", va="top", fontsize=fontsize)
        if r < len(row_labels):
            ax.text(-2, top + H / 2, row_labels[r], ha="right", va="center", rotation=90,
                    fontsize=fontsize + 1)
    im = ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    return im
