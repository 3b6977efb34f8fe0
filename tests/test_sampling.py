import pytest
import torch

import mrs

from .conftest import make


@pytest.fixture(scope="module")
def batch():
    x0 = mrs.synthetic_faces(3, 16, seed=1)
    mask = mrs.masks.random_masks("box", 3, 16, torch.Generator().manual_seed(0))
    return x0, mask, mrs.degrade(x0, mask)


def test_oracle_sampling_returns_x0(proc, batch):
    x0, mask, y = batch
    out = mrs.sample(proc, mrs.oracle_denoiser(x0), y, mask,
                     generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-6)


@pytest.mark.parametrize("name", ["emmd", "mvd"])
def test_oracle_is_exact_bitwise_for_masked(name, paper_schedule, batch):
    x0, mask, y = batch
    out = mrs.sample(make(name, paper_schedule), mrs.oracle_denoiser(x0), y, mask,
                     generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, x0)


def test_mvd_oracle_with_soft_mask(paper_schedule, batch):
    x0, mask, y = batch
    proc = mrs.make_process("mvd", paper_schedule, blur_width=1.5)
    out = mrs.sample(proc, mrs.oracle_denoiser(x0), y, mask,
                     generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-6)


def test_seeded_sampling_is_bit_identical(proc, batch):
    x0, mask, y = batch
    den = mrs.leaky_oracle(x0, proc, 0.3)
    a = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(7))
    b = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(7))
    c = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_trajectory(proc, batch):
    x0, mask, y = batch
    traj = mrs.sample(proc, mrs.leaky_oracle(x0, proc, 0.2), y, mask,
                      generator=torch.Generator().manual_seed(0), trajectory=True)
    T = proc.T
    assert traj.ts == list(range(T, 0, -1))
    assert len(traj.xs) == T + 1 and len(traj.x0_preds) == T
    assert torch.equal(traj.xs[-1], traj.sample)
    plain = mrs.sample(proc, mrs.leaky_oracle(x0, proc, 0.2), y, mask,
                       generator=torch.Generator().manual_seed(0))
    assert torch.equal(plain, traj.sample)


def test_leaky_oracle_error_scales_with_noise(paper_schedule, batch):
    x0, mask, y = batch
    proc = mrs.make_process("emmd", paper_schedule)
    den = mrs.leaky_oracle(x0, proc, 0.5)
    g = torch.Generator().manual_seed(0)
    x_t = proc.q_sample(x0, y, mask, 4, generator=g)
    err = den(x_t, torch.full((3,), 4), y, mask) - x0
    known = (mask == 0).expand_as(x0)
    assert float(err[known].abs().max()) == 0.0  # no noise there, no error
    assert float(err[~known].std()) == pytest.approx(0.5 * 2.0 * 0.99, rel=0.1)


def test_bad_denoiser_output(paper_schedule, batch):
    x0, mask, y = batch
    proc = mrs.make_process("emmd", paper_schedule)
    with pytest.raises(ValueError, match="denoiser at t=4"):
        mrs.sample(proc, lambda x, t, y, m: x[:, :1], y, mask)
    with pytest.raises(ValueError, match="NaN"):
        mrs.sample(proc, lambda x, t, y, m: x * float("nan"), y, mask)
    with pytest.raises(ValueError, match="denoiser"):
        mrs.sample(proc, "not callable", y, mask)
    with pytest.raises(ValueError, match="proc"):
        mrs.sample("emmd", mrs.oracle_denoiser(x0), y, mask)
