import pytest
import torch

import mrs
from mrs import masks


@pytest.mark.parametrize("kind", ["irregular", "box", "outpaint", "mixed"])
@pytest.mark.parametrize("size", [32, 64])
def test_random_masks_are_hard_seeded_and_nonempty(kind, size):
    a = masks.random_masks(kind, 6, size, torch.Generator().manual_seed(3))
    b = masks.random_masks(kind, 6, size, torch.Generator().manual_seed(3))
    c = masks.random_masks(kind, 6, size, torch.Generator().manual_seed(4))
    assert a.shape == (6, 1, size, size) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    frac = a.flatten(1).mean(1)
    assert bool((frac > 0).all()) and bool((frac < 1).all())


def test_box_margins_and_outpaint_borders():
    g = torch.Generator().manual_seed(0)
    b = masks.boxes(20, 64, g)
    mg = round(10 * 64 / 256)
    assert float(b[..., :mg, :].max()) == 0 and float(b[..., :, :mg].max()) == 0
    o = masks.outpaint(20, 64, g)
    border = torch.stack([o[..., 0, :].amax(-1), o[..., -1, :].amax(-1), o[..., :, 0].amax(-1),
                          o[..., :, -1].amax(-1)])
    assert bool((border.amax(0) == 1).all())  # every mask touches a border
    centre = o[..., 16:48, 16:48]
    assert float(centre.max()) == 0  # at most 25 % deep


def test_irregular_hole_fraction_is_reasonable():
    m = masks.irregular(40, 64, torch.Generator().manual_seed(1))
    frac = float(m.mean())
    assert 0.05 < frac < 0.7


def test_smooth_mask_and_floor():
    m = masks.box_mask(32, 8, 8, 10, 10)
    s = masks.smooth_mask(m, 2.0)
    assert torch.equal(s[m == 1], torch.ones(int(m.sum())))
    assert float(s[m == 0].max()) < 1 and float(s[m == 0].max()) > 0.8  # next to the edge
    assert float(s[0, 0, 0, 0]) == 0  # far away
    d = masks.hole_distance(m, 10)
    assert float(d[0, 0, 8, 5]) == pytest.approx(3.0)  # three pixels left of the hole
    assert float(d[0, 0, 5, 5]) == pytest.approx(3 * 2**0.5, rel=1e-5)  # diagonal
    f = masks.apply_noise_floor(s, 0.1)
    assert float(f.min()) == pytest.approx(0.1) and torch.equal(f[m == 1], s[m == 1])
    assert torch.equal(masks.smooth_mask(m, 0.0), m)


def test_degrade():
    x0 = mrs.synthetic_faces(2, 16)
    m = masks.box_mask(16, 4, 4, 6, 6, n=2)
    y = mrs.degrade(x0, m, fill=0.5)
    assert torch.equal(y[(m == 0).expand_as(y)], x0[(m == 0).expand_as(y)])
    assert bool((y[(m == 1).expand_as(y)] == 0.5).all())


def test_synthetic_faces():
    a = mrs.synthetic_faces(6, 32, seed=0)
    assert a.shape == (6, 3, 32, 32) and a.dtype == torch.float32
    assert float(a.min()) >= -1 and float(a.max()) <= 1
    assert torch.equal(a, mrs.synthetic_faces(6, 32, seed=0))
    assert torch.equal(a[:3], mrs.synthetic_faces(3, 32, seed=0))  # face i independent of n
    b = mrs.synthetic_faces(6, 32, seed=1)
    assert not torch.equal(a, b)
    # varied: faces differ from each other well beyond noise
    diffs = [(a[i] - a[j]).abs().mean() for i in range(6) for j in range(i)]
    assert float(min(diffs)) > 0.05
    # a face sits in the centre: the centre differs from the corners (background)
    assert float((a[:, :, 12:20, 12:20].mean((2, 3)) - a[:, :, :3, :3].mean((2, 3))).abs().mean()) > 0.05


def test_face_symmetry():
    """Features are mirrored: the left half flipped is close to the right half (eyes too)."""
    x = mrs.synthetic_faces(8, 64, seed=2)
    asym = (x - x.flip(-1)).abs().mean()
    other = (x - x.roll(1, 0).flip(-1)).abs().mean()
    assert float(asym) < 0.5 * float(other)


