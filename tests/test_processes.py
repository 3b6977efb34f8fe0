"""The mathematics of the processes, checked by Monte Carlo against the closed forms."""

import pytest
import torch

import mrs

from .conftest import make

N = 40_000  # samples per check: the standard error of a variance is ~0.7 %
EXACT = ["resshift", "emmd", "emmd_smooth"]


def _batch(face8, n=N):
    x0, mask, y = face8
    return x0.expand(n, -1, -1, -1), mask.expand(n, -1, -1, -1), y.expand(n, -1, -1, -1)


def _draw_pair(proc, x0, y, mask, t, g):
    """x_{t-1} ~ q(. | x0) (x0 itself at t = 1) and x_t = q_step(x_{t-1})."""
    x_prev = x0.clone() if t == 1 else proc.q_sample(x0, y, mask, t - 1, generator=g)
    return x_prev, proc.q_step(x_prev, x0, y, mask, t, generator=g)


def posterior_discrepancy(proc, face8, t, seed=0):
    """Largest z-scores of the posterior checks at time t: (mean, variance, correlation)."""
    x0, mask, y = _batch(face8)
    g = torch.Generator().manual_seed(seed)
    x_prev, x_t = _draw_pair(proc, x0, y, mask, t, g)
    mean, var = proc.posterior(x_t, x0, y, mask, t)
    r = (x_prev - mean).double()
    var = var.expand_as(r)[0].double()
    live = var > 1e-12
    # 1. zero mean: |mean(r)| / SE
    z_mean = (r.mean(0).abs() / (var / N).sqrt().clamp(min=1e-12))
    dead_bad = (r.abs().amax(0) > 1e-5).double() * 1e6  # rho = 0: r must vanish
    z_mean = torch.where(live, z_mean, dead_bad)
    # 2. the posterior variance: relative error over its SE sqrt(2/N)
    z_var = ((r.var(0) - var).abs() / (var * (2.0 / N) ** 0.5).clamp(min=1e-12))
    z_var = torch.where(live, z_var, dead_bad)
    # 3. no correlation with x_t: corr * sqrt(N)
    xt = x_t.double()
    cov = ((r - r.mean(0)) * (xt - xt.mean(0))).mean(0)
    corr = cov / (r.std(0) * xt.std(0)).clamp(min=1e-12)
    z_corr = torch.where(live, corr.abs() * N**0.5, torch.zeros_like(corr))
    return float(z_mean.max()), float(z_var.max()), float(z_corr.max())


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_q_step_composes_to_marginal(name, t, paper_schedule, face8):
    proc = make(name, paper_schedule)
    x0, mask, y = _batch(face8)
    g = torch.Generator().manual_seed(t)
    _, x_t = _draw_pair(proc, x0, y, mask, t, g)
    mean, var = proc.marginal(x0[:1], y[:1], mask[:1], t)
    var = var.expand_as(mean)[0].double()
    emp_mean, emp_var = x_t.double().mean(0), x_t.double().var(0)
    live = var > 0
    z_mean = (emp_mean - mean[0]).abs() / (var / N).sqrt().clamp(min=1e-12)
    assert float(z_mean[live].max()) < 5.5
    assert torch.equal(x_t[:, :, ~live[0]], x0[:, :, ~live[0]])  # no noise where rho = 0
    rel = ((emp_var - var).abs() / var)[live]
    assert float(rel.max()) < 5.5 * (2.0 / N) ** 0.5


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_posterior_is_exact(name, t, paper_schedule, face8):
    z_mean, z_var, z_corr = posterior_discrepancy(make(name, paper_schedule), face8, t)
    assert z_mean < 5.5 and z_var < 5.5 and z_corr < 5.5, (z_mean, z_var, z_corr)


