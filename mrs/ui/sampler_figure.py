"""Figures of the interactive sampler: one run (``sampler_figure``), two runs side by side
(``compare_figure``) and ``render(settings)``, the pure function notebooks and tests call.

Every figure is ``FIGSIZE`` inches whatever ``T`` is (images shrink, fonts do not), so that the
app's picture keeps its size; at 100 dpi its fonts are 11-12 pt, about 15 px.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..core.metrics import hole_psnr, seam_score
from .sampler_core import SamplerRun, SamplerSettings, run_sampler
from .viz.mosaic import draw_mosaic, tile_rgb

__all__ = ["FIGSIZE", "sampler_figure", "compare_figure", "runs_figure", "render", "run_scores"]

FIGSIZE = (12.0, 7.0)
FONT = 11


def run_scores(run: SamplerRun) -> tuple:
    """``(result clamped to [-1, 1], hole-PSNR in dB, seam score)`` of a run."""
    out = run.result.clamp(-1, 1)
    return (out, float(hole_psnr(out, run.x0, run.mask)[0]),
            float(seam_score(out, run.mask, ref=run.x0)[0]))


def _img(x):
    return tile_rgb(x.clamp(-1, 1)[0])


def _err(out, x0):
    return tile_rgb((out - x0).abs().mean(1)[0], cmap="inferno", vmin=0.0, vmax=1.0)


def _var(run: SamplerRun):
    return run.proc.marginal_var(run.mask, run.proc.T)[0, 0]


def _colorbar(fig, ax, vmax: float, shrink: float = 1.0):
    """A magma colour bar 0..vmax (the variance maps' scale) beside ``ax``."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(Normalize(0.0, vmax), "magma")
    cb = fig.colorbar(sm, ax=ax, fraction=0.05, pad=0.02, shrink=shrink)
    cb.ax.tick_params(labelsize=9)


def _caption(hp: float, seam: float) -> str:
    return f"hole {hp:.2f} dB\nseam {seam:+.3f}"


def _schedule_panel(ax, runs: dict) -> None:
    """``eta_t`` (the schedule) against t on the left axis; on the right the noise std a reverse
    step adds at a hole pixel: ``eta * kappa sqrt(post_var)`` (the sampler's eta) against the
    posterior's ``kappa sqrt(post_var)`` (eta = 1, dotted)."""
    right = ax.twinx()
    top = 0.0
    for k, (label, run) in enumerate(runs.items()):
        proc, eta = run.proc, float(run.settings.eta)
        t = np.arange(proc.T + 1)
        c = f"C{k}"
        ax.plot(t, proc.eta.numpy(), "o-", color=c, label=f"{label}η_t (schedule)")
        post = proc.kappa * proc.post_var.sqrt().numpy()
        right.plot(t[1:], eta * post[1:], "s--", color=c, alpha=0.8,
                   label=f"{label}step noise, η (sampler) = {eta:g}")
        right.plot(t[1:], post[1:], ":", color=c, alpha=0.5)
        top = max(top, float(post.max()))
    ax.set_ylim(0, 1.05)
    right.set_ylim(0, max(1.0, 1.15 * top))
    ax.set_xlabel("t", fontsize=FONT)
    ax.set_ylabel("η_t (schedule)", fontsize=FONT)
    right.set_ylabel("noise std of a step (hole)", fontsize=FONT - 1)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    lines = ax.get_lines() + [ln for ln in right.get_lines() if ln.get_label()[:1] != "_"]
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8.5, loc="upper left",
              framealpha=0.85)
    ax.set_title("schedule η_t and the sampler's η (dotted: η = 1)", fontsize=FONT)


def sampler_figure(run: SamplerRun) -> plt.Figure:
    """One run: row 1 the chain ``x_T .. x_0``; row 2 the prediction of x0 at each t; row 3 the
    variance map ``Var[x_T | x0]``, the input y, the result (hole-PSNR, seam score), the ground
    truth, the error map and the schedule ``eta_t`` with the sampler's step noise."""
    traj, T, s = run.trajectory, len(run.trajectory.ts), run.settings
    fig = plt.figure(figsize=FIGSIZE)
    outer = fig.add_gridspec(2, 1, height_ratios=[2.0, 1.15], left=0.02, right=0.95, top=0.92,
                             bottom=0.08, hspace=0.12)
    chain = [(_img(x), f"x_{T - k}" + (" = result" if k == T else "")) for k, x in enumerate(traj.xs)]
    preds = [(_img(p), f"x̂0 at t={t}") for t, p in zip(traj.ts, traj.x0_preds)]
    ncols = max(T + 1, 6)
    draw_mosaic(fig.add_subplot(outer[0]), [chain + [None] * (ncols - T - 1), preds],
                title_space=7 if T < 8 else 9)
    bottom = outer[1].subgridspec(1, 3, width_ratios=[4.6, 0.4, 2.6], wspace=0.05)
    out, hp, seam = run_scores(run)
    var = _var(run)
    vmax = max(float(var.max()), 1e-6)
    ax = fig.add_subplot(bottom[0, 0])
    draw_mosaic(ax, [[(tile_rgb(var, "magma", 0.0, vmax), "Var[x_T | x0]", f"max {vmax:.2f}"),
                      (_img(run.y), "input y"), (_img(out), "result", _caption(hp, seam)),
                      (_img(run.x0), "ground truth"), (_err(out, run.x0), "|result − x0|", "0 .. 1")]],
                caption_space=11)
    _colorbar(fig, ax, vmax)
    _schedule_panel(fig.add_subplot(bottom[0, 2]), {"": run})
    fig.suptitle(f"{s.process.name}, T={T}, κ={s.schedule.kappa:g}, η (sampler)={s.eta:g}, "
                 f"denoiser: {run.denoiser_used}, face {s.face}, seed {s.seed}", fontsize=FONT + 1)
    return fig


