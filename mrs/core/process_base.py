"""``BaseProcess``: what every forward process provides, and the coefficients they share.

A process is a plain object holding float64 coefficients of its schedule; it never holds a
network. Every process implements the same vocabulary (``rate``, ``marginal``, ``marginal_var``,
``q_sample``, ``q_step``, ``posterior``, ``prior_sample``, ``p_step``); ``mrs.Process`` (the
per-pixel-rate family, ``mrs.core.processes``) implements all of them from ``rate(mask)`` alone,
and that is the class to subclass for a new process. Subclass ``BaseProcess`` directly only for a
process outside that family (MVD, ``mrs.core.mvd``, is the example): then every method is yours.
A subclass's ``rate(mask)`` is checked for it: the mask before the call, the returned rate after
(shaped like the mask, in [0, 1]), so a process written outside ``mrs`` rejects bad input too.

Shared coefficients (ResShift, notebook 02), indexed by ``t = 0..T``::

    q(x_t | x0, y)           eta_t, sqrt(eta_t)
    q(x_t | x_{t-1}, x0, y)  alpha_t = eta_t - eta_{t-1}, sqrt(alpha_t)
    q(x_{t-1} | x_t, x0, y)  coef_xt = eta_{t-1} / eta_t,  coef_x0 = alpha_t / eta_t,
                             post_var = eta_{t-1} alpha_t / eta_t
"""

from __future__ import annotations

import contextlib
import functools
import inspect

import torch

from .checks import check_image, check_like, check_mask, check_t, draw_noise
from .schedule import Schedule

__all__ = ["BaseProcess", "extract"]


def _checked_rate(rate):
    """``rate`` with its contract enforced: the mask is checked before (shape, values in [0, 1])
    and the rate after (a tensor shaped like the mask, values in [0, 1]); value checks are skipped
    inside ``trusted_inputs`` (no host syncs on accelerators)."""

    @functools.wraps(rate)
    def checked(self, mask):
        values = not self._trusted
        check_mask("mask", mask, values=values)
        rho = rate(self, mask)
        if not isinstance(rho, torch.Tensor) or rho.shape != mask.shape:
            got = tuple(rho.shape) if isinstance(rho, torch.Tensor) else type(rho).__name__
            raise ValueError(f"{type(self).__name__}.rate(mask) must return a tensor shaped like the "
                             f"mask {tuple(mask.shape)}, got {got}")
        if values and not bool(((rho >= 0) & (rho <= 1)).all()):
            raise ValueError(f"{type(self).__name__}.rate(mask) must lie in [0, 1] (and not be NaN)")
        return rho

    return checked


