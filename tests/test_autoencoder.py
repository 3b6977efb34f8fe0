"""ResShift's VQ-f4 autoencoder on diffusers' VQModel (mrs.nets.autoencoder): files in the official
format (LDM VQModelTorch names) load exactly, bad files give clear errors, the code lookup stays in
float32 under autocast. The reference here is LDM's encoder/decoder written as plain functions of the
official state-dict names (checked against ResShift's own classes outside this repository)."""

import pytest
import torch
import torch.nn.functional as F

import mrs
from mrs.nets.autoencoder import VQAutoencoder, build_resshift_vq, load_resshift_vq, save_resshift_vq

SMALL = dict(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, embed_dim=3, n_embed=64, z_channels=4)
LEVELS, BLOCKS = 3, 1


# -- LDM's VQModelTorch as functions of its state dict ------------------------------------------

def _gn(sd, p, h):
    return F.group_norm(h, 32, sd[p + ".weight"], sd[p + ".bias"], eps=1e-6)


def _conv(sd, p, h, stride=1, padding=1):
    return F.conv2d(h, sd[p + ".weight"], sd[p + ".bias"], stride=stride, padding=padding)


def _res(sd, p, h):
    r = _conv(sd, p + ".conv1", F.silu(_gn(sd, p + ".norm1", h)))
    r = _conv(sd, p + ".conv2", F.silu(_gn(sd, p + ".norm2", r)))
    if p + ".nin_shortcut.weight" in sd:
        h = _conv(sd, p + ".nin_shortcut", h, padding=0)
    return h + r


def _attn(sd, p, h):
    b, c, hh, ww = h.shape
    n = _gn(sd, p + ".norm", h)
    q, k, v = (_conv(sd, f"{p}.{s}", n, padding=0).flatten(2) for s in "qkv")  # [b, c, hw]
    w = torch.softmax(q.transpose(1, 2) @ k * c ** -0.5, dim=2)  # [b, hw_q, hw_k]
    return h + _conv(sd, p + ".proj_out", (v @ w.transpose(1, 2)).view(b, c, hh, ww), padding=0)


def _mid(sd, p, h):
    return _res(sd, p + ".block_2", _attn(sd, p + ".attn_1", _res(sd, p + ".block_1", h)))


def ldm_encode(sd, x, levels=LEVELS, blocks=BLOCKS):
    h = _conv(sd, "encoder.conv_in", x)
    for i in range(levels):
        for j in range(blocks):
            h = _res(sd, f"encoder.down.{i}.block.{j}", h)
        if i < levels - 1:  # asymmetric zero padding, stride-2 3x3 conv
            h = _conv(sd, f"encoder.down.{i}.downsample.conv", F.pad(h, (0, 1, 0, 1)), stride=2, padding=0)
    h = _conv(sd, "encoder.conv_out", F.silu(_gn(sd, "encoder.norm_out", _mid(sd, "encoder.mid", h))))
    return _conv(sd, "quant_conv", h, padding=0)


def ldm_decode(sd, z, levels=LEVELS, blocks=BLOCKS):
    e = sd["quantize.embedding.weight"]
    rows = z.permute(0, 2, 3, 1).reshape(-1, e.shape[1])
    idx = (torch.sum(rows ** 2, 1, keepdim=True) + torch.sum(e ** 2, 1) - 2 * rows @ e.t()).argmin(1)
    zq = e[idx].view(z.shape[0], z.shape[2], z.shape[3], -1).permute(0, 3, 1, 2)
    h = _conv(sd, "decoder.conv_in", _conv(sd, "post_quant_conv", zq, padding=0))
    h = _mid(sd, "decoder.mid", h)
    for i in reversed(range(levels)):  # LDM runs its decoder levels from the last index down
        for j in range(blocks + 1):
            h = _res(sd, f"decoder.up.{i}.block.{j}", h)
        if i > 0:
            h = _conv(sd, f"decoder.up.{i}.upsample.conv", F.interpolate(h, scale_factor=2.0, mode="nearest"))
    return _conv(sd, "decoder.conv_out", F.silu(_gn(sd, "decoder.norm_out", h)))


# -- fixtures ----------------------------------------------------------------------------------

