"""Plotting helpers used by the notebooks. Each returns a matplotlib ``Figure`` (never prints).

Images are tensors in [-1, 1] (``[C, H, W]`` or ``[1, C, H, W]``); maps (masks, rates,
variances) are ``[H, W]``, ``[1, H, W]`` or ``[1, 1, H, W]``.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["to_numpy", "show_images", "show_maps", "plot_trajectory", "plot_schedules",
           "edge_profile"]


def to_numpy(img: torch.Tensor) -> np.ndarray:
    """An image in [-1, 1] as an ``H x W x C`` array in [0, 1] (a map as ``H x W``)."""
    a = img.detach().float().cpu()
    while a.dim() > 3:
        a = a[0]
    if a.dim() == 3 and a.shape[0] == 1:
        return a[0].numpy()
    if a.dim() == 3:
        return ((a.permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()
    return a.numpy()


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


def plot_trajectory(traj, index: int = 0, scale: float = 1.8, x0=None, y=None):
    """Top row: ``x_T .. x_0``; bottom row: the prediction of x0 at each t.

    With ``y`` and ``x0`` the input and the ground truth are added at the right."""
    T = len(traj.ts)
    extra = [im for im in (y, x0) if im is not None]
    ncols = T + 1 + len(extra)
    fig, axes = plt.subplots(2, ncols, figsize=(scale * ncols, scale * 2 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, x in enumerate(traj.xs):
        axes[0, k].imshow(to_numpy(x[index]))
        axes[0, k].set_title(f"$x_{{{T - k}}}$", fontsize=10)
    for k, (t, p) in enumerate(zip(traj.ts, traj.x0_preds)):
        axes[1, k].imshow(to_numpy(p[index]))
        axes[1, k].set_title(rf"$\hat x_0$ at t={t}", fontsize=9)
    for j, (name, im) in enumerate(zip([n for n, i in (("input y", y), ("ground truth", x0))
                                        if i is not None], extra)):
        axes[0, T + 1 + j].imshow(to_numpy(im[index]))
        axes[0, T + 1 + j].set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def plot_schedules(schedules: dict, ax=None, sqrt: bool = False):
    """``eta_t`` (or ``sqrt(eta_t)``) against ``t`` for labelled schedules."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    for label, sch in schedules.items():
        vals = sch.etas.sqrt() if sqrt else sch.etas
        ax.plot(range(sch.steps + 1), vals.numpy(), "o-", label=label)
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\sqrt{\eta_t}$" if sqrt else r"$\eta_t$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def edge_profile(image_or_map: torch.Tensor, row: int | None = None, col: int | None = None):
    """One row (or column) of a map ``[..., H, W]`` as a 1-D numpy array (channel-averaged)."""
    a = image_or_map.detach().double().cpu()
    while a.dim() > 2:
        a = a.mean(0) if a.dim() == 3 else a[0]
    if (row is None) == (col is None):
        raise ValueError("give exactly one of row and col")
    return (a[row] if row is not None else a[:, col]).numpy()
