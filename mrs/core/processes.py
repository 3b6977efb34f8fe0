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

``Process`` implements every method from ``rate(mask)``: a new process in this family is a
subclass that defines ``rate`` and is registered (``mrs.register_process``). Built in:

* ``resshift``    rho = 1: every pixel, known ones too, is noised (the baseline).
* ``emmd``        Exact Masked-Markov Diffusion: rho = M, exact per-pixel posterior.
* ``emmd_smooth`` rho = max(M, noise_floor, smooth band in the known region around the hole).

(``mvd``, Masked-Variance Diffusion, is not in this family: ``mrs.core.mvd``.)
"""

from __future__ import annotations

import math

import torch

from .checks import check_image, check_like, check_mask, check_t, draw_noise
from .masks import apply_noise_floor, smooth_mask
from .process_base import BaseProcess, extract
from .registry import register_process
from .schedule import Schedule

__all__ = ["Process", "ResShift", "ExactMasked", "ExactMaskedSmooth"]


class Process(BaseProcess):
    """ResShift with a per-pixel rate ``rho``: subclasses define ``rate(mask)``, nothing else.

    All methods take images ``[B, C, H, W]`` (float, values in [-1, 1]), a mask ``[B, 1, H, W]``
    (1 = hole, 0 = known) and integer times ``t`` in ``1..T`` (an int or a LongTensor ``[B]``).
    Stochastic methods take ``noise=`` (standard normal, shape of the image) or ``generator=``.
    """

    # -- forward ------------------------------------------------------------------------------
    def marginal(self, x0, y, mask, t):
        """Mean ``x0 + rho eta_t e0`` and variance ``kappa^2 rho eta_t`` of q(x_t | x0, y)."""
        t = self._check(x0, y, mask, t)
        rho = self._rate(mask)
        eta = extract(self.eta, t, x0)
        return x0 + rho * eta * (y - x0), self.kappa**2 * rho * eta

    def marginal_var(self, mask, t) -> torch.Tensor:
        """Per-pixel forward variance ``Var[x_t | x0]`` as ``[B, 1, H, W]`` (plots, seam analysis)."""
        check_mask("mask", mask, values=not self._trusted)
        t = check_t(t, self.T, mask.shape[0], device=mask.device, values=not self._trusted)
        return self.kappa**2 * self._rate(mask) * extract(self.eta, t, mask)

    def q_step(self, x_prev, x0, y, mask, t, noise=None, generator=None):
        """One forward kernel step ``t-1 -> t``: ``N(x_{t-1} + rho alpha_t e0, kappa^2 rho alpha_t)``."""
        t = self._check(x0, y, mask, t)
        check_like("x_prev", x_prev, x0, "x0", finite=not self._trusted)
        rho = self._rate(mask)
        alpha = extract(self.alpha, t, x0)
        eps = draw_noise(x0, noise, generator)
        return x_prev + rho * alpha * (y - x0) + self.kappa * (rho * alpha).sqrt() * eps

    # -- reverse ------------------------------------------------------------------------------
    def posterior(self, x_t, x0, y, mask, t):
        """Exact ``q(x_{t-1} | x_t, x0, y)``: mean ``coef_xt x_t + coef_x0 x0`` and per-pixel
        variance ``kappa^2 rho eta_{t-1} alpha_t / eta_t`` (``[B, 1, H, W]``). Notebook 02 derives it."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        mean = extract(self.coef_xt, t, x0) * x_t + extract(self.coef_x0, t, x0) * x0
        var = self.kappa**2 * self._rate(mask) * extract(self.post_var, t, x0)
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


@register_process("resshift", order=10)
class ResShift(Process):
    """Plain ResShift: ``rho = 1`` on every pixel, so the known pixels are noised as well."""

    def rate(self, mask):
        check_mask("mask", mask)
        return torch.ones_like(mask)


@register_process("emmd", order=30)
class ExactMasked(Process):
    """Exact Masked-Markov Diffusion (EMMD): ``rho = M``.

    Known pixels (M = 0) are never noised and stay exactly ``x0`` in the forward process; hole
    pixels follow ResShift. The per-pixel posterior is exact; the variance jumps from 0 to
    ``kappa^2 eta_t`` at the hole's edge (notebook 05). For a fractional mask, ``rho = M`` still
    defines an exact process, but the prior then depends on x0 where ``0 < M < 1``.
    """

    def rate(self, mask):
        check_mask("mask", mask)
        return mask.clone()


@register_process("emmd_smooth", order=40)
class ExactMaskedSmooth(Process):
    """EMMD with a smoothed rate and a noise floor (notebook 06): this project's exact version of
    the paper's proposed fix::

        rho = max(M, noise_floor, exp(-d^2 / (2 blur_width^2)))

    where ``d`` is the distance to the hole (``mrs.masks.smooth_mask``). The smooth band lies in
    the known region, so every hole pixel keeps ``rho = 1`` and the prior stays independent of x0;
    the posterior remains the exact per-pixel one.

    Args:
        blur_width: width (pixels) of the Gaussian fall-off of the rate outside the hole.
        noise_floor: minimal rate of every pixel, known ones included, in [0, 1].
    """

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