def _random_model(seed=0):
    torch.manual_seed(seed)
    model = build_resshift_vq(**SMALL)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # move every weight off its initial value (norms 1/0, small codebook)
        for name, p in model.named_parameters():
            scale = 0.5 if name.endswith("embedding.weight") else 0.1 if p.ndim == 1 else 0.02
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model


@pytest.fixture(scope="module")
def model():
    return _random_model()


@pytest.fixture(scope="module")
def official_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("vq") / "vq_f4.pth"
    save_resshift_vq(model, path)
    return path


def _x(size=32, seed=3):
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- tests -------------------------------------------------------------------------------------

def test_round_trip_gives_identical_encode_and_decode(model, official_file):
    loaded = load_resshift_vq(official_file, **SMALL)
    assert isinstance(loaded, VQAutoencoder) and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    x = _x()
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (2, 3, 8, 8) and loaded.factor == 4
        assert torch.equal(loaded.encode(x), z)
        assert torch.equal(loaded.decode(z), model.decode(z))
        assert torch.equal(loaded.codes(z), model.codes(z))


def test_equals_ldm_reference_written_from_the_official_names(official_file):
    sd = torch.load(official_file, weights_only=True)
    assert sd["decoder.mid.attn_1.q.weight"].shape == (64, 64, 1, 1)  # 1x1 convs in LDM
    ours = load_resshift_vq(official_file, **SMALL)
    x = _x(seed=5)
    with torch.no_grad():
        z = ours.encode(x)
        assert (z - ldm_encode(sd, x)).abs().max() <= 1e-5
        assert (ours.decode(z) - ldm_decode(sd, z)).abs().max() <= 1e-5
        # the reference can tell a wrong level order apart: swapping LDM's decoder levels 0 and 1
        # (same shapes for blocks 1) changes the output
        swapped = dict(sd)
        for k in [k for k in sd if k.startswith("decoder.up.0.block.1.")]:
            other = k.replace("up.0.", "up.1.")
            swapped[k], swapped[other] = sd[other], sd[k]
        assert (ours.decode(z) - ldm_decode(swapped, z)).abs().max() > 1e-3


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "module.", "_orig_mod.", "module._orig_mod."])
def test_official_file_variants_load(model, official_file, tmp_path, wrap):
    sd = torch.load(official_file, weights_only=True)
    if wrap == "state_dict":
        obj = {"state_dict": sd, "epoch": 3}
    elif wrap == "plain":
        obj = sd
    else:
        obj = {wrap + k: v for k, v in sd.items()}
    path = tmp_path / "v.pth"
    torch.save(obj, path)
    loaded = load_resshift_vq(path, **SMALL)
    x = _x(16)
    with torch.no_grad():
        assert torch.equal(loaded.decode(loaded.encode(x)), model.decode(model.encode(x)))


def test_truncated_file_names_the_file(official_file, tmp_path):
    path = tmp_path / "truncated.pth"
    data = official_file.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.pth.*truncated or corrupt"):
        load_resshift_vq(path, **SMALL)


