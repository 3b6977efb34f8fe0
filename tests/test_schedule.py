import pytest
import torch

import mrs


def test_paper_etas(paper_schedule):
    sch = paper_schedule
    assert sch.etas.dtype == torch.float64 and sch.alphas.dtype == torch.float64
    assert sch.T == 4 and sch.T == 4
    assert sch.etas[0] == 0
    expected = torch.tensor([0.0100, 0.2705, 0.5797, 0.9801], dtype=torch.float64)
    assert torch.allclose(sch.etas[1:], expected, atol=5e-5)
    # alpha_t = eta_t - eta_{t-1}, so the alphas sum to eta_T
    assert torch.allclose(sch.alphas[1:], sch.etas[1:] - sch.etas[:-1])
    assert torch.isclose(sch.alphas.sum(), sch.etas[-1])


@pytest.mark.parametrize("steps", [1, 2, 4, 15])
@pytest.mark.parametrize("power", [0.3, 1.0, 2.0])
def test_end_points_and_monotone(steps, power):
    sch = mrs.Schedule.exponential(T=steps, kappa=1.5, min_noise_level=0.3, etas_end=0.9,
                                   power=power)
    assert sch.T == steps
    assert torch.isclose(sch.etas[-1], torch.tensor(0.81, dtype=torch.float64))
    if steps > 1:
        # sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level) = 0.2
        assert torch.isclose(sch.etas[1].sqrt(), torch.tensor(0.2, dtype=torch.float64))
    assert bool((sch.etas[1:] > sch.etas[:-1]).all())


def test_power_warps_positions():
    lo = mrs.Schedule.exponential(T=6, power=0.3)
    hi = mrs.Schedule.exponential(T=6, power=3.0)
    # a small power moves the middle steps towards the end (more noise early)
    assert bool((lo.etas[2:-1] > hi.etas[2:-1]).all())


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(T=0), "T must"),
        (dict(T=2.5), "T must"),
        (dict(kappa=0.0), "kappa"),
        (dict(kappa=float("nan")), "kappa"),
        (dict(etas_end=1.5), "etas_end"),
        (dict(power=-1.0), "power"),
        (dict(min_noise_level=0.0), "min_noise_level"),
        (dict(min_noise_level=1.0, kappa=0.5, etas_end=0.5), "min_noise_level"),
    ],
)
def test_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        mrs.Schedule.exponential(**kwargs)


def test_from_etas_validates():
    with pytest.raises(ValueError, match="increase"):
        mrs.Schedule.from_etas([0.5, 0.4], kappa=1.0)
    sch = mrs.Schedule.from_etas([0.1, 0.5, 1.0], kappa=1.0)
    assert sch.T == 3 and "T=3" in repr(sch)
