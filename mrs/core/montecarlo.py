"""A Monte Carlo check of a claimed reverse kernel ``q(x_{t-1} | x_t, x0, y)`` (notebooks 02-06).

Draw ``n`` forward pairs from the process itself,

    x_{t-1} ~ q(x_{t-1} | x0, y)        (x_0 = x0 exactly at t = 1)
    x_t     ~ q(x_t | x_{t-1}, x0, y)    (the one-step kernel),

and look at the residual ``r = x_{t-1} - mean(x_t)`` of the claimed posterior ``N(mean, var)``.
If the claim is the true posterior, then by Bayes' rule ``r`` has mean 0 and variance ``var`` on
every pixel, and it is uncorrelated with ``x_t`` (the mean is the best linear predictor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["PosteriorCheck", "posterior_check"]


@dataclass
class PosteriorCheck:
    """The residual statistics per pixel (``[C, H, W]``; ``var`` is ``[1, H, W]``)."""

    t: int
    n: int
    mean: torch.Tensor          # E[r] over the n draws
    var_emp: torch.Tensor       # Var[r]
    var: torch.Tensor           # the claimed posterior variance
    corr: torch.Tensor          # corr(r, x_t) (0 where either is constant)

    @property
    def z(self) -> torch.Tensor:
        """``E[r]`` in standard errors ``sqrt(var / n)`` (0 where ``var = 0`` and ``r = 0``)."""
        se = (self.var / self.n).sqrt()
        return torch.where(se > 0, self.mean / se.clamp(min=1e-30), self.mean.abs() * 1e30)

    @property
    def var_ratio(self) -> torch.Tensor:
        """``Var[r] / var`` (1 for the true posterior; nan where ``var = 0``)."""
        return torch.where(self.var > 0, self.var_emp / self.var.clamp(min=1e-30),
                           torch.full_like(self.var_emp, float("nan")))

    def holds(self, sigmas: float = 5.0, where: torch.Tensor | None = None) -> bool:
        """Whether the claim survives: ``|z| < sigmas``, ``|var_ratio - 1| < sigmas sqrt(2/n)``,
        ``|corr| < sigmas / sqrt(n)`` on every pixel (of ``where``, a ``[1, H, W]`` bool mask);
        where ``var = 0`` the residual must be 0 up to float rounding."""
        sel = torch.ones_like(self.var, dtype=torch.bool) if where is None else where
        sel = sel.expand_as(self.mean)
        pos = sel & (self.var > 0).expand_as(self.mean)
        zero = sel & (self.var == 0).expand_as(self.mean)
        ok = bool((self.z[pos].abs() < sigmas).all())
        ok &= bool(((self.var_ratio[pos] - 1).abs() < sigmas * (2 / self.n) ** 0.5).all())
        ok &= bool((self.corr[pos].abs() < sigmas / self.n ** 0.5).all())
        ok &= bool((self.mean[zero].abs() < 1e-5).all() and (self.var_emp[zero] < 1e-10).all())
        return ok


def posterior_check(proc, x0: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, t: int,
                    n: int = 1000, generator: torch.Generator | None = None,
                    posterior=None) -> PosteriorCheck:
    """Check ``posterior(x_t, x0, y, mask, t) -> (mean, var)`` (default ``proc.posterior``) on one
    image ``x0 [1, C, H, W]`` with ``n`` forward draws of ``proc`` (see the module docstring)."""
    if x0.dim() != 4 or x0.shape[0] != 1:
        raise ValueError(f"x0 must be one image [1, C, H, W], got {tuple(x0.shape)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= proc.T:
        raise ValueError(f"t must be an int in 1..{proc.T}, got {t!r}")
    posterior = posterior or proc.posterior
    X0, Y, M = (a.expand(n, -1, -1, -1).contiguous() for a in (x0, y, mask))
    # 1. forward pairs from the process itself
    x_prev = X0 if t == 1 else proc.q_sample(X0, Y, M, t - 1, generator=generator)
    x_t = proc.q_step(x_prev, X0, Y, M, t, generator=generator)
    # 2. the residual of the claimed posterior
    mean, var = posterior(x_t, X0, Y, M, t)
    r = x_prev - mean                                           # [n, C, H, W]
    rc, xc = r - r.mean(0), x_t - x_t.mean(0)
    denom = (rc.pow(2).mean(0) * xc.pow(2).mean(0)).sqrt()
    corr = torch.where(denom > 0, (rc * xc).mean(0) / denom.clamp(min=1e-30), torch.zeros_like(denom))
    return PosteriorCheck(t=t, n=n, mean=r.mean(0), var_emp=r.var(0), var=var[0], corr=corr)