def test_missing_unexpected_and_misshaped_keys_are_named(official_file, tmp_path):
    sd = torch.load(official_file, weights_only=True)
    path = tmp_path / "bad.pth"
    torch.save({k: v for k, v in sd.items() if k != "decoder.up.1.block.0.conv2.weight"}, path)
    with pytest.raises(ValueError, match=r"bad\.pth.*missing key 'decoder\.up\.1\.block\.0\.conv2\.weight'"):
        load_resshift_vq(path, **SMALL)
    torch.save({**sd, "encoder.mid.attn_1.q.weight": sd["encoder.mid.attn_1.q.weight"][:, :, 0, 0]}, path)
    with pytest.raises(ValueError, match=r"bad\.pth.*'encoder\.mid\.attn_1\.q\.weight' has shape \(64, 64\)"):
        load_resshift_vq(path, **SMALL)
    torch.save({**sd, "loss.discriminator.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"bad\.pth.*unexpected key 'loss\.discriminator\.weight'"):
        load_resshift_vq(path, **SMALL)
    # the right file read with another config: the first mismatch is named
    with pytest.raises(ValueError, match=r"quantize\.embedding\.weight' has shape \(64, 3\)"):
        load_resshift_vq(official_file, **{**SMALL, "n_embed": 128})


def test_files_that_are_not_state_dicts_say_so(tmp_path):
    path = tmp_path / "t.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match=r"t\.pth: not a state dict.*Tensor"):
        load_resshift_vq(path, **SMALL)
    torch.save({"conv.weight": torch.zeros(3)}, path)  # a state dict of some other network
    with pytest.raises(ValueError, match=r"t\.pth.*not a ResShift VQ autoencoder state dict"):
        load_resshift_vq(path, **SMALL)
    with pytest.raises(FileNotFoundError):
        load_resshift_vq(tmp_path / "absent.pth", **SMALL)


def test_code_lookup_stays_float32_under_bf16_autocast(model):
    z = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(11))
    codes = model.codes(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(model.codes(z), codes)
        assert torch.equal(model.codes(z.bfloat16()), model.codes(z.bfloat16().float()))
        zq = model.quantize(z)
        # the premise: the same lookup left to autocast (bf16 matmul) picks other codes
        rows, e = z.permute(0, 2, 3, 1).reshape(-1, 3), model.codebook
        naive = ((rows ** 2).sum(1, keepdim=True) + (e ** 2).sum(1) - 2 * rows @ e.t()).argmin(1)
    assert zq.dtype == torch.float32 and torch.equal(zq, model.quantize(z))
    assert (naive != codes.view(-1)).sum() > 0
    # the straight-through value z + (e_k - z) is e_k up to rounding
    assert torch.allclose(zq.permute(0, 2, 3, 1).reshape(-1, 3), model.codebook[codes.view(-1)], atol=1e-6)


def test_decode_passes_gradients_to_the_latent_and_stays_frozen(model):
    z = torch.randn(1, 3, 4, 4, requires_grad=True)
    model.decode(z).square().mean().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    model.train()
    assert not model.training and all(p.grad is None for p in model.parameters())


def test_bad_inputs_raise_clear_errors(model):
    with pytest.raises(ValueError, match=r"x must be a tensor \[B, 3, H, W\]"):
        model.encode(torch.zeros(1, 4, 16, 16))
    with pytest.raises(ValueError, match="multiples of 4"):
        model.encode(torch.zeros(1, 3, 18, 16))
    with pytest.raises(ValueError, match=r"z must be a tensor \[B, 3, H, W\]"):
        model.decode(torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError, match="multiple of 32"):
        build_resshift_vq(ch=48, ch_mult=(1,))
    with pytest.raises(ValueError, match="VQAutoencoder or a diffusers VQModel"):
        save_resshift_vq(torch.nn.Linear(2, 2), "never.pth")


def test_float64_and_bfloat16_weights(model, official_file):
    import copy

    sd = {k: v.double() for k, v in torch.load(official_file, weights_only=True).items()}
    m64 = copy.deepcopy(model).double()
    x = _x(16).double()
    with torch.no_grad():
        z = m64.encode(x)
        assert z.dtype == torch.float64 and (z - ldm_encode(sd, x)).abs().max() <= 1e-12
        assert (m64.decode(z) - ldm_decode(sd, z)).abs().max() <= 1e-12
        mbf = copy.deepcopy(model).bfloat16()  # the lookup in float32, the decoder in bf16
        zf = z.float()
        assert torch.equal(mbf.codes(zf), copy.deepcopy(mbf).float().codes(zf))
        assert mbf.decode(zf).dtype == torch.bfloat16


def test_the_latent_scale_multiplies_encode_and_divides_decode():
    """LDM's scale_factor: encode returns s z, decode reads z / s (the same images for any s)."""
    vq = build_resshift_vq(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, n_embed=64)
    x = mrs.synthetic_faces(1, 32, seed=0)
    with torch.no_grad():
        z, img = vq.encode(x), vq(x)
        vq.scale = 5.0
        assert torch.allclose(vq.encode(x), 5.0 * z, atol=1e-6)
        assert torch.allclose(vq(x), img, atol=1e-5)
    for bad in (0, -1.0, float("inf"), float("nan"), True, "5"):
        with pytest.raises(ValueError, match="latent scale"):
            vq.scale = bad
