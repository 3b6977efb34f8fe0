"""Forward processes and their posteriors: ResShift with a per-pixel noise rate ``rho``.

One family (notebooks 01-06 derive it). With ``e0 = y - x0`` (zero on every known pixel) and a
per-pixel rate ``rho`` in [0, 1] (``[B, 1, H, W]``) that scales the schedule pixel by pixel:

    forward marginal   q(x_t | x0, y)          = N(x0 + rho eta_t e0,  kappa^2 rho eta_t)
    one-step kernel    q(x_t | x_{t-1}, x0, y) = N(x_{t-1} + rho alpha_t e0,  kappa^2 rho alpha_t)
    exact posterior    q(x_{t-1} | x_t, x0, y) = N(coef_xt x_t + coef_x0 x0,  kappa^2 rho post_var)
        coef_xt = eta_{t-1} / eta_t,   coef_x0 = alpha_t / eta_t,
        post_var = eta_{t-1} alpha_t / eta_t
    prior              x_T ~ N(y, kappa^2 rho eta_T)        (exact up to (1 - eta_T) e0)

The posterior mean does not depend on ``rho``; only its variance does. Where ``rho = 0`` the
posterior is the Dirac delta at ``x_t`` (= x0).

``make_process(name, schedule, **options)`` builds one of

* ``resshift``    rho = 1: every pixel, known ones too, is noised (the baseline).
* ``mvd``         Masked-Variance Diffusion, the seed's naive process (see ``MaskedVariance``).
* ``emmd``        Exact Masked-Markov Diffusion: rho = M, exact per-pixel posterior.
* ``emmd_smooth`` rho = max(M, noise_floor, smooth band in the known region around the hole).

A process is a plain object holding float64 coefficients; it never holds a network.
"""

from __future__ import annotations

import contextlib
import math

import torch

from ._checks import check_image, check_like, check_mask, check_t, draw_noise
from .masks import apply_noise_floor, smooth_mask
from .schedule import Schedule

__all__ = ["Process", "ResShift", "MaskedVariance", "ExactMasked", "ExactMaskedSmooth",
           "make_process", "process_options", "PROCESS_NAMES"]

PROCESS_NAMES = ("resshift", "mvd", "emmd", "emmd_smooth")


