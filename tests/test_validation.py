"""Bad input gets a ValueError that names the argument: never a silent broadcast or NaN."""

import pytest
import torch

import mrs


@pytest.fixture(scope="module")
def good():
    x0 = mrs.synthetic_faces(2, 8, seed=0)
    mask = mrs.masks.box_mask(8, 2, 2, 3, 3, n=2)
    return x0, mask, mrs.degrade(x0, mask)


@pytest.fixture(params=list(mrs.process_names()))
def p(request, paper_schedule):
    return mrs.make_process(request.param, paper_schedule)


def bad_cases(x0, mask, y):
    nan = x0.clone()
    nan[0, 0, 0, 0] = float("nan")
    inf_mask = mask.clone()
    inf_mask[0, 0, 0, 0] = float("inf")
    return [
        ("x0", dict(x0=x0[0])),                                  # missing batch dim
        ("x0", dict(x0=nan)),                                    # NaN
        ("x0", dict(x0=x0.long())),                              # not floating
        ("y", dict(y=y[:1])),                                    # batch mismatch
        ("y", dict(y=y.double())),                               # dtype mismatch
        ("y", dict(y=y[..., :4])),                               # size mismatch
        ("mask", dict(mask=mask * 2)),                           # outside [0, 1]
        ("mask", dict(mask=mask - 0.5)),
        ("mask", dict(mask=mask.expand(-1, 3, -1, -1))),         # 3 channels
        ("mask", dict(mask=mask[:1])),                           # batch mismatch
        ("mask", dict(mask=mask.double())),                      # dtype mismatch
        ("mask", dict(mask=inf_mask)),                           # Inf
        ("t", dict(t=0)),                                        # t out of 1..T
        ("t", dict(t=5)),
        ("t", dict(t=torch.tensor([1, 2, 3]))),                  # wrong batch
        ("t", dict(t=torch.tensor([1.0, 2.0]))),                 # float times
        ("noise", dict(noise=torch.randn(1, 3, 8, 8))),          # wrong noise shape
    ]


@pytest.mark.parametrize("case", range(17))
def test_q_sample_rejects(p, good, case):
    x0, mask, y = good
    word, override = bad_cases(x0, mask, y)[case]
    kwargs = dict(x0=x0, y=y, mask=mask, t=2, noise=None) | override
    with pytest.raises(ValueError, match=word):
        p.q_sample(**kwargs)


def test_other_methods_reject(p, good):
    x0, mask, y = good
    with pytest.raises(ValueError, match="x_t"):
        p.posterior(x0[:1], x0, y, mask, 2)
    with pytest.raises(ValueError, match="x_prev"):
        p.q_step(x0.double(), x0, y, mask, 2)
    with pytest.raises(ValueError, match="t must lie in 1..4"):
        p.p_step(x0, x0, y, mask, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="mask"):
        p.prior_sample(y, mask[:1])
    with pytest.raises(ValueError, match="mask"):
        p.rate(mask + 0.5)
    with pytest.raises(ValueError, match="t must"):
        p.marginal_var(mask, 9)


def test_helpers_reject(good):
    x0, mask, y = good
    with pytest.raises(ValueError, match="mask"):
        mrs.degrade(x0, mask * 3)
    with pytest.raises(ValueError, match="blur_width"):
        mrs.masks.smooth_mask(mask, -1.0)
    with pytest.raises(ValueError, match="noise_floor"):
        mrs.masks.apply_noise_floor(mask, 2.0)
    with pytest.raises(ValueError, match="kind"):
        mrs.masks.random_masks("circle", 2, 16)
    with pytest.raises(ValueError, match="size"):
        mrs.masks.irregular(2, 4)
    with pytest.raises(ValueError, match="n must"):
        mrs.synthetic_faces(0)
    with pytest.raises(ValueError, match="ref"):
        mrs.seam_score(x0, mask, ref=x0[:1])
    with pytest.raises(ValueError, match="x0"):
        mrs.oracle_denoiser(x0[0])
    with pytest.raises(ValueError, match="leak"):
        mrs.leaky_oracle(x0, mrs.make_process("emmd", mrs.Schedule.exponential()), -1.0)


def test_bad_input_loses_nothing(good):
    x0, mask, y = good
    before = (x0.clone(), mask.clone(), y.clone())
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    with pytest.raises(ValueError):
        proc.q_sample(x0, y, mask * 2, 1)
    assert all(torch.equal(a, b) for a, b in zip(before, (x0, mask, y)))
