"""Latent-mode training: a frozen autoencoder, the process on its latents, two steps on CPU, the
run folder loaded back as a latent pipeline; the paper preset's network builds (meta device)."""

import pytest
import torch

import mrs
from mrs.nets import build_net, count_parameters, net_config

pytest.importorskip("diffusers")   # vq_file (conftest) trains a tiny autoencoder


SMALL = dict(image_size=64, batch_size=2, steps=2, val_size=2, val_every=2, ckpt_every=2,
             lpips_weight=0.0, train_pool=8)


@pytest.mark.parametrize("arch, fill, scale", [("swin_unet", "harmonic", 1.0), ("resshift_unet", -1.0, 5.0)])
def test_latent_training_two_steps_and_the_pipeline(tmp_path, vq_file, arch, fill, scale):
    cfg = mrs.TrainConfig.preset("tiny_latent", process="emmd", autoencoder=str(vq_file), arch=arch,
                                 fill=fill, latent_scale=scale, **SMALL)
    trainer = mrs.Trainer(cfg, tmp_path / "run", progress=False)
    batch = trainer.batch(0)
    z0, m, z_y, t, x_t = trainer.noisy(batch)
    assert z0.shape == (2, 3, 16, 16) and m.shape == (2, 1, 16, 16) and x_t.shape == z0.shape
    # where emmd's rate is 0 the sampler holds E(y); training shows the net the same
    known = (m == 0).expand_as(x_t)
    assert bool(known.any()) and torch.equal(x_t[known], z_y[known])
    assert not torch.equal(z_y[known], z0[known])          # the encoder's leak: E(y) != E(x0)
    trainer.run()
    pipe = mrs.load_pretrained(tmp_path / "run")
    assert pipe.latent and pipe.fill == fill and pipe.image_size == 64
    assert pipe.autoencoder.scale == trainer.autoencoder.scale == cfg.latent_scale == scale
    x0 = mrs.synthetic_faces(2, 64, seed=3)
    mask = mrs.masks.box_mask(64, 16, 20, 24, 24, n=2)
    out = pipe.inpaint(x0, mask, seed=0)
    known = mask.expand_as(x0) == 0
    assert torch.isfinite(out).all() and torch.equal(out[known], x0[known])


def test_paper_preset_is_the_papers_latent_setting():
    cfg = mrs.TrainConfig.preset("paper")
    assert (cfg.autoencoder, cfg.arch, cfg.image_size, cfg.fill) == ("resshift_face", "resshift_unet",
                                                                     256, -1.0)
    assert (cfg.lr, cfg.warmup_steps, cfg.batch_size, cfg.ema_decay) == (5e-5, 5000, 4, 0.99)
    with torch.device("meta"):
        net = build_net(cfg.arch, net_config(cfg.arch, cfg.net, cfg.schedule))
    assert net.cfg.window_size == 4 and net.cfg.lq_size == 256 and net.cfg.image_size == 64
    assert 118e6 < count_parameters(net) < 119e6
    pixel = mrs.TrainConfig.preset("paper_pixel")
    assert pixel.autoencoder == "" and pixel.image_size == 64 and pixel.arch == "swin_unet"
