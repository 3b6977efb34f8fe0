"""A trained denoiser on another schedule: a state map and fractional times.

A network trained on one schedule (``trained``: ``eta^c_1..eta^c_T``, noise scale ``kappa_c``) has
seen states of its own forward marginal only, at its integer times. To run it on another schedule
(``schedule``: ``eta_t``, ``kappa``) each state is mapped onto a state of the trained marginal with
the same law, and the net is asked at the matching fractional time.

On a pixel with rate 1 (every hole pixel; ``e0 = y - x0``) the two marginals are

    x_t = (1 - eta_t) x0 + eta_t y + kappa sqrt(eta_t) eps        (the schedule asked about)
    x'  = (1 - eta')  x0 + eta'  y + kappa_c sqrt(eta') eps        (what the net has seen)

so the affine map ``x' = a_t x_t + b_t y`` with

    a_t = (1 - eta'_t) / (1 - eta_t),      b_t = eta'_t - a_t eta_t,

gives exactly the second when the noise-to-signal ratios agree:
``kappa_c sqrt(eta') / (1 - eta') = kappa sqrt(eta_t) / (1 - eta_t)``. With
``c = kappa sqrt(eta_t) / (kappa_c (1 - eta_t))`` this quadratic in ``sqrt(eta')`` has the root

    sqrt(eta'_t) = (sqrt(1 + 4 c^2) - 1) / (2 c)      (in (0, 1), increasing in eta_t).

Where ``e0 = 0`` (the known pixels, ``y = x0``) a pixel of rate ``rho`` is
``x_t = x0 + kappa sqrt(rho eta_t) eps``, and since ``a_t + b_t = 1`` the map gives
``x0 + a_t kappa sqrt(rho eta_t) eps = x0 + kappa_c sqrt(rho eta'_t) eps``: its trained law too. So
for a process of the per-pixel-rate family whose rate is 1 on the hole (resshift, emmd,
emmd_smooth) the mapped state follows the trained marginal at ``eta'_t`` on every pixel.

The net is then asked at the fractional trained time ``tau_t`` with ``sqrt(eta^c(tau_t)) =
sqrt(eta'_t)``, ``sqrt(eta^c)`` linear between the integer times (``repaint.fractional_times``),
clamped to ``[1, T]``. With ``kappa = kappa_c``, ``eta' = eta``, ``a = 1``, ``b = 0``: the plain
fractional-time warp of the RePaint baseline (``repaint.warp_denoiser``). The net was trained at the
integer times only, so anything else is outside its training: a question, not a guarantee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core import Schedule
from ..core.checks import check_t
from .ancestral import Denoiser
from .repaint import fractional_times

__all__ = ["Retiming", "retiming", "retimed_denoiser", "eta_at"]


@dataclass(frozen=True)
class Retiming:
    """How each time ``t = 0..T`` of ``schedule`` is asked of a net trained on ``trained``.

    Attributes (float64 ``[T+1]``, index ``t``; index 0 holds ``tau = 0``, ``a = 1``, ``b = 0``):
        eta:  ``eta'_t``, the trained-scale level with the same noise-to-signal ratio.
        tau:  the fractional trained time asked about, in ``[1, T_trained]``.
        a, b: the state map ``x' = a_t x_t + b_t y``.
        clamped: bool ``[T+1]``, where ``eta'_t`` lies outside ``[eta^c_1, eta^c_T]`` and ``tau``
            was clamped (the net is then asked about a level it has never seen).
    """

    eta: torch.Tensor
    tau: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    clamped: torch.Tensor

    @property
    def identity(self) -> bool:
        """True when every step is asked at its own integer time with the state unchanged."""
        T = self.tau.numel() - 1
        ints = torch.arange(T + 1, dtype=torch.float64)
        return bool(torch.equal(self.tau, ints) and (self.a == 1).all() and (self.b == 0).all())


def _check_schedules(schedule, trained):
    for name, sch in (("schedule", schedule), ("trained", trained)):
        if not isinstance(sch, Schedule):
            raise ValueError(f"{name} must be an mrs.Schedule, got {type(sch).__name__}")


def retiming(schedule: Schedule, trained: Schedule) -> Retiming:
    """The ``Retiming`` of ``schedule`` onto a net trained on ``trained`` (module docstring).

    Raises ``ValueError`` for arguments that are not schedules, or for ``eta_T = 1`` on a
    schedule whose ``kappa`` differs from the trained one (no signal left to map)."""
    _check_schedules(schedule, trained)
    etas = schedule.etas
    if math.isclose(schedule.kappa, trained.kappa, rel_tol=1e-12):
        eta_p = etas.clone()
    else:
        if float(etas[-1]) >= 1.0:
            raise ValueError("schedule has eta_T = 1 (etas_end = 1): with a kappa other than the "
                             "trained one there is no signal left to map; use etas_end < 1")
        c = schedule.kappa * etas[1:].sqrt() / (trained.kappa * (1.0 - etas[1:]))
        u = ((1.0 + 4.0 * c * c).sqrt() - 1.0) / (2.0 * c)           # sqrt(eta'), c > 0
        eta_p = torch.cat([etas[:1], u * u])
    a = (1.0 - eta_p) / (1.0 - etas).clamp(min=1e-300)
    a = torch.where(eta_p == etas, torch.ones_like(a), a)             # also eta_T = 1, same kappa
    b = eta_p - a * etas
    tau = fractional_times(Schedule.from_etas(eta_p[1:], trained.kappa), trained)
    lo, hi = float(trained.etas[1]), float(trained.etas[-1])
    eps = 1e-12
    clamped = torch.cat([torch.zeros(1, dtype=torch.bool),
                         (eta_p[1:] < lo * (1 - eps)) | (eta_p[1:] > hi * (1 + eps))])
    return Retiming(eta=eta_p, tau=tau, a=a, b=b, clamped=clamped)


def eta_at(trained: Schedule, tau: torch.Tensor) -> torch.Tensor:
    """``eta^c(tau)`` for fractional times ``tau`` in ``[1, T]`` (any shape): ``sqrt(eta^c)``
    linear between the integer times, the inverse of ``repaint.fractional_times`` (float64)."""
    _check_schedules(trained, trained)
    tau = torch.as_tensor(tau, dtype=torch.float64)
    if not bool(torch.isfinite(tau).all()) or float(tau.min()) < 1.0 or float(tau.max()) > trained.T:
        raise ValueError(f"tau must lie in [1, {trained.T}]")
    s = trained.etas.sqrt()
    lo = tau.floor().long().clamp(1, trained.T)
    hi = (lo + 1).clamp(max=trained.T)
    return torch.lerp(s[lo], s[hi], tau - lo.to(torch.float64)).pow(2)


def retimed_denoiser(denoiser: Denoiser, schedule: Schedule, trained: Schedule) -> Denoiser:
    """A denoiser for ``schedule`` made of one trained on ``trained``.

    ``retimed(x_t, t, y, mask)`` (``t`` an int or LongTensor ``[B]`` in ``1..schedule.T``) returns
    ``denoiser(a_t x_t + b_t y, tau_t, y, mask)`` with ``tau_t`` a float32 tensor ``[B]`` of
    fractional trained times (``retiming``). The prediction of ``x0`` needs no map back: ``x0`` is
    the same in both parametrisations. ``denoiser`` must accept fractional times."""
    if not callable(denoiser):
        raise ValueError("denoiser must be callable as denoiser(x_t, tau, y, mask) -> x0_pred")
    r = retiming(schedule, trained)

    def retimed(x_t, t, y, mask):
        t = check_t(t, schedule.T, x_t.shape[0], device=x_t.device)
        a = r.a.to(x_t.device)[t].to(x_t.dtype).view(-1, 1, 1, 1)
        b = r.b.to(x_t.device)[t].to(x_t.dtype).view(-1, 1, 1, 1)
        tau = r.tau.to(x_t.device)[t].to(torch.float32)
        return denoiser(a * x_t + b * y, tau, y, mask)

    return retimed