def extract(coef: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``coef[t]`` as a ``[B, 1, 1, 1]`` tensor in ``like``'s dtype and device."""
    return coef.to(like.device)[t].to(like.dtype).view(-1, 1, 1, 1)


class BaseProcess:
    """The interface of a forward process and the schedule coefficients every process shares.

    All methods take images ``[B, C, H, W]`` (float, values in [-1, 1]), a mask ``[B, 1, H, W]``
    (1 = hole, 0 = known) and integer times ``t`` in ``1..T`` (an int or a LongTensor ``[B]``).
    Stochastic methods take ``noise=`` (standard normal, shape of the image) or ``generator=``.
    """

    name = "process"

    def __init_subclass__(cls, **kwargs):
        # every subclass's rate(mask) gets its contract checked (see _checked_rate)
        super().__init_subclass__(**kwargs)
        if "rate" in cls.__dict__:
            cls.rate = _checked_rate(cls.__dict__["rate"])

    def __init__(self, schedule: Schedule):
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be an mrs.Schedule, got {type(schedule).__name__}")
        self.schedule = schedule
        self.kappa = float(schedule.kappa)
        etas, alphas = schedule.etas, schedule.alphas
        eta_prev = torch.cat([etas[:1], etas[:-1]])
        safe = torch.where(etas > 0, etas, torch.ones_like(etas))
        # q(x_t | x0, y) = N(x0 + rho eta_t e0, kappa^2 rho eta_t)
        self.eta = etas
        self.sqrt_eta = etas.sqrt()
        # q(x_t | x_{t-1}, x0, y) = N(x_{t-1} + rho alpha_t e0, kappa^2 rho alpha_t)
        self.alpha = alphas
        self.sqrt_alpha = alphas.sqrt()
        # q(x_{t-1} | x_t, x0, y) = N(coef_xt x_t + coef_x0 x0, kappa^2 rho post_var)
        self.coef_xt = torch.where(etas > 0, eta_prev / safe, torch.zeros_like(etas))
        self.coef_x0 = torch.where(etas > 0, alphas / safe, torch.zeros_like(etas))
        self.post_var = torch.where(etas > 0, eta_prev * alphas / safe, torch.zeros_like(etas))

    @property
    def T(self) -> int:
        """The number of diffusion steps."""
        return self.schedule.T

    @property
    def options(self) -> dict:
        """The keyword options this process was built with (``ProcessSpec`` stores them)."""
        params = list(inspect.signature(type(self).__init__).parameters)[2:]
        return {k: getattr(self, k) for k in params}

    def __repr__(self) -> str:
        opts = "".join(f"{k}={v:g}, " if isinstance(v, float) else f"{k}={v!r}, "
                       for k, v in self.options.items())
        return f"{type(self).__name__}(name={self.name!r}, {opts}{self.schedule!r})"

    # -- the per-pixel rate -------------------------------------------------------------------
    def rate(self, mask: torch.Tensor) -> torch.Tensor:
        """Per-pixel noise rate ``rho`` in [0, 1], ``[B, 1, H, W]``."""
        raise NotImplementedError(f"{type(self).__name__} must define rate(mask)")

    def _rate(self, mask):
        """``rate(mask)``; inside ``fixed_mask(mask)`` the rate computed on entry."""
        fixed = self._fixed
        if fixed is not None and fixed[0] is mask:
            return fixed[1]
        return self.rate(mask).to(mask.dtype)

    _fixed = None

    @contextlib.contextmanager
    def fixed_mask(self, mask: torch.Tensor):
        """Within this block ``rate(mask)`` is computed once, on entry, for this very mask tensor
        (the sampler asks for it at every step; the caller must not modify ``mask`` inside)."""
        previous = self._fixed
        self._fixed = (mask, self.rate(mask).to(mask.dtype))
        try:
            yield self
        finally:
            self._fixed = previous

    # -- argument checking --------------------------------------------------------------------
    _trusted = False

    @contextlib.contextmanager
    def trusted_inputs(self):
        """Within this block the methods check shapes, dtypes and devices but read no values
        (NaN, mask range, t range): the sampler uses it on accelerators, where reading a value
        back is a host sync, after it has validated ``y`` and ``mask`` once."""
        previous, self._trusted = self._trusted, True
        try:
            yield self
        finally:
            self._trusted = previous

    def _check(self, x0, y, mask, t=None, x0_name="x0"):
        values = not self._trusted
        check_image(x0_name, x0, finite=values)
        check_like("y", y, x0, x0_name, finite=values)
        check_mask("mask", mask, like=x0, values=values)
        if t is None:
            return None
        return check_t(t, self.T, x0.shape[0], device=x0.device, values=values)

    # -- the rest of the vocabulary: ``mrs.Process`` (the rho family) or your own ------------
    def marginal(self, x0, y, mask, t):
        """Mean and variance of ``q(x_t | x0, y)``."""
        raise NotImplementedError

    def marginal_var(self, mask, t) -> torch.Tensor:
        """Per-pixel forward variance ``Var[x_t | x0]`` as ``[B, 1, H, W]``."""
        raise NotImplementedError

    def q_sample(self, x0, y, mask, t, noise=None, generator=None):
        """Draw ``x_t ~ q(x_t | x0, y) = N(mean, var)`` from ``marginal``."""
        mean, var = self.marginal(x0, y, mask, t)
        return mean + var.sqrt() * draw_noise(x0, noise, generator)

    def q_step(self, x_prev, x0, y, mask, t, noise=None, generator=None):
        """One forward kernel step ``t-1 -> t``."""
        raise NotImplementedError

    def posterior(self, x_t, x0, y, mask, t):
        """Mean and per-pixel variance of the reverse kernel given ``x0``."""
        raise NotImplementedError

    def prior_sample(self, y, mask, noise=None, generator=None):
        """Draw ``x_T``: the start of sampling."""
        raise NotImplementedError

    def p_step(self, x_t, x0_pred, y, mask, t, noise=None, generator=None):
        """One reverse step with ``x0`` replaced by the prediction."""
        raise NotImplementedError