def _describe(s: SamplerSettings, used: str) -> str:
    sch = s.schedule
    opts = "".join(f", {k}={v:g}" for k, v in s.process.options.items() if isinstance(v, float))
    return (f"{s.process.name}{opts}; T={sch.T}, κ={sch.kappa:g}, power={sch.power:g}, "
            f"min_noise_level={sch.min_noise_level:g}, etas_end={sch.etas_end:g}; "
            f"η (sampler)={s.eta:g}; {used}")


def _run_rows(runs: dict, vmax: float) -> list:
    """Mosaic rows, one per run: variance map, ``x_T``, the first prediction, the result (with
    hole-PSNR and seam score), its error, then the input (first row) or the ground truth."""
    rows = []
    for row, run in enumerate(runs.values()):
        out, hp, seam = run_scores(run)
        T = run.proc.T
        last = (_img(run.y), "input y") if row == 0 else (_img(run.x0), "ground truth")
        rows.append([(tile_rgb(_var(run), "magma", 0.0, vmax), "Var[x_T | x0]"),
                     (_img(run.trajectory.xs[0]), f"x_{T}"),
                     (_img(run.trajectory.x0_preds[0]), f"x̂0 at t={T}"),
                     (_img(out), "result", _caption(hp, seam)), (_err(out, run.x0), "|result − x0|"),
                     last if row < 2 else None])
    return rows


def runs_figure(runs: dict, title: str = "") -> plt.Figure:
    """Several runs on the same face, one row each (``{row label: run}``), with one colour scale
    for their variance maps (a static figure: its height grows with the number of rows)."""
    if not runs:
        raise ValueError("runs must hold at least one run")
    vmax = max(max(float(_var(r).max()) for r in runs.values()), 1e-6)
    fig = plt.figure(figsize=(10.0, 0.6 + 2.05 * len(runs)))
    ax = fig.add_axes((0.06, 0.02, 0.86, 0.98 - 0.5 / fig.get_figheight() - 0.02))
    draw_mosaic(ax, _run_rows(runs, vmax), caption_space=11, row_labels=tuple(runs))
    _colorbar(fig, ax, vmax, shrink=min(1.0, 2.0 / len(runs)))
    fig.suptitle(title, fontsize=FONT + 1)
    return fig


def compare_figure(a: SamplerRun, b: SamplerRun) -> plt.Figure:
    """Two runs side by side, row A and row B (same face, mask and seed): the variance map,
    ``x_T``, the first prediction, the result, its error; the input and the ground truth on the
    right; below, both schedules and what each run used."""
    fig = plt.figure(figsize=FIGSIZE)
    outer = fig.add_gridspec(2, 1, height_ratios=[2.0, 0.85], left=0.06, right=0.95, top=0.92,
                             bottom=0.06, hspace=0.15)
    vmax = max(max(float(_var(r).max()) for r in (a, b)), 1e-6)
    ax = fig.add_subplot(outer[0])
    draw_mosaic(ax, _run_rows({"A (pinned)": a, "B (controls)": b}, vmax), caption_space=11,
                row_labels=("A (pinned)", "B (controls)"))
    _colorbar(fig, ax, vmax)
    bottom = outer[1].subgridspec(1, 2, width_ratios=[1.0, 1.3], wspace=0.25)
    _schedule_panel(fig.add_subplot(bottom[0, 0]), {"A: ": a, "B: ": b})
    ax = fig.add_subplot(bottom[0, 1])
    ax.axis("off")
    text = "\n".join(f"{k}: {_describe(r.settings, r.denoiser_used)}" for k, r in (("A", a), ("B", b)))
    ax.text(0.0, 0.95, text, fontsize=FONT - 1, va="top", wrap=True, transform=ax.transAxes)
    s = b.settings
    fig.suptitle(f"compare: A (pinned) vs B (the controls), same face {s.face}, mask "
                 f"'{s.mask_kind}' and seed {s.seed}", fontsize=FONT + 1)
    return fig


def render(settings: SamplerSettings | None = None, **overrides) -> plt.Figure:
    """Figure of one seeded run (``sampler_figure``); the run's notes (e.g. a net outside its
    training) are written at the bottom. The app shows them above the picture instead."""
    s = (settings or SamplerSettings()).with_values(**overrides)
    run = run_sampler(s)
    fig = sampler_figure(run)
    if run.notes:
        fig.text(0.5, 0.005, "\n".join(run.notes), ha="center", va="bottom", fontsize=9,
                 color="#8a3b00", wrap=True)
    return fig
