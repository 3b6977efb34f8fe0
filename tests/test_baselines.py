"""The classical fills (``mrs.baselines``): harmonic (an exact Laplace solve), OpenCV Telea and
Navier-Stokes: known pixels kept, what each reproduces exactly, and clear errors."""

import pytest
import torch

import mrs
from mrs.core.baselines import BASELINES, harmonic_fill, make_baseline, opencv_fill


def _box(size=16, b=1):
    mask = torch.zeros(b, 1, size, size)
    mask[..., 4:11, 5:12] = 1
    return mask


def test_harmonic_reproduces_a_linear_ramp_and_is_discrete_harmonic():
    ii, jj = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    ramp = ((0.05 * ii - 0.03 * jj) - 0.2).expand(1, 3, 16, 16).contiguous()
    mask = _box()
    out = harmonic_fill(mrs.degrade(ramp, mask), mask)
    assert torch.allclose(out, ramp, atol=1e-5)                  # linear functions are harmonic
    x0 = mrs.synthetic_faces(2, 16, seed=0)
    mask2 = _box(b=2)
    y = mrs.degrade(x0, mask2)
    u = harmonic_fill(y, mask2).double()
    lap = 4 * u[..., 1:-1, 1:-1] - u[..., :-2, 1:-1] - u[..., 2:, 1:-1] - u[..., 1:-1, :-2] - u[..., 1:-1, 2:]
    hole = mask2[:, :, 1:-1, 1:-1].expand_as(lap) > 0
    assert float(lap[hole].abs().max()) < 1e-4                   # the discrete Laplace equation
    assert torch.equal(u.float()[mask2.expand_as(u) == 0], y[mask2.expand_as(y) == 0])


def test_hole_touching_the_border_and_no_known_pixels():
    x0 = torch.linspace(-0.8, 0.6, 12).expand(1, 3, 12, 12).contiguous()   # varies along columns
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., :, :5] = 1                                         # a band along the left border
    out = harmonic_fill(mrs.degrade(x0, mask), mask)
    # no flux through the image border: the band takes the value of its boundary column
    assert torch.allclose(out[..., :, :5], x0[..., :, 5:6].expand(-1, -1, -1, 5), atol=1e-4)
    full = torch.ones(1, 1, 12, 12)
    assert torch.allclose(harmonic_fill(x0, full), torch.zeros_like(x0), atol=1e-6)


@pytest.mark.parametrize("name", BASELINES)
def test_every_fill_keeps_the_known_pixels_and_beats_the_empty_hole(name):
    x0 = mrs.synthetic_faces(4, 32, seed=2)
    mask = mrs.masks.random_masks("box", 4, 32, torch.Generator().manual_seed(0))
    y = mrs.degrade(x0, mask)
    out = make_baseline(name)(y, mask)
    assert out.shape == y.shape and out.dtype == y.dtype
    known = mask.expand_as(y) == 0
    assert torch.equal(out[known], y[known])
    gain = mrs.hole_psnr(out, x0, mask) - mrs.hole_psnr(y, x0, mask)
    assert bool((gain > 3).all()), gain                          # far better than a flat 0 hole


def test_opencv_on_a_constant_image_is_exact_to_two_levels():
    img = torch.full((1, 3, 16, 16), 0.2)
    out = opencv_fill(mrs.degrade(img, _box()), _box(), "telea")
    assert float((out - img).abs().max()) <= 2 / 127.5 + 1e-6       # two 8-bit levels


def test_bad_input():
    x0, mask = mrs.synthetic_faces(1, 16, seed=0), _box()
    with pytest.raises(ValueError, match="binary"):
        harmonic_fill(x0, mask * 0.5)
    with pytest.raises(ValueError, match="mask"):
        harmonic_fill(x0, mask[..., :8, :8])
    with pytest.raises(ValueError, match="y"):
        harmonic_fill(x0 * float("nan"), mask)
    with pytest.raises(ValueError, match="baseline must be one of"):
        make_baseline("laplace")
    with pytest.raises(ValueError, match="method"):
        opencv_fill(x0, mask, "fast")
    with pytest.raises(ValueError, match="radius"):
        make_baseline("telea", radius=0)(x0, mask)
    with pytest.raises(ValueError, match="channels"):
        opencv_fill(torch.zeros(1, 2, 16, 16), mask)



def test_harmonic_degrade_is_the_classical_estimate_and_ignores_the_hole():
    x0 = mrs.synthetic_faces(2, 16, seed=3)
    mask = _box(b=2)
    y = mrs.degrade(x0, mask, fill="harmonic")
    assert torch.allclose(y, harmonic_fill(mrs.degrade(x0, mask), mask), atol=1e-6)
    scrambled = torch.where(mask > 0, torch.rand_like(x0), x0)      # the hole's content is not used
    assert torch.equal(mrs.degrade(scrambled, mask, fill="Harmonic"), y)
    assert torch.equal(y[mask.expand_as(y) == 0], x0[mask.expand_as(x0) == 0])
    # a fractional mask blends: (1 - M) x0 + M h, with h the fill of the hole {M > 0}
    soft = 0.5 * mask
    assert torch.allclose(mrs.degrade(x0, soft, fill="harmonic"), 0.5 * x0 + 0.5 * y, atol=1e-6)


@pytest.mark.parametrize("bad", ["laplace", float("nan"), True, None, [0.0]])
def test_fill_rejects_what_it_cannot_use(bad):
    with pytest.raises(ValueError, match="fill"):
        mrs.degrade(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8), fill=bad)


def test_fill_spelled_as_text_becomes_a_number():
    from mrs.core.masks import check_fill

    assert check_fill("-1") == -1.0 and check_fill(" harmonic ") == "harmonic" and check_fill(0) == 0.0
