"""The sampler's eta (the DDIM-style family of ``mrs.sampling.ddim``; not the schedule's eta_t)."""

import math

import pytest
import torch

import mrs
from mrs.sampling.ddim import check_eta, ddim_gain, ddim_kernel, ddim_step

from .conftest import make

FAMILY = ["resshift", "emmd", "emmd_smooth"]
N = 20_000


@pytest.fixture(scope="module")
def strip():
    """N copies of a row of four pixels, the first a hole, stacked as the N rows of one image (the
    rate of emmd_smooth is then computed once, not N times): emmd_smooth (blur_width 1, floor 0.05)
    gives the four columns the rates 1, 0.61, 0.14, 0.05; emmd 1, 0, 0, 0; resshift 1 everywhere."""
    row = mrs.synthetic_faces(1, 16, seed=3)[:, :, 8:9, 6:10].double()
    mask = torch.zeros(1, 1, N, 4, dtype=torch.float64)
    mask[..., 0] = 1.0
    x0 = row.expand(1, 3, N, 4).contiguous()
    return x0, mask, mrs.degrade(x0, mask)


@pytest.fixture(scope="module")
def batch():
    x0 = mrs.synthetic_faces(3, 16, seed=1)
    mask = mrs.masks.random_masks("box", 3, 16, torch.Generator().manual_seed(0))
    return x0, mask, mrs.degrade(x0, mask)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("name", FAMILY)
def test_the_step_keeps_every_marginal(name, eta, strip, paper_schedule):
    """If x_t ~ q(x_t | x0, y) and the denoiser is the oracle, the step gives
    x_{t-1} ~ q(x_{t-1} | x0, y): mean and variance within 5 standard errors on every pixel and
    channel, at every t; and the regression slope on x_t is the family's g_t."""
    proc = make(name, paper_schedule)
    x0, mask, y = strip
    gain = ddim_gain(proc, eta)
    with proc.fixed_mask(mask):
        for t in range(1, proc.T + 1):
            g = torch.Generator().manual_seed(100 * t + int(10 * eta))
            x_t = proc.q_sample(x0, y, mask, t, generator=g)
            x0_pred = mrs.oracle_denoiser(x0)(x_t, t, y, mask)
            x_prev = ddim_step(proc, x_t, x0_pred, y, mask, t, eta, generator=g)
            if t == 1:                            # eta_0 = 0: the step returns x0 exactly
                assert torch.allclose(x_prev, x0, atol=1e-12)
                continue
            mean, var = proc.marginal(x0, y, mask, t - 1)
            mean, var = mean[:, :, 0], var[:, :, 0].expand_as(mean[:, :, 0])   # [1, 3, 4]
            moving = var > 0                                                    # rho > 0
            stuck = (~moving).unsqueeze(2).expand_as(x_t)
            assert torch.equal(x_prev[stuck], x_t[stuck])                    # rho = 0: x_t kept
            z = (x_prev.mean(2) - mean)[moving] / (var[moving] / N).sqrt()
            ratio = x_prev.var(2)[moving] / var[moving]
            assert z.abs().max() < 5, (t, z)
            assert (ratio - 1).abs().max() < 5 * math.sqrt(2 / N), (t, ratio)
            xc, pc = x_t - x_t.mean(2, keepdim=True), x_prev - x_prev.mean(2, keepdim=True)
            slope = ((xc * pc).mean(2) / xc.pow(2).mean(2))[moving]
            _, s2 = ddim_kernel(proc, x_t, x0_pred, y, mask, t, eta)        # the step's noise
            s2 = s2[:, :, 0].expand_as(var)[moving]
            slope_se = s2.sqrt() / (xc.pow(2).mean(2)[moving].sqrt() * math.sqrt(N))
            assert ((slope - float(gain[t])).abs() <= 5 * slope_se + 1e-9).all(), (t, slope)


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("name", FAMILY)
def test_the_oracle_gives_x0_back_for_every_eta(name, eta, batch, paper_schedule):
    x0, mask, y = batch
    out = mrs.sample(make(name, paper_schedule), mrs.oracle_denoiser(x0), y, mask,
                     generator=torch.Generator().manual_seed(0), eta=eta)
    assert torch.allclose(out, x0, atol=1e-6)


