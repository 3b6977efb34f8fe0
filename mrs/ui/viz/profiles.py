"""Line profiles, annotated heat maps and parameter sweeps (notebooks 05-06 and 11)."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...data import to_numpy
from .images import _edge_contour

__all__ = ["plot_profiles", "plot_heatmaps", "plot_rate_profile_sample", "plot_sweeps"]


def plot_profiles(panels: dict, x=None, xlabel: str = "column", ylabel: str = "",
                  edges: Sequence[float] = (), sharey: bool = True, scale: float = 3.4,
                  suptitle: str | None = None, legend_title: str | None = None):
    """Line plots, one panel per ``{title: {label: 1-D values}}`` entry, with dashed vertical
    lines at ``edges`` (e.g. the hole's edge); ``x`` gives the abscissa (default 0, 1, 2, ...)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(scale * len(panels), 0.8 * scale + 0.4),
                             sharey=sharey, squeeze=False)
    for ax, (title, curves) in zip(axes.flat, panels.items()):
        for k, (label, vals) in enumerate(curves.items()):
            vals = np.asarray(vals, dtype=float)
            xs = np.arange(len(vals)) if x is None else np.asarray(x)
            # distinct dashes and markers keep coinciding curves visible
            ax.plot(xs, vals, ls=("-", "--", ":", "-.")[k % 4], marker="os^dv"[k % 5],
                    label=str(label), lw=1.3, ms=3.5, mfc="none")
        for e in edges:
            ax.axvline(e, color="grey", ls="--", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=8, title=legend_title, title_fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _annotated_heatmap(fig, ax, title: str, vals, row_labels: Sequence, col_labels: Sequence,
                       row_name: str, col_name: str, fmt: str, cmap: str):
    """One heat map of ``vals [rows, cols]`` with each value written in its cell."""
    vals = np.asarray(vals, dtype=float)
    finite = vals[np.isfinite(vals)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    im = ax.imshow(np.where(np.isfinite(vals), vals, hi), cmap=cmap, vmin=lo, vmax=hi,
                   aspect="auto")
    for (i, j), v in np.ndenumerate(vals):
        r, g, b, _ = im.cmap(im.norm(v if np.isfinite(v) else hi))
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # text colour from the cell's luminance
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set_xlabel(col_name)
    ax.set_ylabel(row_name)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.85)


def plot_heatmaps(tables: dict, row_labels: Sequence, col_labels: Sequence, row_name: str = "",
                  col_name: str = "", fmt: str | Sequence[str] = "{:.3f}",
                  cmaps: Sequence[str] | None = None, scale: float = 3.6,
                  suptitle: str | None = None):
    """Annotated heat maps side by side, one per ``{title: 2-D array [rows, cols]}`` entry.

    ``fmt`` (one format or one per table) writes each value; non-finite values (e.g. an ``inf``
    PSNR) are written as such and coloured like the largest finite value."""
    fig, axes = plt.subplots(1, len(tables), figsize=(scale * len(tables), 0.8 * scale + 0.5),
                             squeeze=False)
    for k, (ax, (title, vals)) in enumerate(zip(axes.flat, tables.items())):
        _annotated_heatmap(fig, ax, title, vals, row_labels, col_labels, row_name, col_name,
                           fmt if isinstance(fmt, str) else fmt[k], (cmaps or ["viridis"] * 9)[k])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _std_profile_panel(ax, profiles: dict, row: int, edges: Sequence[float], ylim=None):
    """The std profiles ``{label: values}`` along one row, with the hole's edges dashed."""
    for label, vals in profiles.items():
        ax.plot(np.asarray(vals, dtype=float), ".-", label=label, lw=1.2, ms=4)
    for e in edges:
        ax.axvline(e, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("column")
    ax.set_ylabel(r"std of $x_t$ given $x_0$")
    ax.set_title(f"profile along row {row}", fontsize=11)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="center")


def plot_rate_profile_sample(rate: torch.Tensor, profiles: dict, sample: torch.Tensor,
                             error: torch.Tensor, mask: torch.Tensor, row: int,
                             edges: Sequence[float] = (), err_vmax: float | None = None,
                             title: str | None = None, xt: torch.Tensor | None = None,
                             xt_title: str = "$x_t$", std_max: float | None = None):
    """Panels for the smoothing explorer (notebook 06): the rate map ``rho`` (with the profile
    row marked), std profiles ``{label: values}`` along that row (y-axis fixed at
    ``[0, std_max]`` when given), optionally a forward sample ``xt`` at the chosen time, a sample
    and its error map. The figure is 12 x 3.4 inches whatever is shown."""
    n = 5 if xt is not None else 4
    ratios = [1, 1.5] + [1] * (n - 2)
    fig, axes = plt.subplots(1, n, figsize=(12.0, 3.4), gridspec_kw={"width_ratios": ratios})
    im = axes[0].imshow(to_numpy(rate), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    axes[0].axhline(row, color="cyan", lw=0.8, ls="--")
    axes[0].set_title(r"rate $\rho$", fontsize=11)
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    _std_profile_panel(axes[1], profiles, row, edges, None if std_max is None else (0, std_max))
    pics = [(xt, xt_title, None)] if xt is not None else []
    pics += [(sample, "sample (leaky oracle)", None), (error, "|error|", "inferno")]
    for ax, (img, name, cmap) in zip(axes[2:], pics):
        shown = ax.imshow(to_numpy(img), cmap=cmap, vmin=0, vmax=err_vmax if cmap else 1,
                          interpolation="nearest")
        ax.set_title(name, fontsize=11)
    fig.colorbar(shown, ax=axes[-1], shrink=0.8)
    for ax in (axes[0], *axes[2:]):
        ax.set_xticks([])
        ax.set_yticks([])
        _edge_contour(ax, mask)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def _sweep_panel(ax, title: str, spec: dict):
    """One panel of ``plot_sweeps``: exact-law lines, Monte Carlo points, reference lines."""
    from matplotlib.ticker import NullFormatter

    colours = {}
    for label, (x, y) in spec.get("lines", {}).items():
        colours[label] = ax.plot(x, y, "-", lw=1.4, label=label)[0].get_color()
    for label, (x, y) in spec.get("points", {}).items():
        ax.plot(x, y, "o", ms=5, color=colours.get(label),
                label=f"{label} (Monte Carlo)" if label in colours else label)
    for label, y in spec.get("hlines", {}).items():
        ax.axhline(y, color="grey", ls="--", lw=0.9, label=label)
    for label, x in spec.get("vlines", {}).items():
        ax.axvline(x, color="black", ls=":", lw=0.9, label=label)
    if spec.get("logx"):
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    if "xticks" in spec:
        ax.set_xticks(spec["xticks"], [f"{v:g}" for v in spec["xticks"]])
    ax.set_xlabel(spec.get("xlabel", ""))
    ax.set_ylabel(spec.get("ylabel", ""))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def plot_sweeps(panels: dict, ncols: int | None = None, scale: float = 3.4,
                suptitle: str | None = None):
    """Curves with Monte Carlo points, one panel per ``{title: spec}`` entry, each with its own
    abscissa. ``spec`` is a dict with ``lines`` and ``points`` (``{label: (x, y)}``; a point set
    with the same label as a line shares its colour), optional ``hlines`` / ``vlines``
    (``{label: value}``, dashed / dotted), ``xlabel``, ``ylabel``, ``logx`` and ``xticks``."""
    n = len(panels)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, 0.8 * scale * nrows + 0.4),
                             squeeze=False)
    for ax, (title, spec) in zip(axes.flat, panels.items()):
        _sweep_panel(ax, title, spec)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
