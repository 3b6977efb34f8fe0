"""An interactive sampler: pick a process, a schedule and a denoiser, watch the reverse chain.

``render(settings)`` is a pure function (settings -> matplotlib Figure) that tests and notebooks
call directly; ``sampler_app()`` wraps it in ipywidgets controls (notebook 09). Masks: 1 = hole.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from functools import lru_cache

import matplotlib.pyplot as plt
import torch

from .data import validation_split
from .metrics import hole_psnr, seam_score
from .processes import PROCESS_NAMES, make_process, process_options
from .sampling import leaky_oracle, sample
from .schedule import Schedule
from .viz import to_numpy

DENOISERS = ("checkpoint", "oracle")
_TOL = 1e-6


@dataclass(frozen=True)
class SamplerSettings:
    """Everything one sampling run depends on (the widget's state)."""

    process: str = "emmd_smooth"       # resshift | mvd | emmd | emmd_smooth (also the checkpoint name)
    kappa: float = 2.0                 # noise scale kappa: Var[x_t | x0] = kappa^2 rho eta_t
    power: float = 0.3                 # warping p of the step positions in the exponential schedule
    steps: int = 4                     # T, the number of reverse steps
    min_noise_level: float = 0.2       # sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level)
    etas_end: float = 0.99             # sqrt(eta_T)
    blur_width: float = 2.0            # rate smoothing (mvd's soft mask, emmd_smooth's rho)
    noise_floor: float = 0.02          # minimal rate of every pixel (emmd_smooth)
    mask_kind: str = "box"             # irregular | box | outpaint | mixed
    seed: int = 0                      # seeds the prior draw and every reverse step's noise
    denoiser: str = "checkpoint"       # "checkpoint" (shipped tiny Swin-UNet) or "oracle"
    leak: float = 0.2                  # leak of the leaky oracle (0 = perfect oracle)
    face: int = 0                      # which of the 8 validation faces (0..7)


@dataclass
class SamplerRun:
    """One run: the trajectory, the face it inpainted and notes for the reader."""

    settings: SamplerSettings
    trajectory: object                 # mrs.Trajectory
    x0: torch.Tensor                   # ground truth [1, C, H, W]
    y: torch.Tensor                    # degraded input [1, C, H, W]
    mask: torch.Tensor                 # [1, 1, H, W], 1 = hole
    proc: object                       # the process the run used
    denoiser_used: str                 # "checkpoint 'emmd'" or "oracle (leak 0.2)"
    notes: list = field(default_factory=list)

    @property
    def result(self) -> torch.Tensor:
        return self.trajectory.sample


@lru_cache(maxsize=None)
def _pretrained(name: str):
    from .train import load_pretrained

    return load_pretrained(name)


@lru_cache(maxsize=8)
def _faces(mask_kind: str):
    return validation_split(8, 32, mask_kind=mask_kind)


def build_process(s: SamplerSettings):
    """The process the settings describe (ValueError from the library on bad values)."""
    if s.process not in PROCESS_NAMES:
        raise ValueError(f"process must be one of {PROCESS_NAMES}, got {s.process!r}")
    sch = Schedule.exponential(s.steps, s.kappa, s.min_noise_level, s.etas_end, s.power)
    return make_process(s.process, sch, **process_options(s.process, blur_width=s.blur_width,
                                                          noise_floor=s.noise_floor))


def outside_training(s: SamplerSettings, train_config: dict) -> list:
    """The settings that differ from the checkpoint's training config, as ``name=value`` strings
    (empty: the net can be used)."""
    keys = {"kappa": "kappa", "power": "power", "steps": "diffusion_steps",
            "min_noise_level": "min_noise_level", "etas_end": "etas_end"}
    if s.process in ("mvd", "emmd_smooth"):
        keys["blur_width"] = "blur_width"
    if s.process == "emmd_smooth":
        keys["noise_floor"] = "noise_floor"
    return [f"{k}={getattr(s, k):g}" for k, c in keys.items()
            if abs(float(getattr(s, k)) - float(train_config[c])) > _TOL]


def run_sampler(s: SamplerSettings) -> SamplerRun:
    """Sample one validation face with the settings (seeded: bit-identical on CPU)."""
    if s.denoiser not in DENOISERS:
        raise ValueError(f"denoiser must be one of {DENOISERS}, got {s.denoiser!r}")
    if not (isinstance(s.face, int) and 0 <= s.face < 8):
        raise ValueError(f"face must be an int in 0..7, got {s.face!r}")
    proc = build_process(s)
    x0s, masks, ys = _faces(s.mask_kind)
    x0, mask, y = (z[s.face:s.face + 1] for z in (x0s, masks, ys))
    notes, denoiser, used = [], None, f"oracle (leak {s.leak:g})"
    if s.denoiser == "checkpoint":
        net, _, info = _pretrained(s.process)
        cfg = info["train_config"]
        differ = outside_training(s, cfg)
        if differ:
            trained = (f"kappa={cfg['kappa']:g}, T={cfg['diffusion_steps']}, power={cfg['power']:g}, "
                       f"min_noise_level={cfg['min_noise_level']:g}, etas_end={cfg['etas_end']:g}")
            if s.process in ("mvd", "emmd_smooth"):
                trained += f", blur_width={cfg['blur_width']:g}"
            if s.process == "emmd_smooth":
                trained += f", noise_floor={cfg['noise_floor']:g}"
            notes.append(f"checkpoint '{s.process}' was trained with {trained}: these settings "
                         f"({', '.join(differ)}) are outside it, showing the oracle (leak {s.leak:g}) "
                         f"instead")
        else:
            denoiser, used = net.denoiser(proc), f"checkpoint '{s.process}'"
    if denoiser is None:
        denoiser = leaky_oracle(x0, proc, s.leak)
    g = torch.Generator().manual_seed(int(s.seed))
    traj = sample(proc, denoiser, y, mask, generator=g, trajectory=True)
    return SamplerRun(s, traj, x0, y, mask, proc, used, notes)


def _show(ax, img, title):
    ax.imshow(to_numpy(img[0]))
    ax.set_title(title, fontsize=9)


def render(settings: SamplerSettings | None = None, **overrides) -> plt.Figure:
    """Figure of one run: row 1 ``x_T .. x_0``; row 2 the prediction of x0 at each t; row 3 the
    variance map ``Var[x_T | x0]``, the input y, the result and the ground truth (hole-PSNR and
    seam score in the titles); notes at the bottom."""
    s = dataclasses.replace(settings or SamplerSettings(), **overrides)
    run = run_sampler(s)
    traj, T = run.trajectory, len(run.trajectory.ts)
    ncols = max(T + 1, 4)
    fig, axes = plt.subplots(3, ncols, figsize=(1.75 * ncols, 6.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, x in enumerate(traj.xs):
        _show(axes[0, k], x, f"$x_{{{T - k}}}$")
    for k, (t, p) in enumerate(zip(traj.ts, traj.x0_preds)):
        _show(axes[1, k], p, rf"$\hat x_0$ at t={t}")
    var = run.proc.marginal_var(run.mask, T)
    im = axes[2, 0].imshow(var[0, 0].numpy(), cmap="magma", vmin=0.0)
    axes[2, 0].set_title(rf"Var$[x_T|x_0]$ (max {float(var.max()):.2f})", fontsize=9)
    fig.colorbar(im, ax=axes[2, 0], fraction=0.046, pad=0.04)
    out = run.result.clamp(-1, 1)
    hp = float(hole_psnr(out, run.x0, run.mask)[0])
    seam = float(seam_score(out, run.mask, ref=run.x0)[0])
    _show(axes[2, 1], run.y, "input y")
    _show(axes[2, 2], out, f"result\nhole {hp:.1f} dB, seam {seam:+.3f}")
    _show(axes[2, 3], run.x0, "ground truth")
    fig.suptitle(f"{s.process}, T={T}, kappa={s.kappa:g}, denoiser: {run.denoiser_used}", fontsize=10)
    text = "\n".join(run.notes)
    if text:
        fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=8, color="darkred", wrap=True)
    fig.tight_layout(rect=(0, 0.07 if text else 0, 1, 1))
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    return buf.getvalue()


def sampler_app(**initial):
    """ipywidgets app around ``render``: a VBox with ``.controls`` (name -> widget) and one Output
    ``.output`` that is cleared and redrawn whenever a control changes. A ``ValueError`` from the
    library is shown as a one-line message instead of a figure."""
    import ipywidgets as widgets
    from IPython.display import Image

    s = dataclasses.replace(SamplerSettings(), **initial)
    lay = dict(continuous_update=False, style={"description_width": "initial"})

    def fslider(name, lo, hi, step):
        return widgets.FloatSlider(value=getattr(s, name), min=lo, max=hi, step=step, description=name,
                                   **lay)

    def islider(name, lo, hi):
        return widgets.IntSlider(value=getattr(s, name), min=lo, max=hi, description=name, **lay)

    from .masks import MASK_KINDS

    controls = {
        "process": widgets.Dropdown(options=list(PROCESS_NAMES), value=s.process, description="process"),
        "denoiser": widgets.Dropdown(options=list(DENOISERS), value=s.denoiser, description="denoiser"),
        "mask_kind": widgets.Dropdown(options=list(MASK_KINDS) + ["mixed"], value=s.mask_kind,
                                      description="mask_kind"),
        "kappa": fslider("kappa", 0.25, 4.0, 0.25),
        "power": fslider("power", 0.1, 2.0, 0.1),
        "steps": islider("steps", 1, 10),
        "min_noise_level": fslider("min_noise_level", 0.01, 0.5, 0.01),
        "etas_end": fslider("etas_end", 0.5, 0.999, 0.001),
        "blur_width": fslider("blur_width", 0.0, 6.0, 0.5),
        "noise_floor": fslider("noise_floor", 0.0, 0.2, 0.01),
        "leak": fslider("leak", 0.0, 1.0, 0.05),
        "seed": islider("seed", 0, 99),
        "face": islider("face", 0, 7),
    }
    out = widgets.Output()

    def update(_change=None):
        values = {k: w.value for k, w in controls.items()}
        try:
            fig = render(SamplerSettings(**values))
        except ValueError as err:
            out.outputs = ()
            out.append_stdout(f"ValueError: {str(err).splitlines()[0]}\n")
            return
        data = _png(fig)
        plt.close(fig)
        # the Output's stored outputs are replaced (works in a notebook and headless)
        out.outputs = ()
        out.append_display_data(Image(data=data, format="png"))

    for w in controls.values():
        w.observe(update, names="value")
    rows = [widgets.HBox([controls[k] for k in names]) for names in (
        ("process", "denoiser", "mask_kind"), ("kappa", "power", "steps"),
        ("min_noise_level", "etas_end", "seed"), ("blur_width", "noise_floor", "leak"), ("face",))]
    app = widgets.VBox([*rows, out])
    app.controls, app.output, app.update = controls, out, update
    update()
    return app
