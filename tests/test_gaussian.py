"""The exact Gaussian computations: Bayes denoiser and true conditional, checked independently."""

import pytest
import torch

import mrs
from mrs import gaussian as G
from mrs.core import authors_mean_gain


@pytest.fixture(scope="module")
def tiny():
    prior = G.GaussianPrior.squared_exponential(size=4, channels=1, length_scale=1.5,
                                                variance=0.3, mean=0.1)
    x0 = prior.sample(1, torch.Generator().manual_seed(0))
    mask = mrs.masks.box_mask(4, 1, 1, 2, 2)
    return prior, x0, mask, mrs.degrade(x0, mask)


def test_true_conditional_against_precision_form(tiny):
    """Schur complement vs the precision-matrix form: Sigma_c = (Lambda_HH)^{-1}."""
    prior, x0, mask, y = tiny
    mean, cov, hole = G.true_conditional(prior, y, mask)
    known = torch.tensor([i for i in range(prior.dim) if i not in set(hole.tolist())])
    lam = torch.linalg.inv(prior.cov)
    cov2 = torch.linalg.inv(lam[hole][:, hole])
    x_k = x0.double().flatten()[known]
    mean2 = prior.mean[hole] - cov2 @ lam[hole][:, known] @ (x_k - prior.mean[known])
    assert torch.allclose(cov, cov2, atol=1e-9) and torch.allclose(mean, mean2, atol=1e-9)


def test_true_conditional_by_rejection_sampling():
    """Keep prior draws whose known part is close to y's: their hole follows the conditional."""
    prior = G.GaussianPrior.squared_exponential(size=2, channels=1, length_scale=1.0,
                                                variance=0.25)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    x0 = torch.tensor([[[[0.0, 0.3], [-0.2, 0.1]]]])
    y = mrs.degrade(x0, mask)
    mean, cov, hole = G.true_conditional(prior, y, mask)
    draws = prior.sample(2_000_000, torch.Generator().manual_seed(1)).flatten(1).double()
    keep = ((draws[:, 1:] - x0.flatten()[1:].double()).abs() < 0.07).all(1)
    assert int(keep.sum()) > 1500
    kept = draws[keep, 0]
    se = float(cov[0, 0].sqrt()) / float(keep.sum()) ** 0.5
    assert abs(float(kept.mean() - mean[0])) < 5 * se + 0.01
    assert float(kept.var()) == pytest.approx(float(cov[0, 0]), rel=0.1)


def _check_conditional_mean(prior, proc, mask, t, fill=0.0, known_tol=1e-6):
    """E[x0 | x_t, y] is characterised by orthogonality: the error x0 - x0_hat has zero mean and
    no correlation with x_t (a Monte Carlo estimate of E[x0 | x_t] over prior draws)."""
    n = 40_000
    g = torch.Generator().manual_seed(t)
    x0 = prior.sample(n, g)
    masks = mask.expand(n, -1, -1, -1)
    y = mrs.degrade(x0, masks, fill)
    x_t = proc.q_sample(x0, y, masks, t, generator=g)
    err = (x0 - G.bayes_denoiser(prior, proc, fill)(x_t, t, y, masks)).double().flatten(1)
    xt = x_t.double().flatten(1)
    hole = (mask >= 1).flatten()
    assert float(err[:, ~hole].abs().max()) < known_tol  # known values are given by y
    e = err[:, hole]
    assert float(e.mean(0).abs().max()) < 5 * float(e.std(0).max()) / n**0.5
    cov = (e - e.mean(0)).T @ (xt - xt.mean(0)) / n
    corr = cov / (e.std(0)[:, None] * xt.std(0)[None, :]).clamp(min=1e-12)
    assert float(corr.abs().max()) < 5 / n**0.5
    # and it beats a slightly different linear estimator
    worse = (x0.double().flatten(1) - (x0.double().flatten(1) - err) * 1.05)[:, hole]
    assert float((e**2).mean()) < float((worse**2).mean())


