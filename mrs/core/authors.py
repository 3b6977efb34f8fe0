"""The process the paper's authors' code runs: fractional mask, mask-blended mean, re-injected ``y``.

This reproduces, in this library's notation (``t = 1..T``, mask 1 = hole), the functions
``q_sample``, ``prior_sample``, ``q_posterior_mean_variance`` and ``p_sample`` of the class
``GaussianDiffusion`` in ``models/gaussian_diffusion.py`` of the authors' public repository
(``rishi1134/masked-resshift``). There it runs on latents with the fractional latent mask
``mrs.masks.to_latent(M, 4, how="authors")``; here it runs on whatever ``m`` in [0, 1] it is given
(pixels or latents). It is neither the paper's MVD (the residual is shifted in only where ``m > 0``)
nor EMMD (the noise std is scaled by ``m``, not by ``sqrt(m)``), and its reverse step is not the
posterior of its own forward process where ``0 < m < 1``: notebooks 11 and 13 measure the
consequences.
"""

from __future__ import annotations

import math

import torch

from .checks import check_image, check_like, check_mask, draw_noise
from .mvd import MaskedVariance
from .process_base import BaseProcess, extract
from .registry import register_process

__all__ = ["AuthorsProcess", "authors_mean_gain"]


@register_process("authors", order=60)
class AuthorsProcess(BaseProcess):
    """The paper's authors' code, step for step (``e0 = y - x0``, ``m`` the mask as given)::

        forward   q(x_t | x0, y) = N(x0 + m eta_t e0,  m^2 kappa^2 eta_t)
        prior     x_T = y + m kappa sqrt(eta_T) eps
        reverse   mu  = (eta_{t-1} / eta_t) x_t + (alpha_t / eta_t) x0_pred
                  x'  = m mu + (1 - m) x_t + m s_t eps,     s_t^2 = kappa^2 eta_{t-1} alpha_t / eta_t
                  x_{t-1} = (1 - m) y + m x'

    so one reverse step has mean ``(1 - m) y + m^2 mu + m (1 - m) x_t`` and noise std ``m^2 s_t``.
    The forward process is a Markov chain (``q_step``: ``x_t = x_{t-1} + m alpha_t e0 + m kappa
    sqrt(alpha_t) eps``) whose exact posterior (``true_posterior``) is ``N(mu(x0), m^2 s_t^2)``.
    Where ``m`` is 0 or 1 the two coincide, and with ``y = x0`` on the known part the process is
    ``emmd``. Where ``0 < m < 1`` the reverse step injects ``m^2`` times the exact variance and,
    with a perfect prediction ``x0_pred = x0``, ends at ``x0 + k e0`` with ``k = authors_mean_gain``
    (not at ``x0``): a seam made by the sampler before any network error.
    """

    def rate(self, mask):
        """The mask value ``m`` itself: it scales both the shift (``m eta_t``) and the noise std."""
        return mask.clone()

    def _parts(self, x0, y, mask, t):
        t = self._check(x0, y, mask, t)
        return t, self._rate(mask), extract(self.eta, t, x0)

    def marginal(self, x0, y, mask, t):
        """Mean ``x0 + m eta_t e0`` and variance ``m^2 kappa^2 eta_t``."""
        _, m, eta = self._parts(x0, y, mask, t)
        return x0 + m * eta * (y - x0), self.kappa**2 * m * m * eta

    # the same variance as MVD's: m^2 kappa^2 eta_t
    marginal_var = MaskedVariance.marginal_var

    def q_step(self, x_prev, x0, y, mask, t, noise=None, generator=None):
        """``x_t = x_{t-1} + m alpha_t e0 + m kappa sqrt(alpha_t) eps``."""
        t, m, _ = self._parts(x0, y, mask, t)
        check_like("x_prev", x_prev, x0, "x0", finite=not self._trusted)
        alpha = extract(self.alpha, t, x0)
        eps = draw_noise(x0, noise, generator)
        return x_prev + m * alpha * (y - x0) + m * self.kappa * alpha.sqrt() * eps

    def _mu(self, x_t, x0, t):
        return extract(self.coef_xt, t, x0) * x_t + extract(self.coef_x0, t, x0) * x0

    def posterior(self, x_t, x0, y, mask, t):
        """The authors' reverse kernel given ``x0``: mean ``(1 - m) y + m^2 mu + m (1 - m) x_t``,
        variance ``m^4 s_t^2`` (``mu``, ``s_t`` as in the class docstring)."""
        t, m, _ = self._parts(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        blended = m * self._mu(x_t, x0, t) + (1 - m) * x_t          # x' before its noise
        var = self.kappa**2 * extract(self.post_var, t, x0)
        return (1 - m) * y + m * blended, m**4 * var

    def true_posterior(self, x_t, x0, y, mask, t):
        """The exact posterior of the forward process above: ``N(mu(x0), m^2 s_t^2)``."""
        t, m, _ = self._parts(x0, y, mask, t)
        check_like("x_t", x_t, x0, "x0", finite=not self._trusted)
        return self._mu(x_t, x0, t), self.kappa**2 * m * m * extract(self.post_var, t, x0)

    def prior_sample(self, y, mask, noise=None, generator=None):
        """``x_T = y + m kappa sqrt(eta_T) eps`` (``y`` itself where ``m = 0``)."""
        check_image("y", y)
        check_mask("mask", mask, like=y)
        m = self._rate(mask)
        return y + m * self.kappa * math.sqrt(float(self.eta[-1])) * draw_noise(y, noise, generator)

    def p_step(self, x_t, x0_pred, y, mask, t, noise=None, generator=None):
        """One reverse step of the authors' sampler (``posterior`` with the prediction for x0)."""
        mean, var = self.posterior(x_t, x0_pred, y, mask, t)
        return mean + var.sqrt() * draw_noise(x_t, noise, generator)

    def __repr__(self):
        return f"AuthorsProcess({self.schedule!r})"


def authors_mean_gain(proc: BaseProcess, m) -> torch.Tensor:
    """``k(m)``: with a perfect prediction (``x0_pred = x0``) the authors' sampler ends, in the
    mean, at ``x0 + k e0``. The mean's offset ``d_t = E[x_t] - x0`` (in units of ``e0``) starts at
    ``d_T = 1`` (the prior is centred on ``y``) and follows the reverse step's mean::

        d_{t-1} = (1 - m) + m^2 (eta_{t-1} / eta_t) d_t + m (1 - m) d_t,      k = d_0.

    Exact (``k = 0``) only at ``m = 1``; ``k = 1`` (the output is ``y``) at ``m = 0``.

    Args:
        proc: a process (only its schedule's coefficients are used).
        m: mask values in [0, 1] (float or tensor).
    """
    m = torch.as_tensor(m, dtype=torch.float64)
    if not bool(((m >= 0) & (m <= 1)).all()):
        raise ValueError("m must lie in [0, 1]")
    d = torch.ones_like(m)
    for t in range(proc.T, 0, -1):
        d = (1 - m) + m * m * float(proc.coef_xt[t]) * d + m * (1 - m) * d
    return d