def _extract(coef: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``coef[t]`` as a ``[B, 1, 1, 1]`` tensor in ``like``'s dtype and device."""
    return coef.to(like.device)[t].to(like.dtype).view(-1, 1, 1, 1)


class Process:
    """ResShift with a per-pixel rate ``rho`` (subclasses define ``rate``).

    All methods take images ``[B, C, H, W]`` (float, values in [-1, 1]), a mask ``[B, 1, H, W]``
    (1 = hole, 0 = known) and integer times ``t`` in ``1..T`` (an int or a LongTensor ``[B]``).
    Stochastic methods take ``noise=`` (standard normal, shape of the image) or ``generator=``.
    """

    name = "process"

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
    def steps(self) -> int:
        return self.schedule.steps

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.schedule!r})"

    # -- the per-pixel rate -------------------------------------------------------------------
    def rate(self, mask: torch.Tensor) -> torch.Tensor:
        """Per-pixel noise rate ``rho`` in [0, 1], ``[B, 1, H, W]``."""
        raise NotImplementedError

    def _rate(self, mask):
        """``rate(mask)``, memoised for the last mask seen (sampling asks for it at every step)."""
        cached = getattr(self, "_rate_cache", None)
        if cached is not None and cached[0] is mask and cached[1] == mask._version:
            return cached[2]
        rho = self.rate(mask).to(mask.dtype)
        self._rate_cache = (mask, mask._version, rho)
        return rho

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
        return check_t(t, self.steps, x0.shape[0], device=x0.device, values=values)

    # -- forward ------------------------------------------------------------------------------
    def marginal(self, x0, y, mask, t):
        """Mean ``x0 + rho eta_t e0`` and variance ``kappa^2 rho eta_t`` of q(x_t | x0, y)."""
        t = self._check(x0, y, mask, t)
        rho = self._rate(mask)
        eta = _extract(self.eta, t, x0)
        return x0 + rho * eta * (y - x0), self.kappa**2 * rho * eta

    def marginal_var(self, mask, t) -> torch.Tensor:
        """Per-pixel forward variance ``Var[x_t | x0]`` as ``[B, 1, H, W]`` (plots, seam analysis)."""
        check_mask("mask", mask, values=not self._trusted)
        t = check_t(t, self.steps, mask.shape[0], device=mask.device, values=not self._trusted)
        return self.kappa**2 * self._rate(mask) * _extract(self.eta, t, mask)

    def q_sample(self, x0, y, mask, t, noise=None, generator=None):
        """Draw ``x_t ~ q(x_t | x0, y) = N(x0 + rho eta_t e0, kappa^2 rho eta_t)``."""
        mean, var = self.marginal(x0, y, mask, t)
        return mean + var.sqrt() * draw_noise(x0, noise, generator)

    def q_step(self, x_prev, x0, y, mask, t, noise=None, generator=None):
        """One forward kernel step ``t-1 -> t``: ``N(x_{t-1} + rho alpha_t e0, kappa^2 rho alpha_t)``."""
        t = self._check(x0, y, mask, t)
        check_like("x_prev", x_prev, x0, "x0", finite=not self._trusted)
        rho = self._rate(mask)
        alpha = _extract(self.alpha, t, x0)
        eps = draw_noise(x0, noise, generator)
        return x_prev + rho * alpha * (y - x0) + self.kappa * (rho * alpha).sqrt() * eps

    # -- reverse ------------------------------------------------------------------------------
    def posterior(self, x_t, x0, y, mask, t):
        """Exact ``q(x_{t-1} | x_t, x0, y)``: mean ``coef_xt x_t + coef_x0 x0`` and per-pixel
        variance ``kappa^2 rho eta_{t-1} alpha_t / eta_t`` (``[B, 1, H, W]``). Notebook 02 derives it."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        mean = _extract(self.coef_xt, t, x0) * x_t + _extract(self.coef_x0, t, x0) * x0
        var = self.kappa**2 * self._rate(mask) * _extract(self.post_var, t, x0)
        return mean, var

    def prior_sample(self, y, mask, noise=None, generator=None):
        """``x_T ~ N(y, kappa^2 rho eta_T)``: the start of sampling."""
        check_image("y", y)
        check_mask("mask", mask, like=y)
        var = self.kappa**2 * self._rate(mask) * float(self.eta[-1])
        return y + var.sqrt() * draw_noise(y, noise, generator)

    def p_step(self, x_t, x0_pred, y, mask, t, noise=None, generator=None):
        """One reverse step: draw ``x_{t-1}`` from the posterior with ``x0`` replaced by the
        prediction. Pixels with ``rho = 0`` keep ``x_t`` exactly (the posterior is a Dirac there)."""
        mean, var = self.posterior(x_t, x0_pred, y, mask, t)
        eps = draw_noise(x_t, noise, generator)
        x_prev = mean + var.sqrt() * eps
        return torch.where(self._rate(mask) > 0, x_prev, x_t)


class ResShift(Process):
    """Plain ResShift: ``rho = 1`` on every pixel, so the known pixels are noised as well."""

    name = "resshift"

    def rate(self, mask):
        check_mask("mask", mask)
        return torch.ones_like(mask)


class ExactMasked(Process):
    """Exact Masked-Markov Diffusion (EMMD): ``rho = M``.

    Known pixels (M = 0) are never noised and stay exactly ``x0`` in the forward process; hole
    pixels follow ResShift. The per-pixel posterior is exact; the variance jumps from 0 to
    ``kappa^2 eta_t`` at the hole's edge (notebook 05). For a fractional mask, ``rho = M`` still
    defines an exact process, but the prior then depends on x0 where ``0 < M < 1``.
    """

    name = "emmd"

    def rate(self, mask):
        check_mask("mask", mask)
        return mask.clone()


class ExactMaskedSmooth(Process):
    """EMMD with a smoothed rate and a noise floor (the seed's fix, notebook 06)::

        rho = max(M, noise_floor, exp(-d^2 / (2 blur_width^2)))

    where ``d`` is the distance to the hole (``mrs.masks.smooth_mask``). The smooth band lies in
    the known region, so every hole pixel keeps ``rho = 1`` and the prior stays independent of x0;
    the posterior remains the exact per-pixel one.

    Args:
        blur_width: width (pixels) of the Gaussian fall-off of the rate outside the hole.
        noise_floor: minimal rate of every pixel, known ones included, in [0, 1].
    """

    name = "emmd_smooth"

    def __init__(self, schedule: Schedule, blur_width: float = 2.0, noise_floor: float = 0.02):
        super().__init__(schedule)
        if not (isinstance(blur_width, (int, float)) and math.isfinite(blur_width)
                and blur_width >= 0):
            raise ValueError(f"blur_width must be a finite number >= 0, got {blur_width!r}")
        if not (isinstance(noise_floor, (int, float)) and 0.0 <= noise_floor <= 1.0):
            raise ValueError(f"noise_floor must lie in [0, 1], got {noise_floor!r}")
        self.blur_width = float(blur_width)
        self.noise_floor = float(noise_floor)

    def rate(self, mask):
        check_mask("mask", mask)
        return apply_noise_floor(smooth_mask(mask, self.blur_width), self.noise_floor)

    def __repr__(self):
        return (f"ExactMaskedSmooth(blur_width={self.blur_width:g}, "
                f"noise_floor={self.noise_floor:g}, {self.schedule!r})")


class MaskedVariance(Process):
    """Masked-Variance Diffusion (MVD), the seed's naive masked process.

    Forward (a true Markov chain): the residual ``e0 = y - x0`` is shifted in as in ResShift and
    the noise is scaled by the mask value ``m`` (``m = M``, or the mask smoothed by ``blur_width``)::

        q(x_t | x0, y) = N(x0 + eta_t e0,  m^2 kappa^2 eta_t)

    Reverse (what the seed does): the *global* ResShift posterior (variance
    ``kappa^2 eta_{t-1} alpha_t / eta_t`` on every pixel that has any noise, ``m > 0``), then the
    known pixels (``m = 0``) re-injected from ``y``. The prior is ``N(y, kappa^2 eta_T)`` on ``m > 0``.

    Where it is exact: for a hard mask (m in {0, 1}) MVD and EMMD are the same process.
    Where it is not: wherever ``0 < m < 1`` the forward variance is ``m^2 kappa^2 eta_t`` but the
    reverse step assumes ``kappa^2 eta_t``: the posterior variance there is too large by
    ``1 / m^2`` (``true_posterior`` gives the exact one) and the prior over-noises those pixels.
    This mismatch at the soft edge is the seam that notebook 03 measures.

    Args:
        blur_width: if > 0, ``m = smooth_mask(M, blur_width)`` instead of the mask itself.
    """

    name = "mvd"

    def __init__(self, schedule: Schedule, blur_width: float = 0.0):
        super().__init__(schedule)
        if not (isinstance(blur_width, (int, float)) and math.isfinite(blur_width)
                and blur_width >= 0):
            raise ValueError(f"blur_width must be a finite number >= 0, got {blur_width!r}")
        self.blur_width = float(blur_width)

    def rate(self, mask):
        """The mask value ``m`` that scales the noise standard deviation (variance ``m^2``)."""
        check_mask("mask", mask)
        return smooth_mask(mask, self.blur_width) if self.blur_width > 0 else mask.clone()

    def marginal(self, x0, y, mask, t):
        """Mean ``x0 + eta_t e0`` and variance ``m^2 kappa^2 eta_t``."""
        t = self._check(x0, y, mask, t)
        m = self._rate(mask)
        eta = _extract(self.eta, t, x0)
        return x0 + eta * (y - x0), self.kappa**2 * m * m * eta

    def marginal_var(self, mask, t):
        check_mask("mask", mask, values=not self._trusted)
        t = check_t(t, self.steps, mask.shape[0], device=mask.device, values=not self._trusted)
        m = self._rate(mask)
        return self.kappa**2 * m * m * _extract(self.eta, t, mask)

    def q_step(self, x_prev, x0, y, mask, t, noise=None, generator=None):
        """``x_t = x_{t-1} + alpha_t e0 + m kappa sqrt(alpha_t) eps``."""
        t = self._check(x0, y, mask, t)
        check_like("x_prev", x_prev, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        alpha = _extract(self.alpha, t, x0)
        eps = draw_noise(x0, noise, generator)
        return x_prev + alpha * (y - x0) + m * self.kappa * alpha.sqrt() * eps

    def posterior(self, x_t, x0, y, mask, t):
        """The reverse kernel MVD *assumes*: mean ``coef_xt x_t + coef_x0 x0`` (``y`` where
        ``m = 0``) and the global variance ``kappa^2 eta_{t-1} alpha_t / eta_t`` where ``m > 0``.
        Exact only for hard masks; see ``true_posterior``."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        mean = _extract(self.coef_xt, t, x0) * x_t + _extract(self.coef_x0, t, x0) * x0
        mean = torch.where(m > 0, mean, y)
        var = self.kappa**2 * (m > 0).to(x0.dtype) * _extract(self.post_var, t, x0)
        return mean, var

    def true_posterior(self, x_t, x0, y, mask, t):
        """The exact posterior of MVD's forward process: same mean, variance ``m^2`` times the
        global one."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        mean = _extract(self.coef_xt, t, x0) * x_t + _extract(self.coef_x0, t, x0) * x0
        return mean, self.kappa**2 * m * m * _extract(self.post_var, t, x0)

    def prior_sample(self, y, mask, noise=None, generator=None):
        """``x_T ~ N(y, kappa^2 eta_T)`` on every pixel with ``m > 0``; ``y`` elsewhere."""
        check_image("y", y)
        check_mask("mask", mask, like=y)
        m = self._rate(mask)
        std = self.kappa * math.sqrt(float(self.eta[-1])) * (m > 0).to(y.dtype)
        return y + std * draw_noise(y, noise, generator)

    def p_step(self, x_t, x0_pred, y, mask, t, noise=None, generator=None):
        """Global ResShift step, noise only where ``m > 0``, known pixels re-injected from ``y``."""
        mean, var = self.posterior(x_t, x0_pred, y, mask, t)
        x_prev = mean + var.sqrt() * draw_noise(x_t, noise, generator)
        return torch.where(self._rate(mask) > 0, x_prev, y)

    def __repr__(self):
        return f"MaskedVariance(blur_width={self.blur_width:g}, {self.schedule!r})"


_PROCESSES = {
    "resshift": ResShift,
    "mvd": MaskedVariance,
    "emmd": ExactMasked,
    "emmd_smooth": ExactMaskedSmooth,
}
_OPTIONS = {
    "resshift": (),
    "mvd": ("blur_width",),
    "emmd": (),
    "emmd_smooth": ("blur_width", "noise_floor"),
}


def process_options(name: str, **available) -> dict:
    """The subset of ``available`` options (e.g. ``blur_width``, ``noise_floor``) that process
    ``name`` takes: ``make_process(name, sch, **process_options(name, **settings))``."""
    if name not in _PROCESSES:
        raise ValueError(f"name must be one of {PROCESS_NAMES}, got {name!r}")
    return {k: v for k, v in available.items() if k in _OPTIONS[name]}


def make_process(name: str, schedule: Schedule, **options) -> Process:
    """Build a process by name: "resshift" | "mvd" | "emmd" | "emmd_smooth".

    Options: ``mvd`` takes ``blur_width``; ``emmd_smooth`` takes ``blur_width`` and
    ``noise_floor``; the others take none.
    """
    if name not in _PROCESSES:
        raise ValueError(f"name must be one of {PROCESS_NAMES}, got {name!r}")
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        allowed = ", ".join(_OPTIONS[name]) or "none"
        raise ValueError(f"unknown option(s) {unknown} for process {name!r} (allowed: {allowed})")
    return _PROCESSES[name](schedule, **options)