@pytest.mark.parametrize("t", [2, 3, 4])
def test_seed_coefficient_is_caught(t, paper_schedule, face8):
    """The seed's eq. (2) writes coef_x0 = alpha_t eta_{t-1} / eta_t: the check must reject it."""
    proc = mrs.make_process("emmd", paper_schedule)
    eta, alpha = paper_schedule.etas, paper_schedule.alphas
    eta_prev = torch.cat([eta[:1], eta[:-1]])
    proc.coef_x0 = torch.where(eta > 0, alpha * eta_prev / eta.clamp(min=1e-12), eta * 0)
    z_mean, _, _ = posterior_discrepancy(proc, face8, t)
    assert z_mean > 20


def test_wrong_posterior_variance_is_caught(paper_schedule, face8):
    """Dropping the eta_{t-1} factor of the variance (a DDPM-style slip) must fail the check."""
    proc = mrs.make_process("resshift", paper_schedule)
    proc.post_var = paper_schedule.alphas.clone()
    _, z_var, _ = posterior_discrepancy(proc, face8, 3)
    assert z_var > 20


def test_emmd_known_pixels_stay_exact(paper_schedule, face8):
    proc = mrs.make_process("emmd", paper_schedule)
    x0, mask, y = _batch(face8, 64)
    known = (mask == 0).expand_as(x0)
    g = torch.Generator().manual_seed(0)
    for t in range(1, 5):
        x_t = proc.q_sample(x0, y, mask, t, generator=g)
        assert torch.equal(x_t[known], x0[known])
        assert not torch.equal(x_t[~known], x0[~known])
        x_t = proc.q_step(x_t, x0, y, mask, t, generator=g)
        assert torch.equal(x_t[known], x0[known])


def test_rates(paper_schedule, face8):
    _, mask, _ = face8
    hole = mask == 1
    assert torch.equal(mrs.make_process("resshift", paper_schedule).rate(mask),
                       torch.ones_like(mask))
    assert torch.equal(mrs.make_process("emmd", paper_schedule).rate(mask), mask)
    rho = mrs.make_process("emmd_smooth", paper_schedule, blur_width=1.0,
                           noise_floor=0.05).rate(mask)
    assert bool((rho[hole] == 1).all())  # every unknown pixel keeps rate 1
    assert float(rho.min()) == pytest.approx(0.05)  # the floor
    band = (~hole) & (rho > 0.05)
    assert int(band.sum()) > 0 and float(rho[band].max()) < 1  # the band lies in the known region


def test_smooth_rate_is_continuous(paper_schedule):
    mask = mrs.masks.box_mask(32, 10, 10, 12, 12)
    for width in (1.0, 2.0, 4.0):
        rho = mrs.make_process("emmd_smooth", paper_schedule, blur_width=width,
                               noise_floor=0.0).rate(mask)
        jump = max(float((rho[..., 1:, :] - rho[..., :-1, :]).abs().max()),
                   float((rho[..., :, 1:] - rho[..., :, :-1]).abs().max()))
        # 4-neighbours differ by at most 1 in distance: the jump is bounded by the steepest
        # unit step of the fall-off exp(-d^2 / 2 w^2), well below the hard mask's 1
        d = torch.linspace(0, 10 * width, 10_000, dtype=torch.float64)
        steepest = float((torch.exp(-d**2 / (2 * width**2))
                          - torch.exp(-(d + 1) ** 2 / (2 * width**2))).max())
        assert jump <= steepest + 1e-5 and steepest < 0.6
    # hard EMMD jumps the whole way at the edge
    rho = mrs.make_process("emmd", paper_schedule).rate(mask)
    assert float((rho[..., 1:, :] - rho[..., :-1, :]).abs().max()) == 1.0


def test_mvd_equals_emmd_on_hard_masks(paper_schedule, face8):
    x0, mask, y = _batch(face8, 16)
    mvd = mrs.make_process("mvd", paper_schedule)
    emmd = mrs.make_process("emmd", paper_schedule)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    for t in range(1, 5):
        a = mvd.q_sample(x0, y, mask, t, noise=eps)
        b = emmd.q_sample(x0, y, mask, t, noise=eps)
        assert torch.allclose(a, b, atol=1e-6)
        ma, va = mvd.posterior(a, x0, y, mask, t)
        mb, vb = emmd.posterior(b, x0, y, mask, t)
        assert torch.allclose(ma, mb, atol=1e-6) and torch.allclose(va, vb)


