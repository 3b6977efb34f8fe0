"""The noise schedule, the forward marginal, the posterior coefficients (notebooks 01-02) and a
sampling trajectory."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...data import to_numpy

__all__ = ["plot_schedules", "plot_schedule_forward", "plot_posterior_coefficients",
           "plot_trajectory"]


def plot_schedules(schedules: dict, ax=None, sqrt: bool = False):
    """``eta_t`` (or ``sqrt(eta_t)``) against ``t`` for labelled schedules."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    for label, sch in schedules.items():
        vals = sch.etas.sqrt() if sqrt else sch.etas
        ax.plot(range(sch.T + 1), vals.numpy(), "o-", label=label)
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\sqrt{\eta_t}$" if sqrt else r"$\eta_t$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_eta_and_noise(ax, schedule, std_max: float | None = None, fontsize: float = 9):
    """``eta_t`` on ``ax`` and the noise std ``kappa sqrt(eta_t)`` on a twin axis, against t
    (the twin axis fixed at ``[0, std_max]`` when given, so that kappa visibly moves the curve)."""
    T = schedule.T
    t = np.arange(T + 1)
    ax.plot(t, schedule.etas.numpy(), "o-", color="C0")
    ax.set_xlabel("t", fontsize=fontsize)
    ax.set_ylabel(r"$\eta_t$", color="C0", fontsize=fontsize + 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(t, schedule.kappa * schedule.etas.sqrt().numpy(), "s--", color="C3")
    ax2.set_ylabel(r"noise std  $\kappa\,\sqrt{\eta_t}$", color="C3", fontsize=fontsize)
    ax2.set_ylim(0, std_max)
    ax.set_title(f"T={T}, kappa={schedule.kappa:g}", fontsize=fontsize)


def plot_schedule_forward(schedule, xs: Sequence[torch.Tensor], y: torch.Tensor | None = None,
                          scale: float = 1.7, width: float | None = None,
                          std_max: float | None = None):
    """Left: ``eta_t`` and the noise std ``kappa sqrt(eta_t)`` against ``t``; right: the images
    ``xs = [x_1, .., x_T]`` (and the input ``y``), each titled with its ``t`` and ``eta_t``.

    ``width`` (inches) fixes the figure's size whatever T is (the images share what is left, the
    fonts stay at 11 pt): the interactive explorer uses it. ``std_max`` fixes the noise-std axis."""
    ims = list(xs) + ([y] if y is not None else [])
    n = len(ims)
    font = 9 if width is None else 11
    size = (3.6 + scale * n, scale + 0.8) if width is None else (width, 3.4)
    left_w = 3.6 if width is None else 3.8
    fig = plt.figure(figsize=size, layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[left_w, size[0] - left_w])
    _plot_eta_and_noise(left.subplots(), schedule, std_max, font)
    sep = ", " if width is None or n <= 5 else "\n"
    for k, (axi, im) in enumerate(zip(np.atleast_1d(right.subplots(1, n)), ims)):
        axi.imshow(to_numpy(im))
        axi.axis("off")
        if k < len(xs):
            axi.set_title(f"$x_{{{k + 1}}}${sep}$\\eta_{{{k + 1}}}$={float(schedule.etas[k + 1]):.3f}",
                          fontsize=font)
        else:
            axi.set_title("input y", fontsize=font)
    return fig


def plot_posterior_coefficients(proc, ax=None, wrong_coef_x0=None):
    """``coef_xt``, ``coef_x0`` and the posterior std ``kappa sqrt(post_var)`` of
    q(x_{t-1} | x_t, x0, y) (rate 1) against ``t = 1..T``; optionally a wrong ``coef_x0``
    (a tensor indexed by t = 0..T) dashed for comparison."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
    else:
        fig = ax.figure
    t = np.arange(1, proc.T + 1)
    ax.plot(t, proc.coef_xt[1:].numpy(), "o-", label=r"coef_xt $=\eta_{t-1}/\eta_t$")
    ax.plot(t, proc.coef_x0[1:].numpy(), "s-", label=r"coef_x0 $=\alpha_t/\eta_t$")
    std = proc.kappa * proc.post_var[1:].sqrt().numpy()
    ax.plot(t, std, "^-", label=r"posterior std $\kappa\sqrt{\eta_{t-1}\alpha_t/\eta_t}$")
    if wrong_coef_x0 is not None:
        ax.plot(t, np.asarray(wrong_coef_x0[1:], dtype=float), "x--", color="gray",
                label=r"the paper's eq. (2): $\alpha_t\eta_{t-1}/\eta_t$ (wrong)")
    ax.set_xticks(t)
    ax.set_xlabel("t (the reverse step goes t -> t-1)")
    ax.set_ylabel("value")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
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
