"""Masked-Variance Diffusion (MVD): a process outside the per-pixel-rate family.

MVD shifts the residual in everywhere (``x0 + eta_t e0``, not ``x0 + rho eta_t e0``) and scales
only the noise by the mask, so it cannot be written as ``mrs.Process`` with a rate: it subclasses
``BaseProcess`` and implements each method itself. Notebooks 03-04 derive it; on binary masks it is
the same process as ``emmd``. On fractional masks the paper leaves the reverse step open: the
option ``reverse_noise`` chooses one of three readings.
"""

from __future__ import annotations

import math

import torch

from .checks import check_image, check_like, check_mask, check_t, draw_noise
from .masks import smooth_mask
from .process_base import BaseProcess, extract
from .registry import register_process
from .schedule import Schedule

__all__ = ["MaskedVariance", "REVERSE_NOISE"]

REVERSE_NOISE = ("full", "masked", "authors")   # the readings of MVD's reverse step


@register_process("mvd", order=20)
class MaskedVariance(BaseProcess):
    """Masked-Variance Diffusion (MVD), the paper's first masked process.

    Forward (a true Markov chain): the residual ``e0 = y - x0`` is shifted in as in ResShift and
    the noise standard deviation is scaled by the mask value ``m`` (``m = M``, or the mask smoothed
    by ``blur_width``)::

        q(x_t | x0, y) = N(x0 + eta_t e0,  m^2 kappa^2 eta_t)

    Reverse. With ResShift's posterior mean and standard deviation (notebook 02)

        mu  = (eta_{t-1} / eta_t) x_t + (alpha_t / eta_t) x0_pred,
        s_t = kappa sqrt(eta_{t-1} alpha_t / eta_t),

    ``reverse_noise`` selects one of three readings of the step (``eps`` standard normal)::

        "full"     x_{t-1} = mu + s_t eps                                 (this library's default)
        "masked"   x_{t-1} = mu + m s_t eps          (the exact posterior of the forward above)
        "authors"  x' = m mu + (1 - m) x_t + m s_t eps,  x_{t-1} = (1 - m) y + m x'
                   (the rule of the paper's authors' code: noise std m^2 s_t in all)

    and in every reading ``x_{t-1} = y`` where ``m = 0`` (the known pixels are re-injected). The
    prior is ``x_T ~ N(y, kappa^2 eta_T)`` where ``m > 0`` for "full" and
    ``N(y, m^2 kappa^2 eta_T)`` for "masked" and "authors".

    On a binary mask (``m`` in {0, 1}, the paper's) the three readings are one and the same step,
    and MVD is the same process as ``emmd``. Where ``0 < m < 1`` only "masked" is exact
    (``true_posterior``): "full" injects ``1 / m^2`` times the exact posterior variance and starts
    from a prior ``1 / m^2`` too wide; "authors" injects ``m^2`` times the exact variance and pulls
    the mean towards ``y``.

    Args:
        blur_width: if > 0, ``m = smooth_mask(M, blur_width)`` instead of the mask itself.
        reverse_noise: "full", "masked" or "authors" (see above).
    """

    def __init__(self, schedule: Schedule, blur_width: float = 0.0, reverse_noise: str = "full"):
        super().__init__(schedule)
        if not (isinstance(blur_width, (int, float)) and math.isfinite(blur_width)
                and blur_width >= 0):
            raise ValueError(f"blur_width must be a finite number >= 0, got {blur_width!r}")
        if not (isinstance(reverse_noise, str) and reverse_noise in REVERSE_NOISE):
            raise ValueError(f"reverse_noise must be one of {REVERSE_NOISE}, got {reverse_noise!r}")
        self.blur_width = float(blur_width)
        self.reverse_noise = reverse_noise

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
        """The reverse kernel of the chosen reading, as ``(mean, variance)`` (``y`` and 0 where
        ``m = 0``); with ``s_t^2 = kappa^2 eta_{t-1} alpha_t / eta_t``:

            "full"     mean mu,                                   variance s_t^2 where m > 0
            "masked"   mean mu,                                   variance m^2 s_t^2 (exact)
            "authors"  mean (1 - m) y + m^2 mu + m (1 - m) x_t,   variance m^4 s_t^2

        Only "masked" is exact for every mask (``true_posterior``); on binary masks all are."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        mean = extract(self.coef_xt, t, x0) * x_t + extract(self.coef_x0, t, x0) * x0
        if self.reverse_noise == "full":
            mean = torch.where(m > 0, mean, y)
            var = self.kappa**2 * (m > 0).to(x0.dtype) * extract(self.post_var, t, x0)
            return mean, var
        var = self.kappa**2 * extract(self.post_var, t, x0)
        if self.reverse_noise == "masked":
            return torch.where(m > 0, mean, y), m * m * var
        x_blend = m * mean + (1 - m) * x_t                 # the authors' x' before its noise
        return (1 - m) * y + m * x_blend, m**4 * var

    def true_posterior(self, x_t, x0, y, mask, t):
        """The exact posterior of MVD's forward process: same mean, variance ``m^2`` times the
        global one."""
        t = self._check(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        m = self._rate(mask)
        mean = extract(self.coef_xt, t, x0) * x_t + extract(self.coef_x0, t, x0) * x0
        return mean, self.kappa**2 * m * m * extract(self.post_var, t, x0)

    def prior_sample(self, y, mask, noise=None, generator=None):
        """``x_T ~ N(y, kappa^2 eta_T)`` on every pixel with ``m > 0`` ("full"), or
        ``N(y, m^2 kappa^2 eta_T)`` ("masked", "authors"); ``y`` where ``m = 0``."""
        check_image("y", y)
        check_mask("mask", mask, like=y)
        m = self._rate(mask)
        scale = (m > 0).to(y.dtype) if self.reverse_noise == "full" else m
        std = self.kappa * math.sqrt(float(self.eta[-1])) * scale
        return y + std * draw_noise(y, noise, generator)

    def p_step(self, x_t, x0_pred, y, mask, t, noise=None, generator=None):
        """One reverse step of the chosen reading (see ``posterior``); known pixels (``m = 0``)
        re-injected from ``y``."""
        mean, var = self.posterior(x_t, x0_pred, y, mask, t)
        x_prev = mean + var.sqrt() * draw_noise(x_t, noise, generator)
        return torch.where(self._rate(mask) > 0, x_prev, y)

    def __repr__(self):
        return (f"MaskedVariance(blur_width={self.blur_width:g}, "
                f"reverse_noise={self.reverse_noise!r}, {self.schedule!r})")