def test_mvd_is_inexact_on_fractional_masks(paper_schedule, face8):
    """Where 0 < m < 1, MVD's reverse variance is 1/m^2 too large: the check exposes it."""
    proc = mrs.make_process("mvd", paper_schedule, blur_width=1.0)
    _, z_var, _ = posterior_discrepancy(proc, face8, 3)
    assert z_var > 20
    # ... and its true_posterior is the exact one
    x0, mask, y = _batch(face8)
    g = torch.Generator().manual_seed(5)
    x_prev, x_t = _draw_pair(proc, x0, y, mask, 3, g)
    mean, var = proc.true_posterior(x_t, x0, y, mask, 3)
    r = (x_prev - mean).double()
    var = var.expand_as(r)[0].double()
    live = var > 1e-9
    rel = ((r.var(0) - var).abs() / var)[live]
    assert float(rel.max()) < 5.5 * (2.0 / N) ** 0.5


def test_prior_matches_marginal_at_T(proc, face8):
    x0, mask, y = _batch(face8, 8)
    _, var = proc.marginal(x0, y, mask, proc.T)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(2))
    x_T = proc.prior_sample(y, mask, noise=eps)
    if proc.name != "mvd":
        assert torch.allclose(x_T, y + var.sqrt() * eps, atol=1e-6)
    if proc.name in ("emmd", "mvd"):  # no noise on known pixels: x_T = y = x0 there
        known = (mask == 0).expand_as(x0)
        assert torch.equal(x_T[known], y[known])


def test_make_process_errors(paper_schedule):
    with pytest.raises(ValueError, match="name"):
        mrs.make_process("ddpm", paper_schedule)
    with pytest.raises(ValueError, match="blur_width"):
        mrs.make_process("emmd", paper_schedule, blur_width=2.0)
    with pytest.raises(ValueError, match="noise_floor"):
        mrs.make_process("emmd_smooth", paper_schedule, noise_floor=1.5)
    with pytest.raises(ValueError, match="schedule"):
        mrs.make_process("emmd", [0.1, 0.2])


# -- the Monte Carlo posterior check (notebooks 02-06 use it) ----------------------------------

@pytest.mark.parametrize("t", [1, 2, 4])
def test_posterior_check_passes_for_the_exact_posteriors(proc, face8, t):
    from mrs.core.montecarlo import posterior_check

    x0, mask, y = (z.double() for z in face8)
    post = proc.true_posterior if proc.name == "mvd" else None
    check = posterior_check(proc, x0, y, mask, t, n=4000, generator=torch.Generator().manual_seed(t),
                            posterior=post)
    assert check.holds(), (float(check.z.abs().max()), check.var_ratio)


def test_posterior_check_catches_a_wrong_variance(paper_schedule, face8):
    """It can fail: MVD's assumed reverse variance on a fractional mask, or a doubled variance."""
    from mrs.core.montecarlo import posterior_check

    x0, mask, y = (z.double() for z in face8)
    mvd = mrs.make_process("mvd", paper_schedule, blur_width=1.5)
    check = posterior_check(mvd, x0, y, mask, 3, n=4000, generator=torch.Generator().manual_seed(0))
    assert not check.holds()
    emmd = mrs.make_process("emmd", paper_schedule)

    def doubled(*args):
        mean, var = emmd.posterior(*args)
        return mean, 2 * var

    check = posterior_check(emmd, x0, y, mask, 3, n=4000, generator=torch.Generator().manual_seed(0),
                            posterior=doubled)
    assert not check.holds()
    with pytest.raises(ValueError, match="t must"):
        posterior_check(emmd, x0, y, mask, 5)
