"""The edge measures of notebooks 05-06: the unsigned seam (``seam_excess``), the signed edge
distance, the error profile across the edge and the error continuity."""

import math

import pytest
import torch
import torch.nn.functional as F

import mrs
from mrs import masks
from mrs.core import metrics


def _textured(n=2, size=32, seed=0):
    """Images with a strong pixel-level texture, so that the true jumps across the edge are large."""
    g = torch.Generator().manual_seed(seed)
    return 2 * torch.rand(n, 3, size, size, generator=g) - 1


def _blurred_fill(x0, mask, k=5):
    """The hole filled with a k x k box blur of the truth: right on average, smooth in detail."""
    blur = F.avg_pool2d(F.pad(x0, (k // 2,) * 4, mode="replicate"), k, stride=1)
    return (1 - mask) * x0 + mask * blur


def test_seam_excess_is_zero_for_the_truth_and_for_a_global_offset():
    x0 = mrs.synthetic_faces(2, 24, seed=3)
    for m in (masks.box_mask(24, 6, 5, 10, 12, n=2),
              masks.irregular(2, 24, generator=torch.Generator().manual_seed(0))):
        assert torch.equal(metrics.seam_excess(x0, m, x0), torch.zeros(2))
        # the whole image shifted: every jump is the true one, no seam
        assert torch.allclose(metrics.seam_excess(x0 + 0.25, m, x0), torch.zeros(2), atol=1e-6)


def test_seam_excess_is_the_step_for_an_offset_hole():
    flat = torch.zeros(1, 3, 16, 16)
    m = masks.box_mask(16, 4, 4, 8, 8)
    assert float(metrics.seam_excess(flat + 0.3 * m, m, flat)) == pytest.approx(0.3, abs=1e-6)
    x0 = mrs.synthetic_faces(2, 16, seed=1)
    m2 = masks.box_mask(16, 4, 4, 8, 8, n=2)
    assert bool((metrics.seam_excess(x0 + 0.3 * m2, m2, x0) > 0.29).all())
    # no edge pair: 0, like seam_score
    assert float(metrics.seam_excess(flat, torch.zeros(1, 1, 16, 16), flat)) == 0.0


def test_seam_excess_sees_a_reversed_jump_that_the_signed_score_misses():
    """Truth steps up by 1 at the edge, x steps down by 1: |jump| equal, a seam of size 2."""
    ref = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 1, 4)
    x = torch.tensor([0.0, 0.0, -1.0, -1.0]).view(1, 1, 1, 4)
    m = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 1, 4)
    assert float(mrs.seam_score(x, m, ref=ref)) == 0.0
    assert float(metrics.seam_excess(x, m, ref)) == pytest.approx(2.0)


def test_a_blurred_fill_does_not_beat_a_sharp_one():
    x0 = _textured()
    m = masks.box_mask(32, 8, 8, 16, 16, n=2)
    blurred = _blurred_fill(x0, m)
    g = torch.Generator().manual_seed(1)
    sharp = x0 + 0.05 * m * torch.randn(x0.shape, generator=g)     # sharp, slightly wrong
    # the signed score ranks the blur above the truth itself (its jumps are smaller) ...
    assert bool((mrs.seam_score(blurred, m, ref=x0) < -0.05).all())
    # ... the unsigned one does not: truth 0 < sharp < blurred
    ex_truth, ex_sharp, ex_blur = (metrics.seam_excess(v, m, x0) for v in (x0, sharp, blurred))
    assert torch.equal(ex_truth, torch.zeros(2))
    assert bool((ex_sharp > 0).all() and (ex_blur > 3 * ex_sharp).all())


def test_seam_excess_bounds_and_matches_the_folded_normal():
    """e_i - e_j for independent N(0, s^2) errors on one side only has E|.| = s sqrt(2/pi)."""
    x0 = torch.zeros(1, 3, 64, 64)
    m = masks.box_mask(64, 8, 8, 48, 48)
    g = torch.Generator().manual_seed(2)
    one_side = x0 + 0.1 * m * torch.randn(x0.shape, generator=g)
    both = x0 + 0.1 * torch.randn(x0.shape, generator=g)
    a, b = float(metrics.seam_excess(one_side, m, x0)), float(metrics.seam_excess(both, m, x0))
    assert a == pytest.approx(0.1 * math.sqrt(2 / math.pi), rel=0.08)
    assert b / a == pytest.approx(math.sqrt(2), rel=0.1)
    # |e_i - e_j| >= | |x_i - x_j| - |x0_i - x0_j| | >= signed score: unsigned is an upper bound
    x1 = mrs.synthetic_faces(1, 64, seed=0)
    x = x1 + 0.1 * torch.randn(x1.shape, generator=g)
    assert float(metrics.seam_excess(x, m, x1)) >= float(mrs.seam_score(x, m, ref=x1))


def test_seam_excess_rejects_bad_input():
    x0 = torch.zeros(1, 3, 8, 8)
    m = masks.box_mask(8, 2, 2, 4, 4)
    with pytest.raises(ValueError, match="ground truth"):
        metrics.seam_excess(x0, m, None)
    with pytest.raises(ValueError, match="shape"):
        metrics.seam_excess(x0, m, torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match="mask"):
        metrics.seam_excess(x0, torch.zeros(2, 1, 8, 8), x0)


def test_signed_edge_distance():
    m = masks.box_mask(16, 4, 4, 6, 6)
    s = metrics.signed_edge_distance(m)
    assert float(s[0, 0, 6, 3]) == 1.0 and float(s[0, 0, 6, 4]) == -1.0   # across the left edge
    assert float(s[0, 0, 6, 1]) == 3.0 and float(s[0, 0, 6, 6]) == -3.0
    assert not bool((s == 0).any())
    assert bool((s[m > 0.5] < 0).all() and (s[m <= 0.5] > 0).all())
    # fractional masks are read as hole where mask > 0.5
    assert torch.equal(metrics.signed_edge_distance(0.6 * m), s)
    with pytest.raises(ValueError, match="reach"):
        metrics.signed_edge_distance(m, reach=0.5)


def test_error_profile_and_continuity():
    ref = torch.zeros(2, 3, 16, 16)
    m = masks.box_mask(16, 4, 4, 8, 8, n=2)
    # image 0: an error of 0.3 in the hole only (a step in the error level, like EMMD)
    # image 1: an error of 0.3 everywhere (no step, like ResShift)
    x = ref + 0.3 * torch.stack([m[0], torch.ones_like(m[0])])
    prof = metrics.error_profile(x, m, ref, distances=(-2, -1, 1, 2))
    assert torch.allclose(prof[0], torch.tensor([0.3, 0.3, 0.0, 0.0]))
    assert torch.allclose(prof[1], torch.full((4,), 0.3))
    assert torch.allclose(metrics.error_continuity(x, m, ref), torch.tensor([0.0, 1.0]))
    # a distance no pixel has: nan; no error inside: continuity undefined (nan)
    assert bool(torch.isnan(metrics.error_profile(x, m, ref, distances=(-7,))).all())
    assert bool(torch.isnan(metrics.error_continuity(ref, m, ref)).all())
    with pytest.raises(ValueError, match="nonzero integers"):
        metrics.error_profile(x, m, ref, distances=(0, 1))
    with pytest.raises(ValueError, match="nonzero integers"):
        metrics.error_profile(x, m, ref, distances=(1.5,))


def test_edge_metrics_collects_the_per_image_numbers():
    x0 = mrs.synthetic_faces(2, 16, seed=2)
    m = masks.box_mask(16, 4, 4, 8, 8, n=2)
    x = x0 + 0.2 * m
    out = metrics.edge_metrics(x, m, x0)
    assert set(out) == {"seam", "seam_excess", "continuity", "hole_psnr", "known_psnr"}
    assert all(v.shape == (2,) for v in out.values())
    assert torch.equal(out["seam_excess"], metrics.seam_excess(x, m, x0))
    assert torch.equal(out["seam"], mrs.seam_score(x, m, ref=x0))
    assert bool(torch.isinf(out["known_psnr"]).all()) and torch.equal(out["continuity"], torch.zeros(2))
