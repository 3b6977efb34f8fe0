"""Fast inference (notebook 12): RePaint's time path and region-adaptive sampling's trade-off."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_repaint_path", "plot_region_tradeoff"]


def plot_repaint_path(path: Sequence[int], ax=None, title: str | None = None):
    """RePaint's time path (``mrs.sampling.repaint.repaint_times``): t against the move number,
    with the network evaluations (downward moves) marked."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 2.8))
    path = list(path)
    ax.plot(range(len(path)), path, color="0.3", lw=1)
    down = [i + 1 for i in range(len(path) - 1) if path[i + 1] < path[i]]
    ax.plot(down, [path[i] for i in down], ".", ms=3, color="C3", label="network evaluation")
    ax.set_xlabel("move")
    ax.set_ylabel("t")
    ax.set_title(title or f"{len(down)} network evaluations for T = {path[0]}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _tradeoff_curves(axes, sel: Sequence[dict], color: str, label: str):
    """One (size, margin) series, sorted by hole fraction, on the three trade-off panels."""
    f = [100 * r["hole_fraction"] for r in sel]
    axes[0].plot(f, [r["speedup"] for r in sel], "o-", color=color, label=label)
    axes[0].plot(f, [1 / r["crop_area"] for r in sel], ":", color=color, lw=1)
    # identical results (the crop was the whole image) have an infinite PSNR: left out
    axes[1].plot(f, [r["psnr_vs_full"] if math.isfinite(r["psnr_vs_full"]) else np.nan
                     for r in sel], "o-", color=color)
    if "psnr_full_other_seed" in sel[0]:
        axes[1].plot(f, [r["psnr_full_other_seed"] for r in sel], "--", color=color, lw=1)
    axes[2].errorbar(f, [r["hole_psnr_diff"] for r in sel],
                     yerr=[r["hole_psnr_diff_se"] for r in sel], fmt="o-", color=color,
                     capsize=2)


def _label_tradeoff_axes(axes):
    """Reference lines, axis labels, titles and the legend of the three trade-off panels."""
    axes[0].axhline(1, color="0.6", lw=1)
    axes[0].set(xlabel="hole area (%)", ylabel="speed-up vs full image",
                title="speed (dotted: 1 / crop area)")
    axes[1].set(xlabel="hole area (%)", ylabel="PSNR(region, full) in the hole (dB)",
                title="distance from the full result\n(dashed: full vs full, another seed)")
    axes[2].axhline(0, color="0.6", lw=1)
    axes[2].set(xlabel="hole area (%)", ylabel="hole-PSNR: region - full (dB)",
                title="quality against the ground truth")
    axes[0].legend(fontsize=7)


def plot_region_tradeoff(rows: Sequence[dict], scale: float = 3.6):
    """Region-adaptive vs full sampling (rows of ``benchmarks/bench_region.py``'s JSON): speed-up,
    PSNR between the two results, and the hole-PSNR difference (± 1 SE), against the hole
    fraction; one line per (size, margin). Square holes only; the crop-area model
    ``1 / crop_area`` is dotted, the sampler's own spread (PSNR between two full-image samples
    with different seeds) dashed. Identical results (crop = whole image) are left out of the
    PSNR panel."""
    fig, axes = plt.subplots(1, 3, figsize=(3.3 * scale, scale))
    rows = [r for r in rows if r["margin"] is not None and r["mask"] != "irregular"]
    keys = sorted({(r["size"], r["margin"]) for r in rows})
    for i, (size, margin) in enumerate(keys):
        sel = sorted((r for r in rows if (r["size"], r["margin"]) == (size, margin)),
                     key=lambda r: r["hole_fraction"])
        _tradeoff_curves(axes, sel, f"C{i % 10}", f"{size}px, margin {margin}")
    _label_tradeoff_axes(axes)
    fig.tight_layout()
    return fig
