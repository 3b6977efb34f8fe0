"""The DDIM-style family of ResShift reverse steps, with the sampler's stochasticity ``eta``.

Two different etas: the **sampler's eta** (``eta`` below, DDIM's name for it: a number in [0, 1]
chosen at sampling time) and the **schedule's eta_t** (``proc.eta[t]``, the shifted fraction of
the residual at time t). Notebook 02 (last section) derives the family.

For a process of the per-pixel-rate family (``mrs.Process``: resshift, emmd, emmd_smooth) the
forward marginal is ``q(x_t | x0, y) = N(x0 + rho eta_t e0, kappa^2 rho eta_t)`` with ``e0 = y - x0``.
Per pixel, with ``eps`` standard normal, the step is

    x_{t-1} = x0 + rho eta_{t-1} e0
              + sqrt(kappa^2 rho eta_{t-1} - s_t^2) (x_t - x0 - rho eta_t e0) / (kappa sqrt(rho eta_t))
              + s_t eps,
    s_t^2   = eta^2 kappa^2 rho eta_{t-1} alpha_t / eta_t    (eta^2 times the posterior variance).

If ``x_t ~ q(x_t | x0, y)`` then ``x_{t-1} ~ q(x_{t-1} | x0, y)`` for every eta in [0, 1]: the
standardised deviation of ``x_t`` and ``eps`` are independent standard normals, so the two noise
terms add up to the variance ``kappa^2 rho eta_{t-1}``. The multiplier of ``x_t`` does not depend
on ``rho``:

    g_t = sqrt((kappa^2 rho eta_{t-1} - s_t^2) / (kappa^2 rho eta_t))
        = sqrt(coef_xt (1 - eta^2 coef_x0)),     coef_xt = eta_{t-1} / eta_t,  coef_x0 = alpha_t / eta_t,

so nothing is divided by ``rho``, and the root's argument is at least ``coef_xt^2 >= 0`` (it is
clamped at 0 against rounding). Special cases:

* eta = 1: ``g_t = coef_xt`` and the mean is ``coef_xt x_t + coef_x0 x0``: the exact posterior
  (``proc.p_step``, which ``ddim_step`` then calls, so eta = 1 gives the very same numbers).
* eta = 0: ``s_t = 0``, a deterministic step (nothing is drawn; only ``x_T`` is random).
* t = 1 (``eta_0 = 0``): ``g_1 = 0`` and ``s_1 = 0``, so ``x_0 = x0_pred`` for every eta.
* rho = 0 (the known pixels of emmd): ``x_{t-1} = x_t``, as in ``p_step``.

Processes outside the family (MVD, ``mrs.core.mvd``, whose reverse step is a choice among readings
rather than the posterior of its forward process) take only eta = 1.
"""

from __future__ import annotations

import math
import numbers

import torch

from ..core import BaseProcess, Process
from ..core.checks import check_t, draw_noise
from ..core.process_base import extract

__all__ = ["check_eta", "ddim_gain", "ddim_kernel", "ddim_step"]


