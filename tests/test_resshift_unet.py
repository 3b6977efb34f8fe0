"""ResShift's official network (``mrs.nets.resshift_unet``): the forward convention, the official
shift mask, reading and writing the official weight files with clear errors, the registry, and
sampling on latents with image-resolution conditioning. Exactness against the official classes is
checked outside the repository (on a checkout of zsyOAOA/ResShift); here only what follows from
the official code's definitions."""

import copy
import math
from dataclasses import replace

import pytest
import torch

import mrs
from mrs.nets import build_net, count_parameters, describe_net, net_names, timestep_embedding
from mrs.nets.fast import prepare_for_inference
from mrs.nets.resshift_unet import ResShiftUNet, ResShiftUNetConfig, load_resshift_unet, save_resshift_unet
from mrs.nets.resshift_unet.config import OFFICIAL_ARGS
from mrs.nets.resshift_unet.swin import official_shift_mask

# UNetModelSwin(**inpaint_lama256_face.yaml), counted on the official classes
OFFICIAL_FACE_PARAMS = 118_714_399
SCH = mrs.Schedule.exponential(T=4, kappa=2.0, min_noise_level=0.2, etas_end=0.99, power=0.3)
TINY = ResShiftUNetConfig.preset("tiny", SCH)


def tiny_net(seed=0, **changes) -> ResShiftUNet:
    """A tiny net with every parameter random (the zero-initialised convs too)."""
    torch.manual_seed(seed)
    net = ResShiftUNet(replace(TINY, **changes)).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel() if p.dim() > 1 else 10))
    return net


def batch(b=2, h=16, f=4, seed=0):
    """Latent x_t [b,3,h,h], times, image y [b,3,fh,fh] with the hole at -1, image mask {0,1}."""
    g = torch.Generator().manual_seed(seed)
    x_t = 2 * torch.randn(b, 3, h, h, generator=g)
    mask = torch.zeros(b, 1, f * h, f * h)
    mask[:, :, f * h // 4: f * h // 2, f * h // 8: 3 * f * h // 4] = 1.0
    y = torch.where(mask > 0, -1.0, torch.rand(b, 3, f * h, f * h, generator=g) * 2 - 1)
    return x_t, torch.arange(b) % 4 + 1, y, mask


def tiny_kwargs():
    return TINY.official_kwargs()


# -- shapes and the forward convention -----------------------------------------------------------

def test_a_16x16_latent_with_a_64x64_image_gives_a_16x16_latent():
    net = tiny_net()
    x_t, t, y, mask = batch()
    with torch.no_grad():
        out = net(x_t, t, y, mask)
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
    # 32x32 latents (a multiple of size_multiple = 8) run too; the feature extractor has 64 outputs
    x_t, t, y, mask = batch(h=32)
    assert net(x_t, t, y, mask).shape == (2, 3, 32, 32)
    assert net.input_blocks[0][0].in_channels == 3 + 64 and TINY.size_multiple == 8


def test_bad_sizes_and_inputs_raise_clear_errors():
    net = tiny_net()
    x_t, t, y, mask = batch()
    with pytest.raises(ValueError, match=r"y must be the image \[B, 3, 4 h, 4 w\]"):
        net(x_t, t, y[:, :, :32, :32], mask)
    with pytest.raises(ValueError, match="mask must be"):
        net(x_t, t, y, mask[:, :, :32, :32])
    with pytest.raises(ValueError, match="multiple of 8"):
        net(x_t[:, :, :12, :12], t, y[:, :, :48, :48], mask[:, :, :48, :48])
    with pytest.raises(ValueError, match="1..4"):
        net(x_t, torch.tensor([0, 1]), y, mask)
    with pytest.raises(ValueError, match="values must lie in"):
        net(x_t, t, y, 2 * mask - 1)          # the {-1, 1} mask is made inside the net
    with pytest.raises(ValueError, match="noise-map"):
        net(x_t, t, y, mask, noise_map=mask)


def test_the_net_scales_x_t_shifts_t_and_remaps_the_mask_itself():
    """What enters the official body: x_t / sqrt(kappa^2 eta_t + 1), the time t - 1 and
    [y, 2 mask - 1]."""
    net = tiny_net()
    x_t, t, y, mask = batch()
    seen = {}
    hooks = [net.feature_extractor.register_forward_hook(lambda m, i, o: seen.update(fe=i[0])),
             net.input_blocks[0].register_forward_hook(lambda m, i, o: seen.update(x=i[0])),
             net.time_embed.register_forward_hook(lambda m, i, o: seen.update(emb=i[0]))]
    with torch.no_grad():
        net(x_t, t, y, mask)
    for h in hooks:
        h.remove()
    assert torch.equal(seen["fe"], torch.cat([y, 2 * mask - 1], dim=1))
    std = torch.sqrt(SCH.kappa ** 2 * SCH.etas[t] + 1).float().view(-1, 1, 1, 1)
    torch.testing.assert_close(seen["x"][:, :3], x_t / std, rtol=1e-6, atol=0)
    assert seen["x"].shape[1] == 3 + 64
    assert torch.equal(seen["emb"], timestep_embedding(t - 1, TINY.model_channels))


def test_fractional_times_interpolate_between_the_integers():
    net = tiny_net()
    x_t, _, y, mask = batch()
    with torch.no_grad():
        at_2 = net(x_t, torch.tensor([2, 2]), y, mask)
        at_2f = net(x_t, torch.tensor([2.0, 2.0]), y, mask)
        between = net(x_t, torch.tensor([2.5, 2.5]), y, mask)
    torch.testing.assert_close(at_2f, at_2, rtol=0, atol=1e-5)
    assert not torch.allclose(between, at_2)


def test_the_official_shift_mask_keeps_apart_columns_of_the_last_row_of_windows_only():
    """The official calculate_mask's two slips (row-only regions, transposed windows), pinned by
    hand: for an 8x8 map, windows of 4, shift 2, only windows 2 and 3 (the bottom row) are masked,
    and there tokens in columns {0, 1} and {2, 3} of the window cannot attend to each other."""
    m = official_shift_mask(8, 8, 4, 2)
    assert m.shape == (4, 16, 16) and set(m.unique().tolist()) == {-100.0, 0.0}
    assert (m[:2] == 0).all()
    col = torch.arange(16) % 4 >= 2                       # token k = 4 i + j sits in column j
    expected = torch.where(col[:, None] != col[None], -100.0, 0.0)
    assert torch.equal(m[2], expected) and torch.equal(m[3], expected)
    m[0, 0, 1] = 5.0                                      # a fresh tensor: the cache is untouched
    assert official_shift_mask(8, 8, 4, 2)[0, 0, 1] == 0


def test_channels_last_inference_gives_the_same_numbers():
    net = tiny_net()
    x_t, t, y, mask = batch()
    with torch.no_grad():
        ref = net(x_t, t, y, mask)
        fast = prepare_for_inference(copy.deepcopy(net))(x_t, t, y, mask)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-5)


