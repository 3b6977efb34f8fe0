"""The Swin-UNet denoiser: shapes, parameter counts, Swin windows, input scaling, training signal."""

import math
from dataclasses import replace

import pytest
import torch

import mrs
import mrs.nets.swin
from mrs.nets import SwinUNet, SwinUNetConfig, count_parameters
from mrs.nets.swin import SwinBlock, shift_window_mask, window_partition, window_reverse

RESSHIFT_FACE_PARAMS = 118.7e6   # ResShift's UNetModelSwin, face inpainting config


def inputs(b=2, h=16, w=16, seed=0, t=None):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(b, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(b, 1, h, w)
    mask[:, :, h // 4: h // 2 + 2, w // 4: w // 2 + 2] = 1.0
    y = mrs.degrade(x0, mask)
    x_t = x0 + 0.5 * torch.randn(b, 3, h, w, generator=g)
    t = torch.arange(b) % 4 + 1 if t is None else t
    return x0, x_t, t, y, mask


def tiny(**changes):
    torch.manual_seed(0)
    return SwinUNet(replace(SwinUNetConfig.preset("tiny"), **changes))


def perturb_zero_inits(net):
    """Give the zero-initialised convs small random weights so that every branch is live."""
    with torch.no_grad():
        for p in net.parameters():
            if p.abs().max() == 0 and p.dim() > 1:
                p.normal_(0, 0.02)


# -- config --------------------------------------------------------------------------------------
def test_presets_and_replace():
    paper = SwinUNetConfig.preset("paper")
    assert paper == SwinUNetConfig()
    assert (paper.model_channels, paper.channel_mult, paper.window_size) == (160, (1, 2, 2, 4), 4)
    assert paper.schedule == mrs.ScheduleSpec() and paper.T == 4
    assert replace(paper, use_noise_map=True).use_noise_map
    with pytest.raises(ValueError, match="unknown preset"):
        SwinUNetConfig.preset("huge")
    with pytest.raises(ValueError, match="attention_levels"):
        SwinUNetConfig(attention_levels=(4,))
    with pytest.raises(ValueError, match="num_head_channels"):
        SwinUNetConfig(swin_embed_dim=100)
    sch = mrs.Schedule.exponential(T=3, kappa=1.0)
    cfg = SwinUNetConfig.preset("tiny", schedule=sch)
    assert cfg.T == 3 and cfg.schedule.kappa == 1.0 and SwinUNet(cfg).schedule == sch


# -- the paper net (big: built once, one forward) -----------------------------------------------
@pytest.fixture(scope="module")
def paper_net():
    torch.manual_seed(0)
    return SwinUNet(SwinUNetConfig.preset("paper")).eval()


def test_paper_parameter_count(paper_net):
    n = count_parameters(paper_net)
    print(f"paper SwinUNet: {n:,} parameters ({n / 1e6:.2f}M; ResShift: 118.7M, "
          f"{100 * (n / RESSHIFT_FACE_PARAMS - 1):+.2f} %)")
    assert abs(n / RESSHIFT_FACE_PARAMS - 1) < 0.02


def test_paper_forward_shape(paper_net):
    _, x_t, t, y, mask = inputs(b=1, h=64, w=64)
    with torch.no_grad():
        out = paper_net(x_t, t, y, mask)
    assert out.shape == x_t.shape and torch.isfinite(out).all()


# -- the tiny net --------------------------------------------------------------------------------
def test_tiny_parameter_count_and_shape():
    net = tiny()
    n = count_parameters(net)
    print(f"tiny SwinUNet: {n:,} parameters")
    assert 0.5e6 < n < 3e6
    _, x_t, t, y, mask = inputs(b=2, h=32, w=32)
    with torch.no_grad():
        out = net(x_t, t, y, mask)
    assert out.shape == x_t.shape
    assert (out == 0).all()             # the output conv starts at zero


@pytest.mark.parametrize("size", [(30, 46), (17, 9), (3, 5)])
def test_odd_sizes_padded_and_cropped(size):
    net = tiny()
    perturb_zero_inits(net)
    _, x_t, t, y, mask = inputs(b=2, h=size[0], w=size[1])
    with torch.no_grad():
        out = net(x_t, t, y, mask)
    assert out.shape == x_t.shape
    assert torch.isfinite(out).all() and out.abs().max() > 0


# -- Swin windows --------------------------------------------------------------------------------
def test_window_partition_round_trip():
    x = torch.randn(2, 8, 12, 5)                       # (B, H, W, C)
    win = window_partition(x, 4)
    assert win.shape == (2, 6, 16, 5)
    assert torch.equal(win[:, 0], x[:, :4, :4].reshape(2, 16, 5))     # first window, row by row
    assert torch.equal(win[:, 1], x[:, :4, 4:8].reshape(2, 16, 5))    # windows row by row too
    assert torch.equal(window_reverse(win, 4, 8, 12), x)


def test_shift_mask_blocks_wrapped_regions():
    ws, s = 4, 2
    mask = shift_window_mask(8, 8, ws, s)              # (nW, N, N), windows of the rolled map
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()                        # an interior window: nothing wrapped
    # bottom-right window of the rolled map: rows/cols 4-7, cut at 6 into 2x2 regions
    corner = mask[3]
    region = torch.tensor([[(r >= 2) * 2 + (c >= 2) for c in range(ws)] for r in range(ws)]).flatten()
    same = region[:, None] == region[None, :]
    assert (corner[same] == 0).all() and torch.isinf(corner[~same]).all()


def test_shifted_block_does_not_attend_across_the_wrap(monkeypatch):
    torch.manual_seed(0)
    block = SwinBlock(dim=8, num_heads=2, window_size=4, shift=2, mlp_ratio=2.0).eval()
    x = torch.randn(1, 8, 8, 8)                        # (B, H, W, C)
    x2 = x.clone()
    x2[0, 0, 0] += torch.randn(8)                      # change pixel (0, 0) (not by a constant:
                                                       # LayerNorm would remove it)
    with torch.no_grad():
        d = (block(x2) - block(x)).abs().sum(-1)[0]    # (H, W): where the output moved
    # after the roll by -2, (0,0) and (1,1) land in the same window and region: they interact;
    # (7,7) and (6,6) share that window but not the region (they are not neighbours): they don't
    assert d[1, 1] > 1e-4
    assert d[7, 7] == 0 and d[6, 6] == 0 and d[0, 7] == 0 and d[7, 0] == 0
    # without the mask the wrapped pixels would attend to each other
    monkeypatch.setattr(mrs.nets.swin, "shift_window_mask",
                        lambda H, W, ws, s, device=None, dtype=None: torch.zeros((H // ws) * (W // ws),
                                                                                 ws * ws, ws * ws))
    with torch.no_grad():
        d_unmasked = (block(x2) - block(x)).abs().sum(-1)[0]
    assert d_unmasked[7, 7] > 1e-4


# -- conditioning --------------------------------------------------------------------------------
def capture_first_conv_input(net):
    seen = {}
    handle = net.conv_in.register_forward_hook(lambda m, args, out: seen.update(h=args[0]))
    return seen, handle


def test_input_scaling_of_x_t_only():
    net = tiny()
    sch = mrs.Schedule.exponential()
    _, x_t, _, y, mask = inputs(b=4, h=16, w=16)
    t = torch.tensor([1, 2, 3, 4])
    seen, handle = capture_first_conv_input(net)
    with torch.no_grad():
        net(x_t, t, y, mask)
    handle.remove()
    h = seen["h"]
    assert h.shape == (4, 7, 16, 16)
    scale = (sch.kappa**2 * sch.etas[t] + 1).rsqrt().float().view(-1, 1, 1, 1)
    torch.testing.assert_close(h[:, :3], x_t * scale)
    assert torch.equal(h[:, 3:6], y) and torch.equal(h[:, 6:7], mask)
    assert float(scale[0]) == pytest.approx(1 / math.sqrt(4 * 0.01 + 1), rel=1e-3)


def test_noise_map_channel():
    assert tiny().conv_in.in_channels == 7
    net = tiny(use_noise_map=True)
    assert net.conv_in.in_channels == 8
    _, x_t, t, y, mask = inputs()
    with pytest.raises(ValueError, match="noise_map"):
        net(x_t, t, y, mask)
    nmap = mask * 0.5
    seen, handle = capture_first_conv_input(net)
    with torch.no_grad():
        assert net(x_t, t, y, mask, noise_map=nmap).shape == x_t.shape
    handle.remove()
    assert torch.equal(seen["h"][:, 7:], nmap)
    with pytest.raises(ValueError, match="noise_map"):
        net(x_t, t, y, mask, noise_map=nmap * 4)        # a variance, not rho * eta_t
    with pytest.raises(ValueError, match="noise_map"):
        tiny()(x_t, t, y, mask, noise_map=nmap)         # not expected by this net


def bad_net_inputs():
    _, x_t, t, y, mask = inputs()
    nan = x_t.clone()
    nan[0, 0, 0, 0] = float("nan")
    return [
        ("x_t", dict(x_t=x_t[:, :1])),                  # wrong channels
        ("x_t", dict(x_t=x_t[0])),                      # no batch dim
        ("x_t", dict(x_t=nan)),                         # NaN
        ("y", dict(y=y[:1])),                           # batch mismatch
        ("y", dict(y=y[:, :, :8])),                     # size mismatch
        ("mask", dict(mask=mask[:1])),                  # batch mismatch
        ("mask", dict(mask=mask.expand(-1, 3, -1, -1))),  # 3 channels
        ("mask", dict(mask=mask * 2)),                  # outside [0, 1]
        ("t", dict(t=torch.tensor([0, 1]))),            # t out of 1..T
        ("t", dict(t=torch.tensor([1, 5]))),
        ("t", dict(t=torch.tensor([1, 2, 3]))),         # wrong length
        ("t", dict(t=torch.tensor([0.5, 2.0]))),        # fractional time below 1
        ("t", dict(t=torch.tensor([1.0, float("nan")]))),  # NaN time
    ], dict(x_t=x_t, t=t, y=y, mask=mask)


@pytest.mark.parametrize("case", range(13))
def test_bad_input_raises(case):
    cases, good = bad_net_inputs()
    name, change = cases[case]
    with pytest.raises(ValueError, match=name):
        tiny()(**{**good, **change})


# -- training signal -----------------------------------------------------------------------------
def test_gradients_reach_every_parameter():
    net = tiny()
    x0, x_t, t, y, mask = inputs(b=2, h=16, w=16)
    # at init the zero output conv blocks the gradient to everything upstream; it must get one
    ((net(x_t, t, y, mask) - x0) ** 2).mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net.conv_out.weight.grad.abs().max() > 0
    # once the zero-initialised convs are non-zero, every parameter gets a gradient
    net.zero_grad()
    perturb_zero_inits(net)
    ((net(x_t, t, y, mask) - x0) ** 2).mean().backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().max() == 0]
    assert dead == []


def test_tiny_net_overfits_one_batch():
    net = tiny()
    x0, x_t, t, y, mask = inputs(b=2, h=16, w=16)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(15):                  # the loss falls about tenfold within 10 steps
        loss = ((net(x_t, t, y, mask) - x0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]


def test_sampling_with_a_tiny_net(paper_schedule):
    proc = mrs.make_process("emmd", paper_schedule)
    x0, _, _, y, mask = inputs(b=2, h=16, w=16)
    net = tiny().eval()
    perturb_zero_inits(net)
    out = mrs.sample(proc, net, y, mask, generator=torch.Generator().manual_seed(0))
    assert out.shape == y.shape and torch.isfinite(out).all()
    # known pixels stay y exactly under EMMD
    assert torch.equal(out * (1 - mask), y * (1 - mask))
    # a noise-map net through its denoiser wrapper
    net_nm = tiny(use_noise_map=True).eval()
    out = mrs.sample(proc, net_nm.denoiser(proc), y, mask)
    assert out.shape == y.shape
    other = mrs.make_process("emmd", mrs.Schedule.exponential(kappa=1.0))
    with pytest.raises(ValueError, match="schedule"):
        net_nm.denoiser(other)


def test_fractional_times_interpolate_between_the_integers():
    """A float t in [1, T] is accepted: integer-valued floats give exactly the integer-t output,
    and the input scale at t + 1/2 lies between those at t and t + 1."""
    torch.manual_seed(0)
    net = SwinUNet(SwinUNetConfig.preset("tiny")).eval()
    for p in net.conv_out.parameters():  # a non-zero output layer, so the outputs differ
        torch.nn.init.normal_(p, std=0.1)
    x_t, y = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    with torch.no_grad():
        a = net(x_t, torch.tensor([1, 3]), y, mask)
        b = net(x_t, torch.tensor([1.0, 3.0]), y, mask)
        c = net(x_t, torch.tensor([1.5, 3.5]), y, mask)
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, c, atol=1e-4)
    s = net._input_scale(torch.tensor([1.0, 1.5, 2.0]))
    assert s[0] > s[1] > s[2]
