"""Gaussian posteriors derived symbolically with sympy (notebook 02).

Bayes' rule for a Gaussian one-step kernel and a Gaussian marginal at ``t-1``::

    q(x_{t-1} | x_t) = q(x_t | x_{t-1}) q(x_{t-1}) / q(x_t)

The exponent of the numerator is a quadratic in ``x_{t-1}``,
``-A/2 x_{t-1}^2 + B x_{t-1} + const``; completing the square gives the posterior
``N(B / A, 1 / A)``. For ResShift (per-pixel rate ``rho``, 1 for plain ResShift)::

    q(x_t | x_{t-1}, x0, y) = N(x_{t-1} + rho alpha_t e0,  kappa^2 rho alpha_t)
    q(x_{t-1} | x0, y)      = N(x0 + rho eta_{t-1} e0,  kappa^2 rho eta_{t-1})
    =>  q(x_{t-1} | x_t, x0, y) = N(eta_{t-1}/eta_t x_t + alpha_t/eta_t x0,
                                    kappa^2 rho eta_{t-1} alpha_t / eta_t),   eta_t = eta_{t-1} + alpha_t

Not imported by ``mrs`` or ``mrs.core``: ``import mrs.core.symbolic`` (sympy ships with torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["log_normal", "complete_the_square", "SymbolicPosterior", "resshift_posterior"]


def log_normal(x, mean, var):
    """``log N(x; mean, var) = -(x - mean)^2 / (2 var) - log(2 pi var) / 2`` as a sympy expression."""
    var = sp.sympify(var)
    if var.is_positive is False:
        raise ValueError(f"the variance must be positive, got {var}")
    return -(x - mean) ** 2 / (2 * var) - sp.log(2 * sp.pi * var) / 2


def complete_the_square(log_density, x: sp.Symbol):
    """Mean ``B / A`` and variance ``1 / A`` of the Gaussian in ``x`` whose log-density is
    ``log_density = -A/2 x^2 + B x + const`` (up to terms free of ``x``)."""
    if not isinstance(x, sp.Symbol):
        raise ValueError(f"x must be a sympy Symbol, got {x!r}")
    try:
        poly = sp.Poly(sp.expand(log_density), x)
    except sp.PolynomialError as err:
        raise ValueError(f"the log-density is not a polynomial in {x}: {err}") from None
    if poly.degree() != 2:
        raise ValueError(f"the log-density must be quadratic in {x}, got degree {poly.degree()}")
    A = sp.simplify(-2 * poly.coeff_monomial(x**2))
    if A.is_positive is False:
        raise ValueError(f"not a Gaussian in {x}: the coefficient of {x}^2 must be negative")
    B = poly.coeff_monomial(x)
    return sp.expand(sp.simplify(B / A)), sp.simplify(1 / A)


@dataclass
class SymbolicPosterior:
    """``q(x_{t-1} | x_t, x0, y) = N(mean, var)`` as derived by Bayes' rule; ``mean`` and ``var``
    are written with ``eta_t = eta_{t-1} + alpha_t``; ``symbols`` names every symbol used."""

    mean: sp.Expr
    var: sp.Expr
    log_joint: sp.Expr          # log q(x_t | x_{t-1}) + log q(x_{t-1})
    log_marginal: sp.Expr       # log q(x_t)
    symbols: dict

    def coefficient(self, name: str) -> sp.Expr:
        """The coefficient of ``x_t``, ``x_0`` or ``e_0`` in the posterior mean."""
        if name not in ("x_t", "x_0", "e_0"):
            raise ValueError(f"name must be 'x_t', 'x_0' or 'e_0', got {name!r}")
        return self.mean.coeff(self.symbols[name])

    def show(self, expr) -> sp.Expr:
        """``expr`` simplified and factored, with ``eta_{t-1} + alpha_t`` written ``eta_t``."""
        s = self.symbols
        return sp.factor(sp.simplify(expr)).subs(s["eta_{t-1}"] + s["alpha_t"], s["eta_t"])

    def log_gap(self, mean, var) -> sp.Expr:
        """``log q(x_t | x_{t-1}) + log q(x_{t-1}) - log q(x_t) - log N(x_{t-1}; mean, var)``,
        simplified: 0 exactly when ``N(mean, var)`` is the posterior, normalising constants included."""
        gap = self.log_joint - self.log_marginal - log_normal(self.symbols["x_{t-1}"], mean, var)
        return sp.simplify(sp.expand_log(gap, force=True))


def resshift_posterior(rate: bool = False) -> SymbolicPosterior:
    """ResShift's posterior by Bayes' rule and completing the square (module docstring);
    ``rate=True`` scales the schedule by a per-pixel rate ``rho`` (a positive symbol)."""
    if not isinstance(rate, bool):
        raise ValueError(f"rate must be True or False, got {rate!r}")
    x_t, x_prev, x0, e0 = sp.symbols("x_t x_{t-1} x_0 e_0", real=True)
    kappa, eta_prev, alpha, eta_t_ = sp.symbols("kappa eta_{t-1} alpha_t eta_t", positive=True)
    rho = sp.Symbol("rho", positive=True) if rate else sp.Integer(1)
    eta_t = eta_prev + alpha
    log_kernel = log_normal(x_t, x_prev + rho * alpha * e0, kappa**2 * rho * alpha)
    log_prev = log_normal(x_prev, x0 + rho * eta_prev * e0, kappa**2 * rho * eta_prev)
    log_marg = log_normal(x_t, x0 + rho * eta_t * e0, kappa**2 * rho * eta_t)
    mean, var = complete_the_square(log_kernel + log_prev, x_prev)
    symbols = {"x_t": x_t, "x_{t-1}": x_prev, "x_0": x0, "e_0": e0, "kappa": kappa,
               "eta_{t-1}": eta_prev, "alpha_t": alpha, "eta_t": eta_t_}
    if rate:
        symbols["rho"] = rho
    return SymbolicPosterior(mean=mean, var=var, log_joint=log_kernel + log_prev,
                             log_marginal=log_marg, symbols=symbols)
