"""Region-adaptive inference and the inference preparation (mrs.fast)."""

import pytest
import torch

import mrs
from mrs.nets import SwinUNet, SwinUNetConfig
from mrs.nets.fast import prepare_for_inference, region_box, region_denoiser


def _box(size, top, left, h, w, n=1):
    return mrs.masks.box_mask(size, top, left, h, w, n=n)


def test_region_box_dilates_grows_and_clips():
    m = _box(64, 20, 30, 8, 4)                       # rows 20..27, cols 30..33
    assert region_box(m, margin=0) == (20, 28, 30, 34)
    assert region_box(m, margin=4) == (16, 32, 26, 38)
    top, bottom, left, right = region_box(m, margin=4, multiple=16)
    assert (bottom - top, right - left) == (16, 16)
    assert top <= 16 and bottom >= 32 and left <= 26 and right >= 38   # still holds the box
    # near the border: shifted inside, never clipped below the multiple
    top, bottom, left, right = region_box(_box(64, 0, 60, 2, 4), margin=2, multiple=16)
    assert (top, right) == (0, 64) and bottom - top == 16 and right - left == 16
    # a box that cannot fit: the whole axis
    assert region_box(_box(20, 5, 5, 10, 10), margin=4, multiple=16) == (0, 20, 0, 20)
    assert region_box(torch.zeros(1, 1, 8, 8)) is None


def test_region_box_batch_is_the_union():
    m = torch.cat([_box(32, 2, 2, 4, 4), _box(32, 20, 24, 4, 4)])
    assert region_box(m, margin=0) == (2, 24, 2, 28)


@pytest.mark.parametrize("bad", [dict(margin=-1), dict(multiple=0), dict(margin=1.5)])
def test_region_box_bad_arguments(bad):
    with pytest.raises(ValueError):
        region_box(_box(16, 2, 2, 4, 4), **bad)
    with pytest.raises(ValueError):
        region_denoiser(lambda *a: a[2], **bad)


def test_region_denoiser_crops_and_keeps_known_pixels():
    """The wrapped denoiser sees only the crop; outside it the prediction is y exactly."""
    x0 = mrs.data.synthetic_faces(2, 32, seed=1)
    mask = _box(32, 8, 10, 6, 6, n=2)
    y = mrs.masks.degrade(x0, mask)
    seen = []

    def inner(x_t, t, y_c, m_c):
        seen.append(tuple(x_t.shape))
        return torch.full_like(y_c, 0.5)

    den = region_denoiser(inner, margin=2, multiple=1)
    out = den(torch.randn_like(y), torch.tensor([1, 1]), y, mask)
    assert seen == [(2, 3, 10, 10)]
    top, bottom, left, right = 6, 16, 8, 18
    assert torch.equal(out[:, :, top:bottom, left:right], torch.full((2, 3, 10, 10), 0.5))
    outside = torch.ones(1, 1, 32, 32, dtype=torch.bool)
    outside[..., top:bottom, left:right] = False
    assert torch.equal(out.masked_select(outside), y.masked_select(outside))
    # the box is computed once per mask tensor
    den(torch.randn_like(y), torch.tensor([2, 2]), y, mask)
    assert len(seen) == 2


def test_region_sampling_with_the_oracle_is_exact():
    """With the oracle denoiser, region-adaptive sampling gives x0 back like full sampling."""
    x0 = mrs.data.synthetic_faces(2, 32, seed=2)
    mask = _box(32, 4, 6, 10, 12, n=2)
    y = mrs.masks.degrade(x0, mask)
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    oracle = mrs.oracle_denoiser(x0)

    def cropped_oracle(x_t, t, y_c, m_c):    # the oracle restricted to the crop it is given
        return x0[:, :, box[0]:box[1], box[2]:box[3]]

    box = region_box(mask, margin=3)
    full = mrs.sample(proc, oracle, y, mask, generator=torch.Generator().manual_seed(0))
    fast = mrs.sample(proc, region_denoiser(cropped_oracle, margin=3), y, mask,
                      generator=torch.Generator().manual_seed(0))
    assert torch.allclose(full, x0, atol=1e-5) and torch.allclose(fast, full, atol=1e-5)


