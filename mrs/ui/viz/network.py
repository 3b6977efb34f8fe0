"""The networks (notebooks 07-08 and 12): what the Swin-UNet sees, its shifted windows, its
parameter budget and receptive field, and training logs."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...data import to_numpy

__all__ = ["plot_net_inputs", "plot_shifted_windows", "plot_parameter_breakdown",
           "plot_training_logs", "plot_receptive_field"]


def plot_net_inputs(h: torch.Tensor, channels: int = 3, title: str | None = None,
                    scale: float = 2.3):
    """What the first conv of ``mrs.nets.SwinUNet`` sees, ``h = [x_t * s_t, y, M (, rho eta_t)]``
    (``[1, 2C+1(+1), H, W]`` or without the batch axis): the scaled state and ``y`` as images,
    the mask and the noise map as maps with their own colour bars."""
    h = h.detach().float().cpu()
    h = h[0] if h.dim() == 4 else h
    C = channels
    panels = [("image", h[:C], r"$x_t/\sqrt{\kappa^2\eta_t+1}$"), ("image", h[C:2 * C], "$y$"),
              ("map", h[2 * C], "mask $M$ (1 = hole)")]
    if h.shape[0] > 2 * C + 1:
        panels.append(("map", h[2 * C + 1], r"noise map $\rho\,\eta_t$"))
    fig, axes = plt.subplots(1, len(panels), figsize=(scale * len(panels) + 0.6, scale + 0.4))
    for ax, (kind, a, name) in zip(axes, panels):
        if kind == "image":
            ax.imshow(to_numpy(a), interpolation="nearest")
            lo, hi = float(a.min()), float(a.max())
            name += f"\nvalues in [{lo:.2f}, {hi:.2f}]"
        else:
            im = ax.imshow(a.numpy(), cmap="magma", vmin=0, vmax=max(1e-6, float(a.max())),
                           interpolation="nearest")
            fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _wrapped_window_regions(shift_mask: torch.Tensor, window_size: int):
    """The token map ``[T, T]`` of a shifted-window mask ``[nW, N, N]``: in each window cut into
    regions (tokens from opposite edges after the roll), the region index of every token; -1 in
    the windows left whole. Returns ``(regions, T)``."""
    from ...nets.swin import window_reverse  # on use: importing viz does not load the networks

    nW, N, _ = shift_mask.shape
    first = (shift_mask == 0).float().argmax(-1)            # (nW, N): first token i may attend to
    labels = torch.full((nW, N), -1)
    for w in range(nW):
        ids = first[w].unique()
        if len(ids) > 1:                                     # a window cut into regions
            labels[w] = torch.searchsorted(ids, first[w])
    n_tok = int(round(math.sqrt(nW))) * window_size
    regions = window_reverse(labels[None, :, :, None], window_size, n_tok, n_tok)[0, :, :, 0]
    return regions, n_tok


def _draw_window_grid(ax, arr: np.ndarray, offset: float, step: int, shape, title: str):
    """An RGB array with white window borders every ``step`` pixels starting at ``offset``."""
    ax.imshow(np.clip(arr, 0, 1), interpolation="nearest")
    for v in np.arange(offset, shape[0], step):
        ax.axhline(v - 0.5, color="white", lw=1.5)
        ax.axvline(v - 0.5, color="white", lw=1.5)
    ax.set_xlim(-0.5, shape[1] - 0.5)
    ax.set_ylim(shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def plot_shifted_windows(image: torch.Tensor, shift_mask: torch.Tensor, window_size: int,
                         shift: int, scale: float = 3.2):
    """Swin's windows drawn on an image whose pixels are grouped into a ``T x T`` token map.

    ``shift_mask`` is ``mrs.nets.swin.shift_window_mask(T, T, window_size, shift)``
    (``[nW, N, N]``). Left: the plain windows. Middle: the map rolled by ``-shift`` tokens with the
    same window grid; in the windows that the roll fills with tokens from opposite edges, each
    region of tokens that may attend to each other (0 in the mask) has its own colour. Right: the
    same shifted windows and regions on the original image."""
    regions, n_tok = _wrapped_window_regions(shift_mask, window_size)
    img = to_numpy(image)
    px = img.shape[0] // n_tok                               # pixels per token
    s, ws = shift * px, window_size * px
    tint = plt.get_cmap("Set1")(regions.clamp(min=0).numpy())[..., :3]
    alpha = 0.55 * (regions >= 0).numpy()[..., None]
    tint, alpha = (np.kron(a, np.ones((px, px, 1))) for a in (tint, alpha))  # token -> pixels
    rolled = np.roll(img, (-s, -s), axis=(0, 1))
    panels = [(img, 0.0, f"windows of {window_size}x{window_size} tokens"),
              ((1 - alpha) * rolled + alpha * tint, 0.0,
               f"map rolled by -{shift} tokens:\nregions of the wrapped windows"),
              (np.roll((1 - alpha) * rolled + alpha * tint, (s, s), axis=(0, 1)), s,
               f"the same: windows shifted\nby {shift} tokens on the image")]
    fig, axes = plt.subplots(1, 3, figsize=(3 * scale, scale + 0.6))
    for ax, (arr, offset, title) in zip(axes, panels):
        _draw_window_grid(ax, arr, offset, ws, img.shape, title)
    fig.tight_layout()
    return fig


def plot_parameter_breakdown(tables: dict, scale: float = 4.2):
    """Horizontal bars of parameter counts per component, one panel per
    ``{net name: {component: count}}`` entry, each bar labelled with its share of the net."""
    n_bars = max(len(c) for c in tables.values())
    fig, axes = plt.subplots(1, len(tables), figsize=(scale * len(tables) + 1.6, 0.38 * n_bars + 1.1),
                             squeeze=False)
    for ax, (name, counts) in zip(axes.flat, tables.items()):
        labels, vals = list(counts), np.array(list(counts.values()), dtype=float)
        total = vals.sum()
        ypos = np.arange(len(vals))[::-1]
        ax.barh(ypos, vals / 1e6, color=[f"C{k}" for k in range(len(vals))])
        for yv, v in zip(ypos, vals):
            ax.text(v / 1e6, yv, f" {100 * v / total:.1f} %", va="center", fontsize=8)
        ax.set_yticks(ypos, labels)
        ax.set_xlim(0, 1.25 * vals.max() / 1e6)
        ax.set_xlabel("parameters (millions)")
        ax.set_title(f"{name}: {total / 1e6:.2f}M parameters", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_training_logs(logs: dict, fields: dict, ncols: int | None = None, scale: float = 3.6,
                       logy: Sequence[str] = (), suptitle: str | None = None):
    """Training curves: one panel per ``{field: y-axis label}`` entry, one line per run.

    ``logs`` maps a run name to its columns ``{"step": values, field: values, ...}`` (a
    ``metrics.csv`` read column-wise); fields listed in ``logy`` get a logarithmic axis. One
    legend for all panels sits below them."""
    n = len(fields)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, 0.75 * scale * nrows + 0.7),
                             squeeze=False, layout="constrained")
    for ax, (field, label) in zip(axes.flat, fields.items()):
        for k, (run, cols) in enumerate(logs.items()):
            ax.plot(np.asarray(cols["step"], dtype=float), np.asarray(cols[field], dtype=float),
                    marker="os^dvP"[k % 6], ms=3.5, lw=1.3, color=f"C{k % 10}", label=run)
        if field in logy:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_receptive_field(fields: dict, scale: float = 3.6):
    """Receptive fields from ``mrs.nets.fast.receptive_field``, one curve per ``{label: result}``:
    the cumulative gradient share within distance r, and the mean share per pixel (log)."""
    fig, axes = plt.subplots(1, 2, figsize=(2.2 * scale, scale))
    for label, rf in fields.items():
        r = np.arange(len(rf["cumulative"]))
        axes[0].plot(r, rf["cumulative"], label=label)
        axes[1].semilogy(r, rf["per_pixel"], label=label)
    axes[0].axhline(0.95, color="0.6", ls=":", lw=1)
    axes[0].set(xlabel="distance r from the output pixel (px)", ylabel="gradient share within r",
                title="cumulative", ylim=(0, 1.02))
    axes[1].set(xlabel="distance r (px)", ylabel="share of one pixel", title="per pixel")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
