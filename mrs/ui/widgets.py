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

from ..core import ProcessSpec, ScheduleSpec, option_defaults, process_names
from ..core.metrics import hole_psnr, seam_score
from ..data import to_numpy, validation_split
from ..sampling import leaky_oracle, sample

DENOISERS = ("checkpoint", "oracle")
_TOL = 1e-6


_SCHEDULE_FIELDS = ("T", "kappa", "min_noise_level", "etas_end", "power")
# the process options of the shipped checkpoints (a process given by name takes these)
SHIPPED_OPTIONS = {"blur_width": 2.0, "noise_floor": 0.02}


@dataclass(frozen=True)
class SamplerSettings:
    """Everything one sampling run depends on (the widget's state).

    ``SamplerSettings(process="emmd")`` (a name takes ``SHIPPED_OPTIONS``, the options the shipped
    checkpoints were trained with); ``settings.with_values(kappa=1.0, blur_width=3.0)``
    routes control values into ``schedule`` and ``process`` (options the process does not take
    are ignored)."""

    process: ProcessSpec = field(default_factory=ProcessSpec)    # the process (name + options)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)  # the schedule's five numbers
    mask_kind: str = "box"             # irregular | box | outpaint | mixed
    seed: int = 0                      # seeds the prior draw and every reverse step's noise
    denoiser: str = "checkpoint"       # "checkpoint" (the shipped net named after the process) or "oracle"
    leak: float = 0.2                  # leak of the leaky oracle (0 = perfect oracle)
    face: int = 0                      # which of the 8 validation faces (0..7)

    def __post_init__(self):
        if isinstance(self.process, str):  # a name: the options the shipped checkpoints were trained with
            object.__setattr__(self, "process", ProcessSpec.of(self.process, **SHIPPED_OPTIONS))

    def with_values(self, **values) -> "SamplerSettings":
        """These settings with control values: schedule fields, process options (kept for every
        process that takes them: the sliders hold them while another process is shown), the
        process name (``process=``) and the other fields."""
        name = values.pop("process", self.process.name)
        sched = {k: values.pop(k) for k in _SCHEDULE_FIELDS if k in values}
        opts = {k: values.pop(k) for k in list(values) if k in _all_options()}
        schedule = ScheduleSpec(**{**self.schedule.to_dict(), **sched}) if sched else self.schedule
        old = self.process.options if name == self.process.name else {}
        spec = ProcessSpec.of(name, **{**old, **opts})
        return dataclasses.replace(self, process=spec, schedule=schedule, **values)

    def control_values(self) -> dict:
        """The value of every control of the app (schedule fields, options, the rest)."""
        values = {"process": self.process.name, **self.schedule.to_dict()}
        values.update({k: v for n in process_names() for k, v in option_defaults(n).items()})
        values.update(SHIPPED_OPTIONS)
        values.update(self.process.options)
        values.update({k: getattr(self, k) for k in ("mask_kind", "seed", "denoiser", "leak", "face")})
        return values


def _all_options() -> set:
    return {k for n in process_names() for k in option_defaults(n)}


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
    from ..pipelines import load_pretrained

    return load_pretrained(name)


def _shipped() -> list:
    from ..pipelines import list_pretrained

    return list_pretrained()


@lru_cache(maxsize=8)
def _faces(mask_kind: str):
    return validation_split(8, 32, mask_kind=mask_kind)


def outside_training(s: SamplerSettings, meta: dict) -> list:
    """The settings that differ from a checkpoint's (``pipe.meta``: its ``schedule`` and
    ``process``), as ``name=value`` strings (empty: the net can be used)."""
    trained = {**meta["schedule"], **meta["process"]["options"]}
    mine = {**s.schedule.to_dict(), **s.process.options}
    return [f"{k}={_fmt(v)}" for k, v in mine.items() if k in trained and _differs(v, trained[k])]


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _differs(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) > _TOL
    return a != b