# -- configs and the registry --------------------------------------------------------------------

def test_presets_registry_and_the_official_parameter_count():
    assert "resshift_unet" in net_names()
    with torch.device("meta"):
        official = ResShiftUNet(ResShiftUNetConfig.preset("official", SCH))
        paper = ResShiftUNet(ResShiftUNetConfig.preset("paper", SCH))
    assert count_parameters(official) == OFFICIAL_FACE_PARAMS
    assert official.cfg.size_multiple == 64 and paper.cfg.window_size == 4
    net = tiny_net()
    d = describe_net(net)
    assert d["arch"] == "resshift_unet" and ResShiftUNetConfig.from_dict(d["config"]) == TINY
    rebuilt = build_net("resshift_unet", d["config"])
    assert isinstance(rebuilt, ResShiftUNet) and rebuilt.cfg == TINY
    assert set(TINY.official_kwargs()) == set(OFFICIAL_ARGS)


@pytest.mark.parametrize("changes, match", [
    (dict(dims=3), "dims=3 is not supported"),
    (dict(resblock_updown=True), "resblock_updown"),
    (dict(cond_mask=False), "cond_mask"),
    (dict(use_noise_map=True), "noise-map"),
    (dict(lq_size=48), "power of two"),
    (dict(model_channels=48), "multiples of 32"),
    (dict(num_res_blocks=(1, 2, 3)), "one entry per level"),
    (dict(num_head_channels=12), "num_head_channels"),
])
def test_unsupported_or_inconsistent_configs_raise(changes, match):
    with pytest.raises(ValueError, match=match):
        replace(TINY, **changes)


# -- the weight files ----------------------------------------------------------------------------

