"""Masked-Variance Diffusion (MVD): a process outside the per-pixel-rate family.

MVD shifts the residual in everywhere (``x0 + eta_t e0``, not ``x0 + rho eta_t e0``) and scales
only the noise by the mask, so it cannot be written as ``mrs.Process`` with a rate: it subclasses
``BaseProcess`` and implements each method itself. Notebooks 03-04 derive it; on binary masks it is
the same process as ``emmd``.
"""

from __future__ import annotations

import math

import torch

from .checks import check_image, check_like, check_mask, check_t, draw_noise
from .masks import smooth_mask
from .process_base import BaseProcess, extract
from .registry import register_process
from .schedule import Schedule

__all__ = ["MaskedVariance"]


@register_process("mvd", order=20)
class MaskedVariance(BaseProcess):
    """Masked-Variance Diffusion (MVD), the paper's naive masked process.

    Forward (a true Markov chain): the residual ``e0 = y - x0`` is shifted in as in ResShift and
    the noise is scaled by the mask value ``m`` (``m = M``, or the mask smoothed by ``blur_width``)::

        q(x_t | x0, y) = N(x0 + eta_t e0,  m^2 kappa^2 eta_t)

    Reverse (this library's reading of the paper): the *global* ResShift posterior (variance
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
        eta = extract(self.eta, t, x0)
        return x0 + eta * (y - x0), self.kappa**2 * m * m * eta

    def marginal_var(self, mask, t):
        check_mask("mask", mask, values=not self._trusted)
        t = check_t(t, self.T, mask.shape[0], device=mask.device, values=not self._trusted)
        m = self._rate(mask)
        return self.kappa**2 * m * m * extract(self.eta, t, mask)

    def q_step(self, x_prev, x0, y, mask, t, noise=None, generator=None):
        """``x_t = x_{t-1} + alpha_t e0 + m kappa sqrt(alpha_t) eps``."""
        t = self._check(x0, y, mask, t)
        check_like("x_prev", x_prev, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        alpha = extract(self.alpha, t, x0)
        eps = draw_noise(x0, noise, generator)
        return x_prev + alpha * (y - x0) + m * self.kappa * alpha.sqrt() * eps

    def posterior(self, x_t, x0, y, mask, t):
        """The reverse kernel MVD *assumes*: mean ``coef_xt x_t + coef_x0 x0`` (``y`` where
        ``m = 0``) and the global variance ``kappa^2 eta_{t-1} alpha_t / eta_t`` where ``m > 0``.
        Exact only for hard masks; see ``true_posterior``."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        mean = extract(self.coef_xt, t, x0) * x_t + extract(self.coef_x0, t, x0) * x0
        mean = torch.where(m > 0, mean, y)
        var = self.kappa**2 * (m > 0).to(x0.dtype) * extract(self.post_var, t, x0)
        return mean, var

    def true_posterior(self, x_t, x0, y, mask, t):
        """The exact posterior of MVD's forward process: same mean, variance ``m^2`` times the
        global one."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        mean = extract(self.coef_xt, t, x0) * x_t + extract(self.coef_x0, t, x0) * x0
        return mean, self.kappa**2 * m * m * extract(self.post_var, t, x0)

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