def check_eta(eta, proc: BaseProcess | None = None) -> float:
    """The sampler's eta as a float in [0, 1]; with ``proc``, also that the process takes it
    (eta != 1 needs the per-pixel-rate family). ``ValueError`` naming eta otherwise."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise ValueError("eta (the sampler's stochasticity: 0 = deterministic, 1 = the posterior) "
                         f"must be a number in [0, 1], got {type(eta).__name__} {eta!r}")
    value = float(eta)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError("eta (the sampler's stochasticity: 0 = deterministic, 1 = the posterior) "
                         f"must lie in [0, 1], got {value!r}")
    if proc is not None:
        if not isinstance(proc, BaseProcess):
            raise ValueError(f"proc must be an mrs process (make_process), got {type(proc).__name__}")
        if value != 1.0 and not isinstance(proc, Process):
            raise ValueError(
                f"eta = {value:g} (the sampler's eta) is defined for the per-pixel-rate processes "
                f"(mrs.Process: resshift, emmd, emmd_smooth); {proc.name!r} is not one of them. "
                "Use eta = 1, or 'emmd', which on a binary mask is the same process as 'mvd'")
    return value


def ddim_gain(proc: BaseProcess, eta: float) -> torch.Tensor:
    """``g_t = sqrt(coef_xt (1 - eta^2 coef_x0))`` for ``t = 0..T`` (float64 ``[T+1]``; ``g_0 = 0``):
    the multiplier of ``x_t - E[x_t | x0, y]`` in the step. ``coef_xt`` at eta = 1, ``sqrt(coef_xt)``
    at eta = 0."""
    eta = check_eta(eta, proc)
    return (proc.coef_xt * (1.0 - eta * eta * proc.coef_x0)).clamp(min=0.0).sqrt()


def _kernel(proc, x_t, x0_pred, y, mask, t, eta):
    """``(mean, s_t^2, rho eta_t)`` of the step (arguments checked by ``proc.posterior``)."""
    _, post_var = proc.posterior(x_t, x0_pred, y, mask, t)        # validates every argument
    t = check_t(t, proc.T, x_t.shape[0], device=x_t.device, values=False)
    rho_eta = proc.marginal_var(mask, t) / proc.kappa**2          # rho eta_t, [B, 1, H, W]
    rho_eta_prev = rho_eta * extract(proc.coef_xt, t, x_t)        # rho eta_{t-1}
    e0 = y - x0_pred
    gain = extract(ddim_gain(proc, eta), t, x_t)
    mean = x0_pred + rho_eta_prev * e0 + gain * (x_t - x0_pred - rho_eta * e0)
    return mean, (eta * eta) * post_var, rho_eta


def ddim_kernel(proc: BaseProcess, x_t, x0_pred, y, mask, t, eta: float):
    """Mean and per-pixel variance ``s_t^2`` (``[B, 1, H, W]``) of the family's step given ``x_t``
    and ``x0_pred`` (see the module docstring)::

        mean = x0 + rho eta_{t-1} e0 + g_t (x_t - x0 - rho eta_t e0),   s_t^2 = eta^2 kappa^2 rho post_var

    The mean is the pixel's new value where ``rho > 0``; ``ddim_step`` keeps ``x_t`` where ``rho = 0``.
    At eta = 1 this is ``proc.posterior`` up to float rounding. Only for ``mrs.Process``.
    """
    eta = check_eta(eta, proc)
    if not isinstance(proc, Process):
        raise ValueError(f"ddim_kernel needs a per-pixel-rate process (mrs.Process); {proc.name!r} "
                         "is not one (ddim_step with eta = 1 calls its p_step)")
    mean, var, _ = _kernel(proc, x_t, x0_pred, y, mask, t, eta)
    return mean, var


def ddim_step(proc: BaseProcess, x_t, x0_pred, y, mask, t, eta: float = 1.0, noise=None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """One reverse step of the DDIM-style family with the sampler's ``eta`` in [0, 1].

        x_{t-1} = x0_pred + rho eta_{t-1} e0 + g_t (x_t - x0_pred - rho eta_t e0) + s_t eps,
        g_t = sqrt(coef_xt (1 - eta^2 coef_x0)),   s_t = eta kappa sqrt(rho eta_{t-1} alpha_t / eta_t)

    (``e0 = y - x0_pred``; ``eta_t`` is the schedule's). It keeps every forward marginal
    ``q(x_{t-1} | x0, y)`` when ``x_t`` follows ``q(x_t | x0, y)``. eta = 1 is ``proc.p_step`` (same
    numbers, any process); eta = 0 is deterministic and draws nothing (``noise``, if given, is
    only checked). Pixels with ``rho = 0`` keep ``x_t``.

    Args:
        proc: a process; for eta != 1 one of the per-pixel-rate family (``mrs.Process``).
        x_t, x0_pred, y: ``[B, C, H, W]``; mask ``[B, 1, H, W]``; t an int or LongTensor ``[B]``.
        eta: the sampler's stochasticity, 0 (deterministic) to 1 (the posterior).
        noise / generator: the standard-normal ``eps`` or the generator to draw it from.

    Raises:
        ValueError: eta not a number in [0, 1], eta != 1 for a process outside the family, or
            any bad argument of the process's methods.
    """
    eta = check_eta(eta, proc)
    if eta == 1.0:
        return proc.p_step(x_t, x0_pred, y, mask, t, noise=noise, generator=generator)
    mean, var, rho_eta = _kernel(proc, x_t, x0_pred, y, mask, t, eta)
    if eta == 0.0:
        if noise is not None:
            draw_noise(x_t, noise)                                # checked, not used
        x_prev = mean
    else:
        x_prev = mean + var.sqrt() * draw_noise(x_t, noise, generator)
    return torch.where(rho_eta > 0, x_prev, x_t)
