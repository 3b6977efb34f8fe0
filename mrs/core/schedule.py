"""The ResShift noise schedule (derived in notebook 01).

The schedule is a short increasing sequence ``0 = eta_0 < eta_1 < ... < eta_T <= 1`` plus the
noise scale ``kappa``. ResShift's forward marginal is

    q(x_t | x0, y) = N(x0 + eta_t * e0,  kappa^2 * eta_t * I),      e0 = y - x0,

so ``eta_t`` is both the fraction of the residual that has been shifted in and the variance (in
units of ``kappa^2``). Everything is kept in float64 and indexed by the equation's own ``t``:
``etas[t]`` for ``t = 0..T`` with ``etas[0] = 0``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

__all__ = ["Schedule", "ScheduleSpec"]


def _scalar(name: str, value, lo: float, hi: float, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if (v <= lo if lo_open else v < lo) or v > hi:
        bracket = "(" if lo_open else "["
        raise ValueError(f"{name} must lie in {bracket}{lo:g}, {hi:g}], got {v:g}")
    return v


@dataclass(frozen=True, eq=False)
class Schedule:
    """A ResShift schedule: ``etas[t]``, ``alphas[t]`` for ``t = 0..T`` and ``kappa``.

    Two schedules are equal when their ``kappa`` and ``etas`` are (value equality; ``spec`` is
    bookkeeping and not compared).

    Attributes:
        etas:   float64 ``[T+1]``, ``etas[0] = 0``; ``eta_t`` is the shifted fraction of the residual.
        alphas: float64 ``[T+1]``, ``alphas[t] = eta_t - eta_{t-1}`` (``alphas[0] = 0``).
        kappa:  noise scale; the forward variance at ``t`` is ``kappa^2 * eta_t``.
        spec:   the ``ScheduleSpec`` it was built from (``exponential``), None for ``from_etas``.
    """

    etas: torch.Tensor
    alphas: torch.Tensor
    kappa: float
    spec: "ScheduleSpec | None" = field(default=None, repr=False)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.kappa == other.kappa and self.etas.shape == other.etas.shape
                and bool(torch.equal(self.etas, other.etas)))

    def __hash__(self) -> int:
        return hash((self.kappa, tuple(self.etas.tolist())))

    def __post_init__(self):
        etas = self.etas
        if not isinstance(etas, torch.Tensor) or etas.dim() != 1 or etas.numel() < 2:
            raise ValueError("etas must be a 1-D tensor [T+1] with etas[0] = 0 and T >= 1")
        if etas.dtype != torch.float64:
            raise ValueError(f"etas must be float64, got {etas.dtype}")
        if not torch.isfinite(etas).all() or float(etas[0]) != 0.0:
            raise ValueError("etas must be finite with etas[0] = 0")
        if not bool((etas[1:] > etas[:-1]).all()) or float(etas[-1]) > 1.0:
            raise ValueError("etas must increase strictly from 0 and end at most at 1")
        _scalar("kappa", self.kappa, 0.0, 1e3, lo_open=True)

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def from_etas(cls, etas, kappa: float, spec: "ScheduleSpec | None" = None) -> "Schedule":
        """A schedule from ``eta_1..eta_T`` (``eta_0 = 0`` is prepended)."""
        e = torch.as_tensor(etas, dtype=torch.float64, device="cpu").flatten()  # maths: always CPU
        e = torch.cat([torch.zeros(1, dtype=torch.float64, device="cpu"), e])
        return cls(etas=e, alphas=torch.cat([e[:1], e[1:] - e[:-1]]), kappa=float(kappa), spec=spec)

    @classmethod
    def exponential(
        cls,
        T: int = 4,
        kappa: float = 2.0,
        min_noise_level: float = 0.2,
        etas_end: float = 0.99,
        power: float = 0.3,
    ) -> "Schedule":
        """ResShift's exponential schedule (defaults: the paper's T = 4 and kappa = 2; ResShift's
        configuration for min_noise_level, etas_end and power, which the paper keeps).

        ``sqrt(eta_t)`` grows geometrically from ``sqrt(eta_1) = min(min_noise_level / kappa,
        min_noise_level)`` to ``sqrt(eta_T) = etas_end``; the step positions are warped by
        ``power``::

            p_t = ((t - 1) / (T - 1)) ** power * (T - 1),          t = 1..T
            sqrt(eta_t) = sqrt(eta_1) * (etas_end / sqrt(eta_1)) ** (p_t / (T - 1))

        With T = 4, kappa = 2, min_noise_level = 0.2, etas_end = 0.99, power = 0.3 the etas are
        0.0100, 0.2705, 0.5797, 0.9801. With ``T = 1`` the single step is ``eta_1 = etas_end^2``.
        """
        sqrt_etas = _exponential_sqrt_etas(T, kappa, min_noise_level, etas_end, power)
        spec = ScheduleSpec(T, float(kappa), float(min_noise_level), float(etas_end), float(power))
        return cls.from_etas(sqrt_etas.pow(2), kappa, spec=spec)

    # -- views ----------------------------------------------------------------------------------
    @property
    def T(self) -> int:
        """The number of diffusion steps T."""
        return self.etas.numel() - 1

    def __repr__(self) -> str:
        etas = ", ".join(f"{float(e):.4f}" for e in self.etas[1:])
        return f"Schedule(T={self.T}, kappa={self.kappa:g}, etas=[{etas}])"


@dataclass(frozen=True)
class ScheduleSpec:
    """The five numbers of ResShift's exponential schedule: the one place they live.

    ``TrainConfig``, the network's config, the widgets' settings and every checkpoint JSON hold a
    ``ScheduleSpec``; ``spec.build()`` gives the ``Schedule``. Defaults: the default schedule (the
    paper's T and kappa, ResShift's configuration for the rest).
    """

    T: int = 4                      # number of diffusion steps
    kappa: float = 2.0              # noise scale: Var[x_t | x0] = kappa^2 eta_t
    min_noise_level: float = 0.2    # sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level)
    etas_end: float = 0.99          # sqrt(eta_T)
    power: float = 0.3              # warping of the step positions

    def __post_init__(self):
        _exponential_sqrt_etas(self.T, self.kappa, self.min_noise_level, self.etas_end, self.power)

    def build(self) -> Schedule:
        """``Schedule.exponential`` with these numbers."""
        return Schedule.exponential(self.T, self.kappa, self.min_noise_level, self.etas_end, self.power)

    @classmethod
    def of(cls, schedule) -> "ScheduleSpec":
        """``schedule`` as a spec: a ``ScheduleSpec`` as it is, or the spec of a ``Schedule`` built
        from one (``Schedule.exponential``); a ``ValueError`` otherwise."""
        if isinstance(schedule, Schedule):
            if schedule.spec is None:
                raise ValueError("schedule must come from Schedule.exponential / ScheduleSpec.build "
                                 "(it has no spec to store in a config)")
            schedule = schedule.spec
        if not isinstance(schedule, cls):
            raise ValueError(f"schedule must be an mrs.Schedule or ScheduleSpec, "
                             f"got {type(schedule).__name__}")
        return schedule

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ScheduleSpec":
        """The inverse of ``to_dict`` (a ``ValueError`` names unknown keys)."""
        if not isinstance(d, dict):
            raise ValueError(f"a schedule spec must be a dict, got {type(d).__name__}")
        unknown = sorted(set(d) - {"T", "kappa", "min_noise_level", "etas_end", "power"})
        if unknown:
            raise ValueError(f"unknown schedule field(s) {unknown}")
        return cls(**d)


def _exponential_sqrt_etas(T, kappa, min_noise_level, etas_end, power) -> torch.Tensor:
    """``sqrt(eta_1..eta_T)`` of the exponential schedule (``Schedule.exponential``), validated."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    kappa = _scalar("kappa", kappa, 0.0, 1e3, lo_open=True)
    etas_end = _scalar("etas_end", etas_end, 0.0, 1.0, lo_open=True)
    power = _scalar("power", power, 0.0, 100.0, lo_open=True)
    min_noise_level = _scalar("min_noise_level", min_noise_level, 0.0, 1.0, lo_open=True)
    sqrt_eta_1 = min(min_noise_level / kappa, min_noise_level)
    if T > 1 and not sqrt_eta_1 < etas_end:
        raise ValueError(
            f"the first noise level sqrt(eta_1) = {sqrt_eta_1:g} must be below "
            f"etas_end = {etas_end:g}; lower min_noise_level"
        )
    if T == 1:
        sqrt_etas = torch.tensor([etas_end], dtype=torch.float64, device="cpu")
    else:
        # 1. warped step positions p_t in [0, T-1]
        frac = torch.linspace(0.0, 1.0, T, dtype=torch.float64, device="cpu")
        p = frac.pow(power) * (T - 1)
        # 2. geometric growth of sqrt(eta) between the two end points
        ratio = math.log(etas_end / sqrt_eta_1) / (T - 1)
        sqrt_etas = sqrt_eta_1 * torch.exp(ratio * p)
    return sqrt_etas