def test_save_then_load_is_exact(tmp_path):
    net = tiny_net()
    path = save_resshift_unet(net, tmp_path / "w.pth")
    loaded = load_resshift_unet(path, schedule=SCH, **tiny_kwargs())
    assert not loaded.training and loaded.cfg == TINY
    for (k, a), (k2, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x_t, t, y, mask = batch()
    with torch.no_grad():
        assert torch.equal(loaded(x_t, t, y, mask), net(x_t, t, y, mask))


def test_wrapped_and_prefixed_files_load_and_derived_buffers_may_be_absent(tmp_path):
    net = tiny_net()
    state = {k: v for k, v in net.state_dict().items()
             if not k.endswith(("relative_position_index", "attn_mask"))}
    torch.save({"state_dict": {"module._orig_mod." + k: v for k, v in state.items()}},
               tmp_path / "w.pth")
    loaded = load_resshift_unet(tmp_path / "w.pth", schedule=SCH, **tiny_kwargs())
    x_t, t, y, mask = batch()
    with torch.no_grad():
        assert torch.equal(loaded(x_t, t, y, mask), net(x_t, t, y, mask))


def test_a_truncated_file_names_the_file(tmp_path):
    path = save_resshift_unet(tiny_net(), tmp_path / "w.pth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"w\.pth: cannot read the weights"):
        load_resshift_unet(path, schedule=SCH, **tiny_kwargs())
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        load_resshift_unet(tmp_path / "nothing.pth", schedule=SCH, **tiny_kwargs())


def test_missing_misshaped_and_unexpected_keys_name_the_file_and_the_key(tmp_path):
    state = tiny_net().state_dict()
    key = "input_blocks.1.1.blocks.0.attn.qkv.weight"
    for name, bad, match in [
        ("missing", {k: v for k, v in state.items() if k != key}, "missing key"),
        ("shape", {**state, key: state[key][:, :-1]}, "has shape"),
        ("extra", {**state, "input_blocks.99.weight": torch.zeros(1)}, "unexpected key"),
    ]:
        torch.save(bad, tmp_path / f"{name}.pth")
        target = "input_blocks.99.weight" if name == "extra" else key
        with pytest.raises(ValueError) as err:
            load_resshift_unet(tmp_path / f"{name}.pth", schedule=SCH, **tiny_kwargs())
        msg = str(err.value)
        assert f"{name}.pth" in msg and match in msg and repr(target) in msg, msg


def test_a_file_for_another_configuration_or_an_unknown_argument_is_refused(tmp_path):
    save_resshift_unet(tiny_net(), tmp_path / "w.pth")
    with pytest.raises(ValueError, match="has shape"):      # window 8: another bias table
        load_resshift_unet(tmp_path / "w.pth", schedule=SCH, **{**tiny_kwargs(), "window_size": 8})
    with pytest.raises(ValueError, match="unknown UNetModelSwin argument"):
        load_resshift_unet(tmp_path / "w.pth", schedule=SCH, **tiny_kwargs(), window=8)
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="expected a state dict"):
        load_resshift_unet(tmp_path / "list.pth", schedule=SCH, **tiny_kwargs())


# -- sampling on latents -------------------------------------------------------------------------

def test_the_denoiser_samples_latents_conditioned_on_the_images():
    net = tiny_net()
    proc = mrs.make_process("resshift", SCH)
    _, _, y_image, mask_image = batch()
    z_y = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    mask_latent = torch.nn.functional.max_pool2d(mask_image, 4)
    den = net.denoiser(proc, y_image, mask_image)
    traj = mrs.sample(proc, den, z_y, mask_latent, generator=torch.Generator().manual_seed(0),
                      trajectory=True)
    z0 = traj.sample
    assert z0.shape == (2, 3, 16, 16) and torch.isfinite(z0).all()
    # the prediction at each step is the net's on the image conditioning
    with torch.no_grad():
        t = torch.full((2,), 4)
        torch.testing.assert_close(traj.x0_preds[0], net(traj.xs[0], t, y_image, mask_image))
        t = torch.full((2,), 1)
        torch.testing.assert_close(traj.x0_preds[-1], net(traj.xs[-2], t, y_image, mask_image))
        # and the image conditioning matters
        other = net(traj.xs[0], torch.full((2,), 4), y_image, torch.zeros_like(mask_image))
    assert not torch.allclose(other, traj.x0_preds[0])


def test_the_denoiser_needs_the_image_conditioning_and_the_net_s_schedule():
    net = tiny_net()
    proc = mrs.make_process("resshift", SCH)
    _, _, y_image, mask_image = batch()
    with pytest.raises(ValueError, match=r"net\.denoiser\(proc, y_image, mask_image\)"):
        net.denoiser(proc)
    with pytest.raises(ValueError, match="does not match the net's"):
        net.denoiser(mrs.make_process("resshift", mrs.Schedule.exponential(T=8)), y_image, mask_image)
    den = net.denoiser(proc, y_image, mask_image)
    with pytest.raises(ValueError, match=r"y must be the image"):
        den(torch.zeros(2, 3, 8, 8), torch.tensor([1, 1]), None, None)
