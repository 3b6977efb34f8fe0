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
           "edge_profile", "show_map_grid", "plot_profiles", "show_samples_and_errors",
           "plot_heatmaps", "plot_rate_profile_sample", "plot_schedule_forward",
           "plot_posterior_coefficients", "plot_sweeps", "plot_net_inputs",
           "plot_shifted_windows", "plot_parameter_breakdown", "plot_training_logs",
           "plot_repaint_path", "plot_receptive_field", "show_region_box", "plot_region_tradeoff"]


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


# -- notebooks 05-06: variance maps, edge profiles, samples with their errors, parameter sweeps --


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
        vals = np.asarray(vals, dtype=float)
        finite = vals[np.isfinite(vals)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        im = ax.imshow(np.where(np.isfinite(vals), vals, hi), cmap=(cmaps or ["viridis"] * 9)[k],
                       vmin=lo, vmax=hi, aspect="auto")
        f = fmt if isinstance(fmt, str) else fmt[k]
        for (i, j), v in np.ndenumerate(vals):
            r, g, b, _ = im.cmap(im.norm(v if np.isfinite(v) else hi))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # text colour from the cell's luminance
            ax.text(j, i, f.format(v), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
        ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
        ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
        ax.set_xlabel(col_name)
        ax.set_ylabel(row_name)
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_rate_profile_sample(rate: torch.Tensor, profiles: dict, sample: torch.Tensor,
                             error: torch.Tensor, mask: torch.Tensor, row: int,
                             edges: Sequence[float] = (), err_vmax: float | None = None,
                             title: str | None = None):
    """Four panels for the smoothing widget (notebook 06): the rate map ``rho`` (with the profile
    row marked), std profiles ``{label: values}`` along that row, a sample and its error map."""
    fig, axes = plt.subplots(1, 4, figsize=(13.5, 3.3),
                             gridspec_kw={"width_ratios": [1, 1.5, 1, 1]})
    im = axes[0].imshow(to_numpy(rate), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    axes[0].axhline(row, color="cyan", lw=0.8, ls="--")
    axes[0].set_title(r"rate $\rho$", fontsize=10)
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    for label, vals in profiles.items():
        axes[1].plot(np.asarray(vals, dtype=float), ".-", label=label, lw=1.2, ms=4)
    for e in edges:
        axes[1].axvline(e, color="grey", ls="--", lw=0.8)
    axes[1].set_xlabel("column")
    axes[1].set_ylabel(r"std of $x_t$ given $x_0$")
    axes[1].set_title(f"profile along row {row}", fontsize=10)
    axes[1].grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    axes[2].imshow(to_numpy(sample), vmin=0, vmax=1, interpolation="nearest")
    axes[2].set_title("sample (leaky oracle)", fontsize=10)
    im = axes[3].imshow(to_numpy(error), cmap="inferno", vmin=0, vmax=err_vmax,
                        interpolation="nearest")
    axes[3].set_title("|error|", fontsize=10)
    fig.colorbar(im, ax=axes[3], shrink=0.8)
    for ax in (axes[0], axes[2], axes[3]):
        ax.set_xticks([])
        ax.set_yticks([])
        _edge_contour(ax, mask)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# -- notebooks 01-02: the schedule with the forward marginal, the posterior coefficients --------


def plot_schedule_forward(schedule, xs: Sequence[torch.Tensor], y: torch.Tensor | None = None,
                          scale: float = 1.7):
    """Left: ``eta_t`` and the noise std ``kappa sqrt(eta_t)`` against ``t``; right: the images
    ``xs = [x_1, .., x_T]`` (and the input ``y``), each titled with its ``t`` and ``eta_t``."""
    T = schedule.steps
    ims = list(xs) + ([y] if y is not None else [])
    fig = plt.figure(figsize=(3.6 + scale * len(ims), scale + 0.8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[3.6, scale * len(ims)])
    ax, t = left.subplots(), np.arange(T + 1)
    ax.plot(t, schedule.etas.numpy(), "o-", color="C0")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\eta_t$", color="C0")
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(t, schedule.kappa * schedule.etas.sqrt().numpy(), "s--", color="C3")
    ax2.set_ylabel(r"noise std  $\kappa\,\sqrt{\eta_t}$", color="C3")
    ax2.set_ylim(bottom=0)
    ax.set_title(f"T={T}, kappa={schedule.kappa:g}", fontsize=9)
    for k, (axi, im) in enumerate(zip(np.atleast_1d(right.subplots(1, len(ims))), ims)):
        axi.imshow(to_numpy(im))
        axi.axis("off")
        if k < len(xs):
            axi.set_title(f"$x_{{{k + 1}}}$, $\\eta$={float(schedule.etas[k + 1]):.3f}", fontsize=9)
        else:
            axi.set_title("input y", fontsize=9)
    return fig


def plot_posterior_coefficients(proc, ax=None, wrong_coef_x0=None):
    """``coef_xt``, ``coef_x0`` and the posterior std ``kappa sqrt(post_var)`` of
    q(x_{t-1} | x_t, x0, y) (rate 1) against ``t = 1..T``; optionally a wrong ``coef_x0``
    (a tensor indexed by t = 0..T) dashed for comparison."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
    else:
        fig = ax.figure
    t = np.arange(1, proc.steps + 1)
    ax.plot(t, proc.coef_xt[1:].numpy(), "o-", label=r"coef_xt $=\eta_{t-1}/\eta_t$")
    ax.plot(t, proc.coef_x0[1:].numpy(), "s-", label=r"coef_x0 $=\alpha_t/\eta_t$")
    std = proc.kappa * proc.post_var[1:].sqrt().numpy()
    ax.plot(t, std, "^-", label=r"posterior std $\kappa\sqrt{\eta_{t-1}\alpha_t/\eta_t}$")
    if wrong_coef_x0 is not None:
        ax.plot(t, np.asarray(wrong_coef_x0[1:], dtype=float), "x--", color="gray",
                label=r"seed eq. (2): $\alpha_t\eta_{t-1}/\eta_t$ (wrong)")
    ax.set_xticks(t)
    ax.set_xlabel("t (the reverse step goes t -> t-1)")
    ax.set_ylabel("value")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


# -- notebook 11: exact-law curves with Monte Carlo points -----------------------------------


def plot_sweeps(panels: dict, ncols: int | None = None, scale: float = 3.4,
                suptitle: str | None = None):
    """Curves with Monte Carlo points, one panel per ``{title: spec}`` entry, each with its own
    abscissa. ``spec`` is a dict with ``lines`` and ``points`` (``{label: (x, y)}``; a point set
    with the same label as a line shares its colour), optional ``hlines`` / ``vlines``
    (``{label: value}``, dashed / dotted), ``xlabel``, ``ylabel``, ``logx`` and ``xticks``."""
    from matplotlib.ticker import NullFormatter

    n = len(panels)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, 0.8 * scale * nrows + 0.4),
                             squeeze=False)
    for ax, (title, spec) in zip(axes.flat, panels.items()):
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
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


# -- notebook 07: the Swin-UNet (its inputs, shifted windows, parameter budget) ----------------


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


def plot_shifted_windows(image: torch.Tensor, shift_mask: torch.Tensor, window_size: int,
                         shift: int, scale: float = 3.2):
    """Swin's windows drawn on an image whose pixels are grouped into a ``T x T`` token map.

    ``shift_mask`` is ``mrs.swin.shift_window_mask(T, T, window_size, shift)`` (``[nW, N, N]``).
    Left: the plain windows. Middle: the map rolled by ``-shift`` tokens with the same window
    grid; in the windows that the roll fills with tokens from opposite edges, each region of
    tokens that may attend to each other (0 in the mask) has its own colour. Right: the same
    shifted windows and regions on the original image."""
    from .swin import window_reverse

    nW, N, _ = shift_mask.shape
    first = (shift_mask == 0).float().argmax(-1)            # (nW, N): first token i may attend to
    labels = torch.full((nW, N), -1)
    for w in range(nW):
        ids = first[w].unique()
        if len(ids) > 1:                                     # a window cut into regions
            labels[w] = torch.searchsorted(ids, first[w])
    n_tok = int(round(math.sqrt(nW))) * window_size
    regions = window_reverse(labels[None, :, :, None], window_size, n_tok, n_tok)[0, :, :, 0]
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
        ax.imshow(np.clip(arr, 0, 1), interpolation="nearest")
        for v in np.arange(offset, img.shape[0], ws):
            ax.axhline(v - 0.5, color="white", lw=1.5)
            ax.axvline(v - 0.5, color="white", lw=1.5)
        ax.set_xlim(-0.5, img.shape[1] - 0.5)
        ax.set_ylim(img.shape[0] - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
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


# -- notebook 08: training logs ---------------------------------------------------------------


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



# -- notebook 12: fast inference ------------------------------------------------------------------

def plot_repaint_path(path: Sequence[int], ax=None, title: str | None = None):
    """RePaint's time path (``mrs.repaint.repaint_times``): t against the move number, with the
    network evaluations (downward moves) marked."""
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


def plot_receptive_field(fields: dict, scale: float = 3.6):
    """Receptive fields from ``mrs.fast.receptive_field``, one curve per ``{label: result}``: the
    cumulative gradient share within distance r, and the mean share per pixel (log)."""
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


def show_region_box(images: Sequence[torch.Tensor], titles: Sequence[str], box,
                    scale: float = 2.4):
    """Images side by side with the crop ``box = (top, bottom, left, right)`` drawn on each."""
    fig = show_images(images, titles, scale=scale)
    top, bottom, left, right = box
    for ax in fig.axes:
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                   fill=False, color="yellow", lw=1.5))
    return fig


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
        f = [100 * r["hole_fraction"] for r in sel]
        color = f"C{i % 10}"
        label = f"{size}px, margin {margin}"
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
    axes[0].axhline(1, color="0.6", lw=1)
    axes[0].set(xlabel="hole area (%)", ylabel="speed-up vs full image",
                title="speed (dotted: 1 / crop area)")
    axes[1].set(xlabel="hole area (%)", ylabel="PSNR(region, full) in the hole (dB)",
                title="distance from the full result\n(dashed: full vs full, another seed)")
    axes[2].axhline(0, color="0.6", lw=1)
    axes[2].set(xlabel="hole area (%)", ylabel="hole-PSNR: region - full (dB)",
                title="quality against the ground truth")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