def test_region_denoiser_with_a_net_matches_full_when_the_box_is_everything():
    torch.manual_seed(0)
    net = SwinUNet(SwinUNetConfig.preset("tiny")).eval()
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    x0 = mrs.data.synthetic_faces(1, 32, seed=3)
    mask = _box(32, 4, 4, 24, 24)
    y = mrs.masks.degrade(x0, mask)
    den = net.denoiser(proc)
    a = mrs.sample(proc, den, y, mask, generator=torch.Generator().manual_seed(1))
    b = mrs.sample(proc, region_denoiser(den, margin=8, multiple=16), y, mask,
                   generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    # a small hole: the net runs on a 16x16 crop and the known pixels stay exact
    small = _box(32, 10, 10, 4, 4)
    ys = mrs.masks.degrade(x0, small)
    c = mrs.sample(proc, region_denoiser(den, margin=4, multiple=16), ys, small,
                   generator=torch.Generator().manual_seed(1))
    assert torch.equal(c * (1 - small), ys * (1 - small))


def test_prepare_for_inference_keeps_the_output():
    torch.manual_seed(0)
    net = SwinUNet(SwinUNetConfig.preset("tiny"))
    for p in net.conv_out.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.5).float()
    t = torch.tensor([1, 4])
    with torch.no_grad():
        ref = net.eval()(x, t, x, mask)
    fast = prepare_for_inference(net)
    assert not any(p.requires_grad for p in fast.parameters())
    assert fast.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out = fast(x, t, x, mask)
    assert torch.allclose(out, ref, atol=1e-4)
    with pytest.raises(ValueError):
        prepare_for_inference("net")


def test_receptive_field_profile_is_a_distribution():
    torch.manual_seed(0)
    net = SwinUNet(SwinUNetConfig.preset("tiny"))
    for p in net.conv_out.parameters():
        torch.nn.init.normal_(p, std=0.1)
    rf = mrs.fast.receptive_field(net, size=16, batch=2)
    assert len(rf["profile"]) == 9                     # Chebyshev distances 0..8 in 16x16
    assert abs(sum(rf["profile"]) - 1.0) < 1e-6
    assert all(b >= a - 1e-12 for a, b in zip(rf["cumulative"], rf["cumulative"][1:]))
    assert rf["cumulative"][rf["radius"]] >= 0.95 > (rf["cumulative"][rf["radius"] - 1]
                                                     if rf["radius"] else -1)
    assert net.training                                 # the net's mode is restored
    with pytest.raises(ValueError):
        mrs.fast.receptive_field(net, size=16, mass=0.0)


def test_forward_flops_scale_with_batch_and_pixels():
    net = SwinUNet(SwinUNetConfig.preset("tiny"))
    a = mrs.fast.forward_flops(net, 1, 16)
    b = mrs.fast.forward_flops(net, 2, 16)
    c = mrs.fast.forward_flops(net, 1, 32)
    assert a["total"] == a["convolution"] + a["linear"] + a["attention"] > 0
    assert b["total"] == 2 * a["total"]
    assert c["convolution"] == 4 * a["convolution"]      # convs are linear in the pixel count
    # the first conv alone: 2 * H * W * C_in * C_out * 9 multiply-adds
    cin = net.conv_in
    first = 2 * 16 * 16 * cin.in_channels * cin.out_channels * 9
    assert a["convolution"] > first


def test_deferred_value_checks_name_the_bad_step(monkeypatch):
    """On accelerators the sampler checks the predictions for NaN once, after the last step; the
    error still names the first bad step. Simulated on CPU by forcing the deferred path."""
    monkeypatch.setattr(mrs.sampling.ancestral, "defer_value_checks", lambda device: True)
    x0 = mrs.data.synthetic_faces(1, 16, seed=0)
    mask = _box(16, 4, 4, 6, 6)
    y = mrs.masks.degrade(x0, mask)
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    calls = []

    def bad_at_2(x_t, t, y_, m):
        calls.append(int(t[0]))
        out = x0.clone()
        if int(t[0]) == 2:
            out[0, 0, 5, 5] = float("nan")
        return out

    with pytest.raises(ValueError, match="t=2"):
        mrs.sample(proc, bad_at_2, y, mask)
    assert calls == [4, 3, 2, 1]                        # no sync stopped it early
    out = mrs.sample(proc, mrs.oracle_denoiser(x0), y, mask)   # a good run passes
    assert torch.allclose(out, x0, atol=1e-5)
