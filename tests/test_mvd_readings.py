"""MVD's three readings of the reverse step (``reverse_noise``), checked by Monte Carlo with the
oracle denoiser: the sampler's variance over the forward variance at pixels with 0 < m < 1."""

import pytest
import torch

import mrs
from mrs.core.montecarlo import posterior_check

READINGS = ("full", "masked", "authors")
LEVELS = (1.0, 0.5, 0.135)
N = 4000          # samples: a variance ratio pooled over 12 values per level has SE ~0.5 %


def _stripes():
    """A 2 x 6 image whose mask takes each level on two columns; y = x0 (e0 = 0, as on the band
    of known pixels around a hole)."""
    x0 = mrs.synthetic_faces(1, 8, seed=3)[..., :2, :6].contiguous()
    mask = torch.tensor(LEVELS).repeat_interleave(2).view(1, 1, 1, 6).expand(1, 1, 2, 6).contiguous()
    return x0, mask


def _variance_ratios(proc, seed=0):
    """{(t, m): Var_sampler[x_t] / Var_forward[x_t]} for t = T..1, oracle denoiser; and x_0."""
    x0, mask = _stripes()
    X0, M = x0.expand(N, -1, -1, -1).contiguous(), mask.expand(N, -1, -1, -1).contiguous()
    traj = mrs.sample(proc, mrs.oracle_denoiser(X0), X0, M, generator=torch.Generator().manual_seed(seed),
                      trajectory=True)
    ratios = {}
    for k, t in enumerate(range(proc.T, 0, -1)):
        r = traj.xs[k].var(0) / proc.marginal_var(mask, t)[0]
        for v in LEVELS:
            ratios[t, v] = float(r[:, mask[0, 0] == v].mean())
    return ratios, traj.sample, X0, M


def _authors_ratio(proc, m, t):
    """The closed form for "authors" with the oracle, d = x - x0 on a pixel with e0 = 0:
    Var[d_T] = m^2 kappa^2 eta_T, Var[d_{t-1}] = m^2 (m c_t + 1 - m)^2 Var[d_t] + m^4 s_t^2."""
    var = m * m * proc.kappa**2 * float(proc.eta[proc.T])
    for s in range(proc.T, t, -1):
        c, s2 = float(proc.coef_xt[s]), proc.kappa**2 * float(proc.post_var[s])
        var = m * m * (m * c + 1 - m) ** 2 * var + m**4 * s2
    return var / (m * m * proc.kappa**2 * float(proc.eta[t]))


def test_option_is_discovered_and_validated(paper_schedule):
    assert mrs.core.option_defaults("mvd") == {"blur_width": 0.0, "reverse_noise": "full"}
    proc = mrs.make_process("mvd", paper_schedule, reverse_noise="masked")
    assert proc.reverse_noise == "masked" and proc.options["reverse_noise"] == "masked"
    spec = mrs.ProcessSpec.of("mvd", reverse_noise="authors", noise_floor=0.1)
    assert spec.options == {"blur_width": 0.0, "reverse_noise": "authors"}
    assert mrs.ProcessSpec.from_dict(spec.to_dict()).build(paper_schedule).reverse_noise == "authors"
    assert mrs.ProcessSpec("mvd").options["reverse_noise"] == "full"      # default unchanged
    for bad in ("exact", "Full", 1, None, ("full",)):
        with pytest.raises(ValueError, match="reverse_noise"):
            mrs.make_process("mvd", paper_schedule, reverse_noise=bad)


