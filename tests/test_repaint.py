import pytest
import torch

import mrs
from mrs.sampling.repaint import fractional_times, repaint_sample, repaint_times, warp_denoiser


def nfe_formula(T, J, r):
    return T + (r - 1) * J * ((T - 1) // J)


@pytest.fixture(scope="module")
def sch20():
    return mrs.Schedule.exponential(T=20)


@pytest.fixture(scope="module")
def batch():
    x0 = mrs.synthetic_faces(2, 8, seed=5)[:, :3]
    mask = mrs.masks.box_mask(8, 2, 1, 4, 5, n=2)
    y = (1 - mask) * x0  # hole zeroed
    return x0, mask, y


@pytest.mark.parametrize("T,J,r", [(250, 10, 10), (20, 5, 3), (23, 5, 4), (10, 10, 5), (7, 2, 2),
                                   (1, 1, 3), (12, 1, 2), (5, 3, 1)])
def test_repaint_times_path(T, J, r):
    path = repaint_times(T, J, r)
    assert path[0] == T and path[-1] == 0
    moves = [b - a for a, b in zip(path[:-1], path[1:])]
    assert set(moves) <= {-1, 1}
    assert max(path) == T and min(path) == 0 and path.count(0) == 1
    assert moves.count(-1) == nfe_formula(T, J, r)
    # every downward segment between jump points is descended r times (the last one once)
    downs = [a for a, m in zip(path[:-1], moves) if m == -1]
    for t in range(1, T + 1):
        expected = 1 if t <= (T - 1) % J + 1 or r == 1 else r
        assert downs.count(t) == expected, t


def test_repaint_times_known_path():
    assert repaint_times(6, 2, 2) == [6, 5, 4, 5, 6, 5, 4, 3, 2, 3, 4, 3, 2, 1, 0]
    path = repaint_times(250)  # the defaults: jump_length 10, resamplings 10
    assert sum(b < a for a, b in zip(path[:-1], path[1:])) == nfe_formula(250, 10, 10) == 2410


@pytest.mark.parametrize("T,J", [(8, 3), (5, 5), (5, 9)])
def test_repaint_times_plain(T, J):
    plain = list(range(T, -1, -1))
    assert repaint_times(T, J, 1) == plain
    assert repaint_times(T, T + J, 4) == plain
    assert repaint_times(T, T, 4) == plain


@pytest.mark.parametrize("name", ["resshift", "emmd"])
def test_oracle_returns_x0(name, sch20, batch):
    x0, mask, y = batch
    proc = mrs.make_process(name, sch20)
    out = repaint_sample(proc, mrs.oracle_denoiser(x0), y, mask, jump_length=5, resamplings=3,
                         generator=torch.Generator().manual_seed(0))
    assert out.shape == x0.shape
    hole = mask.expand_as(x0) > 0.5
    assert torch.allclose(out[hole], x0[hole], atol=1e-5)
    assert torch.equal(out[~hole], y[~hole])


def test_seeds_and_nfe(sch20, batch):
    x0, mask, y = batch
    proc = mrs.make_process("resshift", sch20)
    den = mrs.leaky_oracle(x0, proc, 0.3)

    def run(seed):
        return repaint_sample(proc, den, y, mask, jump_length=4, resamplings=2, return_nfe=True,
                              generator=torch.Generator().manual_seed(seed))

    (a, nfe), (b, _), (c, _) = run(3), run(3), run(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert nfe == nfe_formula(20, 4, 2) == 20 + 4 * 4


def test_nfe_counts_denoiser_calls(sch20, batch):
    x0, mask, y = batch
    calls = []
    oracle = mrs.oracle_denoiser(x0)

    def den(x_t, t, y, mask):
        assert t.dtype == torch.long and t.shape == (2,)
        calls.append(int(t[0]))
        return oracle(x_t, t, y, mask)

    proc = mrs.make_process("resshift", sch20)
    _, nfe = repaint_sample(proc, den, y, mask, jump_length=3, resamplings=4, return_nfe=True,
                            progress=True)
    assert nfe == len(calls) == nfe_formula(20, 3, 4)
    path = repaint_times(20, 3, 4)
    assert calls == [a for a, b in zip(path[:-1], path[1:]) if b < a]


def test_bad_prediction_names_t(sch20, batch):
    x0, mask, y = batch
    proc = mrs.make_process("resshift", sch20)
    with pytest.raises(ValueError, match="t=20"):
        repaint_sample(proc, lambda x, t, y, m: x[:, :1], y, mask)
    with pytest.raises(ValueError, match="NaN"):
        repaint_sample(proc, lambda x, t, y, m: torch.full_like(x, float("nan")), y, mask)


def test_bad_inputs(sch20, batch):
    x0, mask, y = batch
    proc = mrs.make_process("resshift", sch20)
    den = mrs.oracle_denoiser(x0)
    with pytest.raises(ValueError, match="jump_length"):
        repaint_times(10, 0, 2)
    with pytest.raises(ValueError, match="resamplings"):
        repaint_times(10, 2, 0)
    with pytest.raises(ValueError, match="T must"):
        repaint_times(0)
    with pytest.raises(ValueError, match="jump_length"):
        repaint_sample(proc, den, y, mask, jump_length=0)
    with pytest.raises(ValueError, match="resamplings"):
        repaint_sample(proc, den, y, mask, resamplings=0)
    with pytest.raises(ValueError, match="proc"):
        repaint_sample(sch20, den, y, mask)
    with pytest.raises(ValueError, match="denoiser"):
        repaint_sample(proc, "net", y, mask)
    with pytest.raises(ValueError, match="mask"):
        repaint_sample(proc, den, y, mask[:, :, :4])


def test_fractional_times(sch20):
    coarse = mrs.Schedule.exponential(T=4)
    same = fractional_times(coarse, coarse)
    assert same.dtype == torch.float64 and torch.equal(same, torch.arange(5, dtype=torch.float64))
    tau = fractional_times(sch20, coarse)
    assert tau.shape == (21,) and tau[0] == 0
    assert torch.all(tau[2:] > tau[1:-1])
    assert tau[1] == 1.0 and tau[-1] == 4.0  # same first and last noise level
    # the interpolant of sqrt(eta) at tau gives back the fine level
    c = coarse.etas.sqrt()
    k = tau[1:].floor().long().clamp(max=3)
    interp = c[k] + (tau[1:] - k) * (c[k + 1] - c[k])
    assert torch.allclose(interp, sch20.etas[1:].sqrt(), atol=1e-12)
    # levels outside the coarse range are clamped
    wide = mrs.Schedule.from_etas([1e-4, 0.5, 0.999], kappa=2.0)
    assert fractional_times(wide, coarse)[1:].tolist()[::2] == [1.0, 4.0]
    with pytest.raises(ValueError, match="kappa"):
        fractional_times(mrs.Schedule.exponential(T=20, kappa=1.0), coarse)
    with pytest.raises(ValueError, match="coarse"):
        fractional_times(sch20, 4)


def test_warp_denoiser(sch20, batch):
    x0, mask, y = batch
    coarse = mrs.Schedule.exponential(T=4)
    seen = []

    def fake(x_t, tau, y, mask):
        seen.append(tau)
        return x_t

    warped = warp_denoiser(fake, sch20, coarse)
    t = torch.tensor([20, 7])
    assert warped(y, t, y, mask) is y
    tau = seen[-1]
    assert tau.dtype == torch.float32 and tau.shape == (2,)
    assert torch.equal(tau, fractional_times(sch20, coarse)[t].float())
    with pytest.raises(ValueError, match="t must lie"):
        warped(y, torch.tensor([0, 21]), y, mask)
    with pytest.raises(ValueError, match="denoiser"):
        warp_denoiser(None, sch20, coarse)
    # a whole RePaint run on the fine schedule through the warp: every tau is a coarse time
    seen.clear()
    oracle = mrs.oracle_denoiser(x0)

    def coarse_net(x_t, tau, y, mask):
        seen.append(tau)
        return oracle(x_t, tau, y, mask)

    out = repaint_sample(mrs.make_process("resshift", sch20), warp_denoiser(coarse_net, sch20, coarse),
                         y, mask, jump_length=5, resamplings=2)
    assert len(seen) == nfe_formula(20, 5, 2)
    assert all(tau.dtype == torch.float32 and 1 <= float(tau.min()) <= float(tau.max()) <= 4
               for tau in seen)
    assert torch.allclose(out, x0, atol=1e-5)


def test_known_region_is_y_whatever_the_denoiser(sch20, batch):
    x0, mask, y = batch
    proc = mrs.make_process("resshift", sch20)
    out = repaint_sample(proc, lambda x, t, y, m: torch.zeros_like(x), y, mask, jump_length=5,
                         resamplings=2, generator=torch.Generator().manual_seed(1))
    hole = mask.expand_as(x0) > 0.5
    assert torch.equal(out[~hole], y[~hole])
    assert torch.all(out[hole] == 0)  # the last step returns the prediction in the hole


def test_states_follow_the_forward_marginal(sch20, batch):
    # with the oracle every state the denoiser sees, after a down or an up move, is a draw from
    # q(x_t | x0, y) = N(x0 + eta_t e0, kappa^2 eta_t): in the hole and in the known region
    x0, mask, y = batch
    proc = mrs.make_process("resshift", sch20)
    oracle, z = mrs.oracle_denoiser(x0), []

    def den(x_t, t, y, mask):
        mean, var = proc.marginal(x0, y, mask, t)
        z.append((x_t - mean) / var.sqrt())
        return oracle(x_t, t, y, mask)

    repaint_sample(proc, den, y, mask, jump_length=5, resamplings=3,
                   generator=torch.Generator().manual_seed(2))
    z = torch.stack(z)  # [NFE, B, C, H, W]
    hole = mask.expand_as(x0) > 0.5
    for region in (z[:, hole], z[:, ~hole]):
        assert abs(float(region.mean())) < 0.1
        assert 0.9 < float(region.std()) < 1.1


@pytest.mark.parametrize("name", ["resshift", "emmd"])
def test_drift_of_every_move_with_almost_no_noise(name, batch):
    # kappa -> 0 makes every move deterministic: each state seen at t must be the marginal mean
    # x0 + rho eta_t e0, which checks the shift alpha_t (y - x0_hat) of the upward jumps
    # (etas_end = 1 makes the prior N(y, kappa^2 rho) exact)
    x0, mask, y = batch
    proc = mrs.make_process(name, mrs.Schedule.exponential(T=12, kappa=1e-4, etas_end=1.0))
    oracle, err = mrs.oracle_denoiser(x0), []

    def den(x_t, t, y, mask):
        err.append(float((x_t - proc.marginal(x0, y, mask, t)[0]).abs().max()))
        return oracle(x_t, t, y, mask)

    repaint_sample(proc, den, y, mask, jump_length=3, resamplings=3,
                   generator=torch.Generator().manual_seed(0))
    assert len(err) == nfe_formula(12, 3, 3) and max(err) < 1e-3


def test_repaint_deferred_checks_name_the_bad_step(monkeypatch):
    """The accelerator path (no value read-backs per move), forced on CPU: a NaN prediction is
    still reported with its t, after the loop."""
    import mrs.sampling

    monkeypatch.setattr(mrs.sampling.ancestral, "defer_value_checks", lambda device: True)
    proc = mrs.make_process("resshift", mrs.Schedule.exponential(T=6))
    x0 = torch.zeros(1, 3, 8, 8)
    mask = mrs.masks.box_mask(8, 2, 2, 4, 4)

    def bad_at_3(x_t, t, y, m):
        out = torch.zeros_like(x_t)
        if int(t[0]) == 3:
            out[0, 0, 0, 0] = float("nan")
        return out

    with pytest.raises(ValueError, match="t=3"):
        repaint_sample(proc, bad_at_3, x0, mask, jump_length=2, resamplings=2)