def run_sampler(s: SamplerSettings) -> SamplerRun:
    """Sample one validation face with the settings (seeded: bit-identical on CPU)."""
    if s.denoiser not in DENOISERS:
        raise ValueError(f"denoiser must be one of {DENOISERS}, got {s.denoiser!r}")
    if not (isinstance(s.face, int) and 0 <= s.face < 8):
        raise ValueError(f"face must be an int in 0..7, got {s.face!r}")
    proc = s.process.build(s.schedule.build())
    x0s, masks, ys = _faces(s.mask_kind)
    x0, mask, y = (z[s.face:s.face + 1] for z in (x0s, masks, ys))
    notes, denoiser, used = [], None, f"oracle (leak {s.leak:g})"
    if s.denoiser == "checkpoint" and s.process.name not in _shipped():
        notes.append(f"no shipped checkpoint for process '{s.process.name}': showing the oracle "
                     f"(leak {s.leak:g}) instead")
    elif s.denoiser == "checkpoint":
        pipe = _pretrained(s.process.name)
        differ = outside_training(s, pipe.meta)
        if differ:
            spec = ScheduleSpec.from_dict(pipe.meta["schedule"]).to_dict()  # in the spec's order
            trained = ", ".join(f"{k}={_fmt(v)}" for k, v in {**spec, **pipe.process.options}.items())
            notes.append(f"checkpoint '{s.process.name}' was trained with {trained}: these settings "
                         f"({', '.join(differ)}) are outside it, showing the oracle (leak {s.leak:g}) "
                         f"instead")
        else:
            denoiser, used = pipe.denoiser(), f"checkpoint '{s.process.name}'"
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
    s = (settings or SamplerSettings()).with_values(**overrides)
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
    fig.suptitle(f"{s.process.name}, T={T}, kappa={s.schedule.kappa:g}, denoiser: {run.denoiser_used}",
                 fontsize=10)
    text = "\n".join(run.notes)
    if text:
        fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=8, color="darkred", wrap=True)
    fig.tight_layout(rect=(0, 0.07 if text else 0, 1, 1))
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    return buf.getvalue()


@dataclass
class SamplerApp:
    """The interactive sampler: ``box`` (the widget shown), ``controls`` (name -> widget),
    ``output`` (the Output redrawn whenever a control changes) and ``update()`` (redraw now)."""

    box: object
    controls: dict
    output: object
    update: object

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


def sampler_app(**initial) -> SamplerApp:
    """ipywidgets app around ``render`` (a ``SamplerApp``): one Output that is cleared and redrawn
    whenever a control changes. A ``ValueError`` from the library is shown as a one-line message
    instead of a figure."""
    import ipywidgets as widgets
    from IPython.display import Image

    s = SamplerSettings().with_values(**initial)
    values = s.control_values()
    lay = dict(continuous_update=False, style={"description_width": "initial"})

    def fslider(name, lo, hi, step):
        return widgets.FloatSlider(value=values[name], min=lo, max=hi, step=step, description=name,
                                   **lay)

    def islider(name, lo, hi):
        return widgets.IntSlider(value=values[name], min=lo, max=hi, description=name, **lay)

    from ..core.masks import MASK_KINDS

    controls = {
        "process": widgets.Dropdown(options=list(process_names()), value=s.process.name,
                                    description="process"),
        "denoiser": widgets.Dropdown(options=list(DENOISERS), value=s.denoiser, description="denoiser"),
        "mask_kind": widgets.Dropdown(options=list(MASK_KINDS) + ["mixed"], value=s.mask_kind,
                                      description="mask_kind"),
        "kappa": fslider("kappa", 0.25, 4.0, 0.25),
        "power": fslider("power", 0.1, 2.0, 0.1),
        "T": islider("T", 1, 10),
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
            fig = render(SamplerSettings().with_values(**values))
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
        ("process", "denoiser", "mask_kind"), ("kappa", "power", "T"),
        ("min_noise_level", "etas_end", "seed"), ("blur_width", "noise_floor", "leak"), ("face",))]
    app = SamplerApp(widgets.VBox([*rows, out]), controls, out, update)
    update()
    return app