@pytest.mark.parametrize("name", mrs.process_names())
@pytest.mark.parametrize("t", [1, 4])
def test_bayes_denoiser_is_the_conditional_mean(name, t, tiny):
    prior, _, mask, _ = tiny
    _check_conditional_mean(prior, mrs.make_process(name, mrs.Schedule.exponential()), mask, t)


def test_zero_mask_returns_x0(tiny):
    prior, x0, _, _ = tiny
    mask = torch.zeros(1, 1, 4, 4)
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    den = G.bayes_denoiser(prior, proc)
    x_t = proc.q_sample(x0, x0, mask, 3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(den(x_t, 3, x0, mask), x0)


def test_sampling_error_and_w2(tiny):
    prior, x0, mask, y = tiny
    assert G.gaussian_w2(torch.zeros(3), torch.eye(3), torch.zeros(3), torch.eye(3)) < 1e-7
    # W2 between N(0, I) and N(m, 4 I) in 3-D: sqrt(|m|^2 + 3 (2 - 1)^2)
    m = torch.tensor([1.0, 0.0, 0.0])
    assert G.gaussian_w2(torch.zeros(3), torch.eye(3), m, 4 * torch.eye(3)) == pytest.approx(2.0)
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    r = G.sampling_error(prior, proc, y, mask, n=2000, generator=torch.Generator().manual_seed(0))
    assert set(r) == {"mean_rmse", "std_ratio", "w2", "seam"}
    assert r["mean_rmse"] < 0.05 and 0 < r["std_ratio"] < 1.5


def test_fitted_prior_is_well_conditioned():
    prior = G.GaussianPrior.fit(mrs.synthetic_faces(50, 8, seed=0), shrinkage=0.1)
    eig = torch.linalg.eigvalsh(prior.cov)
    assert float(eig.min()) > 0 and float(eig.max() / eig.min()) < 1e4
    assert prior.shape == (3, 8, 8)
    s = prior.sample(3, torch.Generator().manual_seed(0))
    assert s.shape == (3, 3, 8, 8)


def test_bad_inputs(tiny):
    prior, x0, mask, y = tiny
    with pytest.raises(ValueError, match="batch size 1"):
        G.true_conditional(prior, y.expand(2, -1, -1, -1), mask.expand(2, -1, -1, -1))
    with pytest.raises(ValueError, match="fill"):
        G.true_conditional(prior, y, mask, fill=float("nan"))
    with pytest.raises(ValueError, match="fill"):
        G.bayes_denoiser(prior, mrs.make_process("emmd", mrs.Schedule.exponential()), fill="harmonic")
    with pytest.raises(ValueError, match="shrinkage"):
        G.GaussianPrior.fit(x0, shrinkage=0.0)
    with pytest.raises(ValueError, match="proc"):
        G.bayes_denoiser(prior, "emmd")


# -- the exact law of the sampler's output --------------------------------------------------------

def _hole_moments(samples, hole):
    v = samples.double().flatten(1)[:, hole]
    return v.mean(0), torch.cov(v.T)


def test_exact_samples_follow_the_true_conditional(tiny):
    prior, _, mask, y = tiny
    n = 40_000
    out = G.exact_samples(prior, y, mask, n, torch.Generator().manual_seed(0))
    assert out.shape == (n, 1, 4, 4)
    known = (mask < 0.5).expand_as(out)
    assert torch.equal(out[known], y.expand_as(out)[known])           # known pixels are y's
    mean_c, cov_c, hole = G.true_conditional(prior, y, mask)
    m, c = _hole_moments(out, hole)
    sd = cov_c.diagonal().sqrt()
    assert float(((m - mean_c).abs() / sd).max()) < 5 / n**0.5
    se = ((sd[:, None] * sd[None, :]) ** 2 + cov_c**2).sqrt() / n**0.5  # SE of a covariance
    assert float(((c - cov_c).abs() / se).max()) < 5


@pytest.mark.parametrize("kappa, T", [(2.0, 4), (1.0, 3)])
def test_sampler_law_matches_monte_carlo(kappa, T, tiny):
    """The recursion against mrs.sample with the Bayes denoiser: mean and every covariance entry
    within 5 standard errors of the Monte Carlo estimate."""
    prior, _, mask, y = tiny
    proc = mrs.make_process("emmd", mrs.Schedule.exponential(T=T, kappa=kappa))
    mean, cov = G.sampler_law(prior, proc, y, mask)
    n = 40_000
    out = mrs.sample(proc, G.bayes_denoiser(prior, proc), y.expand(n, -1, -1, -1),
                     mask.expand(n, -1, -1, -1), generator=torch.Generator().manual_seed(1))
    _, _, hole = G.true_conditional(prior, y, mask)
    m, c = _hole_moments(out, hole)
    sd = cov.diagonal().sqrt()
    assert float(((m - mean).abs() / sd).max()) < 5 / n**0.5
    se = ((sd[:, None] * sd[None, :]) ** 2 + cov**2).sqrt() / n**0.5
    assert float(((c - cov).abs() / se).max()) < 5
    # and the sampler is under-dispersed: the law is not the true conditional
    assert G.law_metrics(prior, y, mask, mean, cov)["std_ratio"] < 0.9


def test_adding_the_missing_covariance_gives_the_true_conditional(tiny):
    prior, _, mask, y = tiny
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    mean_c, cov_c, _ = G.true_conditional(prior, y, mask)
    plain = G.law_metrics(prior, y, mask, *G.sampler_law(prior, proc, y, mask))
    mean, cov = G.sampler_law(prior, proc, y, mask, add_missing=True)
    fixed = G.law_metrics(prior, y, mask, mean, cov)
    assert fixed["std_ratio"] == pytest.approx(1.0, abs=2e-3)
    assert fixed["w2"] < 0.1 * plain["w2"]
    # what is left is x_T's law: the forward x_T keeps a_T x0 = 0.02 x0, the sampler starts from y
    assert float((cov - cov_c).abs().max()) < 0.01 * float(cov_c.diagonal().max())
    assert float((mean - mean_c).abs().max()) < 0.05 * float(mean_c.abs().max())


def test_limit_law_is_the_law_of_the_last_step(tiny):
    """E[x0 | x_1] with x0 from the true conditional and x_1 from the forward process (Monte
    Carlo), and the sampler's law approaching it as T grows."""
    prior, _, mask, y = tiny
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    mean, cov = G.limit_law(prior, proc, y, mask)
    n = 40_000
    g = torch.Generator().manual_seed(2)
    x0 = G.exact_samples(prior, y, mask, n, g)
    ys, ms = y.expand(n, -1, -1, -1), mask.expand(n, -1, -1, -1)
    x1 = proc.q_sample(x0, ys, ms, 1, generator=g)
    _, _, hole = G.true_conditional(prior, y, mask)
    m, c = _hole_moments(G.bayes_denoiser(prior, proc)(x1, 1, ys, ms), hole)
    sd = cov.diagonal().sqrt()
    assert float(((m - mean).abs() / sd).max()) < 5 / n**0.5
    se = ((sd[:, None] * sd[None, :]) ** 2 + cov**2).sqrt() / n**0.5
    assert float(((c - cov).abs() / se).max()) < 5
    lim = G.law_metrics(prior, y, mask, mean, cov)["std_ratio"]
    ratios = [G.law_metrics(prior, y, mask, *G.sampler_law(
        prior, mrs.make_process("emmd", mrs.Schedule.exponential(T=T)), y, mask))["std_ratio"]
        for T in (4, 15, 60)]
    assert ratios[0] < ratios[1] < ratios[2] < lim


def test_fill_hole_puts_values_where_true_conditional_indexes(tiny):
    prior, _, mask, y = tiny
    mean_c, _, hole = G.true_conditional(prior, y, mask)
    img = G.fill_hole(torch.zeros_like(y), hole, torch.ones(hole.numel(), dtype=torch.float64))
    assert torch.equal(img, (mask > 0.5).float())
    assert torch.allclose(G.fill_hole(y, hole, mean_c).double().flatten()[hole], mean_c, atol=1e-6)


def test_bad_inputs_of_the_law_functions(tiny):
    prior, _, mask, y = tiny
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    with pytest.raises(ValueError, match="n must"):
        G.exact_samples(prior, y, mask, 0)
    with pytest.raises(ValueError, match="proc"):
        G.sampler_law(prior, "emmd", y, mask)
    with pytest.raises(ValueError, match="fill"):
        G.limit_law(prior, proc, y, mask, fill=float("inf"))
    _, _, hole = G.true_conditional(prior, y, mask)
    with pytest.raises(ValueError, match="batch size 1"):
        G.fill_hole(y.expand(2, -1, -1, -1), hole, torch.zeros(hole.numel()))
    with pytest.raises(ValueError, match="match hole"):
        G.fill_hole(y, hole, torch.zeros(3))
    with pytest.raises(ValueError, match="cov must be"):
        G.law_metrics(prior, y, mask, torch.zeros(hole.numel()), torch.eye(3))


# -- fractional masks: y = (1 - m) x0 + m fill, the hole is {m = 1} ------------------------------

FILL = -0.7


@pytest.fixture(scope="module")
def frac(tiny):
    """The tiny prior with a 2x2 hole framed by fractional values; the same hole as a hard mask."""
    prior, x0, hard, _ = tiny
    mask = torch.tensor([[0.0, 0.3, 0.6, 0.0], [0.9, 1.0, 1.0, 0.6], [0.3, 1.0, 1.0, 0.9],
                         [0.0, 0.6, 0.3, 0.0]]).view(1, 1, 4, 4)
    assert torch.equal(mask >= 1, hard > 0.5)
    return prior, x0, mask, mrs.degrade(x0, mask, FILL), hard, mrs.degrade(x0, hard, FILL)


def test_fractional_mask_knows_x0_and_conditions_the_hole_as_a_hard_one(frac):
    prior, x0, mask, y, hard, y_hard = frac
    mean, cov, hole = G.true_conditional(prior, y, mask, FILL)
    mean_h, cov_h, hole_h = G.true_conditional(prior, y_hard, hard, FILL)
    assert torch.equal(hole, hole_h) and torch.equal(cov, cov_h)
    assert torch.allclose(mean, mean_h, atol=1e-5)
    known = (mask < 1).expand_as(x0)
    out = G.exact_samples(prior, y, mask, 5, torch.Generator().manual_seed(0), fill=FILL)
    assert torch.allclose(out[known.expand_as(out)], x0.expand_as(out)[known.expand_as(out)], atol=1e-5)
    for name in ("authors", "emmd"):
        proc = mrs.make_process(name, mrs.Schedule.exponential())
        x_t = proc.q_sample(x0, y, mask, 2, generator=torch.Generator().manual_seed(1))
        pred = G.bayes_denoiser(prior, proc, FILL)(x_t, 2, y, mask)
        pred_hard = G.bayes_denoiser(prior, proc, FILL)(x_t, 2, y_hard, hard)
        assert float((pred - x0)[known].abs().max()) < 1e-5        # x0_K = (y - m fill) / (1 - m)
        assert torch.allclose(pred[~known], pred_hard[~known], atol=1e-5)
        assert float((pred - x0)[~known].abs().max()) > 1e-3       # the hole is not given


@pytest.mark.parametrize("name", ["authors", "emmd", "mvd"])
def test_bayes_denoiser_is_the_conditional_mean_on_a_fractional_mask(name, frac):
    """x_t on the fractional values carries nothing on the hole: the error stays orthogonal to
    every value of x_t, fractional ones included."""
    prior, _, mask, _, _, _ = frac
    proc = mrs.make_process(name, mrs.Schedule.exponential())
    _check_conditional_mean(prior, proc, mask, 2, FILL, known_tol=2e-5)


def test_authors_sampler_ends_at_x0_plus_k_e0_and_emmd_at_x0(frac):
    """With the Bayes denoiser: on every fractional value the authors' sampler's mean is
    x0 + k(m) e0 (exact law, and Monte Carlo within 4 SE), the exact process returns x0; on the
    hole both are the same sampler, bit for bit."""
    prior, x0, mask, y, hard, y_hard = frac
    sch = mrs.Schedule.exponential()
    authors, emmd = mrs.make_process("authors", sch), mrs.make_process("emmd", sch)
    m = mask.expand_as(x0).flatten().double()
    x0f, e0 = x0.flatten().double(), (y - x0).flatten().double()
    mean, var, known = G.sampler_known_law(authors, y, mask, FILL)
    frac_ = (m[known] > 0)
    k = authors_mean_gain(authors, m[known][frac_])
    assert bool((k > 0.05).all())
    assert torch.allclose(mean[frac_] - x0f[known][frac_], k * e0[known][frac_], atol=1e-6)
    assert bool((var[frac_] > 0).all()) and float(var[~frac_].abs().max()) == 0
    mean_e, var_e, _ = G.sampler_known_law(emmd, y, mask, FILL)
    assert torch.allclose(mean_e, x0f[known], atol=1e-5) and float(var_e.abs().max()) == 0
    n = 20_000
    out = {p.name: mrs.sample(p, G.bayes_denoiser(prior, p, FILL), y.expand(n, -1, -1, -1),
                              mask.expand(n, -1, -1, -1), generator=torch.Generator().manual_seed(3))
           for p in (authors, emmd)}
    v = out["authors"].double().flatten(1)[:, known]
    z = (v.mean(0) - mean)[frac_] / (var[frac_] / n).sqrt()
    assert float(z.abs().max()) < 4
    assert torch.allclose(v.var(0)[frac_], var[frac_], rtol=0.1)
    assert float((out["emmd"].double().flatten(1)[:, known] - x0f[known]).abs().max()) < 1e-5
    hole = ~(mask < 1).expand_as(x0).flatten()
    assert torch.equal(out["authors"].flatten(1)[:, hole], out["emmd"].flatten(1)[:, hole])
    # the hole's law is the hard mask's, given the same known values
    law, law_hard = G.sampler_law(prior, authors, y, mask, fill=FILL), G.sampler_law(
        prior, emmd, y_hard, hard, fill=FILL)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(law, law_hard))


def test_what_the_fractional_computations_refuse(frac):
    prior, x0, mask, y, _, _ = frac
    sch = mrs.Schedule.exponential()

    class HalfRate(mrs.Process):
        def rate(self, mask):
            return 0.5 * mask

    class Bent(mrs.core.ExactMasked):
        def p_step(self, x_t, x0_pred, y, mask, t, noise=None, generator=None):
            return super().p_step(x_t, x0_pred, y, mask, t, noise, generator) ** 2

    half = HalfRate(sch)
    x_t = half.q_sample(x0, y, mask, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="rate 1 on every hole"):
        G.bayes_denoiser(prior, half, FILL)(x_t, 2, y, mask)
    with pytest.raises(ValueError, match="rate 1 on every hole"):
        G.sampler_law(prior, half, y, mask, fill=FILL)
    with pytest.raises(ValueError, match="not affine"):
        G.sampler_known_law(Bent(sch), y, mask, FILL)
    with pytest.raises(ValueError, match="batch size 1"):
        G.sampler_known_law(Bent(sch), y.expand(2, -1, -1, -1), mask.expand(2, -1, -1, -1), FILL)
    with pytest.raises(ValueError, match="proc"):
        G.sampler_known_law("authors", y, mask, FILL)
