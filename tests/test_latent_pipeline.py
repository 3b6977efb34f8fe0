"""Latent mode end to end: ResShift's official model format (random weights, small architecture),
the 256-px latent pipeline, the offline message."""

import pytest
import torch

import mrs
from mrs.nets import ResShiftUNet, ResShiftUNetConfig, save_resshift_unet
from mrs.pipelines import official

pytest.importorskip("diffusers")
from mrs.nets.autoencoder import build_resshift_vq, save_resshift_vq  # noqa: E402

UNET = dict(image_size=64, model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1),
            attention_resolutions=(32,), swin_embed_dim=32, num_head_channels=16, window_size=4,
            mlp_ratio=2.0, lq_size=256)
VQ = dict(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, n_embed=64)


@pytest.fixture
def official_cache(tmp_path, monkeypatch):
    """Official-format files with random weights in a fresh $MRS_HOME."""
    monkeypatch.setenv("MRS_HOME", str(tmp_path))
    torch.manual_seed(0)
    unet_file, vq_file = official.OFFICIAL["resshift_official_face"]
    save_resshift_unet(ResShiftUNet(ResShiftUNetConfig(**UNET)), tmp_path / unet_file)
    save_resshift_vq(build_resshift_vq(**VQ), tmp_path / vq_file)
    return tmp_path


def test_official_pipeline_inpaints_a_256px_face(official_cache):
    pipe = official.load_official("resshift_official_face", allow_download=False, unet_kwargs=UNET,
                                  vq_kwargs=VQ)
    assert pipe.latent and pipe.image_size == 256 and pipe.autoencoder.factor == 4
    assert pipe.process.name == "resshift" and pipe.fill == -1.0
    x0 = mrs.synthetic_faces(1, 256, seed=0)
    mask = mrs.masks.box_mask(256, 64, 80, 96, 96)
    out = pipe.inpaint(x0, mask, seed=0)
    assert out.shape == x0.shape and torch.isfinite(out).all()
    known = mask.expand_as(x0) == 0
    assert torch.equal(out[known], x0[known])                       # known pixels pasted exactly
    assert not torch.equal(out[~known], x0[~known])
    again = pipe.inpaint(x0, mask, seed=0)
    assert torch.equal(out, again)                                  # seeded: bit-identical
    raw = pipe.sample(mrs.degrade(x0, mask, -1.0), mask, generator=torch.Generator().manual_seed(0))
    assert raw.shape == x0.shape and float(raw.abs().max()) <= 1.0  # decoded, not pasted


def test_every_process_runs_on_latents(official_cache):
    """The processes run unchanged on latents: swap the official pipeline's process."""
    pipe = official.load_official("resshift_official_face", allow_download=False, unet_kwargs=UNET,
                                  vq_kwargs=VQ)
    x0 = mrs.synthetic_faces(1, 256, seed=1)
    mask = mrs.masks.box_mask(256, 32, 32, 64, 128)
    for name in ("mvd", "emmd", "emmd_smooth", "authors"):
        pipe.process = mrs.make_process(name, pipe.schedule)
        out = pipe.inpaint(x0, mask, seed=0)
        assert torch.isfinite(out).all() and torch.equal(out[mask.expand_as(x0) == 0],
                                                         x0[mask.expand_as(x0) == 0])


def test_evaluate_samples_a_latent_pipeline_beside_a_baseline(official_cache, monkeypatch):
    """evaluate() runs latent pipelines through their autoencoder (pixels in, pixels out), counts
    the network calls, and scores a classical fill (no network) beside them."""
    from mrs.training import losses

    monkeypatch.setattr(losses, "load_lpips", lambda *a, **k: None)
    pipe = official.load_official("resshift_official_face", allow_download=False, unet_kwargs=UNET,
                                  vq_kwargs=VQ)
    res = mrs.evaluate({"official": pipe, "harmonic": mrs.baselines.Baseline("harmonic")}, n=1,
                       size=256, mask_kinds=("box",))
    assert res.nfe["official", "box"] == pipe.process.T and res.nfe["harmonic", "box"] == 0
    out = res.samples["official", "box"]
    assert out.shape == (1, 3, 256, 256) and float(out.abs().max()) <= 1.0


def test_offline_without_files_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("MRS_HOME", str(tmp_path))
    monkeypatch.setattr(official, "_RELEASE", (tmp_path / "offline").as_uri() + "/")
    with pytest.raises(official.OfficialWeightsMissing) as err:
        mrs.load_pretrained("resshift_official_face")
    assert "resshift_inpainting_face_s4.pth" in str(err.value) and str(tmp_path) in str(err.value)


def test_flops_and_bf16_autocast(official_cache):
    from mrs.nets.fast import forward_flops

    pipe = official.load_official("resshift_official_face", allow_download=False, unet_kwargs=UNET,
                                  vq_kwargs=VQ)
    assert forward_flops(pipe.net, 1, 64)["total"] > 0           # y and mask at 256 px for this net
    x0 = mrs.synthetic_faces(1, 256, seed=2)
    mask = mrs.masks.box_mask(256, 64, 64, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pipe.inpaint(x0, mask, seed=0)
    assert torch.isfinite(out.float()).all()