@pytest.mark.parametrize("name", list(mrs.process_names()))
def test_eta_one_is_the_posterior_step(name, batch, paper_schedule):
    """eta = 1 is proc.p_step with the same noise, bit for bit; the family's formula at eta = 1
    is the exact posterior up to rounding; the default of mrs.sample is eta = 1."""
    proc = make(name, paper_schedule)
    x0, mask, y = batch
    den = mrs.leaky_oracle(x0, proc, 0.3)
    for t in range(1, proc.T + 1):
        x_t = proc.q_sample(x0, y, mask, t, generator=torch.Generator().manual_seed(t))
        x0_pred = den(x_t, t, y, mask)
        eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(50 + t))
        assert torch.equal(ddim_step(proc, x_t, x0_pred, y, mask, t, 1.0, noise=eps),
                           proc.p_step(x_t, x0_pred, y, mask, t, noise=eps))
        if isinstance(proc, mrs.Process):           # the family's formula (mvd, authors: p_step only)
            xd, pd, yd, md = (a.double() for a in (x_t, x0_pred, y, mask))
            mean, var = ddim_kernel(proc, xd, pd, yd, md, t, 1.0)
            mean_p, var_p = proc.posterior(xd, pd, yd, md, t)
            assert torch.allclose(mean, mean_p, atol=1e-12) and torch.allclose(var, var_p, atol=0)
    a = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(3))
    b = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(3), eta=1)
    c = mrs.make_sampler("ancestral")(proc, den, y, mask, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(a, c)


def test_the_gain_at_the_ends(paper_schedule):
    proc = mrs.make_process("resshift", paper_schedule)
    assert torch.allclose(ddim_gain(proc, 1.0), proc.coef_xt, atol=1e-15)
    assert torch.allclose(ddim_gain(proc, 0.0), proc.coef_xt.sqrt(), atol=1e-15)
    assert float(ddim_gain(proc, 0.5)[1]) == 0.0                       # t = 1: eta_0 = 0


@pytest.mark.parametrize("name", FAMILY)
def test_eta_zero_is_deterministic(name, batch, paper_schedule):
    proc = make(name, paper_schedule)
    x0, mask, y = batch
    den = mrs.leaky_oracle(x0, proc, 0.3)
    x_t = proc.q_sample(x0, y, mask, 3, generator=torch.Generator().manual_seed(0))
    x0_pred = den(x_t, 3, y, mask)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    state = g1.get_state()
    a = ddim_step(proc, x_t, x0_pred, y, mask, 3, 0.0, generator=g1)
    b = ddim_step(proc, x_t, x0_pred, y, mask, 3, 0.0, generator=g2)
    assert torch.equal(a, b)
    assert torch.equal(g1.get_state(), state)                          # nothing was drawn
    c = ddim_step(proc, x_t, x0_pred, y, mask, 3, 0.5, generator=torch.Generator().manual_seed(1))
    d = ddim_step(proc, x_t, x0_pred, y, mask, 3, 0.5, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(c, d)
    # the whole chain: only x_T is random, so the same x_T gives the same sample
    x_T = proc.prior_sample(y, mask, generator=torch.Generator().manual_seed(5))
    outs = []
    for seed in (1, 2):
        x = x_T
        for t in range(proc.T, 0, -1):
            x = ddim_step(proc, x, den(x, t, y, mask), y, mask, t, 0.0,
                          generator=torch.Generator().manual_seed(seed))
        outs.append(x)
    assert torch.equal(*outs)


def test_known_pixels_of_emmd_keep_x_t(batch, paper_schedule):
    proc = mrs.make_process("emmd", paper_schedule)
    x0, mask, y = batch
    x_t = proc.q_sample(x0, y, mask, 2, generator=torch.Generator().manual_seed(0))
    wrong = x0 + 0.3                                                    # a prediction off everywhere
    t = torch.full((x0.shape[0],), 2, dtype=torch.long)
    out = ddim_step(proc, x_t, wrong, y, mask, t, 0.5, generator=torch.Generator().manual_seed(1))
    known = (mask == 0).expand_as(x0)
    assert torch.equal(out[known], x_t[known])
    assert not torch.equal(out[~known], x_t[~known])


BAD = [-0.1, 1.5, float("nan"), float("inf"), "0.5", None, True, torch.tensor(0.5)]


@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_bad_eta_raises_naming_eta(bad, batch, paper_schedule):
    proc = mrs.make_process("emmd", paper_schedule)
    x0, mask, y = batch
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    with pytest.raises(ValueError, match="eta"):
        mrs.sample(proc, mrs.oracle_denoiser(x0), y, mask, generator=g, eta=bad)
    assert torch.equal(g.get_state(), state)                            # raised before any draw
    with pytest.raises(ValueError, match="eta"):
        ddim_step(proc, y, x0, y, mask, 2, bad)
    with pytest.raises(ValueError, match="eta"):
        mrs.make_sampler("ancestral", eta=bad)
    with pytest.raises(ValueError, match="eta"):
        check_eta(bad)


def test_eta_accepts_ints_and_numpy_numbers():
    np = pytest.importorskip("numpy")
    assert check_eta(0) == 0.0 and check_eta(1) == 1.0 and check_eta(np.float32(0.25)) == 0.25


def test_mvd_takes_only_eta_one(batch, paper_schedule):
    """MVD is outside the per-pixel-rate family: eta != 1 raises ValueError (naming eta and mvd)
    before anything is drawn; eta = 1 is its own p_step."""
    proc = mrs.make_process("mvd", paper_schedule)
    x0, mask, y = batch
    den = mrs.oracle_denoiser(x0)
    for eta in (0.0, 0.5):
        with pytest.raises(ValueError, match=r"eta.*'mvd'"):
            mrs.sample(proc, den, y, mask, eta=eta)
        with pytest.raises(ValueError, match="eta"):
            ddim_step(proc, y, x0, y, mask, 2, eta)
        with pytest.raises(ValueError, match="eta"):
            mrs.make_sampler("ancestral", eta=eta)(proc, den, y, mask)
    with pytest.raises(ValueError, match="mrs.Process"):
        ddim_kernel(proc, y, x0, y, mask, 2, 1.0)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(mrs.sample(proc, den, y, mask, generator=g, eta=1.0), x0)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_the_sampler_object_carries_eta(eta, batch, paper_schedule):
    proc = mrs.make_process("emmd_smooth", paper_schedule)
    x0, mask, y = batch
    den = mrs.leaky_oracle(x0, proc, 0.3)
    sampler = mrs.make_sampler("ancestral", eta=eta)
    assert sampler.eta == eta and sampler.nfe(proc) == proc.T
    out = sampler(proc, den, y, mask, generator=torch.Generator().manual_seed(4))
    ref = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(4), eta=eta)
    assert torch.equal(out, ref)
    default = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(out, default)
    traj = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(4), eta=eta,
                      trajectory=True)
    assert torch.equal(traj.sample, ref) and len(traj.xs) == proc.T + 1
