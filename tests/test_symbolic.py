"""mrs.core.symbolic: Gaussian posteriors by Bayes' rule and completing the square, with sympy."""

import pytest
import sympy as sp

import mrs
from mrs.core import symbolic as S


def test_complete_the_square_reads_mean_and_variance_of_a_gaussian():
    x, m = sp.symbols("x m", real=True)
    v = sp.Symbol("v", positive=True)
    mean, var = S.complete_the_square(S.log_normal(x, m, v) + 7 * m**2 - sp.log(v), x)
    assert sp.simplify(mean - m) == 0 and sp.simplify(var - v) == 0


def test_complete_the_square_gives_ddpm_posterior():
    """An independent case: DDPM's posterior coefficients (Ho et al. 2020, eq. 7)."""
    x_t, x_prev, x0 = sp.symbols("x_t x_prev x_0", real=True)
    a, abar_prev = sp.symbols("alpha abar_prev", positive=True)
    abar = a * abar_prev
    log_joint = (S.log_normal(x_t, sp.sqrt(a) * x_prev, 1 - a)
                 + S.log_normal(x_prev, sp.sqrt(abar_prev) * x0, 1 - abar_prev))
    mean, var = S.complete_the_square(log_joint, x_prev)
    c1 = sp.sqrt(a) * (1 - abar_prev) / (1 - abar)
    c2 = sp.sqrt(abar_prev) * (1 - a) / (1 - abar)
    assert sp.simplify(mean - (c1 * x_t + c2 * x0)) == 0
    assert sp.simplify(var - (1 - abar_prev) * (1 - a) / (1 - abar)) == 0


def test_resshift_posterior_matches_closed_form_and_the_library():
    post = S.resshift_posterior()
    s = post.symbols
    eta_t = s["eta_{t-1}"] + s["alpha_t"]
    closed_mean = s["eta_{t-1}"] / eta_t * s["x_t"] + s["alpha_t"] / eta_t * s["x_0"]
    closed_var = s["kappa"] ** 2 * s["eta_{t-1}"] * s["alpha_t"] / eta_t
    assert sp.simplify(post.mean - closed_mean) == 0 and sp.simplify(post.var - closed_var) == 0
    assert post.coefficient("e_0") == 0
    assert post.log_gap(closed_mean, closed_var) == 0
    # the paper's eq. (2) x0 coefficient alpha_t eta_{t-1} / eta_t is not the posterior
    wrong = s["eta_{t-1}"] / eta_t * s["x_t"] + s["alpha_t"] * s["eta_{t-1}"] / eta_t * s["x_0"]
    assert post.log_gap(wrong, closed_var) != 0
    assert str(post.show(post.coefficient("x_t"))) == "eta_{t-1}/eta_t"
    # the numbers agree with the library's coefficients for the default schedule
    proc = mrs.make_process("resshift", mrs.Schedule.exponential())
    for t in range(2, proc.T + 1):
        vals = {s["eta_{t-1}"]: float(proc.eta[t - 1]), s["alpha_t"]: float(proc.alpha[t]),
                s["kappa"]: proc.kappa}
        assert float(post.coefficient("x_t").subs(vals)) == pytest.approx(float(proc.coef_xt[t]))
        assert float(post.coefficient("x_0").subs(vals)) == pytest.approx(float(proc.coef_x0[t]))
        assert float(post.var.subs(vals)) == pytest.approx(proc.kappa**2 * float(proc.post_var[t]))


def test_rate_leaves_the_mean_and_scales_the_variance():
    plain, rated = S.resshift_posterior(), S.resshift_posterior(rate=True)
    rho = rated.symbols["rho"]
    assert sp.simplify(rated.mean - plain.mean) == 0
    assert sp.simplify(rated.var - rho * plain.var) == 0


def test_errors():
    x = sp.Symbol("x", real=True)
    with pytest.raises(ValueError, match="positive"):
        S.log_normal(x, 0, -1)
    with pytest.raises(ValueError, match="Symbol"):
        S.complete_the_square(x**2, "x")
    with pytest.raises(ValueError, match="quadratic"):
        S.complete_the_square(x**3 - x**2, x)
    with pytest.raises(ValueError, match="polynomial"):
        S.complete_the_square(sp.log(x), x)
    with pytest.raises(ValueError, match="negative"):
        S.complete_the_square(x**2, x)
    with pytest.raises(ValueError, match="rate"):
        S.resshift_posterior(rate=1)
    with pytest.raises(ValueError, match="name"):
        S.resshift_posterior().coefficient("y")
