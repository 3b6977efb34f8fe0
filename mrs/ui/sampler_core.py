"""The interactive sampler's state and one seeded run (``SamplerSettings``, ``run_sampler``).

A run inpaints one of the eight validation faces (at the shipped pixel-space networks' training
size, ``face_size()``) with a process, a schedule, the sampler's ``eta`` and a denoiser: a shipped
pixel-space network trained for the process (``denoiser`` = its name, or ``"checkpoint"`` for the
one named after the process) or the leaky oracle (``"oracle"``).
A network asked about settings other than its training ones (``outside_training``) runs off its
schedule through ``mrs.sampling.retime`` (fractional times, and a state map when kappa differs),
and the run says so in its notes. Masks: 1 = hole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache

import torch

from ..core import Process, ProcessSpec, ScheduleSpec, option_defaults, process_names
from ..core.masks import degrade
from ..data import validation_split
from ..nets import denoiser_of
from ..sampling import leaky_oracle, sample
from ..sampling.ddim import check_eta
from ..sampling.retime import eta_at, retimed_denoiser, retiming

__all__ = ["SamplerSettings", "SamplerRun", "run_sampler", "outside_training", "denoiser_choices",
           "eta_applies", "face_size", "SHIPPED_OPTIONS", "N_FACES"]

N_FACES = 8
_TOL = 1e-6
_SCHEDULE_FIELDS = ("T", "kappa", "min_noise_level", "etas_end", "power")
# the process options of the shipped checkpoints (a process given by name takes these)
SHIPPED_OPTIONS = {"blur_width": 2.0, "noise_floor": 0.02}


@dataclass(frozen=True)
class SamplerSettings:
    """Everything one sampling run depends on (the app's state).

    ``SamplerSettings(process="emmd")`` (a name takes ``SHIPPED_OPTIONS``, the options the shipped
    checkpoints were trained with); ``settings.with_values(kappa=1.0, blur_width=3.0)`` routes
    control values into ``schedule`` and ``process`` (options the process does not take are
    ignored)."""

    process: ProcessSpec = field(default_factory=ProcessSpec)    # the process (name + options)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)  # the schedule's five numbers
    mask_kind: str = "box"             # irregular | box | outpaint | mixed
    seed: int = 0                      # seeds the prior draw and every reverse step's noise
    denoiser: str = "checkpoint"       # "checkpoint", a shipped checkpoint's name, or "oracle"
    leak: float = 0.2                  # leak of the leaky oracle (0 = perfect oracle)
    face: int = 0                      # which of the 8 validation faces (0..7)
    eta: float = 1.0                   # the sampler's eta (1 = the posterior, 0 = deterministic)

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
        values.update({k: getattr(self, k) for k in ("mask_kind", "seed", "denoiser", "leak", "face",
                                                     "eta")})
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
    denoiser_used: str                 # "net 'emmd'", "net 'emmd' (outside training)", "oracle (leak 0.2)"
    notes: list = field(default_factory=list)
    retiming: object = None            # mrs.sampling.retime.Retiming when a net ran off its schedule

    @property
    def result(self) -> torch.Tensor:
        return self.trajectory.sample


@lru_cache(maxsize=None)
def _pretrained(name: str):
    from ..pipelines import load_pretrained

    return load_pretrained(name)


def _shipped() -> list:
    """Every shipped denoiser: the models, then the earlier pixel-space ones ("pixel32/...")."""
    from ..pipelines import list_pretrained

    return list_pretrained() + list_pretrained("pixel32")


def _pixel_nets() -> list:
    """The shipped checkpoints that run in pixel space (the sampler shows their chain)."""
    return [n for n in _shipped() if not _pretrained(n).latent]


@lru_cache(maxsize=1)
def face_size() -> int:
    """The size of the app's faces: the training size of the first shipped pixel-space network
    (32 when there is none)."""
    nets = _pixel_nets()
    return int(_pretrained(nets[0]).image_size or 32) if nets else 32


@lru_cache(maxsize=8)
def _faces(mask_kind: str):
    return validation_split(N_FACES, face_size(), mask_kind=mask_kind)


def denoiser_choices(process: str) -> list:
    """``(label, value)`` pairs for the app's denoiser dropdown: every shipped pixel-space network
    trained for ``process`` (the one named after it first), then the leaky oracle."""
    nets = []
    for name in _pixel_nets():
        pipe = _pretrained(name)
        if pipe.process.name == process:
            sees = " (sees ρ·η_t)" if getattr(getattr(pipe.net, "cfg", None), "use_noise_map", False) else ""
            nets.append((name.split("/")[-1] != process, f"net: {name}{sees}", name))
    return [(label, value) for _, label, value in sorted(nets)] + [("oracle (leaky)", "oracle")]


def eta_applies(process: ProcessSpec | str) -> bool:
    """Whether the sampler's eta can differ from 1 for this process (the per-pixel-rate family)."""
    name = process if isinstance(process, str) else process.name
    proc = ProcessSpec.of(name).build(ScheduleSpec().build())
    return isinstance(proc, Process)


def outside_training(s: SamplerSettings, meta: dict) -> list:
    """The settings that differ from a checkpoint's (``pipe.meta``: its ``schedule`` and
    ``process``), as ``name=value`` strings (empty: the net runs as trained)."""
    trained = {**meta["schedule"], **meta["process"]["options"]}
    mine = {**s.schedule.to_dict(), **s.process.options}
    return [f"{k}={_fmt(v)}" for k, v in mine.items() if k in trained and _differs(v, trained[k])]


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _differs(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) > _TOL
    return a != b


def _net_name(s: SamplerSettings) -> str | None:
    """The checkpoint the settings ask for (None: the oracle); ``ValueError`` for a bad name."""
    if s.denoiser == "oracle":
        return None
    if s.denoiser == "checkpoint":       # the pixel-space net named after the process
        return next((n for n in _pixel_nets() if n.split("/")[-1] == s.process.name), None)
    if s.denoiser not in _pixel_nets():
        raise ValueError(f"denoiser must be 'checkpoint', 'oracle' or a shipped pixel-space "
                         f"checkpoint {tuple(_pixel_nets())}, got {s.denoiser!r}")
    trained_for = _pretrained(s.denoiser).process.name
    if trained_for != s.process.name:
        raise ValueError(f"checkpoint {s.denoiser!r} was trained with process {trained_for!r}, not "
                         f"{s.process.name!r}: pick process {trained_for!r} or another denoiser")
    return s.denoiser


def _off_schedule(pipe, s: SamplerSettings, differ: list):
    """The net as a denoiser for the settings' schedule and process, and the notes saying how."""
    trained = pipe.schedule
    proc_c = s.process.build(trained)      # the chosen process on the net's schedule
    if getattr(getattr(pipe.net, "cfg", None), "use_noise_map", False):
        unit = proc_c.marginal_var  # rho (m^2 for mvd) from the variance at T, times eta(tau)

        def base(x, tau, y, mask):
            rate = unit(mask, trained.T) / (trained.kappa**2 * float(trained.etas[-1]))
            nmap = (rate * eta_at(trained, tau).to(rate).view(-1, 1, 1, 1)).clamp(0, 1)
            return pipe.net(x, tau, y, mask, noise_map=nmap.to(x.dtype))
    else:
        base = denoiser_of(pipe.net, proc_c)    # accepts fractional times
    sch = s.schedule.build()
    r = retiming(sch, trained)
    spec = ScheduleSpec.from_dict(pipe.meta["schedule"]).to_dict()   # in the spec's order
    was = ", ".join(f"{k}={_fmt(v)}" for k, v in {**spec, **pipe.process.options}.items())
    taus = ", ".join(f"{float(v):.2f}" for v in r.tau[1:])
    notes = [f"Outside training: net '{pipe.name}' was trained with {was}; here {', '.join(differ)}.",
             f"It is asked at fractional times τ = {taus} of its own schedule"
             + (", with the state rescaled (x' = a·x_t + b·y) because κ differs." if not
                torch.equal(r.a, torch.ones_like(r.a)) else ".")]
    if bool(r.clamped.any()):
        notes.append("Some noise levels lie beyond the ones it was trained at (τ clamped to its range).")
    return retimed_denoiser(base, sch, trained), notes, r


def run_sampler(s: SamplerSettings) -> SamplerRun:
    """Sample one validation face with the settings (seeded: bit-identical on CPU)."""
    if not (isinstance(s.face, int) and 0 <= s.face < N_FACES):
        raise ValueError(f"face must be an int in 0..{N_FACES - 1}, got {s.face!r}")
    proc = s.process.build(s.schedule.build())
    eta = check_eta(s.eta, proc)
    name = _net_name(s)
    x0s, masks, ys = _faces(s.mask_kind)
    x0, mask, y = (z[s.face:s.face + 1] for z in (x0s, masks, ys))
    notes, r = [], None
    if name is None:
        if s.denoiser == "checkpoint":
            notes.append(f"No shipped pixel-space network for process '{s.process.name}': the "
                         f"leaky oracle (leak {s.leak:g}) stands in.")
        denoiser, used = leaky_oracle(x0, proc, s.leak), f"oracle (leak {s.leak:g})"
    else:
        pipe = _pretrained(name)
        if pipe.fill != 0:               # the hole of y as this net was trained (e.g. "harmonic")
            y = degrade(x0, mask, pipe.fill)
        differ = outside_training(s, pipe.meta)
        if differ:
            denoiser, notes, r = _off_schedule(pipe, s, differ)
            used = f"net '{name}' (outside training)"
        else:
            denoiser, used = pipe.denoiser(), f"net '{name}'"
    g = torch.Generator().manual_seed(int(s.seed))
    traj = sample(proc, denoiser, y, mask, generator=g, trajectory=True, eta=eta)
    return SamplerRun(s, traj, x0, y, mask, proc, used, notes, r)