def test_psnr_and_hole_psnr():
    x = torch.zeros(2, 3, 8, 8)
    ref = torch.zeros(2, 3, 8, 8)
    assert torch.isinf(mrs.psnr(x, ref)).all()
    ref[1] = 0.2  # MSE 0.04 -> 10 log10(4 / 0.04) = 20 dB
    assert float(mrs.psnr(x, ref)[1]) == pytest.approx(20.0, abs=1e-4)
    m = torch.zeros(2, 1, 8, 8)
    m[..., :4, :] = 1
    ref2 = ref.clone()
    ref2[..., 4:, :] = 1.0  # error only outside the hole
    assert torch.isinf(mrs.hole_psnr(x, ref2 * (1 - m), m)[0])
    with pytest.raises(ValueError, match="empty"):
        mrs.hole_psnr(x, ref, torch.zeros(2, 1, 8, 8))


def test_seam_score():
    x0 = mrs.synthetic_faces(2, 16)
    m = masks.box_mask(16, 4, 4, 8, 8, n=2)
    assert torch.allclose(mrs.seam_score(x0, m, ref=x0), torch.zeros(2))
    shifted = x0 + 0.3 * m  # a constant offset in the hole: a seam
    s = mrs.seam_score(shifted, m, ref=x0)
    assert bool((s > 0.1).all())
    # a flat image: the score is exactly the offset
    flat = torch.zeros(1, 3, 16, 16)
    assert float(mrs.seam_score(flat + 0.3 * m[:1], m[:1])) == pytest.approx(0.3)
    assert float(mrs.seam_score(flat, torch.zeros(1, 1, 16, 16))) == 0.0


# -- masks at latent resolution ---------------------------------------------------------------

def test_to_latent_rules():
    from mrs.core.masks import to_latent

    m = mrs.masks.box_mask(64, 16, 16, 32, 32)                      # a 32x32 hole in 64x64
    hard = to_latent(m, 4, "max")
    assert hard.shape == (1, 1, 16, 16) and set(hard.unique().tolist()) == {0.0, 1.0}
    assert int(hard.sum()) == 8 * 8                                  # exact block boundaries
    mean = to_latent(m, 4, "mean")
    assert torch.equal(mean, hard)                                   # aligned: no partial block
    soft = to_latent(m, 4, "authors")
    frac = ((soft > 0) & (soft < 1)).float().mean()
    assert soft.shape == (1, 1, 16, 16) and 0.2 < float(frac) < 0.9  # a wide fractional band
    assert float(soft[0, 0, 8, 8]) == pytest.approx(1.0, abs=1e-6)   # deep inside: a hole
    assert float(soft[0, 0, 0, 0]) == 0.0                            # far away: known
    # zero padding: a hole touching the image border stays below 1 there
    edge = to_latent(mrs.masks.box_mask(64, 0, 0, 64, 32), 4, "authors")
    assert float(edge[0, 0, 0, 0]) < 0.7 and float(edge[0, 0, 8, 3]) == pytest.approx(1.0, abs=1e-6)
    # an unaligned hole: partial blocks give multiples of 1/16 under "mean"
    odd = to_latent(mrs.masks.box_mask(64, 17, 17, 6, 6), 4, "mean")
    assert torch.allclose(odd * 16, (odd * 16).round()) and 0 < float(odd.max()) < 1
    with pytest.raises(ValueError, match="how"):
        to_latent(m, 4, "blur")
    with pytest.raises(ValueError, match="multiple"):
        to_latent(mrs.masks.box_mask(30, 2, 2, 5, 5), 4)


def test_is_binary_tells_fractional_masks_apart():
    from mrs.core.checks import is_binary

    m = torch.zeros(2, 1, 4, 4)
    m[0, 0, :2] = 1.0
    assert is_binary(m)
    m[1, 0, 3, 3] = 0.25
    assert not is_binary(m)
    assert not is_binary(torch.full((1, 1, 2, 2), 0.999))