@pytest.mark.parametrize("reading", READINGS)
def test_sampler_to_forward_variance_ratio(paper_schedule, reading):
    proc = mrs.make_process("mvd", paper_schedule, reverse_noise=reading)
    ratios, out, X0, M = _variance_ratios(proc)
    for t in range(1, proc.T + 1):
        assert abs(ratios[t, 1.0] - 1) < 0.05                 # hole pixels: every reading is ResShift
        for m in LEVELS[1:]:
            if reading == "full":                              # full noise: 1/m^2 too wide
                assert abs(ratios[t, m] * m * m - 1) < 0.05, (t, m, ratios[t, m])
            elif reading == "masked":                          # the exact posterior: 1
                assert abs(ratios[t, m] - 1) < 0.05, (t, m, ratios[t, m])
            elif t == proc.T:                                  # authors: exact prior ...
                assert abs(ratios[t, m] - 1) < 0.05
            else:                                              # ... then too narrow
                assert ratios[t, m] < 0.9, (t, m, ratios[t, m])
                assert abs(ratios[t, m] / _authors_ratio(proc, m, t) - 1) < 0.06
    band = (M > 0) & (M < 1)
    if reading == "authors":       # the last step keeps (1 - m) of x_1's spread: x0 is not returned
        assert float((out - X0).abs().expand(-1, 3, -1, -1)[band.expand(-1, 3, -1, -1)].max()) > 1e-3
    else:                          # the last step returns the oracle's x0 exactly
        assert torch.equal(out, X0)


def test_default_is_full_and_unchanged(paper_schedule, face8):
    """``reverse_noise="full"`` is the default and the process it gives is the one of before."""
    x0, mask, y = face8
    a = mrs.make_process("mvd", paper_schedule, blur_width=1.5)
    b = mrs.make_process("mvd", paper_schedule, blur_width=1.5, reverse_noise="full")
    m = a.rate(mask)
    x_t = a.q_sample(x0, y, mask, 3, generator=torch.Generator().manual_seed(0))
    mean, var = a.posterior(x_t, x0, y, mask, 3)
    assert torch.equal(var, paper_schedule.kappa**2 * (m > 0).to(var.dtype) * float(a.post_var[3]))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(mrs.sample(a, mrs.leaky_oracle(x0, a, 0.3), y, mask, generator=g1),
                       mrs.sample(b, mrs.leaky_oracle(x0, b, 0.3), y, mask, generator=g2))


def test_readings_coincide_on_binary_masks(paper_schedule, face8):
    """On m in {0, 1} the three readings are one step, and MVD is EMMD."""
    x0, mask, y = face8
    emmd = mrs.make_process("emmd", paper_schedule)
    ref = mrs.sample(emmd, mrs.leaky_oracle(x0, emmd, 0.3), y, mask,
                     generator=torch.Generator().manual_seed(2))
    for reading in READINGS:
        proc = mrs.make_process("mvd", paper_schedule, reverse_noise=reading)
        out = mrs.sample(proc, mrs.leaky_oracle(x0, proc, 0.3), y, mask,
                         generator=torch.Generator().manual_seed(2))
        assert torch.allclose(out, ref, atol=1e-6), reading


def test_masked_is_emmd_on_the_squared_mask(paper_schedule, face8):
    """On the band e0 = 0, so MVD with mask m is EMMD with rate m^2: the same sampler."""
    x0, mask, y = face8
    mvd = mrs.make_process("mvd", paper_schedule, blur_width=1.5, reverse_noise="masked")
    emmd = mrs.make_process("emmd", paper_schedule)
    m2 = mvd.rate(mask) ** 2
    a = mrs.sample(mvd, mrs.leaky_oracle(x0, mvd, 0.3), y, mask, generator=torch.Generator().manual_seed(3))
    b = mrs.sample(emmd, mrs.leaky_oracle(x0, emmd, 0.3), y, m2, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(a, b, atol=1e-5)


def test_only_masked_passes_the_posterior_check(paper_schedule, face8):
    x0, mask, y = (z.double() for z in face8)
    m = mrs.masks.smooth_mask(mask, 1.5)        # fractional m given directly (blur_width=0): fast
    for reading in READINGS:
        proc = mrs.make_process("mvd", paper_schedule, reverse_noise=reading)
        check = posterior_check(proc, x0, y, m, 3, n=4000, generator=torch.Generator().manual_seed(0))
        assert check.holds() == (reading == "masked"), reading
