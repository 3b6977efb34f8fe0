"""The ``authors`` process (the paper's authors' code): where it coincides with ``emmd``, its own
forward chain and exact posterior, and, by Monte Carlo, how far its reverse chain's marginals are
from its forward marginals on fractional masks (the mean ends at ``x0 + k e0``)."""

import pytest
import torch

import mrs
from mrs.core import authors_mean_gain
from mrs.core.montecarlo import posterior_check

LEVELS = (1.0, 0.75, 0.5, 0.25)
N = 6000


def _binary_case():
    x0 = mrs.synthetic_faces(2, 16, seed=5)
    mask = mrs.masks.random_masks("box", 2, 16, torch.Generator().manual_seed(1))
    return x0, mask, mrs.degrade(x0, mask)


def test_registered_and_in_the_order(paper_schedule):
    names = mrs.process_names()              # built-ins first (tests may register more after them)
    assert names.index("authors") == names.index("emmd_smooth") + 1
    proc = mrs.make_process("authors", paper_schedule)
    assert isinstance(proc, mrs.core.AuthorsProcess) and proc.name == "authors"
    assert proc.options == {} and mrs.ProcessSpec.of("authors").build(paper_schedule).name == "authors"


def test_equals_emmd_on_binary_masks(paper_schedule):
    """m in {0, 1} and y = x0 on the known part: the same numbers as emmd, step by step."""
    x0, mask, y = _binary_case()
    a, e = mrs.make_process("authors", paper_schedule), mrs.make_process("emmd", paper_schedule)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x0.shape, generator=g)
    assert torch.allclose(a.prior_sample(y, mask, noise=noise), e.prior_sample(y, mask, noise=noise))
    for t in range(1, a.T + 1):
        for f in ("marginal", "posterior"):
            x_t = e.q_sample(x0, y, mask, t, noise=noise)         # on the support: x_t = y where known
            args = (x0, y, mask, t) if f == "marginal" else (x_t, x0, y, mask, t)
            for u, v in zip(getattr(a, f)(*args), getattr(e, f)(*args)):
                assert torch.allclose(u, v.expand_as(u), atol=1e-6), (f, t)
    out_a = mrs.sample(a, mrs.oracle_denoiser(x0), y, mask, generator=torch.Generator().manual_seed(3))
    out_e = mrs.sample(e, mrs.oracle_denoiser(x0), y, mask, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(out_a, out_e, atol=1e-6) and torch.allclose(out_a, x0, atol=1e-6)


def _levels_image():
    """A 2 x 8 image whose mask takes each level on two columns; y differs from x0 everywhere."""
    x0 = mrs.synthetic_faces(1, 16, seed=3)[..., :2, :8].contiguous()
    y = x0.flip(-1) * 0.5 - 0.3                                    # e0 = y - x0 away from 0
    mask = torch.tensor(LEVELS).repeat_interleave(2).view(1, 1, 1, 8).expand(1, 1, 2, 8).contiguous()
    return x0, y, mask


@pytest.mark.parametrize("t", [1, 3])
def test_forward_chain_and_its_exact_posterior(paper_schedule, t):
    """q_step composes to the marginal, and true_posterior is that chain's posterior; the authors'
    reverse kernel is not, where 0 < m < 1 (its variance is m^2 times too small)."""
    proc = mrs.make_process("authors", paper_schedule)
    x0, y, mask = _levels_image()
    exact = posterior_check(proc, x0, y, mask, t, n=N, generator=torch.Generator().manual_seed(t),
                            posterior=proc.true_posterior)
    assert exact.holds(), exact
    if t > 1:
        theirs = posterior_check(proc, x0, y, mask, t, n=N, generator=torch.Generator().manual_seed(t))
        assert not theirs.holds()
        ratio = theirs.var_emp / theirs.var                # sampled spread over the claimed one
        for m in LEVELS[1:]:
            cols = mask[0, 0, 0] == m
            assert float(ratio[..., cols].mean()) > 1.3, m   # claimed m^4 s^2, true m^2 s^2


def test_reverse_chain_mean_ends_at_x0_plus_k_e0(paper_schedule):
    """A perfect denoiser (the oracle): the chain's mean ends at x0 + k(m) e0, k from the closed
    recursion, and only m = 1 recovers x0; its intermediate marginals are narrower than the
    forward ones."""
    proc = mrs.make_process("authors", paper_schedule)
    x0, y, mask = _levels_image()
    X0, Y, M = (a.expand(N, -1, -1, -1).contiguous() for a in (x0, y, mask))
    traj = mrs.sample(proc, mrs.oracle_denoiser(X0), Y, M, generator=torch.Generator().manual_seed(0),
                      trajectory=True)
    e0 = (y - x0)[0]
    k = authors_mean_gain(proc, torch.tensor(LEVELS))
    assert abs(float(k[0])) < 1e-12 and [round(float(v), 2) for v in k[1:]] == [0.32, 0.68, 0.92]
    offset = traj.sample.mean(0) - x0[0]
    se = traj.sample.std(0) / N**0.5
    for m, km in zip(LEVELS, k):
        cols = mask[0, 0, 0] == m
        predicted = float(km) * e0[..., cols]
        assert bool(((offset[..., cols] - predicted).abs() <= 4 * se[..., cols] + 1e-6).all()), m
    var_ratio = traj.xs[1].var(0) / proc.marginal_var(mask, proc.T - 1)[0]
    for m in LEVELS[1:]:
        assert float(var_ratio[..., mask[0, 0, 0] == m].mean()) < 0.9, m


def test_bad_input(paper_schedule):
    proc = mrs.make_process("authors", paper_schedule)
    x0, y, mask = _levels_image()
    with pytest.raises(ValueError, match="mask"):
        proc.prior_sample(y, mask * 2)
    with pytest.raises(ValueError, match="t"):
        proc.marginal(x0, y, mask, proc.T + 1)
    with pytest.raises(ValueError, match="m must"):
        authors_mean_gain(proc, 1.5)
