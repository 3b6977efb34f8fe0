"""Images and scalar maps: grids with titles, a shared colour scale, the hole's edge, crops."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import torch

from ...data import to_numpy

__all__ = ["show_images", "show_maps", "show_map_grid", "show_samples_and_errors",
           "show_region_box", "edge_profile"]


def show_images(images: Sequence[torch.Tensor], titles: Sequence[str] | None = None,
                ncols: int | None = None, scale: float = 2.0, suptitle: str | None = None):
    """A grid of RGB images (values in [-1, 1]) with optional titles."""
    n = len(images)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.3),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            arr = to_numpy(images[k])
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_maps(maps: Sequence[torch.Tensor], titles: Sequence[str] | None = None,
              cmap: str = "magma", vmin: float | None = None, vmax: float | None = None,
              scale: float = 2.2, colorbar: bool = True, suptitle: str | None = None):
    """Scalar maps (rates, variances, errors) on one shared colour scale."""
    arrs = [to_numpy(m) for m in maps]
    vmin = min(float(a.min()) for a in arrs) if vmin is None else vmin
    vmax = max(float(a.max()) for a in arrs) if vmax is None else vmax
    fig, axes = plt.subplots(1, len(arrs), figsize=(scale * len(arrs) + 0.8 * colorbar, scale),
                             squeeze=False)
    im = None
    for k, (ax, a) in enumerate(zip(axes.flat, arrs)):
        im = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.axis("off")
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    if colorbar and im is not None:
        fig.colorbar(im, ax=list(axes.flat), shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def edge_profile(image_or_map: torch.Tensor, row: int | None = None, col: int | None = None):
    """One row (or column) of a map ``[..., H, W]`` as a 1-D numpy array (channel-averaged)."""
    a = image_or_map.detach().double().cpu()
    while a.dim() > 2:
        a = a.mean(0) if a.dim() == 3 else a[0]
    if (row is None) == (col is None):
        raise ValueError("give exactly one of row and col")
    return (a[row] if row is not None else a[:, col]).numpy()


def _edge_contour(ax, mask, color="cyan"):
    """Draw the hole's edge (the 0.5 level of a mask ``[..., H, W]``) on an image axis."""
    m = to_numpy(mask)
    if m.min() < 0.5 < m.max():
        ax.contour(m, levels=[0.5], colors=color, linewidths=0.8)


def show_map_grid(rows: Sequence[Sequence[torch.Tensor]], row_titles: Sequence[str] | None = None,
                  col_titles: Sequence[str] | None = None, cmap: str = "magma",
                  vmin: float | None = None, vmax: float | None = None, scale: float = 1.7,
                  cbar_label: str | None = None, suptitle: str | None = None):
    """A grid of scalar maps (``rows[r][c]``) on one shared colour scale with one colour bar.

    Row titles go on the left, column titles on top; every map shares ``vmin``/``vmax``."""
    arrs = [[to_numpy(m) for m in row] for row in rows]
    flat = [a for row in arrs for a in row]
    vmin = min(float(a.min()) for a in flat) if vmin is None else vmin
    vmax = max(float(a.max()) for a in flat) if vmax is None else vmax
    nr, nc = len(arrs), max(len(row) for row in arrs)
    fig, axes = plt.subplots(nr, nc, figsize=(scale * nc + 1.6, scale * nr + 0.5), squeeze=False)
    im = None
    for r, row in enumerate(arrs):
        for c in range(nc):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(row):
                im = ax.imshow(row[c], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            else:
                ax.axis("off")
            if r == 0 and col_titles is not None and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=10)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=10)
    cb = fig.colorbar(im, ax=list(axes.flat), shrink=0.8)
    if cbar_label:
        cb.set_label(cbar_label)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_samples_and_errors(images: Sequence[torch.Tensor], titles: Sequence[str],
                            errors: Sequence[torch.Tensor | None], mask: torch.Tensor | None = None,
                            vmax: float | None = None, scale: float = 1.9,
                            suptitle: str | None = None):
    """Top row: RGB images in [-1, 1]; bottom row: their error maps (``None`` leaves a blank) on
    one colour scale from 0 to ``vmax``. ``mask`` draws the hole's edge on every panel."""
    n = len(images)
    errs = [None if e is None else to_numpy(e) for e in errors]
    vmax = max(float(e.max()) for e in errs if e is not None) if vmax is None else vmax
    fig, axes = plt.subplots(2, n, figsize=(scale * n + 1.0, 2 * scale + 0.6), squeeze=False)
    im = None
    for k in range(n):
        axes[0, k].imshow(to_numpy(images[k]), vmin=0, vmax=1, interpolation="nearest")
        axes[0, k].set_title(titles[k], fontsize=9)
        if errs[k] is not None:
            im = axes[1, k].imshow(errs[k], cmap="inferno", vmin=0, vmax=vmax,
                                   interpolation="nearest")
            axes[1, k].set_title("|error|", fontsize=9)
        for ax in axes[:, k]:
            ax.axis("off")
            if mask is not None and (ax is axes[0, k] or errs[k] is not None):
                _edge_contour(ax, mask)
    if im is not None:
        fig.colorbar(im, ax=list(axes[1]), shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_region_box(images: Sequence[torch.Tensor], titles: Sequence[str], box,
                    scale: float = 2.4):
    """Images side by side with the crop ``box = (top, bottom, left, right)`` drawn on each."""
    fig = show_images(images, titles, scale=scale)
    top, bottom, left, right = box
    for ax in fig.axes:
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                   fill=False, color="yellow", lw=1.5))
    return fig
