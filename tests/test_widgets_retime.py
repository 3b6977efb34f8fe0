"""mrs.sampling.retime: a trained denoiser asked about another schedule (state map + fractional
times), the machinery behind the sampler app's "outside training" nets."""

import math

import pytest
import torch

import mrs
from mrs.sampling.repaint import fractional_times
from mrs.sampling.retime import eta_at, retimed_denoiser, retiming

TRAINED = mrs.Schedule.exponential()           # the shipped nets' schedule: T = 4, kappa = 2


def test_same_schedule_is_the_identity_and_same_kappa_is_the_repaint_warp():
    assert retiming(TRAINED, TRAINED).identity
    fine = mrs.Schedule.exponential(T=9)
    r = retiming(fine, TRAINED)
    assert not r.identity
    assert torch.equal(r.tau, fractional_times(fine, TRAINED))
    assert torch.equal(r.a, torch.ones_like(r.a)) and torch.equal(r.b, torch.zeros_like(r.b))
    assert torch.equal(r.eta, fine.etas)


@pytest.mark.parametrize("kappa", [0.5, 1.0, 3.0])
def test_the_state_map_matches_mean_and_noise_of_the_trained_marginal(kappa):
    sch = mrs.Schedule.exponential(T=6, kappa=kappa)
    r = retiming(sch, TRAINED)
    e, ep = sch.etas[1:], r.eta[1:]
    # hole pixels: (1 - eta) x0 + eta y + kappa sqrt(eta) eps
    #          ->  (1 - eta') x0 + eta' y + kappa_c sqrt(eta') eps
    assert torch.allclose(r.a[1:] * (1 - e), 1 - ep, atol=1e-12)
    assert torch.allclose(r.a[1:] * e + r.b[1:], ep, atol=1e-12)
    assert torch.allclose(r.a[1:] * kappa * e.sqrt(), TRAINED.kappa * ep.sqrt(), atol=1e-12)
    assert bool((ep[1:] > ep[:-1]).all()) and float(ep.max()) < 1
    # tau asks the net about eta' wherever eta' lies inside the trained range
    inside = ~r.clamped[1:]
    assert torch.allclose(eta_at(TRAINED, r.tau[1:][inside]), ep[inside], atol=1e-12)
    assert bool((r.tau[1:] >= 1).all() and (r.tau[1:] <= TRAINED.T).all())


def test_mapped_states_follow_the_trained_marginal_by_monte_carlo():
    """emmd_smooth (band and floor on known pixels, rate 1 in the hole) at kappa = 1, T = 6:
    a_t x_t + b_t y has mean x0 + rho eta' e0 and variance kappa_c^2 rho eta' on every pixel."""
    sch = mrs.Schedule.exponential(T=6, kappa=1.0)
    proc = mrs.make_process("emmd_smooth", sch, blur_width=1.0, noise_floor=0.05)
    r, t, n = retiming(sch, TRAINED), 4, 20000
    x0 = mrs.synthetic_faces(1, 16, seed=3).double()[:, :, 8:9, :]          # [1, 3, 1, 16]
    mask = torch.zeros(1, 1, 1, 16, dtype=torch.float64)
    mask[..., 9:] = 1.0
    y = mrs.degrade(x0, mask)
    X0, Y, M = (z.expand(n, -1, -1, -1) for z in (x0, y, mask))
    x_t = proc.q_sample(X0, Y, M, t, generator=torch.Generator().manual_seed(0))
    mapped = float(r.a[t]) * x_t + float(r.b[t]) * Y
    rho, eta_p = proc.rate(mask), float(r.eta[t])
    mean = x0 + rho * eta_p * (y - x0)
    var = (TRAINED.kappa**2 * rho * eta_p).expand_as(mean)
    z = (mapped.mean(0, keepdim=True) - mean) / (var / n).sqrt()
    assert float(z.abs().max()) < 5
    assert float((mapped.var(0, keepdim=True) / var - 1).abs().max()) < 5 * math.sqrt(2 / n)
    # and the unmapped states would fail: their variance is kappa^2 rho eta_t, a quarter of it here
    assert float((x_t.var(0, keepdim=True) / var - 1).abs().max()) > 0.1


def test_retimed_denoiser_asks_the_inner_one_with_mapped_state_and_fractional_time():
    sch = mrs.Schedule.exponential(T=5, kappa=1.5)
    r = retiming(sch, TRAINED)
    seen = {}

    def inner(x, tau, y, mask):
        seen.update(x=x, tau=tau)
        return torch.zeros_like(x)

    den = retimed_denoiser(inner, sch, TRAINED)
    x_t, y = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    den(x_t, torch.tensor([2, 5]), y, torch.ones(2, 1, 4, 4))
    assert seen["tau"].dtype == torch.float32
    assert torch.allclose(seen["tau"], r.tau[[2, 5]].float())
    expect = r.a[[2, 5]].float().view(-1, 1, 1, 1) * x_t + r.b[[2, 5]].float().view(-1, 1, 1, 1) * y
    assert torch.allclose(seen["x"], expect)


def test_retime_rejects_bad_input():
    with pytest.raises(ValueError, match="schedule"):
        retiming(4, TRAINED)
    with pytest.raises(ValueError, match="trained"):
        retiming(TRAINED, "coarse")
    with pytest.raises(ValueError, match="eta_T = 1"):
        retiming(mrs.Schedule.from_etas([0.01, 0.5, 1.0], kappa=1.0), TRAINED)
    with pytest.raises(ValueError, match="tau"):
        eta_at(TRAINED, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="callable"):
        retimed_denoiser(None, TRAINED, TRAINED)
    # the same kappa tolerates eta_T = 1 (no map is needed)
    assert retiming(mrs.Schedule.from_etas([0.01, 0.5, 1.0], kappa=2.0), TRAINED).a.eq(1).all()
